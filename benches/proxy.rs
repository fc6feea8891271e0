//! Proxy overhead benchmark: a fixed-reply OpenAI mock on loopback, called directly, through
//! nginx (when installed) and through llmkp — in-process instances and the real `llmkp serve`
//! binary. Prints one summary table (throughput, latency, memory, start time against the goals
//! of issue 15), then the detailed tables.
//!
//! Run with `cargo bench --bench proxy`; knobs are `BENCH_*` environment variables, see
//! `benches/README.md`. `BENCH_COMPARE` adds other builds of the binary (an earlier commit) to
//! every section, for before/after comparisons on the same machine under the same load.

#[path = "proxy/compare.rs"]
mod compare;
#[path = "proxy/load.rs"]
mod load;
#[path = "proxy/mock.rs"]
mod mock;
#[path = "proxy/nginx.rs"]
mod nginx;
#[path = "proxy/redis.rs"]
mod redis;
#[path = "proxy/serve.rs"]
mod serve;
#[path = "proxy/table.rs"]
mod table;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use llmkp::config::{Env, Settings};
use llmkp::engine::{Engine, EngineConfig};
use llmkp::server::{AppState, ProxyAuth};
use llmkp::store::StateStore;
use llmkp::store::redis::{RedisSettings, RedisStore};
use llmkp::store::sqlite::SqliteStore;

use compare::THIS_TRANSLATED;
use load::{Family, Path, Run};
use mock::{KEY_PREFIX, UPSTREAM_KEY};
use serve::rss;
use table::{Table, added_p50_p99, count, mb, ms, ratio, us};

/// The same allocator as the `llmkp` binary, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROXY_KEY: &str = "bench-proxy-key";

const DIRECT: &str = "direct (mock)";
const NGINX: &str = "nginx → mock";
const DEFAULT: &str = "llmkp default";
const PASSTHROUGH: &str = "llmkp passthrough";
const SQLITE: &str = "llmkp + sqlite store";
const REDIS: &str = "llmkp + redis store";
const TRANSLATED: &str = "llmkp translated (Messages → OpenAI)";
const SERVE: &str = "llmkp serve (binary)";

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
    requests: usize,
    stream_throughput_requests: usize,
    concurrency: usize,
    max_secs: f64,
    latency_requests: usize,
    warmup: usize,
    stream_requests: usize,
    stream_chunks: usize,
    server_threads: usize,
    client_threads: usize,
    slow_streams: usize,
    keys: usize,
    starts: usize,
    /// Throughput runs are split into this many rounds, every path once per round.
    rounds: usize,
    nginx_workers: String,
    serve_log_level: String,
    /// Only the paths whose name contains one of these (all when empty).
    paths: Vec<String>,
    /// Other builds of the binary measured next to this one (`BENCH_COMPARE`).
    compare: Vec<compare::Build>,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let config = Self {
            requests: env_usize("BENCH_REQUESTS", 20_000)?,
            stream_throughput_requests: env_usize("BENCH_STREAM_THROUGHPUT_REQUESTS", 10_000)?,
            concurrency: env_usize("BENCH_CONCURRENCY", 32)?,
            max_secs: env_f64("BENCH_MAX_SECS", 30.0)?,
            latency_requests: env_usize("BENCH_LATENCY_REQUESTS", 2_000)?,
            warmup: env_usize("BENCH_WARMUP", 200)?,
            stream_requests: env_usize("BENCH_STREAM_REQUESTS", 1_000)?,
            stream_chunks: env_usize("BENCH_STREAM_CHUNKS", 10)?,
            server_threads: env_usize("BENCH_SERVER_THREADS", cpus)?,
            client_threads: env_usize("BENCH_CLIENT_THREADS", 1)?,
            slow_streams: env_usize("BENCH_SLOW_STREAMS", 1_000)?,
            keys: env_usize("BENCH_KEYS", 10_000)?,
            starts: env_usize("BENCH_STARTS", 5)?,
            rounds: env_usize("BENCH_ROUNDS", 1)?,
            nginx_workers: std::env::var("BENCH_NGINX_WORKERS").unwrap_or_else(|_| "auto".into()),
            serve_log_level: std::env::var("BENCH_SERVE_LOG_LEVEL").unwrap_or_else(|_| "warn".into()),
            paths: std::env::var("BENCH_PATHS")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            compare: compare::from_env()?,
        };
        for (name, value) in [
            ("BENCH_CONCURRENCY", config.concurrency),
            ("BENCH_STREAM_CHUNKS", config.stream_chunks),
            ("BENCH_SERVER_THREADS", config.server_threads),
            ("BENCH_CLIENT_THREADS", config.client_threads),
            ("BENCH_ROUNDS", config.rounds),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if !(config.max_secs > 0.0 && config.max_secs.is_finite()) {
            return Err("BENCH_MAX_SECS must be a positive number of seconds".into());
        }
        Ok(config)
    }

    fn max_duration(&self) -> Duration {
        Duration::from_secs_f64(self.max_secs)
    }

    fn wants(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        self.paths.is_empty() || self.paths.iter().any(|p| name.contains(p.as_str()))
    }

    fn keys_name(&self) -> String {
        format!("llmkp {} keys", thousands(self.keys))
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn env_usize(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(raw) => raw.trim().replace('_', "").parse().map_err(|_| format!("{name}={raw:?}: expected an integer")),
        Err(_) => Ok(default),
    }
}

fn env_f64(name: &str, default: f64) -> Result<f64, String> {
    match std::env::var(name) {
        Ok(raw) => raw.trim().parse().map_err(|_| format!("{name}={raw:?}: expected a number")),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------------------------
// llmkp in-process, built the way `llmkp serve` builds it

async fn start_llmkp(
    mock: SocketAddr,
    extra: &[(String, String)],
    store: Option<Arc<dyn StateStore>>,
) -> std::io::Result<SocketAddr> {
    let mut pairs = vec![
        ("OPENAI_API_BASE".to_string(), format!("http://{mock}/v1")),
        ("PROXY_API_KEY".to_string(), PROXY_KEY.to_string()),
    ];
    if !extra.iter().any(|(k, _)| k.starts_with("OPENAI_API_KEY")) {
        pairs.push(("OPENAI_API_KEY".to_string(), UPSTREAM_KEY.to_string()));
    }
    pairs.extend(extra.iter().cloned());
    let env = Env::from_pairs(pairs);
    let (mut config, warnings) = EngineConfig::from_env(&env);
    config.store = store;
    for warning in &warnings {
        eprintln!("llmkp config warning: {}", warning.0);
    }
    let settings = Settings::resolve(&env);
    for warning in &settings.warnings {
        eprintln!("llmkp config warning: {}", warning.0);
    }
    let auth = ProxyAuth::from_env(&env);
    let engine = Engine::new(config, auth.secrets().to_vec()).map_err(std::io::Error::other)?;
    let state = AppState { engine: Arc::new(engine), auth: Arc::new(auth), settings: Arc::new(settings.server) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = llmkp::server::serve(listener, state, std::future::pending()).await {
            eprintln!("llmkp stopped: {err}");
        }
    });
    Ok(addr)
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ---------------------------------------------------------------------------------------------
// The measured paths and what the run found

struct Targets {
    /// Every path, in report order (direct first).
    all: Vec<Arc<Path>>,
    /// The paths measured with client streams too.
    stream: Vec<Arc<Path>>,
    /// The `llmkp serve` process, for the memory rows.
    serve: Option<ServeTarget>,
}

struct ServeTarget {
    pid: u32,
    /// The serve path with the slow model (streams held open by the mock).
    slow: Arc<Path>,
    release: watch::Sender<bool>,
}

#[derive(Default)]
struct Found {
    rate: HashMap<String, f64>,
    stream_rate: HashMap<String, f64>,
    latency: HashMap<String, (Option<Duration>, Option<Duration>)>,
    rss_after_load: Option<u64>,
    slow: Option<(usize, usize, Option<u64>)>,
    rss_after_slow: Option<u64>,
}

async fn throughput(config: &Config, paths: &[Arc<Path>], stream: bool, found: &mut Found) -> String {
    let (total, what) =
        if stream { (config.stream_throughput_requests, "client streams") } else { (config.requests, "non-stream") };
    let c = config.concurrency;
    let max = config.max_duration();
    let rounds = config.rounds;
    let in_rounds = if rounds > 1 { format!(" in {rounds} rounds") } else { String::new() };
    let mut out = format!("### Throughput: {what}, concurrency {c}, {total} requests per path{in_rounds}\n\n");
    let mut table = Table::new(&["path", "ok", "errors", "wall s", "req/s", "vs direct", "p50 ms", "p99 ms"]);
    let mut direct_rps = None;
    // Each round runs every path once, the first path rotating, so drift in machine load is
    // spread over all of them; a path's numbers are the sum of its rounds.
    let mut runs: Vec<Run> = paths.iter().map(|_| Run::default()).collect();
    for round in 0..rounds {
        for offset in 0..paths.len() {
            let k = (round + offset) % paths.len();
            let path = &paths[k];
            eprintln!("throughput ({what}), round {}/{rounds}: {} ...", round + 1, path.name);
            if round == 0 && config.warmup > 0 {
                load::load(path.clone(), config.warmup.max(c), c, max, stream).await;
            }
            let share = total / rounds + usize::from(round < total % rounds);
            runs[k].add_round(load::load(path.clone(), share, c, max, stream).await);
        }
    }
    for (path, run) in paths.iter().zip(runs) {
        let run = run.finish(&path.name);
        let rps = run.rate();
        if path.name == DIRECT {
            direct_rps = Some(rps);
        }
        let rates = if stream { &mut found.stream_rate } else { &mut found.rate };
        rates.insert(path.name.clone(), rps);
        table.row(vec![
            path.name.clone(),
            count(&run),
            run.errors.to_string(),
            format!("{:.2}", run.elapsed.as_secs_f64()),
            format!("{rps:.0}"),
            direct_rps.map_or_else(|| "—".to_string(), |base| format!("{:.0}%", 100.0 * rps / base)),
            ms(run.pct(50.0)),
            ms(run.pct(99.0)),
        ]);
    }
    out.push_str(&table.render());
    out.push('\n');
    out
}

async fn latency(config: &Config, paths: &[Arc<Path>], found: &mut Found) -> String {
    eprintln!("latency: {} sequential requests per path ...", config.latency_requests);
    let mut out =
        format!("### Latency: non-stream, concurrency 1, {} requests per path (µs)\n\n", config.latency_requests);
    let runs = load::sequential(paths, config.latency_requests, config.warmup, false, config.max_duration()).await;
    let runs: Vec<Run> = runs.into_iter().zip(paths).map(|(run, path)| run.finish(&path.name)).collect();
    let mut table = Table::new(&["path", "n", "errors", "p50", "p90", "p99", "added p50", "added p99"]);
    let direct = paths.iter().position(|p| p.name == DIRECT).map(|i| &runs[i]);
    for (run, path) in runs.iter().zip(paths) {
        found.latency.insert(path.name.clone(), (run.pct(50.0), run.pct(99.0)));
        let (add50, add99) = match direct {
            Some(direct) => added_p50_p99(path.name == DIRECT, run, direct),
            None => ("—".to_string(), "—".to_string()),
        };
        table.row(vec![
            path.name.clone(),
            count(run),
            run.errors.to_string(),
            us(run.pct(50.0)),
            us(run.pct(90.0)),
            us(run.pct(99.0)),
            add50,
            add99,
        ]);
    }
    out.push_str(&table.render());
    out.push('\n');
    out
}

async fn streaming(config: &Config, paths: &[Arc<Path>]) -> String {
    eprintln!("streaming: {} sequential streams per path ...", config.stream_requests);
    let mut out = format!(
        "### Streaming: time to first byte, concurrency 1, {} streams of {} chunks per path (µs)\n\n",
        config.stream_requests, config.stream_chunks
    );
    let runs = load::sequential(paths, config.stream_requests, config.warmup, true, config.max_duration()).await;
    let runs: Vec<Run> = runs.into_iter().zip(paths).map(|(run, path)| run.finish(&path.name)).collect();
    let mut table = Table::new(&["path", "n", "errors", "ttfb p50", "ttfb p99", "added p50", "added p99", "full p50"]);
    let direct = paths.iter().position(|p| p.name == DIRECT).map(|i| &runs[i]);
    for (run, path) in runs.iter().zip(paths) {
        let (add50, add99) = match direct {
            Some(direct) => added_p50_p99(path.name == DIRECT, run, direct),
            None => ("—".to_string(), "—".to_string()),
        };
        table.row(vec![
            path.name.clone(),
            count(run),
            run.errors.to_string(),
            us(run.pct(50.0)),
            us(run.pct(99.0)),
            add50,
            add99,
            us(load::percentile(&run.totals, 50.0)),
        ]);
    }
    out.push_str(&table.render());
    out.push('\n');
    out
}

/// Opens the slow streams on `llmkp serve`, reads its RSS while they are all open, lets them
/// finish and closes their connections (the client goes away), then reads the RSS once more.
async fn slow_streams(config: &Config, serve: ServeTarget, found: &mut Found) {
    let n = config.slow_streams;
    eprintln!("slow streams: opening {n} on llmkp serve ...");
    let (tasks, opened, failed) = load::open_streams(serve.slow.clone(), n, config.max_duration()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = rss(serve.pid);
    let _ = serve.release.send(true);
    let mut errors = failed;
    let mut first = None;
    for task in tasks {
        if let Ok(Err(message)) = task.await {
            errors += 1;
            first.get_or_insert(message);
        }
    }
    let _ = serve.release.send(false);
    if let Some(message) = first {
        let message: String = message.chars().take(300).collect();
        eprintln!("  slow streams: {errors} error(s); first: {message}");
    }
    found.slow = Some((opened, errors.min(n), held));
    // The last handle on the client: its kept-alive connections close with it.
    drop(serve.slow);
    tokio::time::sleep(Duration::from_secs(2)).await;
    found.rss_after_slow = rss(serve.pid);
}

async fn bench(config: Arc<Config>, targets: Targets) -> (String, Found) {
    let mut out = String::new();
    let mut found = Found::default();

    // Every path must answer before anything is measured.
    for path in &targets.all {
        if let Err(err) = path.call().await {
            eprintln!("sanity check failed for {}: {err}", path.name);
            std::process::exit(1);
        }
        if let Err(err) = path.call_stream().await {
            eprintln!("sanity check (stream) failed for {}: {err}", path.name);
            std::process::exit(1);
        }
    }

    if config.requests > 0 {
        out.push_str(&throughput(&config, &targets.all, false, &mut found).await);
    }
    if config.stream_throughput_requests > 0 {
        out.push_str(&throughput(&config, &targets.stream, true, &mut found).await);
    }
    if config.latency_requests > 0 {
        out.push_str(&latency(&config, &targets.all, &mut found).await);
    }
    if config.stream_requests > 0 {
        out.push_str(&streaming(&config, &targets.stream).await);
    }
    if let Some(serve) = targets.serve {
        tokio::time::sleep(Duration::from_secs(1)).await;
        found.rss_after_load = rss(serve.pid);
        if config.slow_streams > 0 {
            slow_streams(&config, serve, &mut found).await;
        }
    }
    (out, found)
}

// ---------------------------------------------------------------------------------------------
// The summary: one row per goal of issue 15

struct Startup {
    /// Median start-to-listening time of `BENCH_STARTS` starts.
    start: Option<Duration>,
    idle_rss: Option<u64>,
    /// RSS 1 s after start of each other build's `llmkp serve`, by the name of its Chat path.
    compare_idle_rss: HashMap<String, Option<u64>>,
    skipped: Vec<String>,
}

fn summary(config: &Config, found: &Found, startup: &Startup) -> String {
    let mut table = Table::new(&["measurement", "value", "ratio", "goal"]);
    let keys = config.keys_name();
    for (rates, what) in [(&found.rate, "non-stream"), (&found.stream_rate, "client streams")] {
        let c = config.concurrency;
        let rate = |name: &str| rates.get(name).copied();
        let nginx = rate(NGINX);
        let default = rate(DEFAULT);
        let mut row = |name: &str, base: Option<(f64, &str)>, goal: &str| {
            if let Some(value) = rate(name) {
                let versus = base.map_or_else(|| "—".to_string(), |(b, n)| format!("{} {n}", ratio(value, b)));
                table.row(vec![format!("{what}, c={c}: {name}"), format!("{value:.0} req/s"), versus, goal.into()]);
            }
        };
        row(DIRECT, None, "");
        row(NGINX, rate(DIRECT).map(|d| (d, "direct")), "");
        let vs_nginx = nginx.map(|n| (n, "nginx"));
        row(DEFAULT, vs_nginx, "≥ 0.75× nginx");
        row(PASSTHROUGH, vs_nginx, "≥ 0.75× nginx");
        row(SERVE, vs_nginx, "≥ 0.75× nginx");
        let vs_default = default.map(|d| (d, "default"));
        row(TRANSLATED, vs_default, "≥ 0.85× default");
        row(&keys, vs_default, "≥ 0.90× default");
        row(SQLITE, vs_default, "");
        row(REDIS, vs_default, "");
    }
    let direct = found.latency.get(DIRECT);
    for name in [NGINX, DEFAULT, PASSTHROUGH, SERVE, TRANSLATED] {
        if let (Some((p50, p99)), Some((d50, d99))) = (found.latency.get(name), direct) {
            table.row(vec![
                format!("added latency, c=1: {name}"),
                format!("p50 {} µs, p99 {} µs", table::added(*p50, *d50), table::added(*p99, *d99)),
                "—".into(),
                if name == NGINX { String::new() } else { "p50 ≤ +60 µs, p99 ≤ +300 µs".into() },
            ]);
        }
    }
    if startup.start.is_some() || startup.idle_rss.is_some() {
        table.row(vec![
            "llmkp serve: start to listening".into(),
            startup.start.map_or_else(|| "—".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3)),
            "—".into(),
            "≤ 50 ms".into(),
        ]);
        table.row(vec![
            "llmkp serve: RSS idle (1 s after start)".into(),
            mb(startup.idle_rss),
            "—".into(),
            "≤ 15 MB".into(),
        ]);
    }
    if found.rss_after_load.is_some() {
        table.row(vec![
            "llmkp serve: RSS after the load above".into(),
            mb(found.rss_after_load),
            "—".into(),
            String::new(),
        ]);
    }
    if let Some((opened, errors, held)) = found.slow {
        table.row(vec![
            format!("llmkp serve: RSS with {} slow streams open", thousands(config.slow_streams)),
            mb(held),
            format!("{opened} open, {errors} errors"),
            "≤ 100 MB".into(),
        ]);
        table.row(vec![
            "llmkp serve: RSS 2 s after they ended and closed".into(),
            mb(found.rss_after_slow),
            "—".into(),
            String::new(),
        ]);
    }
    let mut out = String::from("### Summary\n\n");
    out.push_str(&table.render());
    out.push('\n');
    for line in &startup.skipped {
        out.push_str(&format!("{line}\n"));
    }
    if !startup.skipped.is_empty() {
        out.push('\n');
    }
    if !config.compare.is_empty() {
        let mut idle_rss = startup.compare_idle_rss.clone();
        idle_rss.insert(SERVE.to_string(), startup.idle_rss);
        let measured = compare::Measured {
            rate: &found.rate,
            stream_rate: &found.stream_rate,
            latency: &found.latency,
            idle_rss: &idle_rss,
        };
        out.push_str(&compare::report(&config.compare, SERVE, &measured));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Main

/// Starts `llmkp serve` `BENCH_STARTS` times for the median start-to-listening time; the last
/// one keeps running for the `llmkp serve` rows.
fn start_serve(config: &Config, mock: SocketAddr) -> Result<(serve::ServeProcess, Option<Duration>), String> {
    let binary = env!("CARGO_BIN_EXE_llmkp");
    let mut times = Vec::new();
    for _ in 1..config.starts {
        let mut process = serve::ServeProcess::start(binary, mock, PROXY_KEY, &config.serve_log_level)?;
        times.push(process.start_to_listening);
        process.stop();
    }
    let process = serve::ServeProcess::start(binary, mock, PROXY_KEY, &config.serve_log_level)?;
    times.push(process.start_to_listening);
    times.sort_unstable();
    Ok((process, load::percentile(&times, 50.0)))
}

/// Starts one `llmkp serve` of each other build (`BENCH_COMPARE`), in the order given, and waits
/// 1 s for their idle RSS. A build that cannot start ends the run: the comparison was asked for.
fn start_compared(config: &Config, mock: SocketAddr) -> Vec<serve::ServeProcess> {
    let mut started = Vec::new();
    for build in &config.compare {
        match serve::ServeProcess::start(&build.binary, mock, PROXY_KEY, &config.serve_log_level) {
            Ok(process) => {
                eprintln!("llmkp serve ({}): pid {}", build.label, process.pid);
                started.push(process);
            }
            Err(why) => {
                eprintln!("proxy bench: BENCH_COMPARE {}: {why}", build.label);
                std::process::exit(1);
            }
        }
    }
    if !started.is_empty() {
        std::thread::sleep(Duration::from_secs(1));
    }
    started
}

fn main() {
    let config = match Config::from_env() {
        Ok(config) => Arc::new(config),
        Err(message) => {
            eprintln!("proxy bench: {message}");
            std::process::exit(2);
        }
    };
    // 1,000 slow streams hold about three descriptors each in this process.
    let _ = llmkp::server::fd_limit::raise_soft_limit();

    // Mock upstream and the in-process llmkp instances share one runtime; the load generator has
    // its own, so client work is not scheduled on the server's worker threads.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server_threads)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let state_dir = tempfile::tempdir().expect("temp dir for the SQLite store");
    let mut redis = redis::BenchRedis::find();
    let (release, release_rx) = watch::channel(false);
    let mut skipped = Vec::new();
    let keys: Vec<(String, String)> =
        (1..=config.keys.max(1)).map(|i| (format!("OPENAI_API_KEY_{i}"), format!("{KEY_PREFIX}{i}"))).collect();
    let (mock, llmkp, passthrough, sqlite, shared, many) = servers
        .block_on(async {
            let mock = mock::start(config.stream_chunks, release_rx).await?;
            let llmkp = start_llmkp(mock, &[], None).await?;
            let passthrough = start_llmkp(mock, &pairs(&[("UPSTREAM_STREAM_FOR_NON_STREAM", "false")]), None).await?;
            let limited = pairs(&[("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "100000")]);
            let store = SqliteStore::open(&state_dir.path().join("state.db")).map_err(std::io::Error::other)?;
            let sqlite = start_llmkp(mock, &limited, Some(Arc::new(store))).await?;
            let shared = match redis.as_ref().map(redis::BenchRedis::url) {
                Some(url) => {
                    let settings = RedisSettings {
                        url,
                        prefix: format!("llmkp-bench:{}", std::process::id()),
                        lease_ttl: Duration::from_secs(30),
                        flush_interval: Duration::from_millis(500),
                    };
                    let store = RedisStore::open(settings).await.map_err(std::io::Error::other)?;
                    if !store.health().is_ok() {
                        return Err(std::io::Error::other("the bench Redis does not answer"));
                    }
                    Some(start_llmkp(mock, &limited, Some(Arc::new(store))).await?)
                }
                None => None,
            };
            let many = if config.keys > 1 { Some(start_llmkp(mock, &keys, None).await?) } else { None };
            Ok::<_, std::io::Error>((mock, llmkp, passthrough, sqlite, shared, many))
        })
        .expect("start servers");
    if shared.is_none() {
        skipped.push(format!("`{REDIS}`: skipped (no redis-server on PATH and no BENCH_REDIS_URL)."));
    }

    let nginx = match nginx::BenchNginx::start(mock, &config.nginx_workers) {
        Ok(nginx) => Some(nginx),
        Err(why) => {
            skipped.push(format!("`{NGINX}`: skipped ({why})."));
            None
        }
    };
    eprintln!("starting llmkp serve {} time(s) ...", config.starts.max(1));
    let (mut serve, start, idle_rss) = match start_serve(&config, mock) {
        Ok((process, start)) => {
            eprintln!("llmkp serve: pid {}", process.pid);
            std::thread::sleep(Duration::from_secs(1));
            let idle_rss = rss(process.pid);
            (Some(process), start, idle_rss)
        }
        Err(why) => {
            skipped.push(format!("`{SERVE}`: skipped ({why})."));
            (None, None, None)
        }
    };
    let compared = start_compared(&config, mock);
    let compare_idle_rss =
        config.compare.iter().zip(&compared).map(|(build, process)| (build.chat_path(), rss(process.pid))).collect();
    let startup = Startup { start, idle_rss, compare_idle_rss, skipped };

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("client runtime");
    let expect: Arc<str> = mock::reply_text(config.stream_chunks).into();
    let started = Instant::now();
    let (report, found) = client.block_on(async {
        let chat = |name: &str, addr: SocketAddr, key: &str, model: &str| {
            Arc::new(Path::new(name, addr, Family::Chat, key, model, expect.clone()))
        };
        // An Anthropic Messages client on an llmkp whose upstream is the OpenAI mock.
        let messages = |name: &str, addr: SocketAddr| {
            Arc::new(Path::new(name, addr, Family::Messages, PROXY_KEY, "openai/gpt-4o", expect.clone()))
        };
        let mut all = vec![chat(DIRECT, mock, UPSTREAM_KEY, "gpt-4o")];
        all.extend(nginx.as_ref().map(|n| chat(NGINX, n.addr, UPSTREAM_KEY, "gpt-4o")));
        all.push(chat(DEFAULT, llmkp, PROXY_KEY, "openai/gpt-4o"));
        all.push(chat(PASSTHROUGH, passthrough, PROXY_KEY, "openai/gpt-4o"));
        all.extend(serve.as_ref().map(|s| chat(SERVE, s.addr, PROXY_KEY, "openai/gpt-4o")));
        all.push(messages(TRANSLATED, llmkp));
        if !config.compare.is_empty() {
            all.extend(serve.as_ref().map(|s| messages(THIS_TRANSLATED, s.addr)));
        }
        for (build, process) in config.compare.iter().zip(&compared) {
            all.push(chat(&build.chat_path(), process.addr, PROXY_KEY, "openai/gpt-4o"));
            all.push(messages(&build.translated_path(), process.addr));
        }
        all.extend(many.map(|addr| chat(&config.keys_name(), addr, PROXY_KEY, "openai/gpt-4o")));
        all.push(chat(SQLITE, sqlite, PROXY_KEY, "openai/gpt-4o"));
        all.extend(shared.map(|addr| chat(REDIS, addr, PROXY_KEY, "openai/gpt-4o")));
        all.retain(|path| config.wants(&path.name));
        // Client streams go upstream as streams whatever UPSTREAM_STREAM_FOR_NON_STREAM says, so
        // the passthrough instance would measure the same as the default one.
        let mut streamed: Vec<String> =
            [DIRECT, NGINX, DEFAULT, SERVE, TRANSLATED, THIS_TRANSLATED].iter().map(|s| s.to_string()).collect();
        streamed.extend(config.compare.iter().flat_map(|b| [b.chat_path(), b.translated_path()]));
        let stream = all.iter().filter(|p| streamed.contains(&p.name)).cloned().collect();
        let serve = serve.as_ref().filter(|_| config.wants(SERVE)).map(|s| ServeTarget {
            pid: s.pid,
            slow: Arc::new(
                Path::new(SERVE, s.addr, Family::Chat, PROXY_KEY, "openai/gpt-4o", expect.clone())
                    .with_model(&format!("openai/{}", mock::SLOW_MODEL))
                    .without_timeout(),
            ),
            release,
        });
        let targets = Targets { all, stream, serve };
        // Run on a worker thread of the client runtime rather than on this (blocking) thread.
        tokio::spawn(bench(config.clone(), targets)).await.expect("benchmark task panicked")
    });

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("## llmkp proxy benchmark\n");
    println!(
        "llmkp {} vs a fixed-reply mock on loopback; {cpus} CPU(s); runtimes: server {} worker(s) (mock + in-process \
         llmkp), load generator {} worker(s); nginx workers: {}; `llmkp serve` at LOG_LEVEL={}; {} warm-up requests \
         per path; total {:.1} s.\n",
        env!("CARGO_PKG_VERSION"),
        config.server_threads,
        config.client_threads,
        config.nginx_workers,
        config.serve_log_level,
        config.warmup,
        started.elapsed().as_secs_f64(),
    );
    print!("{}", summary(&config, &found, &startup));
    println!("### Details\n");
    print!("{report}");
    println!(
        "`{DEFAULT}` streams upstream and aggregates (UPSTREAM_STREAM_FOR_NON_STREAM=true); `{PASSTHROUGH}` \
         has UPSTREAM_STREAM_FOR_NON_STREAM=false; `{SERVE}` is the real binary with its defaults (SQLite state \
         store included) in its own process; `{TRANSLATED}` is an Anthropic Messages client on the default instance \
         (an OpenAI upstream); `{}` has that many keys in one provider. `+ sqlite store` / `+ redis store`: the \
         default path with a concurrency limit and the SQLite store `serve` uses / the shared Redis store (one \
         lease round trip to take a slot, one to free it). `added` = proxy percentile minus direct percentile. \
         `*` = stopped by BENCH_MAX_SECS.",
        config.keys_name()
    );
    if let Some(serve) = serve.as_mut() {
        serve.stop();
    }
    drop(compared);
    drop(nginx);
    if let Some(redis) = redis.as_mut() {
        redis.stop();
    }
    servers.shutdown_timeout(Duration::from_millis(200));
    client.shutdown_timeout(Duration::from_millis(200));
}
