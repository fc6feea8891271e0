//! API keys from the environment: `<P>_API_KEY` and `<P>_API_KEY_<suffix>`, in a deterministic
//! order (bare name, numeric suffixes ascending, other suffixes in byte order).

use crate::config::env_names::{API_KEY_MARKER, PROXY_API_KEY, PROXY_API_KEYS};
use crate::config::{Env, LoadWarning};

/// One API-key variable, already attributed to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyVar {
    pub provider: String,
    pub var: String,
    pub value: String,
}

/// LiteLLM's variable names that do not follow `<PROVIDER>_API_KEY`; the Python proxy's
/// credential tool writes them, so a copied `.env` contains them.
const LEGACY_PREFIXES: &[(&str, &str)] =
    &[("togetherai", "together_ai"), ("perplexityai", "perplexity"), ("llama", "meta_llama")];

/// `IFLOW_1_API_KEY` (and `IFLOW_API_KEY` beside `IFLOW_ACCESS_TOKEN`) belong to an environment
/// OAuth credential (credentials specification §5), not to a provider `iflow_1`.
fn is_oauth_env_field(env: &Env, name: &str) -> bool {
    let Some(stem) = name.strip_suffix("_API_KEY") else { return false };
    crate::auth::oauth::OAuthProvider::ALL.iter().any(|p| {
        let prefix = p.env_prefix();
        match stem.strip_prefix(prefix) {
            Some("") => env.get_nonempty(&format!("{prefix}_ACCESS_TOKEN")).is_some(),
            Some(rest) => {
                rest.strip_prefix('_').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            }
            None => false,
        }
    })
}

/// Every API-key variable of `env`, grouped by provider in order. `is_custom` says whether a
/// name was made a custom provider by `<NAME>_API_BASE` (which keeps a legacy name as it is).
pub fn api_key_vars(env: &Env, is_custom: &dyn Fn(&str) -> bool) -> (Vec<ApiKeyVar>, Vec<LoadWarning>) {
    let mut warnings = Vec::new();
    let mut found: Vec<(String, KeySuffix, String, String)> = Vec::new();
    for (name, value) in env.iter() {
        if name == PROXY_API_KEY || name == PROXY_API_KEYS {
            continue;
        }
        let Some(pos) = name.find(API_KEY_MARKER) else { continue };
        if is_oauth_env_field(env, name) {
            continue;
        }
        let rest = &name[pos + API_KEY_MARKER.len()..];
        let suffix = match rest.strip_prefix('_') {
            None if rest.is_empty() => KeySuffix::Bare,
            Some(s) if !s.is_empty() => KeySuffix::parse(s),
            _ => continue,
        };
        let mut provider = name[..pos].to_ascii_lowercase();
        if provider.is_empty() || !provider.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            continue;
        }
        if !is_custom(&provider)
            && let Some((_, canonical)) = LEGACY_PREFIXES.iter().find(|(legacy, _)| *legacy == provider)
        {
            provider = (*canonical).to_string();
        }
        let value = value.trim();
        if value.is_empty() {
            warnings.push(LoadWarning(format!("{name} is empty; ignored")));
            continue;
        }
        found.push((provider, suffix, name.to_string(), value.to_string()));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2)));

    let mut keys: Vec<ApiKeyVar> = Vec::with_capacity(found.len());
    for (provider, _, var, value) in found {
        if let Some(first) = keys.iter().find(|k| k.provider == provider && k.value == value) {
            warnings.push(LoadWarning(format!("{var} repeats the key of {}; counted once", first.var)));
            continue;
        }
        keys.push(ApiKeyVar { provider, var, value });
    }
    (keys, warnings)
}

/// Orders bare name < numeric suffixes (numerically) < other suffixes (byte order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeySuffix {
    Bare,
    Number(u128),
    Other(String),
}

impl KeySuffix {
    fn parse(s: &str) -> Self {
        match s.parse::<u128>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Self::Number(n),
            _ => Self::Other(s.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_of_environment_oauth_credentials_are_not_providers() {
        let env = Env::from_pairs([
            ("IFLOW_1_API_KEY", "sk-iflow-one"),
            ("IFLOW_1_ACCESS_TOKEN", "a"),
            ("IFLOW_API_KEY", "sk-iflow-plain"),
            ("QWEN_CODE_API_KEY_1", "sk-qwen"),
        ]);
        let (keys, _) = api_key_vars(&env, &|_| false);
        let names: Vec<&str> = keys.iter().map(|k| k.var.as_str()).collect();
        assert_eq!(names, ["IFLOW_API_KEY", "QWEN_CODE_API_KEY_1"]);
        let with_oauth = Env::from_pairs([("IFLOW_API_KEY", "sk-x"), ("IFLOW_ACCESS_TOKEN", "a")]);
        assert!(api_key_vars(&with_oauth, &|_| false).0.is_empty());
    }

    fn vars(pairs: &[(&str, &str)]) -> (Vec<ApiKeyVar>, Vec<LoadWarning>) {
        api_key_vars(&Env::from_pairs(pairs.iter().copied()), &|_| false)
    }

    #[test]
    fn keys_are_ordered_bare_then_numeric_then_named() {
        let (keys, _) = vars(&[
            ("OPENAI_API_KEY_10", "k10"),
            ("OPENAI_API_KEY_WORK", "kw"),
            ("OPENAI_API_KEY_2", "k2"),
            ("OPENAI_API_KEY", "k0"),
            ("OPENAI_API_KEY_1", "k1"),
        ]);
        let order: Vec<&str> = keys.iter().map(|k| k.var.as_str()).collect();
        assert_eq!(
            order,
            ["OPENAI_API_KEY", "OPENAI_API_KEY_1", "OPENAI_API_KEY_2", "OPENAI_API_KEY_10", "OPENAI_API_KEY_WORK"]
        );
    }

    #[test]
    fn provider_is_the_part_before_the_first_api_key_marker() {
        let (keys, _) = vars(&[("NVIDIA_NIM_API_KEY_1", "a"), ("GEMINI_API_KEY_WORK", "b")]);
        let providers: Vec<&str> = keys.iter().map(|k| k.provider.as_str()).collect();
        assert_eq!(providers, ["gemini", "nvidia_nim"]);
    }

    #[test]
    fn proxy_keys_empty_values_and_duplicates_are_not_credentials() {
        let (keys, warnings) = vars(&[
            ("PROXY_API_KEY", "p"),
            ("PROXY_API_KEYS", "p,q"),
            ("GROQ_API_KEY_1", ""),
            ("GROQ_API_KEY_2", "same"),
            ("GROQ_API_KEY_3", "same"),
        ]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].var, "GROQ_API_KEY_2");
        assert_eq!(warnings.len(), 2);
        assert!(warnings.iter().all(|w| !w.0.contains("same")), "warnings never show key values");
    }

    #[test]
    fn litellm_names_map_to_their_providers_unless_custom() {
        let env = Env::from_pairs([("TOGETHERAI_API_KEY", "a"), ("LLAMA_API_KEY", "b")]);
        let (keys, _) = api_key_vars(&env, &|name| name == "llama");
        let providers: Vec<&str> = keys.iter().map(|k| k.provider.as_str()).collect();
        assert_eq!(providers, ["llama", "together_ai"]);
    }
}
