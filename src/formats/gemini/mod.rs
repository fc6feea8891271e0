//! The Gemini generateContent wire family (translation specification §2 `gemini`, §4 Gemini
//! columns, §5–§7, §9.3, §9.5, §10): requests both ways (`request.rs`: canonical → upstream body,
//! client body → canonical; `schema.rs`: JSON-schema cleaning), responses both ways
//! (`response.rs`: upstream body → canonical, canonical → client body; `stream.rs`: upstream
//! chunks → canonical events, canonical events → client chunks), and embeddings
//! (`embed.rs`).

pub mod embed;
pub mod family;
pub mod relay;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::ir::Signature;

/// The origin of signatures produced by the public Gemini API (§10).
pub const ORIGIN: &str = "gemini";

/// A signature as a Gemini client sees it: one from `native_origin` (the Gemini-protocol
/// provider that served) verbatim; any other as `llmkp1.<origin>.<value>`, base64-encoded because
/// Gemini SDKs treat `thoughtSignature` as bytes.
pub fn signature_to_client(signature: &Signature, native_origin: &str) -> String {
    if signature.origin == native_origin { signature.value.clone() } else { STANDARD.encode(signature.wrapped()) }
}

/// A `thoughtSignature` a Gemini client sent back: a wrapped one is unwrapped to its origin,
/// anything else belongs to `native_origin` (the Gemini-protocol family).
pub fn signature_from_client(wire: &str, native_origin: &str) -> Signature {
    if let Ok(bytes) = STANDARD.decode(wire)
        && let Ok(text) = String::from_utf8(bytes)
        && let Some(signature) = Signature::unwrap(&text)
    {
        return signature;
    }
    Signature { origin: native_origin.to_string(), value: wire.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_signatures_travel_wrapped_and_come_back_to_their_origin() {
        let native = Signature { origin: ORIGIN.into(), value: "CiQBcX".into() };
        assert_eq!(signature_to_client(&native, ORIGIN), "CiQBcX");
        assert_eq!(signature_from_client("CiQBcX", ORIGIN), native);
        let foreign = Signature { origin: "anthropic".into(), value: "EqQB.x".into() };
        let wire = signature_to_client(&foreign, ORIGIN);
        assert_ne!(wire, foreign.value);
        assert_eq!(signature_from_client(&wire, ORIGIN), foreign);
    }
}
