//! `MODEL_ALIASES`: names clients send (`claude-sonnet-4-5`, `gpt-4*`) mapped to the
//! `provider/model` that serves them. Exact keys win; otherwise the first glob key, in the order
//! written, that matches.

use serde_json::Value;

use super::env_names::MODEL_ALIASES;
use super::{Env, LoadWarning};
use crate::catalog::filter::glob_match;

#[derive(Debug, Clone, Default)]
pub struct ModelAliases {
    /// (alias or glob, target), in declaration order.
    entries: Vec<(String, String)>,
}

impl ModelAliases {
    pub fn from_env(env: &Env) -> (Self, Vec<LoadWarning>) {
        match env.get_nonempty(MODEL_ALIASES) {
            None => (Self::default(), Vec::new()),
            Some(json) => Self::parse(json),
        }
    }

    pub fn parse(json: &str) -> (Self, Vec<LoadWarning>) {
        let mut warnings = Vec::new();
        let map = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                warnings.push(LoadWarning(format!(
                    "{MODEL_ALIASES}: expected a JSON object of alias → provider/model; ignored"
                )));
                return (Self::default(), warnings);
            }
            Err(err) => {
                warnings.push(LoadWarning(format!("{MODEL_ALIASES}: not valid JSON ({err}); ignored")));
                return (Self::default(), warnings);
            }
        };
        let mut entries = Vec::new();
        for (alias, target) in map {
            match target.as_str().filter(|t| t.split_once('/').is_some_and(|(p, m)| !p.is_empty() && !m.is_empty())) {
                Some(target) => entries.push((alias, target.to_string())),
                None => warnings.push(LoadWarning(format!(
                    "{MODEL_ALIASES}: alias \"{alias}\" must map to a \"provider/model\" string; ignored"
                ))),
            }
        }
        (Self { entries }, warnings)
    }

    /// The target of `model`, if an alias names it.
    pub fn resolve(&self, model: &str) -> Option<&str> {
        let exact = self.entries.iter().find(|(alias, _)| alias == model);
        let glob = || self.entries.iter().find(|(alias, _)| is_glob(alias) && glob_match(alias, model));
        exact.or_else(glob).map(|(_, target)| target.as_str())
    }

    /// Aliases that are plain names (listed in `/v1/models`).
    pub fn listed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().filter(|(alias, _)| !is_glob(alias)).map(|(a, t)| (a.as_str(), t.as_str()))
    }
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_aliases_win_then_the_first_matching_glob() {
        let (aliases, warnings) = ModelAliases::parse(
            r#"{"claude-*": "openrouter/anthropic/claude-sonnet-4.5", "claude-haiku-4-5": "groq/llama-3.3-70b", "bad": 3}"#,
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(aliases.resolve("claude-haiku-4-5"), Some("groq/llama-3.3-70b"));
        assert_eq!(aliases.resolve("claude-sonnet-4-5"), Some("openrouter/anthropic/claude-sonnet-4.5"));
        assert_eq!(aliases.resolve("gpt-4o"), None);
        assert_eq!(aliases.listed().map(|(a, _)| a).collect::<Vec<_>>(), ["claude-haiku-4-5"]);
    }
}
