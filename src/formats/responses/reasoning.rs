//! Reasoning signatures of other upstreams (Anthropic thinking signatures, Gemini thought
//! signatures) carried in `reasoning.encrypted_content`, so a client that resends its history
//! gives them back. The value is opaque to the client, versioned, and checked when read back:
//! `llmkp:r1:<origin>:<base64url value>:<check>`. OpenAI's own encrypted content is not ours
//! and is left alone.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::formats::InvalidRequest;
use crate::formats::ir::Signature;

const PREFIX: &str = "llmkp:r1:";

/// The origin under which Anthropic `redacted_thinking` data travels.
pub const REDACTED: &str = "redacted";

/// FNV-1a (32 bit) of origin and value: catches truncation and edits, not an authenticator
/// (the upstream verifies its own signatures).
fn check(origin: &str, value: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in origin.bytes().chain([0]).chain(value.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// A signature as `encrypted_content`.
pub fn seal(signature: &Signature) -> String {
    let value = URL_SAFE_NO_PAD.encode(signature.value.as_bytes());
    format!("{PREFIX}{}:{value}:{}", signature.origin, check(&signature.origin, &signature.value))
}

/// The signature an `encrypted_content` carries: `Ok(None)` when it is not one of ours (OpenAI's
/// own), an error when it is ours but damaged.
pub fn open(encrypted: &str, param: &str) -> Result<Option<Signature>, InvalidRequest> {
    let Some(rest) = encrypted.strip_prefix(PREFIX) else { return Ok(None) };
    let damaged = || {
        InvalidRequest::at(format!("'{param}' was issued by this proxy but is damaged: send it back unchanged"), param)
    };
    let mut fields = rest.split(':');
    let (Some(origin), Some(value), Some(sum), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(damaged());
    };
    let value = URL_SAFE_NO_PAD.decode(value).ok().and_then(|v| String::from_utf8(v).ok()).ok_or_else(damaged)?;
    if origin.is_empty() || check(origin, &value) != sum {
        return Err(damaged());
    }
    Ok(Some(Signature { origin: origin.to_string(), value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_damage_is_refused() {
        let signature = Signature { origin: "gemini".into(), value: "CsQB+/x=:y".into() };
        let sealed = seal(&signature);
        assert!(sealed.starts_with("llmkp:r1:gemini:"));
        assert_eq!(open(&sealed, "input[0]").unwrap(), Some(signature));
        assert_eq!(open("gAAAAB-openai-own", "input[0]").unwrap(), None);
        let damaged = sealed.replace("gemini", "anthropic");
        let err = open(&damaged, "input[3].encrypted_content").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[3].encrypted_content"));
        assert!(open(&sealed[..sealed.len() - 2], "x").is_err());
    }
}
