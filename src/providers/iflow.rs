//! iFlow's OpenAI-compatible API (credentials specification §12): the portal's request shape
//! without `stream_options` (it answers 406), a placeholder function for an explicitly empty tool
//! list, and requests that carry the account's API key and a signature of the client name, a
//! session id and the time.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::portal::keep_portal_params;
use super::profile::ProviderProfile;

pub struct IFlow;

impl ProviderProfile for IFlow {
    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Map<String, Value>, _placeholder_tool: bool) -> Vec<String> {
        let dropped = keep_portal_params(body);
        body.remove("stream_options");
        if body.get("tools").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            body.insert(
                "tools".into(),
                json!([{"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}]),
            );
        }
        dropped
    }

    fn sign(&self, mut request: reqwest::RequestBuilder, secret: &str) -> reqwest::RequestBuilder {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        for (name, value) in signed_headers(secret, &new_session_id(), now as i64) {
            request = request.header(name, value);
        }
        request
    }
}

/// The headers of one iFlow request signed with `api_key` at `timestamp_ms`.
pub fn signed_headers(api_key: &str, session_id: &str, timestamp_ms: i64) -> [(&'static str, String); 4] {
    let signature = hmac_sha256_hex(api_key, &format!("iFlow-Cli:{session_id}:{timestamp_ms}"));
    [
        ("user-agent", "iFlow-Cli".to_string()),
        ("session-id", session_id.to_string()),
        ("x-iflow-timestamp", timestamp_ms.to_string()),
        ("x-iflow-signature", signature),
    ]
}

fn hmac_sha256_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `session-<uuid4>`.
pub fn new_session_id() -> String {
    format!("session-{}", crate::formats::random_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_client_session_and_time() {
        // The RFC 4231-style published vector for HMAC-SHA256.
        assert_eq!(
            hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let headers = signed_headers("key", "s", 1);
        assert_eq!(headers[3], ("x-iflow-signature", hmac_sha256_hex("key", "iFlow-Cli:s:1")));
        assert_eq!(headers[2], ("x-iflow-timestamp", "1".to_string()));
        assert!(new_session_id().starts_with("session-"));
    }

    #[test]
    fn the_portal_shape_drops_stream_options_and_fills_an_empty_tool_list() {
        let mut body = json!({"model": "m", "messages": [], "stream_options": {}}).as_object().unwrap().clone();
        IFlow.shape_body(&mut body, true);
        assert!(body.get("stream_options").is_none() && body.get("tools").is_none());
        let mut empty = json!({"model": "m", "messages": [], "tools": []}).as_object().unwrap().clone();
        IFlow.shape_body(&mut empty, true);
        assert_eq!(empty["tools"][0]["function"]["name"], "noop");
    }
}
