//! In-process mock of Google's Code Assist API (`cloudcode-pa.googleapis.com/v1internal`) as Gemini CLI
//! credentials use it (credentials.md §9). Bearer tokens must come from the [`OAuthMock`] whose
//! [`TokenRegistry`] the mock was started with.
//!
//! | Call (`POST {base}:<method>`) | Behaviour |
//! |---|---|
//! | any | `Authorization: Bearer` of a valid (issued, unexpired, not rotated out) Google token, else 401 `UNAUTHENTICATED` |
//! | `loadCodeAssist` | free tier with project `mock-project-123` by default; see [`CodeAssistMock::needs_onboarding`], [`CodeAssistMock::set_load_answer`] |
//! | `onboardUser` | `{"done":false}` ([`CodeAssistMock::set_onboard_pending_polls`] times), then done with `onboarded-proj`; 412 when a free-tier request carries `cloudaicompanionProject` |
//! | `streamGenerateContent?alt=sse` | `data: {"response": <GenerateContentResponse>, "traceId"}\r\n\r\n` per chunk (JSON array without `alt=sse`) |
//! | `generateContent` | `{"response": …, "traceId"}` |
//! | `countTokens` | `{"totalTokens": N}` (N = words of the texts of `request.contents` and `systemInstruction`) |
//! | `retrieveUserQuota` | `{"buckets": […]}` ([`CodeAssistMock::set_quota_buckets`]) |
//!
//! Generation requests need `model`, `project` and `request.contents` (400 otherwise). The model picks the answer:
//! `tools…` (a `functionCall` of the first declared function), `thinking…` (a thought part first), `slow…`
//! (300 ms between chunks), and errors: `rl…` 429 `RESOURCE_EXHAUSTED` (RetryInfo `5s`, "Your quota will reset
//! after 5s."), `err…` 500, `unavailable…` 503, `forbidden…` 403, `notfound…` 404.

// Not every test uses every helper of this support module.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::oauth_mock::{AccessError, Family, OAuthMock, TokenRegistry, rfc3339, unix_now};
pub use super::openai_mock::RecordedRequest;

mod reply;

pub const DEFAULT_PROJECT: &str = "mock-project-123";
pub const ONBOARDED_PROJECT: &str = "onboarded-proj";
pub const FREE_TIER_NAME: &str = "Gemini Code Assist for individuals";
/// Models of the default quota buckets.
pub const MODELS: &[&str] = &[
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3.1-pro-preview",
    "gemini-3-flash-preview",
];

const HELP_URL: &str = "https://developers.google.com/identity/sign-in/web/devconsole-project";

struct Config {
    /// `None`: the "needs onboarding" answer until `onboardUser` completes.
    load: Option<Value>,
    onboard_pending_polls: u32,
    onboard_polls: u32,
    onboarded_project: String,
    quota: Option<Value>,
    /// `(method, status)` failures for the next calls of a method.
    faults: VecDeque<(String, u16)>,
}

struct Shared {
    tokens: Arc<TokenRegistry>,
    config: Mutex<Config>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A mock Code Assist server on 127.0.0.1; dropping it aborts the server task.
pub struct CodeAssistMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CodeAssistMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CodeAssistMock {
    /// A mock accepting the access tokens of `tokens` (see [`OAuthMock::tokens`]).
    pub async fn start(tokens: Arc<TokenRegistry>) -> Self {
        let config = Config {
            load: Some(default_load(DEFAULT_PROJECT)),
            onboard_pending_polls: 1,
            onboard_polls: 0,
            onboarded_project: ONBOARDED_PROJECT.into(),
            quota: None,
            faults: VecDeque::new(),
        };
        let shared = Arc::new(Shared { tokens, config: Mutex::new(config), requests: Mutex::default() });
        let (addr, task) = super::openai_mock::serve_mock(
            Router::new().fallback(handle).with_state(shared.clone()),
            "code assist mock",
        )
        .await;
        Self { addr, shared, task }
    }

    /// A mock accepting the access tokens of `oauth`.
    pub async fn start_for(oauth: &OAuthMock) -> Self {
        Self::start(oauth.tokens()).await
    }

    /// `http://127.0.0.1:PORT/v1internal`, the value for `GEMINI_CLI_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1internal", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received, in order (recorded before any check).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests of one method (`loadCodeAssist`, `streamGenerateContent`, …).
    pub fn requests_of(&self, method: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| method_of(&r.path).as_deref() == Some(method)).collect()
    }

    /// `streamGenerateContent` and `generateContent` requests.
    pub fn generate_requests(&self) -> Vec<RecordedRequest> {
        let is_generate = |r: &RecordedRequest| {
            matches!(method_of(&r.path).as_deref(), Some("streamGenerateContent" | "generateContent"))
        };
        self.requests().into_iter().filter(is_generate).collect()
    }

    /// The bearer token of each generate request.
    pub fn tokens_used(&self) -> Vec<String> {
        self.generate_requests().iter().filter_map(|r| r.bearer().map(str::to_owned)).collect()
    }

    /// Replaces the `loadCodeAssist` answer.
    pub fn set_load_answer(&self, answer: Value) {
        self.shared.config.lock().unwrap().load = Some(answer);
    }

    /// `loadCodeAssist` reports no current tier (allowed: `free-tier` default, `standard-tier`) until an
    /// `onboardUser` call completes; afterwards it reports the free tier with the onboarded project.
    pub fn needs_onboarding(&self) {
        let mut config = self.shared.config.lock().unwrap();
        config.load = None;
        config.onboard_polls = 0;
    }

    /// How many `onboardUser` calls answer `{"done": false}` before one completes (default 1).
    pub fn set_onboard_pending_polls(&self, n: u32) {
        self.shared.config.lock().unwrap().onboard_pending_polls = n;
    }

    /// The project a completed onboarding reports (default [`ONBOARDED_PROJECT`]).
    pub fn set_onboarded_project(&self, project: &str) {
        self.shared.config.lock().unwrap().onboarded_project = project.to_owned();
    }

    /// Replaces the buckets of `retrieveUserQuota` (default: every model of [`MODELS`] at `remainingFraction` 1,
    /// resetting in 24 h).
    pub fn set_quota_buckets(&self, buckets: Value) {
        self.shared.config.lock().unwrap().quota = Some(buckets);
    }

    /// Makes the next call of `method` (after the auth check) fail with `status` and a Google error body.
    pub fn fail_next(&self, method: &str, status: u16) {
        self.shared.config.lock().unwrap().faults.push_back((method.to_owned(), status));
    }
}

/// The default `loadCodeAssist` answer: the free tier, ready, with `project`.
pub fn default_load(project: &str) -> Value {
    json!({
        "currentTier": {"id": "free-tier", "name": FREE_TIER_NAME},
        "allowedTiers": [{"id": "free-tier", "name": FREE_TIER_NAME, "isDefault": true}],
        "cloudaicompanionProject": project,
    })
}

fn needs_onboarding_load() -> Value {
    json!({
        "allowedTiers": [
            {"id": "free-tier", "name": FREE_TIER_NAME, "isDefault": true, "userDefinedCloudaicompanionProject": false},
            {"id": "standard-tier", "name": "Gemini Code Assist", "userDefinedCloudaicompanionProject": true},
        ],
    })
}

/// `/v1internal:<method>` → `<method>` (also with an encoded `:`).
fn method_of(path: &str) -> Option<String> {
    let path = path.replace("%3A", ":").replace("%3a", ":");
    path.strip_prefix("/v1internal:").filter(|m| !m.is_empty() && !m.contains('/')).map(str::to_owned)
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

async fn route(shared: &Shared, req: &RecordedRequest, parsed: Option<Value>) -> Response {
    if let Err(resp) = authenticate(shared, req) {
        return resp;
    }
    let Some(method) = method_of(&req.path).filter(|_| req.method == "POST") else {
        return error(404, "NOT_FOUND", &format!("The requested URL {} was not found on this server.", req.path));
    };
    let fault = {
        let mut config = shared.config.lock().unwrap();
        let i = config.faults.iter().position(|(m, _)| *m == method);
        i.and_then(|i| config.faults.remove(i))
    };
    if let Some((_, status)) = fault {
        return fault_response(status);
    }
    let Some(body) = parsed.filter(Value::is_object) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.");
    };
    match method.as_str() {
        "loadCodeAssist" => load_code_assist(shared, &body),
        "onboardUser" => onboard_user(shared, &body),
        "streamGenerateContent" => {
            let sse = req.query.as_deref().is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
            reply::generate(&body, Some(sse)).await
        }
        "generateContent" => reply::generate(&body, None).await,
        "countTokens" => reply::count_tokens(&body),
        "retrieveUserQuota" => retrieve_user_quota(shared, &body),
        _ => error(404, "NOT_FOUND", &format!("Method not found: {method}")),
    }
}

/// A valid Google access token of the registry, else 401.
fn authenticate(shared: &Shared, req: &RecordedRequest) -> Result<(), Response> {
    let Some(token) = req.bearer() else {
        let msg = format!(
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or \
             other valid authentication credential. See {HELP_URL}."
        );
        return Err(unauthenticated(&msg, "CREDENTIALS_MISSING"));
    };
    let reason = match shared.tokens.check_access_of(token, Family::Google) {
        Ok(_) => return Ok(()),
        Err(AccessError::Expired | AccessError::Revoked) => "ACCESS_TOKEN_EXPIRED",
        Err(AccessError::Unknown) => "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    };
    let msg = format!(
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid \
         authentication credential. See {HELP_URL}."
    );
    Err(unauthenticated(&msg, reason))
}

fn unauthenticated(message: &str, reason: &str) -> Response {
    let details = json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "cloudcode-pa.googleapis.com", "method": "google.internal.cloud.code.v1internal.CloudCode"},
    }]);
    let body = json!({"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED", "details": details}});
    let mut resp = json_response(401, &body);
    let challenge = HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    resp
}

fn fault_response(status: u16) -> Response {
    match status {
        400 => error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
        403 => error(403, "PERMISSION_DENIED", "The caller does not have permission"),
        404 => error(404, "NOT_FOUND", "Requested entity was not found."),
        429 => reply::rate_limited("gemini-2.5-pro"),
        503 => error(503, "UNAVAILABLE", "The service is currently unavailable."),
        s => error(s, "INTERNAL", "Internal error encountered."),
    }
}

fn load_code_assist(shared: &Shared, body: &Value) -> Response {
    if !body["metadata"].is_object() {
        return error(400, "INVALID_ARGUMENT", "Invalid value at 'metadata': metadata is required.");
    }
    let config = shared.config.lock().unwrap();
    json_response(200, config.load.as_ref().unwrap_or(&needs_onboarding_load()))
}

/// `{"tierId", "metadata", "cloudaicompanionProject"?}`: pending answers, then done (and `loadCodeAssist` reports
/// the tier from then on).
fn onboard_user(shared: &Shared, body: &Value) -> Response {
    let Some(tier) = body["tierId"].as_str().filter(|t| !t.is_empty()) else {
        return error(400, "INVALID_ARGUMENT", "Invalid value at 'tier_id': tierId is required.");
    };
    if !body["metadata"].is_object() {
        return error(400, "INVALID_ARGUMENT", "Invalid value at 'metadata': metadata is required.");
    }
    if tier == "free-tier" && body.get("cloudaicompanionProject").is_some() {
        return error(412, "FAILED_PRECONDITION", "Precondition Failed");
    }
    let mut config = shared.config.lock().unwrap();
    config.onboard_polls += 1;
    let name = format!("operations/onboard-{}", config.onboard_polls);
    if config.onboard_polls <= config.onboard_pending_polls {
        return json_response(200, &json!({"name": name, "done": false}));
    }
    let project = match &body["cloudaicompanionProject"] {
        Value::String(p) if !p.is_empty() => p.clone(),
        _ => config.onboarded_project.clone(),
    };
    if config.load.is_none() {
        let mut load = default_load(&project);
        load["currentTier"]["id"] = json!(tier);
        config.load = Some(load);
    }
    let response = json!({
        "@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
        "cloudaicompanionProject": {"id": project, "name": project},
    });
    json_response(200, &json!({"name": name, "done": true, "response": response}))
}

fn retrieve_user_quota(shared: &Shared, body: &Value) -> Response {
    if body["project"].as_str().is_none_or(str::is_empty) {
        return error(400, "INVALID_ARGUMENT", "Request contains an invalid argument: project is required.");
    }
    let reset = rfc3339(unix_now() + 86_400);
    let buckets = shared.config.lock().unwrap().quota.clone().unwrap_or_else(|| {
        let bucket =
            |m: &&str| json!({"modelId": m, "remainingFraction": 1.0, "resetTime": reset, "tokenType": "REQUESTS"});
        Value::Array(MODELS.iter().map(bucket).collect())
    });
    json_response(200, &json!({"buckets": buckets}))
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// `{"error": {"code", "message", "status"}}`
fn error_body(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

fn error(code: u16, status: &str, message: &str) -> Response {
    json_response(code, &error_body(code, status, message))
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    let ct = HeaderValue::from_static("application/json; charset=UTF-8");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}
