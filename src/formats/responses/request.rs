//! A Responses request into the canonical model (translation rules for the Responses family):
//! `instructions` and leading `system`/`developer` messages are the system prompt; later ones
//! stay in place; `function_call`/`custom_tool_call` items join the assistant turn,
//! their outputs a tool turn; `reasoning` items are reasoning parts whose signature, when this
//! proxy sealed one into `encrypted_content`, comes back (§ reasoning). Built-in tools and input
//! items no other protocol can carry are left out and named (`x-llmkp-dropped-params`).

use serde_json::{Map, Value};

use super::reasoning;
use super::tools::{ToolNames, custom_arguments, custom_as_function};
use crate::formats::InvalidRequest;
use crate::formats::fields::{as_object, get, opt_bool, opt_f64, opt_str, opt_u64, req_str};
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolResult,
};
use crate::formats::openai::decode_request::{is_data_url, parse_data_url};

/// Top-level fields a translated route cannot carry.
const UNCARRIED: &[&str] = &[
    "include",
    "truncation",
    "service_tier",
    "background",
    "top_logprobs",
    "prompt",
    "conversation",
    "max_tool_calls",
];

/// Input item types that only OpenAI's own servers understand.
const UPSTREAM_ONLY_ITEMS: &[&str] = &[
    "item_reference",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "local_shell_call",
    "local_shell_call_output",
    "image_generation_call",
    "code_interpreter_call",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "tool_search_call",
    "tool_search_output",
    "compaction",
];

/// A client body decoded, with what its tool list said about names.
pub fn decode_body(body: &Map<String, Value>) -> Result<(Request, ToolNames), InvalidRequest> {
    let model = req_str(body, "model", "")?.to_string();
    let (tools, names) = decode_tools(body)?;
    let mut request = Request {
        model,
        tools,
        tool_choice: decode_tool_choice(body)?,
        parallel_tool_calls: opt_bool(body, "parallel_tool_calls", "")?,
        max_output_tokens: opt_u64(body, "max_output_tokens", "")?,
        temperature: opt_f64(body, "temperature", "")?,
        top_p: opt_f64(body, "top_p", "")?,
        reasoning: decode_reasoning(body)?,
        response_format: decode_text_format(body)?,
        stream: opt_bool(body, "stream", "")?.unwrap_or(false),
        user: ["safety_identifier", "user"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_str))
            .map(str::to_string),
        ..Request::default()
    };
    if let Some(instructions) = opt_str(body, "instructions", "")?
        && !instructions.is_empty()
    {
        request.system.push(Part::Text { text: instructions.to_string(), cache_control: None });
    }
    decode_input(body, &mut request)?;
    Ok((request, names))
}

/// The request fields and tools a translated route leaves out.
pub fn dropped_client_params(body: &Map<String, Value>) -> Vec<String> {
    let mut dropped: Vec<String> =
        UNCARRIED.iter().filter(|k| get(body, k).is_some()).map(|k| (*k).to_string()).collect();
    if body.get("text").and_then(|t| t.get("verbosity")).is_some() {
        dropped.push("text.verbosity".into());
    }
    for tool in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
        if !matches!(kind, "function" | "custom" | "namespace") {
            let name = format!("tools.{kind}");
            if !dropped.contains(&name) {
                dropped.push(name);
            }
        }
    }
    if let Some(Value::Array(items)) = body.get("input") {
        for item in items {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            if UPSTREAM_ONLY_ITEMS.contains(&kind) {
                let name = format!("input.{kind}");
                if !dropped.contains(&name) {
                    dropped.push(name);
                }
            }
        }
    }
    dropped
}

fn decode_tools(body: &Map<String, Value>) -> Result<(Vec<Tool>, ToolNames), InvalidRequest> {
    let mut names = ToolNames::default();
    let mut tools = Vec::new();
    let Some(list) = get(body, "tools") else { return Ok((tools, names)) };
    let list = list.as_array().ok_or_else(|| InvalidRequest::wrong_type("tools".into(), "an array"))?;
    for (i, tool) in list.iter().enumerate() {
        let path = format!("tools[{i}]");
        let tool = as_object(tool, &path)?;
        match tool.get("type").and_then(Value::as_str).unwrap_or_default() {
            "namespace" => {
                let namespace = req_str(tool, "name", &path)?;
                let inner = tool.get("tools").and_then(Value::as_array).into_iter().flatten();
                for (j, member) in inner.enumerate() {
                    let member_path = format!("{path}.tools[{j}]");
                    let member = as_object(member, &member_path)?;
                    if let Some(decoded) = decode_tool(member, &member_path, Some(namespace), &mut names)? {
                        tools.push(decoded);
                    }
                }
            }
            _ => tools.extend(decode_tool(tool, &path, None, &mut names)?),
        }
    }
    Ok((tools, names))
}

/// A `function` or `custom` tool (its name flattened when in a namespace); `None` for built-in
/// tools, which a translated route leaves out.
fn decode_tool(
    tool: &Map<String, Value>,
    path: &str,
    namespace: Option<&str>,
    names: &mut ToolNames,
) -> Result<Option<Tool>, InvalidRequest> {
    let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
    if !matches!(kind, "function" | "custom") {
        return Ok(None);
    }
    let short = req_str(tool, "name", path)?;
    let name = match namespace {
        Some(namespace) => names.add_namespaced(namespace, short),
        None => short.to_string(),
    };
    let (description, parameters, strict) = if kind == "custom" {
        names.add_custom(name.clone());
        let (description, parameters) = custom_as_function(tool);
        (description, parameters, None)
    } else {
        let parameters = match get(tool, "parameters") {
            Some(Value::Object(schema)) => Value::Object(schema.clone()),
            Some(_) => return Err(InvalidRequest::wrong_type(format!("{path}.parameters"), "an object")),
            None => serde_json::json!({"type": "object", "properties": {}}),
        };
        (opt_str(tool, "description", path)?.map(str::to_string), parameters, opt_bool(tool, "strict", path)?)
    };
    Ok(Some(Tool::Function { name, description, parameters, strict, cache_control: None }))
}

fn decode_tool_choice(body: &Map<String, Value>) -> Result<Option<ToolChoice>, InvalidRequest> {
    Ok(match get(body, "tool_choice") {
        None => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => {
                return Err(InvalidRequest::at(
                    format!("'tool_choice' must be \"auto\", \"none\" or \"required\", got \"{mode}\""),
                    "tool_choice",
                ));
            }
        },
        Some(Value::Object(choice)) => match choice.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                let name = req_str(choice, "name", "tool_choice")?;
                let name = match choice.get("namespace").and_then(Value::as_str) {
                    Some(namespace) => ToolNames::flat(namespace, name),
                    None => name.to_string(),
                };
                Some(ToolChoice::Specific(name))
            }
            // `allowed_tools`, built-in tools: the model chooses among what it was given.
            _ => Some(ToolChoice::Auto),
        },
        Some(_) => return Err(InvalidRequest::wrong_type("tool_choice".into(), "a string or an object")),
    })
}

fn decode_reasoning(body: &Map<String, Value>) -> Result<Option<Reasoning>, InvalidRequest> {
    let Some(reasoning) = get(body, "reasoning") else { return Ok(None) };
    let reasoning = as_object(reasoning, "reasoning")?;
    Ok(opt_str(reasoning, "effort", "reasoning")?.map(|effort| match effort {
        "none" => Reasoning::Disabled,
        effort => Reasoning::Effort(effort.to_string()),
    }))
}

fn decode_text_format(body: &Map<String, Value>) -> Result<Option<ResponseFormat>, InvalidRequest> {
    let Some(format) = body.get("text").and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let format = as_object(format, "text.format")?;
    Ok(match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let schema =
                get(format, "schema").cloned().ok_or_else(|| InvalidRequest::missing("text.format.schema".into()))?;
            Some(ResponseFormat::JsonSchema {
                name: opt_str(format, "name", "text.format")?.map(str::to_string),
                schema,
                strict: opt_bool(format, "strict", "text.format")?,
            })
        }
        Some("json_object") => Some(ResponseFormat::JsonObject),
        Some("text") | None => None,
        Some(other) => {
            return Err(InvalidRequest::at(format!("unknown text format type '{other}'"), "text.format.type"));
        }
    })
}

/// The turns being built: consecutive items of one role go into one message.
struct Turns<'a> {
    request: &'a mut Request,
    /// A user, assistant or tool message has been seen: later instructions stay in place.
    conversation_started: bool,
}

impl Turns<'_> {
    fn push(&mut self, role: Role, part: Part) {
        self.conversation_started = true;
        match self.request.messages.last_mut() {
            Some(last) if last.role == role && role != Role::User && role != Role::System => last.parts.push(part),
            _ => self.request.messages.push(Message { role, parts: vec![part] }),
        }
    }

    fn message(&mut self, role: Role, parts: Vec<Part>) {
        if role == Role::System && !self.conversation_started {
            self.request.system.extend(parts);
            return;
        }
        if role != Role::System {
            self.conversation_started = true;
        }
        match self.request.messages.last_mut() {
            // An assistant message after the turn's reasoning or calls belongs to that turn.
            Some(last) if last.role == Role::Assistant && role == Role::Assistant => last.parts.extend(parts),
            _ => self.request.messages.push(Message { role, parts }),
        }
    }
}

fn decode_input(body: &Map<String, Value>, request: &mut Request) -> Result<(), InvalidRequest> {
    let items = match get(body, "input") {
        None => return Err(InvalidRequest::missing("input".into())),
        Some(Value::String(text)) => {
            request.messages.push(Message { role: Role::User, parts: vec![text_part(text)] });
            return Ok(());
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(InvalidRequest::wrong_type("input".into(), "a string or an array of items")),
    };
    let mut turns = Turns { request, conversation_started: false };
    for (i, item) in items.iter().enumerate() {
        let path = format!("input[{i}]");
        let item = as_object(item, &path)?;
        let kind = match item.get("type").and_then(Value::as_str) {
            Some(kind) => kind,
            None if item.contains_key("role") => "message",
            None => return Err(InvalidRequest::missing(format!("{path}.type"))),
        };
        match kind {
            "message" => {
                let role = match req_str(item, "role", &path)? {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    "system" | "developer" => Role::System,
                    other => {
                        return Err(InvalidRequest::at(
                            format!("'{path}.role' must be user, assistant, system or developer, got \"{other}\""),
                            format!("{path}.role"),
                        ));
                    }
                };
                let parts = decode_content(item.get("content").unwrap_or(&Value::Null), &format!("{path}.content"))?;
                if !parts.is_empty() {
                    turns.message(role, parts);
                }
            }
            "function_call" => {
                let name = req_str(item, "name", &path)?;
                let name = match item.get("namespace").and_then(Value::as_str) {
                    Some(namespace) => ToolNames::flat(namespace, name),
                    None => name.to_string(),
                };
                let arguments = match get(item, "arguments") {
                    Some(Value::String(arguments)) => arguments.clone(),
                    Some(other) => other.to_string(),
                    None => "{}".to_string(),
                };
                turns.push(
                    Role::Assistant,
                    Part::ToolCall(ToolCall { id: call_id(item, &path)?, name, arguments, signature: None }),
                );
            }
            "custom_tool_call" => {
                let name = req_str(item, "name", &path)?;
                let name = match item.get("namespace").and_then(Value::as_str) {
                    Some(namespace) => ToolNames::flat(namespace, name),
                    None => name.to_string(),
                };
                let input = opt_str(item, "input", &path)?.unwrap_or_default();
                let arguments = custom_arguments(input);
                turns.push(
                    Role::Assistant,
                    Part::ToolCall(ToolCall { id: call_id(item, &path)?, name, arguments, signature: None }),
                );
            }
            "function_call_output" | "custom_tool_call_output" => {
                let content = decode_output(item.get("output").unwrap_or(&Value::Null), &format!("{path}.output"))?;
                let result = ToolResult { call_id: call_id(item, &path)?, content, is_error: false };
                turns.push(Role::Tool, Part::ToolResult(result));
            }
            "reasoning" => {
                let text = reasoning_text(item);
                let signature = match opt_str(item, "encrypted_content", &path)? {
                    Some(sealed) => reasoning::open(sealed, &format!("{path}.encrypted_content"))?,
                    None => None,
                };
                let (signature, redacted) = match signature {
                    Some(sealed) if sealed.origin == reasoning::REDACTED => (None, Some(sealed.value)),
                    other => (other, None),
                };
                if !text.is_empty() || signature.is_some() || redacted.is_some() {
                    turns.push(Role::Assistant, Part::Reasoning { text, signature, redacted });
                }
            }
            kind if UPSTREAM_ONLY_ITEMS.contains(&kind) => {}
            other => {
                return Err(InvalidRequest::at(format!("unknown input item type '{other}'"), format!("{path}.type")));
            }
        }
    }
    Ok(())
}

fn call_id(item: &Map<String, Value>, path: &str) -> Result<String, InvalidRequest> {
    Ok(req_str(item, "call_id", path)?.to_string())
}

fn text_part(text: &str) -> Part {
    Part::Text { text: text.to_string(), cache_control: None }
}

/// The summary texts (or, without a summary, the reasoning text) of a `reasoning` item.
fn reasoning_text(item: &Map<String, Value>) -> String {
    let texts = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() { texts("content").join("\n\n") } else { summary.join("\n\n") }
}

/// A message's `content`: a string, or a list of parts.
fn decode_content(content: &Value, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text_part(text)]),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let part_path = format!("{path}[{i}]");
                out.extend(decode_part(as_object(part, &part_path)?, &part_path)?);
            }
            Ok(out)
        }
        _ => Err(InvalidRequest::wrong_type(path.to_string(), "a string or an array of parts")),
    }
}

fn decode_part(part: &Map<String, Value>, path: &str) -> Result<Option<Part>, InvalidRequest> {
    Ok(match part.get("type").and_then(Value::as_str).unwrap_or_default() {
        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => {
            let text = req_str(part, "text", path)?;
            (!text.is_empty()).then(|| text_part(text))
        }
        "refusal" => Some(Part::Refusal(req_str(part, "refusal", path)?.to_string())),
        "input_image" => {
            if let Some(url) = opt_str(part, "image_url", path)? {
                Some(Part::Image(image_source(url, &format!("{path}.image_url"))?))
            } else if let Some(file) = opt_str(part, "file_id", path)? {
                Some(Part::Image(ImageSource::FileRef(file.to_string())))
            } else {
                return Err(InvalidRequest::missing(format!("{path}.image_url")));
            }
        }
        "input_file" => {
            let title = opt_str(part, "filename", path)?.map(str::to_string);
            if let Some(data) = opt_str(part, "file_data", path)? {
                let (media_type, data) = parse_data_url(data, &format!("{path}.file_data"))?;
                Some(Part::Document { source: DocumentSource::Base64 { media_type, data }, title })
            } else if let Some(url) = opt_str(part, "file_url", path)? {
                Some(Part::Document { source: DocumentSource::Url(url.to_string()), title })
            } else {
                return Err(InvalidRequest::at(
                    format!(
                        "'{path}' needs file_data or file_url on this route (file ids live only on OpenAI's servers)"
                    ),
                    path.to_string(),
                ));
            }
        }
        other => {
            return Err(InvalidRequest::at(format!("unknown content part type '{other}'"), format!("{path}.type")));
        }
    })
}

fn image_source(url: &str, path: &str) -> Result<ImageSource, InvalidRequest> {
    if is_data_url(url) {
        let (media_type, data) = parse_data_url(url, path)?;
        Ok(ImageSource::Base64 { media_type, data })
    } else {
        Ok(ImageSource::Url(url.to_string()))
    }
}

/// A tool output: a string, or a list of `input_text` / `input_image` parts.
fn decode_output(output: &Value, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    match output {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text_part(text)]),
        Value::Array(_) => decode_content(output, path),
        other => Ok(vec![text_part(&other.to_string())]),
    }
}
