//! In-process mock upstream speaking the OpenAI Responses API (`POST /v1/responses`, stream and
//! not, and `GET /v1/models`), for a provider whose protocol is Responses.
//!
//! The bearer token selects faults (`rl…` 429, `bad…` 401); the model selects the answer: `shell…`
//! plays the shell turn of [`super::shell_turn`] (with a `reasoning` item carrying a summary and
//! `encrypted_content`, as the real API does for `include: ["reasoning.encrypted_content"]`),
//! `incomplete…` stops at the output limit (`status: "incomplete"`), `failed…` fails with
//! `server_error` (`response.failed` in a stream, a failed response body otherwise), anything else
//! greets with the last user text. Like the real API with `store: false`, a `reasoning` input
//! item without `encrypted_content` is refused.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::openai_mock::RecordedRequest;
use super::openai_mock::{random_alnum, serve_mock};
use super::shell_turn::{shell_answer, shell_call};

/// The `encrypted_content` of every reasoning item the mock sends.
pub const ENCRYPTED_REASONING: &str = "gAAAAmock-encrypted-reasoning";
/// The reasoning summary of the shell turn's first answer.
pub const REASONING_SUMMARY: &str = "The user wants the shell run.";
/// The message of the `failed…` models' failure.
pub const FAILURE_MESSAGE: &str = "The server had an error while processing your request.";

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A mock Responses server on 127.0.0.1; dropping it aborts the server task.
pub struct ResponsesMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResponsesMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResponsesMock {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (addr, task) = serve_mock(app, "responses mock").await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received, in order (recorded before any check).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// `POST /v1/responses` requests only.
    pub fn responses_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/responses").collect()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let (req, parsed) = RecordedRequest::capture(&method, &uri, &headers, &raw);
    shared.requests.lock().unwrap().push(req.clone());
    let Some(key) = req.bearer() else {
        return error(401, "You didn't provide an API key.", "invalid_request_error", None);
    };
    if key.starts_with("rl") {
        let msg = "Rate limit reached for requests per min. Please try again in 7s.";
        let mut r = error(429, msg, "requests", Some("rate_limit_exceeded"));
        r.headers_mut().insert("retry-after", HeaderValue::from_static("7"));
        return r;
    }
    if key.starts_with("bad") {
        return error(401, "Incorrect API key provided.", "invalid_request_error", Some("invalid_api_key"));
    }
    match (req.method.as_str(), req.path.as_str(), parsed.filter(Value::is_object)) {
        ("GET", "/v1/models", _) => json_response(
            200,
            &json!({"object": "list", "data": [{"id": "gpt-5.5", "object": "model", "created": 1, "owned_by": "mock"}]}),
        ),
        ("POST", "/v1/responses", Some(body)) => respond(&body),
        ("POST", "/v1/responses", None) => {
            error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        }
        (m, p, _) => error(404, &format!("Invalid URL ({m} {p})"), "invalid_request_error", None),
    }
}

/// The answer to one `POST /v1/responses`.
fn respond(body: &Value) -> Response {
    let Some(model) = body["model"].as_str() else {
        return error(400, "Missing required parameter: 'model'.", "invalid_request_error", None);
    };
    let input = match &body["input"] {
        Value::String(text) => vec![json!({"type": "message", "role": "user", "content": text})],
        Value::Array(items) => items.clone(),
        _ => return error(400, "Missing required parameter: 'input'.", "invalid_request_error", None),
    };
    let stored = body["store"].as_bool() != Some(false);
    if let Some(item) = input.iter().find(|i| i["type"] == "reasoning" && !i["encrypted_content"].is_string())
        && !stored
    {
        let id = item["id"].as_str().unwrap_or("rs_unknown");
        let msg = format!(
            "Item with id '{id}' not found. Items are not persisted when `store` is set to false. Try again with \
             `store` set to true, or remove this item from your input."
        );
        return error(404, &msg, "invalid_request_error", None);
    }
    let output = output_items(model, body, &input);
    let mut response = response_object(model, &output);
    if model.starts_with("incomplete") {
        response["status"] = json!("incomplete");
        response["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    if model.starts_with("failed") {
        response["status"] = json!("failed");
        response["output"] = json!([]);
        response["usage"] = Value::Null;
        response["error"] = json!({"code": "server_error", "message": FAILURE_MESSAGE});
    }
    if body["stream"].as_bool() == Some(true) { stream(&response) } else { json_response(200, &response) }
}

/// The output items for `model`: the shell turn, or a greeting.
fn output_items(model: &str, body: &Value, input: &[Value]) -> Vec<Value> {
    let result = input.iter().rev().find(|i| i["type"] == "function_call_output").map(|i| text_of(&i["output"]));
    if model.starts_with("shell") {
        if let Some(result) = result {
            return vec![message(&shell_answer(&result))];
        }
        let names = body["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str());
        if let Some((name, args)) = shell_call(names) {
            let reasoning = json!({
                "type": "reasoning",
                "id": format!("rs_{}", random_alnum(24)),
                "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}],
                "encrypted_content": ENCRYPTED_REASONING,
            });
            let call = json!({
                "type": "function_call",
                "id": format!("fc_{}", random_alnum(24)),
                "call_id": "call_shell_1",
                "name": name,
                "arguments": args.to_string(),
                "status": "completed",
            });
            return vec![reasoning, call];
        }
    }
    let last_user = input.iter().rev().find(|i| i["role"] == "user").map(|i| text_of(&i["content"]));
    vec![message(&format!("Hello from responses: {}", last_user.unwrap_or_default()))]
}

fn message(text: &str) -> Value {
    json!({
        "type": "message",
        "id": format!("msg_{}", random_alnum(24)),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// Text of a string, or of the text parts of a content list joined by spaces.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

fn response_object(model: &str, output: &[Value]) -> Value {
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let output_tokens: usize = output.iter().map(|o| o.to_string().len() / 16 + 1).sum();
    json!({
        "id": format!("resp_{}", random_alnum(24)),
        "object": "response",
        "created_at": created,
        "status": "completed",
        "model": model,
        "output": output,
        "error": null,
        "incomplete_details": null,
        "usage": {
            "input_tokens": 42,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 42 + output_tokens,
        },
    })
}

/// The full event sequence of `response`, with `sequence_number`s, no `[DONE]`.
fn stream(response: &Value) -> Response {
    let mut events = Vec::new();
    let mut shell = response.clone();
    shell["status"] = json!("in_progress");
    shell["output"] = json!([]);
    shell["usage"] = Value::Null;
    events.push(json!({"type": "response.created", "response": shell}));
    events.push(json!({"type": "response.in_progress", "response": shell}));
    for (index, item) in response["output"].as_array().into_iter().flatten().enumerate() {
        item_events(&mut events, index, item);
    }
    let terminal = match response["status"].as_str() {
        Some("incomplete") => "response.incomplete",
        Some("failed") => "response.failed",
        _ => "response.completed",
    };
    events.push(json!({"type": terminal, "response": response}));
    let body: String = events
        .into_iter()
        .enumerate()
        .map(|(n, mut e)| {
            e["sequence_number"] = json!(n);
            format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or_default())
        })
        .collect();
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    resp
}

/// `output_item.added`, the deltas of the item's kind, `output_item.done`.
fn item_events(events: &mut Vec<Value>, index: usize, item: &Value) {
    let id = item["id"].clone();
    let mut added = item.clone();
    added["status"] = json!("in_progress");
    match item["type"].as_str() {
        Some("message") => {
            added["content"] = json!([]);
            events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
            let text = item["content"][0]["text"].clone();
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            let at = |kind: &str| json!({"type": kind, "item_id": id, "output_index": index, "content_index": 0});
            let mut e = at("response.content_part.added");
            e["part"] = part;
            events.push(e);
            let mut e = at("response.output_text.delta");
            e["delta"] = text.clone();
            events.push(e);
            let mut e = at("response.output_text.done");
            e["text"] = text;
            events.push(e);
            let mut e = at("response.content_part.done");
            e["part"] = item["content"][0].clone();
            events.push(e);
        }
        Some("function_call") => {
            added["arguments"] = json!("");
            events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
            let args = item["arguments"].clone();
            events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": args}));
            events.push(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "arguments": args}));
        }
        Some("reasoning") => {
            added["summary"] = json!([]);
            added.as_object_mut().map(|a| a.remove("encrypted_content"));
            events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
            for (n, part) in item["summary"].as_array().into_iter().flatten().enumerate() {
                let at = |kind: &str| json!({"type": kind, "item_id": id, "output_index": index, "summary_index": n});
                let mut e = at("response.reasoning_summary_part.added");
                e["part"] = json!({"type": "summary_text", "text": ""});
                events.push(e);
                let mut e = at("response.reasoning_summary_text.delta");
                e["delta"] = part["text"].clone();
                events.push(e);
                let mut e = at("response.reasoning_summary_text.done");
                e["text"] = part["text"].clone();
                events.push(e);
                let mut e = at("response.reasoning_summary_part.done");
                e["part"] = part.clone();
                events.push(e);
            }
        }
        _ => events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added})),
    }
    events.push(json!({"type": "response.output_item.done", "output_index": index, "item": item}));
}

fn error(status: u16, message: &str, typ: &str, code: Option<&str>) -> Response {
    json_response(status, &json!({"error": {"message": message, "type": typ, "param": null, "code": code}}))
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).expect("valid status");
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
