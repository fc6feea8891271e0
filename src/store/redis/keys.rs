//! Where everything lives in Redis, under one prefix (`LLMKP_STATE_PREFIX`) so several
//! deployments can share one server:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:cooldowns` | hash | `["provider","credential","scope"]` → cooldown record (JSON) |
//! | `P:ladders` | hash | `["provider","credential","scope","kind"]` → ladder record (JSON) |
//! | `P:fair_cycle` | hash | `["provider","credential","tracking"]` → fair-cycle mark (JSON) |
//! | `P:usage:index` | set | the row ids of `P:usage:<row>` |
//! | `P:usage:<row>` | hash | one usage row: `window_start_ms`, `w.<counter>`, `t.<counter>`, first/last use |
//! | `P:usage:batch:<id>` | string | a usage batch already counted (for a day) |
//! | `P:lease:<provider>:<credential>` | sorted set | lease id → expiry (ms, Redis clock) |
//! | `P:sticky:<hash>` | string | credential bound to a (provider, scope, session), with the session TTL |
//! | `P:login:<id>:lock` | string | the instance refreshing a login (expires by itself) |
//! | `P:login:<id>:chain` / `:order` | hash / list | sealed token sets by the tag of the secret they replace |
//! | `P:events` | channel | what each instance changed, for the others' caches |
//!
//! Row and field ids are JSON arrays of the parts, so no model name can make two ids collide.

use sha2::{Digest, Sha256};

use crate::store::CredentialKey;

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_string() }
    }

    pub fn cooldowns(&self) -> String {
        format!("{}:cooldowns", self.prefix)
    }

    pub fn ladders(&self) -> String {
        format!("{}:ladders", self.prefix)
    }

    pub fn fair_cycle(&self) -> String {
        format!("{}:fair_cycle", self.prefix)
    }

    pub fn usage_index(&self) -> String {
        format!("{}:usage:index", self.prefix)
    }

    pub fn usage_row(&self, row: &str) -> String {
        format!("{}:usage:{row}", self.prefix)
    }

    /// Marks a usage batch as counted (a retry of it is then a no-op).
    pub fn usage_batch(&self, batch: &str) -> String {
        format!("{}:usage:batch:{batch}", self.prefix)
    }

    pub fn lease(&self, provider: &str, credential: &str) -> String {
        format!("{}:lease:{provider}:{credential}", self.prefix)
    }

    /// The binding of one session: only a hash of the session key is stored.
    pub fn sticky(&self, provider: &str, scope: &str, session: &str) -> String {
        let mut hash = Sha256::new();
        for part in [provider, scope, session] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{}:sticky:{hex}", self.prefix)
    }

    pub fn login_lock(&self, login: &str) -> String {
        format!("{}:login:{login}:lock", self.prefix)
    }

    pub fn login_chain(&self, login: &str) -> String {
        format!("{}:login:{login}:chain", self.prefix)
    }

    pub fn login_order(&self, login: &str) -> String {
        format!("{}:login:{login}:order", self.prefix)
    }

    /// One stored Response (`{owner, created, body}` as JSON, with its TTL).
    pub fn response(&self, id: &str) -> String {
        format!("{}:response:{id}", self.prefix)
    }

    /// The stored Responses by creation time (the oldest go first beyond the cap).
    pub fn responses(&self) -> String {
        format!("{}:responses", self.prefix)
    }

    pub fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
}

/// A field or row id: the JSON array of its parts.
pub fn id(parts: &[&str]) -> String {
    serde_json::to_string(parts).unwrap_or_default()
}

/// The id of a (credential, scope) row or field.
pub fn scoped(key: &CredentialKey, scope: &str) -> String {
    id(&[&key.provider, &key.credential, scope])
}

/// A script joins `scoped_head(provider) + encoded(credential) + scoped_tail(scope)` into the
/// [`scoped`] id of any credential of `provider` in `scope`.
pub fn scoped_head(provider: &str) -> String {
    format!("[{},", encoded(provider))
}

/// See [`scoped_head`].
pub fn scoped_tail(scope: &str) -> String {
    format!(",{}]", encoded(scope))
}

/// One part as it appears inside an id.
pub fn encoded(part: &str) -> String {
    serde_json::to_string(part).unwrap_or_default()
}

/// The parts of an id written by [`id`].
pub fn parts(id: &str) -> Option<Vec<String>> {
    serde_json::from_str(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_whatever_the_scope_holds() {
        let id = id(&["openai", "abc", "we:ird\"|model\n"]);
        assert_eq!(parts(&id).unwrap(), ["openai", "abc", "we:ird\"|model\n"]);
    }

    #[test]
    fn the_scripts_pieces_join_into_the_scoped_id() {
        let key = CredentialKey { provider: "open\"router".into(), credential: "c/1".into() };
        let joined = scoped_head(&key.provider) + &encoded(&key.credential) + &scoped_tail("meta-llama/llama-3:free");
        assert_eq!(joined, scoped(&key, "meta-llama/llama-3:free"));
    }

    #[test]
    fn sticky_keys_never_hold_the_session() {
        let keys = Keys::new("p");
        let key = keys.sticky("openai", "gpt-4o", "h:my-secret-session");
        assert!(!key.contains("my-secret-session"));
        assert_eq!(key, keys.sticky("openai", "gpt-4o", "h:my-secret-session"));
        assert_ne!(key, keys.sticky("openai", "gpt-4o", "h:other"));
    }
}
