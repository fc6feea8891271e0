//! Which credential of a provider to use for the next attempt.
//!
//! Credentials are offered in the provider's rotation order (sequential: the first key stays in
//! use while it works), skipping those this request has already given up on. Cooldowns,
//! concurrency leases and balanced rotation build on this decision point.

use std::sync::Arc;

use crate::auth::{Credential, CredentialId};
use crate::providers::Provider;

#[derive(Debug, Default)]
pub struct CredentialPool;

impl CredentialPool {
    pub fn new() -> Self {
        Self
    }

    /// The next credential of `provider` not in `excluded`, or `None` when all were tried.
    pub fn next(&self, provider: &Provider, excluded: &[CredentialId]) -> Option<Arc<Credential>> {
        provider.credentials.iter().find(|c| !excluded.contains(&c.id)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Protocol;

    #[test]
    fn offers_credentials_in_order_skipping_excluded_ones() {
        let creds: Vec<Arc<Credential>> =
            ["k-one", "k-two"].iter().map(|k| Arc::new(Credential::api_key("p", "P_API_KEY", k))).collect();
        let provider = Provider {
            name: "p".into(),
            protocol: Protocol::OpenAi,
            base_url: "http://x".into(),
            models_url: None,
            credentials: creds.clone(),
            custom: true,
        };
        let pool = CredentialPool::new();
        assert_eq!(pool.next(&provider, &[]).unwrap().id, creds[0].id);
        assert_eq!(pool.next(&provider, &[creds[0].id.clone()]).unwrap().id, creds[1].id);
        assert!(pool.next(&provider, &[creds[0].id.clone(), creds[1].id.clone()]).is_none());
    }
}
