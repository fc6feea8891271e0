//! The load generator: measured paths (a URL, a client family and its request bodies), runs of
//! many requests, and the percentiles of their latencies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use bytes::Bytes;
use serde_json::json;

/// Any single request that takes longer than this is an error, not a data point.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The API family a path's client speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// OpenAI Chat Completions (`/v1/chat/completions`): a stream ends with `data: [DONE]`.
    Chat,
    /// Anthropic Messages (`/v1/messages`): a stream ends with `message_stop`.
    Messages,
}

/// One measured path: its own pooled client, URL, key and request bodies.
pub struct Path {
    pub name: String,
    client: reqwest::Client,
    url: String,
    family: Family,
    /// The key header: `authorization: Bearer …` (Chat) or `x-api-key` (Messages).
    auth: (&'static str, HeaderValue),
    body: Bytes,
    stream_body: Bytes,
    /// The reply text a successful non-stream answer must contain.
    expect: Arc<str>,
}

impl Path {
    pub fn new(name: &str, addr: SocketAddr, family: Family, key: &str, model: &str, expect: Arc<str>) -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .expect("load-generator client");
        let messages = json!([{"role": "user", "content": "hi"}]);
        let (route, body, stream_body) = match family {
            Family::Chat => (
                "/v1/chat/completions",
                json!({"model": model, "messages": messages}),
                json!({"model": model, "messages": messages, "stream": true}),
            ),
            Family::Messages => (
                "/v1/messages",
                json!({"model": model, "max_tokens": 256, "messages": messages}),
                json!({"model": model, "max_tokens": 256, "messages": messages, "stream": true}),
            ),
        };
        Self {
            name: name.to_string(),
            client,
            url: format!("http://{addr}{route}"),
            family,
            auth: match family {
                Family::Chat => ("authorization", HeaderValue::from_str(&format!("Bearer {key}")).expect("header")),
                Family::Messages => ("x-api-key", HeaderValue::from_str(key).expect("header")),
            },
            body: Bytes::from(body.to_string()),
            stream_body: Bytes::from(stream_body.to_string()),
            expect,
        }
    }

    /// The same path with another request model (the slow streams).
    pub fn with_model(mut self, model: &str) -> Self {
        let other = Path::new(&self.name, "127.0.0.1:1".parse().unwrap(), self.family, "k", model, self.expect.clone());
        self.body = other.body;
        self.stream_body = other.stream_body;
        self
    }

    /// A client without the request timeout (streams held open on purpose).
    pub fn without_timeout(mut self) -> Self {
        self.client = reqwest::Client::builder().tcp_nodelay(true).no_proxy().build().expect("client");
        self
    }

    fn post(&self, body: &Bytes) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .header(self.auth.0, self.auth.1.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    }

    /// One non-stream answer, read to the end and checked for the reply text.
    pub async fn call(&self) -> Result<(), String> {
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

    /// One streamed answer: (time to first body byte, time to the end of the stream).
    /// `opened` runs once the first byte is in.
    pub async fn call_stream_with(&self, opened: impl FnOnce()) -> Result<(Duration, Duration), String> {
        let start = Instant::now();
        let mut response = self.post(&self.stream_body).send().await.map_err(|e| format!("send: {e}"))?;
        let status = response.status();
        let mut first = None;
        let mut opened = Some(opened);
        let mut body = Vec::with_capacity(4096);
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("body: {e}"))? {
            if first.is_none() && !chunk.is_empty() {
                first = Some(start.elapsed());
                if let Some(opened) = opened.take() {
                    opened();
                }
            }
            body.extend_from_slice(&chunk);
        }
        let total = start.elapsed();
        if status != StatusCode::OK {
            return Err(format!("status {status}: {}", String::from_utf8_lossy(&body)));
        }
        let complete = match self.family {
            Family::Chat => body.ends_with(b"data: [DONE]\n\n"),
            Family::Messages => contains(&body, b"event: message_stop"),
        };
        if !complete {
            return Err(format!("stream did not end properly: {}", String::from_utf8_lossy(&body)));
        }
        Ok((first.unwrap_or(total), total))
    }

    pub async fn call_stream(&self) -> Result<(Duration, Duration), String> {
        self.call_stream_with(|| {}).await
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Outcome of one measured run.
#[derive(Default)]
pub struct Run {
    /// Latencies of successful requests (for streams: TTFB), unsorted until `finish`.
    pub samples: Vec<Duration>,
    /// Streams only: time to the end of the stream.
    pub totals: Vec<Duration>,
    pub errors: usize,
    first_error: Option<String>,
    pub elapsed: Duration,
    /// Stopped by BENCH_MAX_SECS before all requests were made.
    pub cut: bool,
}

impl Run {
    pub fn error(&mut self, message: String) {
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

    /// Adds another run of the same path (a later round): its requests, errors and wall time.
    pub fn add_round(&mut self, other: Run) {
        self.elapsed += other.elapsed;
        self.merge(other);
    }

    pub fn finish(mut self, name: &str) -> Self {
        self.samples.sort_unstable();
        self.totals.sort_unstable();
        if let Some(error) = &self.first_error {
            let error: String = error.chars().take(300).collect();
            eprintln!("  {name}: {} error(s); first: {error}", self.errors);
        }
        self
    }

    pub fn pct(&self, p: f64) -> Option<Duration> {
        percentile(&self.samples, p)
    }

    pub fn rate(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `total` requests (streams when `stream`) from `concurrency` workers sharing the path's
/// client, stopping at `max` wall time (requests in flight then are dropped, not counted).
pub async fn load(path: Arc<Path>, total: usize, concurrency: usize, max: Duration, stream: bool) -> Run {
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
                    let call = async { if stream { path.call_stream().await.map(|_| ()) } else { path.call().await } };
                    match tokio::time::timeout_at(deadline, call).await {
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
pub async fn sequential(paths: &[Arc<Path>], n: usize, warmup: usize, stream: bool, max: Duration) -> Vec<Run> {
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

/// Opens `n` streams at once and waits (at most `max`) until each has its first byte or
/// failed; returns the streams still running and how many opened. The caller measures, then
/// lets the upstream finish them.
pub async fn open_streams(
    path: Arc<Path>,
    n: usize,
    max: Duration,
) -> (Vec<tokio::task::JoinHandle<Result<(), String>>>, usize, usize) {
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (path, opened, failed) = (path.clone(), opened.clone(), failed.clone());
            tokio::spawn(async move {
                let counted = opened.clone();
                let result = path.call_stream_with(move || _ = counted.fetch_add(1, Ordering::SeqCst)).await;
                if result.is_err() {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                result.map(|_| ())
            })
        })
        .collect();
    let start = Instant::now();
    while opened.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) < n && start.elapsed() < max {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (tasks, opened.load(Ordering::SeqCst), failed.load(Ordering::SeqCst))
}
