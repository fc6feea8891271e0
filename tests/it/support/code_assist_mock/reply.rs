//! Generation answers of the Code Assist mock: validation, the parts chosen by the model prefix, and the framing
//! (`{"response": <GenerateContentResponse>, "traceId"}` per SSE event, per JSON-array element, or whole).

use std::convert::Infallible;
use std::time::Duration;

use super::super::shell_turn::{shell_answer, shell_call};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::{error, error_body, json_response};
use crate::support::oauth_mock::{rfc3339, unix_now};

const SLOW_DELAY: Duration = Duration::from_millis(300);
pub(super) const QUOTA_MSG: &str = "Your quota will reset after 5s.";

struct Reply {
    model: String,
    response_id: String,
    trace_id: String,
    parts: Vec<Value>,
    prompt_tokens: u64,
}

impl Reply {
    fn usage(&self) -> Value {
        let tokens =
            |thought: bool| self.parts.iter().filter(move |p| (p["thought"] == true) == thought).map(part_tokens);
        let (candidates, thoughts): (u64, u64) = (tokens(false).sum(), tokens(true).sum());
        let mut u = json!({
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": self.prompt_tokens + candidates + thoughts,
        });
        if thoughts > 0 {
            u["thoughtsTokenCount"] = json!(thoughts);
        }
        u
    }

    /// One wrapped `GenerateContentResponse` with `parts`; `last` adds `finishReason: STOP` and the usage.
    fn chunk(&self, parts: Vec<Value>, last: bool) -> Value {
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"role": "model", "parts": parts}));
        if last {
            candidate.insert("finishReason".into(), json!("STOP"));
        }
        let mut response = json!({"candidates": [candidate]});
        if last {
            response["usageMetadata"] = self.usage();
        }
        response["modelVersion"] = json!(self.model);
        response["createTime"] = json!(rfc3339(unix_now()));
        response["responseId"] = json!(self.response_id);
        json!({"response": response, "traceId": self.trace_id})
    }

    /// Thought parts whole, text split per word (at least two pieces), function calls whole.
    fn chunks(&self) -> Vec<Value> {
        let mut pieces: Vec<Value> = Vec::new();
        for part in &self.parts {
            match part["text"].as_str() {
                Some(text) if part["thought"] != true => {
                    pieces.extend(fragments(text).into_iter().map(|t| json!({"text": t})));
                }
                _ => pieces.push(part.clone()),
            }
        }
        let last = pieces.len().saturating_sub(1);
        pieces.into_iter().enumerate().map(|(i, p)| self.chunk(vec![p], i == last)).collect()
    }
}

fn part_tokens(part: &Value) -> u64 {
    match part["text"].as_str() {
        Some(text) => text.split_whitespace().count() as u64,
        None => part["functionCall"].to_string().len() as u64 / 4 + 1,
    }
}

/// One piece per word (spaces kept); a single word is cut in two.
fn fragments(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if words.len() >= 2 {
        return words;
    }
    let chars: Vec<char> = text.chars().collect();
    let mid = chars.len().div_ceil(2);
    [&chars[..mid], &chars[mid..]].iter().map(|c| c.iter().collect()).collect()
}

/// Words of every `text` in `contents` and `systemInstruction` (at least 1).
fn prompt_tokens(request: &Value) -> u64 {
    fn words(v: &Value) -> u64 {
        match v {
            Value::Object(m) => {
                m.iter()
                    .map(|(k, v)| {
                        if k == "text" {
                            v.as_str().map_or(0, |t| t.split_whitespace().count() as u64)
                        } else {
                            words(v)
                        }
                    })
                    .sum()
            }
            Value::Array(a) => a.iter().map(words).sum(),
            _ => 0,
        }
    }
    (words(&request["contents"]) + words(&request["systemInstruction"])).max(1)
}

/// `request.contents` must be a non-empty list of `user`/`model` contents with parts.
fn validate_contents(request: &Value) -> Result<(), Response> {
    let invalid = |msg: &str| Err(error(400, "INVALID_ARGUMENT", msg));
    let Some(contents) = request["contents"].as_array().filter(|c| !c.is_empty()) else {
        return invalid("* GenerateContentRequest.contents: contents is not specified\n");
    };
    for (i, content) in contents.iter().enumerate() {
        if !matches!(&content["role"], Value::Null) && !matches!(content["role"].as_str(), Some("user" | "model")) {
            return invalid("Please use a valid role: user, model.");
        }
        if content["parts"].as_array().is_none_or(Vec::is_empty) {
            return invalid(&format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            ));
        }
    }
    Ok(())
}

/// `streamGenerateContent` (`stream = Some(sse)`) and `generateContent` (`None`).
pub(super) async fn generate(body: &Value, stream: Option<bool>) -> Response {
    let Some(model) = body["model"].as_str().filter(|m| !m.is_empty()) else {
        return error(400, "INVALID_ARGUMENT", "Invalid value at 'model': model is required.");
    };
    if body["project"].as_str().is_none_or(str::is_empty) {
        return error(400, "INVALID_ARGUMENT", "Request contains an invalid argument: project is required.");
    }
    let request = &body["request"];
    if !request.is_object() {
        return error(400, "INVALID_ARGUMENT", "Invalid value at 'request': request is required.");
    }
    if let Err(resp) = validate_contents(request) {
        return resp;
    }
    if let Some(resp) = model_error(model) {
        return resp;
    }
    let reply = build(request, model);
    let delay = if model.starts_with("slow") { SLOW_DELAY } else { Duration::ZERO };
    match stream {
        Some(sse) => respond_stream(reply.chunks(), sse, delay),
        None => {
            tokio::time::sleep(delay).await;
            json_response(200, &reply.chunk(reply.parts.clone(), true))
        }
    }
}

/// Errors chosen by the model prefix.
fn model_error(model: &str) -> Option<Response> {
    Some(if model.starts_with("rl") {
        rate_limited(model)
    } else if model.starts_with("err") {
        error(500, "INTERNAL", "Internal error encountered.")
    } else if model.starts_with("unavailable") {
        error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    } else if model.starts_with("forbidden") {
        error(403, "PERMISSION_DENIED", "The caller does not have permission")
    } else if model.starts_with("notfound") {
        error(404, "NOT_FOUND", "Requested entity was not found.")
    } else {
        return None;
    })
}

/// 429 `RESOURCE_EXHAUSTED` with `RetryInfo` 5 s.
pub(super) fn rate_limited(model: &str) -> Response {
    let mut body = error_body(429, "RESOURCE_EXHAUSTED", QUOTA_MSG);
    body["error"]["details"] = json!([
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "cloudcode-pa.googleapis.com",
            "metadata": {"uiMessage": "true", "model": model},
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5s"},
    ]);
    json_response(429, &body)
}

fn build(request: &Value, model: &str) -> Reply {
    let contents = request["contents"].as_array().map(Vec::as_slice).unwrap_or_default();
    let last_user = contents.iter().rev().find(|c| c["role"].is_null() || c["role"] == "user");
    let user_parts = last_user.and_then(|c| c["parts"].as_array()).map(Vec::as_slice).unwrap_or_default();
    let last_text = user_parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" ");
    let answered_tool = user_parts.iter().any(|p| p.get("functionResponse").is_some());
    let greeting = json!({"text": format!("Hello from code assist: {last_text}")});
    let shell = model.starts_with("shell");
    let call = if shell { shell_function(&request["tools"]) } else { first_function(&request["tools"]) };
    let parts = match call {
        _ if shell && answered_tool => {
            let results: Vec<String> = user_parts
                .iter()
                .filter_map(|p| p.get("functionResponse"))
                .map(|r| r["response"].to_string())
                .collect();
            vec![json!({"text": shell_answer(&results.join(" "))})]
        }
        Some((name, args)) if (model.starts_with("tools") || shell) && !answered_tool => {
            let signature = format!("sig-{:016x}", rand::random::<u64>());
            vec![json!({"functionCall": {"name": name, "args": args}, "thoughtSignature": signature})]
        }
        _ if model.starts_with("thinking") => vec![json!({"text": "Let me think", "thought": true}), greeting],
        _ => vec![greeting],
    };
    Reply {
        model: model.to_owned(),
        response_id: format!("{:022x}", rand::random::<u128>() >> 40),
        trace_id: format!("{:016x}", rand::random::<u64>()),
        parts,
        prompt_tokens: prompt_tokens(request),
    }
}

/// Name and args of a call of the client's shell tool, when `tools` declares one.
fn shell_function(tools: &Value) -> Option<(String, Value)> {
    let decls = tools.as_array()?.iter().filter_map(|t| t["functionDeclarations"].as_array()).flatten();
    shell_call(decls.filter_map(|d| d["name"].as_str()))
}

/// Name and args of the first function declaration: the first property set to `"Paris"` / `1` / `true` by type.
fn first_function(tools: &Value) -> Option<(String, Value)> {
    let decl = tools.as_array()?.iter().find_map(|t| t["functionDeclarations"].as_array()?.first())?;
    let name = decl["name"].as_str()?.to_owned();
    let schema = if decl["parameters"].is_object() { &decl["parameters"] } else { &decl["parametersJsonSchema"] };
    let args = match schema["properties"].as_object().and_then(|p| p.iter().next()) {
        None => json!({}),
        Some((prop, s)) => {
            let value = match s["type"].as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("integer" | "number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("Paris"),
            };
            json!({ prop: value })
        }
    };
    Some((name, args))
}

/// SSE (`data: {…}\r\n\r\n`) or one JSON array (`[{…},\r\n{…}]`); `delay` before every chunk but the first.
fn respond_stream(events: Vec<Value>, sse: bool, delay: Duration) -> Response {
    let count = events.len();
    let frames: Vec<(Duration, Bytes)> = events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let wait = if i == 0 { Duration::ZERO } else { delay };
            let text = if sse {
                format!("data: {ev}\r\n\r\n")
            } else {
                let open = if i == 0 { "[" } else { ",\r\n" };
                let close = if i + 1 == count { "]" } else { "" };
                format!("{open}{ev}{close}")
            };
            (wait, Bytes::from(text))
        })
        .collect();
    let body = futures::stream::iter(frames).then(|(wait, bytes)| async move {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok::<_, Infallible>(bytes)
    });
    let mut resp = Response::new(Body::from_stream(body));
    let ct = if sse { "text/event-stream" } else { "application/json; charset=UTF-8" };
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}

/// `countTokens`: `{"request": {"contents", …}}` → `{"totalTokens": N}`.
pub(super) fn count_tokens(body: &Value) -> Response {
    let request = &body["request"];
    if let Err(resp) = validate_contents(request) {
        return resp;
    }
    json_response(200, &json!({"totalTokens": prompt_tokens(request)}))
}
