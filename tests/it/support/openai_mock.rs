//! In-process mock upstream speaking the OpenAI Chat Completions wire format.
//!
//! Behaviour is selected by the bearer token (error keys such as `rl…`, `err…`; `jsononly…` /
//! `sseonly…` ignore the `stream` flag; `emptyans…` answer nothing)
//! and by the requested model (`tools…`, `shell…`, `slow…`, `reset…`, `hang…`, …); see the
//! functions [`key_behaviour`] and [`chat`] for the full table.

// Not every test uses every helper or field of this support module.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

mod sse;

use super::shell_turn::{shell_answer, shell_call};
use sse::{delayed, sse, sse_response, stream_reset, stream_text, stream_tools};

const DEFAULT_MODELS: &[&str] = &["gpt-4o", "gpt-4o-mini"];
const MODEL_CREATED: u64 = 1_715_367_049;
const SLOW_DELAY: Duration = Duration::from_millis(300);
const SLOW_NON_STREAM_DELAY: Duration = Duration::from_millis(1500);
/// Pause before a `reset…` body errors, so the partial data is flushed first.
const RESET_DELAY: Duration = Duration::from_millis(50);

const NO_KEY_MSG: &str = "You didn't provide an API key. You need to provide your API key in an \
    Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the \
    password field (with blank username) if you're accessing the API from your browser and are \
    prompted for a username and password. You can obtain an API key from \
    https://platform.openai.com/account/api-keys.";
const BAD_JSON_MSG: &str = "We could not parse the JSON body of your request. (HINT: This likely \
    means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
    what was sent was not valid JSON. If you have trouble figuring out how to fix this, please \
    contact us through our help center at help.openai.com.)";
const RATE_LIMIT_MSG: &str = "Rate limit reached for gpt-4o in organization org-mock on requests \
    per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 7s.";
const SERVER_ERROR_MSG: &str = "The server had an error while processing your request. Sorry about that!";
const STREAM_ERROR_MSG: &str = "upstream stream error";

/// One request as received by the mock.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    /// `Null` when the body was empty or not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// The request as the mocks record it (before any check), and its body as JSON if it is.
    pub fn capture(method: &Method, uri: &Uri, headers: &HeaderMap, raw: &[u8]) -> (Self, Option<Value>) {
        let parsed: Option<Value> = serde_json::from_slice(raw).ok();
        let request = Self {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: parsed.clone().unwrap_or(Value::Null),
        };
        (request, parsed)
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The token after `Bearer ` in the `authorization` header (None if absent or empty).
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).filter(|t| !t.is_empty())
    }
}

#[derive(Default)]
struct Shared {
    models: Mutex<Vec<String>>,
    /// When set, `GET /v1/models` answers 500.
    listing_fails: std::sync::atomic::AtomicBool,
    /// Chat requests being handled per key: (now, most ever).
    in_flight: Mutex<std::collections::HashMap<String, (u32, u32)>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// Serves `app` on 127.0.0.1 (a free port) until the returned task is aborted.
pub async fn serve_mock(app: Router, what: &str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind {what}: {e}"));
    let addr = listener.local_addr().expect("mock local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// `n` random letters and digits (ids the mocks mint).
pub fn random_alnum(n: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

/// A mock OpenAI server on 127.0.0.1; dropping it aborts the server task.
pub struct OpenAiMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpenAiMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpenAiMock {
    pub async fn start() -> Self {
        Self::start_with_models(DEFAULT_MODELS).await
    }

    pub async fn start_with_models(models: &[&str]) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.models.lock().unwrap() = models.iter().map(|m| (*m).to_owned()).collect();
        let (addr, task) = serve_mock(Router::new().fallback(handle).with_state(shared.clone()), "mock upstream").await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_models(&self, models: &[&str]) {
        *self.shared.models.lock().unwrap() = models.iter().map(|m| (*m).to_owned()).collect();
    }

    /// Makes `GET /v1/models` fail with a 500 (or work again).
    pub fn fail_model_listing(&self, fail: bool) {
        self.shared.listing_fails.store(fail, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most chat requests of `key` the mock was handling at the same time.
    pub fn max_in_flight(&self, key: &str) -> u32 {
        self.shared.in_flight.lock().unwrap().get(key).map_or(0, |(_, max)| *max)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/chat/completions").collect()
    }

    pub fn keys_used(&self) -> Vec<String> {
        self.chat_requests().iter().filter_map(|r| r.bearer().map(str::to_owned)).collect()
    }
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let started = Instant::now();
    let (req, parsed) = RecordedRequest::capture(&method, &uri, &headers, &raw);
    // Record before any delay so tests can count calls that hang.
    shared.requests.lock().unwrap().push(req.clone());

    let key = req.bearer().map(str::to_owned).filter(|_| req.path == "/v1/chat/completions");
    if let Some(key) = &key {
        let mut in_flight = shared.in_flight.lock().unwrap();
        let entry = in_flight.entry(key.clone()).or_insert((0, 0));
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
    }
    let mut resp = route(&shared, &req, parsed).await;
    if let Some(key) = &key {
        shared.in_flight.lock().unwrap().entry(key.clone()).or_insert((1, 1)).0 -= 1;
    }
    let h = resp.headers_mut();
    let request_id = format!("req_{:032x}", rand::random::<u128>());
    h.insert("x-request-id", HeaderValue::from_str(&request_id).unwrap());
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    h.insert("openai-processing-ms", HeaderValue::from(ms));
    resp
}

async fn route(shared: &Shared, req: &RecordedRequest, parsed: Option<Value>) -> Response {
    let Some(key) = req.bearer().map(str::to_owned) else {
        return error(401, NO_KEY_MSG, "invalid_request_error", None, None);
    };
    let is_chat = req.method == "POST" && req.path == "/v1/chat/completions";
    let streaming = is_chat && parsed.as_ref().and_then(|b| b.get("stream")).and_then(Value::as_bool) == Some(true);
    if let Some(resp) = key_behaviour(&key, streaming) {
        return resp;
    }
    let body = parsed.filter(Value::is_object);
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/models") => models_list(shared),
        ("POST", "/v1/chat/completions") => match body {
            Some(body) => chat(body, &key).await,
            None => bad_json(),
        },
        ("POST", "/v1/embeddings") => match body {
            Some(body) => embeddings(body, &key).await,
            None => bad_json(),
        },
        (m, p) => {
            let msg = format!("Invalid URL ({m} {p})");
            error(404, &msg, "invalid_request_error", None, None)
        }
    }
}

/// Error responses chosen by the prefix of the bearer token (every route).
fn key_behaviour(key: &str, chat_stream: bool) -> Option<Response> {
    let resp = if key.starts_with("rl1") {
        // A short limit: `retry-after: 1`.
        let mut r =
            error(429, "Rate limit reached. Please try again in 1s.", "requests", None, Some("rate_limit_exceeded"));
        r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        r
    } else if key.starts_with("rl") {
        let mut r = error(429, RATE_LIMIT_MSG, "requests", None, Some("rate_limit_exceeded"));
        for (k, v) in [
            ("retry-after", "7"),
            ("x-ratelimit-reset-requests", "7s"),
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "0"),
        ] {
            r.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        r
    } else if key.starts_with("quota") {
        let msg = "You exceeded your current quota, please check your plan and billing details.";
        error(429, msg, "insufficient_quota", None, Some("insufficient_quota"))
    } else if key.starts_with("err") {
        server_error()
    } else if key.starts_with("overloaded") {
        let msg = "The engine is currently overloaded, please try again later";
        error(503, msg, "server_error", None, None)
    } else if key.starts_with("bad") {
        let msg = "Incorrect API key provided: bad*****. You can find your API key at \
                   https://platform.openai.com/account/api-keys.";
        error(401, msg, "invalid_request_error", None, Some("invalid_api_key"))
    } else if key.starts_with("forbidden") {
        let msg = "Project does not have access to model";
        error(403, msg, "invalid_request_error", None, Some("model_not_found"))
    } else if key.starts_with("streamerr") {
        if chat_stream {
            let ev = error_body(STREAM_ERROR_MSG, "server_error", None, None);
            sse_response(vec![(Duration::ZERO, Ok(sse(&ev)))])
        } else {
            server_error()
        }
    } else {
        return None;
    };
    Some(resp)
}

/// 400 errors chosen by the prefix of the requested model (good keys only).
fn model_error(model: &str, key: &str) -> Option<Response> {
    let (msg, param, code) = if model.starts_with("invalid") {
        let msg = "Invalid value for 'temperature': expected a number.";
        (msg.to_owned(), Some("temperature"), Some("invalid_value"))
    } else if model.starts_with("echo-key-param") {
        // Some upstreams echo the offending value, the key included, in `param` and `code`.
        ("Invalid value for the credential".to_owned(), Some(key), Some(key))
    } else if model.starts_with("echo-key") {
        (format!("Incorrect request for key {key}"), None, None)
    } else if model.starts_with("long-context") {
        let msg = "This model's maximum context length is 128000 tokens. However, your messages \
                   resulted in 130000 tokens.";
        (msg.to_owned(), Some("messages"), Some("context_length_exceeded"))
    } else {
        return None;
    };
    Some(error(400, &msg, "invalid_request_error", param, code))
}

fn models_list(shared: &Shared) -> Response {
    if shared.listing_fails.load(std::sync::atomic::Ordering::SeqCst) {
        return error(500, SERVER_ERROR_MSG, "server_error", None, None);
    }
    let data: Vec<Value> = shared
        .models
        .lock()
        .unwrap()
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}))
        .collect();
    json_response(200, &json!({"object": "list", "data": data}))
}

async fn embeddings(body: Value, key: &str) -> Response {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return missing_model();
    };
    if let Some(resp) = model_error(model, key) {
        return resp;
    }
    if model.starts_with("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect()
        }
        _ => {
            let msg = "'input' is a required property";
            return error(400, msg, "invalid_request_error", Some("input"), None);
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let n = text.chars().count() as f64;
            let embedding = [0.001 * n, -0.002 * (i as f64 + 1.0), 0.5];
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.chars().count() / 4 + 1).sum();
    json_response(
        200,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }),
    )
}

// ---------------------------------------------------------------------------
// Chat completions
// ---------------------------------------------------------------------------

struct ToolCall {
    id: String,
    name: String,
    args: String,
}

impl ToolCall {
    fn new(id: &str, name: &str, args: &str) -> Self {
        Self { id: id.to_owned(), name: name.to_owned(), args: args.to_owned() }
    }
}

fn weather_call() -> ToolCall {
    ToolCall::new("call_abc123", "get_weather", r#"{"location":"Paris","unit":"celsius"}"#)
}

fn time_call() -> ToolCall {
    ToolCall::new("call_def456", "get_time", r#"{"tz":"Europe/Paris"}"#)
}

/// Per-completion values shared by every chunk of one response.
struct Completion {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    prompt_tokens: usize,
}

async fn chat(body: Value, key: &str) -> Response {
    let Some(model) = body.get("model").and_then(Value::as_str).map(str::to_owned) else {
        return missing_model();
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        let msg = "Missing required parameter: 'messages'.";
        let code = Some("missing_required_parameter");
        return error(400, msg, "invalid_request_error", Some("messages"), code);
    };
    if let Some(resp) = model_error(&model, key) {
        return resp;
    }
    // `jsononly…` keys answer one JSON body whatever was asked (llama.cpp-style servers, caches);
    // `sseonly…` keys always stream.
    let stream = match key {
        k if k.starts_with("jsononly") => false,
        k if k.starts_with("sseonly") => true,
        _ => body["stream"].as_bool() == Some(true),
    };
    let text_chars: usize = messages.iter().map(|m| content_text(&m["content"]).chars().count()).sum();
    let c = Completion {
        id: format!("chatcmpl-{}", random_alnum(24)),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        include_usage: stream && body["stream_options"]["include_usage"].as_bool() == Some(true),
        prompt_tokens: text_chars / 4 + 8,
        model,
    };
    let m = c.model.as_str();

    if m.starts_with("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    // `emptyans…` keys: no text and an ordinary stop (a finish-only stream).
    if key.starts_with("emptyans") {
        return if stream { stream_text(&c, "", Some("stop"), Duration::ZERO) } else { text_reply(&c, "", "stop") };
    }
    // `delay-<ms>…`: answer normally after that many milliseconds (held in the handler, so
    // in-flight counts cover it).
    if let Some(ms) =
        m.strip_prefix("delay-").and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if m.starts_with("tools") {
        let parallel = m.starts_with("tools-parallel") && body["tools"].as_array().is_some_and(|t| t.len() >= 2);
        let calls = if parallel { vec![weather_call(), time_call()] } else { vec![weather_call()] };
        return if stream { stream_tools(&c, &calls) } else { tool_reply(&c, &calls) };
    }
    // `shell…`: call the client's shell tool, then quote the tool result (see `shell_turn`).
    let tool_result = messages.last().filter(|m| m["role"] == "tool").map(|m| content_text(&m["content"]));
    if m.starts_with("shell") && tool_result.is_none() {
        let names = body["tools"].as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str());
        if let Some((name, args)) = shell_call(names) {
            let calls = [ToolCall::new("call_shell_1", &name, &args.to_string())];
            return if stream { stream_tools(&c, &calls) } else { tool_reply(&c, &calls) };
        }
    }

    let last_user =
        messages.iter().rev().find(|m| m["role"] == "user").map(|m| content_text(&m["content"])).unwrap_or_default();
    let text = if let Some(result) = tool_result.filter(|_| m.starts_with("shell")) {
        shell_answer(&result)
    } else if m.starts_with("slow") {
        "one two three four five".to_owned()
    } else {
        format!("Hello! You said: {last_user}")
    };
    let finish = if m.starts_with("length") { "length" } else { "stop" };

    if m.starts_with("reset") {
        return if stream { stream_reset(&c) } else { reset_reply(&c) };
    }
    if stream {
        let delay = if m.starts_with("slow") { SLOW_DELAY } else { Duration::ZERO };
        let finish = if m.starts_with("nofinish") { None } else { Some(finish) };
        return stream_text(&c, &text, finish, delay);
    }
    if m.starts_with("slow") {
        tokio::time::sleep(SLOW_NON_STREAM_DELAY).await;
    }
    text_reply(&c, &text, finish)
}

fn text_reply(c: &Completion, text: &str, finish: &str) -> Response {
    let message = json!({"role": "assistant", "content": text, "refusal": null, "annotations": []});
    json_response(200, &completion_body(c, message, finish, word_count(text)))
}

fn tool_reply(c: &Completion, calls: &[ToolCall]) -> Response {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|t| json!({"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.args}}))
        .collect();
    let message = json!({
        "role": "assistant",
        "content": null,
        "tool_calls": tool_calls,
        "refusal": null,
        "annotations": [],
    });
    json_response(200, &completion_body(c, message, "tool_calls", tool_tokens(calls)))
}

/// Headers, a truncated JSON body, then the body errors (connection aborted).
fn reset_reply(c: &Completion) -> Response {
    let partial = format!(r#"{{"id":"{}","object":"chat.completion","created":{},"#, c.id, c.created);
    let events = vec![
        (Duration::ZERO, Ok(Bytes::from(partial))),
        (RESET_DELAY, Err(io::Error::new(io::ErrorKind::ConnectionReset, "mock reset"))),
    ];
    let mut resp = Response::new(Body::from_stream(delayed(events)));
    let ct = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

fn completion_body(c: &Completion, message: Value, finish: &str, completion_tokens: usize) -> Value {
    json!({
        "id": c.id,
        "object": "chat.completion",
        "created": c.created,
        "model": c.model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(c.prompt_tokens, completion_tokens),
        "service_tier": "default",
    })
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn error_body(message: &str, typ: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": typ, "param": param, "code": code}})
}

fn error(status: u16, message: &str, typ: &str, param: Option<&str>, code: Option<&str>) -> Response {
    json_response(status, &error_body(message, typ, param, code))
}

fn server_error() -> Response {
    error(500, SERVER_ERROR_MSG, "server_error", None, None)
}

fn bad_json() -> Response {
    error(400, BAD_JSON_MSG, "invalid_request_error", None, None)
}

fn missing_model() -> Response {
    let msg = "you must provide a model parameter";
    error(400, msg, "invalid_request_error", None, None)
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    let ct = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

/// Text of a message `content`: a string, or the `text` parts of an array joined by spaces.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

fn tool_tokens(calls: &[ToolCall]) -> usize {
    calls.iter().map(|t| t.args.len() / 4 + 4).sum()
}
