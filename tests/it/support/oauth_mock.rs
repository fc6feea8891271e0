//! In-process mock of the OAuth servers of the OAuth providers (credentials.md §6, §9, §11, §12): Google's
//! authorization-code + PKCE flow, Qwen's device flow and iFlow's Basic-auth token endpoint and cookie API keys.
//!
//! | Endpoint | Behaviour |
//! |---|---|
//! | `GET /authorize` | Google consent: 302 to `redirect_uri?code=4/0mock-<n>&state=…` (records the PKCE challenge per code); `client_id=deny-me` → `?error=access_denied&state=…` |
//! | `POST /token` | form by `grant_type`: `authorization_code` (PKCE S256, `Missing code verifier.` / `Invalid code verifier.`), `refresh_token` (Google and Qwen grants; rotating by default), device code (Qwen, scripted) |
//! | `GET /userinfo` | Bearer Google token → `{"id","email","verified_email":true,…}`, else 401 |
//! | `POST /device/code` | Qwen device authorization (PKCE required) |
//! | `GET /iflow/authorize` | iFlow consent: 302 to `redirect?code=…&state=…` |
//! | `POST /iflow/token` | `Authorization: Basic base64(id:secret)` required; wrapped `{"success":true,"data":{…}}` |
//! | `GET /iflow/userinfo?accessToken=` | `{"success":true,"data":{"apiKey","email","phone"}}` |
//! | `GET`/`POST /iflow/apikey` | cookie `BXAuth=<value>` (see [`OAuthMock::set_iflow_cookie`]) |
//!
//! Tokens live in a [`TokenRegistry`] ([`OAuthMock::tokens`]) that other mocks use to check bearer tokens.
//! Every request is recorded first; form bodies and `GET` queries of the `*_form` helpers are decoded into JSON
//! objects of strings.

// Not every test uses every helper of this support module.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub use super::openai_mock::RecordedRequest;

mod device;
mod google;
mod iflow;
mod registry;

pub use device::DeviceStep;
#[allow(unused_imports)]
pub use registry::{AccessError, AccessInfo, Family, IssuedTokens, TokenRegistry};
use registry::{RefreshError, RefreshPolicy};

pub const DEFAULT_EMAIL: &str = "user@example.com";
pub const DEFAULT_IFLOW_EMAIL: &str = "iflow@example.com";
pub const DEFAULT_IFLOW_PHONE: &str = "13800138000";
pub const DEFAULT_IFLOW_COOKIE: &str = "mock-bxauth";
/// The three Gemini CLI scopes, granted when `/authorize` names none.
pub const GOOGLE_SCOPES: &str = "https://www.googleapis.com/auth/cloud-platform \
    https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile";
pub const EXPIRED_OR_REVOKED: &str = "Token has been expired or revoked.";

/// Knobs of one mock (see the `set_*` methods).
struct Settings {
    expires_in: Option<u64>,
    rotate: bool,
    revoke_on_refresh: bool,
    refresh_delay: Duration,
    email: String,
    /// `(client_id, client_secret)` the Google endpoints insist on; `None` accepts any id with a non-empty secret.
    google_client: Option<(String, String)>,
    /// The same for `/iflow/token` (Basic auth); `None` accepts any pair.
    iflow_client: Option<(String, String)>,
    iflow_email: Option<String>,
    iflow_phone: String,
    iflow_new_key_on_refresh: bool,
    iflow_cookie: String,
    iflow_key_expire_time: Option<String>,
    device_interval: f64,
    device_expires_in: u64,
    device_script: Vec<DeviceStep>,
    resource_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            expires_in: None,
            rotate: true,
            revoke_on_refresh: true,
            refresh_delay: Duration::ZERO,
            email: DEFAULT_EMAIL.into(),
            google_client: None,
            iflow_client: None,
            iflow_email: Some(DEFAULT_IFLOW_EMAIL.into()),
            iflow_phone: DEFAULT_IFLOW_PHONE.into(),
            iflow_new_key_on_refresh: false,
            iflow_cookie: DEFAULT_IFLOW_COOKIE.into(),
            iflow_key_expire_time: None,
            device_interval: 1.0,
            device_expires_in: 300,
            device_script: device::DEFAULT_SCRIPT.to_vec(),
            resource_url: Some("portal.qwen.ai".into()),
        }
    }
}

impl Settings {
    fn expires_in(&self, family: Family) -> u64 {
        self.expires_in.unwrap_or_else(|| family.default_expires_in())
    }

    fn refresh_policy(&self, family: Family) -> RefreshPolicy {
        RefreshPolicy {
            expires_in: self.expires_in(family),
            rotate: self.rotate,
            revoke_old_access: self.revoke_on_refresh,
            new_api_key: self.iflow_new_key_on_refresh,
        }
    }
}

/// A scripted failure of the next refresh call.
#[derive(Clone, Copy, Debug)]
struct RefreshFault {
    status: u16,
    retry_after: Option<u64>,
}

struct Shared {
    base: String,
    tokens: Arc<TokenRegistry>,
    settings: Mutex<Settings>,
    requests: Mutex<Vec<RecordedRequest>>,
    codes: Mutex<HashMap<String, google::AuthCode>>,
    devices: Mutex<Vec<device::Device>>,
    cookie_key: Mutex<iflow::CookieKey>,
    refresh_calls: AtomicUsize,
    faults: Mutex<VecDeque<RefreshFault>>,
}

impl Shared {
    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap()
    }
}

/// A mock OAuth server on 127.0.0.1; dropping it aborts the server task.
pub struct OAuthMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OAuthMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OAuthMock {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind oauth mock");
        let addr = listener.local_addr().expect("mock local addr");
        let tokens = Arc::new(TokenRegistry::default());
        let cookie_key = iflow::CookieKey::new(&tokens);
        let shared = Arc::new(Shared {
            base: format!("http://{addr}"),
            tokens,
            settings: Mutex::new(Settings::default()),
            requests: Mutex::default(),
            codes: Mutex::default(),
            devices: Mutex::default(),
            cookie_key: Mutex::new(cookie_key),
            refresh_calls: AtomicUsize::new(0),
            faults: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base)
    }

    /// The §13 endpoint overrides of Gemini CLI, Antigravity, Qwen Code and iFlow, pointing at this mock.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        for p in ["GEMINI_CLI", "ANTIGRAVITY"] {
            vars.push((format!("{p}_AUTH_URI"), self.url("/authorize")));
            vars.push((format!("{p}_TOKEN_URI"), self.url("/token")));
            vars.push((format!("{p}_USERINFO_URI"), self.url("/userinfo")));
        }
        vars.push(("QWEN_CODE_DEVICE_CODE_URI".into(), self.url("/device/code")));
        vars.push(("QWEN_CODE_TOKEN_URI".into(), self.url("/token")));
        vars.push(("IFLOW_AUTH_URI".into(), self.url("/iflow/authorize")));
        vars.push(("IFLOW_TOKEN_URI".into(), self.url("/iflow/token")));
        vars.push(("IFLOW_USERINFO_URI".into(), self.url("/iflow/userinfo")));
        vars.push(("IFLOW_APIKEY_URI".into(), self.url("/iflow/apikey")));
        vars
    }

    /// The registry of issued tokens and API keys, for mocks that check them.
    pub fn tokens(&self) -> Arc<TokenRegistry> {
        self.shared.tokens.clone()
    }

    /// Every request received, in order (recorded before any check or delay).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests to one path (e.g. `/token`).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Token-endpoint calls (`/token`, `/iflow/token`) with this `grant_type`, in order.
    pub fn token_requests(&self, grant_type: &str) -> Vec<RecordedRequest> {
        let is_token = |r: &RecordedRequest| r.path == "/token" || r.path == "/iflow/token";
        self.requests().into_iter().filter(|r| is_token(r) && r.body["grant_type"] == grant_type).collect()
    }

    /// Refresh calls received (`grant_type=refresh_token` at either token endpoint), failed ones included.
    pub fn refresh_calls(&self) -> usize {
        self.shared.refresh_calls.load(Ordering::SeqCst)
    }

    // --- Knobs --------------------------------------------------------------------------------------------

    /// `expires_in` of every token issued from now on (defaults: [`Family::default_expires_in`]).
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.settings().expires_in = Some(secs);
    }

    /// Whether a refresh replaces the refresh token (default `true`: the old one then answers `invalid_grant`).
    /// Without rotation Google answers carry no `refresh_token`; Qwen and iFlow ones repeat the old one.
    pub fn set_rotate(&self, rotate: bool) {
        self.shared.settings().rotate = rotate;
    }

    /// Whether a refresh revokes the access tokens issued earlier for the grant (default `true`; a request with a
    /// rotated-out access token then gets 401 from the Code Assist mock).
    pub fn set_revoke_on_refresh(&self, revoke: bool) {
        self.shared.settings().revoke_on_refresh = revoke;
    }

    /// Holds every refresh call this long before answering (to keep refreshes in flight).
    pub fn set_refresh_delay(&self, delay: Duration) {
        self.shared.settings().refresh_delay = delay;
    }

    /// Queues a failure for the next refresh call (one per call; after the delay). Bodies: 400 `invalid_grant`
    /// (the token stays valid), 401 `invalid_client`, 403 `access_denied`, 429 `rate_limit_exceeded`, 5xx
    /// `internal_failure`; 200 means a 200 answer without tokens (`{"success":false,…}` at `/iflow/token`).
    pub fn fail_next_refresh(&self, status: u16) {
        self.shared.faults.lock().unwrap().push_back(RefreshFault { status, retry_after: None });
    }

    /// [`fail_next_refresh`](Self::fail_next_refresh) with a `Retry-After: <secs>` header.
    pub fn fail_next_refresh_retry_after(&self, status: u16, secs: u64) {
        self.shared.faults.lock().unwrap().push_back(RefreshFault { status, retry_after: Some(secs) });
    }

    /// The e-mail of Google (and Qwen) grants issued from now on (default [`DEFAULT_EMAIL`]).
    pub fn set_email(&self, email: &str) {
        self.shared.settings().email = email.to_owned();
    }

    /// Requires this Google client: another id → 401 `invalid_client` "The OAuth client was not found.", another
    /// secret → 401 `invalid_client` "Unauthorized". By default any id with a non-empty secret works.
    pub fn set_google_client(&self, client_id: &str, client_secret: &str) {
        self.shared.settings().google_client = Some((client_id.to_owned(), client_secret.to_owned()));
    }

    /// Requires this iFlow client in the Basic auth of `/iflow/token` (by default any pair works).
    pub fn set_iflow_client(&self, client_id: &str, client_secret: &str) {
        self.shared.settings().iflow_client = Some((client_id.to_owned(), client_secret.to_owned()));
    }

    /// `data.email` of iFlow grants issued from now on (`None` → `""`, so clients fall back to the phone).
    pub fn set_iflow_email(&self, email: Option<&str>) {
        self.shared.settings().iflow_email = email.map(str::to_owned);
    }

    /// Whether an iFlow refresh also replaces the grant's API key (default `false`).
    pub fn set_iflow_new_key_on_refresh(&self, new_key: bool) {
        self.shared.settings().iflow_new_key_on_refresh = new_key;
    }

    /// The `BXAuth` cookie value `/iflow/apikey` accepts (default [`DEFAULT_IFLOW_COOKIE`]).
    pub fn set_iflow_cookie(&self, value: &str) {
        self.shared.settings().iflow_cookie = value.to_owned();
    }

    /// The `expireTime` (`YYYY-MM-DD HH:MM`) `/iflow/apikey` reports for the current and next keys; `None` (the
    /// default) → 30 days after the key was issued.
    pub fn set_iflow_key_expire_time(&self, expire_time: Option<&str>) {
        self.shared.settings().iflow_key_expire_time = expire_time.map(str::to_owned);
    }

    /// The current cookie-flow API key, its name and `expireTime`.
    pub fn iflow_cookie_key(&self) -> (String, String, String) {
        let key = self.shared.cookie_key.lock().unwrap();
        let expire = self.shared.settings().iflow_key_expire_time.clone().unwrap_or_else(|| key.expire_time.clone());
        (key.api_key.clone(), key.name.clone(), expire)
    }

    /// `interval` of device authorizations from now on, in seconds (default 1). Fractions and 0 make tests fast;
    /// it is sent as a JSON integer when whole, else as a float — real clients that read an integer floor it.
    pub fn set_device_interval(&self, secs: f64) {
        self.shared.settings().device_interval = secs;
    }

    /// `expires_in` of device codes from now on (default 300); polls after it answer `expired_token`.
    pub fn set_device_expires_in(&self, secs: u64) {
        self.shared.settings().device_expires_in = secs;
    }

    /// The answers to successive polls of device codes issued from now on (the last step repeats; after
    /// `Success` the code is used up). Default: `[Pending, SlowDown, Success]`.
    pub fn set_device_script(&self, script: &[DeviceStep]) {
        assert!(!script.is_empty(), "a device script needs at least one step");
        self.shared.settings().device_script = script.to_vec();
    }

    /// `resource_url` of Qwen token answers (default `Some("portal.qwen.ai")`; `None` leaves it out).
    pub fn set_resource_url(&self, url: Option<&str>) {
        self.shared.settings().resource_url = url.map(str::to_owned);
    }

    /// Device codes issued, in order.
    pub fn device_codes(&self) -> Vec<String> {
        self.shared.devices.lock().unwrap().iter().map(|d| d.device_code.clone()).collect()
    }

    /// When each token poll of `device_code` arrived.
    pub fn device_polls(&self, device_code: &str) -> Vec<Instant> {
        let devices = self.shared.devices.lock().unwrap();
        devices.iter().find(|d| d.device_code == device_code).map(|d| d.polls.clone()).unwrap_or_default()
    }

    // --- Shortcuts for tests that only need tokens ---------------------------------------------------------

    /// A Google grant for `client_id`, as if a login had happened (e-mail from [`set_email`](Self::set_email)).
    pub fn issue_google(&self, client_id: &str) -> IssuedTokens {
        let s = self.shared.settings();
        self.shared.tokens.issue(Family::Google, client_id, &s.email, GOOGLE_SCOPES, s.expires_in(Family::Google))
    }

    /// A Qwen grant for `client_id`.
    pub fn issue_qwen(&self, client_id: &str) -> IssuedTokens {
        let s = self.shared.settings();
        self.shared.tokens.issue(Family::Qwen, client_id, &s.email, device::QWEN_SCOPE, s.expires_in(Family::Qwen))
    }

    /// An iFlow grant for `client_id` (with its API key).
    pub fn issue_iflow(&self, client_id: &str) -> IssuedTokens {
        let s = self.shared.settings();
        let email = s.iflow_email.clone().unwrap_or_default();
        self.shared.tokens.issue(Family::IFlow, client_id, &email, iflow::IFLOW_SCOPE, s.expires_in(Family::IFlow))
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
    let (mut req, _) = RecordedRequest::capture(&method, &uri, &headers, &raw);
    // Form bodies are recorded as JSON objects of strings, for easy asserts.
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        req.body = Value::Object(decode_form(&String::from_utf8_lossy(&raw)));
    }
    shared.requests.lock().unwrap().push(req.clone());
    let query = decode_form(req.query.as_deref().unwrap_or(""));
    let form = req.body.as_object().cloned().unwrap_or_default();
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/authorize") => google::authorize(&shared, &query),
        ("POST", "/token") => match field(&form, "grant_type") {
            "authorization_code" => google::exchange(&shared, &form),
            "refresh_token" => {
                let client_id = field(&form, "client_id").to_owned();
                let secret = form.get("client_secret").and_then(Value::as_str).map(str::to_owned);
                refresh(&shared, &form, &[Family::Google, Family::Qwen], &client_id, secret.as_deref()).await
            }
            device::GRANT_TYPE => device::poll(&shared, &form),
            other => oauth_error(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")),
        },
        ("GET", "/userinfo") => google::userinfo(&shared, &req),
        ("POST", "/device/code") => device::authorize(&shared, &form),
        ("GET", "/iflow/authorize") => iflow::authorize(&shared, &query),
        ("POST", "/iflow/token") => iflow::token(&shared, &req, &form).await,
        ("GET", "/iflow/userinfo") => iflow::userinfo(&shared, &query),
        ("GET" | "POST", "/iflow/apikey") => iflow::apikey(&shared, &req),
        (m, p) => json_response(404, &json!({"error": "not_found", "error_description": format!("No route {m} {p}")})),
    }
}

/// `grant_type=refresh_token` at `/token` (Google, Qwen) or `/iflow/token` (iFlow, whose client comes from Basic
/// auth): counted, delayed, possibly failed by a queued fault, then checked and answered.
async fn refresh(
    shared: &Shared,
    form: &Map<String, Value>,
    families: &[Family],
    client_id: &str,
    client_secret: Option<&str>,
) -> Response {
    shared.refresh_calls.fetch_add(1, Ordering::SeqCst);
    let delay = shared.settings().refresh_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let iflow = families == [Family::IFlow];
    if let Some(fault) = shared.faults.lock().unwrap().pop_front() {
        return fault_response(fault, iflow);
    }
    let refresh_token = field(form, "refresh_token");
    if refresh_token.is_empty() {
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token");
    }
    let family = shared.tokens.refresh_family(refresh_token).filter(|f| families.contains(f));
    if family == Some(Family::Google)
        && let Err(resp) = google::check_client(shared, client_id, client_secret)
    {
        return resp;
    }
    let policy = shared.settings().refresh_policy(family.unwrap_or(families[0]));
    match shared.tokens.refresh(refresh_token, families, client_id, policy) {
        Ok(issued) => match family.unwrap_or(families[0]) {
            Family::Google => json_response(200, &google::token_answer(&issued, issued.rotated)),
            Family::Qwen => json_response(200, &device::token_answer(shared, &issued)),
            Family::IFlow => iflow::token_answer(&issued),
        },
        Err(RefreshError::InvalidGrant) if iflow => oauth_error(400, "invalid_grant", "invalid refresh token"),
        Err(RefreshError::InvalidGrant) => oauth_error(400, "invalid_grant", EXPIRED_OR_REVOKED),
        Err(RefreshError::WrongClient) => oauth_error(401, "unauthorized_client", "Unauthorized"),
    }
}

fn fault_response(fault: RefreshFault, iflow: bool) -> Response {
    let mut resp = match fault.status {
        200 if iflow => {
            json_response(200, &json!({"success": false, "code": "500", "message": "mock refresh failure"}))
        }
        200 => json_response(200, &json!({"token_type": "Bearer"})),
        400 => oauth_error(400, "invalid_grant", EXPIRED_OR_REVOKED),
        401 => oauth_error(401, "invalid_client", "Unauthorized"),
        403 => oauth_error(403, "access_denied", "Forbidden"),
        429 => oauth_error(429, "rate_limit_exceeded", "Rate limit exceeded. Try again later."),
        s => oauth_error(s, "internal_failure", "Backend Error"),
    };
    if let Some(secs) = fault.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// `a=1&b=x+y` → `{"a":"1","b":"x y"}` (percent-decoded; a repeated name keeps the last value).
pub fn decode_form(s: &str) -> Map<String, Value> {
    let mut map = Map::new();
    if s.is_empty() {
        return map;
    }
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{}", s.replace('#', "%23"))).expect("form as query");
    for (k, v) in url.query_pairs() {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    map
}

/// `a=1&b=x%20y` from pairs, for tests posting forms (reqwest's `form` feature is off).
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("url");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or("").to_owned()
}

/// A string field of a decoded form (`""` when missing).
fn field<'a>(form: &'a Map<String, Value>, name: &str) -> &'a str {
    form.get(name).and_then(Value::as_str).unwrap_or("")
}

/// RFC 7636: `plain` compares as is, `S256` (the default) compares `BASE64URL(SHA256(verifier))`.
pub fn pkce_matches(challenge: &str, method: &str, verifier: &str) -> bool {
    if method == "plain" { challenge == verifier } else { pkce_challenge(verifier) == challenge }
}

/// The S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `{"error", "error_description"}` (RFC 6749 §5.2, as Google's token endpoint answers).
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_response(status, &json!({"error": error, "error_description": description}))
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    let ct = HeaderValue::from_static("application/json; charset=utf-8");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

/// A 302 to `base` with `params` appended to its query.
fn redirect(base: &str, params: &[(&str, &str)]) -> Response {
    let location = match reqwest::Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        Err(_) => return bad_request(&format!("Invalid redirect URI: {base}")),
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    resp.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("location header"));
    resp
}

/// A plain-text 400, as consent pages show malformed requests.
fn bad_request(message: &str) -> Response {
    let mut resp = Response::new(Body::from(format!("Error 400: invalid_request\n{message}")));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `(year, month, day, hour, minute, second)` of a unix time, in UTC.
pub fn utc_parts(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = i64::try_from(secs / 86_400).expect("days");
    let rem = u32::try_from(secs % 86_400).expect("seconds of day");
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("day");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("month");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `YYYY-MM-DDTHH:MM:SSZ`
pub fn rfc3339(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}
