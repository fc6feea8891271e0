//! Hot reload for `serve`: when `.env`, another loaded `*.env` file or `oauth_creds/` changes
//! (file watching with a short debounce), or on `SIGHUP`, the configuration is read again and a
//! new engine replaces the current one for new requests ([`LiveApp`]). Requests in flight finish
//! on what they started with; credentials that are still configured keep their state (cooldowns,
//! usage, sticky sessions) and OAuth logins their live tokens. A file that does not parse keeps the
//! previous configuration; settings that only apply at start are named in a warning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::auth::oauth::store::{OAUTH_DIR, import_paths};
use crate::config::env_names as names;
use crate::config::{Env, EnvFiles, LoadWarning, Settings};
use crate::engine::{Engine, EngineConfig};
use crate::server::live::LiveApp;
use crate::server::{AppState, ProxyAuth};
use crate::store::StateStore;

/// Changes closer together than this are read as one.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// When the platform's file watching is unavailable, files are compared this often.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Variables read only at start: a change is named in a warning and waits for a restart.
const AT_START_ONLY: &[&str] = &[
    names::LLMKP_HOME,
    names::LLMKP_HOST,
    names::LLMKP_PORT,
    names::PORT,
    names::MAX_CONNECTIONS,
    names::REQUEST_HEADER_TIMEOUT,
    names::SHUTDOWN_GRACE_SECONDS,
    names::STATE_FLUSH_INTERVAL_MS,
    names::LLMKP_STATE_URL,
    names::LLMKP_STATE_PREFIX,
    names::LLMKP_STATE_LEASE_TTL,
    names::LOG_LEVEL,
    names::LOG_FORMAT,
];

pub struct Reloader {
    home: PathBuf,
    files: EnvFiles,
    /// The environment of the configuration being served.
    env: Mutex<Env>,
    store: Arc<dyn StateStore>,
    listen: std::net::SocketAddr,
    live: Arc<LiveApp>,
    /// The OAuth refresher of the current engine (replaced with it).
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises reloads (a SIGHUP during a file change).
    reloading: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        home: PathBuf,
        files: EnvFiles,
        env: Env,
        store: Arc<dyn StateStore>,
        listen: std::net::SocketAddr,
        live: Arc<LiveApp>,
        refresher: tokio::task::JoinHandle<()>,
    ) -> Arc<Self> {
        Arc::new(Self {
            home,
            files,
            env: Mutex::new(env),
            store,
            listen,
            live,
            refresher: Mutex::new(Some(refresher)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Watches the configuration files and `SIGHUP` until the returned task is aborted.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let (tx, rx) = mpsc::unbounded_channel::<()>();
            spawn_sighup(tx.clone());
            let watcher = this.watch(tx.clone());
            if watcher.is_none() {
                tokio::spawn(poll(this.watched_files(), tx));
            }
            this.debounced(rx, watcher).await;
        })
    }

    /// Stops watching and the current engine's OAuth refresher.
    pub fn stop(&self, watching: &tokio::task::JoinHandle<()>) {
        watching.abort();
        if let Some(refresher) = self.lock_refresher().take() {
            refresher.abort();
        }
    }

    fn lock_refresher(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        self.refresher.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn oauth_dir(&self) -> PathBuf {
        self.home.join(OAUTH_DIR)
    }

    /// Whether a change at `path` can change the configuration.
    fn relevant(&self, path: &Path) -> bool {
        let in_dir = |dir: &Path| path.parent() == Some(dir);
        let env_file = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".env"));
        (env_file && (in_dir(&self.home) || self.files.cwd.as_deref().is_some_and(in_dir)))
            || self.files.explicit.iter().any(|f| f == path)
            || path.starts_with(self.oauth_dir())
    }

    /// The platform's file watcher on the home directory, `oauth_creds/` and the folders of the
    /// other env files; `None` when it cannot be set up.
    fn watch(self: &Arc<Self>, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
        let this = self.clone();
        let oauth = self.oauth_dir();
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if event.kind.is_access() {
                return;
            }
            if event.paths.iter().any(|p| this.relevant(p) || p == &oauth) {
                let _ = tx.send(());
            }
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(err) => {
                tracing::warn!("cannot watch the configuration files ({err}); checking them every 500 ms instead");
                return None;
            }
        };
        let mut dirs: Vec<PathBuf> = vec![self.home.clone()];
        dirs.extend(self.files.cwd.clone());
        dirs.extend(self.files.explicit.iter().filter_map(|f| f.parent().map(Path::to_path_buf)));
        dirs.sort();
        dirs.dedup();
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            if let Err(err) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {err}", dir.display());
            }
        }
        let _ = watcher.watch(&self.oauth_dir(), RecursiveMode::NonRecursive);
        Some(watcher)
    }

    /// Every file the configuration is read from now (for polling).
    fn watched_files(&self) -> impl Fn() -> Vec<PathBuf> + Send + 'static {
        let (home, files, oauth) = (self.home.clone(), self.files.clone(), self.oauth_dir());
        move || {
            let mut paths: Vec<PathBuf> = files.explicit.clone();
            for dir in [Some(&home), files.cwd.as_ref()].into_iter().flatten() {
                paths.extend(list_dir(dir).into_iter().filter(|p| p.to_string_lossy().ends_with(".env")));
            }
            paths.extend(list_dir(&oauth));
            paths
        }
    }

    async fn debounced(
        self: &Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<()>,
        mut watcher: Option<notify::RecommendedWatcher>,
    ) {
        let mut oauth_watched = self.oauth_dir().is_dir();
        while rx.recv().await.is_some() {
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            // `oauth_creds/` made after the start (the first `auth add`) is watched from now on.
            if let Some(w) = watcher.as_mut()
                && !oauth_watched
                && self.oauth_dir().is_dir()
            {
                oauth_watched = w.watch(&self.oauth_dir(), RecursiveMode::NonRecursive).is_ok();
            }
            self.reload().await;
        }
    }

    /// Reads the configuration again and serves new requests with it; on failure keeps the
    /// current one and logs why.
    pub async fn reload(self: &Arc<Self>) {
        let _one_at_a_time = self.reloading.lock().await;
        let this = self.clone();
        let result = tokio::task::spawn_blocking(move || this.rebuild())
            .await
            .unwrap_or_else(|err| Err(format!("the reload task failed: {err}")));
        match result {
            Ok(summary) => {
                crate::telemetry::config_reload("applied");
                tracing::info!("configuration reloaded; providers: {summary}");
            }
            Err(why) => {
                crate::telemetry::config_reload("rejected");
                tracing::error!("configuration not reloaded, keeping the previous one: {why}");
            }
        }
    }

    fn rebuild(&self) -> Result<String, String> {
        let (env, warnings) = Env::load(std::env::vars(), &self.files).map_err(|e| e.to_string())?;
        if !warnings.is_empty() {
            let reasons: Vec<String> = warnings.into_iter().map(|LoadWarning(w)| w).collect();
            return Err(reasons.join("; "));
        }
        let settings = Settings::resolve(&env);
        for LoadWarning(message) in &settings.warnings {
            tracing::warn!("{message}");
        }
        {
            let previous = self.env.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed: Vec<&str> =
                AT_START_ONLY.iter().copied().filter(|name| previous.get(name) != env.get(name)).collect();
            if !changed.is_empty() {
                tracing::warn!("changed settings that apply only after a restart: {}", changed.join(", "));
            }
        }
        for line in import_paths(&env, &self.home) {
            tracing::info!("{line}");
        }
        let current = self.live.current();
        let (mut config, warnings) = EngineConfig::load(&env, Some(&self.home));
        for LoadWarning(message) in &warnings {
            tracing::warn!("{message}");
        }
        config.store = Some(self.store.clone());
        let listen = self.listen;
        for (name, base) in config
            .registry
            .remove_where(|p| super::serve::points_at_listener(&p.base_url, listen).then(|| p.base_url.clone()))
        {
            tracing::warn!("provider '{name}' is not used: its base URL {base} is this server's own address");
        }
        config.registry.keep_logins_of(current.engine.registry());
        let auth = ProxyAuth::from_env(&env);
        let mut server = settings.server;
        if auth.is_open() && server.require_proxy_key {
            return Err("REQUIRE_PROXY_KEY is set but no PROXY_API_KEY or PROXY_API_KEYS is configured".into());
        }
        // The listener stays where it is.
        server.host.clone_from(&current.settings.host);
        server.port = current.settings.port;
        let engine = Engine::new(config, auth.secrets().to_vec()).map_err(|e| e.to_string())?;
        engine.pool().carry_over(current.engine.pool());
        crate::telemetry::labels::set_providers(engine.registry().names());
        crate::telemetry::detailed_writer::set_scrubber(engine.redactor());
        let summary: Vec<String> =
            engine.registry().providers().map(|p| format!("{} ({} key(s))", p.name, p.credentials.len())).collect();
        let engine = Arc::new(engine);
        let refresher = engine.spawn_login_refresher(true);
        if let Some(old) = self.lock_refresher().replace(refresher) {
            old.abort();
        }
        self.live.replace(AppState { engine, auth: Arc::new(auth), settings: Arc::new(server) });
        *self.env.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = env;
        Ok(if summary.is_empty() { "none".to_string() } else { summary.join(", ") })
    }
}

/// `SIGHUP` asks for a reload (Unix only).
fn spawn_sighup(tx: mpsc::UnboundedSender<()>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    #[cfg(not(unix))]
    drop(tx);
}

/// Without file watching: compares names, sizes and modification times every [`POLL_EVERY`].
async fn poll(files: impl Fn() -> Vec<PathBuf> + Send + 'static, tx: mpsc::UnboundedSender<()>) {
    let stamp = move || -> Vec<(PathBuf, u64, Option<SystemTime>)> {
        let mut all: Vec<_> = files()
            .into_iter()
            .map(|p| {
                let meta = std::fs::metadata(&p).ok();
                let (len, modified) = meta.map_or((0, None), |m| (m.len(), m.modified().ok()));
                (p, len, modified)
            })
            .collect();
        all.sort();
        all
    };
    let mut last = stamp();
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let now = stamp();
        if now != last {
            last = now;
            if tx.send(()).is_err() {
                return;
            }
        }
    }
}

fn list_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default()
}
