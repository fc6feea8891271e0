//! The request shape of the Qwen Code and iFlow portals (credentials specification §11, §12):
//! only the parameters they accept, and tool schemas without `strict` or
//! `additionalProperties`, which they refuse.

use serde_json::{Map, Value};

/// Parameters the Qwen Code and iFlow portals accept (credentials specification §11, §12).
const PORTAL_PARAMS: [&str; 15] = [
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "stop",
    "seed",
    "response_format",
];

/// Keeps the parameters the portals accept (`max_completion_tokens` becomes `max_tokens`) and
/// cleans tool schemas; returns the parameters left out (the proxy's own bookkeeping field
/// `user` is not worth reporting).
pub fn keep_portal_params(body: &mut Map<String, Value>) -> Vec<String> {
    if let Some(max) = body.remove("max_completion_tokens") {
        body.entry("max_tokens").or_insert(max);
    }
    let dropped: Vec<String> = body.keys().filter(|k| !PORTAL_PARAMS.contains(&k.as_str())).cloned().collect();
    for key in &dropped {
        body.remove(key);
    }
    if let Some(Value::Array(tools)) = body.get_mut("tools") {
        for tool in tools.iter_mut() {
            if let Some(function) = tool.get_mut("function").and_then(Value::as_object_mut) {
                function.remove("strict");
                if let Some(parameters) = function.get_mut("parameters") {
                    strip_schema_keys(parameters);
                }
            }
        }
    }
    dropped.into_iter().filter(|k| k != "user").collect()
}

/// `strict` and `additionalProperties` removed at every depth of a JSON schema (property names
/// of the same spelling are kept).
fn strip_schema_keys(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.remove("strict");
            map.remove("additionalProperties");
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("properties", Value::Object(properties)) => properties.values_mut().for_each(strip_schema_keys),
                    (_, value) => strip_schema_keys(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_schema_keys),
        _ => {}
    }
}
