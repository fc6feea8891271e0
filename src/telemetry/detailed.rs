//! What one request's detailed log holds, collected while it is served: the server's outermost
//! layer opens a record when request logging is on, the body reader adds the client's body, the
//! engine adds each upstream attempt, and the response body adds the stream chunks or the final
//! answer. Every value is scrubbed ([`Scrub`]) before it is queued for writing.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

tokio::task_local! {
    static CURRENT: RefCell<Option<Record>>;
}

/// Header names whose values are never written.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "x-llmkp-credential",
];
/// Query parameters of signed or keyed URLs.
const SECRET_PARAMS: &[&str] =
    &["key", "sig", "signature", "x-goog-signature", "token", "access_token", "x-amz-signature"];
pub const REDACTED: &str = "[REDACTED]";

/// Removes secrets from text before it is written (the engine's redactor).
pub trait Scrub: Send + Sync {
    fn scrub(&self, text: &str) -> String;
}

/// One upstream attempt as logged.
#[derive(Debug, Clone, Default)]
pub struct AttemptLog {
    pub provider: String,
    pub model: String,
    pub credential: String,
    pub request_body: String,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub took: Duration,
}

/// One request's detailed log.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub started: SystemTime,
    pub method: String,
    pub path: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub attempts: Vec<AttemptLog>,
    pub status: u16,
    pub streaming: bool,
    pub chunks: Vec<String>,
    pub final_response: Vec<u8>,
    pub took: Duration,
    pub served: Option<String>,
}

impl Record {
    pub fn new(id: &str, method: &str, path: &str, headers: &http::HeaderMap) -> Self {
        Self {
            id: id.to_string(),
            started: SystemTime::now(),
            method: method.to_string(),
            path: path.to_string(),
            request_headers: headers_of(headers),
            request_body: None,
            attempts: Vec::new(),
            status: 0,
            streaming: false,
            chunks: Vec::new(),
            final_response: Vec::new(),
            took: Duration::ZERO,
            served: None,
        }
    }

    /// The files of the record, scrubbed: (file name, contents).
    pub fn files(&self, scrub: &dyn Scrub) -> Vec<(String, String)> {
        let text = |s: &str| parse_or_text(&scrub.scrub(s));
        let headers = |h: &[(String, String)]| {
            Value::Object(h.iter().map(|(k, v)| (k.clone(), Value::String(scrub.scrub(v)))).collect::<Map<_, _>>())
        };
        let mut files = vec![(
            "request.json".to_string(),
            json!({
                "method": self.method,
                "path": scrub_url(&scrub.scrub(&self.path)),
                "headers": headers(&self.request_headers),
                "body": self.request_body.as_deref().map(text),
            }),
        )];
        for (i, a) in self.attempts.iter().enumerate() {
            let n = i + 1;
            files.push((
                format!("attempt_{n}_upstream_request.json"),
                json!({"provider": a.provider, "model": a.model, "credential": a.credential, "body": text(&a.request_body)}),
            ));
            files.push((
                format!("attempt_{n}_upstream_response.json"),
                json!({
                    "status": a.status,
                    "headers": headers(&a.response_headers),
                    "body": a.response_body.as_deref().map(text),
                    "ms": a.took.as_millis() as u64,
                }),
            ));
        }
        if !self.streaming {
            files.push(("final_response.json".into(), text(&String::from_utf8_lossy(&self.final_response))));
        }
        files.push((
            "metadata.json".to_string(),
            json!({
                "request_id": self.id,
                "started_unix_ms": self.started.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
                "duration_ms": self.took.as_millis() as u64,
                "status": self.status,
                "streaming": self.streaming,
                "served": self.served,
                "attempts": self.attempts.iter().map(|a| json!({
                    "provider": a.provider, "model": a.model, "credential": a.credential,
                    "status": a.status, "ms": a.took.as_millis() as u64,
                })).collect::<Vec<_>>(),
                "stream_chunks": self.chunks.len(),
            }),
        ));
        let mut out: Vec<(String, String)> = files
            .into_iter()
            .map(|(name, value)| (name, serde_json::to_string_pretty(&value).unwrap_or_default()))
            .collect();
        if self.streaming {
            let lines: Vec<String> = self
                .chunks
                .iter()
                .map(|c| serde_json::to_string(&json!({"chunk": text(c)})).unwrap_or_default())
                .collect();
            out.push(("streaming_chunks.jsonl".into(), lines.join("\n") + "\n"));
        }
        out
    }
}

fn parse_or_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Header pairs with secret values replaced.
pub fn headers_of(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                REDACTED.to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// A path or URL with the values of keyed and signed query parameters replaced.
pub fn scrub_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_string() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => format!("{k}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// Runs `future` collecting into `record` (when logging is on); returns the output and the record.
pub async fn collecting<F: Future>(record: Option<Record>, future: F) -> (F::Output, Option<Record>) {
    CURRENT
        .scope(RefCell::new(record), async move {
            let output = future.await;
            (output, CURRENT.with(|r| r.borrow_mut().take()))
        })
        .await
}

fn with(f: impl FnOnce(&mut Record)) {
    let _ = CURRENT.try_with(|r| {
        if let Some(record) = r.borrow_mut().as_mut() {
            f(record);
        }
    });
}

/// Whether the current request is being logged (callers skip copying otherwise).
pub fn active() -> bool {
    CURRENT.try_with(|r| r.borrow().is_some()).unwrap_or(false)
}

/// The client's request body.
pub fn request_body(body: &[u8]) {
    with(|r| r.request_body = Some(String::from_utf8_lossy(body).into_owned()));
}

/// An upstream attempt begins.
pub fn attempt_started(provider: &str, model: &str, credential: &str, body: &[u8]) {
    with(|r| {
        r.attempts.push(AttemptLog {
            provider: provider.to_string(),
            model: model.to_string(),
            credential: credential.to_string(),
            request_body: String::from_utf8_lossy(body).into_owned(),
            ..AttemptLog::default()
        });
    });
}

/// The current attempt's response head (and error body, when it failed).
pub fn attempt_answered(status: u16, headers: &http::HeaderMap, body: Option<&[u8]>, took: Duration) {
    with(|r| {
        if let Some(a) = r.attempts.last_mut() {
            a.status = Some(status);
            a.response_headers = headers_of(headers);
            a.response_body = body.map(|b| String::from_utf8_lossy(b).into_owned());
            a.took = took;
        }
    });
}
