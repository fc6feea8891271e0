//! In-process mock upstream speaking the Anthropic Messages API wire format.
//!
//! Behaviour is selected by the `x-api-key` (error keys such as `rl…`, `err…`,
//! `streamerr…`) and by the requested model (`tools…`, `shell…`, `thinking…`, `echo…`, …);
//! see [`key_error`] and [`build_reply`] for the full table.

// Not every test uses every helper of this support module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::openai_mock::RecordedRequest;
use super::openai_mock::random_alnum;

mod reply;
mod sse;

use reply::{build_reply, input_tokens};

/// `(id, display_name, created_at)` served by `GET /v1/models` by default.
const DEFAULT_MODELS: &[(&str, &str, &str)] = &[
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
];
const VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];
const SLOW_DELAY: Duration = Duration::from_millis(300);
const SLOW_NON_STREAM_DELAY: Duration = Duration::from_millis(1500);
/// Signature of every `thinking` block.
pub const THINKING_SIGNATURE: &str = "EqQBCkYIBxgCKkBtb2NrLXRoaW5raW5nLXNpZ25hdHVyZQ==";

const RATE_LIMIT_MSG: &str = "This request would exceed the rate limit for your organization of 50 requests per \
    minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.";
const BAD_JSON_MSG: &str = "There was an issue with the formatting of your request body: it is not valid JSON.";

#[derive(Default)]
struct Shared {
    /// `(id, display_name, created_at)`
    models: Mutex<Vec<(String, String, String)>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A mock Anthropic server on 127.0.0.1; dropping it aborts the server task.
pub struct AnthropicMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AnthropicMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AnthropicMock {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        *shared.models.lock().unwrap() =
            DEFAULT_MODELS.iter().map(|(id, name, at)| ((*id).into(), (*name).into(), (*at).into())).collect();
        let (addr, task) =
            super::openai_mock::serve_mock(Router::new().fallback(handle).with_state(shared.clone()), "anthropic mock")
                .await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT` (SDK style: no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the models listed by `GET /v1/models` (display name = id).
    pub fn set_models(&self, ids: &[&str]) {
        *self.shared.models.lock().unwrap() =
            ids.iter().map(|id| ((*id).into(), (*id).into(), "2025-01-01T00:00:00Z".into())).collect();
    }

    /// Every request received, in order (recorded before any check).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// `POST /v1/messages` requests only.
    pub fn messages_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/messages").collect()
    }

    /// The `x-api-key` of each `POST /v1/messages` request.
    pub fn keys_used(&self) -> Vec<String> {
        self.messages_requests().iter().filter_map(|r| r.header("x-api-key").map(str::to_owned)).collect()
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
    let (req, parsed) = RecordedRequest::capture(&method, &uri, &headers, &raw);
    shared.requests.lock().unwrap().push(req.clone());
    let rid = format!("req_011C{}", random_alnum(22));
    let mut resp = route(&shared, &req, parsed, &rid).await;
    resp.headers_mut().insert("request-id", HeaderValue::from_str(&rid).unwrap());
    resp
}

async fn route(shared: &Shared, req: &RecordedRequest, parsed: Option<Value>, rid: &str) -> Response {
    let Some(key) = req.header("x-api-key").map(str::trim).filter(|k| !k.is_empty()) else {
        return error(401, "authentication_error", "x-api-key header is required", rid);
    };
    match req.header("anthropic-version") {
        None => return error(400, "invalid_request_error", "anthropic-version: header is required", rid),
        Some(v) if !VERSIONS.contains(&v) => {
            let msg = format!("anthropic-version: \"{v}\" is not a valid version");
            return error(400, "invalid_request_error", &msg, rid);
        }
        Some(_) => {}
    }
    if let Some(resp) = key_error(key, rid) {
        return resp;
    }
    let body = parsed.filter(Value::is_object);
    let (method, path) = (req.method.as_str(), req.path.as_str());
    if method == "GET"
        && let Some(id) = path.strip_prefix("/v1/models/")
    {
        return model_get(shared, id, rid);
    }
    match (method, path) {
        ("GET", "/v1/models") => models_list(shared, req.query.as_deref()),
        ("POST", "/v1/messages") => match body {
            Some(body) => messages(body, key, rid).await,
            None => error(400, "invalid_request_error", BAD_JSON_MSG, rid),
        },
        ("POST", "/v1/messages/count_tokens") => match body {
            Some(body) => match validate(&body, false) {
                Ok(()) => json_response(200, &json!({"input_tokens": input_tokens(&body)})),
                Err(msg) => error(400, "invalid_request_error", &msg, rid),
            },
            None => error(400, "invalid_request_error", BAD_JSON_MSG, rid),
        },
        _ => error(404, "not_found_error", "Not Found", rid),
    }
}

/// Errors chosen by the prefix of the `x-api-key` (every route).
fn key_error(key: &str, rid: &str) -> Option<Response> {
    let resp = if let Some(rest) = key.strip_prefix("rl") {
        let secs = if rest.starts_with('1') { 1 } else { 7 };
        let mut r = error(429, "rate_limit_error", RATE_LIMIT_MSG, rid);
        let reset = rfc3339(now_secs() + secs);
        let h = r.headers_mut();
        h.insert("retry-after", HeaderValue::from(secs));
        h.insert("anthropic-ratelimit-requests-limit", HeaderValue::from_static("50"));
        h.insert("anthropic-ratelimit-requests-remaining", HeaderValue::from_static("0"));
        h.insert("anthropic-ratelimit-requests-reset", HeaderValue::from_str(&reset).unwrap());
        r
    } else if key.starts_with("bad") {
        error(401, "authentication_error", "invalid x-api-key", rid)
    } else if key.starts_with("forbidden") {
        let msg = "Your API key does not have permission to use the specified resource.";
        error(403, "permission_error", msg, rid)
    } else if key.starts_with("overloaded") {
        error(529, "overloaded_error", "Overloaded", rid)
    } else if key.starts_with("err") {
        error(500, "api_error", "Internal server error", rid)
    } else {
        return None;
    };
    Some(resp)
}

/// Cheap version of the real request validation; `Err` holds the 400 message.
fn validate(body: &Value, need_max_tokens: bool) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("model: Field required".into());
    }
    if need_max_tokens {
        match &body["max_tokens"] {
            Value::Null => return Err("max_tokens: Field required".into()),
            v if v.as_u64().is_none_or(|n| n < 1) => {
                return Err("max_tokens: Input should be a valid integer greater than or equal to 1".into());
            }
            _ => {}
        }
    }
    let Some(messages) = body["messages"].as_array() else {
        return Err("messages: Field required".into());
    };
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    for (i, m) in messages.iter().enumerate() {
        match m["role"].as_str() {
            Some("user" | "assistant") => {}
            // System messages may follow the opening turn (they apply from there on); the
            // opening system prompt belongs in the top-level `system`.
            Some("system") if i > 0 => {}
            Some("system") => {
                return Err("messages: Unexpected role \"system\". The Messages API accepts a top-level `system` \
                            parameter, not \"system\" as an input message role."
                    .into());
            }
            _ => return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'")),
        }
    }
    Ok(())
}

/// Errors chosen by the prefix of the model (good keys only).
fn model_error(model: &str, rid: &str) -> Option<Response> {
    if model.starts_with("notfound") {
        Some(error(404, "not_found_error", &format!("model: {model}"), rid))
    } else if model.starts_with("toolarge") {
        Some(error(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", rid))
    } else {
        None
    }
}

fn models_list(shared: &Shared, query: Option<&str>) -> Response {
    let param = |name: &str| {
        query?.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
    };
    let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let models = shared.models.lock().unwrap().clone();
    let start = param("after_id").and_then(|a| models.iter().position(|m| m.0 == a)).map_or(0, |i| i + 1);
    let page: Vec<Value> = models.iter().skip(start).take(limit).map(model_json).collect();
    let has_more = start + page.len() < models.len();
    let first_id = page.first().map_or(Value::Null, |m| m["id"].clone());
    let last_id = page.last().map_or(Value::Null, |m| m["id"].clone());
    json_response(200, &json!({"data": page, "has_more": has_more, "first_id": first_id, "last_id": last_id}))
}

fn model_get(shared: &Shared, id: &str, rid: &str) -> Response {
    match shared.models.lock().unwrap().iter().find(|m| m.0 == id) {
        Some(m) => json_response(200, &model_json(m)),
        None => error(404, "not_found_error", &format!("model: {id}"), rid),
    }
}

fn model_json((id, name, at): &(String, String, String)) -> Value {
    json!({"type": "model", "id": id, "display_name": name, "created_at": at})
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// `POST /v1/messages`: validation, key faults, then the answer of [`build_reply`].
async fn messages(body: Value, key: &str, rid: &str) -> Response {
    if let Err(msg) = validate(&body, true) {
        return error(400, "invalid_request_error", &msg, rid);
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if let Some(resp) = model_error(&model, rid) {
        return resp;
    }
    // `jsononly…` keys answer one JSON body whatever was asked; `sseonly…` keys always stream.
    let stream = match key {
        k if k.starts_with("jsononly") => false,
        k if k.starts_with("sseonly") => true,
        _ => body["stream"].as_bool() == Some(true),
    };
    let fault = if key.starts_with("streamerr") {
        Some(sse::Fault::Error)
    } else if key.starts_with("cut") {
        Some(sse::Fault::Cut)
    } else {
        None
    };
    if model.starts_with("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let reply = build_reply(&body, &model);
    if stream {
        let delay = if model.starts_with("slow") { SLOW_DELAY } else { Duration::ZERO };
        return sse::stream(&reply, fault, delay);
    }
    match fault {
        Some(sse::Fault::Error) => return error(529, "overloaded_error", "Overloaded", rid),
        // 200 and a JSON body cut in the middle (the body itself ends cleanly).
        Some(sse::Fault::Cut) => {
            let full = reply.message().to_string().into_bytes();
            let mut resp = json_response(200, &Value::Null);
            *resp.body_mut() = Body::from(full[..full.len() / 2].to_vec());
            return resp;
        }
        None => {}
    }
    if model.starts_with("slow") {
        tokio::time::sleep(SLOW_NON_STREAM_DELAY).await;
    }
    json_response(200, &reply.message())
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn error_body(typ: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": typ, "message": message}})
}

fn error(status: u16, typ: &str, message: &str, rid: &str) -> Response {
    let mut body = error_body(typ, message);
    body["request_id"] = json!(rid);
    json_response(status, &body)
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, proleptic Gregorian).
fn rfc3339(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}
