//! JSON bodies on the wire: serialising a body, and serialising a client's body with a few
//! top-level fields replaced without copying the rest (passthrough edits `model`, `stream`, an
//! output limit — never the messages).

use bytes::Bytes;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A JSON object as bytes.
pub fn to_bytes(map: &Map<String, Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(map).expect("a JSON map always serialises"))
}

/// Top-level fields to change in a body: `Some` replaces (or adds, at the end) the field,
/// `None` removes it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Edits(Vec<(&'static str, Option<Value>)>);

impl Edits {
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.put(key, Some(value.into()));
    }

    pub fn remove(&mut self, key: &'static str) {
        self.put(key, None);
    }

    fn put(&mut self, key: &'static str, value: Option<Value>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value `key` will have: the edit's, else the body's.
    pub fn get<'a>(&'a self, body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
        match self.0.iter().find(|(k, _)| *k == key) {
            Some((_, value)) => value.as_ref(),
            None => body.get(key),
        }
    }

    /// `body` with the edits, serialised in one pass (fields keep their order).
    pub fn apply(&self, body: &Map<String, Value>) -> Bytes {
        let mut out = Vec::with_capacity(1024);
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(None).expect("writing to a Vec cannot fail");
        for (key, value) in body {
            let value = match self.0.iter().find(|(k, _)| k == key) {
                Some((_, Some(replacement))) => replacement,
                Some((_, None)) => continue,
                None => value,
            };
            map.serialize_entry(key, value).expect("JSON values always serialise");
        }
        for (key, value) in &self.0 {
            if let (Some(value), false) = (value, body.contains_key(*key)) {
                map.serialize_entry(key, value).expect("JSON values always serialise");
            }
        }
        map.end().expect("writing to a Vec cannot fail");
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn edits_replace_remove_and_append_keeping_the_order() {
        let body = json!({"model": "a/b", "messages": [{"role": "user"}], "stream_options": {}, "x": 1});
        let body = body.as_object().unwrap();
        let mut edits = Edits::default();
        edits.set("model", "b");
        edits.remove("stream_options");
        edits.set("stream", true);
        assert_eq!(edits.get(body, "model"), Some(&json!("b")));
        assert_eq!(edits.get(body, "stream_options"), None);
        assert_eq!(edits.get(body, "x"), Some(&json!(1)));
        let out = String::from_utf8(edits.apply(body).to_vec()).unwrap();
        assert_eq!(out, r#"{"model":"b","messages":[{"role":"user"}],"x":1,"stream":true}"#);
    }
}
