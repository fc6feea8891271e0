//! Proxy-key authentication: `Authorization: Bearer`, `x-api-key` or `x-goog-api-key`, compared
//! in constant time through SHA-256 digests so neither content nor length leaks through timing.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::{ApiError, shape_for_path};
use super::request_log::RequestId;
use crate::config::Env;
use crate::config::env_names::{PROXY_API_KEY, PROXY_API_KEYS};
use crate::config::values::parse_list;
use crate::formats::family::ErrorShape;

#[derive(Default)]
pub struct ProxyAuth {
    digests: Vec<[u8; 32]>,
    /// Kept only so upstream messages can be scrubbed of them; never shown.
    secrets: Vec<String>,
}

impl std::fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyAuth").field("keys", &self.digests.len()).finish()
    }
}

impl ProxyAuth {
    /// `PROXY_API_KEY` taken literally plus every entry of `PROXY_API_KEYS`.
    pub fn from_env(env: &Env) -> Self {
        let mut keys: Vec<String> = Vec::new();
        if let Some(key) = env.get(PROXY_API_KEY).filter(|k| !k.is_empty()) {
            keys.push(key.to_string());
        }
        keys.extend(env.get(PROXY_API_KEYS).map(parse_list).unwrap_or_default());
        keys.dedup();
        Self::new(keys)
    }

    pub fn new(keys: Vec<String>) -> Self {
        Self { digests: keys.iter().map(|k| digest(k)).collect(), secrets: keys }
    }

    /// No key configured: every route is open.
    pub fn is_open(&self) -> bool {
        self.digests.is_empty()
    }

    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Who a request is, for data only its creator may read back (stored Responses): a short
    /// hash of the proxy key it presented, or `open` when no key is configured.
    pub fn owner(&self, headers: &HeaderMap) -> String {
        if self.is_open() {
            return "open".to_string();
        }
        let key = presented_keys(headers).find(|key| {
            let presented = digest(key);
            self.digests.iter().any(|d| bool::from(d.ct_eq(&presented)))
        });
        key.map_or_else(
            || "unknown".to_string(),
            |key| digest(key).iter().take(12).map(|b| format!("{b:02x}")).collect(),
        )
    }

    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        self.accepts_with(headers, None)
    }

    /// [`Self::accepts`], also taking a key from the query string (`?key=`, Gemini style).
    pub fn accepts_with(&self, headers: &HeaderMap, query_key: Option<&str>) -> bool {
        if self.is_open() {
            return true;
        }
        presented_keys(headers).chain(query_key).any(|key| {
            let presented = digest(key);
            // Check every configured key so the time does not depend on which one matched.
            self.digests.iter().fold(subtle::Choice::from(0), |acc, d| acc | d.ct_eq(&presented)).into()
        })
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn presented_keys(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers.get_all(http::header::AUTHORIZATION).iter().filter_map(|v| {
        let value = v.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
    });
    let plain = ["x-api-key", "x-goog-api-key"]
        .into_iter()
        .flat_map(|name| headers.get_all(name).iter())
        .filter_map(|v| v.to_str().ok().map(str::trim));
    bearer.chain(plain)
}

/// Middleware for the routes that need the proxy key.
pub async fn require_proxy_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let shape = shape_for_path(request.uri().path());
    let query_key = gemini_style(request.uri()).then(|| query_key(request.uri().query())).flatten();
    if state.auth.accepts_with(request.headers(), query_key.as_deref()) {
        return next.run(request).await;
    }
    let id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    ApiError::Unauthorized.into_response_shaped(shape, id.as_deref())
}

/// Routes where a Gemini client may put the key in the query string: `/v1beta/…`, the Gemini
/// methods under `/v1/models/`, and the model list (whose shape then follows, §5.9).
pub fn gemini_style(uri: &http::Uri) -> bool {
    let path = uri.path();
    shape_for_path(path) == ErrorShape::Gemini || path == "/v1/models"
}

/// The `key` query parameter, percent-decoded.
pub fn query_key(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let value = pair.strip_prefix("key=")?;
        Some(percent_decode(value)).filter(|v| !v.is_empty())
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_are_read_and_decoded() {
        assert_eq!(query_key(Some("alt=sse&key=k%2Dmain")).as_deref(), Some("k-main"));
        assert_eq!(query_key(Some("key=")), None);
        assert_eq!(query_key(Some("keyx=1")), None);
        assert_eq!(query_key(Some("key=50%")).as_deref(), Some("50%"));
        assert_eq!(query_key(None), None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_header_form_is_accepted_and_wrong_keys_are_not() {
        let auth =
            ProxyAuth::from_env(&Env::from_pairs([("PROXY_API_KEY", "k-main"), ("PROXY_API_KEYS", "k-two, k-three")]));
        assert!(auth.accepts(&headers(&[("authorization", "Bearer k-main")])));
        assert!(auth.accepts(&headers(&[("authorization", "bearer   k-three ")])));
        assert!(auth.accepts(&headers(&[("x-api-key", "k-two")])));
        assert!(auth.accepts(&headers(&[("x-goog-api-key", "k-main")])));
        assert!(!auth.accepts(&headers(&[("authorization", "Bearer wrong")])));
        assert!(!auth.accepts(&headers(&[("authorization", "Basic k-main")])));
        assert!(!auth.accepts(&headers(&[("authorization", "k-main")])));
        assert!(!auth.accepts(&HeaderMap::new()));
    }

    #[test]
    fn without_keys_everything_is_open() {
        let auth = ProxyAuth::from_env(&Env::from_pairs([("PROXY_API_KEY", "")]));
        assert!(auth.is_open());
        assert!(auth.accepts(&HeaderMap::new()));
    }
}
