//! The outermost layer: gives every response an `x-request-id` (the client's when it is a
//! safe token, a fresh one otherwise) and writes the one INFO line per request.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;

/// The id of the request being served, for handlers that echo it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// When the request reached the server (before its body was read): the engine's deadline
/// counts from here.
#[derive(Debug, Clone, Copy)]
pub struct RequestArrival(pub tokio::time::Instant);

/// What a routed handler tells the log line: the model asked for and who served it.
#[derive(Debug, Clone)]
pub struct RouteLog {
    pub requested: String,
    pub served: Option<String>,
    pub attempts: usize,
}

pub async fn request_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_safe_id(v))
        .map_or_else(new_request_id, str::to_string);
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(RequestArrival(tokio::time::Instant::now()));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string());
    // The route template, never the raw path: a bounded metrics label.
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();

    let record = crate::telemetry::detailed_writer::enabled().then(|| {
        let target = request.uri().path_and_query().map_or(path.as_str(), |p| p.as_str());
        crate::telemetry::detailed::Record::new(&id, method.as_str(), target, request.headers())
    });

    let in_flight = crate::telemetry::request_in_flight();
    let served = crate::telemetry::request_scope::measured(next.run(request));
    let ((mut response, upstream_wait), record) = crate::telemetry::detailed::collecting(record, served).await;
    drop(in_flight);

    if let Ok(value) = HeaderValue::from_str(&id) {
        // The Anthropic SDKs read `request-id`, the OpenAI ones `x-request-id`.
        if path.starts_with("/v1/messages") {
            response.headers_mut().insert("request-id", value.clone());
        }
        response.headers_mut().insert("x-request-id", value);
    }
    let routed = response.extensions().get::<RouteLog>();
    crate::telemetry::request_done(
        &route,
        routed.and_then(|r| r.served.as_deref()),
        routed.map(|r| r.requested.as_str()),
        response.status().as_u16(),
        started.elapsed(),
        upstream_wait,
    );
    let route = routed;
    let served = route.and_then(|r| r.served.clone());
    let log_line_status = response.status().as_u16();
    let took = started.elapsed();
    tracing::info!(
        request_id = %id,
        client = client.as_deref().unwrap_or("-"),
        model = route.map_or("-", |r| r.requested.as_str()),
        served = route.and_then(|r| r.served.as_deref()).unwrap_or("-"),
        attempts = route.map_or(0, |r| r.attempts),
        status = log_line_status,
        ms = took.as_millis() as u64,
        "{method} {path}"
    );
    match record {
        Some(mut record) => {
            record.served = served;
            super::detailed_body::logged(response, record, started)
        }
        None => response,
    }
}

/// `^[A-Za-z0-9._-]{1,128}$`
fn is_safe_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `req_` + 26 random base32 characters (five random bits each).
fn new_request_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let mut bits: u128 = rng.random();
    let mut id = String::with_capacity(30);
    id.push_str("req_");
    for i in 0..26 {
        if i == 25 {
            // 25 characters took 125 of the 128 bits.
            bits = u128::from(rng.random::<u8>());
        }
        id.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_generated_in_the_documented_form() {
        assert!(is_safe_id("abc-1.2_3"));
        assert!(!is_safe_id("has space"));
        assert!(!is_safe_id(""));
        assert!(!is_safe_id(&"x".repeat(129)));
        let id = new_request_id();
        assert_eq!(id.len(), 30);
        assert!(id.starts_with("req_") && is_safe_id(&id));
        assert!(id[4..].bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{id}");
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000, "ids do not repeat");
        let last: std::collections::HashSet<u8> = (0..1000).map(|_| new_request_id().as_bytes()[29]).collect();
        assert!(last.len() > 16, "the last character is random too");
    }
}
