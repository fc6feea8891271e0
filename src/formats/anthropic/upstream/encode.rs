//! Canonical requests as Messages request bodies (translation specification §4, Messages column).

use serde_json::{Map, Value, json};

use super::super::request::InvalidRequest;
use super::super::response::tool_input;
use super::super::{ORIGIN, new_tool_use_id};
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Signature, Tool, ToolChoice,
    ToolResult,
};

/// `max_tokens` when the request names none and the model's limit is unknown (§4.9).
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// The smallest thinking budget Anthropic accepts (§4.11).
const MIN_THINKING_BUDGET: u64 = 1024;

/// The text of the user turn added in front of a conversation that starts otherwise (§4.2).
const LEADING_USER_TEXT: &str = ".";

/// The result text given to a tool call the history has no result for (§4.2).
pub(super) const MISSING_RESULT_TEXT: &str = "no result was recorded for this call";

/// A Messages request body with what the translation had to change, for
/// `x-llmkp-dropped-params` and `x-llmkp-adjustments`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub body: Map<String, Value>,
    /// Canonical parameters left out (`temperature`, `top_k`, `top_p` next to thinking, §4.9).
    pub dropped_params: Vec<&'static str>,
    /// `leading_user_turn_added`, `tool_pairing_repaired`, `thinking_disabled`.
    pub adjustments: Vec<&'static str>,
}

/// The Messages request body for `req`, sent to `upstream_model`.
pub fn encode_upstream_request(
    req: &Request,
    upstream_model: &str,
    stream: bool,
) -> Result<Map<String, Value>, InvalidRequest> {
    encode_upstream(req, upstream_model, stream).map(|r| r.body)
}

/// [`encode_upstream_request`] with the parameters it dropped and the repairs it made.
pub fn encode_upstream(req: &Request, upstream_model: &str, stream: bool) -> Result<UpstreamRequest, InvalidRequest> {
    let mut dropped_params = Vec::new();
    let mut adjustments = Vec::new();
    let max_tokens = req.max_output_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("max_tokens".into(), json!(max_tokens));
    // System messages before the first turn join the top-level prompt; later ones stay in place.
    let leading = req.messages.iter().take_while(|m| m.role == Role::System).count();
    let system: Vec<Part> =
        req.system.iter().chain(req.messages[..leading].iter().flat_map(|m| &m.parts)).cloned().collect();
    if let Some(system) = encode_system(&system) {
        body.insert("system".into(), system);
    }
    let messages = encode_messages(&req.messages[leading..], &mut adjustments)?;
    let mut thinking = req.reasoning.as_ref().and_then(|r| encode_thinking(r, max_tokens));
    let enabled = thinking.as_ref().is_some_and(|t| t["type"] == "enabled");
    let forced_tool = matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Specific(_)));
    if enabled && (forced_tool || last_tool_turn_lacks_thinking(&messages)) {
        thinking = None;
        adjustments.push("thinking_disabled");
    }
    let enabled = thinking.as_ref().is_some_and(|t| t["type"] == "enabled");
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        body.insert("tools".into(), Value::Array(req.tools.iter().map(encode_tool).collect()));
    }
    if let Some(choice) = encode_tool_choice(req.tool_choice.as_ref(), req.parallel_tool_calls, !req.tools.is_empty()) {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(thinking) = thinking {
        body.insert("thinking".into(), thinking);
    }
    if let Some(temperature) = req.temperature {
        if enabled {
            dropped_params.push("temperature");
        } else {
            body.insert("temperature".into(), json!(temperature.min(1.0)));
        }
    }
    if let Some(top_p) = req.top_p {
        if enabled && top_p < 0.95 {
            dropped_params.push("top_p");
        } else {
            body.insert("top_p".into(), json!(top_p));
        }
    }
    if let Some(top_k) = req.top_k {
        if enabled {
            dropped_params.push("top_k");
        } else {
            body.insert("top_k".into(), json!(top_k));
        }
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    match &req.response_format {
        // Messages has no plain JSON mode (§4.10).
        Some(ResponseFormat::JsonObject) => dropped_params.push("response_format"),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert("output_config".into(), json!({"format": {"type": "json_schema", "schema": schema}}));
        }
        None => {}
    }
    if let Some(user) = &req.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(UpstreamRequest { body, dropped_params, adjustments })
}

/// A string for one text part without `cache_control`, else text blocks; empty text is left out.
fn encode_system(parts: &[Part]) -> Option<Value> {
    let blocks: Vec<Value> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, cache_control } if !text.trim().is_empty() => Some(text_block(text, cache_control)),
            _ => None,
        })
        .collect();
    match blocks.as_slice() {
        [] => None,
        [only] if only.get("cache_control").is_none() => Some(only["text"].clone()),
        _ => Some(Value::Array(blocks)),
    }
}

/// One Messages turn being built.
struct Turn {
    role: Role,
    blocks: Vec<Value>,
    /// Leading `tool_result` blocks (user turns).
    results: usize,
}

/// §4.2: tool results open the next user turn, consecutive turns of one role are merged, empty
/// text is removed, tool results are paired with the calls before them, a user turn comes first.
fn encode_messages(messages: &[Message], adjustments: &mut Vec<&'static str>) -> Result<Vec<Value>, InvalidRequest> {
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if message.role == Role::System {
            if let Some(Value::Array(blocks)) = encode_system(&message.parts).map(as_blocks) {
                turns.push(Turn { role: Role::System, blocks, results: 0 });
            }
            continue;
        }
        let role = if message.role == Role::Assistant { Role::Assistant } else { Role::User };
        for part in &message.parts {
            let (block, is_result) = match part {
                Part::ToolResult(result) => (tool_result_block(result), true),
                Part::ToolCall(_) if role != Role::Assistant => {
                    return Err(InvalidRequest::at(
                        format!("tool calls can only appear in assistant messages (messages[{i}])"),
                        format!("messages[{i}]"),
                    ));
                }
                part => match content_block(part) {
                    Some(block) => (block, false),
                    None => continue,
                },
            };
            if turns.last().is_none_or(|t| t.role != role) {
                turns.push(Turn { role, blocks: Vec::new(), results: 0 });
            }
            let turn = turns.last_mut().expect("a turn was just ensured");
            if is_result {
                turn.blocks.insert(turn.results, block);
                turn.results += 1;
            } else {
                turn.blocks.push(block);
            }
        }
    }
    keep_results_after_calls(&mut turns);
    if repair_pairing(&mut turns) {
        adjustments.push("tool_pairing_repaired");
    }
    if turns.first().is_none_or(|t| t.role != Role::User) {
        let blocks = vec![json!({"type": "text", "text": LEADING_USER_TEXT})];
        turns.insert(0, Turn { role: Role::User, blocks, results: 0 });
        adjustments.push("leading_user_turn_added");
    }
    Ok(turns
        .into_iter()
        .map(|t| {
            let role = match t.role {
                Role::Assistant => "assistant",
                Role::System => "system",
                Role::User | Role::Tool => "user",
            };
            json!({"role": role, "content": t.blocks})
        })
        .collect())
}

/// Text blocks of a system prompt, whichever form [`encode_system`] chose.
fn as_blocks(system: Value) -> Value {
    match system {
        Value::String(text) => json!([{"type": "text", "text": text}]),
        blocks => blocks,
    }
}

/// A system message between an assistant turn's tool calls and the user turn answering them
/// moves after that user turn: tool results must follow their calls directly.
fn keep_results_after_calls(turns: &mut [Turn]) {
    for k in 1..turns.len().saturating_sub(1) {
        let calls = turns[k - 1].role == Role::Assistant && turns[k - 1].blocks.iter().any(|b| b["type"] == "tool_use");
        if calls && turns[k].role == Role::System && turns[k + 1].role == Role::User {
            turns.swap(k, k + 1);
        }
    }
}

/// Puts each user turn's tool results in the order of the calls of the assistant turn before it,
/// adds an error result for a call without one, and turns a result answering no such call into
/// user text. Whether anything was changed.
fn repair_pairing(turns: &mut [Turn]) -> bool {
    let mut repaired = false;
    for k in 0..turns.len() {
        if turns[k].role != Role::User {
            continue;
        }
        let calls: Vec<String> = match k.checked_sub(1).map(|p| &turns[p]) {
            Some(prev) => prev
                .blocks
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .filter_map(|b| b["id"].as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        let turn = &mut turns[k];
        let results: Vec<Value> = turn.blocks.drain(..turn.results).collect();
        let mut by_call: Vec<Option<Value>> = vec![None; calls.len()];
        let mut orphans = Vec::new();
        for result in results {
            let id = result["tool_use_id"].as_str().unwrap_or_default();
            match calls.iter().position(|c| c == id) {
                Some(n) if by_call[n].is_none() => by_call[n] = Some(result),
                _ => orphans.push(result),
            }
        }
        let mut paired = Vec::with_capacity(calls.len());
        for (call, result) in calls.iter().zip(by_call) {
            paired.push(result.unwrap_or_else(|| {
                repaired = true;
                json!({"type": "tool_result", "tool_use_id": call, "content": MISSING_RESULT_TEXT, "is_error": true})
            }));
        }
        repaired |= !orphans.is_empty();
        let orphan_text: Vec<Value> = orphans.iter().map(orphan_text).collect();
        turn.results = paired.len();
        let rest = std::mem::take(&mut turn.blocks);
        turn.blocks = paired.into_iter().chain(orphan_text).chain(rest).collect();
    }
    // An assistant turn with calls followed by another assistant turn cannot happen (turns of
    // one role are merged); one followed by nothing is left as the client sent it.
    repaired
}

/// `Tool result (<call_id>): <content>` for a result whose call is not in the turn before it.
fn orphan_text(result: &Value) -> Value {
    let id = result["tool_use_id"].as_str().unwrap_or_default();
    let content = match &result["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    };
    json!({"type": "text", "text": format!("Tool result ({id}): {content}")})
}

/// With thinking on, Anthropic wants the last assistant turn, when it calls tools, to hold its
/// thinking (§4.8).
fn last_tool_turn_lacks_thinking(messages: &[Value]) -> bool {
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "assistant") else { return false };
    let blocks = last["content"].as_array().map(Vec::as_slice).unwrap_or_default();
    let has = |kinds: &[&str]| blocks.iter().any(|b| kinds.iter().any(|k| b["type"] == *k));
    has(&["tool_use"]) && !has(&["thinking", "redacted_thinking"])
}

fn text_block(text: &str, cache_control: &Option<Value>) -> Value {
    let mut block = json!({"type": "text", "text": text});
    if let Some(cache_control) = cache_control {
        block["cache_control"] = cache_control.clone();
    }
    block
}

/// The block for a part outside tool results, or none for empty text and for reasoning this
/// upstream cannot verify (a signature of another origin, or none, §4.8, §10).
fn content_block(part: &Part) -> Option<Value> {
    match part {
        Part::Text { text, cache_control } => (!text.trim().is_empty()).then(|| text_block(text, cache_control)),
        Part::Refusal(text) => (!text.trim().is_empty()).then(|| json!({"type": "text", "text": text})),
        Part::Image(source) => Some(image_block(source)),
        Part::Document { source, title } => {
            let source = match source {
                DocumentSource::Base64 { media_type, data } => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                DocumentSource::Url(url) => json!({"type": "url", "url": url}),
                DocumentSource::PlainText(text) => json!({"type": "text", "media_type": "text/plain", "data": text}),
            };
            let mut block = json!({"type": "document", "source": source});
            if let Some(title) = title {
                block["title"] = json!(title);
            }
            Some(block)
        }
        Part::ToolCall(call) => Some(json!({
            "type": "tool_use",
            "id": if call.id.is_empty() { new_tool_use_id() } else { wire_id(&call.id) },
            "name": call.name,
            "input": tool_input(&call.arguments),
        })),
        Part::Reasoning { redacted: Some(data), signature, .. } => {
            signature.as_ref().is_none_or(native).then(|| json!({"type": "redacted_thinking", "data": data}))
        }
        Part::Reasoning { text, signature: Some(signature), redacted: None } if native(signature) => {
            Some(json!({"type": "thinking", "thinking": text, "signature": signature.value}))
        }
        Part::Reasoning { .. } => None,
        Part::ToolResult(result) => Some(tool_result_block(result)),
    }
}

fn native(signature: &Signature) -> bool {
    signature.origin == ORIGIN
}

fn image_block(source: &ImageSource) -> Value {
    let source = match source {
        ImageSource::Base64 { media_type, data } => json!({"type": "base64", "media_type": media_type, "data": data}),
        ImageSource::Url(url) => json!({"type": "url", "url": url}),
        ImageSource::FileRef(id) => json!({"type": "file", "file_id": id}),
    };
    json!({"type": "image", "source": source})
}

fn tool_result_block(result: &ToolResult) -> Value {
    let content: Vec<Value> = result
        .content
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, cache_control } if !text.trim().is_empty() => Some(text_block(text, cache_control)),
            Part::Image(source) => Some(image_block(source)),
            _ => None,
        })
        .collect();
    let mut block = json!({"type": "tool_result", "tool_use_id": wire_id(&result.call_id)});
    if !content.is_empty() {
        block["content"] = Value::Array(content);
    }
    if result.is_error {
        block["is_error"] = json!(true);
    }
    block
}

/// A tool call id as Messages accepts it (`^[a-zA-Z0-9_-]+$`): other characters become `_`, the
/// same way for calls and results (§4.6).
fn wire_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn encode_tool(tool: &Tool) -> Value {
    match tool {
        Tool::Function { name, description, parameters, strict, cache_control } => {
            let mut out = Map::new();
            out.insert("name".into(), json!(name));
            if let Some(description) = description {
                out.insert("description".into(), json!(description));
            }
            let schema = match parameters {
                Value::Object(_) => parameters.clone(),
                _ => json!({"type": "object", "properties": {}}),
            };
            out.insert("input_schema".into(), schema);
            if let Some(strict) = strict {
                out.insert("strict".into(), json!(strict));
            }
            if let Some(cache_control) = cache_control {
                out.insert("cache_control".into(), cache_control.clone());
            }
            Value::Object(out)
        }
        Tool::Server { raw, .. } => Value::Object(raw.clone()),
    }
}

/// §4.5; `disable_parallel_tool_use` rides on an `auto` choice when none was given.
pub(super) fn encode_tool_choice(
    choice: Option<&ToolChoice>,
    parallel: Option<bool>,
    has_tools: bool,
) -> Option<Value> {
    if !has_tools {
        return None;
    }
    let mut out = match choice {
        None if parallel == Some(false) => json!({"type": "auto"}),
        None => return None,
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Specific(name)) => json!({"type": "tool", "name": name}),
    };
    if parallel == Some(false) {
        out["disable_parallel_tool_use"] = json!(true);
    }
    Some(out)
}

/// §4.11 Messages column: efforts as budgets, a budget of at least 1024 and below `max_tokens`
/// (no thinking when `max_tokens` leaves no room), disabled as `{"type":"disabled"}`.
fn encode_thinking(reasoning: &Reasoning, max_tokens: u64) -> Option<Value> {
    let budget = match reasoning {
        Reasoning::Disabled | Reasoning::BudgetTokens(0) => return Some(json!({"type": "disabled"})),
        Reasoning::BudgetTokens(budget) => *budget,
        Reasoning::Effort(effort) => match effort.as_str() {
            "none" => return Some(json!({"type": "disabled"})),
            "minimal" => 1024,
            "low" => 4096,
            "medium" => 16384,
            "high" => 32768,
            _ => 65536,
        },
    };
    if max_tokens <= MIN_THINKING_BUDGET {
        return None;
    }
    let budget = budget.max(MIN_THINKING_BUDGET).min(max_tokens - 1);
    Some(json!({"type": "enabled", "budget_tokens": budget}))
}
