//! A server whose routes and engine can be replaced while it runs (hot reload): each request is
//! handed to the router current when it arrived and keeps it — with its engine, pool leases and
//! settings — until it ends, streams included; the next request sees the new one.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::Request;
use tower::ServiceExt;

use super::{AppState, app, fd_limit, listener};
use crate::engine::Engine;

pub struct LiveApp {
    state: ArcSwap<AppState>,
    router: ArcSwap<Router>,
    /// Every engine that may still relay a stream, told to cut them at the end of the shutdown
    /// grace time.
    engines: Mutex<Vec<Weak<Engine>>>,
}

impl LiveApp {
    pub fn new(state: AppState) -> Arc<Self> {
        let router = app(state.clone());
        let engines = vec![Arc::downgrade(&state.engine)];
        Arc::new(Self {
            state: ArcSwap::from_pointee(state),
            router: ArcSwap::from_pointee(router),
            engines: Mutex::new(engines),
        })
    }

    /// What new requests are served with now.
    pub fn current(&self) -> Arc<AppState> {
        self.state.load_full()
    }

    /// New requests are served with `state` from now on; requests in flight keep theirs.
    pub fn replace(&self, state: AppState) {
        let mut engines = self.engines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        engines.retain(|e| e.strong_count() > 0);
        engines.push(Arc::downgrade(&state.engine));
        drop(engines);
        self.router.store(Arc::new(app(state.clone())));
        self.state.store(Arc::new(state));
    }

    fn cut_streams(&self) {
        let engines = self.engines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        engines.iter().filter_map(Weak::upgrade).for_each(|e| e.cut_streams());
    }

    /// The router the listener drives: it forwards each request to the current router.
    fn router(self: &Arc<Self>) -> Router {
        let live = self.clone();
        let forward = tower::service_fn(move |request: Request| {
            let current = live.router.load_full();
            async move { Ok::<_, Infallible>((*current).clone().oneshot(request).await.unwrap_or_else(|e| match e {})) }
        });
        Router::new().fallback_service(forward)
    }
}

/// [`super::serve`] with routes that [`LiveApp::replace`] swaps. The listener's own settings
/// (connection limit, header timeout, grace) are those of the state it started with.
pub async fn serve(
    listener: tokio::net::TcpListener,
    live: Arc<LiveApp>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = live.current();
    let settings = listener::ListenerSettings {
        max_connections: fd_limit::connection_cap(state.settings.max_connections, fd_limit::soft_limit()),
        header_timeout: state.settings.header_timeout,
        grace: state.settings.shutdown_grace,
    };
    let cut = live.clone();
    listener::run(listener, live.router(), settings, shutdown, move || cut.cut_streams()).await
}
