//! The session key of a request (resilience specification §4.4): what keeps a conversation on
//! one credential so upstream prompt caches stay warm. Never logged in clear.

use http::HeaderMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::formats::ir;

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
/// else a hash of the conversation's opening in canonical form — the system prompt (with any
/// system messages before the first turn) plus the first user message — which stays the same
/// as the conversation grows, whatever family the client speaks.
pub fn session_key(headers: &HeaderMap, body: &Map<String, Value>, opening: &ir::Request) -> String {
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
    let leading = opening.messages.iter().take_while(|m| m.role == ir::Role::System);
    let system = opening.system.iter().chain(leading.flat_map(|m| &m.parts));
    let first_user = opening.messages.iter().find(|m| m.role == ir::Role::User);
    let mut hasher = Sha256::new();
    for part in system {
        hasher.update(b"s");
        hash_part(&mut hasher, part);
    }
    for part in first_user.into_iter().flat_map(|m| &m.parts) {
        hasher.update(b"u");
        hash_part(&mut hasher, part);
    }
    let digest = hasher.finalize();
    format!("c:{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

/// A part's content, length-prefixed so that neighbouring parts cannot run together.
fn hash_part(hasher: &mut Sha256, part: &ir::Part) {
    let content = match part {
        ir::Part::Text { text, .. } | ir::Part::Refusal(text) => std::borrow::Cow::Borrowed(text.as_str()),
        other => std::borrow::Cow::Owned(format!("{other:?}")),
    };
    hasher.update((content.len() as u64).to_le_bytes());
    hasher.update(content.as_bytes());
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

    fn text(t: &str) -> ir::Part {
        ir::Part::Text { text: t.into(), cache_control: None }
    }

    fn message(role: ir::Role, t: &str) -> ir::Message {
        ir::Message { role, parts: vec![text(t)] }
    }

    fn opening(system: &str, messages: Vec<ir::Message>) -> ir::Request {
        ir::Request { system: vec![text(system)], messages, ..ir::Request::default() }
    }

    #[test]
    fn headers_win_then_body_fields_then_the_conversation_start() {
        let mut headers = HeaderMap::new();
        let none = ir::Request::default();
        let b = body(json!({"prompt_cache_key": "pk"}));
        assert_eq!(session_key(&headers, &b, &none), "b:pk");
        headers.insert("x-session-id", "abc".parse().unwrap());
        assert_eq!(session_key(&headers, &b, &none), "h:abc");
        let meta = body(json!({"metadata": {"user_id": "u1"}}));
        assert_eq!(session_key(&HeaderMap::new(), &meta, &none), "b:u1");
    }

    #[test]
    fn the_derived_key_is_stable_as_the_conversation_grows() {
        use ir::Role::{Assistant, System, User};
        let h = HeaderMap::new();
        let b = Map::new();
        let first = opening("be brief", vec![message(User, "hi")]);
        let later = opening(
            "be brief",
            vec![
                message(User, "hi"),
                message(System, "env changed"),
                message(Assistant, "hello"),
                message(User, "more"),
            ],
        );
        let other = opening("be brief", vec![message(User, "different")]);
        let other_system = opening("be long", vec![message(User, "hi")]);
        assert_eq!(session_key(&h, &b, &first), session_key(&h, &b, &later));
        assert_ne!(session_key(&h, &b, &first), session_key(&h, &b, &other));
        assert_ne!(session_key(&h, &b, &first), session_key(&h, &b, &other_system));
        // A system message before the first turn is part of the prompt.
        let leading =
            ir::Request { messages: vec![message(System, "be brief"), message(User, "hi")], ..Default::default() };
        assert_ne!(
            session_key(&h, &b, &leading),
            session_key(&h, &b, &ir::Request { messages: vec![message(User, "hi")], ..Default::default() })
        );
        assert_eq!(loggable("x").len(), 8);
    }
}
