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

    /// The card in the Anthropic models API shape (`type`, `id`, `display_name`, `created_at`).
    pub fn anthropic_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "model",
            "id": self.id,
            "display_name": self.id,
            "created_at": rfc3339_utc(self.created),
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix time in seconds (proleptic Gregorian calendar).
pub fn rfc3339_utc(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix_secs % 86_400;
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
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
    fn unix_times_format_as_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_761_000), "2026-11-27T06:30:00Z");
        assert_eq!(rfc3339_utc(951_868_799), "2000-02-29T23:59:59Z");
    }

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
