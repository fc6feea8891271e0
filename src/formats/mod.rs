//! Wire formats: pure types, parsers and translators, with no IO.

pub mod anthropic;
pub mod collect;
pub mod failure;
pub mod family;
pub mod fields;
pub mod gemini;
pub mod ir;
pub mod json;
pub mod openai;
pub mod protocol;
pub mod relay;
pub mod responses;
pub mod sse;

/// Why a client's request (or its translation) was refused: HTTP 400 in the client's family,
/// naming the offending field when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    pub message: String,
    /// The field as a path (`messages[2].content[0].type`, `tools[1]`); `None` for the body itself.
    pub param: Option<String>,
}

impl InvalidRequest {
    pub fn new(message: impl Into<String>, param: Option<String>) -> Self {
        Self { message: message.into(), param }
    }

    /// Refused because of the field at `param`.
    pub fn at(message: impl Into<String>, param: impl Into<String>) -> Self {
        Self { message: message.into(), param: Some(param.into()) }
    }

    /// Refused as a whole (not JSON, not an object).
    pub fn body(message: impl Into<String>) -> Self {
        Self { message: message.into(), param: None }
    }

    pub fn missing(param: String) -> Self {
        Self::at(format!("missing required field '{param}'"), param)
    }

    pub fn wrong_type(param: String, expected: &str) -> Self {
        Self::at(format!("'{param}' must be {expected}"), param)
    }
}

/// 16 bytes as a UUID-formatted string (`8-4-4-4-12` lower-case hex).
pub fn uuid_string(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A random (version 4) UUID.
pub fn random_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_string(bytes)
}

/// `len` random base62 characters: the tail of the ids the proxy mints (`msg_…`, `chatcmpl-…`).
pub fn random_base62(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len).map(|_| rng.sample(rand::distr::Alphanumeric) as char).collect()
}
