//! Metric handles kept by the values that chose their labels. The recorder's own lookup builds an
//! owned key on every call (label strings, a hash, a clone kept for recency) and the labels
//! themselves cost a price-table lookup and two locks; a request records about ten series, so
//! the hot path asks here instead, by the raw values it was given, and allocates nothing once a
//! series is known. A kept handle stays the one the recorder exports: it is installed without an
//! idle timeout, so it never drops a series.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};

/// Distinct keys kept per call site. Raw values come from clients (model names), so a full cache
/// stops growing and later keys take the recorder's path every time.
const MAX_KEYS: usize = 4096;

/// Bumped when what a label resolves to may have changed (a reload configured new providers):
/// every cache starts over.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The handles cached so far are stale.
pub fn invalidate() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// One call site's handles (`H`: a handle or a struct of them), by key.
pub struct Series<H> {
    cache: OnceLock<RwLock<Cache<H>>>,
}

struct Cache<H> {
    generation: u64,
    handles: HashMap<Box<str>, H>,
}

thread_local! {
    /// The key being looked up, built without allocating.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<H: Clone> Series<H> {
    pub const fn new() -> Self {
        Self { cache: OnceLock::new() }
    }

    /// The handles for `parts` (joined as one key), registered by `make` the first time. `make`
    /// registers with the recorder only; it must not record through a `Series` itself.
    pub fn get(&self, parts: &[&str], make: impl FnOnce() -> H) -> H {
        KEY.with_borrow_mut(|key| {
            key.clear();
            for part in parts {
                key.push_str(part);
                key.push('\u{1f}');
            }
            self.get_at(GENERATION.load(Ordering::Relaxed), key, make)
        })
    }

    /// The handles for `key` as of `generation` of the labels.
    fn get_at(&self, generation: u64, key: &str, make: impl FnOnce() -> H) -> H {
        let lock = self.cache.get_or_init(|| RwLock::new(Cache { generation, handles: HashMap::new() }));
        {
            let cache = lock.read().unwrap_or_else(PoisonError::into_inner);
            if cache.generation == generation
                && let Some(handles) = cache.handles.get(key)
            {
                return handles.clone();
            }
        }
        let handles = make();
        let mut cache = lock.write().unwrap_or_else(PoisonError::into_inner);
        if cache.generation != generation {
            cache.handles.clear();
            cache.generation = generation;
        }
        if cache.handles.len() < MAX_KEYS {
            cache.handles.insert(key.into(), handles.clone());
        }
        handles
    }
}

impl<H: Clone> Default for Series<H> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_until_the_labels_may_have_changed() {
        let series: Series<usize> = Series::new();
        let mut made = 0;
        let mut get = |generation: u64, key: &str| {
            series.get_at(generation, key, || {
                made += 1;
                made
            })
        };
        assert_eq!(get(7, "openai"), 1);
        assert_eq!(get(7, "openai"), 1, "cached");
        assert_eq!(get(7, "anthropic"), 2);
        assert_eq!(get(8, "openai"), 3, "made again after a reload");
        assert_eq!(get(8, "anthropic"), 4, "every key starts over");
        assert_eq!(get(8, "openai"), 3);
    }

    #[test]
    fn parts_are_kept_apart_in_the_key() {
        let series: Series<String> = Series::new();
        assert_eq!(series.get(&["openai", "success"], || "a".into()), "a");
        assert_eq!(series.get(&["openais", "uccess"], || "b".into()), "b");
    }

    #[test]
    fn a_full_cache_still_answers() {
        let series: Series<String> = Series::new();
        for i in 0..MAX_KEYS + 10 {
            let key = i.to_string();
            assert_eq!(series.get_at(0, &key, || key.clone()), key);
        }
        assert_eq!(series.get_at(0, "not-cached", || "made".to_string()), "made");
        assert_eq!(series.get_at(0, "not-cached", || "made again".to_string()), "made again");
        assert_eq!(series.get_at(0, "1", || "not made".to_string()), "1", "the first keys stay");
    }
}
