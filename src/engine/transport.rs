//! Transport failures (connect, reset, timeouts) of upstream calls, classified like the
//! upstream's own errors.

use crate::formats::failure::{ErrorClass, UpstreamFailure};

pub fn classify_transport(err: &reqwest::Error) -> UpstreamFailure {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "connection broke while reading the response"
    } else {
        "request failed"
    };
    // The source chain names the cause (refused, reset, DNS) without any secret in it.
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let message = if cause.is_empty() { format!("upstream {what}") } else { format!("upstream {what}: {cause}") };
    UpstreamFailure::new(ErrorClass::Connection, message)
}
