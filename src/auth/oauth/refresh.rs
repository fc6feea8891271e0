//! One token refresh (credentials specification §6, §9, §11, §12), the iFlow cookie API-key
//! renewal (§12 flow B) and the "is it due" test.
//!
//! These functions make the network calls only: re-reading the file first, single-flight,
//! writing the result back and deciding whether to wait out a `Retry-After` belong to the caller.
//! Errors name the credential by file or `env://` id and never carry a token.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::flows::{error_code_of, form_body, iflow_user_info, token_set_from_json, transport_message, unwrap_iflow};
use super::providers::OAuthEndpoints;
use super::{OAuthProvider, StoredCredential, TokenSet};

/// Google's token endpoint: when `endpoints.token_uri` still has this default (no
/// `<PREFIX>_TOKEN_URI` override), a credential file's own `token_uri` is used instead (§9).
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Waits between the tries of a network error or 5xx (§6: 3 tries, waits 1 s and 2 s).
const RETRY_WAITS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];
/// iFlow cookie credentials: the API key is renewed when it expires within 48 h (§6).
const COOKIE_RENEW_BUFFER_MS: i64 = 172_800_000;
const IFLOW_PLATFORM_ORIGIN: &str = "https://platform.iflow.cn";
const IFLOW_PLATFORM_REFERER: &str = "https://platform.iflow.cn/";

#[derive(Debug, Clone, thiserror::Error)]
pub enum RefreshError {
    /// Network error, 5xx after the retries, or an unexpected answer: try again later; a
    /// still-valid token stays in use.
    #[error("token refresh failed: {0}")]
    Transient(String),
    /// HTTP 429; `retry_after` from the `Retry-After` header when it had one.
    #[error("token refresh rate-limited{}", .retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The grant is gone (revoked, expired, rotated away) or missing: only a new login helps.
    /// The message names the credential and the command that fixes it.
    #[error("{0}")]
    NeedsReauth(String),
}

/// Refreshes `credential` once (with §6's retries) and returns the merged token set: the new
/// access token and expiry, and every other field the answer carried, else the old value.
///
/// Token endpoint: `endpoints.token_uri`, except for the Google family when it is Google's
/// default, where the credential's own `token_uri` (if any) wins; client id and secret: the
/// credential's own (Google family) when present, else the endpoints'. iFlow: Basic client
/// authentication, then user info again (the API key can change; if that call fails the old
/// API key is kept, because the rotated tokens must not be lost).
pub async fn refresh(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    credential: &StoredCredential,
) -> Result<TokenSet, RefreshError> {
    refresh_with_waits(http, endpoints, credential, &RETRY_WAITS).await
}

pub(crate) async fn refresh_with_waits(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    credential: &StoredCredential,
    waits: &[Duration],
) -> Result<TokenSet, RefreshError> {
    let provider = credential.provider;
    let Some(refresh_token) = credential.tokens.refresh_token.as_ref().filter(|t| !t.expose_secret().is_empty()) else {
        return Err(needs_reauth(credential, "it has no refresh token"));
    };
    let google = provider.is_google();
    let token_uri = match credential.token_uri.as_deref().map(str::trim) {
        Some(own) if google && !own.is_empty() && endpoints.token_uri == GOOGLE_TOKEN_URI => own,
        _ => endpoints.token_uri.as_str(),
    };
    let client_id = match credential.client_id.as_deref() {
        Some(own) if google && !own.is_empty() => own,
        _ => endpoints.client_id.as_str(),
    };
    let client_secret = match &credential.client_secret {
        Some(own) if google && !own.expose_secret().is_empty() => Some(own.expose_secret()),
        _ => endpoints.client_secret.as_deref(),
    };

    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose_secret()),
        ("client_id", client_id),
    ];
    if provider != OAuthProvider::QwenCode {
        pairs.push(("client_secret", client_secret.unwrap_or_default()));
    }
    let body = form_body(&pairs);
    let make = || {
        let request = http
            .post(token_uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body.clone());
        if provider == OAuthProvider::Iflow {
            request.basic_auth(client_id, Some(client_secret.unwrap_or_default()))
        } else {
            request
        }
    };
    let (status, headers, bytes) = send_with_retries(make, waits).await?;
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if !status.is_success() {
        return Err(classify_failure(credential, status, &headers, json.as_ref()));
    }
    let mut json = json.ok_or_else(|| RefreshError::Transient(format!("HTTP {status} with a non-JSON answer")))?;
    if provider == OAuthProvider::Iflow {
        json = match unwrap_iflow(json.clone(), "token") {
            Ok(data) => data,
            Err(_) if text_says_invalid(&json) => {
                return Err(needs_reauth(credential, "the token endpoint refused it"));
            }
            Err(e) => return Err(RefreshError::Transient(e.to_string())),
        };
    }
    let fresh = token_set_from_json(&json, crate::store::now_ms())
        .ok_or_else(|| RefreshError::Transient("the answer has no access_token".into()))?;
    let mut merged = merge(&credential.tokens, fresh);

    if provider == OAuthProvider::Iflow {
        match iflow_user_info(http, endpoints, &merged).await {
            Ok(info) => merged.api_key = Some(info.api_key),
            Err(e) => tracing::warn!(
                credential = %credential.display_id(),
                "tokens refreshed, but user info failed ({e}); keeping the previous API key"
            ),
        }
    }
    Ok(merged)
}

/// The new access token and expiry; the other fields from the answer when it has them, else the
/// old ones (a refresh token that did not rotate stays).
fn merge(old: &TokenSet, new: TokenSet) -> TokenSet {
    TokenSet {
        access_token: new.access_token,
        expiry_ms: new.expiry_ms,
        refresh_token: new.refresh_token.or_else(|| old.refresh_token.clone()),
        api_key: new.api_key.or_else(|| old.api_key.clone()),
        id_token: new.id_token.or_else(|| old.id_token.clone()),
        scope: new.scope.or_else(|| old.scope.clone()),
        token_type: new.token_type.or_else(|| old.token_type.clone()),
        resource_url: new.resource_url.or_else(|| old.resource_url.clone()),
    }
}

/// A non-2xx answer that is not a 5xx (those were retried): §6's classification.
fn classify_failure(
    credential: &StoredCredential,
    status: StatusCode,
    headers: &HeaderMap,
    json: Option<&Value>,
) -> RefreshError {
    let code = json.and_then(|j| j.get("error")).and_then(error_code_of);
    let described =
        || format!("HTTP {}{}", status.as_u16(), code.as_deref().map(|c| format!(", {c}")).unwrap_or_default());
    match status.as_u16() {
        429 => RefreshError::RateLimited { retry_after: retry_after(headers) },
        401 | 403 => needs_reauth(credential, &format!("the token endpoint refused it ({})", described())),
        400 => {
            let grant_gone = matches!(code.as_deref(), Some("invalid_grant" | "invalid_request"));
            let described_invalid = !credential.provider.is_google()
                && json
                    .and_then(|j| j.get("error_description"))
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.to_ascii_lowercase().contains("invalid"));
            if grant_gone || described_invalid {
                needs_reauth(credential, &format!("the token endpoint refused it ({})", described()))
            } else {
                RefreshError::Transient(described())
            }
        }
        _ => RefreshError::Transient(described()),
    }
}

/// iFlow's `success: false` answers: does their text call the grant invalid?
fn text_says_invalid(json: &Value) -> bool {
    ["message", "error_description", "error", "msg"]
        .iter()
        .filter_map(|k| json.get(*k).and_then(Value::as_str))
        .any(|t| t.to_ascii_lowercase().contains("invalid"))
}

fn needs_reauth(credential: &StoredCredential, reason: &str) -> RefreshError {
    let provider = credential.provider.name();
    RefreshError::NeedsReauth(format!(
        "{provider} credential {} needs a new login: {reason}; run `llmkp auth add {provider}`",
        credential.display_id()
    ))
}

/// `Retry-After` as seconds or an HTTP-date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = crate::formats::failure::retry_info::parse_http_date(value)?;
    Some(Duration::from_millis(u64::try_from(at - crate::store::now_ms()).unwrap_or(0)))
}

/// Sends with §6's retries: a network error or 5xx is tried again after each of `waits`; any
/// other answer is returned as it is.
async fn send_with_retries(
    make: impl Fn() -> reqwest::RequestBuilder,
    waits: &[Duration],
) -> Result<(StatusCode, HeaderMap, Bytes), RefreshError> {
    let mut waits = waits.iter();
    loop {
        let failure = match make().send().await {
            Ok(response) if !response.status().is_server_error() => {
                let (status, headers) = (response.status(), response.headers().clone());
                match response.bytes().await {
                    Ok(bytes) => return Ok((status, headers, bytes)),
                    Err(e) => transport_message(e),
                }
            }
            Ok(response) => format!("HTTP {}", response.status().as_u16()),
            Err(e) => transport_message(e),
        };
        match waits.next() {
            Some(wait) => {
                tracing::debug!("token endpoint call failed ({failure}); retrying in {} ms", wait.as_millis());
                tokio::time::sleep(*wait).await;
            }
            None => return Err(RefreshError::Transient(failure)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// iFlow cookie credentials (§12 flow B)

/// Renews an iFlow cookie credential's API key: `GET {apikey uri}` with the `BXAuth` cookie for
/// the key's name, then `POST` `{"name": …}` to issue a fresh key. Returns the API key, its
/// `expireTime` (`YYYY-MM-DD HH:MM`) and the key's name. `success: false` or a non-200 status
/// fails; 401/403 mean the cookie is no longer valid (`NeedsReauth`).
pub async fn renew_cookie_api_key(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    credential: &StoredCredential,
) -> Result<(SecretString, String, String), RefreshError> {
    renew_cookie_with_waits(http, endpoints, credential, &RETRY_WAITS).await
}

pub(crate) async fn renew_cookie_with_waits(
    http: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    credential: &StoredCredential,
    waits: &[Duration],
) -> Result<(SecretString, String, String), RefreshError> {
    let Some(cookie) = credential.cookie.as_ref().map(|c| cookie_header(c.expose_secret())).filter(|c| !c.is_empty())
    else {
        return Err(needs_reauth(credential, "it has no BXAuth cookie"));
    };
    let uri = endpoints
        .apikey_uri
        .as_deref()
        .ok_or_else(|| RefreshError::Transient("no iFlow API-key endpoint configured".into()))?;

    let get = || http.get(uri).header(header::COOKIE, &cookie).header(header::ACCEPT, "application/json");
    let listed = cookie_call(credential, send_with_retries(get, waits).await?)?;
    let text = |data: &Value, key: &str| {
        data.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    };
    let name = text(&listed, "name")
        .or_else(|| credential.raw.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
        .ok_or_else(|| RefreshError::Transient("the API-key endpoint named no key".into()))?;

    let body = serde_json::json!({ "name": name });
    let post = || {
        http.post(uri)
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, IFLOW_PLATFORM_ORIGIN)
            .header(header::REFERER, IFLOW_PLATFORM_REFERER)
            .json(&body)
    };
    let issued = cookie_call(credential, send_with_retries(post, waits).await?)?;
    let api_key =
        text(&issued, "apiKey").ok_or_else(|| RefreshError::Transient("the renewal answer has no apiKey".into()))?;
    // Without an expiry the key would look due forever and be renewed on every request.
    let expire_time = text(&issued, "expireTime")
        .or_else(|| text(&listed, "expireTime"))
        .filter(|t| parse_expire_time(t).is_some())
        .ok_or_else(|| RefreshError::Transient("the API-key endpoint gave no usable expireTime".into()))?;
    Ok((SecretString::from(api_key), expire_time, name))
}

/// `BXAuth=<value>;` from a stored cookie (`BXAuth=…;` as the files hold it, or the bare value).
fn cookie_header(stored: &str) -> String {
    let stored = stored.trim().trim_end_matches(';').trim();
    if stored.is_empty() {
        return String::new();
    }
    // A bare value may itself end in `=` (base64 padding): only a `BXAuth=` prefix marks a pair.
    if stored.starts_with("BXAuth=") { format!("{stored};") } else { format!("BXAuth={stored};") }
}

/// Checks a cookie-flow answer and returns its `data`.
fn cookie_call(
    credential: &StoredCredential,
    (status, headers, bytes): (StatusCode, HeaderMap, Bytes),
) -> Result<Value, RefreshError> {
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    match status.as_u16() {
        200 => {}
        401 | 403 => {
            return Err(needs_reauth(credential, &format!("the BXAuth cookie was refused (HTTP {})", status.as_u16())));
        }
        429 => return Err(RefreshError::RateLimited { retry_after: retry_after(&headers) }),
        other => return Err(RefreshError::Transient(format!("API-key endpoint answered HTTP {other}"))),
    }
    let json = json.ok_or_else(|| RefreshError::Transient("the API-key endpoint answered no JSON".into()))?;
    if json.get("success").and_then(Value::as_bool) != Some(true) {
        let code = ["code", "message"].iter().find_map(|k| json.get(*k).and_then(error_code_of));
        return Err(RefreshError::Transient(format!(
            "the API-key endpoint answered success: false{}",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        )));
    }
    Ok(json.get("data").cloned().unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------------

/// Whether `credential` should be refreshed (or, for an iFlow cookie credential, its API key
/// renewed) now (§6): `expiry − buffer < now`, buffers 30 min (Google family), 3 h (Qwen Code),
/// 24 h (iFlow OAuth), 48 h (iFlow cookie `expire_time`). No access token, no expiry, or an
/// empty or unparsable `expire_time` → due.
///
/// `expire_time` (`YYYY-MM-DD HH:MM`) is read as UTC: the local zone's offset (at most 14 h) is
/// small against the 48 h buffer, and the crate has no time-zone database.
pub fn is_due(credential: &StoredCredential, now_ms: i64) -> bool {
    if credential.provider == OAuthProvider::Iflow && credential.is_cookie() {
        return match credential.cookie_expire_time.as_deref().and_then(parse_expire_time) {
            Some(expires) => expires - COOKIE_RENEW_BUFFER_MS < now_ms,
            None => true,
        };
    }
    if credential.tokens.access_token.is_none() {
        return true;
    }
    match credential.tokens.expiry_ms {
        Some(expiry) => expiry.saturating_sub(credential.provider.refresh_buffer_secs() * 1000) < now_ms,
        None => true,
    }
}

/// `YYYY-MM-DD HH:MM` (seconds allowed) as unix milliseconds, read as UTC.
pub fn parse_expire_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let full = match text.len() {
        16 => format!("{text}:00Z"),
        19 => format!("{text}Z"),
        _ => return None,
    };
    crate::formats::failure::retry_info::parse_rfc3339(&full)
}

#[cfg(test)]
mod tests;
