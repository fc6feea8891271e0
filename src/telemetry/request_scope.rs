//! Per-request timing shared between the server's outermost layer and the engine: how long the
//! request waited on upstreams, so the proxy's own cost (`llmkp_overhead_seconds`) is the rest.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    static UPSTREAM_WAIT: Cell<Duration>;
}

/// Runs `future` with an upstream-wait counter; returns its output and the time counted.
pub async fn measured<F: Future>(future: F) -> (F::Output, Duration) {
    UPSTREAM_WAIT
        .scope(Cell::new(Duration::ZERO), async move {
            let output = future.await;
            (output, UPSTREAM_WAIT.with(Cell::get))
        })
        .await
}

/// Adds time spent waiting on an upstream to the current request (nothing outside a request).
pub fn add_upstream_wait(waited: Duration) {
    let _ = UPSTREAM_WAIT.try_with(|w| w.set(w.get() + waited));
}
