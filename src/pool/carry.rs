//! A reloaded configuration keeps what the pool knew: each credential that is still configured
//! (same provider, same stable id) keeps its cooldowns, ladders, usage windows, sticky sessions
//! and fair-cycle marks; new credentials start fresh; removed ones are forgotten.

use std::collections::HashMap;

use super::CredentialPool;

impl CredentialPool {
    /// Takes over the state of `previous`'s credentials that this pool also has. Requests in
    /// flight on `previous` stay counted there (their leases release into it), so they are not
    /// counted against this pool's concurrency limits.
    pub fn carry_over(&self, previous: &CredentialPool) {
        for (name, pool) in &self.providers {
            let Some(old) = previous.providers.get(name) else { continue };
            let old_state = old.lock();
            let mut state = pool.lock();
            // Old index → new index of every credential both pools have.
            let moved: HashMap<usize, usize> = old
                .credentials
                .iter()
                .enumerate()
                .filter_map(|(j, c)| pool.index_of(c.id.as_str()).map(|i| (j, i)))
                .collect();
            for (&j, &i) in &moved {
                let priority = state.credentials[i].priority;
                let mut kept = old_state.credentials[j].clone();
                kept.priority = priority;
                kept.active = 0;
                state.credentials[i] = kept;
            }
            for (key, (j, last)) in &old_state.sticky {
                if let Some(&i) = moved.get(j) {
                    state.sticky.insert(key.clone(), (i, *last));
                }
            }
            for (tracking, marks) in &old_state.exhausted {
                let kept: HashMap<usize, _> =
                    marks.iter().filter_map(|(j, at)| moved.get(j).map(|&i| (i, *at))).collect();
                if !kept.is_empty() {
                    state.exhausted.insert(tracking.clone(), kept);
                }
            }
        }
    }
}
