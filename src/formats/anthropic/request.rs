//! A client's Anthropic Messages request decoded into the canonical model (translation
//! specification §4, Messages columns). The JSON body is kept whole beside it: session keys and
//! token counts are derived from what the client sent.

use serde_json::{Map, Value, json};

use super::blocks::{decode_block, text_part};
use crate::formats::fields::{
    as_object, get, opt_bool, opt_f64, opt_str, opt_u64, req_messages, req_model, req_str, strings,
};
use crate::formats::ir::{Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice};

pub use crate::formats::InvalidRequest;

/// A decoded Messages request together with the body it came from.
#[derive(Debug, Clone)]
pub struct MessagesRequest {
    /// The request as the client sent it, unknown fields included.
    pub body: Map<String, Value>,
    /// The canonical form. `max_output_tokens` is `None` when the client sent no `max_tokens`:
    /// the caller fills the default and reports `max_tokens_defaulted`.
    pub request: Request,
}

impl MessagesRequest {
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidRequest> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|err| InvalidRequest::body(format!("request body is not valid JSON: {err}")))?;
        let Value::Object(body) = value else {
            return Err(InvalidRequest::body("request body must be a JSON object"));
        };
        let request = decode_body(&body)?;
        Ok(Self { body, request })
    }
}

/// Decodes a client's Messages request body into the canonical model.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidRequest> {
    MessagesRequest::parse(body).map(|r| r.request)
}

/// Reasoning efforts the canonical model knows (§4.11).
const EFFORTS: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// A client's Messages body (already parsed as JSON) in canonical form.
pub fn decode_body(body: &Map<String, Value>) -> Result<Request, InvalidRequest> {
    let model = req_model(body)?;
    let messages = decode_messages(req_messages(body)?)?;
    let system = get(body, "system").map(decode_system).transpose()?.unwrap_or_default();
    let tools = match get(body, "tools") {
        None => Vec::new(),
        Some(Value::Array(tools)) => {
            tools.iter().enumerate().map(|(i, t)| decode_tool(t, i)).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(InvalidRequest::wrong_type("tools".into(), "an array")),
    };
    let (tool_choice, parallel_tool_calls) = get(body, "tool_choice").map(decode_tool_choice).transpose()?.unzip();
    let stop = match get(body, "stop_sequences") {
        None => Vec::new(),
        Some(Value::Array(items)) => strings(items, "stop_sequences")?,
        Some(_) => return Err(InvalidRequest::wrong_type("stop_sequences".into(), "an array of strings")),
    };
    let user = match get(body, "metadata") {
        None => None,
        Some(Value::Object(metadata)) => opt_str(metadata, "user_id", "metadata")?.map(str::to_string),
        Some(_) => return Err(InvalidRequest::wrong_type("metadata".into(), "an object")),
    };
    Ok(Request {
        model,
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: parallel_tool_calls.flatten(),
        max_output_tokens: opt_u64(body, "max_tokens", "")?,
        temperature: opt_f64(body, "temperature", "")?,
        top_p: opt_f64(body, "top_p", "")?,
        top_k: opt_u64(body, "top_k", "")?,
        stop,
        reasoning: decode_reasoning(body)?,
        response_format: decode_output_format(body)?,
        stream: opt_bool(body, "stream", "")?.unwrap_or(false),
        user,
    })
}

/// `output_config.format {"type":"json_schema","schema"}` (§4.10).
fn decode_output_format(body: &Map<String, Value>) -> Result<Option<ResponseFormat>, InvalidRequest> {
    let Some(Value::Object(config)) = get(body, "output_config") else { return Ok(None) };
    let Some(format) = config.get("format") else { return Ok(None) };
    let format = as_object(format, "output_config.format")?;
    match req_str(format, "type", "output_config.format")? {
        "json_schema" => match format.get("schema") {
            Some(schema @ Value::Object(_)) => {
                Ok(Some(ResponseFormat::JsonSchema { name: None, schema: schema.clone(), strict: None }))
            }
            _ => Err(InvalidRequest::missing("output_config.format.schema".into())),
        },
        other => Err(InvalidRequest::at(
            format!("unknown output_config.format type '{other}' (expected json_schema)"),
            "output_config.format.type",
        )),
    }
}

fn decode_system(value: &Value) -> Result<Vec<Part>, InvalidRequest> {
    decode_system_content(value, "system")
}

/// System text: a string or an array of `text` blocks (the top-level `system` and the content of
/// system-role messages alike).
fn decode_system_content(value: &Value, at: &str) -> Result<Vec<Part>, InvalidRequest> {
    match value {
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![Part::Text { text: text.clone(), cache_control: None }]),
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(i, block)| {
                let path = format!("{at}[{i}]");
                let block = as_object(block, &path)?;
                match req_str(block, "type", &path)? {
                    "text" => Ok(text_part(block, &path)?),
                    other => Err(InvalidRequest::at(
                        format!("unsupported system block type '{other}' at {path} (only 'text' is allowed)"),
                        format!("{path}.type"),
                    )),
                }
            })
            .collect(),
        _ => Err(InvalidRequest::wrong_type(at.into(), "a string or an array of text blocks")),
    }
}

/// Messages in order; a user message's `tool_result` blocks become one `Tool` message placed
/// before a `User` message with the remaining blocks, if any (§4.2).
fn decode_messages(items: &[Value]) -> Result<Vec<Message>, InvalidRequest> {
    let mut messages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("messages[{i}]");
        let message = as_object(item, &path)?;
        let role = match req_str(message, "role", &path)? {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // Claude Code 2.1 places environment blocks as system messages inside the
            // conversation; they apply from their position on.
            "system" => Role::System,
            other => {
                return Err(InvalidRequest::at(
                    format!("'{path}.role' must be \"user\", \"assistant\" or \"system\", got \"{other}\""),
                    format!("{path}.role"),
                ));
            }
        };
        if role == Role::System {
            let content = get(message, "content").ok_or_else(|| InvalidRequest::missing(format!("{path}.content")))?;
            messages.push(Message { role, parts: decode_system_content(content, &format!("{path}.content"))? });
            continue;
        }
        let parts = match get(message, "content") {
            Some(Value::String(text)) => vec![Part::Text { text: text.clone(), cache_control: None }],
            Some(Value::Array(blocks)) => blocks
                .iter()
                .enumerate()
                .map(|(j, block)| decode_block(block, role, &format!("{path}.content[{j}]")))
                .collect::<Result<Vec<_>, _>>()?,
            None => return Err(InvalidRequest::missing(format!("{path}.content"))),
            Some(_) => {
                return Err(InvalidRequest::wrong_type(format!("{path}.content"), "a string or an array of blocks"));
            }
        };
        if role == Role::User && parts.iter().any(|p| matches!(p, Part::ToolResult(_))) {
            let (results, rest): (Vec<Part>, Vec<Part>) =
                parts.into_iter().partition(|p| matches!(p, Part::ToolResult(_)));
            messages.push(Message { role: Role::Tool, parts: results });
            if !rest.is_empty() {
                messages.push(Message { role: Role::User, parts: rest });
            }
        } else {
            messages.push(Message { role, parts });
        }
    }
    Ok(messages)
}

/// A tool with an `input_schema` (or typed `custom`, or untyped) is a function; any other typed
/// tool (`web_search_20250305`, `bash_…`, …) is a server tool kept as sent.
fn decode_tool(tool: &Value, i: usize) -> Result<Tool, InvalidRequest> {
    let path = format!("tools[{i}]");
    let tool = as_object(tool, &path)?;
    let kind = opt_str(tool, "type", &path)?;
    let schema = get(tool, "input_schema");
    if schema.is_none()
        && let Some(kind) = kind.filter(|k| *k != "custom")
    {
        return Ok(Tool::Server { kind: kind.to_string(), raw: tool.clone() });
    }
    let parameters = match schema {
        None => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => return Err(InvalidRequest::wrong_type(format!("{path}.input_schema"), "an object")),
    };
    Ok(Tool::Function {
        name: req_str(tool, "name", &path)?.to_string(),
        description: opt_str(tool, "description", &path)?.map(str::to_string),
        parameters,
        strict: opt_bool(tool, "strict", &path)?,
        cache_control: get(tool, "cache_control").cloned(),
    })
}

/// The choice and the parallel-calls flag (`Some(false)` for `disable_parallel_tool_use: true`).
fn decode_tool_choice(value: &Value) -> Result<(ToolChoice, Option<bool>), InvalidRequest> {
    let choice = as_object(value, "tool_choice")?;
    let tool_choice = match req_str(choice, "type", "tool_choice")? {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Specific(req_str(choice, "name", "tool_choice")?.to_string()),
        other => {
            return Err(InvalidRequest::at(
                format!("unknown tool_choice type '{other}' (expected auto, any, tool or none)"),
                "tool_choice.type",
            ));
        }
    };
    let disable_parallel = opt_bool(choice, "disable_parallel_tool_use", "tool_choice")?.unwrap_or(false);
    Ok((tool_choice, disable_parallel.then_some(false)))
}

/// `thinking` and `output_config.effort` (§4.11).
fn decode_reasoning(body: &Map<String, Value>) -> Result<Option<Reasoning>, InvalidRequest> {
    let effort = match get(body, "output_config") {
        None => None,
        Some(Value::Object(config)) => match opt_str(config, "effort", "output_config")? {
            Some(effort) if EFFORTS.contains(&effort) => Some(effort.to_string()),
            Some(effort) => {
                return Err(InvalidRequest::at(
                    format!("unknown output_config.effort '{effort}' (expected one of {})", EFFORTS.join(", ")),
                    "output_config.effort",
                ));
            }
            None => None,
        },
        Some(_) => return Err(InvalidRequest::wrong_type("output_config".into(), "an object")),
    };
    let Some(thinking) = get(body, "thinking") else { return Ok(effort.map(Reasoning::Effort)) };
    let thinking = as_object(thinking, "thinking")?;
    match req_str(thinking, "type", "thinking")? {
        "enabled" => match opt_u64(thinking, "budget_tokens", "thinking")? {
            Some(budget) => Ok(Some(Reasoning::BudgetTokens(budget))),
            None => Err(InvalidRequest::missing("thinking.budget_tokens".into())),
        },
        "disabled" => Ok(Some(Reasoning::Disabled)),
        // Adaptive thinking without an effort leaves the amount to the model (§4.11).
        "adaptive" => Ok(effort.map(Reasoning::Effort)),
        // A thinking mode newer than this proxy: passthrough keeps it, translation drops it
        // (named by [`dropped_client_params`]).
        _ => Ok(effort.map(Reasoning::Effort)),
    }
}

/// Top-level fields of a Messages request the canonical model carries; any other field is
/// dropped on translated routes.
const CARRIED: [&str; 13] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_k",
    "top_p",
    "tools",
    "tool_choice",
    "thinking",
];

/// The fields of a function tool the canonical model carries.
const TOOL_FIELDS: [&str; 6] = ["name", "description", "input_schema", "type", "strict", "cache_control"];

/// What a translated route leaves out of the client's Messages request, for
/// `x-llmkp-dropped-params`: fields the canonical model has no place for (`context_management`,
/// `container`, `mcp_servers`, `service_tier`, anything newer), a thinking mode it does not know,
/// thinking's `display`, and `output_config` settings other than `effort` and `format`.
pub fn dropped_client_params(body: &Map<String, Value>) -> Vec<String> {
    let mut dropped: Vec<String> =
        body.keys().filter(|k| !CARRIED.contains(&k.as_str()) && *k != "output_config").cloned().collect();
    if let Some(Value::Object(thinking)) = get(body, "thinking") {
        let known = matches!(thinking.get("type").and_then(Value::as_str), Some("enabled" | "disabled" | "adaptive"));
        if !known {
            dropped.push("thinking".into());
        } else if thinking.contains_key("display") {
            dropped.push("thinking.display".into());
        }
    }
    // Tool fields other than the function's own (`defer_loading` of Claude Code's deferred
    // tools, …), once each; server tools travel whole.
    for tool in get(body, "tools").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object) {
        if tool.get("input_schema").is_none() && tool.get("type").is_some_and(|t| t != "custom") {
            continue;
        }
        for key in tool.keys().filter(|k| !TOOL_FIELDS.contains(&k.as_str())) {
            let name = format!("tools.{key}");
            if !dropped.contains(&name) {
                dropped.push(name);
            }
        }
    }
    if let Some(Value::Object(config)) = get(body, "output_config") {
        dropped.extend(
            config.keys().filter(|k| !matches!(k.as_str(), "effort" | "format")).map(|k| format!("output_config.{k}")),
        );
    }
    dropped
}

#[cfg(test)]
mod tests;
