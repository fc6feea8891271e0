//! The session key of a request (resilience specification §4.4): what keeps a conversation on
//! one credential so upstream prompt caches stay warm. Never logged in clear.

use http::HeaderMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const HEADERS: &[&str] = &["x-session-id", "session_id", "session-id", "x-claude-code-session-id", "conversation_id"];
const BODY_FIELDS: &[&str] = &[
    "prompt_cache_key",
    "session_id",
    "conversation_id",
    "conversationId",
    "thread_id",
    "threadId",
    "chat_id",
    "chatId",
];

/// The first of: a session header, a session field of the body (`metadata.user_id` included),
/// else a hash of the system prompt plus the first user message (stable as the conversation
/// grows).
pub fn session_key(headers: &HeaderMap, body: &Map<String, Value>) -> String {
    for name in HEADERS {
        if let Some(value) = headers.get(*name).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty()) {
            return format!("h:{}", value.trim());
        }
    }
    let metadata_user = body.get("metadata").and_then(|m| m.get("user_id"));
    for value in BODY_FIELDS.iter().filter_map(|f| body.get(*f)).chain(metadata_user) {
        match value {
            Value::String(s) if !s.is_empty() => return format!("b:{s}"),
            Value::Number(n) => return format!("b:{n}"),
            _ => {}
        }
    }
    let messages = body.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let system: Vec<&Value> = messages
        .iter()
        .filter(|m| matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer")))
        .collect();
    let first_user = messages.iter().find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
    let canonical = serde_json::to_vec(&(system, first_user, body.get("system"))).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    format!("c:{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

/// The first 8 hex characters of the key's hash: enough to correlate log lines, nothing more.
pub fn loggable(session: &str) -> String {
    Sha256::digest(session.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn headers_win_then_body_fields_then_the_conversation_start() {
        let mut headers = HeaderMap::new();
        let b = body(json!({"prompt_cache_key": "pk", "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(session_key(&headers, &b), "b:pk");
        headers.insert("x-session-id", "abc".parse().unwrap());
        assert_eq!(session_key(&headers, &b), "h:abc");
        let meta = body(json!({"metadata": {"user_id": "u1"}, "messages": []}));
        assert_eq!(session_key(&HeaderMap::new(), &meta), "b:u1");
    }

    #[test]
    fn the_derived_key_is_stable_as_the_conversation_grows() {
        let first =
            body(json!({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}));
        let later = body(json!({"messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}
        ]}));
        let other = body(json!({"messages": [{"role": "user", "content": "different"}]}));
        let h = HeaderMap::new();
        assert_eq!(session_key(&h, &first), session_key(&h, &later));
        assert_ne!(session_key(&h, &first), session_key(&h, &other));
        assert_eq!(loggable("x").len(), 8);
    }
}
