//! iFlow: consent redirect, Basic-auth token endpoint with wrapped answers, user info (API key), and the cookie
//! API-key endpoint of flow B.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::google::{self, AuthCode};
use super::{Family, IssuedTokens, RecordedRequest, Shared, TokenRegistry, field, json_response, oauth_error};
use super::{bad_request, redirect, unix_now, utc_parts};

pub(super) const IFLOW_SCOPE: &str = "read write";
pub(super) const COOKIE_KEY_NAME: &str = "my-key";
const KEY_LIFETIME_SECS: u64 = 30 * 86_400;

/// The API key of the cookie flow.
pub(super) struct CookieKey {
    pub name: String,
    pub api_key: String,
    pub expire_time: String,
}

impl CookieKey {
    pub(super) fn new(tokens: &TokenRegistry) -> Self {
        let api_key = tokens.swap_api_key(None, COOKIE_KEY_NAME);
        Self { name: COOKIE_KEY_NAME.into(), api_key, expire_time: expire_time(unix_now() + KEY_LIFETIME_SECS) }
    }
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn expire_time(secs: u64) -> String {
    let (y, mo, d, h, mi, _) = utc_parts(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// `GET /iflow/authorize?loginMethod=phone&type=phone&redirect=…&state=…&client_id=…`
pub(super) fn authorize(shared: &Shared, q: &Map<String, Value>) -> Response {
    let (client_id, redirect_uri, state) = (field(q, "client_id"), field(q, "redirect"), field(q, "state"));
    if client_id.is_empty() || redirect_uri.is_empty() {
        return bad_request("client_id and redirect are required");
    }
    if client_id == "deny-me" {
        return redirect(redirect_uri, &[("error", "access_denied"), ("state", state)]);
    }
    let email = shared.settings().iflow_email.clone().unwrap_or_default();
    let code = google::new_code(
        shared,
        AuthCode {
            family: Family::IFlow,
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: None,
            scope: IFLOW_SCOPE.into(),
            email,
        },
    );
    redirect(redirect_uri, &[("code", &code), ("state", state)])
}

/// `(client_id, client_secret)` of an `Authorization: Basic …` header.
fn basic_auth(req: &RecordedRequest) -> Option<(String, String)> {
    let encoded = req.header("authorization")?.strip_prefix("Basic ")?.trim();
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /iflow/token`: Basic auth (matching the form's `client_id`/`client_secret` when sent, and the configured
/// client), then `authorization_code` or `refresh_token`.
pub(super) async fn token(shared: &Shared, req: &RecordedRequest, form: &Map<String, Value>) -> Response {
    let Some((id, secret)) = basic_auth(req) else {
        return oauth_error(401, "invalid_client", "Missing or malformed Basic client authentication");
    };
    let form_mismatch = |name: &str, value: &str| form.get(name).and_then(Value::as_str).is_some_and(|v| v != value);
    let configured = shared.settings().iflow_client.clone();
    if form_mismatch("client_id", &id)
        || form_mismatch("client_secret", &secret)
        || configured.is_some_and(|(cid, cs)| cid != id || cs != secret)
    {
        return oauth_error(401, "invalid_client", "Bad client credentials");
    }
    match field(form, "grant_type") {
        "authorization_code" => {
            let data = match google::take_code(shared, form, Family::IFlow, &id) {
                Ok(data) => data,
                Err(resp) => return resp,
            };
            let expires_in = shared.settings().expires_in(Family::IFlow);
            token_answer(&shared.tokens.issue(Family::IFlow, &id, &data.email, &data.scope, expires_in))
        }
        "refresh_token" => super::refresh(shared, form, &[Family::IFlow], &id, Some(&secret)).await,
        other => oauth_error(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")),
    }
}

/// The wrapped token answer.
pub(super) fn token_answer(issued: &IssuedTokens) -> Response {
    let data = json!({
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in": issued.expires_in,
        "token_type": "bearer",
        "scope": issued.scope,
    });
    json_response(200, &json!({"success": true, "code": "200", "message": "success", "data": data}))
}

/// `GET /iflow/userinfo?accessToken=…`
pub(super) fn userinfo(shared: &Shared, q: &Map<String, Value>) -> Response {
    match shared.tokens.check_access_of(field(q, "accessToken"), Family::IFlow) {
        Ok(info) => {
            let phone = shared.settings().iflow_phone.clone();
            let data = json!({
                "userId": "mock-user-1",
                "userName": "mock-user",
                "apiKey": info.api_key,
                "email": info.email,
                "phone": phone,
            });
            json_response(200, &json!({"success": true, "code": "200", "message": "success", "data": data}))
        }
        Err(_) => unsuccessful(401, "Invalid access token"),
    }
}

/// The `BXAuth` value of a `Cookie` header.
fn bxauth(req: &RecordedRequest) -> Option<&str> {
    req.header("cookie")?.split(';').map(str::trim).find_map(|c| c.strip_prefix("BXAuth="))
}

/// `GET /iflow/apikey` (key info, `apiKey` empty with `apiKeyMask`) and `POST /iflow/apikey` `{"name"}` (a new key;
/// needs `Origin` and `Referer` of the platform), both with `Cookie: BXAuth=<value>`.
pub(super) fn apikey(shared: &Shared, req: &RecordedRequest) -> Response {
    let (cookie, expire_override) = {
        let s = shared.settings();
        (s.iflow_cookie.clone(), s.iflow_key_expire_time.clone())
    };
    if bxauth(req) != Some(cookie.as_str()) {
        return unsuccessful(401, "Not logged in");
    }
    let mut key = shared.cookie_key.lock().unwrap();
    if req.method == "POST" {
        if req.header("origin") != Some("https://platform.iflow.cn")
            || !req.header("referer").is_some_and(|r| r.starts_with("https://platform.iflow.cn"))
        {
            return unsuccessful(403, "Forbidden");
        }
        if req.body["name"].as_str() != Some(key.name.as_str()) {
            return unsuccessful(400, "API key not found");
        }
        key.api_key = shared.tokens.swap_api_key(Some(&key.api_key), &key.name);
        key.expire_time = expire_time(unix_now() + KEY_LIFETIME_SECS);
    }
    let expire = expire_override.unwrap_or_else(|| key.expire_time.clone());
    let mut data = json!({"name": key.name, "expireTime": expire, "hasExpired": false});
    if req.method == "POST" {
        data["apiKey"] = json!(key.api_key);
    } else {
        data["apiKey"] = json!("");
        data["apiKeyMask"] = json!(format!("sk-****{}", &key.api_key[key.api_key.len().saturating_sub(4)..]));
    }
    json_response(200, &json!({"success": true, "code": "200", "message": "success", "data": data}))
}

/// `{"success":false,…}` with an HTTP status.
fn unsuccessful(status: u16, message: &str) -> Response {
    json_response(status, &json!({"success": false, "code": status.to_string(), "message": message, "data": null}))
}
