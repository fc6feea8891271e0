use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, json};

use super::*;
use crate::auth::oauth::flows::mock_idp::MockIdp;
use crate::auth::oauth::flows::tests::{client, mock_endpoints};
use crate::auth::oauth::{CredentialSource, ProxyMetadata};
use crate::config::Env;

const FAST: [Duration; 2] = [Duration::from_millis(5), Duration::from_millis(5)];
const OLD_ACCESS: &str = "ya29.OLD-ACCESS-SECRET";
const OLD_REFRESH: &str = "1//OLD-REFRESH-SECRET";

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_string()))
}

fn credential(provider: OAuthProvider) -> StoredCredential {
    StoredCredential {
        provider,
        source: CredentialSource::File {
            path: PathBuf::from(format!("oauth_creds/{}_oauth_1.json", provider.name())),
            number: 1,
        },
        tokens: TokenSet {
            access_token: secret(OLD_ACCESS),
            refresh_token: secret(OLD_REFRESH),
            expiry_ms: Some(1_000),
            api_key: None,
            id_token: secret("eyJ.OLD-ID-TOKEN"),
            scope: Some("old-scope".into()),
            token_type: Some("Bearer".into()),
            resource_url: None,
        },
        metadata: ProxyMetadata::default(),
        cookie: None,
        cookie_expire_time: None,
        client_id: None,
        client_secret: None,
        token_uri: None,
        raw: Map::new(),
    }
}

async fn run(mock: &MockIdp, credential: &StoredCredential) -> Result<TokenSet, RefreshError> {
    let endpoints = mock_endpoints(credential.provider, mock);
    refresh_with_waits(&client(), &endpoints, credential, &FAST).await
}

fn assert_no_secrets(error: &RefreshError, secrets: &[&str]) {
    let text = format!("{error} {error:?}");
    for secret in secrets {
        assert!(!text.contains(secret), "{text:?} leaks {secret:?}");
    }
}

fn expose(s: &Option<SecretString>) -> &str {
    s.as_ref().unwrap().expose_secret()
}

#[tokio::test]
async fn google_refresh_with_a_rotated_refresh_token() {
    let mock = MockIdp::start().await;
    mock.script(
        "/token",
        200,
        json!({"access_token": "ya29.NEW-ACCESS", "refresh_token": "1//NEW-REFRESH", "expires_in": 3599, "scope": "new-scope"}),
    );
    let credential = credential(OAuthProvider::GeminiCli);
    let tokens = run(&mock, &credential).await.unwrap();

    assert_eq!(expose(&tokens.access_token), "ya29.NEW-ACCESS");
    assert_eq!(expose(&tokens.refresh_token), "1//NEW-REFRESH");
    assert_eq!(tokens.scope.as_deref(), Some("new-scope"));
    assert_eq!(expose(&tokens.id_token), "eyJ.OLD-ID-TOKEN", "kept when not returned");
    assert!((tokens.expiry_ms.unwrap() - crate::store::now_ms() - 3_599_000).abs() < 5_000);

    let call = &mock.requests("/token")[0];
    let endpoints = mock_endpoints(OAuthProvider::GeminiCli, &mock);
    assert_eq!(call.form["grant_type"], "refresh_token");
    assert_eq!(call.form["refresh_token"], OLD_REFRESH);
    assert_eq!(call.form["client_id"], endpoints.client_id);
    assert_eq!(Some(&call.form["client_secret"]), endpoints.client_secret.as_ref());
    assert_eq!(call.header("authorization"), None);
}

#[tokio::test]
async fn the_old_refresh_token_is_kept_when_none_is_returned() {
    let mock = MockIdp::start().await;
    mock.script("/token", 200, json!({"access_token": "ya29.NEW-ACCESS", "expires_in": 100, "token_type": "Bearer"}));
    let tokens = run(&mock, &credential(OAuthProvider::Antigravity)).await.unwrap();
    assert_eq!(expose(&tokens.access_token), "ya29.NEW-ACCESS");
    assert_eq!(expose(&tokens.refresh_token), OLD_REFRESH);
    assert_eq!(tokens.scope.as_deref(), Some("old-scope"));
}

#[tokio::test]
async fn the_credentials_own_client_and_token_uri_are_used() {
    let mock = MockIdp::start().await;
    let mut credential = credential(OAuthProvider::GeminiCli);
    credential.client_id = Some("own-client.apps.googleusercontent.com".into());
    credential.client_secret = secret("own-secret");
    credential.token_uri = Some(mock.url("/token"));
    // No TOKEN_URI override: the file's token_uri wins over Google's default.
    let endpoints = OAuthEndpoints::resolve(OAuthProvider::GeminiCli, &Env::from_pairs([("X", "y")]));
    refresh_with_waits(&client(), &endpoints, &credential, &FAST).await.unwrap();
    let call = &mock.requests("/token")[0];
    assert_eq!(call.form["client_id"], "own-client.apps.googleusercontent.com");
    assert_eq!(call.form["client_secret"], "own-secret");

    // An override wins over the file's token_uri.
    let other = MockIdp::start().await;
    credential.token_uri = Some(mock.url("/token"));
    refresh_with_waits(&client(), &mock_endpoints(OAuthProvider::GeminiCli, &other), &credential, &FAST).await.unwrap();
    assert_eq!(other.requests("/token").len(), 1);
    assert_eq!(mock.requests("/token").len(), 1);
}

#[tokio::test]
async fn invalid_grant_needs_a_new_login() {
    let mock = MockIdp::start().await;
    mock.script(
        "/token",
        400,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    );
    let error = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap_err();
    let RefreshError::NeedsReauth(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("llmkp auth add gemini_cli"), "{message}");
    assert!(message.contains("gemini_cli_oauth_1.json"), "{message}");
    assert!(message.contains("invalid_grant"), "{message}");
    assert_no_secrets(&error, &[OLD_REFRESH, OLD_ACCESS]);
    assert_eq!(mock.requests("/token").len(), 1, "not retried");
}

#[tokio::test]
async fn unauthorized_forbidden_and_missing_refresh_tokens_need_a_new_login() {
    for status in [401, 403] {
        let mock = MockIdp::start().await;
        mock.script("/token", status, json!({"error": "unauthorized_client"}));
        let error = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap_err();
        assert!(matches!(error, RefreshError::NeedsReauth(_)), "{status}: {error:?}");
    }
    let mock = MockIdp::start().await;
    let mut credential = credential(OAuthProvider::QwenCode);
    credential.tokens.refresh_token = None;
    let error = run(&mock, &credential).await.unwrap_err();
    assert!(matches!(&error, RefreshError::NeedsReauth(m) if m.contains("llmkp auth add qwen_code")), "{error:?}");
    assert!(mock.requests("/token").is_empty());
}

#[tokio::test]
async fn other_400s_are_transient_for_google_but_invalid_descriptions_end_qwen_grants() {
    let mock = MockIdp::start().await;
    mock.script("/token", 400, json!({"error": "unsupported", "error_description": "invalid something"}));
    let error = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Transient(_)), "{error:?}");

    let mock = MockIdp::start().await;
    mock.script("/token", 400, json!({"error": "unsupported", "error_description": "Refresh token Invalid"}));
    let error = run(&mock, &credential(OAuthProvider::QwenCode)).await.unwrap_err();
    assert!(matches!(error, RefreshError::NeedsReauth(_)), "{error:?}");
}

#[tokio::test]
async fn qwen_refresh_sends_no_secret_and_merges_resource_url() {
    let mock = MockIdp::start().await;
    mock.script(
        "/token",
        200,
        json!({"access_token": "QWEN-NEW", "refresh_token": "QWEN-ROTATED", "expires_in": 21600, "resource_url": "portal.qwen.ai"}),
    );
    let mut credential = credential(OAuthProvider::QwenCode);
    credential.tokens.resource_url = Some("old.qwen.ai".into());
    let tokens = run(&mock, &credential).await.unwrap();
    assert_eq!(expose(&tokens.refresh_token), "QWEN-ROTATED");
    assert_eq!(tokens.resource_url.as_deref(), Some("portal.qwen.ai"));
    let call = &mock.requests("/token")[0];
    assert_eq!(call.form.len(), 3, "{:?}", call.form.keys());
    assert_eq!(call.form["client_id"], "f0304373b74a44d2b584a3fb70ca9e56");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let mock = MockIdp::start().await;
    mock.script("/token", 500, json!({"error": "internal"}));
    mock.script("/token", 503, json!({}));
    mock.script("/token", 200, json!({"access_token": "ya29.AFTER-RETRIES"}));
    let tokens = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap();
    assert_eq!(expose(&tokens.access_token), "ya29.AFTER-RETRIES");
    assert_eq!(mock.requests("/token").len(), 3);
}

#[tokio::test]
async fn three_server_errors_are_transient() {
    let mock = MockIdp::start().await;
    mock.script("/token", 502, json!({}));
    let error = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap_err();
    assert!(matches!(&error, RefreshError::Transient(m) if m.contains("502")), "{error:?}");
    assert_eq!(mock.requests("/token").len(), 3);
}

#[tokio::test]
async fn network_errors_are_transient_after_the_retries() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let env = Env::from_pairs([("GEMINI_CLI_TOKEN_URI", format!("http://127.0.0.1:{closed}/token?x=SECRET-IN-URL"))]);
    let endpoints = OAuthEndpoints::resolve(OAuthProvider::GeminiCli, &env);
    let error =
        refresh_with_waits(&client(), &endpoints, &credential(OAuthProvider::GeminiCli), &FAST).await.unwrap_err();
    assert!(matches!(error, RefreshError::Transient(_)), "{error:?}");
    assert_no_secrets(&error, &["SECRET-IN-URL", OLD_REFRESH]);
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after() {
    let mock = MockIdp::start().await;
    mock.script_with_headers("/token", 429, json!({"error": "rate_limited"}), vec![("retry-after", "30".into())]);
    let error = run(&mock, &credential(OAuthProvider::GeminiCli)).await.unwrap_err();
    assert!(
        matches!(error, RefreshError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "token refresh rate-limited (retry after 30 s)");
    assert_eq!(mock.requests("/token").len(), 1);

    let mock = MockIdp::start().await;
    mock.script("/token", 429, json!({}));
    let error = run(&mock, &credential(OAuthProvider::QwenCode)).await.unwrap_err();
    assert!(matches!(error, RefreshError::RateLimited { retry_after: None }), "{error:?}");
}

#[tokio::test]
async fn iflow_refresh_uses_basic_auth_unwraps_and_renews_the_api_key() {
    let mock = MockIdp::start().await;
    mock.script(
        "/token",
        200,
        json!({"success": true, "data": {"access_token": "IFLOW-NEW", "refresh_token": "IFLOW-ROTATED", "expires_in": 3600}}),
    );
    mock.script(
        "/userinfo",
        200,
        json!({"success": true, "data": {"apiKey": "sk-NEW-KEY", "email": "me@example.com"}}),
    );
    let mut credential = credential(OAuthProvider::Iflow);
    credential.tokens.api_key = secret("sk-OLD-KEY");
    let tokens = run(&mock, &credential).await.unwrap();
    assert_eq!(expose(&tokens.access_token), "IFLOW-NEW");
    assert_eq!(expose(&tokens.refresh_token), "IFLOW-ROTATED");
    assert_eq!(expose(&tokens.api_key), "sk-NEW-KEY");

    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let call = &mock.requests("/token")[0];
    let secret = endpoints.client_secret.clone().unwrap();
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("10009311001:{secret}"));
    assert_eq!(call.header("authorization"), Some(format!("Basic {basic}").as_str()));
    assert_eq!(call.form["client_secret"], secret);
    assert_eq!(mock.requests("/userinfo")[0].query["accessToken"], "IFLOW-NEW");
}

#[tokio::test]
async fn iflow_keeps_the_rotated_tokens_when_user_info_fails() {
    let mock = MockIdp::start().await;
    mock.script("/token", 200, json!({"access_token": "IFLOW-NEW", "refresh_token": "IFLOW-ROTATED"}));
    mock.script("/userinfo", 500, json!({}));
    let mut credential = credential(OAuthProvider::Iflow);
    credential.tokens.api_key = secret("sk-OLD-KEY");
    let tokens = run(&mock, &credential).await.unwrap();
    assert_eq!(expose(&tokens.refresh_token), "IFLOW-ROTATED");
    assert_eq!(expose(&tokens.api_key), "sk-OLD-KEY");
}

#[tokio::test]
async fn iflow_success_false_with_invalid_text_needs_a_new_login() {
    let mock = MockIdp::start().await;
    mock.script("/token", 200, json!({"success": false, "message": "refresh token invalid"}));
    let error = run(&mock, &credential(OAuthProvider::Iflow)).await.unwrap_err();
    assert!(matches!(&error, RefreshError::NeedsReauth(m) if m.contains("llmkp auth add iflow")), "{error:?}");
    assert!(mock.requests("/userinfo").is_empty());
}

#[test]
fn due_buffers_per_provider() {
    let now = 1_800_000_000_000;
    let due = |provider, expires_in_secs: i64| {
        let mut credential = credential(provider);
        credential.tokens.expiry_ms = Some(now + expires_in_secs * 1000);
        is_due(&credential, now)
    };
    for (provider, buffer) in [
        (OAuthProvider::GeminiCli, 1800),
        (OAuthProvider::Antigravity, 1800),
        (OAuthProvider::QwenCode, 10_800),
        (OAuthProvider::Iflow, 86_400),
    ] {
        assert!(due(provider, buffer - 1), "{provider:?}");
        assert!(!due(provider, buffer + 1), "{provider:?}");
    }
    let mut unknown = credential(OAuthProvider::GeminiCli);
    unknown.tokens.expiry_ms = None;
    assert!(is_due(&unknown, now), "missing expiry → due");
    let mut no_access = credential(OAuthProvider::GeminiCli);
    no_access.tokens.expiry_ms = Some(now + 86_400_000);
    no_access.tokens.access_token = None;
    assert!(is_due(&no_access, now), "no access token → due");
}

fn cookie_credential(expire_time: Option<&str>) -> StoredCredential {
    let mut credential = credential(OAuthProvider::Iflow);
    credential.tokens = TokenSet { api_key: secret("sk-COOKIE-KEY"), ..TokenSet::default() };
    credential.cookie = secret("BXAuth=COOKIE-SECRET-VALUE;");
    credential.cookie_expire_time = expire_time.map(str::to_string);
    credential.metadata.credential_type = Some("cookie".into());
    credential
}

#[test]
fn cookie_keys_are_due_within_48_hours() {
    // 2026-01-01 00:00 UTC.
    let now = 1_767_225_600_000;
    assert!(is_due(&cookie_credential(Some("2026-01-02 23:59")), now));
    assert!(!is_due(&cookie_credential(Some("2026-01-03 00:01")), now));
    assert!(!is_due(&cookie_credential(Some("2026-02-01 12:00:30")), now));
    assert!(is_due(&cookie_credential(Some("")), now));
    assert!(is_due(&cookie_credential(Some("soon")), now));
    assert!(is_due(&cookie_credential(None), now));
}

#[tokio::test]
async fn cookie_renewal_gets_the_name_then_posts_for_a_new_key() {
    let mock = MockIdp::start().await;
    mock.script(
        "/apikey",
        200,
        json!({"success": true, "data": {"name": "my-key", "apiKey": "", "apiKeyMask": "sk-***abcd",
                "expireTime": "2026-01-02 12:00", "hasExpired": false}}),
    );
    mock.script(
        "/apikey",
        200,
        json!({"success": true, "data": {"apiKey": "sk-RENEWED-KEY", "expireTime": "2026-04-01 12:00"}}),
    );
    let endpoints = mock_endpoints(OAuthProvider::Iflow, &mock);
    let (api_key, expire_time, name) =
        renew_cookie_with_waits(&client(), &endpoints, &cookie_credential(Some("2026-01-02 12:00")), &FAST)
            .await
            .unwrap();
    assert_eq!(api_key.expose_secret(), "sk-RENEWED-KEY");
    assert_eq!((expire_time.as_str(), name.as_str()), ("2026-04-01 12:00", "my-key"));

    let calls = mock.requests("/apikey");
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].method.as_str(), calls[1].method.as_str()), ("GET", "POST"));
    for call in &calls {
        assert_eq!(call.header("cookie"), Some("BXAuth=COOKIE-SECRET-VALUE;"));
    }
    assert_eq!(calls[1].header("origin"), Some("https://platform.iflow.cn"));
    assert_eq!(calls[1].header("referer"), Some("https://platform.iflow.cn/"));
    assert_eq!(calls[1].json, Some(json!({"name": "my-key"})));
}

#[tokio::test]
async fn cookie_renewal_failures() {
    let endpoints_for = |mock: &MockIdp| mock_endpoints(OAuthProvider::Iflow, mock);
    let credential = cookie_credential(Some("2026-01-02 12:00"));

    let mock = MockIdp::start().await;
    mock.script("/apikey", 401, json!({}));
    let error = renew_cookie_with_waits(&client(), &endpoints_for(&mock), &credential, &FAST).await.unwrap_err();
    assert!(matches!(&error, RefreshError::NeedsReauth(m) if m.contains("llmkp auth add iflow")), "{error:?}");
    assert_no_secrets(&error, &["COOKIE-SECRET-VALUE", "sk-COOKIE-KEY"]);

    let mock = MockIdp::start().await;
    mock.script("/apikey", 200, json!({"success": false, "message": "not logged in"}));
    let error = renew_cookie_with_waits(&client(), &endpoints_for(&mock), &credential, &FAST).await.unwrap_err();
    assert!(matches!(error, RefreshError::Transient(_)), "{error:?}");

    let mock = MockIdp::start().await;
    mock.script("/apikey", 200, json!({"success": true, "data": {"name": "k"}}));
    mock.script("/apikey", 403, json!({}));
    let error = renew_cookie_with_waits(&client(), &endpoints_for(&mock), &credential, &FAST).await.unwrap_err();
    assert!(matches!(error, RefreshError::NeedsReauth(_)), "{error:?}");

    let mut no_cookie = credential.clone();
    no_cookie.cookie = None;
    let error = renew_cookie_with_waits(&client(), &endpoints_for(&mock), &no_cookie, &FAST).await.unwrap_err();
    assert!(matches!(error, RefreshError::NeedsReauth(_)), "{error:?}");
}

#[test]
fn cookie_headers_are_normalised() {
    assert_eq!(cookie_header("BXAuth=abc;"), "BXAuth=abc;");
    assert_eq!(cookie_header("BXAuth=abc"), "BXAuth=abc;");
    assert_eq!(cookie_header(" abc "), "BXAuth=abc;");
    assert_eq!(cookie_header("YWJj=="), "BXAuth=YWJj==;");
    assert_eq!(cookie_header(""), "");
}
