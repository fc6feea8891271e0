//! Proxy overhead benchmark: a fixed-reply OpenAI mock on loopback, called directly and through
//! in-process llmkp instances. Prints Markdown tables (throughput, latency, streaming TTFB).
//!
//! Run with `cargo bench --bench proxy`; knobs are `BENCH_*` environment variables, see
//! `benches/README.md`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use bytes::Bytes;
use serde_json::{Value, json};

/// The same allocator as the `llmkp` binary, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use llmkp::config::{Env, Settings};
use llmkp::engine::{Engine, EngineConfig};
use llmkp::server::{AppState, ProxyAuth};
use llmkp::store::StateStore;
use llmkp::store::redis::{RedisSettings, RedisStore};
use llmkp::store::sqlite::SqliteStore;

const UPSTREAM_KEY: &str = "bench-key-0001";
const PROXY_KEY: &str = "bench-proxy-key";
/// Any single request that takes longer than this is an error, not a data point.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
    requests: usize,
    concurrency: usize,
    max_secs: f64,
    latency_requests: usize,
    warmup: usize,
    stream_requests: usize,
    stream_chunks: usize,
    server_threads: usize,
    client_threads: usize,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let config = Self {
            requests: env_usize("BENCH_REQUESTS", 20_000)?,
            concurrency: env_usize("BENCH_CONCURRENCY", 32)?,
            max_secs: env_f64("BENCH_MAX_SECS", 30.0)?,
            latency_requests: env_usize("BENCH_LATENCY_REQUESTS", 2_000)?,
            warmup: env_usize("BENCH_WARMUP", 200)?,
            stream_requests: env_usize("BENCH_STREAM_REQUESTS", 1_000)?,
            stream_chunks: env_usize("BENCH_STREAM_CHUNKS", 10)?,
            server_threads: env_usize("BENCH_SERVER_THREADS", cpus)?,
            client_threads: env_usize("BENCH_CLIENT_THREADS", 1)?,
        };
        for (name, value) in [
            ("BENCH_CONCURRENCY", config.concurrency),
            ("BENCH_STREAM_CHUNKS", config.stream_chunks),
            ("BENCH_SERVER_THREADS", config.server_threads),
            ("BENCH_CLIENT_THREADS", config.client_threads),
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
// Mock upstream: OpenAI Chat Completions with a fixed reply and no delay

struct Mock {
    auth: HeaderValue,
    completion: Bytes,
    frames: Vec<Bytes>,
    frames_with_usage: Vec<Bytes>,
}

/// The reply text: `chunks` pieces, one per streamed content chunk.
fn reply_pieces(chunks: usize) -> Vec<String> {
    (0..chunks).map(|i| if i == 0 { "Hello".to_string() } else { format!(" from bench token {i}") }).collect()
}

fn reply_text(chunks: usize) -> String {
    reply_pieces(chunks).concat()
}

impl Mock {
    fn new(chunks: usize) -> Self {
        let pieces = reply_pieces(chunks);
        let text = pieces.concat();
        let usage = json!({"prompt_tokens": 8, "completion_tokens": chunks, "total_tokens": 8 + chunks});
        let completion = json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage,
            "system_fingerprint": "fp_bench"
        });
        let chunk = |choices: Value| {
            json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "gpt-4o",
                "system_fingerprint": "fp_bench",
                "choices": choices
            })
        };
        let frame = |value: &Value| Bytes::from(format!("data: {value}\n\n"));
        let mut frames: Vec<Bytes> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let delta =
                    if i == 0 { json!({"role": "assistant", "content": piece}) } else { json!({"content": piece}) };
                frame(&chunk(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}])))
            })
            .collect();
        frames.push(frame(&chunk(json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]))));
        let mut frames_with_usage = frames.clone();
        let mut usage_chunk = chunk(json!([]));
        usage_chunk["usage"] = usage;
        frames_with_usage.push(frame(&usage_chunk));
        let done = Bytes::from_static(b"data: [DONE]\n\n");
        frames.push(done.clone());
        frames_with_usage.push(done);
        Self {
            auth: HeaderValue::from_str(&format!("Bearer {UPSTREAM_KEY}")).expect("valid header"),
            completion: Bytes::from(completion.to_string()),
            frames,
            frames_with_usage,
        }
    }
}

fn mock_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn mock_chat(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get(header::AUTHORIZATION) != Some(&mock.auth) {
        return mock_error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return mock_error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    if !request.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return ([(header::CONTENT_TYPE, "application/json")], mock.completion.clone()).into_response();
    }
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let frames = if include_usage { mock.frames_with_usage.clone() } else { mock.frames.clone() };
    let body = Body::from_stream(futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>)));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn start_mock(chunks: usize) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/v1/chat/completions", post(mock_chat)).with_state(Arc::new(Mock::new(chunks)));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("mock upstream stopped: {err}");
        }
    });
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// llmkp in-process, built the way `llmkp serve` builds it

async fn start_llmkp(
    mock: SocketAddr,
    extra: &[(&str, &str)],
    store: Option<Arc<dyn StateStore>>,
) -> std::io::Result<SocketAddr> {
    let mut pairs = vec![
        ("OPENAI_API_BASE".to_string(), format!("http://{mock}/v1")),
        ("OPENAI_API_KEY".to_string(), UPSTREAM_KEY.to_string()),
        ("PROXY_API_KEY".to_string(), PROXY_KEY.to_string()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
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

// ---------------------------------------------------------------------------------------------
// Load generator

/// One measured path: its own pooled client, URL, key and request bodies.
struct Path {
    name: &'static str,
    client: reqwest::Client,
    url: String,
    auth: HeaderValue,
    body: Bytes,
    stream_body: Bytes,
    /// The reply text a successful non-stream answer must contain.
    expect: Arc<str>,
}

impl Path {
    fn new(name: &'static str, addr: SocketAddr, key: &str, model: &str, expect: Arc<str>) -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .expect("load-generator client");
        let messages = json!([{"role": "user", "content": "hi"}]);
        Self {
            name,
            client,
            url: format!("http://{addr}/v1/chat/completions"),
            auth: HeaderValue::from_str(&format!("Bearer {key}")).expect("valid header"),
            body: Bytes::from(json!({"model": model, "messages": messages}).to_string()),
            stream_body: Bytes::from(json!({"model": model, "messages": messages, "stream": true}).to_string()),
            expect,
        }
    }

    fn post(&self, body: &Bytes) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    }

    /// One non-stream completion, read to the end and checked for the reply text.
    async fn call(&self) -> Result<(), String> {
        let response = self.post(&self.body).send().await.map_err(|e| format!("send: {e}"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("body: {e}"))?;
        if status != StatusCode::OK {
            return Err(format!("status {status}: {}", String::from_utf8_lossy(&body)));
        }
        if !contains(&body, self.expect.as_bytes()) {
            return Err(format!("reply text missing: {}", String::from_utf8_lossy(&body)));
        }
        Ok(())
    }

    /// One streamed completion: (time to first body byte, time to the end of the stream).
    async fn call_stream(&self) -> Result<(Duration, Duration), String> {
        let start = Instant::now();
        let mut response = self.post(&self.stream_body).send().await.map_err(|e| format!("send: {e}"))?;
        let status = response.status();
        let mut first = None;
        let mut body = Vec::with_capacity(4096);
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("body: {e}"))? {
            if first.is_none() && !chunk.is_empty() {
                first = Some(start.elapsed());
            }
            body.extend_from_slice(&chunk);
        }
        let total = start.elapsed();
        if status != StatusCode::OK {
            return Err(format!("status {status}: {}", String::from_utf8_lossy(&body)));
        }
        if !body.ends_with(b"data: [DONE]\n\n") {
            return Err(format!("stream did not end with [DONE]: {}", String::from_utf8_lossy(&body)));
        }
        Ok((first.unwrap_or(total), total))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Outcome of one measured run.
#[derive(Default)]
struct Run {
    /// Latencies of successful requests (for streams: TTFB), unsorted until `finish`.
    samples: Vec<Duration>,
    /// Streams only: time to the end of the stream.
    totals: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    /// Stopped by BENCH_MAX_SECS before all requests were made.
    cut: bool,
}

impl Run {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    fn merge(&mut self, other: Run) {
        self.samples.extend(other.samples);
        self.totals.extend(other.totals);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.cut |= other.cut;
    }

    fn finish(mut self, name: &str) -> Self {
        self.samples.sort_unstable();
        self.totals.sort_unstable();
        if let Some(error) = &self.first_error {
            let error: String = error.chars().take(300).collect();
            eprintln!("  {name}: {} error(s); first: {error}", self.errors);
        }
        self
    }

    fn pct(&self, p: f64) -> Option<Duration> {
        percentile(&self.samples, p)
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `total` non-stream requests from `concurrency` workers sharing the path's client, stopping
/// at `max` wall time (requests in flight then are dropped, not counted).
async fn load(path: Arc<Path>, total: usize, concurrency: usize, max: Duration) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + max);
    let workers: Vec<_> = (0..concurrency.min(total))
        .map(|_| {
            let path = path.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut run = Run { samples: Vec::with_capacity(total / concurrency + 1), ..Run::default() };
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let sent = Instant::now();
                    match tokio::time::timeout_at(deadline, path.call()).await {
                        Err(_) => {
                            run.cut = true;
                            break;
                        }
                        Ok(Ok(())) => run.samples.push(sent.elapsed()),
                        Ok(Err(message)) => run.error(message),
                    }
                }
                run
            })
        })
        .collect();
    let mut run = Run::default();
    for worker in workers {
        run.merge(worker.await.expect("load worker panicked"));
    }
    run.elapsed = start.elapsed();
    run.cut |= next.load(Ordering::Relaxed) < total;
    run
}

/// `warmup + n` rounds at concurrency 1; each round calls every path once, the starting path
/// rotating so no path always follows the same one. Returns one run per path.
async fn sequential(paths: &[Arc<Path>], n: usize, warmup: usize, stream: bool, max: Duration) -> Vec<Run> {
    let mut runs: Vec<Run> = paths.iter().map(|_| Run::default()).collect();
    let start = Instant::now();
    for round in 0..warmup + n {
        if round >= warmup && start.elapsed() >= max {
            runs.iter_mut().for_each(|run| run.cut = true);
            break;
        }
        for offset in 0..paths.len() {
            let k = (round + offset) % paths.len();
            let (path, run) = (&paths[k], &mut runs[k]);
            let sent = Instant::now();
            let result = if stream {
                path.call_stream().await.map(|(ttfb, total)| (ttfb, Some(total)))
            } else {
                path.call().await.map(|()| (sent.elapsed(), None))
            };
            if round < warmup {
                continue;
            }
            match result {
                Ok((sample, total)) => {
                    run.samples.push(sample);
                    run.totals.extend(total);
                }
                Err(message) => run.error(message),
            }
        }
    }
    let elapsed = start.elapsed();
    runs.iter_mut().for_each(|run| run.elapsed = elapsed);
    runs
}

// ---------------------------------------------------------------------------------------------
// Output

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Self { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Markdown with padded columns; the first column is left-aligned, the others right-aligned.
    fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                let cells = std::iter::once(&self.header[c]).chain(self.rows.iter().map(|r| &r[c]));
                cells.map(|s| s.chars().count()).max().unwrap_or(0).max(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| if c == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, &w)| if c == 0 { "-".repeat(w) } else { format!("{}:", "-".repeat(w - 1)) })
            .collect();
        let mut out = line(&self.header);
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

fn us(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), |d| d.as_micros().to_string())
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn added(proxy: Option<Duration>, direct: Option<Duration>) -> String {
    match (proxy, direct) {
        (Some(p), Some(d)) => format!("{:+}", p.as_micros() as i128 - d.as_micros() as i128),
        _ => "—".to_string(),
    }
}

/// `added p50` and `added p99` cells: proxy minus direct, or dashes on the direct row (index 0).
fn added_p50_p99(row: usize, run: &Run, direct: &Run) -> (String, String) {
    if row == 0 {
        return ("—".to_string(), "—".to_string());
    }
    (added(run.pct(50.0), direct.pct(50.0)), added(run.pct(99.0), direct.pct(99.0)))
}

fn count(run: &Run) -> String {
    let n = run.samples.len();
    if run.cut { format!("{n}*") } else { n.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Main

struct Targets {
    direct: Arc<Path>,
    llmkp: Arc<Path>,
    passthrough: Arc<Path>,
    /// The state-store rows: SQLite (the default of `serve`) and Redis (when a server exists),
    /// both with a concurrency limit so every request takes and frees a lease.
    stores: Vec<Arc<Path>>,
}

async fn bench(config: Arc<Config>, targets: Targets) -> String {
    let mut out = String::new();
    let max = config.max_duration();
    let mut all = vec![targets.direct.clone(), targets.llmkp.clone(), targets.passthrough.clone()];
    all.extend(targets.stores.iter().cloned());

    // Every path must answer before anything is measured.
    for path in &all {
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
        let c = config.concurrency;
        out.push_str(&format!(
            "### Throughput: non-stream, concurrency {c}, {} requests per path\n\n",
            config.requests
        ));
        let mut table = Table::new(&["path", "ok", "errors", "wall s", "req/s", "vs direct", "p50 ms", "p99 ms"]);
        let mut direct_rps = None;
        for path in &all {
            eprintln!("throughput: {} ...", path.name);
            if config.warmup > 0 {
                load(path.clone(), config.warmup.max(c), c, max).await;
            }
            let run = load(path.clone(), config.requests, c, max).await.finish(path.name);
            let rps = run.samples.len() as f64 / run.elapsed.as_secs_f64();
            let relative = match direct_rps {
                None => {
                    direct_rps = Some(rps);
                    "100%".to_string()
                }
                Some(base) => format!("{:.0}%", 100.0 * rps / base),
            };
            table.row(vec![
                path.name.to_string(),
                count(&run),
                run.errors.to_string(),
                format!("{:.2}", run.elapsed.as_secs_f64()),
                format!("{rps:.0}"),
                relative,
                ms(run.pct(50.0)),
                ms(run.pct(99.0)),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }

    if config.latency_requests > 0 {
        eprintln!("latency: {} sequential requests per path ...", config.latency_requests);
        out.push_str(&format!(
            "### Latency: non-stream, concurrency 1, {} requests per path (µs)\n\n",
            config.latency_requests
        ));
        let runs = sequential(&all, config.latency_requests, config.warmup, false, max).await;
        let runs: Vec<Run> = runs.into_iter().zip(&all).map(|(run, path)| run.finish(path.name)).collect();
        let mut table = Table::new(&["path", "n", "errors", "p50", "p90", "p99", "added p50", "added p99"]);
        let direct = &runs[0];
        for (i, (run, path)) in runs.iter().zip(&all).enumerate() {
            let (add50, add99) = added_p50_p99(i, run, direct);
            table.row(vec![
                path.name.to_string(),
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
    }

    if config.stream_requests > 0 {
        eprintln!("streaming: {} sequential streams per path ...", config.stream_requests);
        out.push_str(&format!(
            "### Streaming: time to first byte, concurrency 1, {} streams of {} chunks per path (µs)\n\n",
            config.stream_requests, config.stream_chunks
        ));
        // Stream requests are streamed upstream whatever UPSTREAM_STREAM_FOR_NON_STREAM says,
        // so one llmkp instance covers them.
        let paths = [targets.direct.clone(), targets.llmkp.clone()];
        let runs = sequential(&paths, config.stream_requests, config.warmup, true, max).await;
        let runs: Vec<Run> = runs.into_iter().zip(&paths).map(|(run, path)| run.finish(path.name)).collect();
        let mut table =
            Table::new(&["path", "n", "errors", "ttfb p50", "ttfb p99", "added p50", "added p99", "full p50"]);
        let direct = &runs[0];
        for (i, (run, path)) in runs.iter().zip(&paths).enumerate() {
            let (add50, add99) = added_p50_p99(i, run, direct);
            table.row(vec![
                path.name.to_string(),
                count(run),
                run.errors.to_string(),
                us(run.pct(50.0)),
                us(run.pct(99.0)),
                add50,
                add99,
                us(percentile(&run.totals, 50.0)),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    out
}

fn main() {
    let config = match Config::from_env() {
        Ok(config) => Arc::new(config),
        Err(message) => {
            eprintln!("proxy bench: {message}");
            std::process::exit(2);
        }
    };

    // Mock upstream and both llmkp instances share one runtime; the load generator has its own,
    // so client work is not scheduled on the server's worker threads.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server_threads)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let state_dir = tempfile::tempdir().expect("temp dir for the SQLite store");
    let mut redis = BenchRedis::find();
    let (mock, llmkp, passthrough, sqlite, shared) = servers
        .block_on(async {
            let mock = start_mock(config.stream_chunks).await?;
            let llmkp = start_llmkp(mock, &[], None).await?;
            let passthrough = start_llmkp(mock, &[("UPSTREAM_STREAM_FOR_NON_STREAM", "false")], None).await?;
            let limited = [("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "100000")];
            let store = SqliteStore::open(&state_dir.path().join("state.db")).map_err(std::io::Error::other)?;
            let sqlite = start_llmkp(mock, &limited, Some(Arc::new(store))).await?;
            let shared = match redis.as_ref().map(BenchRedis::url) {
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
            Ok::<_, std::io::Error>((mock, llmkp, passthrough, sqlite, shared))
        })
        .expect("start servers");

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("client runtime");
    let expect: Arc<str> = reply_text(config.stream_chunks).into();
    let started = Instant::now();
    let report = client.block_on(async {
        let targets = Targets {
            direct: Arc::new(Path::new("direct (mock)", mock, UPSTREAM_KEY, "gpt-4o", expect.clone())),
            llmkp: Arc::new(Path::new("llmkp default", llmkp, PROXY_KEY, "openai/gpt-4o", expect.clone())),
            passthrough: Arc::new(Path::new(
                "llmkp passthrough",
                passthrough,
                PROXY_KEY,
                "openai/gpt-4o",
                expect.clone(),
            )),
            stores: [("llmkp + sqlite store", Some(sqlite)), ("llmkp + redis store", shared)]
                .into_iter()
                .filter_map(|(name, addr)| {
                    addr.map(|a| Arc::new(Path::new(name, a, PROXY_KEY, "openai/gpt-4o", expect.clone())))
                })
                .collect(),
        };
        // Run on a worker thread of the client runtime rather than on this (blocking) thread.
        tokio::spawn(bench(config.clone(), targets)).await.expect("benchmark task panicked")
    });

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("## llmkp proxy benchmark\n");
    println!(
        "llmkp {} vs a fixed-reply mock on loopback; {cpus} CPU(s); runtimes: server {} worker(s) (mock + llmkp), \
         load generator {} worker(s); {} warm-up requests per path; total {:.1} s.\n",
        env!("CARGO_PKG_VERSION"),
        config.server_threads,
        config.client_threads,
        config.warmup,
        started.elapsed().as_secs_f64(),
    );
    print!("{report}");
    if shared.is_none() {
        println!("`llmkp + redis store`: skipped (no redis-server on PATH and no BENCH_REDIS_URL).\n");
    }
    println!(
        "`llmkp default` streams upstream and aggregates (UPSTREAM_STREAM_FOR_NON_STREAM=true); `llmkp passthrough` \
         has UPSTREAM_STREAM_FOR_NON_STREAM=false. `+ sqlite store` / `+ redis store`: the default path with a \
         concurrency limit and the SQLite store `serve` uses / the shared Redis store (one lease round trip to \
         take a slot, one to free it). `added` = proxy percentile minus direct percentile. \
         `*` = stopped by BENCH_MAX_SECS."
    );
    if let Some(redis) = redis.as_mut() {
        redis.stop();
    }
    servers.shutdown_timeout(Duration::from_millis(200));
    client.shutdown_timeout(Duration::from_millis(200));
}

/// The Redis of the `+ redis store` row: `BENCH_REDIS_URL`, else a `redis-server` started on a
/// free loopback port (and stopped at the end), else none.
struct BenchRedis {
    url: String,
    child: Option<std::process::Child>,
}

impl BenchRedis {
    fn find() -> Option<Self> {
        if let Ok(url) = std::env::var("BENCH_REDIS_URL") {
            return Some(Self { url, child: None });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        // Give it a moment to listen.
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Self { url: format!("redis://127.0.0.1:{port}"), child: Some(child) });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
