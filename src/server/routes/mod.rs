//! Route handlers, one module per API family or concern.

pub mod chat;
pub mod embeddings;
pub mod gemini;
pub mod messages;
pub mod models;
pub mod quota;
pub mod status;
pub mod tokens;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::engine::Served;

/// Longest routing header value sent: values derived from client input (the requested model, the
/// names of dropped parameters) stay far below what clients accept in a header.
const MAX_ROUTING_HEADER_BYTES: usize = 512;

/// The `x-llmkp-*` headers of a routed answer: who served it, after how many attempts, with
/// which (masked) credential, and what the proxy changed on the way. A value over
/// [`MAX_ROUTING_HEADER_BYTES`] is left out; a list is cut at a comma and ends with `...`.
pub(crate) fn routing_headers(
    headers: &mut HeaderMap,
    served: &Served,
    requested: &str,
    dropped: &[String],
    adjustments: &[String],
) {
    let mut set = |name: &'static str, value: &str| {
        if value.len() <= MAX_ROUTING_HEADER_BYTES
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(name, value);
        }
    };
    set("x-llmkp-provider", &served.provider);
    set("x-llmkp-model", &served.model);
    set("x-llmkp-attempts", &served.attempts.to_string());
    set("x-llmkp-credential", &served.credential);
    if requested != served.model {
        set("x-llmkp-requested-model", requested);
    }
    if !dropped.is_empty() {
        set("x-llmkp-dropped-params", &bounded_list(dropped));
    }
    if !adjustments.is_empty() {
        set("x-llmkp-adjustments", &bounded_list(adjustments));
    }
}

/// `a,b,c`, cut after the last item that fits in [`MAX_ROUTING_HEADER_BYTES`] with `,...` added.
fn bounded_list(items: &[String]) -> String {
    const MORE: &str = ",...";
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let separator = if i == 0 { "" } else { "," };
        if out.len() + separator.len() + item.len() + MORE.len() > MAX_ROUTING_HEADER_BYTES {
            out.push_str(if out.is_empty() { "..." } else { MORE });
            return out;
        }
        out.push_str(separator);
        out.push_str(item);
    }
    out
}

/// A JSON body the engine already serialised.
pub(crate) fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_headers_stay_bounded_whatever_the_client_sent() {
        let served = Served { provider: "p".into(), model: "p/m".into(), credential: "…abcd".into(), attempts: 1 };
        let long: Vec<String> = (0..500).map(|i| format!("unknown_parameter_{i}")).collect();
        let mut headers = HeaderMap::new();
        routing_headers(&mut headers, &served, &"x".repeat(10_000), &long, &["one".to_string()]);
        let dropped = headers["x-llmkp-dropped-params"].to_str().unwrap();
        assert!(dropped.len() <= MAX_ROUTING_HEADER_BYTES && dropped.ends_with(",..."), "{dropped}");
        assert!(dropped.starts_with("unknown_parameter_0,unknown_parameter_1,"));
        assert!(headers.get("x-llmkp-requested-model").is_none(), "an oversized value is left out");
        assert_eq!(headers["x-llmkp-adjustments"], "one");
        assert_eq!(bounded_list(&["y".repeat(600)]), "...");
    }
}
