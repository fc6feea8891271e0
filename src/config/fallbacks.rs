//! `MODEL_FALLBACK_GROUPS`: cross-provider fallback groups, parsed into the ordered list of
//! `provider/model` targets a request tries.

use serde_json::Value;

use super::env::{Env, LoadWarning};

const VARIABLE: &str = super::env_names::MODEL_FALLBACK_GROUPS;

/// Both accepted forms; a configuration uses one or the other, never both.
#[derive(Debug, Clone, Default)]
pub struct FallbackGroups {
    /// Object form: a requestable group name and its members in order.
    named: Vec<(String, Vec<String>)>,
    /// Array form: groups addressed through any of their members ("target promotion").
    promoted: Vec<Vec<String>>,
}

impl FallbackGroups {
    pub fn from_env(env: &Env) -> (Self, Vec<LoadWarning>) {
        env.get_nonempty(VARIABLE).map(Self::parse).unwrap_or_default()
    }

    /// Keeps every valid group; each rejected group (or the whole value when it is not JSON of an
    /// accepted shape) costs one warning.
    pub fn parse(json: &str) -> (Self, Vec<LoadWarning>) {
        let mut groups = Self::default();
        let mut warnings = Vec::new();
        let mut warn = |message: String| warnings.push(LoadWarning(format!("{VARIABLE}: {message}")));
        match serde_json::from_str::<Value>(json) {
            Err(err) => warn(format!("not valid JSON ({err}); the variable is ignored")),
            Ok(Value::Array(items)) => {
                for (index, item) in items.into_iter().enumerate() {
                    let label = format!("group {}", index + 1);
                    let Value::Array(members) = item else {
                        warn(format!(
                            "{label} is not an array (the array and object forms cannot be mixed); group ignored"
                        ));
                        continue;
                    };
                    if let Some(members) = members_of(&label, &members, &mut warn) {
                        groups.promoted.push(members);
                    }
                }
            }
            Ok(Value::Object(map)) => {
                for (name, item) in map {
                    let label = format!("group \"{name}\"");
                    // A name with `/` would be indistinguishable from a `provider/model` request.
                    if name.trim().is_empty() || name.contains('/') {
                        warn(format!("{label}: a group name must be non-empty and contain no '/'; group ignored"));
                        continue;
                    }
                    let Value::Array(members) = item else {
                        warn(format!("{label} is not an array of \"provider/model\" strings; group ignored"));
                        continue;
                    };
                    if let Some(members) = members_of(&label, &members, &mut warn) {
                        groups.named.push((name, members));
                    }
                }
            }
            Ok(_) => warn("expected an array of arrays or an object of arrays; the variable is ignored".to_string()),
        }
        (groups, warnings)
    }

    /// For a named group: its members in order. For a model that is a member of an array-form group:
    /// that model first, then the other members of its (first) group in order. Otherwise None.
    pub fn targets(&self, requested: &str) -> Option<Vec<String>> {
        if let Some((_, members)) = self.named.iter().find(|(name, _)| name == requested) {
            return Some(members.clone());
        }
        let group = self.promoted.iter().find(|group| group.iter().any(|m| m == requested))?;
        let mut targets = Vec::with_capacity(group.len());
        targets.push(requested.to_string());
        targets.extend(group.iter().filter(|m| *m != requested).cloned());
        Some(targets)
    }

    /// Named groups with their members, for listing in /v1/models (owned_by "fallback-group").
    pub fn named(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.named.iter().map(|(name, members)| (name.as_str(), members.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && self.promoted.is_empty()
    }
}

/// The members of one group, or None (after a warning) when any member is invalid: a group with a
/// member dropped would silently route differently from what was written.
fn members_of(label: &str, members: &[Value], warn: &mut impl FnMut(String)) -> Option<Vec<String>> {
    if members.is_empty() {
        warn(format!("{label} is empty; group ignored"));
        return None;
    }
    let mut valid: Vec<String> = Vec::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        let Some(text) = member.as_str() else {
            warn(format!("{label}: member {} is not a string; group ignored", index + 1));
            return None;
        };
        if !is_provider_model(text) {
            warn(format!("{label}: member \"{text}\" is not of the form provider/model; group ignored"));
            return None;
        }
        // Trying the same target twice in one request only spends the deadline.
        if valid.iter().any(|m| m == text) {
            warn(format!("{label}: member \"{text}\" is listed twice; the repeat is ignored"));
            continue;
        }
        valid.push(text.to_string());
    }
    Some(valid)
}

/// Model names may themselves contain `/` (`nvidia_nim/meta/llama-3.1-70b`), so only the first one
/// separates the provider.
fn is_provider_model(text: &str) -> bool {
    text.split_once('/').is_some_and(|(provider, model)| {
        !provider.is_empty() && !model.is_empty() && !text.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn parse_clean(json: &str) -> FallbackGroups {
        let (groups, warnings) = FallbackGroups::parse(json);
        assert!(warnings.is_empty(), "{warnings:?}");
        groups
    }

    #[test]
    fn array_form_promotes_the_requested_member_and_keeps_the_rest_in_order() {
        let groups = parse_clean(r#"[["openai/gpt-4o","groq/llama-3.3-70b"],["a/x","b/y","c/z"]]"#);
        assert_eq!(groups.targets("b/y"), Some(strings(&["b/y", "a/x", "c/z"])));
        assert_eq!(groups.targets("a/x"), Some(strings(&["a/x", "b/y", "c/z"])));
        assert_eq!(groups.targets("groq/llama-3.3-70b"), Some(strings(&["groq/llama-3.3-70b", "openai/gpt-4o"])));
        assert_eq!(groups.named().count(), 0, "array-form groups have no requestable name");
    }

    #[test]
    fn member_of_several_array_groups_uses_the_first() {
        let groups = parse_clean(r#"[["a/x","b/y"],["c/z","b/y"]]"#);
        assert_eq!(groups.targets("b/y"), Some(strings(&["b/y", "a/x"])));
        assert_eq!(groups.targets("c/z"), Some(strings(&["c/z", "b/y"])));
    }

    #[test]
    fn object_form_group_name_is_requestable_and_members_keep_their_order() {
        let groups =
            parse_clean(r#"{"smart": ["openai/gpt-4o", "anthropic/claude-sonnet-4"], "fast": ["groq/llama"]}"#);
        assert_eq!(groups.targets("smart"), Some(strings(&["openai/gpt-4o", "anthropic/claude-sonnet-4"])));
        let listed: Vec<(&str, &[String])> = groups.named().collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].0, "smart");
        assert_eq!(listed[1], ("fast", &strings(&["groq/llama"])[..]));
        assert_eq!(groups.targets("openai/gpt-4o"), None, "named-group members are not promoted");
    }

    #[test]
    fn model_in_no_group_has_no_targets() {
        let groups = parse_clean(r#"[["a/x","b/y"]]"#);
        assert_eq!(groups.targets("c/z"), None);
        assert_eq!(groups.targets("x"), None);
        assert_eq!(FallbackGroups::default().targets("a/x"), None);
    }

    #[test]
    fn model_names_may_contain_slashes() {
        let groups = parse_clean(r#"[["nvidia_nim/meta/llama-3.1-70b","groq/llama"]]"#);
        assert_eq!(groups.targets("groq/llama"), Some(strings(&["groq/llama", "nvidia_nim/meta/llama-3.1-70b"])));
    }

    #[test]
    fn invalid_json_warns_and_ignores_the_variable() {
        let (groups, warnings) = FallbackGroups::parse(r#"[["a/x","b/y"]"#);
        assert!(groups.is_empty());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].0.starts_with("MODEL_FALLBACK_GROUPS: not valid JSON"), "{warnings:?}");
    }

    #[test]
    fn other_top_level_shapes_warn_and_are_ignored() {
        for json in [r#""a/x""#, "42", "null"] {
            let (groups, warnings) = FallbackGroups::parse(json);
            assert!(groups.is_empty());
            assert_eq!(warnings.len(), 1, "{json}");
            assert!(warnings[0].0.contains("expected an array of arrays or an object of arrays"));
        }
    }

    #[test]
    fn mixed_forms_warn_and_keep_the_valid_groups() {
        let (groups, warnings) = FallbackGroups::parse(r#"[["a/x","b/y"], {"g": ["c/z"]}, "d/w"]"#);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().all(|w| w.0.starts_with("MODEL_FALLBACK_GROUPS: group ")));
        assert!(warnings[0].0.contains("cannot be mixed"));
        assert_eq!(groups.targets("b/y"), Some(strings(&["b/y", "a/x"])));
        assert_eq!(groups.targets("d/w"), None);
    }

    #[test]
    fn invalid_members_empty_groups_and_slashed_names_drop_only_their_group() {
        let json = r#"{"ok": ["a/x"], "bare": ["gpt-4o"], "num": ["a/x", 3], "empty": [], "a/b": ["c/z"],
                       "half": ["/x"], "notlist": "a/x"}"#;
        let (groups, warnings) = FallbackGroups::parse(json);
        let text: Vec<&str> = warnings.iter().map(|w| w.0.as_str()).collect();
        assert_eq!(text.len(), 6, "{text:?}");
        assert!(text[0].contains(r#"group "bare": member "gpt-4o" is not of the form provider/model"#));
        assert!(text[1].contains(r#"group "num": member 2 is not a string"#));
        assert!(text[2].contains(r#"group "empty" is empty"#));
        assert!(text[3].contains(r#"group "a/b": a group name must be non-empty and contain no '/'"#));
        assert!(text[4].contains(r#"member "/x""#));
        assert!(text[5].contains(r#"group "notlist" is not an array"#));
        assert_eq!(groups.named().map(|(name, _)| name).collect::<Vec<_>>(), vec!["ok"]);
    }

    #[test]
    fn repeated_member_warns_and_is_tried_once() {
        let (groups, warnings) = FallbackGroups::parse(r#"{"g": ["a/x", "b/y", "a/x"]}"#);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].0.contains("listed twice"));
        assert_eq!(groups.targets("g"), Some(strings(&["a/x", "b/y"])));
    }

    #[test]
    fn from_env_reads_the_variable_and_ignores_a_blank_one() {
        let env = Env::from_pairs([("MODEL_FALLBACK_GROUPS", r#"{"g": ["a/x"]}"#)]);
        let (groups, warnings) = FallbackGroups::from_env(&env);
        assert!(warnings.is_empty());
        assert_eq!(groups.targets("g"), Some(strings(&["a/x"])));
        let (groups, warnings) = FallbackGroups::from_env(&Env::from_pairs([("MODEL_FALLBACK_GROUPS", "  ")]));
        assert!(groups.is_empty() && warnings.is_empty());
        assert!(FallbackGroups::from_env(&Env::default()).0.is_empty());
    }
}
