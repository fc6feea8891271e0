//! What web pages may do with the proxy. A browser sends a cross-site POST without asking first
//! (no preflight) only with a `text/plain`, form or multipart body, so JSON routes refuse every
//! body type but JSON (415); and a request whose `Origin` the configuration does not allow is
//! refused (403) before it reaches the engine, so a page can neither spend the operator's keys nor
//! read what they bought.
//!
//! `CORS_ALLOW_ORIGINS`: a list allows exactly those origins. `*` (the default) allows any origin
//! when a proxy key is configured (a page must then hold the key); in open mode (no proxy key) it
//! allows only loopback origins (`http://localhost:…`, `http://127.0.0.1:…`, `http://[::1]:…`),
//! which also defeats DNS rebinding onto a proxy listening on loopback. Requests without `Origin`
//! (SDKs, curl, servers) are never refused for it; a body without `Content-Type` is taken as
//! JSON, for command-line clients that send none.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use super::error::{ApiError, shape_for_path};
use super::request_log::RequestId;

/// Which origins may use the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    Any,
    /// Open mode with `*`: pages served from this machine only.
    Loopback,
    /// Exactly these origins (compared case-insensitively, without a trailing `/`).
    List(Vec<String>),
}

impl OriginPolicy {
    /// From `CORS_ALLOW_ORIGINS` and whether the proxy is in open mode.
    pub fn new(configured: &[String], open_mode: bool) -> Self {
        if configured.iter().any(|o| o.trim() == "*") {
            return if open_mode { Self::Loopback } else { Self::Any };
        }
        Self::List(configured.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).collect())
    }

    pub fn allows(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else { return false };
        match self {
            Self::Any => true,
            Self::Loopback => is_loopback_origin(origin),
            Self::List(list) => {
                let origin = origin.trim_end_matches('/');
                list.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
            }
        }
    }

    /// The CORS layer answering preflights for this policy: allow headers only for allowed
    /// origins.
    pub fn cors_layer(&self) -> CorsLayer {
        let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any).expose_headers(Any);
        match self {
            Self::Any => layer.allow_origin(Any),
            policy => {
                let policy = policy.clone();
                layer.allow_origin(AllowOrigin::predicate(move |origin, _| policy.allows(origin)))
            }
        }
    }
}

/// `scheme://host[:port]` whose host is `localhost`, a `.localhost` name or a loopback address.
fn is_loopback_origin(origin: &str) -> bool {
    let Ok(uri) = origin.parse::<http::Uri>() else { return false };
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A body type a browser could send cross-site without a preflight is not JSON: only
/// `application/json` and `…+json` are taken (or no type at all).
pub fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value else { return true };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    kind == "application" && (subtype == "json" || subtype.ends_with("+json"))
}

/// The middleware: the origin first (403), then the body type of requests that carry one (415).
pub async fn guard(State(origins): State<Arc<OriginPolicy>>, request: Request, next: Next) -> Response {
    let refuse = |request: &Request, err: ApiError| {
        let id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
        err.into_response_shaped(shape_for_path(request.uri().path()), id.as_deref())
    };
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !origins.allows(origin)
    {
        return refuse(&request, ApiError::OriginNotAllowed);
    }
    let carries_body = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    if carries_body && !is_json_content_type(request.headers().get(header::CONTENT_TYPE)) {
        return refuse(&request, ApiError::UnsupportedMediaType);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn star_means_any_origin_with_a_key_and_loopback_only_in_open_mode() {
        let star = vec!["*".to_string()];
        assert!(OriginPolicy::new(&star, false).allows(&value("http://evil.example")));
        let open = OriginPolicy::new(&star, true);
        assert!(!open.allows(&value("http://evil.example")));
        assert!(!open.allows(&value("null")));
        assert!(!open.allows(&value("http://127.0.0.1.evil.example")));
        for ok in ["http://localhost:3000", "http://127.0.0.1:8000", "http://[::1]:5173", "http://app.localhost"] {
            assert!(open.allows(&value(ok)), "{ok}");
        }
    }

    #[test]
    fn a_list_allows_exactly_its_origins() {
        let list = OriginPolicy::new(&["https://Good.example/".to_string()], true);
        assert!(list.allows(&value("https://good.example")));
        assert!(!list.allows(&value("https://good.example.evil")));
        assert!(!list.allows(&value("http://good.example")));
    }

    #[test]
    fn only_json_body_types_are_taken() {
        for ok in
            [None, Some("application/json"), Some("Application/JSON; charset=utf-8"), Some("application/vnd.x+json")]
        {
            assert!(is_json_content_type(ok.map(value).as_ref()), "{ok:?}");
        }
        for refused in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"] {
            assert!(!is_json_content_type(Some(&value(refused))), "{refused}");
        }
    }
}
