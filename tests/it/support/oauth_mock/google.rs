//! Google's consent page, authorization-code exchange (PKCE) and user info.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{
    Family, GOOGLE_SCOPES, IssuedTokens, RecordedRequest, Shared, bad_request, field, json_response, oauth_error,
    pkce_matches, redirect, unix_now,
};

/// What `/authorize` (or `/iflow/authorize`) promised for a code.
pub(super) struct AuthCode {
    pub family: Family,
    pub client_id: String,
    pub redirect_uri: String,
    /// `(challenge, method)` when the consent request carried one.
    pub challenge: Option<(String, String)>,
    pub scope: String,
    pub email: String,
}

/// `GET /authorize`: validates the consent request and redirects with a fresh code (or `access_denied` for
/// `client_id=deny-me`).
pub(super) fn authorize(shared: &Shared, q: &Map<String, Value>) -> Response {
    let (client_id, redirect_uri, state) = (field(q, "client_id"), field(q, "redirect_uri"), field(q, "state"));
    if client_id.is_empty() {
        return bad_request("Missing required parameter: client_id");
    }
    if redirect_uri.is_empty() {
        return bad_request("Missing required parameter: redirect_uri");
    }
    if field(q, "response_type") != "code" {
        return redirect(redirect_uri, &[("error", "unsupported_response_type"), ("state", state)]);
    }
    let challenge = field(q, "code_challenge");
    let method = match field(q, "code_challenge_method") {
        "" if challenge.is_empty() => "",
        "" | "plain" => "plain",
        "S256" => "S256",
        other => return bad_request(&format!("Invalid code_challenge_method: {other}")),
    };
    if client_id == "deny-me" {
        return redirect(redirect_uri, &[("error", "access_denied"), ("state", state)]);
    }
    let scope = match field(q, "scope") {
        "" => GOOGLE_SCOPES.to_owned(),
        s => s.to_owned(),
    };
    let code = new_code(
        shared,
        AuthCode {
            family: Family::Google,
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: (!challenge.is_empty()).then(|| (challenge.to_owned(), method.to_owned())),
            scope,
            email: shared.settings().email.clone(),
        },
    );
    redirect(redirect_uri, &[("code", &code), ("state", state)])
}

/// Stores `code` data under a fresh `4/0mock-<n>` code.
pub(super) fn new_code(shared: &Shared, data: AuthCode) -> String {
    let mut codes = shared.codes.lock().unwrap();
    let code = format!("4/0mock-{}-{}", codes.len() + 1, rand::random::<u32>());
    codes.insert(code.clone(), data);
    code
}

/// Takes the code of an exchange of `family` after checking `redirect_uri`, client and PKCE; consumed only on
/// success.
pub(super) fn take_code(
    shared: &Shared,
    form: &Map<String, Value>,
    family: Family,
    client_id: &str,
) -> Result<AuthCode, Response> {
    let code = field(form, "code");
    let mut codes = shared.codes.lock().unwrap();
    let Some(data) = codes.get(code).filter(|c| c.family == family) else {
        return Err(oauth_error(400, "invalid_grant", "Malformed auth code."));
    };
    if data.redirect_uri != field(form, "redirect_uri") {
        return Err(oauth_error(400, "redirect_uri_mismatch", "Bad Request"));
    }
    if data.client_id != client_id {
        return Err(oauth_error(401, "unauthorized_client", "Unauthorized"));
    }
    if let Some((challenge, method)) = &data.challenge {
        match form.get("code_verifier").and_then(Value::as_str) {
            None | Some("") => return Err(oauth_error(400, "invalid_grant", "Missing code verifier.")),
            Some(v) if !pkce_matches(challenge, method, v) => {
                return Err(oauth_error(400, "invalid_grant", "Invalid code verifier."));
            }
            Some(_) => {}
        }
    }
    Ok(codes.remove(code).expect("present"))
}

/// `POST /token` with `grant_type=authorization_code`.
pub(super) fn exchange(shared: &Shared, form: &Map<String, Value>) -> Response {
    let client_id = field(form, "client_id");
    if let Err(resp) = check_client(shared, client_id, form.get("client_secret").and_then(Value::as_str)) {
        return resp;
    }
    let data = match take_code(shared, form, Family::Google, client_id) {
        Ok(data) => data,
        Err(resp) => return resp,
    };
    let expires_in = shared.settings().expires_in(Family::Google);
    let issued = shared.tokens.issue(Family::Google, &data.client_id, &data.email, &data.scope, expires_in);
    json_response(200, &token_answer(&issued, true))
}

/// The configured client (if any) must match; without one, any id with a non-empty secret passes.
pub(super) fn check_client(shared: &Shared, client_id: &str, secret: Option<&str>) -> Result<(), Response> {
    if client_id.is_empty() {
        return Err(oauth_error(400, "invalid_request", "Could not determine client ID from request."));
    }
    let secret = secret.unwrap_or("");
    match &shared.settings().google_client {
        Some((id, _)) if id != client_id => Err(oauth_error(401, "invalid_client", "The OAuth client was not found.")),
        Some((_, s)) if s != secret => Err(oauth_error(401, "invalid_client", "Unauthorized")),
        None if secret.is_empty() => Err(oauth_error(400, "invalid_request", "client_secret is missing.")),
        _ => Ok(()),
    }
}

/// Google's token answer; `refresh_token` only when one was issued.
pub(super) fn token_answer(issued: &IssuedTokens, with_refresh: bool) -> Value {
    let mut v = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "scope": issued.scope,
        "token_type": "Bearer",
        "id_token": id_token(issued),
    });
    if with_refresh {
        v["refresh_token"] = json!(issued.refresh_token);
    }
    v
}

/// An unsigned-looking JWT with the usual claims (`email`, `aud`, `exp`, …).
fn id_token(issued: &IssuedTokens) -> String {
    let now = unix_now();
    let header = json!({"alg": "RS256", "kid": "mock", "typ": "JWT"});
    let claims = json!({
        "iss": "https://accounts.google.com",
        "azp": issued.client_id,
        "aud": issued.client_id,
        "sub": subject(&issued.email),
        "email": issued.email,
        "email_verified": true,
        "iat": now,
        "exp": now + issued.expires_in,
    });
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", enc(&header), enc(&claims), URL_SAFE_NO_PAD.encode("mock-signature"))
}

/// A stable 21-digit numeric id for an e-mail.
fn subject(email: &str) -> String {
    let sum = email.bytes().fold(0u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
    format!("1{sum:020}")
}

/// `GET /userinfo` with a Bearer Google access token.
pub(super) fn userinfo(shared: &Shared, req: &RecordedRequest) -> Response {
    let info = req.bearer().map(|t| shared.tokens.check_access_of(t, Family::Google));
    match info {
        Some(Ok(info)) => json_response(
            200,
            &json!({
                "id": subject(&info.email),
                "email": info.email,
                "verified_email": true,
                "picture": "https://lh3.googleusercontent.com/a/mock",
            }),
        ),
        None => unauthenticated(
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or \
             other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        ),
        Some(Err(_)) => unauthenticated(
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        ),
    }
}

fn unauthenticated(message: &str) -> Response {
    json_response(401, &json!({"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED"}}))
}
