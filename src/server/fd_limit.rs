//! The process's open-file limit and how many client connections fit under it.
//!
//! Every client connection costs one descriptor and usually one more for its upstream call, and
//! the state database, the listener and the runtime need a few of their own: holding more client
//! connections than that would make `accept` and upstream connects fail for everyone.

/// Descriptors kept for everything that is not a client connection or its upstream call.
const RESERVED: u64 = 64;
/// Never fewer client connections than this, however low the limit.
const MIN_CONNECTIONS: usize = 8;

/// The soft open-file limit, `None` where it cannot be read or is unlimited.
pub fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the soft open-file limit to the hard one (many systems start services at 1024, far
/// below what a gateway with long streams needs); returns the limit now in force.
pub fn raise_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
            && current < maximum
            && setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) }).is_err()
        {
            return Some(current);
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `configured` (`MAX_CONNECTIONS`), lowered so that client connections and their upstream
/// calls fit under the open-file limit `soft`.
pub fn connection_cap(configured: usize, soft: Option<u64>) -> usize {
    let Some(soft) = soft else { return configured.max(1) };
    let fits = usize::try_from(soft.saturating_sub(RESERVED) / 2).unwrap_or(usize::MAX);
    configured.min(fits.max(MIN_CONNECTIONS)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_upstream_calls_and_the_process_itself() {
        assert_eq!(connection_cap(4096, Some(256)), 96);
        assert_eq!(connection_cap(4096, Some(1024)), 480);
        assert_eq!(connection_cap(50, Some(1 << 20)), 50);
        assert_eq!(connection_cap(4096, Some(16)), MIN_CONNECTIONS);
        assert_eq!(connection_cap(4096, None), 4096);
    }
}
