//! The Anthropic Messages protocol as an upstream (translation specification §2 `anthropic`,
//! §4 Messages column, §5–§7, §9.5, §10): canonical requests become Messages request bodies,
//! `message` bodies and Messages event streams become canonical answers.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::fields::get;
use super::request::InvalidRequest;
use super::response::tool_input;
use super::{ORIGIN, new_tool_use_id};
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, Response, Role, Signature, StopReason, StreamEvent,
    Tool, ToolChoice, ToolResult, Usage,
};

/// `max_tokens` when the request names none and the model's limit is unknown (§4.9).
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// The smallest thinking budget Anthropic accepts (§4.11).
const MIN_THINKING_BUDGET: u64 = 1024;

/// The text of the user turn added in front of a conversation that starts otherwise (§4.2).
const LEADING_USER_TEXT: &str = ".";

/// The result text given to a tool call the history has no result for (§4.2).
const MISSING_RESULT_TEXT: &str = "no result was recorded for this call";

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
    if let Some(system) = encode_system(&req.system) {
        body.insert("system".into(), system);
    }
    let messages = encode_messages(&req.messages, &mut adjustments)?;
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
        let role = if message.role == Role::Assistant { Role::Assistant } else { Role::User };
        for part in &message.parts {
            let (block, is_result) = match part {
                Part::ToolResult(result) => (tool_result_block(result), true),
                Part::ToolCall(_) if role != Role::Assistant => {
                    return Err(InvalidRequest::new(
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
            let role = if t.role == Role::Assistant { "assistant" } else { "user" };
            json!({"role": role, "content": t.blocks})
        })
        .collect())
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
fn encode_tool_choice(choice: Option<&ToolChoice>, parallel: Option<bool>, has_tools: bool) -> Option<Value> {
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

/// A Messages `message` body as a canonical response, served by `served_model`.
pub fn decode_upstream_response(body: &Map<String, Value>, served_model: &str) -> Result<Response, InvalidRequest> {
    let blocks = match get(body, "content") {
        None => &[][..],
        Some(Value::Array(blocks)) => blocks.as_slice(),
        Some(_) => return Err(InvalidRequest::wrong_type("content".into(), "an array of blocks")),
    };
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(Part::Text { text: str_of("text"), cache_control: None }),
            Some("thinking") => parts.push(Part::Reasoning {
                text: str_of("thinking"),
                signature: Some(str_of("signature")).filter(|s| !s.is_empty()).map(native_signature),
                redacted: None,
            }),
            Some("redacted_thinking") => {
                parts.push(Part::Reasoning { text: String::new(), signature: None, redacted: Some(str_of("data")) })
            }
            Some("tool_use") => parts.push(Part::ToolCall(crate::formats::ir::ToolCall {
                id: str_of("id"),
                name: str_of("name"),
                arguments: block.get("input").filter(|i| i.is_object()).map_or_else(|| "{}".into(), Value::to_string),
                signature: None,
            })),
            // Server tool blocks (`server_tool_use`, `web_search_tool_result`, …) have no
            // canonical form.
            _ => {}
        }
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    Ok(Response {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: served_model.to_string(),
        parts,
        stop_reason: stop_reason(body.get("stop_reason").and_then(Value::as_str), has_calls),
        stop_sequence: body.get("stop_sequence").and_then(Value::as_str).map(str::to_string),
        usage: body.get("usage").map(|u| merge_usage(Usage::default(), u)).unwrap_or_default(),
    })
}

fn native_signature(value: String) -> Signature {
    Signature { origin: ORIGIN.to_string(), value }
}

/// §6, Messages column (values the canonical model lacks map to their nearest kin).
fn stop_reason(reason: Option<&str>, has_calls: bool) -> StopReason {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::Refusal,
        _ if has_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// §7: the counts a Messages `usage` object reports, over `usage` (fields absent keep their
/// value: `message_delta` usage is cumulative and may be partial).
fn merge_usage(mut usage: Usage, wire: &Value) -> Usage {
    let n = |key: &str| wire.get(key).and_then(Value::as_u64);
    let uncached = n("input_tokens");
    let uncached_before = usage.input_total.saturating_sub(usage.cache_read).saturating_sub(usage.cache_write);
    usage.cache_read = n("cache_read_input_tokens").unwrap_or(usage.cache_read);
    usage.cache_write = n("cache_creation_input_tokens").unwrap_or(usage.cache_write);
    usage.input_total = uncached.unwrap_or(uncached_before) + usage.cache_read + usage.cache_write;
    usage.output_total = n("output_tokens").unwrap_or(usage.output_total);
    usage
}

/// The kind of one upstream content block, by its upstream index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Thinking,
    Text,
    Tool(usize),
    /// Redacted thinking (sent whole at its start) and server tool blocks.
    Other,
}

/// Events of an upstream Messages stream into canonical stream events (§9.5). `error` events are
/// the caller's; so is a stream that ends before `message_stop` ([`Self::completed`] is false).
#[derive(Debug, Default)]
pub struct MessagesStreamDecoder {
    blocks: HashMap<u64, BlockKind>,
    /// Tool calls started so far (the next canonical index).
    calls: usize,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    completed: bool,
}

impl MessagesStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events one upstream SSE event carries (`event_type` is its `event:`, else its
    /// `data.type`).
    pub fn push(&mut self, event_type: &str, data: &Map<String, Value>) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if self.completed {
            return events;
        }
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match event_type {
            "message_start" => {
                if let Some(usage) = data.get("message").and_then(|m| m.get("usage")).filter(|u| u.is_object()) {
                    self.usage = merge_usage(self.usage, usage);
                    events.push(StreamEvent::Usage(self.usage));
                }
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                let kind = match block.get("type").and_then(Value::as_str) {
                    Some("thinking") => {
                        let thinking = text("thinking");
                        if !thinking.is_empty() {
                            events.push(StreamEvent::ReasoningDelta(thinking));
                        }
                        BlockKind::Thinking
                    }
                    Some("text") => {
                        let initial = text("text");
                        if !initial.is_empty() {
                            events.push(StreamEvent::TextDelta(initial));
                        }
                        BlockKind::Text
                    }
                    Some("redacted_thinking") => {
                        events.push(StreamEvent::RedactedReasoning(text("data")));
                        BlockKind::Other
                    }
                    Some("tool_use") => {
                        let call = self.calls;
                        self.calls += 1;
                        events.push(StreamEvent::ToolCallStart { index: call, id: text("id"), name: text("name") });
                        if let Some(input) = block.get("input").and_then(Value::as_object).filter(|i| !i.is_empty()) {
                            events.push(StreamEvent::ToolCallDelta { index: call, json_fragment: input_json(input) });
                        }
                        BlockKind::Tool(call)
                    }
                    _ => BlockKind::Other,
                };
                self.blocks.insert(index, kind);
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let text = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                let kind = self.blocks.get(&index).copied();
                match (delta.get("type").and_then(Value::as_str), kind) {
                    (Some("thinking_delta"), _) => {
                        let thinking = text("thinking");
                        if !thinking.is_empty() {
                            events.push(StreamEvent::ReasoningDelta(thinking));
                        }
                    }
                    (Some("signature_delta"), _) => {
                        let signature = text("signature");
                        if !signature.is_empty() {
                            events.push(StreamEvent::ReasoningSignature(native_signature(signature)));
                        }
                    }
                    (Some("text_delta"), _) => {
                        let delta = text("text");
                        if !delta.is_empty() {
                            events.push(StreamEvent::TextDelta(delta));
                        }
                    }
                    (Some("input_json_delta"), Some(BlockKind::Tool(call))) => {
                        let fragment = text("partial_json");
                        if !fragment.is_empty() {
                            events.push(StreamEvent::ToolCallDelta { index: call, json_fragment: fragment });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(BlockKind::Tool(call)) = self.blocks.remove(&index) {
                    events.push(StreamEvent::ToolCallEnd { index: call });
                }
            }
            "message_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                if let Some(reason) = delta.get("stop_reason").and_then(Value::as_str) {
                    let sequence = delta.get("stop_sequence").and_then(Value::as_str).map(str::to_string);
                    self.stop = Some((stop_reason(Some(reason), self.calls > 0), sequence));
                }
                if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
                    self.usage = merge_usage(self.usage, usage);
                }
            }
            "message_stop" => {
                self.completed = true;
                let mut open: Vec<usize> = self
                    .blocks
                    .drain()
                    .filter_map(|(_, kind)| if let BlockKind::Tool(call) = kind { Some(call) } else { None })
                    .collect();
                open.sort_unstable();
                events.extend(open.into_iter().map(|index| StreamEvent::ToolCallEnd { index }));
                let (stop_reason, stop_sequence) = self
                    .stop
                    .take()
                    .unwrap_or((if self.calls > 0 { StopReason::ToolUse } else { StopReason::EndTurn }, None));
                events.push(StreamEvent::Finish { stop_reason, stop_sequence });
                events.push(StreamEvent::Usage(self.usage));
            }
            // `ping`; `error` is handled by the caller; unknown events are ignored.
            _ => {}
        }
        events
    }

    /// The upstream body ended. Everything was emitted at `message_stop`; without it the stream
    /// is premature (§9.5) and nothing is invented here.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        Vec::new()
    }

    /// Whether `message_stop` arrived (a stream ending without it is premature).
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// The latest usage the upstream reported, for accounting.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

fn input_json(input: &Map<String, Value>) -> String {
    Value::Object(input.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::anthropic::decode_request;
    use crate::formats::ir::ToolCall;
    use crate::formats::sse::SseDecoder;

    fn text(text: &str) -> Part {
        Part::Text { text: text.into(), cache_control: None }
    }

    fn call(id: &str, name: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None })
    }

    fn result(call_id: &str, content: &str) -> Part {
        Part::ToolResult(ToolResult { call_id: call_id.into(), content: vec![text(content)], is_error: false })
    }

    fn message(role: Role, parts: Vec<Part>) -> Message {
        Message { role, parts }
    }

    fn request(messages: Vec<Message>) -> Request {
        Request { model: "anthropic/claude-sonnet-4-5".into(), messages, ..Request::default() }
    }

    fn reasoning(text: &str, origin: Option<&str>) -> Part {
        Part::Reasoning {
            text: text.into(),
            signature: origin.map(|o| Signature { origin: o.into(), value: format!("sig-{o}") }),
            redacted: None,
        }
    }

    #[test]
    fn tool_results_open_the_next_user_turn_in_call_order_and_same_roles_merge() {
        let req = request(vec![
            message(Role::User, vec![text("Weather and time?"), text("")]),
            message(Role::User, vec![text("In Paris.")]),
            message(Role::Assistant, vec![text("Checking."), call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
            message(Role::Assistant, vec![call("call.2", "get_time", "")]),
            message(Role::Tool, vec![result("call.2", "12:00")]),
            message(Role::User, vec![text("Also: be brief.")]),
            message(Role::Tool, vec![result("call_1", "21 C")]),
            message(Role::Assistant, vec![text("")]),
            message(Role::Assistant, vec![text("Sunny, noon.")]),
        ]);
        let out = encode_upstream(&req, "claude-sonnet-4-5", false).unwrap();
        assert_eq!(out.adjustments, Vec::<&str>::new());
        assert_eq!(
            out.body["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather and time?"}, {"type": "text", "text": "In Paris."}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "21 C"}]},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
                    {"type": "text", "text": "Also: be brief."}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Sunny, noon."}]},
            ])
        );
        assert_eq!(out.body["model"], "claude-sonnet-4-5");
        assert_eq!(out.body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(out.body.get("stream").is_none());
    }

    #[test]
    fn a_leading_user_turn_is_added_and_unpaired_calls_and_results_are_repaired() {
        let req = request(vec![
            message(Role::Assistant, vec![call("call_1", "a", "{}"), call("call_2", "b", "{}")]),
            message(Role::Tool, vec![result("call_2", "ok"), result("call_9", "stray")]),
        ]);
        let out = encode_upstream(&req, "m", true).unwrap();
        assert_eq!(out.adjustments, ["tool_pairing_repaired", "leading_user_turn_added"]);
        assert_eq!(out.body["messages"][0], json!({"role": "user", "content": [{"type": "text", "text": "."}]}));
        assert_eq!(
            out.body["messages"][2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1", "content": MISSING_RESULT_TEXT, "is_error": true},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "ok"}]},
                {"type": "text", "text": "Tool result (call_9): stray"},
            ])
        );
        assert_eq!(out.body["stream"], true);
    }

    #[test]
    fn thinking_with_foreign_or_missing_signatures_is_dropped() {
        let mut req = request(vec![
            message(Role::User, vec![text("Hi")]),
            message(
                Role::Assistant,
                vec![
                    reasoning("mine", Some("anthropic")),
                    reasoning("gemini's", Some("gemini_cli")),
                    reasoning("unsigned", None),
                    Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                    text("Hello"),
                ],
            ),
            message(Role::User, vec![text("More")]),
        ]);
        req.reasoning = Some(Reasoning::BudgetTokens(2048));
        let body = encode_upstream_request(&req, "m", false).unwrap();
        assert_eq!(
            body["messages"][1]["content"],
            json!([
                {"type": "thinking", "thinking": "mine", "signature": "sig-anthropic"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Hello"},
            ])
        );
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
    }

    #[test]
    fn a_tool_turn_whose_thinking_was_dropped_disables_thinking() {
        let mut req = request(vec![
            message(Role::User, vec![text("Hi")]),
            message(Role::Assistant, vec![reasoning("theirs", Some("openai")), call("c1", "f", "{}")]),
            message(Role::Tool, vec![result("c1", "done")]),
        ]);
        req.reasoning = Some(Reasoning::Effort("high".into()));
        req.temperature = Some(0.2);
        let out = encode_upstream(&req, "m", false).unwrap();
        assert!(out.body.get("thinking").is_none());
        assert_eq!(out.adjustments, ["thinking_disabled"]);
        assert_eq!(out.body["temperature"], 0.2, "kept once thinking is off");
    }

    #[test]
    fn reasoning_maps_to_thinking_budgets_per_the_effort_table() {
        let thinking = |reasoning: Reasoning, max: Option<u64>| {
            let mut req = request(vec![message(Role::User, vec![text("Hi")])]);
            req.reasoning = Some(reasoning);
            req.max_output_tokens = max;
            encode_upstream_request(&req, "m", false).unwrap().get("thinking").cloned()
        };
        let enabled = |b: u64| Some(json!({"type": "enabled", "budget_tokens": b}));
        assert_eq!(thinking(Reasoning::Effort("minimal".into()), Some(64000)), enabled(1024));
        assert_eq!(thinking(Reasoning::Effort("low".into()), Some(64000)), enabled(4096));
        assert_eq!(thinking(Reasoning::Effort("medium".into()), Some(64000)), enabled(16384));
        assert_eq!(thinking(Reasoning::Effort("high".into()), Some(64000)), enabled(32768));
        assert_eq!(thinking(Reasoning::Effort("max".into()), Some(100000)), enabled(65536));
        assert_eq!(thinking(Reasoning::Effort("high".into()), None), enabled(8191), "below max_tokens");
        assert_eq!(thinking(Reasoning::BudgetTokens(500), Some(4000)), enabled(1024), "at least 1024");
        assert_eq!(thinking(Reasoning::BudgetTokens(5000), Some(1024)), None, "no room to think");
        assert_eq!(thinking(Reasoning::Disabled, None), Some(json!({"type": "disabled"})));
        assert_eq!(thinking(Reasoning::Effort("none".into()), None), Some(json!({"type": "disabled"})));
    }

    #[test]
    fn thinking_drops_sampling_parameters_and_a_forced_tool_choice_disables_it() {
        let mut req = request(vec![message(Role::User, vec![text("Hi")])]);
        req.reasoning = Some(Reasoning::BudgetTokens(2048));
        (req.temperature, req.top_p, req.top_k) = (Some(0.7), Some(0.5), Some(40));
        let out = encode_upstream(&req, "m", false).unwrap();
        assert_eq!(out.dropped_params, ["temperature", "top_p", "top_k"]);
        assert!(["temperature", "top_p", "top_k"].iter().all(|k| out.body.get(*k).is_none()));

        req.tools = vec![Tool::Function {
            name: "f".into(),
            description: None,
            parameters: Value::Null,
            strict: None,
            cache_control: None,
        }];
        req.tool_choice = Some(ToolChoice::Specific("f".into()));
        req.parallel_tool_calls = Some(false);
        req.temperature = Some(1.5);
        let out = encode_upstream(&req, "m", false).unwrap();
        assert_eq!(out.adjustments, ["thinking_disabled"]);
        assert_eq!(out.body["tool_choice"], json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}));
        assert_eq!(out.body["tools"], json!([{"name": "f", "input_schema": {"type": "object", "properties": {}}}]));
        assert_eq!(out.body["temperature"], 1.0, "clamped to Anthropic's range");
    }

    #[test]
    fn parallel_false_without_a_choice_rides_on_auto_and_none_stays_bare() {
        let choice = |c: Option<&ToolChoice>| encode_tool_choice(c, Some(false), true);
        assert_eq!(choice(None), Some(json!({"type": "auto", "disable_parallel_tool_use": true})));
        assert_eq!(choice(Some(&ToolChoice::None)), Some(json!({"type": "none"})));
        assert_eq!(
            choice(Some(&ToolChoice::Required)),
            Some(json!({"type": "any", "disable_parallel_tool_use": true}))
        );
        assert_eq!(encode_tool_choice(Some(&ToolChoice::Auto), None, false), None, "no tools, no choice");
    }

    /// A Messages request of the kind Claude Code sends: many tools, cached system blocks,
    /// thinking, and a tool round in the history.
    fn claude_code_request() -> Value {
        let tools: Vec<Value> = (0..20)
            .map(|i| {
                let mut tool = json!({
                    "name": format!("tool_{i}"),
                    "description": format!("Tool number {i}"),
                    "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]},
                });
                if i == 19 {
                    tool["cache_control"] = json!({"type": "ephemeral"});
                }
                tool
            })
            .chain([json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3})])
            .collect();
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": true,
            "system": [
                {"type": "text", "text": "x-anthropic-billing-header: cc_version=1"},
                {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            ],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Read the file."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should read it.", "signature": "EqQBCkYIBxgCKkA"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                    {"type": "text", "text": "Reading."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "tool_3", "input": {"arg": "a.rs", "z": {"b": 1, "a": 2}}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "tool_4", "input": {"arg": "b.rs"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": [{"type": "text", "text": "fn main() {}"}]},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": "gone"}], "is_error": true},
                    {"type": "text", "text": "Now fix it.", "cache_control": {"type": "ephemeral"}},
                ]},
            ],
            "tools": tools,
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 10000},
            "top_p": 0.97,
            "stop_sequences": ["\n\nHuman:"],
            "metadata": {"user_id": "user_abc_session_123"},
        })
    }

    #[test]
    fn a_messages_request_passes_through_the_canonical_model_unchanged() {
        let original = claude_code_request();
        let req = decode_request(original.to_string().as_bytes()).unwrap();
        let out = encode_upstream(&req, "claude-sonnet-4-5", true).unwrap();
        assert!(out.adjustments.is_empty() && out.dropped_params.is_empty(), "{out:?}");
        assert_eq!(Value::Object(out.body.clone()), original);
        let order: Vec<&str> = out.body["messages"][1]["content"][3]["input"]["z"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(order, ["b", "a"], "input key order is kept");
    }

    #[test]
    fn a_message_body_decodes_with_usage_summed_over_the_cache() {
        let body = json!({
            "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "EqQB"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "a": 1}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 186, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 24,
                      "output_tokens": 256},
        });
        let resp = decode_upstream_response(body.as_object().unwrap(), "anthropic/claude-sonnet-4-5").unwrap();
        assert_eq!(resp.id, "msg_01X");
        assert_eq!(resp.model, "anthropic/claude-sonnet-4-5");
        assert_eq!(
            resp.parts,
            [
                Part::Reasoning {
                    text: "Hmm.".into(),
                    signature: Some(native_signature("EqQB".into())),
                    redacted: None
                },
                Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                text("Calling."),
                call("toolu_1", "get_weather", r#"{"city":"Paris","a":1}"#),
            ]
        );
        assert_eq!(resp.stop_reason, StopReason::ToolUse);
        assert_eq!(
            resp.usage,
            Usage { input_total: 1210, cache_read: 1000, cache_write: 24, output_total: 256, reasoning: 0 }
        );
        let stopped = json!({"content": [], "stop_reason": "stop_sequence", "stop_sequence": "###"});
        let resp = decode_upstream_response(stopped.as_object().unwrap(), "m").unwrap();
        assert_eq!((resp.stop_reason, resp.stop_sequence.as_deref()), (StopReason::StopSequence, Some("###")));
        assert!(decode_upstream_response(json!({"content": "x"}).as_object().unwrap(), "m").is_err());
    }

    /// An upstream stream with thinking, text and a tool call whose input arrives in fragments.
    const TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":186,"cache_read_input_tokens":1024,"cache_creation_input_tokens":0,"output_tokens":1}}}"#,
        "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        "\r\n\r\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Météo → outil 😀"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkY"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking."}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":1}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\": \"Paris\"}"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":2}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":90}}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{},"usage":{"output_tokens":97}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );

    /// Feeds SSE bytes in the given pieces through an [`SseDecoder`] and a
    /// [`MessagesStreamDecoder`].
    fn decode_stream<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<StreamEvent>, bool) {
        let mut sse = SseDecoder::new();
        let mut raw = Vec::new();
        for piece in pieces {
            sse.push(piece, &mut raw);
        }
        sse.finish(&mut raw);
        let mut decoder = MessagesStreamDecoder::new();
        let mut events = Vec::new();
        for event in raw {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            let data = data.as_object().unwrap();
            let kind = event.event.unwrap_or_else(|| data["type"].as_str().unwrap().to_string());
            events.extend(decoder.push(&kind, data));
        }
        events.extend(decoder.finish());
        (events, decoder.completed())
    }

    #[test]
    fn a_tool_use_stream_decodes_to_canonical_events() {
        let (events, completed) = decode_stream([TOOL_STREAM.as_bytes()]);
        assert!(completed);
        let first_usage = Usage { input_total: 1210, cache_read: 1024, cache_write: 0, output_total: 1, reasoning: 0 };
        assert_eq!(
            events,
            [
                StreamEvent::Usage(first_usage),
                StreamEvent::ReasoningDelta("Météo → outil 😀".into()),
                StreamEvent::ReasoningSignature(native_signature("EqQBCkY".into())),
                StreamEvent::TextDelta("Checking.".into()),
                StreamEvent::ToolCallStart { index: 0, id: "toolu_01".into(), name: "get_weather".into() },
                StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"city".into() },
                StreamEvent::ToolCallDelta { index: 0, json_fragment: "\": \"Paris\"}".into() },
                StreamEvent::ToolCallEnd { index: 0 },
                StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
                StreamEvent::Usage(Usage { output_total: 97, ..first_usage }),
            ]
        );
    }

    #[test]
    fn every_byte_split_of_an_upstream_stream_gives_the_same_events() {
        let bytes = TOOL_STREAM.as_bytes();
        let whole = decode_stream([bytes]);
        for cut in 1..bytes.len() {
            assert_eq!(decode_stream([&bytes[..cut], &bytes[cut..]]), whole, "split at byte {cut}");
        }
        assert_eq!(decode_stream(bytes.chunks(1)), whole, "one byte at a time");
    }

    #[test]
    fn parallel_tool_blocks_count_calls_from_zero_and_a_stream_without_message_stop_is_incomplete() {
        let mut decoder = MessagesStreamDecoder::new();
        let push = |d: &mut MessagesStreamDecoder, v: Value| {
            let kind = v["type"].as_str().unwrap().to_string();
            d.push(&kind, v.as_object().unwrap())
        };
        let start = |index: u64, id: &str| {
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "tool_use", "id": id, "name": "f", "input": {}}})
        };
        assert_eq!(
            push(&mut decoder, start(1, "toolu_a")),
            [StreamEvent::ToolCallStart { index: 0, id: "toolu_a".into(), name: "f".into() }]
        );
        push(&mut decoder, json!({"type": "content_block_stop", "index": 1}));
        assert_eq!(
            push(&mut decoder, start(2, "toolu_b")),
            [StreamEvent::ToolCallStart { index: 1, id: "toolu_b".into(), name: "f".into() }]
        );
        assert!(push(&mut decoder, json!({"type": "error", "error": {"type": "overloaded_error"}})).is_empty());
        assert!(decoder.finish().is_empty());
        assert!(!decoder.completed(), "EOF before message_stop is premature");
        let done = push(&mut decoder, json!({"type": "message_stop"}));
        assert_eq!(
            done[..2],
            [
                StreamEvent::ToolCallEnd { index: 1 },
                StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None }
            ]
        );
        assert!(decoder.completed());
    }
}
