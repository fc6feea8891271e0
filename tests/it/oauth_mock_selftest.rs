//! Self-tests for the OAuth mock (`support::oauth_mock`) and the Code Assist mock (`support::code_assist_mock`).

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::support::code_assist_mock::{CodeAssistMock, DEFAULT_PROJECT, default_load};
use crate::support::oauth_mock::{
    AccessError, DeviceStep, EXPIRED_OR_REVOKED, GOOGLE_SCOPES, OAuthMock, decode_form, encode_form, pkce_challenge,
};

const VERIFIER: &str = "mock-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const REDIRECT: &str = "http://localhost:8085/oauth2callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn form_request(url: &str, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    client().post(url).header("content-type", "application/x-www-form-urlencoded").body(encode_form(pairs))
}

async fn post_form(url: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    send(form_request(url, pairs)).await
}

/// The query parameters of the `Location` of a 302.
async fn redirected(url: &str) -> (String, Map<String, Value>) {
    let resp = client().get(url).send().await.expect("send");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let (base, query) = location.split_once('?').expect("query");
    (base.to_owned(), decode_form(query))
}

fn google_refresh<'a>(refresh_token: &'a str, client_id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
        ("client_secret", "secret"),
    ]
}

#[tokio::test]
async fn google_consent_pkce_exchange_and_userinfo() {
    let mock = OAuthMock::start().await;
    mock.set_email("alice@example.com");
    let challenge = pkce_challenge(VERIFIER);
    let authorize = |client_id: &str| {
        let q = encode_form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "st-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("scope", GOOGLE_SCOPES),
        ]);
        mock.url(&format!("/authorize?{q}"))
    };
    let (base, denied) = redirected(&authorize("deny-me")).await;
    assert_eq!(base, REDIRECT);
    assert_eq!(Value::Object(denied), json!({"error": "access_denied", "state": "st-1"}));
    let (base, params) = redirected(&authorize("cid")).await;
    assert_eq!((base.as_str(), &params["state"]), (REDIRECT, &json!("st-1")));
    let code = params["code"].as_str().unwrap();
    assert!(code.starts_with("4/0mock-"), "{code}");

    let token_url = mock.url("/token");
    let exchange = |verifier: Option<&'static str>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "cid"),
            ("client_secret", "secret"),
        ];
        pairs.extend(verifier.map(|v| ("code_verifier", v)));
        form_request(&token_url, &pairs)
    };
    let missing = json!({"error": "invalid_grant", "error_description": "Missing code verifier."});
    assert_eq!(send(exchange(None)).await, (400, missing));
    let invalid = json!({"error": "invalid_grant", "error_description": "Invalid code verifier."});
    assert_eq!(send(exchange(Some("wrong-verifier"))).await, (400, invalid));
    let (status, tokens) = send(exchange(Some(VERIFIER))).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].as_str().unwrap().starts_with("ya29.mock-"));
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("1//mock-"));
    assert_eq!((&tokens["expires_in"], &tokens["token_type"]), (&json!(3599), &json!("Bearer")));
    assert_eq!(tokens["scope"], GOOGLE_SCOPES);
    assert_eq!(tokens["id_token"].as_str().unwrap().split('.').count(), 3);
    // The code is used up.
    assert_eq!(send(exchange(Some(VERIFIER))).await.0, 400);
    // The form was recorded decoded.
    let recorded = mock.token_requests("authorization_code");
    assert_eq!(recorded.len(), 4);
    assert_eq!((&recorded[2].body["code_verifier"], &recorded[2].body["code"]), (&json!(VERIFIER), &json!(code)));

    let userinfo = mock.url("/userinfo");
    let access = tokens["access_token"].as_str().unwrap();
    let (status, info) = send(client().get(&userinfo).bearer_auth(access)).await;
    assert_eq!(status, 200);
    assert_eq!((&info["email"], &info["verified_email"]), (&json!("alice@example.com"), &json!(true)));
    let (status, err) = send(client().get(&userinfo).bearer_auth("ya29.forged")).await;
    assert_eq!((status, &err["error"]["status"]), (401, &json!("UNAUTHENTICATED")));
}

#[tokio::test]
async fn refresh_rotates_and_plays_scripted_failures() {
    let mock = OAuthMock::start().await;
    mock.set_expires_in(120);
    let first = mock.issue_google("cid");
    let url = mock.url("/token");
    let (status, v) = post_form(&url, &google_refresh(&first.refresh_token, "cid")).await;
    assert_eq!(status, 200, "{v}");
    let second_rt = v["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_rt, first.refresh_token);
    assert_ne!(v["access_token"], first.access_token.as_str());
    assert_eq!(v["expires_in"], 120);
    // The old refresh token and the old access token are gone.
    let revoked = json!({"error": "invalid_grant", "error_description": EXPIRED_OR_REVOKED});
    assert_eq!(post_form(&url, &google_refresh(&first.refresh_token, "cid")).await, (400, revoked));
    assert_eq!(mock.tokens().check_access(&first.access_token).unwrap_err(), AccessError::Revoked);
    // Client checks.
    assert_eq!(post_form(&url, &google_refresh(&second_rt, "other")).await.1["error"], "unauthorized_client");
    let no_secret = [("grant_type", "refresh_token"), ("refresh_token", &second_rt), ("client_id", "cid")];
    assert_eq!(post_form(&url, &no_secret).await.1["error_description"], "client_secret is missing.");
    // Queued failures, then success with the same token.
    mock.fail_next_refresh(503);
    mock.fail_next_refresh_retry_after(429, 7);
    assert_eq!(post_form(&url, &google_refresh(&second_rt, "cid")).await.0, 503);
    let resp = form_request(&url, &google_refresh(&second_rt, "cid")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), &resp.headers()["retry-after"]), (429, &"7".parse().unwrap()));
    let (status, v) = post_form(&url, &google_refresh(&second_rt, "cid")).await;
    assert_eq!(status, 200);
    // Without rotation the answer has no refresh token and the same one keeps working.
    mock.set_rotate(false);
    let third_rt = v["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, v) = post_form(&url, &google_refresh(&third_rt, "cid")).await;
        assert_eq!(status, 200);
        assert!(v.get("refresh_token").is_none(), "{v}");
    }
    assert_eq!(mock.refresh_calls(), 9);
}

#[tokio::test]
async fn refresh_delay_holds_concurrent_refreshes_in_flight() {
    let mock = OAuthMock::start().await;
    mock.set_refresh_delay(Duration::from_millis(300));
    let grant = mock.issue_google("cid");
    let started = Instant::now();
    let calls = (0..5).map(|_| post_form_owned(mock.url("/token"), grant.refresh_token.clone()));
    let results = futures::future::join_all(calls).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2), "{elapsed:?}");
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused = results.iter().filter(|(s, v)| *s == 400 && v["error"] == "invalid_grant").count();
    assert_eq!((ok, refused), (1, 4), "{results:?}");
    assert_eq!(mock.refresh_calls(), 5);
}

async fn post_form_owned(url: String, refresh_token: String) -> (u16, Value) {
    post_form(&url, &google_refresh(&refresh_token, "cid")).await
}

#[tokio::test]
async fn qwen_device_flow_follows_its_script_then_refresh_rotates() {
    let mock = OAuthMock::start().await;
    mock.set_device_interval(0.05);
    let challenge = pkce_challenge(VERIFIER);
    let authorize = [
        ("client_id", "qwen-client"),
        ("scope", "openid profile email model.completion"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (status, dev) = post_form(&mock.url("/device/code"), &authorize).await;
    assert_eq!(status, 200, "{dev}");
    assert_eq!((&dev["interval"], &dev["expires_in"]), (&json!(0.05), &json!(300)));
    let (device_code, user_code) = (dev["device_code"].as_str().unwrap(), dev["user_code"].as_str().unwrap());
    assert!(dev["verification_uri_complete"].as_str().unwrap().contains(user_code));
    let token_url = mock.url("/token");
    let poll = |verifier: &'static str| {
        post_form_pairs(
            &token_url,
            [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", "qwen-client"),
                ("device_code", device_code),
                ("code_verifier", verifier),
            ],
        )
    };
    assert_eq!(poll("wrong").await.1["error_description"], "Invalid code verifier.");
    assert_eq!(poll(VERIFIER).await, (400, poll_error("authorization_pending")));
    tokio::time::sleep(Duration::from_millis(80)).await;
    let (status, v) = poll(VERIFIER).await;
    assert_eq!((status, &v["error"]), (429, &json!("slow_down")));
    let (status, tokens) = poll(VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!((&tokens["resource_url"], &tokens["token_type"]), (&json!("portal.qwen.ai"), &json!("Bearer")));
    assert!(tokens["access_token"].as_str().unwrap().starts_with("qwen-at-"));
    assert_eq!(poll(VERIFIER).await.1["error"], "invalid_grant");
    let polls = mock.device_polls(device_code);
    assert_eq!(polls.len(), 5);
    assert!(polls[2] - polls[1] >= Duration::from_millis(80));
    assert_eq!(mock.device_codes(), [device_code]);

    // Refresh: public client, rotating, resource_url again.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "qwen-client")];
    let (status, v) = post_form(&token_url, &refresh).await;
    assert_eq!((status, &v["resource_url"]), (200, &json!("portal.qwen.ai")));
    assert_ne!(v["refresh_token"], rt);
    assert_eq!(post_form(&token_url, &refresh).await.1["error"], "invalid_grant");

    // Another script: the user denies.
    mock.set_device_script(&[DeviceStep::Denied]);
    let (_, dev) = post_form(&mock.url("/device/code"), &authorize).await;
    let denied = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "qwen-client"),
        ("device_code", dev["device_code"].as_str().unwrap()),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(post_form(&token_url, &denied).await.1["error"], "access_denied");
}

async fn post_form_pairs(url: &str, pairs: [(&str, &str); 4]) -> (u16, Value) {
    post_form(url, &pairs).await
}

fn poll_error(error: &str) -> Value {
    let description = "The authorization request is still pending as the end user hasn't yet completed the \
                       user-interaction steps.";
    json!({"error": error, "error_description": description})
}

#[tokio::test]
async fn iflow_basic_auth_wrapped_tokens_and_user_info() {
    let mock = OAuthMock::start().await;
    let redirect = "http://localhost:11451/oauth2callback";
    let q = encode_form(&[
        ("loginMethod", "phone"),
        ("type", "phone"),
        ("redirect", redirect),
        ("state", "s-9"),
        ("client_id", "10009311001"),
    ]);
    let (base, params) = redirected(&mock.url(&format!("/iflow/authorize?{q}"))).await;
    assert_eq!((base.as_str(), &params["state"]), (redirect, &json!("s-9")));
    let code = params["code"].as_str().unwrap();
    let url = mock.url("/iflow/token");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", "10009311001"),
        ("client_secret", "shh"),
    ];
    assert_eq!(post_form(&url, &exchange).await.1["error"], "invalid_client");
    let basic = format!("Basic {}", STANDARD.encode("10009311001:shh"));
    let (status, v) = send(form_request(&url, &exchange).header("authorization", &basic)).await;
    assert_eq!((status, &v["success"]), (200, &json!(true)), "{v}");
    let access = v["data"]["access_token"].as_str().unwrap();
    let rt = v["data"]["refresh_token"].as_str().unwrap();

    let info_url = mock.url(&format!("/iflow/userinfo?accessToken={access}"));
    let (status, info) = send(client().get(&info_url)).await;
    assert_eq!(status, 200);
    let key = info["data"]["apiKey"].as_str().unwrap();
    assert!(key.starts_with("sk-iflow-") && mock.tokens().api_key_valid(key));
    assert_eq!((&info["data"]["email"], &info["data"]["phone"]), (&json!("iflow@example.com"), &json!("13800138000")));
    let (status, bad) = send(client().get(mock.url("/iflow/userinfo?accessToken=nope"))).await;
    assert_eq!((status, &bad["success"]), (401, &json!(false)));

    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "10009311001")];
    mock.fail_next_refresh(200);
    let (status, v) = send(form_request(&url, &refresh).header("authorization", &basic)).await;
    assert_eq!((status, &v["success"]), (200, &json!(false)));
    let (status, v) = send(form_request(&url, &refresh).header("authorization", &basic)).await;
    assert_eq!((status, &v["success"]), (200, &json!(true)));
    assert_ne!(v["data"]["refresh_token"], rt);
    let (status, v) = send(form_request(&url, &refresh).header("authorization", &basic)).await;
    assert_eq!((status, &v["error"]), (400, &json!("invalid_grant")));
    assert_eq!(mock.refresh_calls(), 3);
}

#[tokio::test]
async fn iflow_cookie_api_key_lookup_and_renewal() {
    let mock = OAuthMock::start().await;
    let url = mock.url("/iflow/apikey");
    let cookie = "BXAuth=mock-bxauth;";
    let (status, v) = send(client().get(&url).header("cookie", "BXAuth=wrong;")).await;
    assert_eq!((status, &v["success"]), (401, &json!(false)));
    let (status, v) = send(client().get(&url).header("cookie", cookie)).await;
    assert_eq!((status, &v["data"]["name"], &v["data"]["apiKey"]), (200, &json!("my-key"), &json!("")));
    assert!(v["data"]["apiKeyMask"].as_str().unwrap().starts_with("sk-****"));
    assert_eq!(v["data"]["expireTime"].as_str().unwrap().len(), "2026-02-01 12:00".len());
    let (old_key, _, _) = mock.iflow_cookie_key();

    let post = || client().post(&url).header("cookie", cookie).json(&json!({"name": "my-key"}));
    assert_eq!(send(post()).await.0, 403);
    let renew = post().header("origin", "https://platform.iflow.cn").header("referer", "https://platform.iflow.cn/");
    let (status, v) = send(renew).await;
    assert_eq!((status, &v["success"]), (200, &json!(true)), "{v}");
    let new_key = v["data"]["apiKey"].as_str().unwrap();
    assert_ne!(new_key, old_key);
    let tokens = mock.tokens();
    assert!(tokens.api_key_valid(new_key) && !tokens.api_key_valid(&old_key));

    mock.set_iflow_key_expire_time(Some("2020-01-01 00:00"));
    assert_eq!(send(client().get(&url).header("cookie", cookie)).await.1["data"]["expireTime"], "2020-01-01 00:00");
    mock.set_iflow_cookie("rotated");
    assert_eq!(send(client().get(&url).header("cookie", cookie)).await.0, 401);
}

fn generation(model: &str, project: Option<&str>) -> Value {
    let mut body = json!({
        "model": model,
        "user_prompt_id": "3f9a0c1b2d4e5f",
        "request": {
            "contents": [{"role": "user", "parts": [{"text": "hi there"}]}],
            "tools": [{"functionDeclarations": [{
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }]}],
            "session_id": "8c1f2a90-3b4d-5e6f-7a8b-9c0d1e2f3a4b",
        },
    });
    if let Some(p) = project {
        body["project"] = json!(p);
    }
    body
}

async fn call(ca: &CodeAssistMock, method: &str, token: &str, body: &Value) -> reqwest::Response {
    client().post(format!("{}:{method}", ca.base_url())).bearer_auth(token).json(body).send().await.expect("send")
}

/// The `data:` objects of an SSE body.
async fn events(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let body = resp.text().await.unwrap();
    let frames = body.strip_suffix("\r\n\r\n").expect("CRLF framing").split("\r\n\r\n");
    frames.map(|f| serde_json::from_str(f.strip_prefix("data: ").expect("data:")).expect("json")).collect()
}

#[tokio::test]
async fn code_assist_checks_tokens_and_streams_wrapped_answers() {
    let oauth = OAuthMock::start().await;
    let ca = CodeAssistMock::start(oauth.tokens()).await;
    let grant = oauth.issue_google("cid");
    let token = grant.access_token.as_str();
    let metadata =
        json!({"metadata": {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}});
    let resp = client().post(format!("{}:loadCodeAssist", ca.base_url())).json(&metadata).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = call(&ca, "loadCodeAssist", "ya29.forged", &metadata).await;
    let err: Value = resp.json().await.unwrap();
    assert_eq!((&err["error"]["code"], &err["error"]["status"]), (&json!(401), &json!("UNAUTHENTICATED")));
    assert!(err["error"]["message"].as_str().unwrap().starts_with("Request had invalid authentication credentials"));
    let load: Value = call(&ca, "loadCodeAssist", token, &metadata).await.json().await.unwrap();
    assert_eq!(load, default_load(DEFAULT_PROJECT));

    let chunks =
        events(call(&ca, "streamGenerateContent?alt=sse", token, &generation("gemini-2.5-pro", Some("p"))).await).await;
    assert!(chunks.len() >= 2);
    assert!(chunks.iter().all(|c| c["traceId"].is_string() && c["response"]["modelVersion"] == "gemini-2.5-pro"));
    let text: String = chunks
        .iter()
        .map(|c| c["response"]["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from code assist: hi there");
    let last = &chunks.last().unwrap()["response"];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 2);
    assert!(chunks[0]["response"]["candidates"][0].get("finishReason").is_none());

    let resp = call(&ca, "generateContent", token, &generation("gemini-2.5-flash", Some("p"))).await;
    let whole: Value = resp.json().await.unwrap();
    assert_eq!(whole["response"]["candidates"][0]["content"]["parts"][0]["text"], "Hello from code assist: hi there");
    let resp = call(&ca, "streamGenerateContent?alt=sse", token, &generation("gemini-2.5-pro", None)).await;
    assert_eq!(resp.status(), 400);
    let resp = call(&ca, "streamGenerateContent?alt=sse", token, &generation("rl-model", Some("p"))).await;
    assert_eq!(resp.status(), 429);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        (&err["error"]["status"], &err["error"]["message"]),
        (&json!("RESOURCE_EXHAUSTED"), &json!("Your quota will reset after 5s."))
    );
    assert_eq!(err["error"]["details"][1]["retryDelay"], "5s");
    let count: Value =
        call(&ca, "countTokens", token, &generation("gemini-2.5-pro", Some("p"))).await.json().await.unwrap();
    assert_eq!(count, json!({"totalTokens": 2}));
    let quota: Value = call(&ca, "retrieveUserQuota", token, &json!({"project": "p"})).await.json().await.unwrap();
    assert_eq!(quota["buckets"].as_array().unwrap().len(), 6);

    // A refresh rotates the access token out; an expired token is refused too.
    let refreshed = post_form(&oauth.url("/token"), &google_refresh(&grant.refresh_token, "cid")).await.1;
    assert_eq!(call(&ca, "loadCodeAssist", token, &metadata).await.status(), 401);
    let new_token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(call(&ca, "loadCodeAssist", new_token, &metadata).await.status(), 200);
    oauth.tokens().expire_access(new_token);
    assert_eq!(call(&ca, "loadCodeAssist", new_token, &metadata).await.status(), 401);
    assert_eq!(ca.generate_requests().len(), 4);
}

#[tokio::test]
async fn code_assist_onboarding_faults_and_tool_calls() {
    let oauth = OAuthMock::start().await;
    let ca = CodeAssistMock::start_for(&oauth).await;
    let token = oauth.issue_google("cid").access_token;
    let metadata = json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"});
    ca.needs_onboarding();
    let load: Value = call(&ca, "loadCodeAssist", &token, &json!({"metadata": metadata})).await.json().await.unwrap();
    assert!(load.get("currentTier").is_none() && load["allowedTiers"][0]["isDefault"] == true, "{load}");
    let with_project = json!({"tierId": "free-tier", "metadata": metadata, "cloudaicompanionProject": null});
    assert_eq!(call(&ca, "onboardUser", &token, &with_project).await.status(), 412);
    let onboard = json!({"tierId": "free-tier", "metadata": metadata});
    let pending: Value = call(&ca, "onboardUser", &token, &onboard).await.json().await.unwrap();
    assert_eq!(pending["done"], false);
    let done: Value = call(&ca, "onboardUser", &token, &onboard).await.json().await.unwrap();
    assert_eq!(
        (&done["done"], &done["response"]["cloudaicompanionProject"]["id"]),
        (&json!(true), &json!("onboarded-proj"))
    );
    let load: Value = call(&ca, "loadCodeAssist", &token, &json!({"metadata": metadata})).await.json().await.unwrap();
    assert_eq!(
        (&load["currentTier"]["id"], &load["cloudaicompanionProject"]),
        (&json!("free-tier"), &json!("onboarded-proj"))
    );

    ca.fail_next("streamGenerateContent", 503);
    let body = generation("tools-model", Some("onboarded-proj"));
    assert_eq!(call(&ca, "streamGenerateContent?alt=sse", &token, &body).await.status(), 503);
    let chunks = events(call(&ca, "streamGenerateContent?alt=sse", &token, &body).await).await;
    let candidate = &chunks.last().unwrap()["response"]["candidates"][0];
    let call_part = &candidate["content"]["parts"][0]["functionCall"];
    assert_eq!(*call_part, json!({"name": "get_weather", "args": {"city": "Paris"}}));
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(ca.requests_of("onboardUser").len(), 3);
}
