//! A small mock identity provider for the login and refresh tests, on `127.0.0.1:0`.
//!
//! - `GET /authorize` records the PKCE challenge and redirects (302) to the request's
//!   `redirect_uri` (iFlow: `redirect`) with `code=good-code` and the request's `state` (or a
//!   wrong state, or `error=access_denied`, per [`AuthorizeMode`]).
//! - `POST /device` records the PKCE challenge of a device authorization request.
//! - `POST /token` VERIFIES any `code_verifier` against the last recorded challenge
//!   (`BASE64URL(SHA-256(verifier))`) and a `code` against `good-code`, answering
//!   `400 invalid_grant` on a mismatch.
//! - Every path answers its scripted responses in order; the last one repeats. `/token` without
//!   a script issues a default token set; other unscripted paths answer 404.
//!
//! Every request is recorded (method, path, query, form or JSON body, headers, arrival time).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use oauth2::url::form_urlencoded;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) const GOOD_CODE: &str = "good-code";
pub(crate) const DEFAULT_ACCESS: &str = "ya29.DEFAULT-ACCESS-SECRET";
pub(crate) const DEFAULT_REFRESH: &str = "1//DEFAULT-REFRESH-SECRET";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthorizeMode {
    Normal,
    WrongState,
    Deny,
}

#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub json: Option<Value>,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Scripted {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

struct MockState {
    requests: Mutex<Vec<Recorded>>,
    last_challenge: Mutex<Option<String>>,
    authorize_mode: Mutex<AuthorizeMode>,
    scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
}

pub(crate) struct MockIdp {
    pub base: String,
    state: Arc<MockState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockIdp {
    pub async fn start() -> Self {
        let state = Arc::new(MockState {
            requests: Mutex::new(Vec::new()),
            last_challenge: Mutex::new(None),
            authorize_mode: Mutex::new(AuthorizeMode::Normal),
            scripts: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn script(&self, path: &str, status: u16, body: Value) {
        self.script_with_headers(path, status, body, Vec::new());
    }

    pub fn script_with_headers(&self, path: &str, status: u16, body: Value, headers: Vec<(&'static str, String)>) {
        self.state.scripts.lock().unwrap().entry(path.to_string()).or_default().push_back(Scripted {
            status,
            body,
            headers,
        });
    }

    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        *self.state.authorize_mode.lock().unwrap() = mode;
    }

    /// Records a challenge as if `/authorize` had seen it (manual-mode tests, where the
    /// "browser" runs elsewhere).
    pub fn challenge_setter(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let state = self.state.clone();
        move |challenge| *state.last_challenge.lock().unwrap() = Some(challenge.to_string())
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

async fn handle(State(state): State<Arc<MockState>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let parse = |text: &[u8]| -> HashMap<String, String> { form_urlencoded::parse(text).into_owned().collect() };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parse(parts.uri.query().unwrap_or_default().as_bytes()),
        form: if content_type.starts_with("application/x-www-form-urlencoded") {
            parse(&bytes)
        } else {
            HashMap::new()
        },
        json: serde_json::from_slice(&bytes).ok(),
        headers: parts.headers.clone(),
        at: Instant::now(),
    };
    state.requests.lock().unwrap().push(recorded.clone());

    match recorded.path.as_str() {
        "/authorize" => {
            let q = &recorded.query;
            if let Some(challenge) = q.get("code_challenge") {
                *state.last_challenge.lock().unwrap() = Some(challenge.clone());
            }
            let target = q.get("redirect_uri").or_else(|| q.get("redirect")).cloned().unwrap_or_default();
            let real_state = q.get("state").cloned().unwrap_or_default();
            let query = match *state.authorize_mode.lock().unwrap() {
                AuthorizeMode::Normal => format!("code={GOOD_CODE}&state={real_state}"),
                AuthorizeMode::WrongState => format!("code={GOOD_CODE}&state=forged-state"),
                AuthorizeMode::Deny => format!("error=access_denied&error_description=User+said+no&state={real_state}"),
            };
            return (StatusCode::FOUND, [(header::LOCATION, format!("{target}?{query}"))]).into_response();
        }
        "/device" => {
            if let Some(challenge) = recorded.form.get("code_challenge") {
                *state.last_challenge.lock().unwrap() = Some(challenge.clone());
            }
        }
        "/token" => {
            let form = &recorded.form;
            if let Some(verifier) = form.get("code_verifier") {
                let challenge = state.last_challenge.lock().unwrap().clone().unwrap_or_default();
                if !pkce_matches(verifier, &challenge) {
                    return error(400, "invalid_grant", "PKCE verification failed");
                }
            }
            if form.get("grant_type").map(String::as_str) == Some("authorization_code")
                && form.get("code").map(String::as_str) != Some(GOOD_CODE)
            {
                return error(400, "invalid_grant", "unknown code");
            }
        }
        _ => {}
    }

    let scripted = {
        let mut scripts = state.scripts.lock().unwrap();
        scripts
            .get_mut(&recorded.path)
            .and_then(|queue| if queue.len() > 1 { queue.pop_front() } else { queue.front().cloned() })
    };
    match scripted {
        Some(s) => {
            let mut response = (StatusCode::from_u16(s.status).unwrap(), axum::Json(s.body)).into_response();
            for (name, value) in s.headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        None if recorded.path == "/token" => axum::Json(json!({
            "access_token": DEFAULT_ACCESS, "refresh_token": DEFAULT_REFRESH, "expires_in": 3599,
            "token_type": "Bearer", "scope": "openid email", "id_token": "eyJ.DEFAULT-ID-TOKEN"
        }))
        .into_response(),
        None => error(404, "not_found", "unscripted path"),
    }
}

fn error(status: u16, code: &str, description: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({"error": code, "error_description": description})))
        .into_response()
}
