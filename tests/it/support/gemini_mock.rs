//! In-process mock upstream speaking the Gemini API (`generativelanguage.googleapis.com/v1beta`) wire format.
//!
//! The key (`x-goog-api-key` header or `?key=`) selects faults (`rl…`, `bad…`, `err…`, `streamerr…`, `cut…`;
//! see [`key_error`]); the model in the URL path selects the answer (`tools…`, `shell…`, `thinking…`, `echo…`, …; see
//! [`reply::build`]). Function calls carry a `thoughtSignature` that must come back unchanged in later turns,
//! as Gemini 3 requires.

// Not every test uses every helper of this support module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::openai_mock::RecordedRequest;
use super::openai_mock::random_alnum;

mod catalog;
mod reply;
mod stream;

pub use catalog::{DEFAULT_DIMENSIONS, embedding_values};

const SLOW_DELAY: Duration = Duration::from_millis(300);
const SLOW_NON_STREAM_DELAY: Duration = Duration::from_millis(1500);
/// Signatures the real API documents as "skip validation" placeholders.
pub const SKIP_SIGNATURES: &[&str] = &["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"];

const NO_KEY_MSG: &str = "Method doesn't allow unregistered callers (callers without established identity). Please \
    use API Key or other form of API consumer identity to call this API.";
const BAD_KEY_MSG: &str = "API key not valid. Please pass a valid API key.";
const LEAKED_KEY_MSG: &str = "Your API key was reported as leaked. Please use another API key.";
const OVERLOADED_MSG: &str = "The model is overloaded. Please try again later.";
const INTERNAL_MSG: &str = "An internal error has occurred. Please retry or report in \
    https://developers.generativeai.google/guide/troubleshooting";
const BAD_JSON_MSG: &str = "Invalid JSON payload received. Unexpected token.";

/// A function call the mock answered with, and the signature it attached.
struct IssuedCall {
    name: String,
    args: Value,
    signature: String,
}

#[derive(Default)]
struct Shared {
    /// Model objects served by `GET /v1beta/models`.
    models: Mutex<Vec<Value>>,
    requests: Mutex<Vec<RecordedRequest>>,
    calls: Mutex<Vec<IssuedCall>>,
    signatures: AtomicU64,
}

impl Shared {
    /// A fresh `sig-<n>-<random>` signature.
    fn next_signature(&self) -> String {
        let n = self.signatures.fetch_add(1, Ordering::SeqCst) + 1;
        format!("sig-{n}-{}", random_alnum(10))
    }
}

/// A mock Gemini server on 127.0.0.1; dropping it aborts the server task.
pub struct GeminiMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GeminiMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GeminiMock {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        *shared.models.lock().unwrap() = catalog::default_models();
        let (addr, task) =
            super::openai_mock::serve_mock(Router::new().fallback(handle).with_state(shared.clone()), "gemini mock")
                .await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT` (SDK style: no `/v1beta`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the models listed by `GET /v1beta/models` (ids without `models/`; generic metadata).
    pub fn set_models(&self, ids: &[&str]) {
        *self.shared.models.lock().unwrap() = ids.iter().map(|id| catalog::generic_model(id)).collect();
    }

    /// Every request received, in order (recorded before any check).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// `:generateContent` and `:streamGenerateContent` requests only.
    pub fn generate_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.method == "POST"
                    && (r.path.ends_with(":generateContent") || r.path.ends_with(":streamGenerateContent"))
            })
            .collect()
    }

    /// The API key of each generate request (header first, then `?key=`).
    pub fn keys_used(&self) -> Vec<String> {
        self.generate_requests().iter().filter_map(|r| api_key(r).map(str::to_owned)).collect()
    }

    /// Every `thoughtSignature` the mock attached to a function call, in order.
    pub fn issued_signatures(&self) -> Vec<String> {
        self.shared.calls.lock().unwrap().iter().map(|c| c.signature.clone()).collect()
    }
}

/// The key of a request: the `x-goog-api-key` header, else the `key` query parameter.
pub fn api_key(req: &RecordedRequest) -> Option<&str> {
    let header = req.header("x-goog-api-key").map(str::trim).filter(|k| !k.is_empty());
    header.or_else(|| query_param(req.query.as_deref(), "key")).filter(|k| !k.is_empty())
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
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
    route(&shared, &req, parsed).await
}

/// What a `/v1beta/…` path names.
enum Target {
    List,
    Get(String),
    Call { model: String, method: String },
    Unknown,
}

/// `/v1beta/models`, `/v1beta/models/{m}`, `/v1beta/models/{m}:{method}` (also `/v1/…`, an encoded `:`, and a
/// doubled `models/models/` as clients sometimes send).
fn target(path: &str) -> Target {
    let path = path.replace("%3A", ":").replace("%3a", ":");
    let Some(rest) = path.strip_prefix("/v1beta/").or_else(|| path.strip_prefix("/v1/")) else {
        return Target::Unknown;
    };
    if rest == "models" || rest == "models/" {
        return Target::List;
    }
    let Some(name) = rest.strip_prefix("models/") else {
        return Target::Unknown;
    };
    let name = name.strip_prefix("models/").unwrap_or(name);
    if name.is_empty() || name.contains('/') {
        return Target::Unknown;
    }
    match name.rsplit_once(':') {
        Some((model, method)) if !model.is_empty() => Target::Call { model: model.into(), method: method.into() },
        Some(_) => Target::Unknown,
        None => Target::Get(name.to_owned()),
    }
}

async fn route(shared: &Shared, req: &RecordedRequest, parsed: Option<Value>) -> Response {
    let Some(key) = api_key(req).map(str::to_owned) else {
        return error(403, "PERMISSION_DENIED", NO_KEY_MSG, vec![]);
    };
    let target = target(&req.path);
    let model = match &target {
        Target::Call { model, .. } | Target::Get(model) => model.as_str(),
        _ => "gemini-2.5-flash",
    };
    if let Some(resp) = key_error(&key, model) {
        return resp;
    }
    let body = parsed.filter(Value::is_object);
    match (req.method.as_str(), target) {
        ("GET", Target::List) => catalog::list(shared, req.query.as_deref()),
        ("GET", Target::Get(model)) => catalog::get(shared, &model),
        ("POST", Target::Call { model, method }) => {
            let Some(body) = body else {
                return invalid_json(BAD_JSON_MSG);
            };
            match method.as_str() {
                "generateContent" => generate(shared, body, &model, &key, None).await,
                "streamGenerateContent" => {
                    let sse = query_param(req.query.as_deref(), "alt") == Some("sse");
                    let framing = if sse { stream::Framing::Sse } else { stream::Framing::JsonArray };
                    generate(shared, body, &model, &key, Some(framing)).await
                }
                "countTokens" => catalog::count_tokens(&body),
                "batchEmbedContents" => catalog::batch_embed(&body, &model),
                "embedContent" => catalog::embed(&body),
                _ => not_found(&req.path),
            }
        }
        _ => not_found(&req.path),
    }
}

/// Errors chosen by the prefix of the key (every route). `model` fills the quota details of 429s.
fn key_error(key: &str, model: &str) -> Option<Response> {
    let resp = if let Some(rest) = key.strip_prefix("rl") {
        let secs = if rest.starts_with("17") { 17 } else { 2 };
        rate_limited(model, secs)
    } else if key.starts_with("bad") {
        let details = vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": BAD_KEY_MSG,
            }),
        ];
        error(400, "INVALID_ARGUMENT", BAD_KEY_MSG, details)
    } else if key.starts_with("forbidden") {
        error(403, "PERMISSION_DENIED", LEAKED_KEY_MSG, vec![])
    } else if key.starts_with("unavailable") {
        error(503, "UNAVAILABLE", OVERLOADED_MSG, vec![])
    } else if key.starts_with("err") {
        error(500, "INTERNAL", INTERNAL_MSG, vec![])
    } else {
        return None;
    };
    Some(resp)
}

fn rate_limited(model: &str, secs: u64) -> Response {
    let metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
    let msg = format!(
        "You exceeded your current quota, please check your plan and billing details. For more information on this \
         error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: \
         https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: {metric}, limit: 10, model: {model}\n\
         Please retry in {secs}.0s."
    );
    let details = vec![
        json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": metric,
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": "10",
            }],
        }),
        json!({
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{
                "description": "Learn more about Gemini API quotas",
                "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
            }],
        }),
        json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")}),
    ];
    error(429, "RESOURCE_EXHAUSTED", &msg, details)
}

/// How a streamed answer is faulted, chosen by the key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `streamerr…`: a 200 stream whose first event is a 503 error object.
    Error,
    /// `cut…`: the stream ends after the first text chunk, without a finishReason.
    Cut,
}

/// `:generateContent` (`framing == None`) and `:streamGenerateContent`.
async fn generate(shared: &Shared, body: Value, model: &str, key: &str, framing: Option<stream::Framing>) -> Response {
    if model.starts_with("invalid") {
        let msg = "Invalid JSON payload received. Unknown name \"bogus\": Cannot find field.";
        let details = vec![json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"description": msg}],
        })];
        return error(400, "INVALID_ARGUMENT", msg, details);
    }
    if let Err(msg) = reply::validate(&body) {
        return error(400, "INVALID_ARGUMENT", &msg, vec![]);
    }
    if model.starts_with("notfound") {
        let msg = format!(
            "models/{model} is not found for API version v1beta, or is not supported for generateContent. Call \
             ListModels to see the list of available models and their supported methods."
        );
        return error(404, "NOT_FOUND", &msg, vec![]);
    }
    if let Err(msg) = reply::check_signatures(shared, &body) {
        return error(400, "INVALID_ARGUMENT", &msg, vec![]);
    }
    if model.starts_with("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let fault = if key.starts_with("streamerr") {
        Some(Fault::Error)
    } else if key.starts_with("cut") {
        Some(Fault::Cut)
    } else {
        None
    };
    let reply = reply::build(shared, &body, model);
    // `jsononly…` keys answer one JSON body whatever was asked; `sseonly…` keys always stream.
    let framing = match key {
        k if k.starts_with("jsononly") => None,
        k if k.starts_with("sseonly") => Some(framing.unwrap_or(stream::Framing::Sse)),
        _ => framing,
    };
    if let Some(framing) = framing {
        let delay = if model.starts_with("slow") { SLOW_DELAY } else { Duration::ZERO };
        return stream::respond(&reply, framing, fault, delay);
    }
    match fault {
        Some(Fault::Error) => return error(503, "UNAVAILABLE", OVERLOADED_MSG, vec![]),
        // 200 and a JSON body cut in the middle (the body itself ends cleanly).
        Some(Fault::Cut) => {
            let full = reply.response().to_string().into_bytes();
            let mut resp = json_response(200, &Value::Null);
            *resp.body_mut() = Body::from(full[..full.len() / 2].to_vec());
            return resp;
        }
        None => {}
    }
    if model.starts_with("slow") {
        tokio::time::sleep(SLOW_NON_STREAM_DELAY).await;
    }
    json_response(200, &reply.response())
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// `{"error": {"code", "message", "status", "details"?}}` (no `details` key when empty).
fn error_body(code: u16, status: &str, message: &str, details: Vec<Value>) -> Value {
    let mut e = json!({"code": code, "message": message, "status": status});
    if !details.is_empty() {
        e["details"] = Value::Array(details);
    }
    json!({"error": e})
}

fn error(code: u16, status: &str, message: &str, details: Vec<Value>) -> Response {
    json_response(code, &error_body(code, status, message, details))
}

fn invalid_json(message: &str) -> Response {
    let details = vec![json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"description": message}],
    })];
    error(400, "INVALID_ARGUMENT", message, details)
}

fn not_found(path: &str) -> Response {
    error(404, "NOT_FOUND", &format!("The requested URL {path} was not found on this server."), vec![])
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    let ct = HeaderValue::from_static("application/json; charset=UTF-8");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}
