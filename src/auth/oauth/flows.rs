//! Interactive OAuth logins (credentials specification §8.1, §9–§12): authorization code with
//! PKCE and a loopback callback (Gemini CLI, Antigravity), authorization code with HTTP Basic
//! client authentication (iFlow flow A), and the device authorization grant (Qwen Code).
//!
//! A login returns the issued tokens; storing them is the caller's job. Nothing here logs or
//! formats a token value: errors carry HTTP statuses and OAuth `error` codes only.
//!
//! The `http` client given to [`login`] should not follow redirects
//! (`redirect(Policy::none())`): token endpoints never redirect, and a redirected POST would
//! carry the code or verifier somewhere else.
//!
//! PKCE pairs and `state` values come from the `oauth2` crate; the requests themselves are built
//! here, because each provider bends the standard somewhere (Google's client headers, iFlow's
//! Basic authentication and wrapped answers, Qwen's `slow_down` over HTTP 429).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use oauth2::url::{Url, form_urlencoded};
use oauth2::{CsrfToken, PkceCodeChallenge};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::oneshot;

use super::TokenSet;
use super::providers::{FlowKind, OAuthEndpoints};

/// Google's login calls identify as the Node.js client the official CLIs use (§9).
const GOOGLE_LOGIN_USER_AGENT: &str = "google-api-nodejs-client/9.15.1";
const GOOGLE_LOGIN_API_CLIENT: &str = "gl-node/22.16.0 auth/9.15.1";
/// Where iFlow's callback sends the browser (§12).
const IFLOW_SUCCESS_PAGE: &str = "https://iflow.cn/oauth/success";
const IFLOW_ERROR_PAGE: &str = "https://iflow.cn/oauth/error";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Device flow: the default poll interval and the ceiling `slow_down` raises it to (§11).
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// Device flow: consecutive network errors or 5xx answers tolerated while polling.
const MAX_POLL_FAILURES: u32 = 3;
/// Default token lifetime when an answer has no `expires_in`.
pub(crate) const DEFAULT_EXPIRES_IN_SECS: i64 = 3600;

/// How `llmkp auth add` runs a login.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// Print the URL only; never open a browser.
    pub no_browser: bool,
    /// Callback port (`--port`); else the provider's `…_OAUTH_PORT` or default. `0` picks a free
    /// port (the actual one goes into `redirect_uri`).
    pub port: Option<u16>,
    /// No local callback: the user pastes the final redirect URL or the bare `code`.
    pub manual: bool,
    /// The whole interactive wait (callback or device polling); 300 s by default.
    pub timeout: Duration,
    /// Device flow: the smallest poll interval used, whatever the server asks for (1 s by
    /// default, so a server sending `interval: 0` is not hammered). The server's `interval` is
    /// read in seconds and may be fractional; tests set this floor to zero and let their mock
    /// answer `interval: 0.1` so a poll does not cost 5 s.
    pub min_poll_interval: Duration,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            no_browser: false,
            port: None,
            manual: false,
            timeout: Duration::from_secs(300),
            min_poll_interval: Duration::from_secs(1),
        }
    }
}

/// What a login shows to, and asks of, the user (the CLI prints to stderr and reads stdin).
pub trait LoginUi: Send + Sync {
    /// The authorization URL to open (always called, browser or not).
    fn show_url(&self, url: &str);
    /// Device flow: where to go and the code to confirm there.
    fn show_device_code(&self, verification_uri: &str, user_code: &str);
    /// `--manual`: the pasted redirect URL (or bare `code`); `None` when the user gave up.
    /// Called on the async thread: it may block on the terminal.
    fn read_manual_redirect(&self) -> Option<String>;
}

/// The tokens a login produced and the account identity, when the provider reports one.
#[derive(Debug)]
pub struct LoginResult {
    pub tokens: TokenSet,
    /// Google: user info `email`; iFlow: `email`, else `phone`; Qwen Code: `None`.
    pub email: Option<String>,
}

/// Why a login failed. No variant carries a token, code or verifier.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the login timed out after {} s without an answer", .0.as_secs())]
    Timeout(Duration),
    #[error("the redirect's state does not match this login (a stale or forged redirect); start the login again")]
    StateMismatch,
    #[error("the authorization was refused: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied { error: String, description: Option<String> },
    #[error("the {endpoint} endpoint refused the request (HTTP {status}{})", .error.as_deref().map(|e| format!(", {e}")).unwrap_or_default())]
    Refused { endpoint: &'static str, status: u16, error: Option<String> },
    #[error("the device code expired before the login was confirmed; start the login again")]
    DeviceCodeExpired,
    #[error("network error: {0}")]
    Network(String),
    #[error("cannot listen on 127.0.0.1:{port} for the login callback: {source} (choose another port with --port)")]
    Bind { port: u16, source: std::io::Error },
    #[error("unexpected answer from the {endpoint} endpoint: {detail}")]
    InvalidResponse { endpoint: &'static str, detail: String },
    #[error("the login was cancelled (no authorization code was given)")]
    Cancelled,
}

/// Runs the provider's interactive login.
pub async fn login(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    options: &LoginOptions,
    ui: &dyn LoginUi,
) -> Result<LoginResult, FlowError> {
    match endpoints.provider.flow() {
        FlowKind::AuthCodePkce => auth_code_pkce(http, endpoints, options, ui).await,
        FlowKind::AuthCodeBasic => auth_code_basic(http, endpoints, options, ui).await,
        FlowKind::Device => device(http, endpoints, options, ui).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization code + PKCE (Gemini CLI, Antigravity)

async fn auth_code_pkce(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    options: &LoginOptions,
    ui: &dyn LoginUi,
) -> Result<LoginResult, FlowError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = new_state();
    let code = obtain_code(endpoints, options, ui, CallbackStyle::Html, &state, |redirect_uri| {
        let mut url = parse_endpoint(&endpoints.auth_uri, "authorization")?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("scope", &endpoints.scopes.join(" "))
            .append_pair("client_id", &endpoints.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &state)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    })
    .await?;

    let body = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", code.code.expose_secret()),
        ("redirect_uri", &code.redirect_uri),
        ("client_id", &endpoints.client_id),
        ("client_secret", endpoints.client_secret.as_deref().unwrap_or_default()),
        ("code_verifier", verifier.secret()),
    ]);
    let request = http
        .post(&endpoints.token_uri)
        .header(header::USER_AGENT, GOOGLE_LOGIN_USER_AGENT)
        .header("X-Goog-Api-Client", GOOGLE_LOGIN_API_CLIENT);
    let json = post_form(request, body, "token").await?;
    let tokens = token_set_from_json(&json, crate::store::now_ms())
        .ok_or_else(|| invalid("token", "no access_token in the answer"))?;

    let email = match google_email(http, endpoints, &tokens).await {
        Ok(email) => email,
        Err(e) => {
            tracing::warn!(provider = endpoints.provider.name(), "could not read the account's e-mail: {e}");
            None
        }
    };
    Ok(LoginResult { tokens, email })
}

async fn google_email(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    tokens: &TokenSet,
) -> Result<Option<String>, FlowError> {
    let (Some(uri), Some(access)) = (&endpoints.userinfo_uri, &tokens.access_token) else { return Ok(None) };
    let request = http
        .get(uri)
        .bearer_auth(access.expose_secret())
        .header(header::USER_AGENT, GOOGLE_LOGIN_USER_AGENT)
        .header("X-Goog-Api-Client", GOOGLE_LOGIN_API_CLIENT)
        .header(header::ACCEPT, "application/json");
    let json = send_json(request, "user info").await?;
    Ok(json.get("email").and_then(Value::as_str).map(str::to_string))
}

// ---------------------------------------------------------------------------------------------
// Authorization code + Basic client authentication (iFlow flow A)

async fn auth_code_basic(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    options: &LoginOptions,
    ui: &dyn LoginUi,
) -> Result<LoginResult, FlowError> {
    let state = new_state();
    let code = obtain_code(endpoints, options, ui, CallbackStyle::IflowRedirect, &state, |redirect_uri| {
        let mut url = parse_endpoint(&endpoints.auth_uri, "authorization")?;
        url.query_pairs_mut()
            .append_pair("loginMethod", "phone")
            .append_pair("type", "phone")
            .append_pair("redirect", redirect_uri)
            .append_pair("state", &state)
            .append_pair("client_id", &endpoints.client_id);
        Ok(url)
    })
    .await?;

    let secret = endpoints.client_secret.as_deref().unwrap_or_default();
    let body = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", code.code.expose_secret()),
        ("redirect_uri", &code.redirect_uri),
        ("client_id", &endpoints.client_id),
        ("client_secret", secret),
    ]);
    let request = http.post(&endpoints.token_uri).basic_auth(&endpoints.client_id, Some(secret));
    let json = unwrap_iflow(post_form(request, body, "token").await?, "token")?;
    let mut tokens = token_set_from_json(&json, crate::store::now_ms())
        .ok_or_else(|| invalid("token", "no access_token in the answer"))?;

    let info = iflow_user_info(http, endpoints, &tokens).await?;
    tokens.api_key = Some(info.api_key);
    Ok(LoginResult { tokens, email: info.identity })
}

/// iFlow's user info: the API key requests are made with, and the account identity.
pub(crate) struct IflowUserInfo {
    pub api_key: SecretString,
    pub identity: Option<String>,
}

/// `GET {userinfo}?accessToken=…` → `{"success":true,"data":{"apiKey","email","phone"}}` (§12).
pub(crate) async fn iflow_user_info(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    tokens: &TokenSet,
) -> Result<IflowUserInfo, FlowError> {
    let uri = endpoints.userinfo_uri.as_deref().ok_or_else(|| invalid("user info", "no user-info endpoint"))?;
    let access = tokens.access_token.as_ref().ok_or_else(|| invalid("user info", "no access token"))?;
    let mut url = parse_endpoint(uri, "user info")?;
    url.query_pairs_mut().append_pair("accessToken", access.expose_secret());
    let request = http.get(url).header(header::ACCEPT, "application/json");
    let data = unwrap_iflow(send_json(request, "user info").await?, "user info")?;
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let api_key = text("apiKey").ok_or_else(|| invalid("user info", "no apiKey in the answer"))?;
    Ok(IflowUserInfo {
        api_key: SecretString::from(api_key.to_string()),
        identity: text("email").or_else(|| text("phone")).map(str::to_string),
    })
}

/// iFlow answers may come wrapped as `{"success": …, "data": {…}}`: the payload is `data`, and
/// `success: false` is a refusal (its `code`/`message` as the error code when they look like one).
pub(crate) fn unwrap_iflow(json: Value, endpoint: &'static str) -> Result<Value, FlowError> {
    if json.get("success").and_then(Value::as_bool) == Some(false) {
        let code = ["code", "message", "error"].iter().find_map(|k| json.get(*k).and_then(error_code_of));
        return Err(FlowError::Refused { endpoint, status: 200, error: code });
    }
    if json.get("access_token").is_none()
        && let Some(data) = json.get("data").filter(|d| d.is_object())
    {
        return Ok(data.clone());
    }
    Ok(json)
}

// ---------------------------------------------------------------------------------------------
// Loopback callback (both authorization-code flows)

#[derive(Clone, Copy, PartialEq, Eq)]
enum CallbackStyle {
    /// Answer with a short HTML page (Google).
    Html,
    /// Answer with a redirect to iFlow's success or error page.
    IflowRedirect,
}

/// An authorization code and the `redirect_uri` it was issued for.
struct AuthCode {
    code: SecretString,
    redirect_uri: String,
}

enum CallbackOutcome {
    Code(SecretString),
    Denied { error: String, description: Option<String> },
}

/// Gets the authorization code: through a one-shot loopback server, or (`--manual`) from what
/// the user pastes. `build_url` turns the redirect URI into the authorization URL.
async fn obtain_code(
    endpoints: &OAuthEndpoints,
    options: &LoginOptions,
    ui: &dyn LoginUi,
    style: CallbackStyle,
    state: &str,
    build_url: impl FnOnce(&str) -> Result<Url, FlowError>,
) -> Result<AuthCode, FlowError> {
    let port = options.port.unwrap_or(endpoints.callback_port);
    if options.manual {
        // Nothing listens: port 0 cannot be resolved to a real port, so the default stands in.
        let port = if port == 0 { endpoints.callback_port } else { port };
        let redirect_uri = redirect_uri(port, endpoints.callback_path);
        let url = build_url(&redirect_uri)?;
        present_url(ui, url.as_str(), options);
        let pasted = ui.read_manual_redirect().ok_or(FlowError::Cancelled)?;
        let code = code_from_pasted(&pasted, state)?;
        return Ok(AuthCode { code, redirect_uri });
    }

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| FlowError::Bind { port, source })?;
    let actual_port = listener.local_addr().map_err(|source| FlowError::Bind { port, source })?.port();
    let redirect_uri = redirect_uri(actual_port, endpoints.callback_path);
    let url = build_url(&redirect_uri)?;

    let (outcome_tx, outcome_rx) = oneshot::channel();
    let shared =
        Arc::new(CallbackState { expected_state: state.to_string(), style, sender: Mutex::new(Some(outcome_tx)) });
    let path = if endpoints.callback_path.starts_with('/') { endpoints.callback_path } else { "/" };
    let app = axum::Router::new().route(path, axum::routing::get(callback)).with_state(shared);
    let server = CallbackServer::start(listener, app);

    present_url(ui, url.as_str(), options);
    let outcome = match tokio::time::timeout(options.timeout, outcome_rx).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => return Err(FlowError::Cancelled),
        Err(_) => return Err(FlowError::Timeout(options.timeout)),
    };
    server.stop().await;
    match outcome {
        CallbackOutcome::Code(code) => Ok(AuthCode { code, redirect_uri }),
        CallbackOutcome::Denied { error, description } => Err(FlowError::Denied { error, description }),
    }
}

fn redirect_uri(port: u16, path: &str) -> String {
    format!("http://localhost:{port}{path}")
}

/// Shows the URL, and opens a browser when allowed and a display seems available.
fn present_url(ui: &dyn LoginUi, url: &str, options: &LoginOptions) {
    ui.show_url(url);
    if !options.no_browser && display_available() {
        let url = url.to_string();
        // A text-mode browser blocks until it exits: never on the async thread.
        std::thread::spawn(move || {
            if let Err(e) = webbrowser::open(&url) {
                tracing::debug!("could not open a browser: {e}");
            }
        });
    }
}

fn display_available() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    cfg!(any(target_os = "macos", windows)) || set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// A pasted redirect URL (or its query), or a bare code. A `state` in it must match; an
/// `error` in it is the user's refusal.
fn code_from_pasted(pasted: &str, expected_state: &str) -> Result<SecretString, FlowError> {
    let pasted = pasted.trim();
    if pasted.is_empty() {
        return Err(FlowError::Cancelled);
    }
    let query = if pasted.contains("://") {
        // A URL without a query holds no code (the user copied the wrong address).
        Some(Url::parse(pasted).ok().and_then(|u| u.query().map(str::to_string)).ok_or(FlowError::Cancelled)?)
    } else if pasted.contains("code=") || pasted.contains("error=") {
        Some(pasted.trim_start_matches('?').to_string())
    } else {
        None
    };
    let Some(query) = query else {
        // A bare code; one copied percent-encoded (`4%2F0A…`) is decoded.
        let code = if pasted.contains('%') {
            form_urlencoded::parse(format!("c={pasted}").as_bytes()).next().map(|(_, v)| v.into_owned())
        } else {
            None
        };
        return Ok(SecretString::from(code.unwrap_or_else(|| pasted.to_string())));
    };
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if let Some(state) = params.get("state")
        && !states_equal(state, expected_state)
    {
        return Err(FlowError::StateMismatch);
    }
    if let Some(error) = params.get("error") {
        return Err(FlowError::Denied {
            error: sanitize(error),
            description: params.get("error_description").map(|d| sanitize(d)),
        });
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(SecretString::from(code.clone())),
        None => Err(FlowError::Cancelled),
    }
}

struct CallbackState {
    expected_state: String,
    style: CallbackStyle,
    sender: Mutex<Option<oneshot::Sender<CallbackOutcome>>>,
}

/// The callback route. A request without the expected `state` is refused and ignored (the login
/// keeps waiting: a stale tab or a forged request cannot end it); the first request with it ends
/// the login, with its `code` or its `error`.
async fn callback(State(shared): State<Arc<CallbackState>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let iflow = shared.style == CallbackStyle::IflowRedirect;
    let state_ok = params.get("state").is_some_and(|s| states_equal(s, &shared.expected_state));
    let outcome = match (params.get("code").filter(|c| !c.is_empty()), params.get("error")) {
        _ if !state_ok => None,
        (_, Some(error)) => Some(CallbackOutcome::Denied {
            error: sanitize(error),
            description: params.get("error_description").map(|d| sanitize(d)),
        }),
        (Some(code), None) => Some(CallbackOutcome::Code(SecretString::from(code.clone()))),
        (None, None) => None,
    };
    let Some(outcome) = outcome else {
        if iflow {
            return found(IFLOW_ERROR_PAGE);
        }
        let text = if state_ok {
            "The redirect carries no authorization code."
        } else {
            "State mismatch: this request was ignored."
        };
        return (StatusCode::BAD_REQUEST, page("Login failed", text)).into_response();
    };
    let success = matches!(outcome, CallbackOutcome::Code(_));
    let Some(sender) = shared.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
        return (StatusCode::CONFLICT, page("Already handled", "This login has already received its answer."))
            .into_response();
    };
    let _ = sender.send(outcome);
    match (iflow, success) {
        (true, true) => found(IFLOW_SUCCESS_PAGE),
        (true, false) => found(IFLOW_ERROR_PAGE),
        (false, true) => {
            page("Login complete", "llmkp received the authorization. You can close this window.").into_response()
        }
        (false, false) => {
            (StatusCode::OK, page("Login cancelled", "The authorization was refused. You can close this window."))
                .into_response()
        }
    }
}

/// `302 Found` (axum's `Redirect` offers 303, 307 and 308 only).
fn found(location: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn page(title: &str, text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    ))
}

/// The running loopback server; aborted when dropped (early return, cancelled future).
struct CallbackServer {
    task: tokio::task::JoinHandle<()>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl CallbackServer {
    fn start(listener: tokio::net::TcpListener, app: axum::Router) -> Self {
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = shutdown_rx.await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::debug!("login callback server: {e}");
            }
        });
        Self { task, shutdown: Some(shutdown) }
    }

    /// Stops accepting, lets the answer in flight reach the browser (at most 2 s).
    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Device authorization grant with PKCE (Qwen Code)

async fn device(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    options: &LoginOptions,
    ui: &dyn LoginUi,
) -> Result<LoginResult, FlowError> {
    const ENDPOINT: &str = "device authorization";
    let device_uri = endpoints.device_code_uri.as_deref().ok_or_else(|| invalid(ENDPOINT, "no device endpoint"))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scope = endpoints.scopes.join(" ");
    let body = form_body(&[
        ("client_id", &endpoints.client_id),
        ("scope", &scope),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let answer = post_form(http.post(device_uri), body, ENDPOINT).await?;
    let text = |key: &str| answer.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let device_code = text("device_code").ok_or_else(|| invalid(ENDPOINT, "no device_code in the answer"))?;
    let user_code = text("user_code").unwrap_or_default();
    let verification = text("verification_uri_complete")
        .or_else(|| text("verification_uri"))
        .ok_or_else(|| invalid(ENDPOINT, "no verification_uri in the answer"))?;
    let expires_in = answer.get("expires_in").and_then(seconds_of).filter(|d| !d.is_zero());
    let mut interval = answer
        .get("interval")
        .and_then(seconds_of)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_POLL_INTERVAL)
        .max(options.min_poll_interval);
    ui.show_device_code(verification, user_code);

    // The code's own lifetime or the login timeout, whichever ends first.
    let (limit, limited_by_code) = match expires_in {
        Some(e) if e <= options.timeout => (e, true),
        _ => (options.timeout, false),
    };
    let deadline = tokio::time::Instant::now() + limit;
    let out_of_time =
        || if limited_by_code { FlowError::DeviceCodeExpired } else { FlowError::Timeout(options.timeout) };
    let body = form_body(&[
        ("grant_type", DEVICE_GRANT),
        ("client_id", &endpoints.client_id),
        ("device_code", device_code),
        ("code_verifier", verifier.secret()),
    ]);
    let mut failures = 0;
    loop {
        if tokio::time::Instant::now() + interval > deadline {
            return Err(out_of_time());
        }
        tokio::time::sleep(interval).await;
        let request = http
            .post(&endpoints.token_uri)
            .header(header::CONTENT_TYPE, FORM_CONTENT_TYPE)
            .header(header::ACCEPT, "application/json")
            .body(body.clone());
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                failures += 1;
                if failures >= MAX_POLL_FAILURES {
                    return Err(network(e));
                }
                tracing::debug!("device-flow poll failed, retrying: {}", network(e));
                continue;
            }
        };
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return token_set_from_json(&json, crate::store::now_ms())
                .map(|tokens| LoginResult { tokens, email: None })
                .ok_or_else(|| invalid("token", "no access_token in the answer"));
        }
        let code = json.get("error").and_then(error_code_of);
        // Qwen sends `slow_down` with HTTP 429 (RFC 8628: 400); a bare 429 means the same.
        let slow_down =
            code.as_deref() == Some("slow_down") || (code.is_none() && status == StatusCode::TOO_MANY_REQUESTS);
        match code.as_deref() {
            _ if slow_down => {
                failures = 0;
                interval = slowed_down(interval);
                tracing::debug!(interval_ms = interval.as_millis(), "device flow: slow_down");
            }
            Some("authorization_pending") => failures = 0,
            Some("expired_token") => return Err(FlowError::DeviceCodeExpired),
            Some("access_denied") => {
                return Err(FlowError::Denied {
                    error: "access_denied".into(),
                    description: json.get("error_description").and_then(Value::as_str).map(sanitize),
                });
            }
            None if status.is_server_error() && failures + 1 < MAX_POLL_FAILURES => failures += 1,
            _ => return Err(FlowError::Refused { endpoint: "token", status: status.as_u16(), error: code }),
        }
    }
}

/// `slow_down`: the interval grows by half, up to 10 s (the official Qwen Code client's rule);
/// an interval already above the ceiling is kept.
pub(crate) fn slowed_down(interval: Duration) -> Duration {
    interval.mul_f64(1.5).min(MAX_POLL_INTERVAL).max(interval)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by `refresh.rs`)

/// A fresh `state`: 256 random bits, base64url, drawn separately from the PKCE verifier.
fn new_state() -> String {
    CsrfToken::new_random_len(32).secret().clone()
}

fn states_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `application/x-www-form-urlencoded` body.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn parse_endpoint(uri: &str, endpoint: &'static str) -> Result<Url, FlowError> {
    Url::parse(uri).map_err(|e| invalid(endpoint, &format!("invalid URL: {e}")))
}

fn invalid(endpoint: &'static str, detail: &str) -> FlowError {
    FlowError::InvalidResponse { endpoint, detail: detail.to_string() }
}

/// A transport error without its URL (iFlow's user-info URL carries the access token).
pub(crate) fn network(e: reqwest::Error) -> FlowError {
    FlowError::Network(transport_message(e))
}

pub(crate) fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// POSTs a form and reads a JSON answer; a non-2xx status is `Refused` with the OAuth `error`.
async fn post_form(request: reqwest::RequestBuilder, body: String, endpoint: &'static str) -> Result<Value, FlowError> {
    send_json(request.header(header::CONTENT_TYPE, FORM_CONTENT_TYPE).body(body), endpoint).await
}

async fn send_json(request: reqwest::RequestBuilder, endpoint: &'static str) -> Result<Value, FlowError> {
    let response = request.header(header::ACCEPT, "application/json").send().await.map_err(network)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(network)?;
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if !status.is_success() {
        let error = json.as_ref().and_then(|j| j.get("error")).and_then(error_code_of);
        return Err(FlowError::Refused { endpoint, status: status.as_u16(), error });
    }
    json.filter(Value::is_object).ok_or_else(|| invalid(endpoint, "the answer is not a JSON object"))
}

/// An OAuth `error` value, kept only when it looks like an error code (so an answer cannot
/// smuggle arbitrary text, let alone a token, into a message). `{"error": {"status": …}}`
/// (Google's JSON errors) gives its `status`.
pub(crate) fn error_code_of(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("status").or_else(|| o.get("code")).and_then(Value::as_str)?,
        Value::Number(n) => return Some(n.to_string()),
        _ => return None,
    };
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':'));
    ok.then(|| text.to_string())
}

/// User-supplied text (an `error` or `error_description` from a redirect) made safe to show:
/// printable, at most 200 characters.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Seconds as a JSON number (fractions allowed) or a numeric string.
pub(crate) fn seconds_of(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

/// A token answer as a token set; `None` without `access_token`. `expiry_ms = now + expires_in`
/// (default 3600 s).
pub(crate) fn token_set_from_json(json: &Value, now_ms: i64) -> Option<TokenSet> {
    let secret = |key: &str| {
        json.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(|s| SecretString::from(s.to_string()))
    };
    let text = |key: &str| json.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let expires_in_ms = json
        .get("expires_in")
        .and_then(seconds_of)
        .map_or(DEFAULT_EXPIRES_IN_SECS * 1000, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    Some(TokenSet {
        access_token: Some(secret("access_token")?),
        refresh_token: secret("refresh_token"),
        expiry_ms: Some(now_ms.saturating_add(expires_in_ms)),
        api_key: None,
        id_token: secret("id_token"),
        scope: text("scope"),
        token_type: text("token_type"),
        resource_url: text("resource_url"),
    })
}

#[cfg(test)]
pub(crate) mod mock_idp;
#[cfg(test)]
pub(crate) mod tests;
