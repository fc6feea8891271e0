//! The cache of live model lists, one entry per provider, refreshed after a TTL. A failed refresh
//! keeps the previous list.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// One model as `/v1/models` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelCard {
    /// `provider/model`.
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: String,
}

impl ModelCard {
    pub fn new(provider: &str, model: &str, created: u64) -> Self {
        Self { id: format!("{provider}/{model}"), object: "model", created, owned_by: provider.to_string() }
    }

    /// A name that is not `provider/model` but can be requested like one (an alias, a fallback
    /// group); `owned_by` says which.
    pub fn named(name: &str, owned_by: &str, created: u64) -> Self {
        Self { id: name.to_string(), object: "model", created, owned_by: owned_by.to_string() }
    }
}

#[derive(Debug, Clone)]
struct CachedList {
    fetched_at: Instant,
    cards: Vec<ModelCard>,
    /// The last fetch failed: `cards` are the previous list (or empty) and retry comes sooner.
    failed: bool,
}

/// After a failed fetch, try again after this long rather than after the full TTL.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct ModelCatalog {
    ttl: Duration,
    lists: Mutex<HashMap<String, CachedList>>,
}

impl ModelCatalog {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, lists: Mutex::new(HashMap::new()) }
    }

    /// The cached list of `provider` if it is still fresh.
    pub fn fresh(&self, provider: &str, now: Instant) -> Option<Vec<ModelCard>> {
        let lists = self.lists.lock().expect("model cache lock");
        let entry = lists.get(provider)?;
        let max_age = if entry.failed { RETRY_AFTER_FAILURE.min(self.ttl) } else { self.ttl };
        (now.duration_since(entry.fetched_at) < max_age).then(|| entry.cards.clone())
    }

    /// Stores a fetched list.
    pub fn store(&self, provider: &str, cards: Vec<ModelCard>, now: Instant) {
        let entry = CachedList { fetched_at: now, cards, failed: false };
        self.lists.lock().expect("model cache lock").insert(provider.to_string(), entry);
    }

    /// Records a failed fetch and returns the list to show: the previous one, if any.
    pub fn store_failure(&self, provider: &str, now: Instant) -> Vec<ModelCard> {
        let mut lists = self.lists.lock().expect("model cache lock");
        let previous = lists.get(provider).map(|e| e.cards.clone()).unwrap_or_default();
        lists.insert(provider.to_string(), CachedList { fetched_at: now, cards: previous.clone(), failed: true });
        previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expire_after_the_ttl_and_failures_keep_the_previous_list() {
        let catalog = ModelCatalog::new(Duration::from_secs(100));
        let t0 = Instant::now();
        catalog.store("p", vec![ModelCard::new("p", "m", 1)], t0);
        assert_eq!(catalog.fresh("p", t0 + Duration::from_secs(99)).unwrap().len(), 1);
        assert!(catalog.fresh("p", t0 + Duration::from_secs(100)).is_none());
        let kept = catalog.store_failure("p", t0 + Duration::from_secs(100));
        assert_eq!(kept[0].id, "p/m");
        assert!(catalog.fresh("p", t0 + Duration::from_secs(100 + 59)).is_some());
        assert!(catalog.fresh("p", t0 + Duration::from_secs(100 + 60)).is_none());
    }
}
