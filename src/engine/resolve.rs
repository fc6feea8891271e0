//! Model addressing: a client's `model` value → the provider and upstream model that serve it.

use std::sync::Arc;

use super::error::EngineError;
use crate::catalog::filter::{FilterDecision, ModelFilter};
use crate::config::aliases::ModelAliases;
use crate::config::fallbacks::FallbackGroups;
use crate::providers::builtin::builtin;
use crate::providers::{Provider, Registry};

/// Where one request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Arc<Provider>,
    /// The id the upstream knows (`gpt-4o`, `google/gemini-2.5-pro` on OpenRouter).
    pub upstream_model: String,
    /// `provider/model` as reported to the client in `model` and `x-llmkp-model`.
    pub served_id: String,
}

impl Target {
    /// The most output tokens the served model accepts, when the bundled catalog knows it: a
    /// larger requested limit is lowered to it, and Messages clients that name none get it.
    pub fn output_limit(&self) -> Option<u64> {
        crate::catalog::pricing::lookup(&self.served_id).and_then(|m| m.max_output).map(u64::from)
    }
}

/// Longest `model` a request may name (bytes). Real ids are a few dozen characters; a longer one
/// would only be echoed into headers and messages.
pub const MAX_MODEL_ID_BYTES: usize = 256;

/// The targets a request tries in order: the members of a fallback group (those configured and
/// allowed by the filters), or the one `provider/model` it names.
pub fn resolve_targets(
    registry: &Registry,
    filter: &ModelFilter,
    fallbacks: &FallbackGroups,
    aliases: &ModelAliases,
    model: &str,
) -> Result<Vec<Target>, EngineError> {
    if model.len() > MAX_MODEL_ID_BYTES {
        return Err(EngineError::InvalidRequest {
            message: format!("'model' is longer than {MAX_MODEL_ID_BYTES} bytes"),
            param: Some("model".into()),
        });
    }
    // An alias names the model that serves; the rest of resolution continues from there.
    let model = aliases.resolve(model).unwrap_or(model);
    if let Some(members) = fallbacks.targets(model) {
        let targets: Vec<Target> = members
            .iter()
            .filter_map(|member| resolve(registry, member).ok())
            .filter(|t| filter.allows(&t.provider.name, &t.upstream_model))
            .collect();
        if targets.is_empty() {
            return Err(EngineError::ModelNotFound {
                message: format!("no member of the fallback group of '{model}' is configured and allowed"),
            });
        }
        return Ok(targets);
    }
    let target = resolve(registry, model)?;
    match filter.decide(&target.provider.name, &target.upstream_model) {
        FilterDecision::Allowed => Ok(vec![target]),
        FilterDecision::Blocked { variable } => Err(EngineError::ModelNotFound {
            message: format!("model '{}' is disabled by {variable}", target.served_id),
        }),
    }
}

/// Splits at the first `/` and finds the provider.
pub fn resolve(registry: &Registry, model: &str) -> Result<Target, EngineError> {
    let not_found = |message: String| EngineError::ModelNotFound { message };
    let configured = || {
        let names = registry.names();
        if names.is_empty() {
            "none configured".to_string()
        } else {
            format!("configured providers: {}", names.join(", "))
        }
    };
    let Some((provider_name, upstream_model)) = model.split_once('/').filter(|(p, m)| !p.is_empty() && !m.is_empty())
    else {
        return Err(not_found(format!(
            "model '{model}' not found: model ids must have the form provider/model ({})",
            configured()
        )));
    };
    if let Some(provider) = registry.get(provider_name) {
        // Some models of a provider may be served over another protocol (its model routes).
        let provider = provider.for_model(upstream_model);
        // Gemini-family upstreams take the model in the URL path: it must stay one segment.
        if provider.adapter.model_in_path() && !is_path_segment(upstream_model) {
            return Err(not_found(format!(
                "model '{model}' not found: a {} model id is one path segment (no '/', '..', '?', '#', spaces)",
                provider.name
            )));
        }
        return Ok(Target {
            served_id: format!("{}/{upstream_model}", provider.name),
            upstream_model: upstream_model.to_string(),
            provider,
        });
    }
    if let Some(unroutable) = registry.unroutable.iter().find(|u| u.name == provider_name) {
        return Err(not_found(format!("provider '{provider_name}' cannot serve '{model}': {}", unroutable.reason)));
    }
    if builtin(provider_name).is_some() {
        let upper = provider_name.to_ascii_uppercase();
        return Err(not_found(format!(
            "no credentials configured for provider '{provider_name}': set {upper}_API_KEY or {upper}_API_KEY_1 ({})",
            configured()
        )));
    }
    Err(not_found(format!(
        "unknown provider '{provider_name}' in model '{model}': model ids must have the form provider/model ({})",
        configured()
    )))
}

/// A model id that can sit in a URL path as one segment, unescaped.
fn is_path_segment(model: &str) -> bool {
    !model.is_empty()
        && model != "."
        && model != ".."
        && model.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'+'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    #[test]
    fn gemini_model_ids_must_be_one_path_segment() {
        let registry = Registry::from_env(&Env::from_pairs([("GEMINI_API_KEY", "k")])).0;
        assert!(resolve(&registry, "gemini/gemini-2.5-flash").is_ok());
        for bad in ["gemini/x/../gemini-2.5-pro", "gemini/a?b", "gemini/a#b", "gemini/a b", "gemini/..", "gemini/a\nb"]
        {
            assert!(matches!(resolve(&registry, bad), Err(EngineError::ModelNotFound { .. })), "{bad}");
        }
    }

    fn registry() -> Registry {
        Registry::from_env(&Env::from_pairs([
            ("OPENROUTER_API_KEY", "k1"),
            ("ANTHROPIC_API_KEY", "k2"),
            ("TOGETHER_API_KEY", "k3"),
            ("GEMINI_CLI_API_KEY", "k4"),
        ]))
        .0
    }

    fn message(model: &str) -> String {
        match resolve(&registry(), model) {
            Err(EngineError::ModelNotFound { message }) => message,
            other => panic!("expected model_not_found, got {other:?}"),
        }
    }

    #[test]
    fn splits_at_the_first_slash() {
        let t = resolve(&registry(), "openrouter/google/gemini-2.5-pro").unwrap();
        assert_eq!(t.provider.name, "openrouter");
        assert_eq!(t.upstream_model, "google/gemini-2.5-pro");
        assert_eq!(t.served_id, "openrouter/google/gemini-2.5-pro");
    }

    #[test]
    fn short_alias_reports_the_canonical_provider() {
        assert_eq!(resolve(&registry(), "together/llama").unwrap().served_id, "together_ai/llama");
    }

    #[test]
    fn filters_block_models_and_fallback_groups_skip_unusable_members() {
        let env = Env::from_pairs([
            ("OPENROUTER_API_KEY", "k1"),
            ("IGNORE_MODELS_OPENROUTER", "blocked*"),
            ("MODEL_FALLBACK_GROUPS", r#"{"smart": ["groq/x", "openrouter/blocked-1", "openrouter/ok"]}"#),
        ]);
        let registry = Registry::from_env(&env).0;
        let filter = ModelFilter::from_env(&env, &registry.names());
        let fallbacks = FallbackGroups::from_env(&env).0;
        match resolve_targets(&registry, &filter, &fallbacks, &ModelAliases::default(), "openrouter/blocked-2") {
            Err(EngineError::ModelNotFound { message }) => {
                assert!(message.contains("IGNORE_MODELS_OPENROUTER"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        let targets = resolve_targets(&registry, &filter, &fallbacks, &ModelAliases::default(), "smart").unwrap();
        let ids: Vec<&str> = targets.iter().map(|t| t.served_id.as_str()).collect();
        assert_eq!(ids, ["openrouter/ok"]);
    }

    #[test]
    fn unresolvable_models_say_why() {
        assert!(message("gpt-4o").contains("provider/model"));
        assert!(message("gpt-4o").contains("openrouter"));
        assert!(message("nosuch/x").contains("unknown provider 'nosuch'"));
        assert!(message("groq/llama").contains("set GROQ_API_KEY"));
        assert!(message("gemini_cli/gemini-2.5-pro").contains("llmkp auth add gemini_cli"));
        assert!(message("openrouter/").contains("provider/model"));
    }
}
