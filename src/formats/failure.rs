//! Error classification: what an upstream failure means for the request (fail fast, retry,
//! rotate) and for the credential, from the body and the HTTP status. Shared by every layer that
//! meets upstream errors (the pool's cooldowns, the providers' protocols, the engine).

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;

pub mod retry_info;

pub use retry_info::MAX_RETRY_WAIT;

/// The classes of the resilience specification (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    ClientError,
    ContextWindow,
    Auth,
    Forbidden,
    Billing,
    Quota,
    RateLimit,
    Overloaded,
    ServerError,
    Connection,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientError => "client_error",
            Self::ContextWindow => "context_window",
            Self::Auth => "auth",
            Self::Forbidden => "forbidden",
            Self::Billing => "billing",
            Self::Quota => "quota",
            Self::RateLimit => "rate_limit",
            Self::Overloaded => "overloaded",
            Self::ServerError => "server_error",
            Self::Connection => "connection",
        }
    }

    pub const ALL: [Self; 10] = [
        Self::ClientError,
        Self::ContextWindow,
        Self::Auth,
        Self::Forbidden,
        Self::Billing,
        Self::Quota,
        Self::RateLimit,
        Self::Overloaded,
        Self::ServerError,
        Self::Connection,
    ];

    /// The class named by [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Failures of this class count as a request of the credential (its usage windows, `keys
    /// list`): every answer the upstream gave or may have billed — client errors, rate limits,
    /// server errors, overload and broken connections. A refused credential (auth, forbidden,
    /// billing) made no request.
    pub fn counts_as_request(self) -> bool {
        !matches!(self, Self::Auth | Self::Forbidden | Self::Billing)
    }

    /// The client's own mistake: answered with the upstream status, never retried elsewhere.
    pub fn fails_fast(self) -> bool {
        matches!(self, Self::ClientError | Self::ContextWindow)
    }

    /// The credential's rate or quota is used up (a 429 for the client when nothing is left).
    pub fn is_rate_limit(self) -> bool {
        matches!(self, Self::RateLimit | Self::Quota)
    }

    /// The upstream rejected the credential itself.
    pub fn is_auth(self) -> bool {
        matches!(self, Self::Auth | Self::Forbidden)
    }
}

/// One failed upstream attempt, classified.
#[derive(Debug, Clone)]
pub struct UpstreamFailure {
    pub class: ErrorClass,
    /// HTTP status, or the status embedded in an in-stream error; `None` for transport errors.
    pub status: Option<u16>,
    /// The upstream's message (not yet scrubbed of secrets).
    pub message: String,
    /// OpenAI-style `error.code` / `error.type` / `error.param` when the upstream sent them.
    pub code: Option<String>,
    pub kind: Option<String>,
    pub param: Value,
    /// How long the upstream asked us to wait, when it said.
    pub retry_after: Option<Duration>,
}

impl UpstreamFailure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            message: message.into(),
            code: None,
            kind: None,
            param: Value::Null,
            retry_after: None,
        }
    }
}

/// Classifies a non-2xx upstream response; absolute reset times are read against the system clock.
pub fn classify_http(status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamFailure {
    classify_http_at(status, headers, body, retry_info::now_unix_ms())
}

/// [`classify_http`] at a given time (unix milliseconds), for the retry information's absolute times.
pub fn classify_http_at(status: u16, headers: &HeaderMap, body: &[u8], now_unix_ms: i64) -> UpstreamFailure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (message, code, kind, param) = match parsed.as_ref() {
        Some(value) => error_fields(value),
        None => (String::from_utf8_lossy(body).chars().take(500).collect(), None, None, Value::Null),
    };
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let class = class_for(status, &text);
    let retry_after = retry_info::retry_after(headers, parsed.as_ref(), &text, now_unix_ms);
    let message = if (300..400).contains(&status) {
        // Redirects are not followed (they would turn a POST into a GET): the base URL is wrong.
        let location = headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere");
        format!("upstream redirected (HTTP {status}) to {location}; check the provider's base URL")
    } else if message.trim().is_empty() {
        format!("upstream answered HTTP {status}")
    } else {
        message
    };
    UpstreamFailure { class, status: Some(status), message, code, kind, param, retry_after }
}

/// Classifies an error object found inside a 200 stream (`data: {"error":{…}}`).
pub fn classify_stream_error(error: &Value) -> UpstreamFailure {
    let wrapped = serde_json::json!({ "error": error });
    let (message, code, kind, param) = error_fields(&wrapped);
    let text = error.to_string().to_ascii_lowercase();
    // Google sends both a textual `status` ("RESOURCE_EXHAUSTED") and a numeric `code`.
    let embedded = ["status", "code"].iter().filter_map(|key| error.get(key)).find_map(|v| {
        let number = v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
        u16::try_from(number).ok().filter(|s| (400..600).contains(s))
    });
    let class = match embedded {
        Some(status) => class_for(status, &text),
        None if text.contains("rate limit") || text.contains("rate_limit") => ErrorClass::RateLimit,
        None if text.contains("overloaded") => ErrorClass::Overloaded,
        None => ErrorClass::ServerError,
    };
    let message = if message.trim().is_empty() { "upstream sent an error event".to_string() } else { message };
    let retry_after = retry_info::retry_after(&HeaderMap::new(), Some(&wrapped), &text, retry_info::now_unix_ms());
    UpstreamFailure { class, status: embedded, message, code, kind, param, retry_after }
}

/// Classifies a failure to talk to the upstream at all.
/// Classifies the `error` object of an Anthropic `error` event or error body, whose `type` names
/// the HTTP status the API would have answered with.
pub fn classify_anthropic_error(error: &Value) -> UpstreamFailure {
    let status = match error.get("type").and_then(Value::as_str) {
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("billing_error") => 402,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("timeout_error") => 504,
        Some("overloaded_error") => 529,
        _ => 500,
    };
    let mut with_status = error.clone();
    if let Value::Object(map) = &mut with_status {
        map.insert("code".into(), Value::from(status));
    }
    let mut failure = classify_stream_error(&with_status);
    failure.code = None;
    failure
}

/// Classifies the `error` of a Responses `response.failed` event, an `error` event or a failed
/// response body, by its `code` (`rate_limit_exceeded` with "try again in N s",
/// `context_length_exceeded`, `insufficient_quota`, `server_error`, the image and prompt codes).
/// The upstream's code and type are kept.
pub fn classify_responses_error(error: &Value) -> UpstreamFailure {
    let code = error.get("code").and_then(Value::as_str);
    let kind = error.get("type").and_then(Value::as_str);
    let status: u16 = match code {
        Some("rate_limit_exceeded" | "insufficient_quota") => 429,
        Some("context_length_exceeded") => 400,
        Some("server_error" | "vector_store_timeout") => 500,
        Some(code) if code.starts_with("invalid_") || code.contains("image") => 400,
        None if kind == Some("invalid_request_error") => 400,
        _ => 500,
    };
    let mut with_status = error.clone();
    if let Value::Object(map) = &mut with_status {
        map.insert("status".into(), Value::from(status));
    } else {
        with_status = serde_json::json!({ "message": error.as_str().unwrap_or_default(), "status": status });
    }
    let mut failure = classify_stream_error(&with_status);
    failure.code = code.map(str::to_string);
    failure.kind = kind.map(str::to_string);
    failure
}

fn class_for(status: u16, text: &str) -> ErrorClass {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    const CONTEXT: &[&str] = &[
        "context_length_exceeded",
        "maximum context length",
        "context window",
        "prompt is too long",
        "input is too long",
        "too many tokens",
        "exceeds the maximum number of tokens",
    ];
    const OUT_OF_CREDIT: &[&str] = &["insufficient_quota", "insufficient credits", "credit balance"];
    const BILLING: &[&str] = &["insufficient_quota", "insufficient credits", "credit balance", "billing"];
    match status {
        400 | 413 if has(CONTEXT) => ErrorClass::ContextWindow,
        400 if has(&["api_key_invalid", "api key not valid"]) => ErrorClass::Auth,
        400 if has(&["failed_precondition"]) && has(&["location", "billing"]) => ErrorClass::Forbidden,
        401 => ErrorClass::Auth,
        402 => ErrorClass::Billing,
        403 if has(&["invalid api key", "invalid x-api-key", "invalid_api_key"]) => ErrorClass::Auth,
        // Gemini's every free-tier quota message says "check your plan and billing details":
        // RESOURCE_EXHAUSTED is a quota unless the account is out of credit.
        429 if has(&["resource_exhausted"]) && !has(OUT_OF_CREDIT) => ErrorClass::Quota,
        403 | 429 if has(BILLING) => ErrorClass::Billing,
        403 => ErrorClass::Forbidden,
        429 if has(&["quota", "resource_exhausted", "quotaresetdelay", "exhausted your capacity"]) => ErrorClass::Quota,
        429 => ErrorClass::RateLimit,
        // Qwen Code's portal says `slow_down` when it throttles.
        400 if has(&["slow_down"]) => ErrorClass::RateLimit,
        529 => ErrorClass::Overloaded,
        503 if has(&["overloaded", "model_capacity_exhausted", "high demand"]) => ErrorClass::Overloaded,
        _ if has(&["overloaded_error"]) => ErrorClass::Overloaded,
        300..=399 | 408 | 500..=599 => ErrorClass::ServerError,
        _ => ErrorClass::ClientError,
    }
}

/// `(message, code, type, param)` from the error shapes of OpenAI, Anthropic and Google.
fn error_fields(value: &Value) -> (String, Option<String>, Option<String>, Value) {
    let error = value.get("error").unwrap_or(value);
    if let Some(text) = error.as_str() {
        return (text.to_string(), None, None, Value::Null);
    }
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let code = error.get("code").and_then(as_text);
    let kind = error.get("type").or_else(|| error.get("status")).and_then(as_text);
    let param = error.get("param").cloned().unwrap_or(Value::Null);
    (message, code, kind, param)
}

/// The wait the upstream asked for in its headers (§10.1 step 2), read against the system clock.
pub fn retry_after_from_headers(headers: &HeaderMap) -> Option<Duration> {
    retry_info::from_headers(headers, retry_info::now_unix_ms())
}

/// The wait named by phrases of a body ("try again in 7s", "retry after 2m30s"; §10.1 step 3).
pub fn retry_after_from_text(text: &str) -> Option<Duration> {
    retry_info::from_text(text)
}

/// `250ms`, `7s`, `1.5s`, `6m0s`, `1h2m3s`; a bare number is seconds. Rounded up to whole
/// seconds, at least one, at most [`MAX_RETRY_WAIT`].
pub fn parse_duration_text(text: &str) -> Option<Duration> {
    retry_info::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, body: &str) -> ErrorClass {
        classify_http(status, &HeaderMap::new(), body.as_bytes()).class
    }

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(class(400, r#"{"error":{"message":"bad temperature"}}"#), ErrorClass::ClientError);
        assert_eq!(class(404, "{}"), ErrorClass::ClientError);
        assert_eq!(class(422, "{}"), ErrorClass::ClientError);
        assert_eq!(class(400, r#"{"error":{"code":"context_length_exceeded"}}"#), ErrorClass::ContextWindow);
        assert_eq!(class(401, "{}"), ErrorClass::Auth);
        assert_eq!(
            class(400, r#"{"error":{"message":"API key not valid. Please pass a valid API key."}}"#),
            ErrorClass::Auth
        );
        assert_eq!(class(403, r#"{"error":{"message":"no access"}}"#), ErrorClass::Forbidden);
        assert_eq!(class(402, "{}"), ErrorClass::Billing);
        assert_eq!(class(429, r#"{"error":{"code":"insufficient_quota"}}"#), ErrorClass::Billing);
        assert_eq!(class(429, r#"{"error":{"status":"RESOURCE_EXHAUSTED"}}"#), ErrorClass::Quota);
        // Gemini's free-tier quota message names billing; it is still a quota with a retry time.
        let gemini = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"You exceeded your current
            quota, please check your plan and billing details."}}"#;
        assert_eq!(class(429, gemini), ErrorClass::Quota);
        assert_eq!(class(429, r#"{"error":{"message":"billing hard limit reached"}}"#), ErrorClass::Billing);
        assert_eq!(class(429, r#"{"error":{"code":"rate_limit_exceeded"}}"#), ErrorClass::RateLimit);
        assert_eq!(class(529, "{}"), ErrorClass::Overloaded);
        assert_eq!(class(503, "The engine is currently overloaded"), ErrorClass::Overloaded);
        assert_eq!(class(500, "{}"), ErrorClass::ServerError);
        assert_eq!(class(408, "{}"), ErrorClass::ServerError);
        assert_eq!(class(524, "<html>"), ErrorClass::ServerError);
        assert_eq!(class(301, ""), ErrorClass::ServerError);
    }

    #[test]
    fn openai_error_fields_are_extracted() {
        let f = classify_http(400, &HeaderMap::new(), br#"{"error":{"message":"Invalid value","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#);
        assert_eq!(f.message, "Invalid value");
        assert_eq!(f.code.as_deref(), Some("invalid_value"));
        assert_eq!(f.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(f.param, "temperature");
    }

    #[test]
    fn retry_information_is_read_from_headers_and_messages() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after_from_headers(&headers), Some(Duration::from_secs(7)));
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset-requests", "1m30s".parse().unwrap());
        headers.insert("x-ratelimit-reset-tokens", "250ms".parse().unwrap());
        assert_eq!(retry_after_from_headers(&headers), Some(Duration::from_secs(90)));
        assert_eq!(retry_after_from_text("please try again in 1.5s."), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_from_text(r#""retrydelay": "12s""#), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration_text("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_duration_text("soon"), None);
        assert_eq!(parse_duration_text("99999999999999999999s"), Some(MAX_RETRY_WAIT), "capped, never a panic");
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1e20".parse().unwrap());
        assert_eq!(retry_after_from_headers(&headers), Some(MAX_RETRY_WAIT));
        headers.insert("retry-after", "-3".parse().unwrap());
        assert_eq!(retry_after_from_headers(&headers), None);
    }

    #[test]
    fn google_retry_info_wins_over_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().unwrap());
        let body = br#"{"error":{"code":429,"message":"Quota exceeded. Please retry in 40s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12.2s"}]}}"#;
        let f = classify_http(429, &headers, body);
        assert_eq!(f.class, ErrorClass::Quota);
        assert_eq!(f.retry_after, Some(Duration::from_secs(13)));
    }

    #[test]
    fn classify_http_reads_absolute_resets_against_the_given_clock() {
        const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-ratelimit-requests-remaining", "0".parse().unwrap());
        headers.insert("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:30Z".parse().unwrap());
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"try again in 5s"}}"#;
        assert_eq!(classify_http_at(429, &headers, body, NOW).retry_after, Some(Duration::from_secs(30)));
        // Once that time has passed it is no information, and the body's phrase is used.
        assert_eq!(classify_http_at(429, &headers, body, NOW + 60_000).retry_after, Some(Duration::from_secs(5)));
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "Thu, 01 Jan 2026 00:02:00 GMT".parse().unwrap());
        assert_eq!(classify_http_at(503, &headers, b"", NOW).retry_after, Some(Duration::from_secs(120)));
        let body = br#"{"error":{"type":"usage_limit_reached","resets_at":1767229200}}"#;
        assert_eq!(classify_http_at(429, &HeaderMap::new(), body, NOW).retry_after, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn in_stream_errors_carry_retry_information() {
        let f = classify_stream_error(&serde_json::json!({
            "code": 429,
            "message": "Resource exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": {"quotaResetDelay": "290ms"}}],
        }));
        assert_eq!(f.class, ErrorClass::Quota);
        assert_eq!(f.retry_after, Some(Duration::from_secs(1)));
        let f = classify_stream_error(&serde_json::json!({"type": "rate_limit_error", "message": "Retry after 2m30s"}));
        assert_eq!(f.retry_after, Some(Duration::from_secs(150)));
    }

    #[test]
    fn hostile_retry_information_never_panics() {
        for value in
            ["1e400", "-5", "NaN", "inf", "99999999999999999999999999", "Sun, 99 Foo 1994", "2026-02-30T00:00:00Z"]
        {
            let mut headers = HeaderMap::new();
            for name in ["retry-after", "retry-after-ms", "x-ratelimit-reset", "x-ratelimit-reset-tokens"] {
                headers.insert(name, value.parse().unwrap());
            }
            let body = format!(
                r#"{{"error":{{"message":"try again in {value}","resets_at":"{value}","details":[{{"@type":"google.rpc.RetryInfo","retryDelay":"{value}"}}]}}}}"#
            );
            for status in [429, 503] {
                let wait = classify_http(status, &headers, body.as_bytes()).retry_after;
                assert!(wait.is_none_or(|w| w <= MAX_RETRY_WAIT), "{value}: {wait:?}");
            }
        }
    }

    #[test]
    fn responses_errors_are_classified_by_their_code() {
        let f = classify_responses_error(&serde_json::json!({"code": "rate_limit_exceeded",
            "message": "Rate limit reached for gpt-5 on tokens per min. Please try again in 7s."}));
        assert_eq!(
            (f.class, f.status, f.code.as_deref()),
            (ErrorClass::RateLimit, Some(429), Some("rate_limit_exceeded"))
        );
        assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
        let class = |code: &str| classify_responses_error(&serde_json::json!({"code": code, "message": "m"})).class;
        assert_eq!(class("context_length_exceeded"), ErrorClass::ContextWindow);
        assert_eq!(class("insufficient_quota"), ErrorClass::Billing);
        assert_eq!(class("server_error"), ErrorClass::ServerError);
        assert_eq!(class("invalid_image_url"), ErrorClass::ClientError);
        assert_eq!(class("something_new"), ErrorClass::ServerError);
        let f = classify_responses_error(
            &serde_json::json!({"type": "invalid_request_error", "code": null, "message": "x"}),
        );
        assert_eq!(
            (f.class, f.kind.as_deref(), f.message.as_str()),
            (ErrorClass::ClientError, Some("invalid_request_error"), "x")
        );
        assert_eq!(classify_responses_error(&serde_json::json!({"message": "boom"})).class, ErrorClass::ServerError);
    }

    #[test]
    fn in_stream_errors_use_their_embedded_status() {
        let f = classify_stream_error(&serde_json::json!({"message":"slow down","code":429}));
        assert_eq!(f.class, ErrorClass::RateLimit);
        let f = classify_stream_error(&serde_json::json!({"message":"boom","type":"server_error","code":null}));
        assert_eq!(f.class, ErrorClass::ServerError);
        let f = classify_stream_error(&serde_json::json!({"type":"overloaded_error","message":"Overloaded"}));
        assert_eq!(f.class, ErrorClass::Overloaded);
    }
}
