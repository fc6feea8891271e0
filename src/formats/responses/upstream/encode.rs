//! Canonical requests as Responses request bodies: the system prompt as `instructions`, the
//! conversation as `input` items, function tools, and `store: false` with the reasoning of earlier
//! turns sent back as `reasoning` items (their `encrypted_content`).

use serde_json::{Map, Value, json};

use crate::formats::InvalidRequest;
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolResult,
};

/// The smallest `max_output_tokens` the Responses API accepts.
pub const MIN_OUTPUT_TOKENS: u64 = 16;

/// What `include` asks for: the reasoning items' encrypted content, so that a stateless
/// (`store: false`) conversation can send them back on its next turn.
pub const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// A Responses request body with what the translation left out (`x-llmkp-dropped-params`) and
/// what it changed (`x-llmkp-adjustments`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub body: Map<String, Value>,
    pub dropped_params: Vec<&'static str>,
    pub adjustments: Vec<&'static str>,
}

/// The Responses body for `req`, sent to `upstream_model` of the provider `origin` (reasoning
/// parts whose signature came from `origin` are sent back; others cannot be read there).
pub fn encode_upstream(
    req: &Request,
    upstream_model: &str,
    origin: &str,
    stream: bool,
) -> Result<UpstreamRequest, InvalidRequest> {
    let mut dropped_params = Vec::new();
    let mut adjustments = Vec::new();
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    let instructions = texts(&req.system);
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions.join("\n\n")));
    }
    body.insert("input".into(), Value::Array(encode_input(&req.messages, origin)?));
    let tools: Vec<Value> = req.tools.iter().filter_map(encode_tool).collect();
    if tools.len() < req.tools.len() {
        dropped_params.push("tools");
    }
    if !tools.is_empty() {
        crate::formats::openai::translate::insert_tools(&mut body, tools, req, encode_tool_choice);
    }
    if let Some(max) = req.max_output_tokens {
        if max < MIN_OUTPUT_TOKENS {
            adjustments.push("max_output_tokens_raised_to_16");
        }
        body.insert("max_output_tokens".into(), json!(max.max(MIN_OUTPUT_TOKENS)));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = req.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if req.top_k.is_some() {
        dropped_params.push("top_k");
    }
    if !req.stop.is_empty() {
        dropped_params.push("stop");
    }
    match req.reasoning.as_ref().map(effort) {
        Some(Some(effort)) => {
            body.insert("reasoning".into(), json!({"effort": effort}));
        }
        // No effort turns reasoning off on every model: the model's default applies.
        Some(None) => dropped_params.push("reasoning"),
        None => {}
    }
    if let Some(format) = &req.response_format {
        body.insert("text".into(), json!({"format": encode_format(format)}));
    }
    if let Some(user) = &req.user {
        body.insert("user".into(), json!(user));
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    body.insert("store".into(), json!(false));
    if keeps_encrypted_reasoning(upstream_model) {
        body.insert("include".into(), json!([ENCRYPTED_REASONING]));
    }
    Ok(UpstreamRequest { body, dropped_params, adjustments })
}

/// Whether `model` can be asked for encrypted reasoning: OpenAI refuses the `include` for models
/// that do not reason (`gpt-4o`, `gpt-4.1`, the `-chat` models). Unknown models are asked.
pub fn keeps_encrypted_reasoning(model: &str) -> bool {
    let model = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    let plain = ["gpt-3", "gpt-4", "chatgpt-", "davinci", "babbage"];
    !(plain.iter().any(|p| model.starts_with(p)) || model.contains("-chat"))
}

/// The Responses effort for a canonical reasoning setting; `None` for "off", which the API has no
/// single value for.
fn effort(reasoning: &Reasoning) -> Option<String> {
    match reasoning {
        Reasoning::Effort(effort) => Some(effort.clone()),
        Reasoning::Disabled | Reasoning::BudgetTokens(0) => None,
        Reasoning::BudgetTokens(budget) => Some(
            match budget {
                ..8192 => "low",
                8192..24576 => "medium",
                _ => "high",
            }
            .to_string(),
        ),
    }
}

fn encode_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let mut out = Map::new();
            out.insert("type".into(), json!("json_schema"));
            out.insert("name".into(), json!(name.as_deref().unwrap_or("response")));
            out.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                out.insert("strict".into(), json!(strict));
            }
            Value::Object(out)
        }
    }
}

/// Function tools; provider-run tools of other APIs have no Responses form (`None`).
fn encode_tool(tool: &Tool) -> Option<Value> {
    let Tool::Function { name, description, parameters, strict, cache_control: _ } = tool else { return None };
    let mut out = Map::new();
    out.insert("type".into(), json!("function"));
    out.insert("name".into(), json!(name));
    if let Some(description) = description {
        out.insert("description".into(), json!(description));
    }
    let parameters = match parameters {
        Value::Object(_) => parameters.clone(),
        _ => json!({"type": "object", "properties": {}}),
    };
    out.insert("parameters".into(), parameters);
    // Responses makes function tools strict unless told otherwise; other APIs do the opposite.
    out.insert("strict".into(), json!(strict.unwrap_or(false)));
    Some(Value::Object(out))
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Specific(name) => json!({"type": "function", "name": name}),
    }
}

fn texts(parts: &[Part]) -> Vec<&str> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } if !text.trim().is_empty() => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The `input` items of a conversation, in its order: each message's content parts as one
/// `message` item, interrupted by the calls, results and reasoning between them.
fn encode_input(messages: &[Message], origin: &str) -> Result<Vec<Value>, InvalidRequest> {
    let mut items = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = match message.role {
            Role::Assistant => "assistant",
            Role::System => "developer",
            Role::User | Role::Tool => "user",
        };
        let mut content: Vec<Value> = Vec::new();
        // Encrypted reasoning already sent for this turn.
        let mut sent: Vec<&str> = Vec::new();
        for part in &message.parts {
            let item = match part {
                Part::ToolCall(_) if message.role != Role::Assistant => {
                    return Err(InvalidRequest::at(
                        format!("tool calls can only appear in assistant messages (messages[{i}])"),
                        format!("messages[{i}]"),
                    ));
                }
                Part::ToolCall(call) => {
                    // A signature kept on the call (by a fold that attached it there) is the
                    // reasoning before it.
                    if let Some(signature) = call.signature.as_ref().filter(|s| s.origin == origin)
                        && !sent.contains(&signature.value.as_str())
                    {
                        flush(&mut items, &mut content, role);
                        sent.push(&signature.value);
                        items.push(reasoning_item("", &signature.value));
                    }
                    Some(function_call(call))
                }
                Part::ToolResult(result) => Some(function_call_output(result)),
                Part::Reasoning { text, signature: Some(signature), redacted: None } if signature.origin == origin => {
                    sent.push(&signature.value);
                    Some(reasoning_item(text, &signature.value))
                }
                // Reasoning of another provider (or without its encrypted form) cannot be read here.
                Part::Reasoning { .. } => None,
                part => {
                    content.extend(content_part(part, message.role));
                    continue;
                }
            };
            flush(&mut items, &mut content, role);
            items.extend(item);
        }
        flush(&mut items, &mut content, role);
    }
    Ok(items)
}

fn function_call(call: &ToolCall) -> Value {
    json!({
        "type": "function_call",
        "call_id": if call.id.is_empty() { new_call_id() } else { call.id.clone() },
        "name": call.name,
        "arguments": if call.arguments.trim().is_empty() { "{}" } else { call.arguments.as_str() },
    })
}

/// A reasoning item sent back: its summary (when there is text) and its encrypted content.
fn reasoning_item(text: &str, encrypted: &str) -> Value {
    let summary: Vec<Value> =
        if text.is_empty() { Vec::new() } else { vec![json!({"type": "summary_text", "text": text})] };
    json!({"type": "reasoning", "summary": summary, "encrypted_content": encrypted})
}

/// The content parts gathered so far as one `message` item of `role`.
fn flush(items: &mut Vec<Value>, content: &mut Vec<Value>, role: &str) {
    if !content.is_empty() {
        items.push(json!({"type": "message", "role": role, "content": std::mem::take(content)}));
    }
}

/// One content part of a message: assistants write `output_text` (and refusals); everyone else's
/// text, images and files are input parts.
fn content_part(part: &Part, role: Role) -> Option<Value> {
    if role == Role::Assistant {
        return match part {
            Part::Text { text, .. } if !text.is_empty() => Some(json!({"type": "output_text", "text": text})),
            Part::Refusal(text) if !text.is_empty() => Some(json!({"type": "refusal", "refusal": text})),
            _ => None,
        };
    }
    match part {
        Part::Text { text, .. } | Part::Refusal(text) if !text.is_empty() => {
            Some(json!({"type": "input_text", "text": text}))
        }
        Part::Image(source) => Some(input_image(source)),
        Part::Document { source, title } => Some(match source {
            DocumentSource::Base64 { media_type, data } => json!({
                "type": "input_file",
                "filename": title.as_deref().unwrap_or("document"),
                "file_data": format!("data:{media_type};base64,{data}"),
            }),
            DocumentSource::Url(url) => json!({"type": "input_file", "file_url": url}),
            DocumentSource::PlainText(text) => json!({"type": "input_text", "text": text}),
        }),
        _ => None,
    }
}

fn input_image(source: &ImageSource) -> Value {
    match source {
        ImageSource::Url(url) => json!({"type": "input_image", "image_url": url, "detail": "auto"}),
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "input_image", "image_url": format!("data:{media_type};base64,{data}"), "detail": "auto"})
        }
        ImageSource::FileRef(id) => json!({"type": "input_image", "file_id": id, "detail": "auto"}),
    }
}

/// A tool result: its text as a string, or a list of parts when it holds images.
fn function_call_output(result: &ToolResult) -> Value {
    let has_images = result.content.iter().any(|p| matches!(p, Part::Image(_)));
    let output = if has_images {
        let parts: Vec<Value> = result
            .content
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(json!({"type": "input_text", "text": text})),
                Part::Image(source) => Some(input_image(source)),
                _ => None,
            })
            .collect();
        Value::Array(parts)
    } else {
        json!(texts_joined(&result.content))
    };
    json!({"type": "function_call_output", "call_id": result.call_id, "output": output})
}

fn texts_joined(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `call_` + 24 base62 characters: the id of a call that arrived without one.
fn new_call_id() -> String {
    format!("call_{}", crate::formats::random_base62(24))
}
