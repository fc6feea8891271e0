//! Which client connections are open and which of them are serving a request. A connection that
//! serves nothing — idle keep-alive, half-sent headers, a body still arriving — holds a slot
//! without doing work: when the slots run out (or the process runs out of file descriptors) the
//! longest-idle such connection is closed to make room, so a flood of silent connections can
//! never lock real clients out. On shutdown these connections close at once; only connections
//! with a request in flight are waited for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

/// The open client connections, at most `cap` of them.
pub struct Connections {
    cap: usize,
    inner: Mutex<Inner>,
    /// Signalled whenever the last connection closes.
    empty: Notify,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    /// Slots told to close that have not closed yet: they no longer count against the cap.
    leaving: usize,
    shutting_down: bool,
}

struct Slot {
    /// Requests whose body has arrived and whose response is not finished.
    busy: usize,
    /// Since when the connection has served nothing (the oldest idle one is closed first).
    idle_since: Instant,
    /// Told to close (evicted or shutting down).
    closing: bool,
    close: Arc<Notify>,
}

/// Why a new connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot serves a request.
    Full,
    /// The server is shutting down.
    ShuttingDown,
}

impl Connections {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self { cap: cap.max(1), inner: Mutex::new(Inner::default()), empty: Notify::new() })
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is a single field update: a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot for a new connection, closing the longest-idle connection when every slot
    /// is taken; refuses only when every slot is serving a request.
    pub fn admit(self: &Arc<Self>) -> Result<Ticket, Refused> {
        let mut inner = self.lock();
        if inner.shutting_down {
            return Err(Refused::ShuttingDown);
        }
        if inner.slots.len() - inner.leaving >= self.cap && evict_idle(&mut inner, 1) == 0 {
            return Err(Refused::Full);
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let close = Arc::new(Notify::new());
        inner.slots.insert(id, Slot { busy: 0, idle_since: Instant::now(), closing: false, close: close.clone() });
        Ok(Ticket { connections: self.clone(), id, close })
    }

    /// Closes up to `n` of the longest-idle connections (file descriptors ran out); returns how
    /// many were told to close.
    pub fn evict_idle(&self, n: usize) -> usize {
        evict_idle(&mut self.lock(), n)
    }

    /// Stops admitting and closes every connection that serves nothing; the others close as
    /// soon as their last request is answered.
    pub fn shut_down(&self) {
        let mut inner = self.lock();
        inner.shutting_down = true;
        let idle = inner.slots.values().filter(|s| s.busy == 0 && !s.closing).count();
        evict_idle(&mut inner, idle);
    }

    /// Connections open now (including those on their way out).
    pub fn open(&self) -> usize {
        self.lock().slots.len()
    }

    /// Connections serving a request now.
    pub fn busy(&self) -> usize {
        self.lock().slots.values().filter(|s| s.busy > 0).count()
    }

    /// Resolves once no connection is open.
    pub async fn closed(&self) {
        loop {
            let notified = self.empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().slots.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

/// Tells the `n` longest-idle connections to close.
fn evict_idle(inner: &mut Inner, n: usize) -> usize {
    let mut idle: Vec<(Instant, u64)> =
        inner.slots.iter().filter(|(_, s)| s.busy == 0 && !s.closing).map(|(id, s)| (s.idle_since, *id)).collect();
    idle.sort_unstable();
    let mut evicted = 0;
    for (_, id) in idle.into_iter().take(n) {
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.closing = true;
            slot.close.notify_one();
            evicted += 1;
        }
    }
    inner.leaving += evicted;
    evicted
}

/// One admitted connection's slot; dropping it (when the connection task ends) frees the slot.
pub struct Ticket {
    connections: Arc<Connections>,
    id: u64,
    close: Arc<Notify>,
}

impl Ticket {
    /// Resolves when the connection must close now (evicted, or idle at shutdown).
    pub fn close_signal(&self) -> Arc<Notify> {
        self.close.clone()
    }

    /// A handle requests on this connection carry (as a request extension).
    pub fn handle(&self) -> ConnectionHandle {
        ConnectionHandle { connections: self.connections.clone(), id: self.id }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.connections.lock();
        if let Some(slot) = inner.slots.remove(&self.id)
            && slot.closing
        {
            inner.leaving -= 1;
        }
        if inner.slots.is_empty() {
            drop(inner);
            self.connections.empty.notify_waiters();
        }
    }
}

/// Lets the request path say when the connection starts and stops doing real work.
#[derive(Clone)]
pub struct ConnectionHandle {
    connections: Arc<Connections>,
    id: u64,
}

impl ConnectionHandle {
    /// The request's body has arrived: until the guard is dropped (the response is finished) the
    /// connection is not closed to make room, and shutdown waits for it.
    pub fn busy(&self) -> BusyGuard {
        if let Some(slot) = self.connections.lock().slots.get_mut(&self.id) {
            slot.busy += 1;
        }
        BusyGuard { handle: self.clone() }
    }
}

/// Held while a request is served (see [`ConnectionHandle::busy`]).
pub struct BusyGuard {
    handle: ConnectionHandle,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut inner = self.handle.connections.lock();
        let shutting_down = inner.shutting_down;
        let mut closed = false;
        if let Some(slot) = inner.slots.get_mut(&self.handle.id) {
            slot.busy = slot.busy.saturating_sub(1);
            if slot.busy == 0 {
                slot.idle_since = Instant::now();
                // Draining: a connection that has answered its last request has nothing to wait for.
                if shutting_down && !slot.closing {
                    slot.closing = true;
                    slot.close.notify_one();
                    closed = true;
                }
            }
        }
        if closed {
            inner.leaving += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_table_closes_the_longest_idle_connection_and_never_a_busy_one() {
        let connections = Connections::new(2);
        let first = connections.admit().unwrap();
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        let second = connections.admit().unwrap();
        let third = connections.admit().unwrap();
        let evicted = first.close_signal();
        tokio::time::timeout(std::time::Duration::from_millis(1), evicted.notified()).await.expect("first evicted");
        drop(first);
        assert_eq!(connections.open(), 2);

        // Both remaining connections serve requests: a newcomer is refused.
        let _a = second.handle().busy();
        let _b = third.handle().busy();
        assert_eq!(connections.admit().err(), Some(Refused::Full));
        assert_eq!(connections.busy(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_closes_idle_connections_at_once_and_busy_ones_after_their_answer() {
        let connections = Connections::new(10);
        let idle = connections.admit().unwrap();
        let working = connections.admit().unwrap();
        let guard = working.handle().busy();
        connections.shut_down();
        let quick = |t: &Ticket| {
            let signal = t.close_signal();
            async move { tokio::time::timeout(std::time::Duration::from_millis(1), signal.notified()).await.is_ok() }
        };
        assert!(quick(&idle).await, "idle connection closes at once");
        assert!(!quick(&working).await, "a request in flight is waited for");
        drop(guard);
        assert!(quick(&working).await, "closes once answered");
        assert_eq!(connections.admit().err(), Some(Refused::ShuttingDown));
        drop((idle, working));
        tokio::time::timeout(std::time::Duration::from_millis(1), connections.closed()).await.unwrap();
    }
}
