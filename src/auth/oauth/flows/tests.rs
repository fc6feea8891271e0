use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;
use tokio::sync::mpsc;

use super::mock_idp::{AuthorizeMode, DEFAULT_ACCESS, DEFAULT_REFRESH, GOOD_CODE, MockIdp};
use super::*;
use crate::auth::oauth::OAuthProvider;
use crate::config::Env;

/// The endpoints of `provider` pointed at the mock through the §13 overrides.
pub(crate) fn mock_endpoints(provider: OAuthProvider, mock: &MockIdp) -> OAuthEndpoints {
    let prefix = provider.env_prefix();
    let env = Env::from_pairs([
        (format!("{prefix}_AUTH_URI"), mock.url("/authorize")),
        (format!("{prefix}_TOKEN_URI"), mock.url("/token")),
        (format!("{prefix}_USERINFO_URI"), mock.url("/userinfo")),
        (format!("{prefix}_DEVICE_CODE_URI"), mock.url("/device")),
        (format!("{prefix}_APIKEY_URI"), mock.url("/apikey")),
    ]);
    OAuthEndpoints::resolve(provider, &env)
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The test's "browser": follows redirects to the loopback only (never to iflow.cn).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if matches!(attempt.url().host_str(), Some("127.0.0.1" | "localhost")) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .build()
        .unwrap()
}

fn options() -> LoginOptions {
    LoginOptions {
        no_browser: true,
        port: Some(0),
        manual: false,
        timeout: Duration::from_secs(20),
        min_poll_interval: Duration::ZERO,
    }
}

async fn run_login(endpoints: &OAuthEndpoints, options: LoginOptions, ui: &TestUi) -> Result<LoginResult, FlowError> {
    login(&client(), endpoints, &options, ui).await
}

/// Builds the pasted `--manual` answer from the authorization URL shown.
type ManualAnswer = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

struct TestUi {
    urls: mpsc::UnboundedSender<String>,
    shown: Mutex<Vec<String>>,
    device: Mutex<Option<(String, String)>>,
    /// `--manual`: builds the pasted answer from the URL shown.
    manual: Option<ManualAnswer>,
}

impl TestUi {
    fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { urls: tx, shown: Mutex::new(Vec::new()), device: Mutex::new(None), manual: None }, rx)
    }
}

impl LoginUi for TestUi {
    fn show_url(&self, url: &str) {
        self.shown.lock().unwrap().push(url.to_string());
        let _ = self.urls.send(url.to_string());
    }
    fn show_device_code(&self, verification_uri: &str, user_code: &str) {
        *self.device.lock().unwrap() = Some((verification_uri.to_string(), user_code.to_string()));
    }
    fn read_manual_redirect(&self) -> Option<String> {
        let url = self.shown.lock().unwrap().last().cloned()?;
        self.manual.as_ref().and_then(|f| f(&url))
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Asserts that neither the text nor the Debug form of `error` carries any of `secrets`.
fn assert_no_secrets(error: &FlowError, secrets: &[&str]) {
    let text = format!("{error} {error:?}");
    for secret in secrets {
        assert!(!text.contains(secret), "{text:?} leaks {secret:?}");
    }
}

#[tokio::test]
async fn gemini_auth_code_with_pkce_end_to_end() {
    let mock = MockIdp::start().await;
    mock.script("/userinfo", 200, json!({"email": "user@example.com", "id": "1"}));
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (ui, mut urls) = TestUi::new();

    let browser_side = async {
        let url = urls.recv().await.unwrap();
        let page = browser().get(&url).send().await.unwrap();
        (url, page.status(), page.text().await.unwrap())
    };
    let (result, (url, status, page)) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let result = result.unwrap();

    assert_eq!(status, 200);
    assert!(page.contains("Login complete"), "{page}");
    let q = query_of(&url);
    assert!(url.starts_with(&mock.url("/authorize?")));
    for (key, value) in [
        ("response_type", "code"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("code_challenge_method", "S256"),
        ("client_id", endpoints.client_id.as_str()),
    ] {
        assert_eq!(q[key], value, "{key}");
    }
    assert_eq!(q["scope"], endpoints.scopes.join(" "));
    let redirect_uri = &q["redirect_uri"];
    assert!(redirect_uri.starts_with("http://localhost:") && redirect_uri.ends_with("/oauth2callback"));
    assert!(!redirect_uri.contains(":0/"), "the actual port goes into redirect_uri: {redirect_uri}");
    assert!(q["state"].len() >= 22, "state carries at least 128 bits");
    assert_ne!(q["state"], q["code_challenge"]);

    assert_eq!(result.email.as_deref(), Some("user@example.com"));
    let tokens = &result.tokens;
    assert_eq!(tokens.access_token.as_ref().unwrap().expose_secret(), DEFAULT_ACCESS);
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose_secret(), DEFAULT_REFRESH);
    assert_eq!(tokens.token_type.as_deref(), Some("Bearer"));
    let expected_expiry = crate::store::now_ms() + 3_599_000;
    assert!((tokens.expiry_ms.unwrap() - expected_expiry).abs() < 5_000);

    let token_calls = mock.requests("/token");
    assert_eq!(token_calls.len(), 1);
    let call = &token_calls[0];
    assert_eq!(call.form["grant_type"], "authorization_code");
    assert_eq!(call.form["code"], GOOD_CODE);
    assert_eq!(&call.form["redirect_uri"], redirect_uri);
    assert_eq!(call.form["client_id"], endpoints.client_id);
    assert_eq!(Some(&call.form["client_secret"]), endpoints.client_secret.as_ref());
    assert!(call.form["code_verifier"].len() >= 43);
    assert_eq!(call.header("user-agent"), Some("google-api-nodejs-client/9.15.1"));
    assert_eq!(call.header("x-goog-api-client"), Some("gl-node/22.16.0 auth/9.15.1"));
    let info = &mock.requests("/userinfo")[0];
    assert_eq!(info.header("authorization"), Some(format!("Bearer {DEFAULT_ACCESS}").as_str()));
    assert_eq!(info.header("user-agent"), Some("google-api-nodejs-client/9.15.1"));

    // The callback server is gone once the login returned.
    let port = Url::parse(redirect_uri).unwrap().port().unwrap();
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn antigravity_uses_its_callback_path_and_scopes() {
    let mock = MockIdp::start().await;
    mock.script("/userinfo", 200, json!({"email": "ag@example.com"}));
    let endpoints = mock_endpoints(OAuthProvider::Antigravity, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        let url = urls.recv().await.unwrap();
        browser().get(&url).send().await.unwrap();
        url
    };
    let (result, url) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    assert_eq!(result.unwrap().email.as_deref(), Some("ag@example.com"));
    let q = query_of(&url);
    assert!(q["redirect_uri"].ends_with("/oauthcallback"));
    assert!(q["scope"].contains("https://www.googleapis.com/auth/cclog"));
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_the_login_keeps_waiting() {
    let mock = MockIdp::start().await;
    mock.set_authorize_mode(AuthorizeMode::WrongState);
    mock.script("/userinfo", 200, json!({"email": "user@example.com"}));
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (ui, mut urls) = TestUi::new();

    let browser_side = async {
        let url = urls.recv().await.unwrap();
        let forged = browser().get(&url).send().await.unwrap();
        let forged = (forged.status(), forged.text().await.unwrap());
        // The genuine redirect still works afterwards.
        let q = query_of(&url);
        let genuine = format!("{}?code={GOOD_CODE}&state={}", q["redirect_uri"], q["state"]);
        let genuine = browser().get(&genuine).send().await.unwrap().status();
        (forged, genuine)
    };
    let (result, ((forged_status, forged_page), genuine_status)) =
        tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    assert_eq!(forged_status, 400);
    assert!(forged_page.contains("State mismatch"), "{forged_page}");
    assert_eq!(genuine_status, 200);
    assert!(result.is_ok());
}

#[tokio::test]
async fn a_denial_on_the_callback_ends_the_login() {
    let mock = MockIdp::start().await;
    mock.set_authorize_mode(AuthorizeMode::Deny);
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        let url = urls.recv().await.unwrap();
        browser().get(&url).send().await.unwrap().text().await.unwrap()
    };
    let (result, page) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let error = result.unwrap_err();
    assert!(matches!(&error, FlowError::Denied { error, .. } if error == "access_denied"), "{error:?}");
    assert!(error.to_string().contains("access_denied"));
    assert!(page.contains("Login cancelled"));
    assert!(mock.requests("/token").is_empty());
}

#[tokio::test]
async fn the_login_times_out_without_a_callback() {
    let mock = MockIdp::start().await;
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (ui, _urls) = TestUi::new();
    let options = LoginOptions { timeout: Duration::from_millis(200), ..options() };
    let error = run_login(&endpoints, options.clone(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::Timeout(_)), "{error:?}");
    assert!(error.to_string().contains("timed out"));
}

#[tokio::test]
async fn a_refused_exchange_reports_status_and_code_but_no_secret() {
    let mock = MockIdp::start().await;
    mock.script("/token", 400, json!({"error": "invalid_client", "error_description": "bad client"}));
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        let url = urls.recv().await.unwrap();
        browser().get(&url).send().await.unwrap();
    };
    let (result, ()) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let error = result.unwrap_err();
    assert!(
        matches!(&error, FlowError::Refused { endpoint: "token", status: 400, error: Some(code) } if code == "invalid_client"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "the token endpoint refused the request (HTTP 400, invalid_client)");
    let verifier = mock.requests("/token")[0].form["code_verifier"].clone();
    assert_no_secrets(&error, &[GOOD_CODE, &verifier, endpoints.client_secret.as_deref().unwrap()]);
}

#[tokio::test]
async fn the_occupied_port_is_reported() {
    let mock = MockIdp::start().await;
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let (ui, _urls) = TestUi::new();
    let options = LoginOptions { port: Some(port), ..options() };
    let error = run_login(&endpoints, options.clone(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::Bind { port: p, .. } if p == port), "{error:?}");
    assert!(error.to_string().contains("--port"));
}

#[tokio::test]
async fn manual_mode_takes_the_pasted_redirect() {
    let mock = MockIdp::start().await;
    mock.script("/userinfo", 200, json!({"email": "remote@example.com"}));
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (mut ui, _urls) = TestUi::new();
    let set_challenge = mock.challenge_setter();
    ui.manual = Some(Box::new(move |url| {
        // The user's browser (elsewhere) visited the authorization URL and landed on the
        // unreachable loopback; they paste the address bar.
        let q = query_of(url);
        set_challenge(&q["code_challenge"]);
        Some(format!("  {}?state={}&code={GOOD_CODE}&scope=x \n", q["redirect_uri"], q["state"]))
    }));
    let options = LoginOptions { manual: true, port: Some(8085), ..options() };
    let result = run_login(&endpoints, options.clone(), &ui).await;
    let result = result.unwrap();
    assert_eq!(result.email.as_deref(), Some("remote@example.com"));
    let call = &mock.requests("/token")[0];
    assert_eq!(call.form["redirect_uri"], "http://localhost:8085/oauth2callback");
    assert_eq!(call.form["code"], GOOD_CODE);
}

#[tokio::test]
async fn manual_mode_refuses_a_foreign_state() {
    let mock = MockIdp::start().await;
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    let (mut ui, _urls) = TestUi::new();
    ui.manual = Some(Box::new(|_| Some(format!("http://localhost:8085/oauth2callback?state=other&code={GOOD_CODE}"))));
    let options = LoginOptions { manual: true, ..options() };
    let error = run_login(&endpoints, options.clone(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::StateMismatch), "{error:?}");
    assert!(mock.requests("/token").is_empty());
}

#[test]
fn pasted_answers_parse() {
    let code = |pasted: &str| code_from_pasted(pasted, "S").map(|c| c.expose_secret().to_string());
    assert_eq!(code("4/0AbC-d_e").unwrap(), "4/0AbC-d_e");
    assert_eq!(code("4%2F0AbC").unwrap(), "4/0AbC");
    assert_eq!(code("http://localhost:1/cb?code=4%2F0X&state=S").unwrap(), "4/0X");
    assert_eq!(code("?code=abc&state=S").unwrap(), "abc");
    assert_eq!(code("http://localhost:1/cb?code=abc").unwrap(), "abc", "no state: accepted");
    assert!(matches!(code("http://localhost:1/cb?code=abc&state=T"), Err(FlowError::StateMismatch)));
    assert!(matches!(code("http://localhost:1/cb?error=access_denied&state=S"), Err(FlowError::Denied { .. })));
    assert!(matches!(code("   "), Err(FlowError::Cancelled)));
    assert!(matches!(code("https://accounts.google.com/o/oauth2/v2/auth"), Err(FlowError::Cancelled)));
}

#[tokio::test]
async fn iflow_flow_uses_basic_auth_wrapped_answers_and_user_info() {
    let mock = MockIdp::start().await;
    mock.script(
        "/token",
        200,
        json!({"success": true, "data": {"access_token": "IFLOW-ACCESS-SECRET", "refresh_token": "IFLOW-REFRESH-SECRET",
                "expires_in": 7200, "token_type": "Bearer", "scope": "read write"}}),
    );
    mock.script(
        "/userinfo",
        200,
        json!({"success": true, "data": {"apiKey": "sk-IFLOW-API-KEY", "email": "", "phone": "13800000000"}}),
    );
    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        let url = urls.recv().await.unwrap();
        let last = browser().get(&url).send().await.unwrap();
        (url, last.status(), last.headers().get("location").map(|v| v.to_str().unwrap().to_string()))
    };
    let (result, (url, status, location)) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let result = result.unwrap();

    assert_eq!(status, 302);
    assert_eq!(location.as_deref(), Some("https://iflow.cn/oauth/success"));
    let q = query_of(&url);
    assert_eq!((q["loginMethod"].as_str(), q["type"].as_str()), ("phone", "phone"));
    assert_eq!(q["client_id"], "10009311001");
    assert!(q["redirect"].starts_with("http://localhost:") && q["redirect"].ends_with("/oauth2callback"));
    assert!(!q.contains_key("code_challenge"));

    let call = &mock.requests("/token")[0];
    let secret = endpoints.client_secret.clone().unwrap();
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("10009311001:{secret}"));
    assert_eq!(call.header("authorization"), Some(format!("Basic {basic}").as_str()));
    assert_eq!(call.form["grant_type"], "authorization_code");
    assert_eq!(call.form["client_secret"], secret);
    assert_eq!(call.form["redirect_uri"], q["redirect"]);
    assert!(!call.form.contains_key("code_verifier"));
    assert_eq!(mock.requests("/userinfo")[0].query["accessToken"], "IFLOW-ACCESS-SECRET");

    assert_eq!(result.email.as_deref(), Some("13800000000"), "phone when the e-mail is empty");
    let tokens = &result.tokens;
    assert_eq!(tokens.api_key.as_ref().unwrap().expose_secret(), "sk-IFLOW-API-KEY");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose_secret(), "IFLOW-REFRESH-SECRET");
    assert_eq!(tokens.scope.as_deref(), Some("read write"));
    assert!((tokens.expiry_ms.unwrap() - crate::store::now_ms() - 7_200_000).abs() < 5_000);
    let debug = format!("{result:?}");
    assert!(!debug.contains("SECRET") && !debug.contains("sk-IFLOW"), "{debug}");
}

#[tokio::test]
async fn iflow_wrong_state_redirects_to_the_error_page() {
    let mock = MockIdp::start().await;
    mock.set_authorize_mode(AuthorizeMode::WrongState);
    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let (ui, mut urls) = TestUi::new();
    let options = LoginOptions { timeout: Duration::from_millis(800), ..options() };
    let browser_side = async {
        let url = urls.recv().await.unwrap();
        let last = browser().get(&url).send().await.unwrap();
        last.headers().get("location").map(|v| v.to_str().unwrap().to_string())
    };
    let (result, location) = tokio::join!(run_login(&endpoints, options.clone(), &ui), browser_side);
    assert_eq!(location.as_deref(), Some("https://iflow.cn/oauth/error"));
    assert!(matches!(result, Err(FlowError::Timeout(_))));
}

#[tokio::test]
async fn iflow_success_false_is_a_refusal_and_a_missing_api_key_an_error() {
    let mock = MockIdp::start().await;
    mock.script("/token", 200, json!({"success": false, "code": "INVALID_CODE", "message": "code expired"}));
    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        browser().get(urls.recv().await.unwrap()).send().await.unwrap();
    };
    let (result, ()) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let error = result.unwrap_err();
    assert!(
        matches!(&error, FlowError::Refused { status: 200, error: Some(c), .. } if c == "INVALID_CODE"),
        "{error:?}"
    );

    let mock = MockIdp::start().await;
    mock.script("/userinfo", 200, json!({"success": true, "data": {"email": "a@b.c"}}));
    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let (ui, mut urls) = TestUi::new();
    let browser_side = async {
        browser().get(urls.recv().await.unwrap()).send().await.unwrap();
    };
    let (result, ()) = tokio::join!(run_login(&endpoints, options(), &ui), browser_side);
    let error = result.unwrap_err();
    assert!(matches!(error, FlowError::InvalidResponse { endpoint: "user info", .. }), "{error:?}");
    assert_no_secrets(&error, &[DEFAULT_ACCESS, DEFAULT_REFRESH]);
}

fn device_answer(expires_in: f64, interval: f64) -> serde_json::Value {
    json!({"device_code": "DEVICE-CODE-SECRET", "user_code": "ABCD-1234", "verification_uri": "https://chat.qwen.ai/authorize",
           "verification_uri_complete": "https://chat.qwen.ai/authorize?user_code=ABCD-1234", "expires_in": expires_in,
           "interval": interval})
}

#[tokio::test]
async fn device_flow_pending_then_slow_down_then_success() {
    let mock = MockIdp::start().await;
    mock.script("/device", 200, device_answer(60.0, 0.2));
    mock.script("/token", 400, json!({"error": "authorization_pending"}));
    mock.script("/token", 429, json!({"error": "slow_down", "error_description": "polling too fast"}));
    mock.script(
        "/token",
        200,
        json!({"access_token": "QWEN-ACCESS-SECRET", "refresh_token": "QWEN-REFRESH-SECRET", "expires_in": 21600,
               "token_type": "Bearer", "resource_url": "portal.qwen.ai"}),
    );
    let endpoints = mock_endpoints(OAuthProvider::QwenCode, &mock);
    let (ui, _urls) = TestUi::new();
    let result = run_login(&endpoints, options(), &ui).await.unwrap();

    assert_eq!(
        ui.device.lock().unwrap().clone(),
        Some(("https://chat.qwen.ai/authorize?user_code=ABCD-1234".to_string(), "ABCD-1234".to_string()))
    );
    let tokens = &result.tokens;
    assert_eq!(tokens.access_token.as_ref().unwrap().expose_secret(), "QWEN-ACCESS-SECRET");
    assert_eq!(tokens.resource_url.as_deref(), Some("portal.qwen.ai"));
    assert!((tokens.expiry_ms.unwrap() - crate::store::now_ms() - 21_600_000).abs() < 5_000);
    assert_eq!(result.email, None);

    let device = &mock.requests("/device")[0];
    assert_eq!(device.form["client_id"], endpoints.client_id);
    assert_eq!(device.form["scope"], "openid profile email model.completion");
    assert_eq!(device.form["code_challenge_method"], "S256");
    let polls = mock.requests("/token");
    assert_eq!(polls.len(), 3);
    for poll in &polls {
        assert_eq!(poll.form["grant_type"], "urn:ietf:params:oauth:grant-type:device_code");
        assert_eq!(poll.form["device_code"], "DEVICE-CODE-SECRET");
        assert_eq!(poll.form["client_id"], endpoints.client_id);
        assert!(poll.form.contains_key("code_verifier"));
    }
    // 0.2 s between the first polls, 0.3 s after slow_down.
    let first_gap = polls[1].at - polls[0].at;
    let second_gap = polls[2].at - polls[1].at;
    assert!(first_gap >= Duration::from_millis(190), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(290), "{second_gap:?}");
}

#[test]
fn slow_down_grows_the_interval_by_half_up_to_ten_seconds() {
    assert_eq!(slowed_down(Duration::from_secs(2)), Duration::from_secs(3));
    assert_eq!(slowed_down(Duration::from_secs(5)), Duration::from_millis(7500));
    assert_eq!(slowed_down(Duration::from_millis(7500)), Duration::from_secs(10));
    assert_eq!(slowed_down(Duration::from_secs(10)), Duration::from_secs(10));
    assert_eq!(slowed_down(Duration::from_secs(12)), Duration::from_secs(12));
}

#[tokio::test]
async fn device_flow_expired_token_fails() {
    let mock = MockIdp::start().await;
    mock.script("/device", 200, device_answer(60.0, 0.05));
    mock.script("/token", 400, json!({"error": "expired_token"}));
    let endpoints = mock_endpoints(OAuthProvider::QwenCode, &mock);
    let (ui, _urls) = TestUi::new();
    let error = run_login(&endpoints, options(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::DeviceCodeExpired), "{error:?}");
    assert_no_secrets(&error, &["DEVICE-CODE-SECRET"]);
}

#[tokio::test]
async fn device_flow_stops_when_the_code_lifetime_ends() {
    let mock = MockIdp::start().await;
    mock.script("/device", 200, device_answer(0.4, 0.1));
    mock.script("/token", 400, json!({"error": "authorization_pending"}));
    let endpoints = mock_endpoints(OAuthProvider::QwenCode, &mock);
    let (ui, _urls) = TestUi::new();
    let error = run_login(&endpoints, options(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::DeviceCodeExpired), "{error:?}");
    assert!((2..=4).contains(&mock.requests("/token").len()));
}

#[tokio::test]
async fn device_flow_denied_and_other_errors_fail() {
    let mock = MockIdp::start().await;
    mock.script("/device", 200, device_answer(60.0, 0.05));
    mock.script("/token", 400, json!({"error": "access_denied"}));
    let endpoints = mock_endpoints(OAuthProvider::QwenCode, &mock);
    let (ui, _urls) = TestUi::new();
    let error = run_login(&endpoints, options(), &ui).await.unwrap_err();
    assert!(matches!(error, FlowError::Denied { .. }), "{error:?}");

    let mock = MockIdp::start().await;
    mock.script("/device", 200, device_answer(60.0, 0.05));
    mock.script("/token", 400, json!({"error": "invalid_client"}));
    let endpoints = mock_endpoints(OAuthProvider::QwenCode, &mock);
    let error = run_login(&endpoints, options(), &ui).await.unwrap_err();
    assert!(matches!(&error, FlowError::Refused { status: 400, error: Some(c), .. } if c == "invalid_client"));
}

#[test]
fn error_codes_are_kept_only_when_they_look_like_codes() {
    assert_eq!(error_code_of(&json!("invalid_grant")).as_deref(), Some("invalid_grant"));
    assert_eq!(error_code_of(&json!({"code": 401, "status": "UNAUTHENTICATED"})).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(error_code_of(&json!("token ya29.abc/def leaked")), None);
    assert_eq!(error_code_of(&json!("x".repeat(65))), None);
}

#[test]
fn token_answers_parse_with_defaults() {
    let tokens = token_set_from_json(&json!({"access_token": "a", "expires_in": "120"}), 1_000).unwrap();
    assert_eq!(tokens.expiry_ms, Some(121_000));
    let tokens = token_set_from_json(&json!({"access_token": "a"}), 0).unwrap();
    assert_eq!(tokens.expiry_ms, Some(3_600_000));
    assert!(token_set_from_json(&json!({"refresh_token": "r"}), 0).is_none());
}
