//! The providers this process can route to, each with its credentials, built once from the
//! merged environment: built-in providers (base URL overridable by `<NAME>_API_BASE`), custom
//! OpenAI-compatible providers (`<NAME>_API_BASE` with an unknown name), and the API keys of both.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::Protocol;
use super::builtin::{ModelListing, PROVIDER_ALIASES, builtin};
use super::profile::{ProviderProfile, profile_for};
use super::protocol::{UpstreamProtocol, adapter_for};
use crate::auth::Credential;
use crate::auth::env_keys::api_key_vars;
use crate::auth::oauth::runtime::OAuthHandle;
use crate::auth::oauth::{OAuthEndpoints, OAuthProvider, store};
use crate::config::env_names::{API_BASE_SUFFIX, API_FORMAT_SUFFIX, RESPONSES_MODELS_SUFFIX};
use crate::config::{Env, LoadWarning};

/// One routable provider.
pub struct Provider {
    pub name: String,
    pub protocol: Protocol,
    /// How its protocol is spoken ([`adapter_for`]).
    pub adapter: &'static dyn UpstreamProtocol,
    /// Its quirks ([`profile_for`]).
    pub profile: &'static dyn ProviderProfile,
    /// The project its logins work in when one is configured (`GEMINI_CLI_PROJECT_ID`,
    /// `ANTIGRAVITY_PROJECT_ID`); logins without a project discover one.
    pub project: Option<String>,
    /// Normalised base URL (what the vendor's SDK takes as `base_url`).
    pub base_url: String,
    /// Where the live model list is fetched, if anywhere.
    pub models_url: Option<String>,
    /// Credentials in rotation order.
    pub credentials: Vec<Arc<Credential>>,
    /// Defined by `<NAME>_API_BASE` rather than the built-in table.
    pub custom: bool,
    /// `<NAME>_API_BASE` set the base (it then wins over a credential's own API host).
    pub base_overridden: bool,
    /// Code Assist generation bases tried in turn (credentials spec §9, §10); empty: `base_url`.
    pub generation_bases: Vec<String>,
    /// Which generation base is in use; it moves on after a failure of the current one.
    pub generation_cursor: std::sync::atomic::AtomicUsize,
    /// Models served over another protocol than the provider's own (`<NAME>_RESPONSES_MODELS`).
    pub model_routes: Vec<ModelRoute>,
}

/// Models of a provider served over another protocol (OpenAI's models offered on the Responses
/// API only): the model patterns (`gpt-5-pro`, `o3*`) and the provider's twin speaking that
/// protocol, with the same name, base and credentials, so the same pool serves both.
pub struct ModelRoute {
    pub patterns: Vec<String>,
    pub provider: Arc<Provider>,
}

impl ModelRoute {
    /// `pattern` is a model id, or a prefix ending in `*` (`*` alone: every model); case does not
    /// matter.
    pub fn matches(&self, model: &str) -> bool {
        let model = model.to_ascii_lowercase();
        self.patterns.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => model == *pattern,
        })
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials.len())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider of `protocol` at `base_url` with its adapter and profile, no credentials and
    /// no overrides yet.
    pub fn new(name: &str, protocol: Protocol, base_url: String) -> Self {
        Self {
            name: name.to_string(),
            protocol,
            adapter: adapter_for(protocol, name),
            profile: profile_for(name),
            project: None,
            base_url,
            models_url: None,
            credentials: Vec::new(),
            custom: false,
            base_overridden: false,
            generation_bases: Vec::new(),
            generation_cursor: std::sync::atomic::AtomicUsize::new(0),
            model_routes: Vec::new(),
        }
    }

    /// The provider that serves `model`: the twin of a [`ModelRoute`] matching it, else this one.
    pub fn for_model(self: &Arc<Self>, model: &str) -> Arc<Provider> {
        self.model_routes.iter().find(|r| r.matches(model)).map_or_else(|| self.clone(), |r| r.provider.clone())
    }

    /// Where generation requests go now.
    pub fn generation_base(&self) -> &str {
        match self.generation_bases.len() {
            0 => &self.base_url,
            n => &self.generation_bases[self.generation_cursor.load(std::sync::atomic::Ordering::Relaxed) % n],
        }
    }

    /// The current generation base failed (a 5xx or a connection failure; for Antigravity any
    /// error but a rate limit): later requests use the next one.
    pub fn generation_base_failed(&self) {
        if self.generation_bases.len() > 1 {
            self.generation_cursor.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A provider name with keys that cannot be routed, and why.
#[derive(Debug, Clone)]
pub struct UnroutableProvider {
    pub name: String,
    /// Its keys, so `keys list` can show them (status `unknown_provider`).
    pub credentials: Vec<Arc<Credential>>,
    pub reason: String,
}

/// All providers with at least one credential, by name.
#[derive(Debug, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<Provider>>,
    /// Names with keys but no usable endpoint (unknown name, protocol not in this build).
    pub unroutable: Vec<UnroutableProvider>,
}

impl Registry {
    /// Providers and credentials of the environment alone (API keys and environment OAuth
    /// credentials; no `oauth_creds/` files).
    pub fn from_env(env: &Env) -> (Self, Vec<LoadWarning>) {
        Self::load(env, None)
    }

    /// Providers and credentials of the environment and, with a home directory, its
    /// `oauth_creds/` files (credentials specification §4, §5).
    pub fn load(env: &Env, home: Option<&Path>) -> (Self, Vec<LoadWarning>) {
        let mut warnings = Vec::new();
        let bases = api_bases(env, &mut warnings);
        let is_custom = |name: &str| bases.get(name).is_some_and(|(_, custom)| *custom);
        let (keys, key_warnings) = api_key_vars(env, &is_custom);
        warnings.extend(key_warnings);

        let mut grouped: BTreeMap<String, Vec<Arc<Credential>>> = BTreeMap::new();
        for key in keys {
            let provider = canonical_name(&key.provider, &is_custom);
            let credential = Credential::api_key(&provider, &key.var, &key.value);
            let list = grouped.entry(provider).or_default();
            if list.iter().any(|c| c.id == credential.id) {
                warnings
                    .push(LoadWarning(format!("{} repeats another key of the same provider; counted once", key.var)));
                continue;
            }
            list.push(Arc::new(credential));
        }
        for provider in OAuthProvider::ALL {
            let credentials = oauth_credentials(env, home, provider, &mut warnings);
            if !credentials.is_empty() {
                grouped.entry(provider.name().to_string()).or_default().extend(credentials);
            }
        }

        let mut registry = Self::default();
        for (name, credentials) in grouped {
            let built = builtin(&name);
            let (protocol, base, listing, custom) = match (built, bases.get(&name)) {
                (Some(b), Some((base, _))) => (b.protocol, base.clone(), b.listing, false),
                (Some(b), None) => (b.protocol, b.base_url.to_string(), b.listing, false),
                (None, Some((base, _))) => {
                    (custom_protocol(env, &name, &mut warnings), base.clone(), ModelListing::FromBase, true)
                }
                (None, None) => {
                    let upper = name.to_ascii_uppercase();
                    warnings
                        .push(LoadWarning(format!("no endpoint known for provider '{name}'; set {upper}_API_BASE")));
                    registry.unroutable.push(UnroutableProvider {
                        name,
                        credentials,
                        reason: format!("no endpoint known; set {upper}_API_BASE"),
                    });
                    continue;
                }
            };
            // Code Assist serves OAuth logins only: an API key there is a mistake worth naming.
            let (credentials, keys): (Vec<_>, Vec<_>) =
                credentials.into_iter().partition(|c| protocol != Protocol::CodeAssist || c.oauth.is_some());
            if !keys.is_empty() {
                warnings.push(LoadWarning(format!(
                    "provider '{name}' takes OAuth logins, not API keys: run `llmkp auth add {name}`; its {} key(s) are ignored",
                    keys.len()
                )));
            }
            if credentials.is_empty() {
                registry.unroutable.push(UnroutableProvider {
                    name: name.clone(),
                    credentials: keys,
                    reason: format!("it takes OAuth logins: run `llmkp auth add {name}`"),
                });
                continue;
            }
            let base_url = protocol.normalize_base(&base);
            let models_url = match listing {
                ModelListing::FromBase => Some(format!("{base_url}{}", protocol.models_path())),
                // An overridden base is a different server: list from it, not the vendor's URL.
                ModelListing::Url(_) if bases.contains_key(&name) => {
                    Some(format!("{base_url}{}", protocol.models_path()))
                }
                ModelListing::Url(url) => Some(url.to_string()),
                ModelListing::Static => None,
            };
            let base_overridden = bases.contains_key(&name);
            let model_routes = match responses_models(env, &name, protocol, &mut warnings) {
                Some(patterns) => {
                    let twin = Provider {
                        models_url: models_url.clone(),
                        credentials: credentials.clone(),
                        custom,
                        base_overridden,
                        ..Provider::new(&name, Protocol::Responses, base_url.clone())
                    };
                    vec![ModelRoute { patterns, provider: Arc::new(twin) }]
                }
                None => Vec::new(),
            };
            let provider = Provider {
                generation_bases: if base_overridden { Vec::new() } else { default_generation_bases(&name) },
                project: configured_project(env, &name),
                models_url,
                credentials,
                custom,
                base_overridden,
                model_routes,
                ..Provider::new(&name, protocol, base_url)
            };
            registry.providers.insert(name, Arc::new(provider));
        }
        (registry, warnings)
    }

    /// A registry made of the given providers (tests, embedding).
    pub fn from_providers(providers: impl IntoIterator<Item = Provider>) -> Self {
        Self {
            providers: providers.into_iter().map(|p| (p.name.clone(), Arc::new(p))).collect(),
            unroutable: Vec::new(),
        }
    }

    /// The provider called `name` (or one of its short aliases).
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.get(name).or_else(|| {
            let (_, canonical) = PROVIDER_ALIASES.iter().find(|(alias, _)| *alias == name)?;
            self.providers.get(*canonical)
        })
    }

    /// Routable providers, sorted by name.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    pub fn names(&self) -> Vec<&str> {
        self.providers.keys().map(String::as_str).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub fn credential_count(&self) -> usize {
        self.providers.values().map(|p| p.credentials.len()).sum()
    }

    /// Removes the providers for which `refuse` says why they must not be used; returns the
    /// removed names with the reasons.
    pub fn remove_where(&mut self, refuse: impl Fn(&Provider) -> Option<String>) -> Vec<(String, String)> {
        let mut removed = Vec::new();
        self.providers.retain(|name, provider| match refuse(provider) {
            Some(reason) => {
                removed.push((name.clone(), reason));
                false
            }
            None => true,
        });
        removed
    }

    /// After a reload: an OAuth login that `previous` already held (same provider and id) keeps
    /// its live handle (the token it refreshed, its single-flight refresh) instead of the copy
    /// just read from its file — unless it needs a new login, when the file's may be that login.
    pub fn keep_logins_of(&mut self, previous: &Registry) {
        for (name, provider) in &mut self.providers {
            let (Some(old), Some(provider)) = (previous.providers.get(name), Arc::get_mut(provider)) else {
                continue;
            };
            for credential in provider.credentials.iter_mut().filter(|c| c.oauth.is_some()) {
                let kept =
                    old.credentials.iter().find(|o| o.id == credential.id && o.oauth.is_some() && !o.needs_reauth());
                if let Some(kept) = kept {
                    *credential = kept.clone();
                }
            }
        }
    }

    /// Every secret this process holds, for redaction of upstream messages.
    pub fn secrets(&self) -> Vec<String> {
        self.providers
            .values()
            .flat_map(|p| p.credentials.iter().filter(|c| c.oauth.is_none()).map(|c| c.secret().into_owned()))
            .collect()
    }
}

/// The project configured for a provider's logins (`GEMINI_CLI_PROJECT_ID`;
/// `ANTIGRAVITY_PROJECT_ID`, else `GOOGLE_CLOUD_PROJECT`).
fn configured_project(env: &Env, name: &str) -> Option<String> {
    use crate::config::env_names as names;
    let project = match name {
        "gemini_cli" => env.get_nonempty(names::GEMINI_CLI_PROJECT_ID),
        "antigravity" => {
            env.get_nonempty(names::ANTIGRAVITY_PROJECT_ID).or_else(|| env.get_nonempty(names::GOOGLE_CLOUD_PROJECT))
        }
        _ => None,
    };
    project.map(|p| p.trim().to_string())
}

/// A custom provider's protocol from `<NAME>_API_FORMAT` (default `openai`).
fn custom_protocol(env: &Env, name: &str, warnings: &mut Vec<LoadWarning>) -> Protocol {
    let var = format!("{}{API_FORMAT_SUFFIX}", name.to_ascii_uppercase());
    let Some(value) = env.get_nonempty(&var) else { return Protocol::OpenAi };
    Protocol::from_format(value).unwrap_or_else(|| {
        warnings.push(LoadWarning(format!("{var}: expected openai, anthropic, gemini or responses; using openai")));
        Protocol::OpenAi
    })
}

/// The models `<NAME>_RESPONSES_MODELS` sends over the Responses API (lower case), for an
/// OpenAI-compatible provider.
fn responses_models(env: &Env, name: &str, protocol: Protocol, warnings: &mut Vec<LoadWarning>) -> Option<Vec<String>> {
    let var = format!("{}{RESPONSES_MODELS_SUFFIX}", name.to_ascii_uppercase());
    let value = env.get_nonempty(&var)?;
    if protocol != Protocol::OpenAi {
        warnings.push(LoadWarning(format!(
            "{var}: provider '{name}' speaks {}, not OpenAI Chat Completions; ignored",
            protocol.as_str()
        )));
        return None;
    }
    let patterns: Vec<String> =
        value.split(',').map(|p| p.trim().to_ascii_lowercase()).filter(|p| !p.is_empty()).collect();
    (!patterns.is_empty()).then_some(patterns)
}

/// The Code Assist generation bases of the OAuth providers, in the order the clients try them.
fn default_generation_bases(provider: &str) -> Vec<String> {
    let list: &[&str] = match provider {
        "gemini_cli" => &[
            "https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal",
            "https://cloudcode-pa.googleapis.com/v1internal",
        ],
        "antigravity" => &[
            "https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal",
            "https://daily-cloudcode-pa.googleapis.com/v1internal",
            "https://cloudcode-pa.googleapis.com/v1internal",
        ],
        _ => &[],
    };
    list.iter().map(|b| (*b).to_string()).collect()
}

/// The OAuth credentials of `provider` as live credentials (§4, §5).
fn oauth_credentials(
    env: &Env,
    home: Option<&Path>,
    provider: OAuthProvider,
    warnings: &mut Vec<LoadWarning>,
) -> Vec<Arc<Credential>> {
    let (stored, notes) = match home {
        Some(home) => store::load_all(env, home, provider),
        None => (store::load_env(env, provider), Vec::new()),
    };
    warnings.extend(notes.into_iter().map(LoadWarning));
    let endpoints = OAuthEndpoints::resolve(provider, env);
    stored
        .into_iter()
        .map(|credential| {
            let source = credential.display_id();
            let identity = credential.metadata.email.clone().unwrap_or_else(|| source.clone());
            let masked = credential.masked();
            let handle = Arc::new(OAuthHandle::new(credential, endpoints.clone(), home.map(Path::to_path_buf)));
            Arc::new(Credential::oauth(provider.name(), &source, &identity, masked, handle))
        })
        .collect()
}

fn canonical_name(name: &str, is_custom: &dyn Fn(&str) -> bool) -> String {
    if builtin(name).is_none()
        && !is_custom(name)
        && let Some((_, canonical)) = PROVIDER_ALIASES.iter().find(|(alias, _)| *alias == name)
    {
        return (*canonical).to_string();
    }
    name.to_string()
}

/// `<NAME>_API_BASE` values by lower-case name, with whether the name is custom.
fn api_bases(env: &Env, warnings: &mut Vec<LoadWarning>) -> BTreeMap<String, (String, bool)> {
    let mut bases = BTreeMap::new();
    for (var, value) in env.iter() {
        let Some(prefix) = var.strip_suffix(API_BASE_SUFFIX) else { continue };
        let value = value.trim();
        if prefix.is_empty() || value.is_empty() {
            continue;
        }
        let name = prefix.to_ascii_lowercase();
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            warnings.push(LoadWarning(format!("{var}: provider names are letters, digits and '_'; ignored")));
            continue;
        }
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            warnings.push(LoadWarning(format!("{var}: expected an http:// or https:// URL; ignored")));
            continue;
        }
        let name = PROVIDER_ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, c)| (*c).to_string());
        let custom = builtin(&name).is_none();
        bases.insert(name, (value.to_string(), custom));
    }
    bases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(pairs: &[(&str, &str)]) -> (Registry, Vec<LoadWarning>) {
        Registry::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn builtin_base_is_overridden_and_normalised() {
        let (r, _) = registry(&[("OPENAI_API_BASE", "http://127.0.0.1:9/v1/"), ("OPENAI_API_KEY_1", "k1")]);
        let p = r.get("openai").unwrap();
        assert_eq!(p.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(p.models_url.as_deref(), Some("http://127.0.0.1:9/v1/models"));
        assert!(!p.custom);
    }

    #[test]
    fn unknown_api_base_defines_independent_custom_providers() {
        let (r, _) = registry(&[
            ("MOCK_API_BASE", "http://127.0.0.1:1/v1"),
            ("MOCK_API_KEY", "a"),
            ("MOCKR_API_BASE", "http://127.0.0.1:2/v1"),
            ("MOCKR_API_KEY_1", "b"),
            ("MOCKR_API_KEY_2", "c"),
        ]);
        assert_eq!(r.names(), ["mock", "mockr"]);
        assert_eq!(r.get("mock").unwrap().credentials.len(), 1);
        assert_eq!(r.get("mockr").unwrap().credentials.len(), 2);
        assert_eq!(r.get("mockr").unwrap().base_url, "http://127.0.0.1:2/v1");
        assert!(r.get("mock").unwrap().custom);
    }

    #[test]
    fn anthropic_bases_take_the_sdk_form_and_custom_providers_name_their_format() {
        let (r, warnings) = registry(&[
            ("ANTHROPIC_API_BASE", "http://127.0.0.1:9/v1"),
            ("ANTHROPIC_API_KEY", "a"),
            ("CLAUDEISH_API_BASE", "http://127.0.0.1:8/"),
            ("CLAUDEISH_API_FORMAT", "anthropic"),
            ("CLAUDEISH_API_KEY", "b"),
            ("ODD_API_BASE", "http://127.0.0.1:7/v1"),
            ("ODD_API_FORMAT", "smoke-signals"),
            ("ODD_API_KEY", "c"),
        ]);
        let anthropic = r.get("anthropic").unwrap();
        assert_eq!((anthropic.protocol, anthropic.base_url.as_str()), (Protocol::Anthropic, "http://127.0.0.1:9"));
        assert_eq!(anthropic.models_url.as_deref(), Some("http://127.0.0.1:9/v1/models"));
        let custom = r.get("claudeish").unwrap();
        assert_eq!(
            (custom.protocol, custom.models_url.as_deref()),
            (Protocol::Anthropic, Some("http://127.0.0.1:8/v1/models"))
        );
        assert_eq!(r.get("odd").unwrap().protocol, Protocol::OpenAi);
        assert!(warnings.iter().any(|w| w.0.starts_with("ODD_API_FORMAT")));
    }

    #[test]
    fn responses_models_of_an_openai_provider_are_served_by_its_responses_twin() {
        let (r, warnings) = registry(&[
            ("OPENAI_API_KEY_1", "k1"),
            ("OPENAI_API_KEY_2", "k2"),
            ("OPENAI_RESPONSES_MODELS", " gpt-5-pro, O3* ,"),
            ("ANTHROPIC_API_KEY", "a"),
            ("ANTHROPIC_RESPONSES_MODELS", "claude*"),
            ("RESP_API_BASE", "http://127.0.0.1:9/v1/responses"),
            ("RESP_API_FORMAT", "responses"),
            ("RESP_API_KEY", "r"),
        ]);
        let openai = r.get("openai").unwrap();
        assert_eq!(openai.model_routes[0].patterns, ["gpt-5-pro", "o3*"]);
        for (model, protocol) in [
            ("gpt-5-pro", Protocol::Responses),
            ("o3-deep-research", Protocol::Responses),
            ("O3", Protocol::Responses),
            ("gpt-5-pro-2", Protocol::OpenAi),
            ("gpt-4o", Protocol::OpenAi),
        ] {
            assert_eq!(openai.for_model(model).protocol, protocol, "{model}");
        }
        let twin = openai.for_model("o3");
        assert_eq!((twin.name.as_str(), twin.base_url.as_str()), ("openai", openai.base_url.as_str()));
        assert!(Arc::ptr_eq(&twin.credentials[1], &openai.credentials[1]), "the same credentials");
        assert_eq!(twin.adapter.id(), Protocol::Responses);
        assert!(r.get("anthropic").unwrap().model_routes.is_empty());
        assert!(warnings.iter().any(|w| w.0.starts_with("ANTHROPIC_RESPONSES_MODELS")), "{warnings:?}");
        let resp = r.get("resp").unwrap();
        assert_eq!((resp.protocol, resp.base_url.as_str()), (Protocol::Responses, "http://127.0.0.1:9/v1"));
        assert_eq!(resp.models_url.as_deref(), Some("http://127.0.0.1:9/v1/models"));
    }

    #[test]
    fn code_assist_generation_moves_to_the_next_base_after_a_failure() {
        let p = |base_overridden: bool| Provider {
            base_overridden,
            generation_bases: if base_overridden { Vec::new() } else { default_generation_bases("gemini_cli") },
            ..Provider::new("gemini_cli", Protocol::CodeAssist, "https://cloudcode-pa.googleapis.com/v1internal".into())
        };
        let default = p(false);
        assert!(default.generation_base().contains("daily-cloudcode-pa.sandbox"));
        default.generation_base_failed();
        assert_eq!(default.generation_base(), "https://cloudcode-pa.googleapis.com/v1internal");
        default.generation_base_failed();
        assert!(default.generation_base().contains("sandbox"), "round robin");
        let overridden = p(true);
        overridden.generation_base_failed();
        assert_eq!(overridden.generation_base(), overridden.base_url);
    }

    #[test]
    fn keys_without_endpoint_are_unroutable_with_a_warning() {
        let (r, warnings) = registry(&[("NOSUCH_API_KEY", "a")]);
        assert!(r.get("nosuch").is_none());
        assert_eq!(r.unroutable[0].name, "nosuch");
        assert!(warnings.iter().any(|w| w.0.contains("set NOSUCH_API_BASE")));
    }

    #[test]
    fn providers_without_keys_are_not_routable() {
        let (r, _) = registry(&[("GROQ_API_BASE", "http://127.0.0.1:1/v1")]);
        assert!(r.is_empty());
    }

    #[test]
    fn short_aliases_reach_vendor_suffixed_names() {
        let (r, _) = registry(&[("TOGETHER_API_KEY", "a"), ("FIREWORKS_AI_API_KEY", "b")]);
        assert_eq!(r.names(), ["fireworks_ai", "together_ai"]);
        assert_eq!(r.get("together").unwrap().name, "together_ai");
        assert_eq!(r.get("fireworks").unwrap().name, "fireworks_ai");
    }
}
