//! The one reader of request fields every family decodes with: `null` counts as absent, values
//! are checked for their type, and every failure names the field by its path as the client
//! spelled it (`messages[2].content[0].source.type`). Families whose clients spell fields two
//! ways (Gemini's camelCase and snake_case) look them up with [`find`].

use serde_json::{Map, Value};

use super::InvalidRequest;

/// `obj[key]`, with `null` read as absent.
pub fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// `obj[camel]`, else `obj[snake_case(camel)]`: the key as sent and its value.
pub fn find<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<(&'a str, &'a Value)> {
    let found = obj.get_key_value(camel).filter(|(_, v)| !v.is_null());
    let found = found.or_else(|| obj.get_key_value(&snake_case(camel)).filter(|(_, v)| !v.is_null()));
    found.map(|(key, value)| (key.as_str(), value))
}

/// `prefix.key` (or `key` at the top).
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

pub fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

// Typed checks of one value found at `path`.

pub fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, InvalidRequest> {
    value.as_object().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "an object"))
}

pub fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, InvalidRequest> {
    value.as_str().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "a string"))
}

pub fn as_bool(value: &Value, path: &str) -> Result<bool, InvalidRequest> {
    value.as_bool().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "a boolean"))
}

pub fn as_f64(value: &Value, path: &str) -> Result<f64, InvalidRequest> {
    value.as_f64().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "a number"))
}

pub fn as_u64(value: &Value, path: &str) -> Result<u64, InvalidRequest> {
    value.as_u64().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "a non-negative integer"))
}

/// A non-negative integer; `40.0` is taken as 40 (protobuf JSON clients send floats).
pub fn as_count(value: &Value, path: &str) -> Result<u64, InvalidRequest> {
    let integral = value.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9e15).map(|f| f as u64);
    value.as_u64().or(integral).ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "a non-negative integer"))
}

// Fields of an object under `prefix`, looked up exactly.

/// The request's `model`: a non-empty string, trimmed (every family names its target this way).
pub fn req_model(body: &Map<String, Value>) -> Result<String, InvalidRequest> {
    match get(body, "model") {
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(m.trim().to_string()),
        Some(Value::String(_)) | None => {
            Err(InvalidRequest::at("missing required field 'model' (expected \"provider/model\")", "model"))
        }
        Some(_) => Err(InvalidRequest::wrong_type("model".into(), "a string")),
    }
}

/// The request's `messages`: a non-empty array (Chat and Messages).
pub fn req_messages(body: &Map<String, Value>) -> Result<&Vec<Value>, InvalidRequest> {
    match get(body, "messages") {
        Some(Value::Array(items)) if items.is_empty() => {
            Err(InvalidRequest::at("'messages' must not be empty", "messages"))
        }
        Some(Value::Array(items)) => Ok(items),
        None => Err(InvalidRequest::missing("messages".into())),
        Some(_) => Err(InvalidRequest::wrong_type("messages".into(), "an array")),
    }
}

/// An array of strings; `path` names the array (an item is `path[i]` in errors).
pub fn strings(items: &[Value], path: &str) -> Result<Vec<String>, InvalidRequest> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str().map(str::to_string).ok_or_else(|| InvalidRequest::wrong_type(format!("{path}[{i}]"), "a string"))
        })
        .collect()
}

/// `obj[key]` as an object; `path` names that object itself.
pub fn req_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, InvalidRequest> {
    match get(obj, key) {
        Some(value) => as_object(value, path),
        None => Err(InvalidRequest::missing(path.to_string())),
    }
}

pub fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, prefix: &str) -> Result<&'a str, InvalidRequest> {
    match get(obj, key) {
        Some(value) => as_str(value, &join(prefix, key)),
        None => Err(InvalidRequest::missing(join(prefix, key))),
    }
}

pub fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, prefix: &str) -> Result<Option<&'a str>, InvalidRequest> {
    get(obj, key).map(|v| as_str(v, &join(prefix, key))).transpose()
}

pub fn opt_bool(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<bool>, InvalidRequest> {
    get(obj, key).map(|v| as_bool(v, &join(prefix, key))).transpose()
}

pub fn opt_f64(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<f64>, InvalidRequest> {
    get(obj, key).map(|v| as_f64(v, &join(prefix, key))).transpose()
}

pub fn opt_u64(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<u64>, InvalidRequest> {
    get(obj, key).map(|v| as_u64(v, &join(prefix, key))).transpose()
}
