//! Gemini `generateContent` requests both ways (translation specification §4, Gemini columns;
//! §10 for signatures; §12 for the `system_as_user` quirk): a canonical request becomes the body
//! sent to a Gemini-protocol upstream ([`encode_upstream`], [`encode_count_request`]), and a Gemini
//! client's `GenerateContentRequest` becomes a canonical request ([`decode_client_request`],
//! [`decode_client_count_request`]). Pure: no IO; failures are [`InvalidRequest`]s naming the
//! field by its path, never panics.
//!
//! Conventions the response side shares:
//! - A `thoughtSignature` on a `functionCall` part is that [`ToolCall`]'s signature; on a thought
//!   part (`thought: true`) it is the signature of that [`Part::Reasoning`]; on any other part
//!   (plain text, media) it becomes a `Reasoning` with empty text (a *carrier*) placed right
//!   before the part, and goes back onto the text part right after the carrier (a standalone
//!   `{"text":"","thoughtSignature"}` when no text part follows it).
//! - Tool names Gemini refuses are rewritten by [`wire_tool_name`] (§4.4); mapping them back in
//!   answers is the caller's.

use std::borrow::Cow;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::schema::{clean_schema, openapi_to_json_schema};
use super::{ORIGIN, signature_from_client};
use crate::formats::InvalidRequest;
use crate::formats::anthropic::response::tool_input;
use crate::formats::fields::{as_bool, as_count, as_f64, as_object, as_str, camel_case, find, join, snake_case};
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Signature, Tool, ToolCall,
    ToolChoice, ToolResult,
};
use crate::formats::openai::translate::synthetic_call_id;
use crate::formats::protocol::Protocol;

/// A `generateContent` body with what the translation had to change, for
/// `x-llmkp-dropped-params` and `x-llmkp-adjustments`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// The body; the model is part of the URL, not of the body.
    pub body: Map<String, Value>,
    /// `parallel_tool_calls` (false), `user`, `stop` (beyond five), `tools` (server tools Gemini
    /// has no counterpart for), `reasoning` (models without thinking).
    pub dropped_params: Vec<&'static str>,
    /// `leading_user_turn_added`, `tool_pairing_repaired`.
    pub adjustments: Vec<&'static str>,
}

/// The text of the user turn added in front of a conversation that starts otherwise (§4.2).
const LEADING_USER_TEXT: &str = ".";

/// The result given to a tool call the history has no result for (§4.2).
const MISSING_RESULT_TEXT: &str = "no result was recorded for this call";

/// System text blocks with this prefix change on every request and defeat prompt caching (§4.1).
const BILLING_HEADER: &str = "x-anthropic-billing-header:";

/// What a Gemini 3 model gets on the first call of a turn that has no signature of its own (§4.8).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gemini takes at most this many stop sequences (§4.9).
const MAX_STOP_SEQUENCES: usize = 5;

/// Efforts from least to most (§4.11).
const EFFORT_ORDER: [&str; 6] = ["minimal", "low", "medium", "high", "xhigh", "max"];

/// Gemini-native server tools a Gemini client may declare; forwarded to Gemini upstreams as sent.
const GEMINI_SERVER_TOOLS: [&str; 9] = [
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "fileSearch",
    "googleMaps",
    "computerUse",
    "retrieval",
    "enterpriseWebSearch",
];

/// How the upstream model thinks (§4.11), from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Thinking {
    /// Gemini 3: `thinkingLevel`, one of these (lowest first).
    Levels(&'static [&'static str]),
    /// Gemini 2.5 and unknown models: `thinkingBudget` within `min..=max`; 0 allowed or not.
    Budget { min: u64, max: u64, zero: bool },
    /// Models without thinking (Gemma, Gemini 1.x and 2.0).
    None,
}

fn thinking_of(model: &str) -> Thinking {
    let model = model.to_ascii_lowercase();
    if model.contains("gemma")
        || model.contains("gemini-1.")
        || (model.contains("gemini-2.0") && !model.contains("thinking"))
    {
        Thinking::None
    } else if model.contains("gemini-3") {
        if model.contains("flash") {
            Thinking::Levels(&["minimal", "low", "medium", "high"])
        } else if model.contains("gemini-3-pro") {
            Thinking::Levels(&["low", "high"])
        } else {
            Thinking::Levels(&["low", "medium", "high"])
        }
    } else if model.contains("gemini-2.5") && model.contains("flash-lite") {
        Thinking::Budget { min: 512, max: 24576, zero: true }
    } else if model.contains("gemini-2.5") && model.contains("pro") {
        Thinking::Budget { min: 128, max: 32768, zero: false }
    } else {
        Thinking::Budget { min: 0, max: 24576, zero: true }
    }
}

/// A tool name as Gemini accepts it (§4.4: a letter or `_`, then `[a-zA-Z0-9_.:-]`, at most 64):
/// valid names unchanged, others with invalid characters as `_` and, when too long, cut to 55
/// characters plus `_` and 8 hex of the SHA-256 of the original. Deterministic, so history and
/// declarations agree.
pub fn wire_tool_name(name: &str) -> Cow<'_, str> {
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_';
    let rest_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let mut chars = name.chars();
    let valid = name.len() <= 64 && chars.next().is_some_and(first_ok) && chars.all(rest_ok);
    if valid {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| if (i == 0 && first_ok(c)) || (i > 0 && rest_ok(c)) { c } else { '_' })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    if out.len() > 64 {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        out.truncate(55);
        out = format!("{out}_{hex}");
    }
    Cow::Owned(out)
}

/// The `generateContent` body for `req`, sent to `upstream_model` of the provider whose
/// signatures carry `origin`.
pub fn encode_upstream(
    req: &Request,
    upstream_model: &str,
    origin: &str,
    protocol: Protocol,
) -> Result<UpstreamRequest, InvalidRequest> {
    let mut dropped_params = Vec::new();
    let mut adjustments = Vec::new();
    let (system, messages) = place_system_messages(&req.system, &req.messages);
    let system = system_text(&system)?;
    let lower_model = upstream_model.to_ascii_lowercase();
    let system_as_user = lower_model.contains("gemma-3");
    let gemini3 = lower_model.contains("gemini-3");
    let messages: Cow<'_, [Message]> = match &system {
        Some(text) if system_as_user => Cow::Owned(with_system_as_user(&messages, text)),
        _ => messages,
    };
    let contents = encode_contents(&messages, origin, gemini3, &mut adjustments)?;
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if let Some(text) = system.filter(|_| !system_as_user) {
        let mut instruction = Map::new();
        if protocol == Protocol::CodeAssist {
            instruction.insert("role".into(), json!("user"));
        }
        instruction.insert("parts".into(), json!([{"text": text}]));
        body.insert("systemInstruction".into(), Value::Object(instruction));
    }
    let (tools, has_functions) = encode_tools(&req.tools, protocol, &mut dropped_params);
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if has_functions && let Some(choice) = &req.tool_choice {
        body.insert("toolConfig".into(), json!({"functionCallingConfig": encode_tool_choice(choice)}));
    }
    if req.parallel_tool_calls == Some(false) {
        dropped_params.push("parallel_tool_calls");
    }
    let config = generation_config(req, upstream_model, protocol, &mut dropped_params);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    if req.user.is_some() {
        dropped_params.push("user");
    }
    Ok(UpstreamRequest { body, dropped_params, adjustments })
}

/// The public API's `:countTokens` body for `req`: `{"generateContentRequest": {"model":
/// "models/<m>", "contents", "systemInstruction"?, "tools"?}}`.
pub fn encode_count_request(
    req: &Request,
    upstream_model: &str,
    origin: &str,
) -> Result<Map<String, Value>, InvalidRequest> {
    let mut full = encode_upstream(req, upstream_model, origin, Protocol::Gemini)?.body;
    let mut inner = Map::new();
    let model = if upstream_model.starts_with("models/") {
        upstream_model.to_string()
    } else {
        format!("models/{upstream_model}")
    };
    inner.insert("model".into(), json!(model));
    for key in ["contents", "systemInstruction", "tools"] {
        if let Some(value) = full.remove(key) {
            inner.insert(key.into(), value);
        }
    }
    let mut body = Map::new();
    body.insert("generateContentRequest".into(), Value::Object(inner));
    Ok(body)
}

/// System text parts joined with a blank line; billing-header blocks left out (§4.1).
fn system_text(parts: &[Part]) -> Result<Option<String>, InvalidRequest> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { text, .. } if text.starts_with(BILLING_HEADER) || text.is_empty() => {}
            Part::Text { text, .. } => texts.push(text.as_str()),
            _ => return Err(InvalidRequest::at("system prompts can only hold text", "system")),
        }
    }
    Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
}

/// Gemini has one `systemInstruction` (§4.1): system messages before the first turn join it;
/// later ones become user text at their place, so the model still reads them in order.
fn place_system_messages<'a>(system: &'a [Part], messages: &'a [Message]) -> (Cow<'a, [Part]>, Cow<'a, [Message]>) {
    if !messages.iter().any(|m| m.role == Role::System) {
        return (Cow::Borrowed(system), Cow::Borrowed(messages));
    }
    let leading = messages.iter().take_while(|m| m.role == Role::System).count();
    let mut parts = system.to_vec();
    parts.extend(messages[..leading].iter().flat_map(|m| m.parts.iter().cloned()));
    let rest = messages[leading..]
        .iter()
        .map(|m| match m.role {
            Role::System => Message {
                role: Role::User,
                parts: m
                    .parts
                    .iter()
                    .filter(|p| !matches!(p, Part::Text { text, .. } if text.starts_with(BILLING_HEADER)))
                    .cloned()
                    .collect(),
            },
            _ => m.clone(),
        })
        .collect();
    (Cow::Owned(parts), Cow::Owned(rest))
}

/// Quirk `system_as_user` (§4.1, §12): the system text opens the first user message.
fn with_system_as_user(messages: &[Message], system: &str) -> Vec<Message> {
    let mut messages = messages.to_vec();
    let text = Part::Text { text: system.to_string(), cache_control: None };
    match messages.iter_mut().find(|m| m.role == Role::User) {
        Some(first) => first.parts.insert(0, text),
        None => messages.insert(0, Message { role: Role::User, parts: vec![text] }),
    }
    messages
}

/// One Gemini content being built.
struct Turn<'a> {
    model: bool,
    parts: Vec<Value>,
    /// User turns: tool results, in arrival order (placed first, in call order, at the end).
    results: Vec<&'a ToolResult>,
    /// Model turns: (id, wire name) of the calls.
    calls: Vec<(String, String)>,
}

fn turn<'t, 'a>(turns: &'t mut Vec<Turn<'a>>, model: bool) -> &'t mut Turn<'a> {
    if turns.last().is_none_or(|t| t.model != model) {
        turns.push(Turn { model, parts: Vec::new(), results: Vec::new(), calls: Vec::new() });
    }
    turns.last_mut().expect("a turn was just ensured")
}

/// §4.2: consecutive turns of one role merged, tool results opening the next user turn in call
/// order, pairing repaired, empty text removed, a user turn first; §4.8 signatures.
fn encode_contents(
    messages: &[Message],
    origin: &str,
    gemini3: bool,
    adjustments: &mut Vec<&'static str>,
) -> Result<Vec<Value>, InvalidRequest> {
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let model = message.role == Role::Assistant;
        // The signature of a carrier (empty reasoning) waits for the text part right after it.
        let mut pending: Option<&str> = None;
        for (j, part) in message.parts.iter().enumerate() {
            let path = || format!("messages[{i}].parts[{j}]");
            match part {
                Part::ToolResult(result) if !model => turn(&mut turns, false).results.push(result),
                Part::ToolResult(_) => {
                    return Err(InvalidRequest::at(
                        format!("tool results can only appear in user or tool messages ({})", path()),
                        path(),
                    ));
                }
                Part::ToolCall(_) if !model => {
                    return Err(InvalidRequest::at(
                        format!("tool calls can only appear in assistant messages ({})", path()),
                        path(),
                    ));
                }
                Part::ToolCall(call) => {
                    let name = wire_tool_name(&call.name).into_owned();
                    let mut function = Map::new();
                    if !call.id.is_empty() {
                        function.insert("id".into(), json!(call.id));
                    }
                    function.insert("name".into(), json!(name));
                    function.insert("args".into(), tool_input(&call.arguments));
                    let mut value = json!({"functionCall": function});
                    // A carrier right before the call (how Messages clients hold a Gemini call's
                    // signature: an empty thinking block) signs the call.
                    let carried = pending.take();
                    if let Some(signature) = own(&call.signature, origin).or(carried) {
                        value["thoughtSignature"] = json!(signature);
                    }
                    let turn = turn(&mut turns, true);
                    turn.parts.push(value);
                    turn.calls.push((call.id.clone(), name));
                }
                Part::Reasoning { text, signature, redacted: None } if model => {
                    let Some(signature) = own(signature, origin) else { continue };
                    let turn = turn(&mut turns, true);
                    if let Some(earlier) = pending.take() {
                        turn.parts.push(json!({"text": "", "thoughtSignature": earlier}));
                    }
                    if !text.is_empty() {
                        turn.parts.push(json!({"text": text, "thought": true, "thoughtSignature": signature}));
                    } else if message.parts.get(j + 1).is_some_and(|next| is_text(next) || is_call(next)) {
                        pending = Some(signature);
                    } else {
                        turn.parts.push(json!({"text": "", "thoughtSignature": signature}));
                    }
                }
                // Foreign, unsigned and redacted reasoning: this upstream cannot verify it and
                // thought text need not be replayed (§4.8, §10).
                Part::Reasoning { .. } => {}
                Part::Text { text, .. } | Part::Refusal(text) => {
                    if text.is_empty() {
                        continue;
                    }
                    let mut value = json!({"text": text});
                    if model && let Some(signature) = pending.take() {
                        value["thoughtSignature"] = json!(signature);
                    }
                    turn(&mut turns, model).parts.push(value);
                }
                Part::Image(source) => turn(&mut turns, model).parts.push(image_part(source)),
                Part::Document { source, title } => {
                    if let Some(value) = document_part(source, title.as_deref()) {
                        turn(&mut turns, model).parts.push(value);
                    }
                }
            }
        }
    }
    if repair_pairing(&mut turns) {
        adjustments.push("tool_pairing_repaired");
    }
    if gemini3 {
        for turn in turns.iter_mut().filter(|t| t.model) {
            if let Some(Value::Object(first)) = turn.parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
                first.entry("thoughtSignature").or_insert_with(|| json!(SKIP_SIGNATURE));
            }
        }
    }
    let mut contents: Vec<Value> =
        turns.into_iter().map(|t| json!({"role": if t.model { "model" } else { "user" }, "parts": t.parts})).collect();
    if contents.first().is_none_or(|c| c["role"] != "user") {
        contents.insert(0, json!({"role": "user", "parts": [{"text": LEADING_USER_TEXT}]}));
        adjustments.push("leading_user_turn_added");
    }
    Ok(contents)
}

/// The signature value when it was issued by `origin` (§10).
fn own<'s>(signature: &'s Option<Signature>, origin: &str) -> Option<&'s str> {
    signature.as_ref().filter(|s| s.origin == origin && !s.value.is_empty()).map(|s| s.value.as_str())
}

fn is_call(part: &Part) -> bool {
    matches!(part, Part::ToolCall(_))
}

fn is_text(part: &Part) -> bool {
    matches!(part, Part::Text { text, .. } | Part::Refusal(text) if !text.is_empty())
}

/// Puts each user turn's tool results first, as `functionResponse` parts in the order of the calls
/// of the model turn before it (images of the results after them), adds an error response for a
/// call without a result, and turns a result answering no such call into user text. Whether
/// anything was changed.
fn repair_pairing(turns: &mut [Turn<'_>]) -> bool {
    let mut repaired = false;
    for k in 0..turns.len() {
        if turns[k].model {
            continue;
        }
        let calls = match k.checked_sub(1).map(|p| &turns[p]) {
            Some(previous) => previous.calls.clone(),
            None => Vec::new(),
        };
        let turn = &mut turns[k];
        let mut by_call: Vec<Option<&ToolResult>> = vec![None; calls.len()];
        let mut orphans = Vec::new();
        for result in std::mem::take(&mut turn.results) {
            match calls.iter().position(|(id, _)| *id == result.call_id) {
                Some(n) if by_call[n].is_none() => by_call[n] = Some(result),
                _ => orphans.push(result),
            }
        }
        let mut head = Vec::with_capacity(calls.len());
        let mut images = Vec::new();
        for ((id, name), result) in calls.iter().zip(by_call) {
            match result {
                Some(result) => {
                    head.push(function_response(id, name, result_value(result), result.is_error));
                    images.extend(result.content.iter().filter_map(|p| match p {
                        Part::Image(source) => Some(image_part(source)),
                        _ => None,
                    }));
                }
                None => {
                    repaired = true;
                    head.push(function_response(id, name, json!(MISSING_RESULT_TEXT), true));
                }
            }
        }
        repaired |= !orphans.is_empty();
        let orphan_text =
            orphans.iter().map(|r| json!({"text": format!("Tool result ({}): {}", r.call_id, joined(r))}));
        let rest = std::mem::take(&mut turn.parts);
        turn.parts = head.into_iter().chain(images).chain(orphan_text).chain(rest).collect();
    }
    repaired
}

fn function_response(id: &str, name: &str, value: Value, is_error: bool) -> Value {
    let mut response = Map::new();
    if !id.is_empty() {
        response.insert("id".into(), json!(id));
    }
    response.insert("name".into(), json!(name));
    response.insert("response".into(), json!({ if is_error { "error" } else { "result" }: value }));
    json!({"functionResponse": response})
}

/// The text parts of a result joined with `"\n"` (§4.7).
fn joined(result: &ToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } | Part::Refusal(text) => Some(text.as_str()),
            Part::Document { source: DocumentSource::PlainText(text), .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

/// The parsed JSON when the whole text is JSON, else the text (§4.7).
fn result_value(result: &ToolResult) -> Value {
    let text = joined(result);
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn image_part(source: &ImageSource) -> Value {
    match source {
        ImageSource::Base64 { media_type, data } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
        ImageSource::Url(url) | ImageSource::FileRef(url) => file_data(url, mime_from_extension(url)),
    }
}

/// A PDF (or other document) inline or by URI; plain text as a text part (`<title>\n<text>`).
fn document_part(source: &DocumentSource, title: Option<&str>) -> Option<Value> {
    match source {
        DocumentSource::Base64 { media_type, data } => {
            Some(json!({"inlineData": {"mimeType": media_type, "data": data}}))
        }
        DocumentSource::Url(url) => Some(file_data(url, mime_from_extension(url).or(Some("application/pdf")))),
        DocumentSource::PlainText(text) => {
            let text = match title {
                Some(title) if !title.is_empty() => format!("{title}\n{text}"),
                _ => text.clone(),
            };
            (!text.is_empty()).then(|| json!({"text": text}))
        }
    }
}

fn file_data(uri: &str, mime_type: Option<&str>) -> Value {
    let mut data = Map::new();
    if let Some(mime_type) = mime_type {
        data.insert("mimeType".into(), json!(mime_type));
    }
    data.insert("fileUri".into(), json!(uri));
    json!({"fileData": data})
}

/// The media type a URI's file extension names, for `fileData` (remote media the proxy did not
/// fetch, §4.3).
fn mime_from_extension(uri: &str) -> Option<&'static str> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    let (_, extension) = name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "xml" => "text/xml",
        "json" => "application/json",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "aac" => "audio/aac",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "webm" => "video/webm",
        _ => return None,
    })
}

/// `tools`: function declarations in one tool, then `googleSearch` for web search server tools,
/// then Gemini-native tools a Gemini client declared. Whether any function was declared.
fn encode_tools(tools: &[Tool], protocol: Protocol, dropped: &mut Vec<&'static str>) -> (Vec<Value>, bool) {
    let mut declarations = Vec::new();
    let mut google_search = false;
    let mut native = Vec::new();
    for tool in tools {
        match tool {
            Tool::Function { name, description, parameters, .. } => {
                let mut declaration = Map::new();
                declaration.insert("name".into(), json!(wire_tool_name(name)));
                if let Some(description) = description {
                    declaration.insert("description".into(), json!(description));
                }
                let parameters = match parameters {
                    Value::Object(_) => parameters.clone(),
                    _ => json!({"type": "object", "properties": {}}),
                };
                match protocol {
                    // The public Gemini API takes JSON schemas as they are.
                    Protocol::Gemini => {
                        declaration.insert("parametersJsonSchema".into(), parameters);
                    }
                    // The Code Assist envelope's inner request takes the OpenAPI subset.
                    _ => {
                        let cleaned = clean_schema(&parameters);
                        // An object without properties is refused ("should be non-empty for
                        // OBJECT type"); a function without parameters has none.
                        if !is_empty_object_schema(&cleaned) {
                            declaration.insert("parameters".into(), cleaned);
                        }
                    }
                }
                declarations.push(Value::Object(declaration));
            }
            Tool::Server { kind, .. } if kind.starts_with("web_search") => google_search = true,
            Tool::Server { raw, .. }
                if raw.len() == 1 && raw.keys().all(|k| GEMINI_SERVER_TOOLS.contains(&k.as_str())) =>
            {
                if raw.contains_key("googleSearch") {
                    google_search = true;
                } else if !native.contains(raw) {
                    native.push(raw.clone());
                }
            }
            Tool::Server { .. } => {
                if !dropped.contains(&"tools") {
                    dropped.push("tools");
                }
            }
        }
    }
    let has_functions = !declarations.is_empty();
    let mut out = Vec::new();
    if has_functions {
        out.push(json!({"functionDeclarations": declarations}));
    }
    if google_search {
        out.push(json!({"googleSearch": {}}));
    }
    out.extend(native.into_iter().map(Value::Object));
    (out, has_functions)
}

fn is_empty_object_schema(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else { return true };
    map.get("type").is_none_or(|t| t == "object")
        && map.get("properties").is_none_or(|p| p.as_object().is_some_and(Map::is_empty))
        && !map.contains_key("anyOf")
}

/// §4.5.
fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Specific(name) => json!({"mode": "ANY", "allowedFunctionNames": [wire_tool_name(name)]}),
    }
}

/// `generationConfig` (§4.9–§4.11); empty when the request sets nothing.
fn generation_config(
    req: &Request,
    upstream_model: &str,
    protocol: Protocol,
    dropped: &mut Vec<&'static str>,
) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(temperature) = req.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = req.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if let Some(top_k) = req.top_k {
        config.insert("topK".into(), json!(top_k));
    }
    if let Some(max) = req.max_output_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if !req.stop.is_empty() {
        if req.stop.len() > MAX_STOP_SEQUENCES {
            dropped.push("stop");
        }
        let stop: Vec<&String> = req.stop.iter().take(MAX_STOP_SEQUENCES).collect();
        config.insert("stopSequences".into(), json!(stop));
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            match protocol {
                Protocol::Gemini => config.insert("responseJsonSchema".into(), schema.clone()),
                _ => config.insert("responseSchema".into(), clean_schema(schema)),
            };
        }
        None => {}
    }
    if let Some(reasoning) = &req.reasoning {
        match thinking_config(reasoning, thinking_of(upstream_model)) {
            Some(thinking) => {
                config.insert("thinkingConfig".into(), thinking);
            }
            None if requested(reasoning) => dropped.push("reasoning"),
            None => {}
        }
    }
    config
}

/// Whether the client asked for thinking (any effort but `none`, a budget above 0).
fn requested(reasoning: &Reasoning) -> bool {
    match reasoning {
        Reasoning::Effort(effort) => effort != "none",
        Reasoning::BudgetTokens(budget) => *budget > 0,
        Reasoning::Disabled => false,
    }
}

/// §4.11, Gemini columns; `None` for models that do not think.
fn thinking_config(reasoning: &Reasoning, thinking: Thinking) -> Option<Value> {
    let off = match reasoning {
        Reasoning::Disabled | Reasoning::BudgetTokens(0) => true,
        Reasoning::Effort(effort) => effort == "none",
        Reasoning::BudgetTokens(_) => false,
    };
    let mut config = Map::new();
    match thinking {
        Thinking::None => return None,
        Thinking::Levels(levels) => {
            let level = match reasoning {
                _ if off => levels[0],
                Reasoning::Effort(effort) => level_at_least(levels, effort),
                Reasoning::BudgetTokens(budget) => level_at_least(levels, budget_effort(*budget)),
                Reasoning::Disabled => levels[0],
            };
            config.insert("thinkingLevel".into(), json!(level.to_ascii_uppercase()));
        }
        Thinking::Budget { min, max, zero } => {
            let budget = match reasoning {
                _ if off => {
                    if zero {
                        0
                    } else {
                        min
                    }
                }
                Reasoning::Effort(effort) => effort_budget(effort).clamp(min, max),
                Reasoning::BudgetTokens(budget) => (*budget).clamp(min, max),
                Reasoning::Disabled => min,
            };
            config.insert("thinkingBudget".into(), json!(budget));
        }
    }
    if requested(reasoning) {
        config.insert("includeThoughts".into(), json!(true));
    }
    Some(Value::Object(config))
}

/// The accepted level equal to `effort`, else the next one up, else the highest (§4.11).
fn level_at_least(levels: &[&'static str], effort: &str) -> &'static str {
    let rank = |e: &str| EFFORT_ORDER.iter().position(|o| *o == e).unwrap_or(3);
    let wanted = rank(effort);
    levels.iter().copied().find(|l| rank(l) >= wanted).unwrap_or_else(|| levels[levels.len() - 1])
}

/// §4.11: the effort a budget stands for.
fn budget_effort(budget: u64) -> &'static str {
    match budget {
        0..=8192 => "low",
        8193..=16384 => "medium",
        _ => "high",
    }
}

/// §4.11: the budget an effort stands for (unknown efforts as `high`).
fn effort_budget(effort: &str) -> u64 {
    match effort {
        "minimal" => 1024,
        "low" => 4096,
        "medium" => 16384,
        "xhigh" | "max" => 65536,
        _ => 32768,
    }
}

// ---------------------------------------------------------------------------------------------
// Client requests → canonical.

/// Gemini `generationConfig` fields the canonical model has no place for (§4.9).
const UNCARRIED_CONFIG: [&str; 5] = ["seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs"];

/// A Gemini client's `GenerateContentRequest` (camelCase or snake_case field names, §5.7 of the
/// HTTP API) in canonical form, for `model` (from the URL). `safetySettings` and `cachedContent`
/// have no canonical form and are ignored ([`dropped_client_params`] names them).
pub fn decode_client_request(body: &Map<String, Value>, model: &str, stream: bool) -> Result<Request, InvalidRequest> {
    decode_generate(body, "", model, stream, false)
}

/// A `:countTokens` body, `{"contents": […]}` or `{"generateContentRequest": {…}}` (the latter
/// wins when both are present), in canonical form.
pub fn decode_client_count_request(body: &Map<String, Value>, model: &str) -> Result<Request, InvalidRequest> {
    match field(body, "generateContentRequest") {
        Some((key, Value::Object(inner))) => decode_generate(inner, key, model, false, true),
        Some((key, _)) => Err(InvalidRequest::wrong_type(key.to_string(), "an object")),
        None if field(body, "contents").is_none() => Err(InvalidRequest::missing("contents".into())),
        None => decode_generate(body, "", model, false, true),
    }
}

/// The request fields present in `body` that [`decode_client_request`] accepts but cannot carry,
/// for `x-llmkp-dropped-params`.
pub fn dropped_client_params(body: &Map<String, Value>) -> Vec<&'static str> {
    let mut dropped: Vec<&'static str> =
        ["safetySettings", "cachedContent"].into_iter().filter(|k| field(body, k).is_some()).collect();
    if let Some((_, Value::Object(config))) = field(body, "generationConfig") {
        dropped.extend(UNCARRIED_CONFIG.into_iter().filter(|k| field(config, k).is_some()));
    }
    dropped
}

fn decode_generate(
    body: &Map<String, Value>,
    prefix: &str,
    model: &str,
    stream: bool,
    count: bool,
) -> Result<Request, InvalidRequest> {
    let mut decoder = Decoder::default();
    match field(body, "contents") {
        Some((key, Value::Array(items))) => {
            let path = join(prefix, key);
            if items.is_empty() && !count {
                return Err(InvalidRequest::at(format!("'{path}' must not be empty"), path));
            }
            for (i, item) in items.iter().enumerate() {
                decoder.content(item, &format!("{path}[{i}]"))?;
            }
        }
        Some((key, _)) => return Err(InvalidRequest::wrong_type(join(prefix, key), "an array of contents")),
        None if count => {}
        None => return Err(InvalidRequest::missing(join(prefix, "contents"))),
    }
    let system = match field(body, "systemInstruction") {
        Some((key, value)) => decode_system(value, &join(prefix, key))?,
        None => Vec::new(),
    };
    let tools = match field(body, "tools") {
        Some((key, value)) => decode_tools(value, &join(prefix, key))?,
        None => Vec::new(),
    };
    let tool_choice = match field(body, "toolConfig") {
        Some((key, value)) => decode_tool_config(value, &join(prefix, key))?,
        None => None,
    };
    let mut request = Request {
        model: model.to_string(),
        system,
        messages: decoder.messages,
        tools,
        tool_choice,
        stream,
        ..Request::default()
    };
    if let Some((key, value)) = field(body, "generationConfig") {
        decode_generation_config(value, &join(prefix, key), &mut request)?;
    }
    Ok(request)
}

/// The conversation being decoded, with calls waiting for their responses.
#[derive(Default)]
struct Decoder {
    messages: Vec<Message>,
    /// (id, name) of calls not yet answered, oldest first: responses without an id are paired by
    /// position among calls of the same name (§4.6).
    pending: Vec<(String, String)>,
}

impl Decoder {
    fn content(&mut self, item: &Value, path: &str) -> Result<(), InvalidRequest> {
        let content = as_object(item, path)?;
        let model = match opt_str(content, "role", path)? {
            None | Some("user" | "" | "function" | "tool") => false,
            Some("model") => true,
            Some(other) => {
                return Err(InvalidRequest::at(
                    format!("'{path}.role' must be \"user\" or \"model\", got \"{other}\""),
                    format!("{path}.role"),
                ));
            }
        };
        let (key, parts) = match field(content, "parts") {
            Some((key, Value::Array(parts))) => (key, parts),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an array of parts")),
            None => return Err(InvalidRequest::missing(join(path, "parts"))),
        };
        let mut out = Vec::with_capacity(parts.len());
        let mut results = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let path = format!("{path}.{key}[{j}]");
            let part = as_object(part, &path)?;
            if model {
                self.model_part(part, &path, &mut out)?;
            } else if let Some(result) = self.user_part(part, &path, &mut out)? {
                results.push(Part::ToolResult(result));
            }
        }
        if model {
            self.messages.push(Message { role: Role::Assistant, parts: out });
        } else if results.is_empty() {
            self.messages.push(Message { role: Role::User, parts: out });
        } else {
            self.messages.push(Message { role: Role::Tool, parts: results });
            if !out.is_empty() {
                self.messages.push(Message { role: Role::User, parts: out });
            }
        }
        Ok(())
    }

    fn model_part(&mut self, part: &Map<String, Value>, path: &str, out: &mut Vec<Part>) -> Result<(), InvalidRequest> {
        let signature = opt_str(part, "thoughtSignature", path)?
            .filter(|s| !s.is_empty())
            .map(|s| signature_from_client(s, ORIGIN));
        let thought = opt_bool(part, "thought", path)?.unwrap_or(false);
        if let Some((key, value)) = field(part, "functionCall") {
            let path = join(path, key);
            let call = as_object(value, &path)?;
            let name = req_str(call, "name", &path)?.to_string();
            let id = match opt_str(call, "id", &path)? {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => synthetic_call_id(&format!("{path}:{name}")),
            };
            let arguments = match field(call, "args") {
                None => "{}".to_string(),
                Some((_, args @ Value::Object(_))) => args.to_string(),
                Some((key, _)) => return Err(InvalidRequest::wrong_type(join(&path, key), "an object")),
            };
            self.pending.push((id.clone(), name.clone()));
            out.push(Part::ToolCall(ToolCall { id, name, arguments, signature }));
            return Ok(());
        }
        if let Some((key, value)) = field(part, "text") {
            let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(path, key), "a string"))?;
            if thought {
                out.push(Part::Reasoning { text: text.to_string(), signature, redacted: None });
                return Ok(());
            }
            if let Some(signature) = signature {
                out.push(Part::Reasoning { text: String::new(), signature: Some(signature), redacted: None });
            }
            if !text.is_empty() {
                out.push(Part::Text { text: text.to_string(), cache_control: None });
            }
            return Ok(());
        }
        if field(part, "functionResponse").is_some() {
            return Err(InvalidRequest::at(
                format!("functionResponse parts belong in user turns ({path})"),
                path.to_string(),
            ));
        }
        let media = media(part, path)?;
        if let Some(signature) = signature {
            out.push(Part::Reasoning { text: String::new(), signature: Some(signature), redacted: None });
        }
        out.extend(media);
        Ok(())
    }

    /// A user part; a `functionResponse` is returned as a result instead of added to `out`.
    fn user_part(
        &mut self,
        part: &Map<String, Value>,
        path: &str,
        out: &mut Vec<Part>,
    ) -> Result<Option<ToolResult>, InvalidRequest> {
        if let Some((key, value)) = field(part, "functionResponse") {
            return self.function_response(value, &join(path, key)).map(Some);
        }
        if let Some((key, value)) = field(part, "text") {
            let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(path, key), "a string"))?;
            out.push(Part::Text { text: text.to_string(), cache_control: None });
            return Ok(None);
        }
        if field(part, "functionCall").is_some() {
            return Err(InvalidRequest::at(
                format!("functionCall parts belong in model turns ({path})"),
                path.to_string(),
            ));
        }
        out.extend(media(part, path)?);
        Ok(None)
    }

    fn function_response(&mut self, value: &Value, path: &str) -> Result<ToolResult, InvalidRequest> {
        let response = as_object(value, path)?;
        let name = req_str(response, "name", path)?;
        let call_id = match opt_str(response, "id", path)?.filter(|id| !id.is_empty()) {
            Some(id) => {
                if let Some(n) = self.pending.iter().position(|(pending, _)| pending == id) {
                    self.pending.remove(n);
                }
                id.to_string()
            }
            None => match self.pending.iter().position(|(_, pending)| pending == name) {
                Some(n) => self.pending.remove(n).0,
                None => synthetic_call_id(&format!("{path}:{name}")),
            },
        };
        let (mut content, is_error) = match field(response, "response") {
            None => (Vec::new(), false),
            Some((_, Value::Object(payload))) => response_content(payload),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        };
        // Multimodal function responses (Gemini 3): images after the text.
        if let Some((key, value)) = field(response, "parts") {
            let parts_path = join(path, key);
            let Value::Array(parts) = value else {
                return Err(InvalidRequest::wrong_type(parts_path, "an array of parts"));
            };
            for (k, part) in parts.iter().enumerate() {
                let path = format!("{parts_path}[{k}]");
                for part in media(as_object(part, &path)?, &path)? {
                    match part {
                        Part::Image(_) => content.push(part),
                        _ => {
                            return Err(InvalidRequest::at(
                                format!("only images can be returned inside a function response ({path})"),
                                path,
                            ));
                        }
                    }
                }
            }
        }
        Ok(ToolResult { call_id, content, is_error })
    }
}

/// `response` of a `functionResponse`: `{"result"|"output": X}` is X, `{"error": X}` an error
/// with X; any other object is the result as a whole (§4.7).
fn response_content(payload: &Map<String, Value>) -> (Vec<Part>, bool) {
    let text = |value: &Value| match value {
        Value::Null => Vec::new(),
        Value::String(text) if text.is_empty() => Vec::new(),
        Value::String(text) => vec![Part::Text { text: text.clone(), cache_control: None }],
        other => vec![Part::Text { text: other.to_string(), cache_control: None }],
    };
    match payload.iter().next() {
        Some((key, value)) if payload.len() == 1 && (key == "result" || key == "output") => (text(value), false),
        Some((key, value)) if payload.len() == 1 && key == "error" => (text(value), true),
        _ => {
            let is_error = payload.get("error").is_some_and(|e| !e.is_null());
            (text(&Value::Object(payload.clone())), is_error)
        }
    }
}

/// `inlineData` or `fileData`; anything else a part cannot hold in translation is refused.
fn media(part: &Map<String, Value>, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    if let Some((key, value)) = field(part, "inlineData") {
        let path = join(path, key);
        let blob = as_object(value, &path)?;
        let media_type = req_str(blob, "mimeType", &path)?.to_string();
        let data = req_str(blob, "data", &path)?.to_string();
        return Ok(vec![if media_type.to_ascii_lowercase().starts_with("image/") {
            Part::Image(ImageSource::Base64 { media_type, data })
        } else {
            // PDFs, text, and (for Gemini targets, which take them back as `inlineData`) audio
            // and video.
            Part::Document { source: DocumentSource::Base64 { media_type, data }, title: None }
        }]);
    }
    if let Some((key, value)) = field(part, "fileData") {
        let path = join(path, key);
        let file = as_object(value, &path)?;
        let uri = req_str(file, "fileUri", &path)?.to_string();
        let media_type = opt_str(file, "mimeType", &path)?.map(str::to_string);
        let media_type = media_type.or_else(|| mime_from_extension(&uri).map(str::to_string));
        let is_image = media_type.as_deref().is_none_or(|m| m.to_ascii_lowercase().starts_with("image/"));
        let remote = uri.starts_with("http://") || uri.starts_with("https://");
        return Ok(vec![match (is_image, remote) {
            (true, true) => Part::Image(ImageSource::Url(uri)),
            (true, false) => Part::Image(ImageSource::FileRef(uri)),
            (false, _) => Part::Document { source: DocumentSource::Url(uri), title: None },
        }]);
    }
    if part.is_empty()
        || part.keys().all(|k| matches!(k.as_str(), "thought" | "thoughtSignature" | "thought_signature"))
    {
        // A signature alone (the model side has taken it already) or an empty part.
        return Ok(Vec::new());
    }
    let kind = part.keys().find(|k| !matches!(k.as_str(), "thought" | "thoughtSignature" | "thought_signature"));
    Err(InvalidRequest::at(
        format!(
            "unsupported part '{}' at {path} (text, inlineData, fileData, functionCall and functionResponse can be \
             translated)",
            kind.map(String::as_str).unwrap_or_default()
        ),
        path.to_string(),
    ))
}

/// `systemInstruction`: a content whose parts are text (a plain string is taken too).
fn decode_system(value: &Value, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    let parts = match value {
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![Part::Text { text: text.clone(), cache_control: None }]),
        Value::Object(content) => match field(content, "parts") {
            Some((key, Value::Array(parts))) => (join(path, key), parts),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an array of parts")),
            None => return Ok(Vec::new()),
        },
        _ => return Err(InvalidRequest::wrong_type(path.to_string(), "a content object")),
    };
    let (parts_path, parts) = parts;
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let path = format!("{parts_path}[{i}]");
        let part = as_object(part, &path)?;
        let Some((key, value)) = field(part, "text") else {
            return Err(InvalidRequest::at(format!("system instructions can only hold text ({path})"), path));
        };
        let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(&path, key), "a string"))?;
        if !text.is_empty() {
            out.push(Part::Text { text: text.to_string(), cache_control: None });
        }
    }
    Ok(out)
}

/// `tools`: function declarations, `googleSearch` (as a web search server tool), and other
/// Gemini tools kept as server tools under their own name.
fn decode_tools(value: &Value, path: &str) -> Result<Vec<Tool>, InvalidRequest> {
    let Value::Array(items) = value else { return Err(InvalidRequest::wrong_type(path.to_string(), "an array")) };
    let mut tools = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let tool = as_object(item, &path)?;
        for (key, value) in tool {
            if value.is_null() {
                continue;
            }
            let name = camel_case(key);
            match name.as_str() {
                "functionDeclarations" => {
                    let path = join(&path, key);
                    let Value::Array(declarations) = value else {
                        return Err(InvalidRequest::wrong_type(path, "an array"));
                    };
                    for (j, declaration) in declarations.iter().enumerate() {
                        tools.push(function_declaration(declaration, &format!("{path}[{j}]"))?);
                    }
                }
                "googleSearch" => {
                    let mut raw = Map::new();
                    raw.insert("type".into(), json!("web_search_20250305"));
                    raw.insert("name".into(), json!("web_search"));
                    tools.push(Tool::Server { kind: "web_search_20250305".into(), raw });
                }
                _ => {
                    let mut raw = Map::new();
                    raw.insert(name.clone(), value.clone());
                    tools.push(Tool::Server { kind: name, raw });
                }
            }
        }
    }
    Ok(tools)
}

/// `{name, description?, parametersJsonSchema | parameters}`; a Gemini-style `parameters` schema
/// is read as JSON Schema; none is an empty object schema (§4.4).
fn function_declaration(value: &Value, path: &str) -> Result<Tool, InvalidRequest> {
    let declaration = as_object(value, path)?;
    let parameters = match (field(declaration, "parametersJsonSchema"), field(declaration, "parameters")) {
        (Some((_, schema @ Value::Object(_))), _) => schema.clone(),
        (Some((key, _)), _) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, Some((_, schema @ Value::Object(_)))) => openapi_to_json_schema(schema),
        (None, Some((key, _))) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, None) => json!({"type": "object", "properties": {}}),
    };
    Ok(Tool::Function {
        name: req_str(declaration, "name", path)?.to_string(),
        description: opt_str(declaration, "description", path)?.map(str::to_string),
        parameters,
        strict: None,
        cache_control: None,
    })
}

/// `toolConfig.functionCallingConfig` (§4.5); unknown modes are a 400.
fn decode_tool_config(value: &Value, path: &str) -> Result<Option<ToolChoice>, InvalidRequest> {
    let config = as_object(value, path)?;
    let Some((key, value)) = field(config, "functionCallingConfig") else { return Ok(None) };
    let path = join(path, key);
    let calling = as_object(value, &path)?;
    let names: Vec<String> = match field(calling, "allowedFunctionNames") {
        None => Vec::new(),
        Some((key, Value::Array(names))) => names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| InvalidRequest::wrong_type(format!("{}[{i}]", join(&path, key)), "a string"))
            })
            .collect::<Result<_, _>>()?,
        Some((key, _)) => return Err(InvalidRequest::wrong_type(join(&path, key), "an array of strings")),
    };
    let mode = opt_str(calling, "mode", &path)?.map(str::to_ascii_uppercase);
    Ok(match mode.as_deref() {
        None | Some("MODE_UNSPECIFIED") => None,
        Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
        Some("NONE") => Some(ToolChoice::None),
        Some("ANY") => match names.as_slice() {
            [only] => Some(ToolChoice::Specific(only.clone())),
            _ => Some(ToolChoice::Required),
        },
        Some(other) => {
            return Err(InvalidRequest::at(
                format!("unknown function calling mode '{other}' (expected AUTO, ANY, NONE or VALIDATED)"),
                join(&path, "mode"),
            ));
        }
    })
}

fn decode_generation_config(value: &Value, path: &str, request: &mut Request) -> Result<(), InvalidRequest> {
    let config = as_object(value, path)?;
    request.temperature = opt_f64(config, "temperature", path)?;
    request.top_p = opt_f64(config, "topP", path)?;
    request.top_k = opt_count(config, "topK", path)?;
    request.max_output_tokens = opt_count(config, "maxOutputTokens", path)?;
    if let Some((key, value)) = field(config, "stopSequences") {
        let path = join(path, key);
        let Value::Array(items) = value else { return Err(InvalidRequest::wrong_type(path, "an array of strings")) };
        request.stop = items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| InvalidRequest::wrong_type(format!("{path}[{i}]"), "a string"))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = opt_count(config, "candidateCount", path)?
        && n > 1
    {
        return Err(InvalidRequest::at(
            format!("candidateCount = {n} cannot be served: this model's upstream returns one candidate per request"),
            join(path, "candidateCount"),
        ));
    }
    if let Some((key, Value::Array(modalities))) = field(config, "responseModalities")
        && modalities.iter().any(|m| m.as_str().is_none_or(|m| !m.eq_ignore_ascii_case("text")))
    {
        return Err(InvalidRequest::at(
            "only text output can be produced by this model's upstream (responseModalities must be [\"TEXT\"])",
            join(path, key),
        ));
    }
    request.response_format = decode_response_format(config, path)?;
    if let Some((key, value)) = field(config, "thinkingConfig") {
        request.reasoning = decode_thinking(value, &join(path, key))?;
    }
    Ok(())
}

/// `responseMimeType` with `responseJsonSchema` / `responseSchema` (§4.10).
fn decode_response_format(config: &Map<String, Value>, path: &str) -> Result<Option<ResponseFormat>, InvalidRequest> {
    let schema = match (field(config, "responseJsonSchema"), field(config, "responseSchema")) {
        (Some((_, schema)), _) => Some(schema.clone()),
        (None, Some((_, schema @ Value::Object(_)))) => Some(openapi_to_json_schema(schema)),
        (None, Some((key, _))) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, None) => None,
    };
    let mime = opt_str(config, "responseMimeType", path)?.map(str::to_ascii_lowercase);
    Ok(match (mime.as_deref(), schema) {
        (None | Some("application/json"), Some(schema)) => {
            Some(ResponseFormat::JsonSchema { name: None, schema, strict: None })
        }
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (None | Some("text/plain"), None) => None,
        (Some(other), _) => {
            return Err(InvalidRequest::at(
                format!("responseMimeType '{other}' cannot be translated (application/json or text/plain can)"),
                join(path, "responseMimeType"),
            ));
        }
    })
}

/// `thinkingConfig` (§4.11): budget 0 disables, -1 leaves the choice to the model, a level is an
/// effort (read case-insensitively); a level wins over a budget.
fn decode_thinking(value: &Value, path: &str) -> Result<Option<Reasoning>, InvalidRequest> {
    let config = as_object(value, path)?;
    if let Some(level) = opt_str(config, "thinkingLevel", path)? {
        let level = level.to_ascii_lowercase();
        return match level.as_str() {
            "thinking_level_unspecified" => Ok(None),
            "minimal" | "low" | "medium" | "high" => Ok(Some(Reasoning::Effort(level))),
            _ => Err(InvalidRequest::at(
                format!("unknown thinkingLevel '{level}' (expected minimal, low, medium or high)"),
                join(path, "thinkingLevel"),
            )),
        };
    }
    let Some((key, budget)) = field(config, "thinkingBudget") else { return Ok(None) };
    match budget.as_i64() {
        Some(0) => Ok(Some(Reasoning::Disabled)),
        Some(-1) => Ok(None),
        Some(b) if b > 0 => Ok(Some(Reasoning::BudgetTokens(b as u64))),
        _ => Err(InvalidRequest::wrong_type(join(path, key), "an integer of at least -1")),
    }
}

/// Lowers a client body's `generationConfig.maxOutputTokens` (either spelling) to `limit`.
pub fn set_max_output_tokens(body: &mut Map<String, Value>, limit: u64) {
    for config_key in ["generationConfig", "generation_config"] {
        if let Some(Value::Object(config)) = body.get_mut(config_key) {
            for key in ["maxOutputTokens", "max_output_tokens"] {
                if let Some(value) = config.get_mut(key).filter(|v| !v.is_null()) {
                    *value = json!(limit);
                }
            }
        }
    }
}

// Field readers: each name is looked up as written (camelCase) and in snake_case
// ([`find`]); failures name the field by its path with the spelling the client used.

fn field<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<(&'a str, &'a Value)> {
    find(obj, camel)
}

fn req_str<'a>(obj: &'a Map<String, Value>, camel: &str, prefix: &str) -> Result<&'a str, InvalidRequest> {
    match field(obj, camel) {
        Some((key, value)) => as_str(value, &join(prefix, key)),
        None => Err(InvalidRequest::missing(join(prefix, &spelling(obj, prefix, camel)))),
    }
}

/// The name of a missing field as the client would have written it: snake_case when the object
/// or its own name is spelled that way.
fn spelling(obj: &Map<String, Value>, prefix: &str, camel: &str) -> String {
    let own_name = prefix.rsplit('.').next().unwrap_or_default();
    if own_name.contains('_') || obj.keys().any(|k| k.contains('_')) { snake_case(camel) } else { camel.to_string() }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<&'a str>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_str(value, &join(prefix, key))).transpose()
}

fn opt_bool(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<bool>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_bool(value, &join(prefix, key))).transpose()
}

fn opt_f64(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<f64>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_f64(value, &join(prefix, key))).transpose()
}

fn opt_count(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<u64>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_count(value, &join(prefix, key))).transpose()
}

#[cfg(test)]
mod tests;
