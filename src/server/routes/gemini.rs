//! The Gemini-native front door (HTTP API §5.7): `POST /v1beta/models/{model}:{method}` (and the
//! same under `/v1/`, the google-genai SDK's default version) for `generateContent`,
//! `streamGenerateContent` and `countTokens`, and the model list in Gemini's shape. `{model}` is
//! llmkp's `provider/model` (slash literal or `%2F`, a leading `models/` ignored) or an alias; any
//! provider serves.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::catalog::ModelCard;
use crate::engine::{ClientRequest, EngineError, RequestContext};
use crate::formats::family::ErrorShape;
use crate::formats::gemini::family::GeminiFamily;
use crate::formats::gemini::relay::GeminiFraming;
use crate::formats::gemini::request::decode_client_count_request;
use crate::formats::protocol::Protocol;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::RequestArrival;
use crate::tokens;

fn error(err: impl Into<ApiError>) -> Response {
    err.into().into_response_shaped(ErrorShape::Gemini, None)
}

/// `POST …/models/{model}:{method}`.
pub async fn model_action(
    State(state): State<AppState>,
    arrival: Option<Extension<RequestArrival>>,
    headers: HeaderMap,
    uri: Uri,
    Path(rest): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some((model, method)) = split_model_action(&rest) else {
        return error(ApiError::RouteNotFound);
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(ApiError::from_body_rejection(&rejection, state.settings.max_request_body_bytes));
        }
    };
    let parsed = serde_json::from_slice::<Value>(&body);
    // The decoded request is all that is needed from here: a big body is not held twice.
    drop(body);
    let body = match parsed {
        Ok(Value::Object(body)) => body,
        Ok(_) => return error(ApiError::BadRequest("request body must be a JSON object".into())),
        Err(err) => return error(ApiError::BadRequest(format!("request body is not valid JSON: {err}"))),
    };
    let arrival = arrival.map_or_else(tokio::time::Instant::now, |Extension(RequestArrival(at))| at);
    match method.as_str() {
        "generateContent" => generate(&state, arrival, &headers, model, body, None).await,
        "streamGenerateContent" => {
            let sse = uri.query().is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
            let framing = if sse { GeminiFraming::Sse } else { GeminiFraming::JsonArray };
            generate(&state, arrival, &headers, model, body, Some(framing)).await
        }
        "countTokens" => count_tokens(&state, model, body).await,
        other => error(ApiError::BadRequest(format!(
            "unknown method '{other}' (expected generateContent, streamGenerateContent or countTokens)"
        ))),
    }
}

/// `{model}:{method}`: the model is everything before the last `:`, percent-decoded, without a
/// leading `models/`.
fn split_model_action(rest: &str) -> Option<(String, String)> {
    let (model, method) = rest.rsplit_once(':')?;
    let model = model.replace("%2F", "/").replace("%2f", "/");
    let model = model.strip_prefix("models/").unwrap_or(&model).trim().to_string();
    (!model.is_empty() && !method.is_empty()).then(|| (model, method.to_string()))
}

async fn generate(
    state: &AppState,
    arrival: tokio::time::Instant,
    headers: &HeaderMap,
    model: String,
    raw: Map<String, Value>,
    stream: Option<GeminiFraming>,
) -> Response {
    let (family, head) = match GeminiFamily::parse(&raw, &model, stream) {
        Ok(decoded) => decoded,
        Err(invalid) => return error(invalid),
    };
    let request = ClientRequest::new(Box::new(family), head, raw);
    super::serve_turn(state, headers, request, RequestContext::new(arrival, None), None, None).await
}

/// `{"totalTokens": N}`: a Gemini upstream's own count when `COUNT_TOKENS_MODE` allows, else the
/// offline estimate.
async fn count_tokens(state: &AppState, model: String, body: Map<String, Value>) -> Response {
    let request = match decode_client_count_request(&body, &model) {
        Ok(request) => request,
        Err(invalid) => return error(invalid),
    };
    if let Some(counted) = state.engine.count_tokens_upstream(Protocol::Gemini, &model, &body, &[]).await {
        return counted_response(counted, "upstream");
    }
    let counted = tokio::task::spawn_blocking(move || tokens::count_request(&model, &request)).await;
    match counted {
        Ok(count) => counted_response(count.tokens as u64, "local"),
        Err(_) => error(ApiError::Internal("token count task failed".into())),
    }
}

fn counted_response(tokens: u64, source: &'static str) -> Response {
    let mut response = axum::Json(json!({"totalTokens": tokens})).into_response();
    response.headers_mut().insert("x-llmkp-token-count-source", HeaderValue::from_static(source));
    response
}

/// A model card in Gemini's `Model` shape.
pub fn gemini_model(card: &ModelCard) -> Value {
    json!({
        "name": format!("models/{}", card.id),
        "displayName": card.id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}

/// `GET /v1beta/models`: every model in Gemini's list shape.
pub async fn list(State(state): State<AppState>) -> Response {
    let cards = state.engine.list_models(false).await;
    axum::Json(json!({"models": cards.iter().map(gemini_model).collect::<Vec<_>>()})).into_response()
}

/// `GET /v1beta/models/{model}`.
pub async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let id = id.replace("%2F", "/").replace("%2f", "/");
    let id = id.strip_prefix("models/").unwrap_or(&id).to_string();
    let cards = state.engine.list_models(false).await;
    match cards.iter().find(|c| c.id == id) {
        Some(card) => axum::Json(gemini_model(card)).into_response(),
        None => error(EngineError::ModelNotFound { message: format!("model '{id}' not found") }),
    }
}

#[cfg(test)]
mod tests {
    use super::split_model_action;

    #[test]
    fn model_and_method_split_at_the_last_colon() {
        let split = |s: &str| split_model_action(s).map(|(m, a)| format!("{m}|{a}"));
        assert_eq!(split("openai/gpt-4o:generateContent").as_deref(), Some("openai/gpt-4o|generateContent"));
        assert_eq!(
            split("models/gemini%2Fgemini-2.5-flash:countTokens").as_deref(),
            Some("gemini/gemini-2.5-flash|countTokens")
        );
        assert_eq!(split("a/b:c:streamGenerateContent").as_deref(), Some("a/b:c|streamGenerateContent"));
        assert_eq!(split("no-method"), None);
        assert_eq!(split(":generateContent"), None);
    }
}
