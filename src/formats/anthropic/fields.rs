//! Typed readers for request fields: `null` counts as absent, and every failure names the field
//! by its path (`messages[2].content[0].source.type`).

use serde_json::{Map, Value};

use super::request::InvalidRequest;

/// `obj[key]`, with `null` read as absent.
pub(super) fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

pub(super) fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, InvalidRequest> {
    value.as_object().ok_or_else(|| InvalidRequest::wrong_type(path.to_string(), "an object"))
}

pub(super) fn req_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, InvalidRequest> {
    // `path` already names the object itself here (`…source`).
    match get(obj, key) {
        Some(value) => as_object(value, path),
        None => Err(InvalidRequest::missing(path.to_string())),
    }
}

pub(super) fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, prefix: &str) -> Result<&'a str, InvalidRequest> {
    match get(obj, key) {
        Some(Value::String(s)) => Ok(s),
        None => Err(InvalidRequest::missing(join(prefix, key))),
        Some(_) => Err(InvalidRequest::wrong_type(join(prefix, key), "a string")),
    }
}

pub(super) fn opt_str(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<String>, InvalidRequest> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(InvalidRequest::wrong_type(join(prefix, key), "a string")),
    }
}

pub(super) fn opt_u64(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<u64>, InvalidRequest> {
    get(obj, key)
        .map(|v| v.as_u64().ok_or_else(|| InvalidRequest::wrong_type(join(prefix, key), "a non-negative integer")))
        .transpose()
}

pub(super) fn opt_f64(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, InvalidRequest> {
    get(obj, key).map(|v| v.as_f64().ok_or_else(|| InvalidRequest::wrong_type(key.to_string(), "a number"))).transpose()
}

pub(super) fn opt_bool(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<bool>, InvalidRequest> {
    get(obj, key)
        .map(|v| v.as_bool().ok_or_else(|| InvalidRequest::wrong_type(join(prefix, key), "a boolean")))
        .transpose()
}
