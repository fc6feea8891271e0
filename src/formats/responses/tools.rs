//! The client's tools as a translated route sees them: freeform (`custom`) tools become
//! functions taking one `input` string, functions of `namespace` groups are flattened to
//! `<namespace>__<name>`, built-in tools (`web_search`, `file_search`, …) are left out and
//! named. [`ToolNames`] remembers which is which, so that answers give the client back its own
//! shapes (`custom_tool_call` with `input`, `function_call` with `namespace`).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

/// The separator of a flattened namespace function name.
const NAMESPACE_SEPARATOR: &str = "__";

/// What the client's tool list said about names (kept by the family for its answers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    /// Freeform tools, by name (flattened when namespaced).
    custom: HashSet<String>,
    /// Flattened name → (namespace, name).
    namespaced: HashMap<String, (String, String)>,
}

/// How one answer's tool call goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallShape<'a> {
    /// `function_call` with `name` (and `namespace` when the tool was in a group).
    Function { name: &'a str, namespace: Option<&'a str> },
    /// `custom_tool_call` with `input`.
    Custom { name: &'a str, namespace: Option<&'a str> },
}

impl ToolNames {
    /// The name a namespaced tool has on a translated route.
    pub fn flat(namespace: &str, name: &str) -> String {
        format!("{namespace}{NAMESPACE_SEPARATOR}{name}")
    }

    pub fn add_custom(&mut self, name: String) {
        self.custom.insert(name);
    }

    pub fn add_namespaced(&mut self, namespace: &str, name: &str) -> String {
        let flat = Self::flat(namespace, name);
        self.namespaced.insert(flat.clone(), (namespace.to_string(), name.to_string()));
        flat
    }

    pub fn is_custom(&self, name: &str) -> bool {
        self.custom.contains(name)
    }

    /// The client's shape of a call to `name` (the name the upstream used).
    pub fn shape<'a>(&'a self, name: &'a str) -> CallShape<'a> {
        let (namespace, short) = match self.namespaced.get(name) {
            Some((namespace, short)) => (Some(namespace.as_str()), short.as_str()),
            None => (None, name),
        };
        if self.custom.contains(name) {
            CallShape::Custom { name: short, namespace }
        } else {
            CallShape::Function { name: short, namespace }
        }
    }
}

/// The parameters schema of a freeform tool on a translated route; the grammar the client
/// gave (Codex's `apply_patch` has one) is told in the description.
pub fn custom_as_function(tool: &Map<String, Value>) -> (Option<String>, Value) {
    let mut description = tool.get("description").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(format) = tool.get("format").and_then(Value::as_object)
        && let Some(definition) = format.get("definition").and_then(Value::as_str)
    {
        let syntax = format.get("syntax").and_then(Value::as_str).unwrap_or("grammar");
        description.push_str(&format!("\n\nThe input must follow this {syntax} grammar:\n{definition}"));
    }
    let parameters = json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's input, as free text."}},
        "required": ["input"],
        "additionalProperties": false,
    });
    ((!description.is_empty()).then_some(description), parameters)
}

/// A freeform call's arguments on a translated route: `{"input": …}`.
pub fn custom_arguments(input: &str) -> String {
    json!({ "input": input }).to_string()
}

/// A freeform call's `input` back from the arguments a translated upstream wrote (the raw text
/// when they are not the expected object).
pub fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(map)) => match map.get("input") {
            Some(Value::String(input)) => input.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        _ => arguments.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_and_freeform_tools_get_their_shapes_back() {
        let mut names = ToolNames::default();
        let flat = names.add_namespaced("multi_agent_v1", "close_agent");
        assert_eq!(flat, "multi_agent_v1__close_agent");
        names.add_custom("apply_patch".into());
        assert_eq!(names.shape(&flat), CallShape::Function { name: "close_agent", namespace: Some("multi_agent_v1") });
        assert_eq!(names.shape("apply_patch"), CallShape::Custom { name: "apply_patch", namespace: None });
        assert_eq!(names.shape("exec_command"), CallShape::Function { name: "exec_command", namespace: None });
        assert_eq!(custom_input(&custom_arguments("*** Begin Patch\n")), "*** Begin Patch\n");
        assert_eq!(custom_input("not json"), "not json");
    }
}
