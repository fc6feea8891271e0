//! Canonical model ↔ OpenAI Chat Completions for Chat upstreams (translation specification §4–§7):
//! canonical requests become Chat request bodies, `chat.completion` bodies become canonical
//! responses. Streams are decoded by [`super::stream_decoder::ChatStreamDecoder`].

mod response;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice,
};

pub(super) use response::{arguments_text, reasoning_text};
pub use response::{decode_response, decode_usage, stop_reason};

pub use crate::formats::InvalidRequest;

/// System text blocks with this prefix change on every request and defeat prompt caching (§4.1).
const BILLING_HEADER: &str = "x-anthropic-billing-header:";

/// The Chat request body for `req`, sent to `upstream_model` of `provider`. With `stream`, usage
/// reporting is requested (`stream_options.include_usage`). Parameters Chat cannot take are left
/// out; [`dropped_params`] names them for `x-llmkp-dropped-params`.
/// `openai_platform`: the upstream is OpenAI's own API (`max_completion_tokens`, every
/// reasoning effort); other Chat servers get the older forms.
pub fn encode_request(
    req: &Request,
    upstream_model: &str,
    openai_platform: bool,
    stream: bool,
) -> Result<Map<String, Value>, InvalidRequest> {
    let openai = openai_platform;
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = encode_system(&req.system)? {
        messages.push(system);
    }
    encode_messages(&req.messages, openai, &mut messages)?;
    body.insert("messages".into(), Value::Array(messages));
    // `tool_choice` and `parallel_tool_calls` without tools are refused by OpenAI and mean nothing.
    if !req.tools.is_empty() {
        let tools = req.tools.iter().enumerate().map(|(i, tool)| encode_tool(tool, i)).collect::<Result<_, _>>()?;
        insert_tools(&mut body, tools, req, encode_tool_choice);
    }
    if let Some(max) = req.max_output_tokens {
        // OpenAI's reasoning models refuse the deprecated `max_tokens`; other Chat servers know
        // only `max_tokens`.
        let key = if openai { "max_completion_tokens" } else { "max_tokens" };
        body.insert(key.into(), json!(max));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = req.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if let Some(effort) = req.reasoning.as_ref().and_then(|r| reasoning_effort(r, openai)) {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(format) = &req.response_format {
        body.insert("response_format".into(), encode_response_format(format));
    }
    if let Some(user) = &req.user {
        body.insert("user".into(), json!(user));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(body)
}

/// Chat's `response_format` (§4.10); a schema without a name is called `response`.
fn encode_response_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let mut spec = Map::new();
            spec.insert("name".into(), json!(name.as_deref().unwrap_or("response")));
            spec.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                spec.insert("strict".into(), json!(strict));
            }
            json!({"type": "json_schema", "json_schema": spec})
        }
    }
}

/// The canonical parameters [`encode_request`] leaves out because Chat upstreams cannot take them,
/// as named in `x-llmkp-dropped-params`.
pub fn dropped_params(req: &Request) -> Vec<&'static str> {
    let mut dropped = Vec::new();
    if req.top_k.is_some() {
        dropped.push("top_k");
    }
    dropped
}

/// A tool call id for an upstream that sent none (§4.6): `call_` + 24 hex characters, derived
/// from `seed` (response id, position, name) so the same answer always gets the same id.
pub fn synthetic_call_id(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("call_{hex}")
}

fn encode_system(parts: &[Part]) -> Result<Option<Value>, InvalidRequest> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { text, .. } if text.starts_with(BILLING_HEADER) => {}
            Part::Text { text, .. } => texts.push(text_part(text)),
            other => {
                let message = format!("system prompts can only hold text, not {}", kind(other));
                return Err(InvalidRequest::new(message, Some("system".into())));
            }
        }
    }
    if texts.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({"role": "system", "content": content_value(texts)})))
}

/// Assistant messages one by one; every run of user and tool messages between them as tool
/// messages first, then the user content (§4.2: Chat wants the answers right after the calls).
fn encode_messages(messages: &[Message], openai: bool, out: &mut Vec<Value>) -> Result<(), InvalidRequest> {
    let mut start = 0;
    while start < messages.len() {
        if messages[start].role == Role::Assistant {
            out.push(encode_assistant(&messages[start], start, openai)?);
            start += 1;
            continue;
        }
        let end =
            messages[start..].iter().position(|m| m.role == Role::Assistant).map_or(messages.len(), |n| start + n);
        encode_user_run(&messages[start..end], start, out)?;
        start = end;
    }
    Ok(())
}

fn encode_user_run(run: &[Message], first: usize, out: &mut Vec<Value>) -> Result<(), InvalidRequest> {
    // Images of tool results, each group introduced by a text part; `tool` messages cannot hold them.
    let mut carried = Vec::new();
    for (offset, message) in run.iter().enumerate() {
        for part in &message.parts {
            if let Part::ToolResult(result) = part {
                out.push(encode_tool_result(result, first + offset, &mut carried)?);
            }
        }
    }
    for (offset, message) in run.iter().enumerate() {
        let param = || Some(format!("messages[{}]", first + offset));
        // A system message inside the conversation stays at its place (§4.1).
        if message.role == Role::System {
            out.extend(encode_system(&message.parts)?);
            continue;
        }
        let mut own = Vec::new();
        for part in &message.parts {
            match part {
                Part::ToolResult(_) => {}
                Part::Text { text, .. } => own.push(text_part(text)),
                Part::Image(source) => own.push(image_part(source, param)?),
                Part::Document { source, title } => own.push(document_part(source, title.as_deref(), param)?),
                other => {
                    let message = format!("{} can only appear in assistant messages", kind(other));
                    return Err(InvalidRequest::new(message, param()));
                }
            }
        }
        if own.is_empty() {
            continue;
        }
        let mut content = std::mem::take(&mut carried);
        content.extend(own);
        out.push(json!({"role": "user", "content": content_value(content)}));
    }
    if !carried.is_empty() {
        out.push(json!({"role": "user", "content": carried}));
    }
    Ok(())
}

fn encode_tool_result(
    result: &crate::formats::ir::ToolResult,
    index: usize,
    images: &mut Vec<Value>,
) -> Result<Value, InvalidRequest> {
    let param = || Some(format!("messages[{index}]"));
    let mut texts = Vec::new();
    let mut result_images = Vec::new();
    for part in &result.content {
        match part {
            Part::Text { text, .. } => texts.push(text.as_str()),
            Part::Image(source) => result_images.push(image_part(source, param)?),
            other => {
                let message = format!("tool results can only hold text and images, not {}", kind(other));
                return Err(InvalidRequest::new(message, param()));
            }
        }
    }
    let mut content = texts.join("\n");
    if result.is_error && !content.starts_with("Error: ") {
        content.insert_str(0, "Error: ");
    }
    if !result_images.is_empty() {
        images.push(text_part(&format!("Images returned by tool call {}:", result.call_id)));
        images.extend(result_images);
    }
    Ok(json!({"role": "tool", "tool_call_id": result.call_id, "content": content}))
}

fn encode_assistant(message: &Message, index: usize, openai: bool) -> Result<Value, InvalidRequest> {
    let mut text = None::<String>;
    let mut reasoning = Vec::new();
    let mut refusal = Vec::new();
    let mut calls = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { text: t, .. } => text.get_or_insert_default().push_str(t),
            Part::Reasoning { text: t, .. } if !t.is_empty() => reasoning.push(t.as_str()),
            // Signatures and redacted reasoning cannot travel in Chat (§10 caches them instead).
            Part::Reasoning { .. } => {}
            Part::Refusal(t) => refusal.push(t.as_str()),
            Part::ToolCall(call) => calls.push(json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })),
            other => {
                let message = format!("{} cannot appear in an assistant message for Chat upstreams", kind(other));
                return Err(InvalidRequest::new(message, Some(format!("messages[{index}]"))));
            }
        }
    }
    let content = match text {
        Some(text) => json!(text),
        None if calls.is_empty() && refusal.is_empty() => json!(""),
        None => Value::Null,
    };
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    out.insert("content".into(), content);
    // OpenAI defines no reasoning input on Chat messages; the others that have one use this name.
    if !reasoning.is_empty() && !openai {
        out.insert("reasoning_content".into(), json!(reasoning.join("\n\n")));
    }
    if !refusal.is_empty() {
        out.insert("refusal".into(), json!(refusal.join("\n")));
    }
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(out))
}

fn encode_tool(tool: &Tool, index: usize) -> Result<Value, InvalidRequest> {
    match tool {
        Tool::Function { name, description, parameters, strict, cache_control: _ } => {
            let mut function = Map::new();
            function.insert("name".into(), json!(name));
            if let Some(description) = description {
                function.insert("description".into(), json!(description));
            }
            let parameters = match parameters {
                Value::Null => json!({"type": "object", "properties": {}}),
                schema => schema.clone(),
            };
            function.insert("parameters".into(), parameters);
            if let Some(strict) = strict {
                function.insert("strict".into(), json!(strict));
            }
            Ok(json!({"type": "function", "function": function}))
        }
        Tool::Server { kind, .. } => Err(InvalidRequest::new(
            format!("{kind} can only run on Anthropic upstreams"),
            Some(format!("tools[{index}]")),
        )),
    }
}

/// `tools` with the request's `tool_choice` and `parallel_tool_calls` (in the OpenAI wire
/// families, Chat and Responses, these mean nothing without tools and are refused there).
pub(crate) fn insert_tools(
    body: &mut Map<String, Value>,
    tools: Vec<Value>,
    req: &Request,
    encode_tool_choice: fn(&ToolChoice) -> Value,
) {
    body.insert("tools".into(), Value::Array(tools));
    if let Some(choice) = &req.tool_choice {
        body.insert("tool_choice".into(), encode_tool_choice(choice));
    }
    if let Some(parallel) = req.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Specific(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

/// §4.11: efforts as given (`xhigh`/`max` become `high` except for OpenAI), budgets mapped to
/// an effort, "no reasoning" as `none` for OpenAI and left out elsewhere.
fn reasoning_effort(reasoning: &Reasoning, openai: bool) -> Option<&str> {
    let effort = match reasoning {
        Reasoning::Effort(effort) => effort.as_str(),
        Reasoning::Disabled | Reasoning::BudgetTokens(0) => "none",
        Reasoning::BudgetTokens(b) if *b <= 8192 => "low",
        Reasoning::BudgetTokens(b) if *b <= 16384 => "medium",
        Reasoning::BudgetTokens(_) => "high",
    };
    match effort {
        "none" => openai.then_some("none"),
        "xhigh" | "max" if !openai => Some("high"),
        effort => Some(effort),
    }
}

fn text_part(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// A single text part as a plain string (what every Chat server accepts), else the part list.
fn content_value(mut parts: Vec<Value>) -> Value {
    if let [only] = parts.as_mut_slice()
        && only["type"] == "text"
    {
        return only["text"].take();
    }
    Value::Array(parts)
}

fn image_part(source: &ImageSource, param: impl Fn() -> Option<String>) -> Result<Value, InvalidRequest> {
    let url = match source {
        ImageSource::Url(url) => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::FileRef(id) => {
            let message = format!("image file references ('{id}') cannot be sent to Chat upstreams");
            return Err(InvalidRequest::new(message, param()));
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

fn document_part(
    source: &DocumentSource,
    title: Option<&str>,
    param: impl Fn() -> Option<String>,
) -> Result<Value, InvalidRequest> {
    match source {
        DocumentSource::PlainText(text) => Ok(text_part(&match title {
            Some(title) => format!("{title}\n{text}"),
            None => text.clone(),
        })),
        DocumentSource::Base64 { media_type, data } => {
            let filename = title.map_or_else(|| default_filename(media_type), str::to_string);
            Ok(
                json!({"type": "file", "file": {"file_data": format!("data:{media_type};base64,{data}"), "filename": filename}}),
            )
        }
        DocumentSource::Url(url) => Err(InvalidRequest::new(
            format!(
                "document URL '{url}' cannot be sent to a Chat upstream: this build does not fetch remote documents; send the document inline (base64)"
            ),
            param(),
        )),
    }
}

fn default_filename(media_type: &str) -> String {
    match media_type {
        "application/pdf" => "document.pdf".into(),
        "text/plain" => "document.txt".into(),
        _ => "document".into(),
    }
}

/// How a part is named in error messages.
fn kind(part: &Part) -> &'static str {
    match part {
        Part::Text { .. } => "text",
        Part::Image(_) => "images",
        Part::Document { .. } => "documents",
        Part::ToolCall(_) => "tool calls",
        Part::ToolResult(_) => "tool results",
        Part::Reasoning { .. } => "reasoning",
        Part::Refusal(_) => "refusals",
    }
}
