//! How each provider's credentials stand right now, for readiness (`/readyz`) and the
//! credential-state gauges of `/metrics`.

use tokio::time::Instant;

use super::CredentialPool;
use super::state::Availability;

/// Credentials of one provider by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub provider: String,
    pub available: usize,
    /// Usable only as a last resort after transient failures.
    pub resting: usize,
    pub cooling: usize,
    /// Locked out, or an OAuth login that needs a new login.
    pub locked: usize,
}

impl Standing {
    /// Credentials a request could be sent with now.
    pub fn usable(&self) -> usize {
        self.available + self.resting
    }

    pub fn as_pairs(&self) -> [(&'static str, usize); 4] {
        [("available", self.available), ("resting", self.resting), ("cooling", self.cooling), ("locked", self.locked)]
    }
}

impl CredentialPool {
    /// Every provider's credentials by state, sorted by provider.
    pub fn standing(&self) -> Vec<Standing> {
        let now = Instant::now();
        let mut all: Vec<Standing> = self
            .providers
            .iter()
            .map(|(name, pool)| {
                let state = pool.lock();
                let mut standing = Standing { provider: name.clone(), ..Standing::default() };
                for (credential, s) in pool.credentials.iter().zip(&state.credentials) {
                    let counter = match s.standing(now) {
                        _ if credential.needs_reauth() => &mut standing.locked,
                        Availability::Eligible => &mut standing.available,
                        Availability::Resting => &mut standing.resting,
                        Availability::CoolingUntil(_) => &mut standing.cooling,
                        Availability::LockedUntil(_) => &mut standing.locked,
                    };
                    *counter += 1;
                }
                standing
            })
            .collect();
        all.sort_by(|a, b| a.provider.cmp(&b.provider));
        all
    }
}
