//! Errors in the shape of the client's family (OpenAI `{"error":{"message","type","param","code"}}`,
//! Anthropic, Gemini) with
//! the status, `Retry-After` and `x-should-retry` headers of the HTTP API specification.

use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::engine::EngineError;
use crate::engine::error::{FailureContext, retry_secs};
use crate::formats::InvalidRequest;
use crate::formats::family::ErrorShape;

#[derive(Debug)]
pub enum ApiError {
    Engine(EngineError),
    Unauthorized,
    RouteNotFound,
    MethodNotAllowed,
    BodyTooLarge {
        limit: usize,
    },
    BadRequest(String),
    /// A resource the client named does not exist (404), with OpenAI's `code` and `param`.
    NotFound {
        message: String,
        code: &'static str,
        param: Option<&'static str>,
    },
    /// The request body did not arrive in time (408).
    RequestTimeout,
    /// The request's `Origin` is not allowed to use the proxy (403).
    OriginNotAllowed,
    /// A request body that is not JSON (415).
    UnsupportedMediaType,
    /// A fault of the proxy itself (500): the detail is logged, the client gets a safe message.
    Internal(String),
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        Self::Engine(err)
    }
}

impl From<InvalidRequest> for ApiError {
    fn from(err: InvalidRequest) -> Self {
        Self::Engine(err.into())
    }
}

impl ApiError {
    /// A body the server could not read: too large (413) or broken (400).
    pub fn from_body_rejection(rejection: &BytesRejection, limit: usize) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::BodyTooLarge { limit }
        } else {
            Self::BadRequest(format!("cannot read the request body: {}", rejection.body_text()))
        }
    }
}

/// Everything one error response is made of.
struct Parts {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: Value,
    param: Value,
    details: Option<Value>,
    retry_after: Option<u64>,
    should_retry: Option<bool>,
}

impl Parts {
    fn new(status: StatusCode, message: impl Into<String>, kind: &'static str, code: &str) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code: json!(code),
            param: Value::Null,
            details: None,
            retry_after: None,
            should_retry: None,
        }
    }

    fn with_context(mut self, context: &FailureContext, retry_after: Option<u64>) -> Self {
        let attempts: Vec<Value> = context
            .attempts
            .iter()
            .map(|a| json!({"credential": a.credential, "status": a.status, "class": a.class.as_str()}))
            .collect();
        let mut details = json!({"provider": context.provider, "model": context.model, "attempts": attempts});
        if let Some(secs) = retry_after {
            details["retry_after"] = json!(secs);
        }
        self.details = Some(details);
        self.retry_after = retry_after;
        self
    }
}

fn parts(err: &ApiError) -> Parts {
    match err {
        ApiError::Unauthorized => Parts::new(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing proxy API key",
            "authentication_error",
            "invalid_api_key",
        ),
        ApiError::RouteNotFound => Parts::new(StatusCode::NOT_FOUND, "Not found", "not_found_error", "not_found"),
        ApiError::MethodNotAllowed => Parts::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "invalid_request_error",
            "method_not_allowed",
        ),
        ApiError::BodyTooLarge { limit } => Parts::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes (MAX_REQUEST_BODY_BYTES)"),
            "invalid_request_error",
            "request_too_large",
        ),
        ApiError::RequestTimeout => Parts::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time (REQUEST_BODY_IDLE_TIMEOUT, REQUEST_BODY_TIMEOUT)",
            "invalid_request_error",
            "request_timeout",
        ),
        ApiError::OriginNotAllowed => Parts::new(
            StatusCode::FORBIDDEN,
            "requests from this origin are not allowed (CORS_ALLOW_ORIGINS)",
            "permission_error",
            "origin_not_allowed",
        ),
        ApiError::UnsupportedMediaType => Parts::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON (Content-Type: application/json)",
            "invalid_request_error",
            "unsupported_media_type",
        ),
        ApiError::Internal(detail) => {
            tracing::error!("internal error: {detail}");
            Parts::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", "server_error", "internal_error")
        }
        ApiError::NotFound { message, code, param } => {
            let mut p = Parts::new(StatusCode::NOT_FOUND, message.clone(), "invalid_request_error", code);
            p.param = param.map_or(Value::Null, |p| json!(p));
            p
        }
        ApiError::BadRequest(message) => {
            Parts::new(StatusCode::BAD_REQUEST, message, "invalid_request_error", "invalid_request")
        }
        ApiError::Engine(err) => engine_parts(err),
    }
}

fn engine_parts(err: &EngineError) -> Parts {
    let message = err.to_string();
    match err {
        EngineError::InvalidRequest { param, .. } => {
            let mut p = Parts::new(StatusCode::BAD_REQUEST, message, "invalid_request_error", "invalid_request");
            p.param = param.as_ref().map_or(Value::Null, |s| json!(s));
            p
        }
        EngineError::ModelNotFound { .. } => {
            Parts::new(StatusCode::NOT_FOUND, message, "not_found_error", "model_not_found")
        }
        EngineError::UpstreamRejected { status, code, param, context, .. } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
            let code = code.as_deref().unwrap_or("upstream_client_error");
            let mut p = Parts::new(status, message, "invalid_request_error", code).with_context(context, None);
            p.param = param.clone();
            p
        }
        EngineError::RateLimited { retry_after, context, .. } => {
            let secs = retry_secs(retry_after);
            let mut p =
                Parts::new(StatusCode::TOO_MANY_REQUESTS, message, "rate_limit_error", "all_credentials_cooling_down")
                    .with_context(context, Some(secs));
            p.should_retry = Some(true);
            p
        }
        EngineError::CredentialsBusy { context } => {
            let mut p = Parts::new(StatusCode::TOO_MANY_REQUESTS, message, "rate_limit_error", "credentials_busy")
                .with_context(context, Some(1));
            p.should_retry = Some(true);
            p
        }
        EngineError::CredentialsUnavailable { retry_after, context } => {
            let mut p =
                Parts::new(StatusCode::SERVICE_UNAVAILABLE, message, "service_unavailable", "credentials_unavailable")
                    .with_context(context, retry_after.as_ref().map(retry_secs));
            p.should_retry = Some(false);
            p
        }
        EngineError::UpstreamFailed { auth_only, context } => {
            let code = if *auth_only { "upstream_auth_failed" } else { "upstream_failed" };
            let mut p =
                Parts::new(StatusCode::BAD_GATEWAY, message, "upstream_error", code).with_context(context, None);
            p.should_retry = Some(false);
            p
        }
        EngineError::DeadlineExceeded { context, .. } => {
            let mut p = Parts::new(StatusCode::GATEWAY_TIMEOUT, message, "timeout_error", "deadline_exceeded")
                .with_context(context, None);
            p.should_retry = Some(false);
            p
        }
    }
}

/// The error shape of a path outside the routed endpoints: `/v1/messages…` speaks Anthropic;
/// `/v1beta/…` and the Gemini methods under `/v1/models/` (`…:generateContent`) speak Gemini;
/// everything else OpenAI.
pub fn shape_for_path(path: &str) -> ErrorShape {
    if path.starts_with("/v1/messages") {
        ErrorShape::Anthropic
    } else if path.starts_with("/v1beta/") || path == "/v1beta" || is_gemini_method_path(path) {
        ErrorShape::Gemini
    } else {
        ErrorShape::OpenAi
    }
}

/// `/v1/models/{model}:{method}`: the google-genai SDK's default API version.
pub fn is_gemini_method_path(path: &str) -> bool {
    path.strip_prefix("/v1/models/").is_some_and(|rest| rest.contains(':'))
}

impl ApiError {
    /// The error in `shape`. `request_id` goes into Anthropic bodies (its SDKs show it).
    pub fn into_response_shaped(self, shape: ErrorShape, request_id: Option<&str>) -> Response {
        let p = parts(&self);
        let body = match shape {
            ErrorShape::OpenAi => {
                let mut error = json!({"message": p.message, "type": p.kind, "param": p.param, "code": p.code});
                if let Some(details) = p.details {
                    error["details"] = details;
                }
                json!({ "error": error })
            }
            ErrorShape::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(p.status, p.kind), "message": p.message},
                "request_id": request_id,
            }),
            ErrorShape::Gemini => gemini_error(p.status.as_u16(), &p.message, p.retry_after),
        };
        let body = serde_json::to_vec(&body).expect("JSON serialises");
        let mut response =
            (p.status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = p.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            headers.insert("retry-after-ms", HeaderValue::from(secs * 1000));
        }
        if let Some(retry) = p.should_retry {
            headers.insert("x-should-retry", HeaderValue::from_static(if retry { "true" } else { "false" }));
        }
        response
    }
}

/// Anthropic's `error.type` for a status (HTTP API specification §7.2).
fn anthropic_type(status: StatusCode, openai_kind: &str) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ if openai_kind == "timeout_error" => "timeout_error",
        _ => "api_error",
    }
}

/// Google's error body (HTTP API specification §7.1): `code`, `message`, `status`, and a
/// `RetryInfo` detail when a retry time is known.
pub fn gemini_error(status: u16, message: &str, retry_after: Option<u64>) -> Value {
    let mut error = json!({"code": status, "message": message, "status": gemini_status(status)});
    if let Some(secs) = retry_after {
        error["details"] =
            json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")}]);
    }
    json!({ "error": error })
}

/// Google's canonical status name for an HTTP status.
pub fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 413 | 415 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 | 504 => "DEADLINE_EXCEEDED",
        405 | 501 => "UNIMPLEMENTED",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        502 | 503 => "UNAVAILABLE",
        400..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_shaped(ErrorShape::OpenAi, None)
    }
}
