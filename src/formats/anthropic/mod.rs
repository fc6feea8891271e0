//! The Anthropic Messages wire family as a client-facing format: requests into the canonical
//! model, canonical answers out as `message` objects and as the event stream of translation
//! specification §9.1.

mod blocks;
pub mod family;
pub mod passthrough;
pub mod request;
pub mod response;
pub mod stream;
pub mod upstream;

use super::ir::Signature;

pub use request::{InvalidRequest, MessagesRequest, decode_request};
pub use response::{encode_response, error_body};
pub use stream::{MessagesStreamEncoder, PING};

/// The signature origin of Anthropic's own (unwrapped) thinking signatures.
pub const ORIGIN: &str = "anthropic";

/// A signature as a Messages client sees it: Anthropic's verbatim, any other wrapped with its
/// origin so it can be routed back to the provider that issued it.
pub fn signature_to_wire(signature: &Signature) -> String {
    if signature.origin == ORIGIN { signature.value.clone() } else { signature.wrapped() }
}

/// A signature a Messages client sent back: a wrapped one is unwrapped to its origin, anything
/// else is taken as Anthropic's own.
pub fn signature_from_wire(wire: &str) -> Signature {
    Signature::unwrap(wire).unwrap_or_else(|| Signature { origin: ORIGIN.to_string(), value: wire.to_string() })
}

/// `msg_` + 24 base62 characters (§8).
pub fn new_message_id() -> String {
    format!("msg_{}", super::random_base62(24))
}

/// `toolu_` + 24 base62 characters: the id minted for a tool call that arrived without one.
pub fn new_tool_use_id() -> String {
    format!("toolu_{}", super::random_base62(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_signatures_stay_verbatim_and_foreign_ones_round_trip_wrapped() {
        let native = Signature { origin: ORIGIN.into(), value: "EqQBCkYI".into() };
        assert_eq!(signature_to_wire(&native), "EqQBCkYI");
        assert_eq!(signature_from_wire("EqQBCkYI"), native);
        let foreign = Signature { origin: "gemini_cli".into(), value: "CsQB.AV==".into() };
        let wire = signature_to_wire(&foreign);
        assert_eq!(wire, "llmkp1.gemini_cli.CsQB.AV==");
        assert_eq!(signature_from_wire(&wire), foreign);
        assert_eq!(signature_from_wire("llmkp1..x").origin, ORIGIN);
    }

    #[test]
    fn minted_ids_have_the_documented_form() {
        for (id, prefix) in [(new_message_id(), "msg_"), (new_tool_use_id(), "toolu_")] {
            let tail = id.strip_prefix(prefix).unwrap();
            assert_eq!(tail.len(), 24);
            assert!(tail.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
}
