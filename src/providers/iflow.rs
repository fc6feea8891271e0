//! iFlow's OpenAI-compatible API (credentials specification §12): requests carry the account's
//! API key and a signature of the client name, a session id and the time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

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
}
