//! A client's OpenAI Chat Completions request decoded into the canonical model (translation
//! specification §4, Chat columns), for models served by an upstream of another family
//! (Chat → canonical → Messages). Pure: no IO, and every failure is an [`InvalidRequest`] naming
//! the offending field by its path (`messages[2].content[0].type`), never a panic.
//!
//! What the canonical model cannot carry is either refused (content the target cannot represent:
//! audio, several choices, structured output with a schema, audio output) or, for parameters the
//! spec lets targets drop, named by [`dropped_params`] for `x-llmkp-dropped-params`.

use serde_json::{Map, Value, json};

use crate::formats::fields::{
    as_object, get, join, opt_bool, opt_f64, opt_str, opt_u64, req_messages, req_model, req_object, req_str, strings,
};

use super::translate::synthetic_call_id;
use crate::formats::InvalidRequest;
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolResult,
};

/// Reasoning efforts the canonical model knows (§4.11).
const EFFORTS: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// Chat parameters the canonical model has no field for; targets of other families drop them (§4.9).
const UNCARRIED: [&str; 6] =
    ["seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias"];

/// The prefix by which Chat marks a failed tool call's result (§4.7).
const ERROR_PREFIX: &str = "Error: ";

/// A Chat Completions request body (already a JSON object) in canonical form.
///
/// `system`/`developer` messages, wherever they stand, become [`Request::system`] in order;
/// consecutive `tool` (and legacy `function`) messages become one [`Role::Tool`] message whose
/// results keep their order. Unknown fields are ignored; the parameters [`dropped_params`] names
/// are accepted but not carried.
/// The conversation's opening in canonical form — its system messages before the first user
/// message, and that message — decoded without the rest of the history (session keys read only
/// this). Empty when those messages do not decode.
pub fn opening(body: &Map<String, Value>) -> Request {
    let items = get(body, "messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let role = |item: &Value| item.get("role").and_then(Value::as_str).unwrap_or_default().to_string();
    let first_user = items.iter().position(|item| role(item) == "user");
    let system = items[..first_user.unwrap_or(items.len())]
        .iter()
        .filter(|item| matches!(role(item).as_str(), "system" | "developer"));
    let messages: Vec<Value> = system.chain(first_user.map(|i| &items[i])).cloned().collect();
    let mut opening = Map::new();
    opening.insert("model".into(), Value::from("opening"));
    opening.insert("messages".into(), Value::Array(messages));
    decode_request(&opening).unwrap_or_default()
}

pub fn decode_request(body: &Map<String, Value>) -> Result<Request, InvalidRequest> {
    refuse_untranslatable(body)?;
    let model = req_model(body)?;
    let items = req_messages(body)?;
    let mut history = History::default();
    for (i, item) in items.iter().enumerate() {
        history.decode(item, i)?;
    }
    let max_completion_tokens = opt_u64(body, "max_completion_tokens", "")?;
    let max_tokens = opt_u64(body, "max_tokens", "")?;
    Ok(Request {
        model,
        system: history.system,
        messages: history.messages,
        tools: decode_tools(body)?,
        tool_choice: decode_tool_choice(body)?,
        parallel_tool_calls: opt_bool(body, "parallel_tool_calls", "")?,
        max_output_tokens: max_completion_tokens.or(max_tokens),
        temperature: opt_f64(body, "temperature", "")?,
        top_p: opt_f64(body, "top_p", "")?,
        top_k: opt_u64(body, "top_k", "")?,
        stop: decode_stop(body)?,
        reasoning: decode_reasoning(body)?,
        response_format: decode_response_format(body)?,
        stream: opt_bool(body, "stream", "")?.unwrap_or(false),
        user: decode_user(body)?,
    })
}

/// The request parameters present in `body` that [`decode_request`] accepts but cannot carry
/// into the canonical model (`seed`, penalties, `logprobs`, …), for `x-llmkp-dropped-params`.
pub fn dropped_params(body: &Map<String, Value>) -> Vec<&'static str> {
    UNCARRIED.into_iter().filter(|key| get(body, key).is_some_and(|v| v != &Value::Bool(false))).collect()
}

/// `response_format` (§4.10): `text` is the default and carries nothing.
fn decode_response_format(body: &Map<String, Value>) -> Result<Option<ResponseFormat>, InvalidRequest> {
    let Some(format) = get(body, "response_format") else { return Ok(None) };
    let format = as_object(format, "response_format")?;
    Ok(match req_str(format, "type", "response_format")? {
        "json_object" => Some(ResponseFormat::JsonObject),
        "json_schema" => {
            let spec = match format.get("json_schema") {
                Some(Value::Object(spec)) => spec,
                _ => return Err(InvalidRequest::missing("response_format.json_schema".into())),
            };
            Some(ResponseFormat::JsonSchema {
                name: opt_str(spec, "name", "response_format.json_schema")?.map(str::to_string),
                schema: spec.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
                strict: opt_bool(spec, "strict", "response_format.json_schema")?,
            })
        }
        _ => None,
    })
}

/// Parameters asking for something no non-Chat upstream can give through the canonical model:
/// several choices, a structured-output schema, audio output (principle 3: a 400, not a drop).
fn refuse_untranslatable(body: &Map<String, Value>) -> Result<(), InvalidRequest> {
    match get(body, "n").map(Value::as_u64) {
        None | Some(Some(1)) => {}
        Some(Some(0)) => return Err(InvalidRequest::at("'n' must be at least 1", "n")),
        Some(Some(n)) => {
            return Err(InvalidRequest::at(
                format!("n = {n} cannot be served: this model's upstream returns one choice per request; send n = 1"),
                "n",
            ));
        }
        Some(None) => return Err(InvalidRequest::wrong_type("n".into(), "a positive integer")),
    }
    if let Some(format) = get(body, "response_format") {
        let format = as_object(format, "response_format")?;
        match req_str(format, "type", "response_format")? {
            "text" | "json_object" | "json_schema" => {}
            other => {
                return Err(InvalidRequest::at(
                    format!("unknown response_format type '{other}' (expected text, json_object or json_schema)"),
                    "response_format.type",
                ));
            }
        }
    }
    if let Some(modalities) = get(body, "modalities") {
        let Value::Array(modalities) = modalities else {
            return Err(InvalidRequest::wrong_type("modalities".into(), "an array of strings"));
        };
        if modalities.iter().any(|m| m.as_str() != Some("text")) {
            return Err(InvalidRequest::at(
                "only text output can be produced by this model's upstream (modalities must be [\"text\"])",
                "modalities",
            ));
        }
    }
    Ok(())
}

/// The conversation being decoded: system text hoisted out, tool results grouped, legacy
/// `function_call`s waiting for their `function` answers.
#[derive(Default)]
struct History {
    system: Vec<Part>,
    messages: Vec<Message>,
    /// (synthetic id, name) of legacy calls not yet answered, oldest first.
    pending_functions: Vec<(String, String)>,
}

impl History {
    fn decode(&mut self, item: &Value, i: usize) -> Result<(), InvalidRequest> {
        let path = format!("messages[{i}]");
        let message = as_object(item, &path)?;
        match req_str(message, "role", &path)? {
            "system" | "developer" => {
                let parts = content(message, &path, true, |part, kind, path| text_only(part, kind, path, "system"))?;
                self.system.extend(without_empty_text(parts));
            }
            "user" => {
                let parts = content(message, &path, true, user_part)?;
                self.messages.push(Message { role: Role::User, parts });
            }
            "assistant" => {
                let parts = self.assistant(message, i, &path)?;
                self.messages.push(Message { role: Role::Assistant, parts });
            }
            "tool" => {
                let call_id = req_id(message, "tool_call_id", &path)?;
                self.push_result(tool_result(call_id, message, &path)?);
            }
            "function" => {
                let call_id = self.answered_function(message, &path)?;
                self.push_result(tool_result(call_id, message, &path)?);
            }
            other => {
                return Err(InvalidRequest::at(
                    format!(
                        "unknown role '{other}' at {path} (expected system, developer, user, assistant, tool or function)"
                    ),
                    format!("{path}.role"),
                ));
            }
        }
        Ok(())
    }

    /// Reasoning first, then text and refusals in order, then tool calls (§4.6, §4.8).
    fn assistant(&mut self, message: &Map<String, Value>, i: usize, path: &str) -> Result<Vec<Part>, InvalidRequest> {
        if get(message, "audio").is_some() {
            return Err(InvalidRequest::at(
                "earlier audio answers cannot be translated for this model's upstream",
                format!("{path}.audio"),
            ));
        }
        let mut parts = Vec::new();
        if let Some(text) = reasoning_text(message, path)? {
            parts.push(Part::Reasoning { text: text.to_string(), signature: None, redacted: None });
        }
        parts.extend(without_empty_text(content(message, path, false, assistant_part)?));
        if let Some(refusal) = opt_str(message, "refusal", path)?.filter(|r| !r.is_empty()) {
            parts.push(Part::Refusal(refusal.to_string()));
        }
        match get(message, "tool_calls") {
            None => {}
            Some(Value::Array(calls)) => {
                for (k, call) in calls.iter().enumerate() {
                    parts.push(Part::ToolCall(tool_call(call, &format!("{path}.tool_calls[{k}]"))?));
                }
            }
            Some(_) => return Err(InvalidRequest::wrong_type(format!("{path}.tool_calls"), "an array")),
        }
        if let Some(function) = get(message, "function_call") {
            let call = self.legacy_call(function, i, &format!("{path}.function_call"))?;
            parts.push(Part::ToolCall(call));
        }
        Ok(parts)
    }

    /// A legacy `function_call` gets a deterministic id, to be matched by name to the
    /// `function` message answering it (§4.6: results without id pair by position).
    fn legacy_call(&mut self, function: &Value, i: usize, path: &str) -> Result<ToolCall, InvalidRequest> {
        let function = as_object(function, path)?;
        let name = req_str(function, "name", path)?.to_string();
        let id = synthetic_call_id(&format!("function_call:{i}:{name}"));
        self.pending_functions.push((id.clone(), name.clone()));
        Ok(ToolCall { id, name, arguments: arguments(function), signature: None })
    }

    /// The id of the oldest unanswered legacy call with this `function` message's name.
    fn answered_function(&mut self, message: &Map<String, Value>, path: &str) -> Result<String, InvalidRequest> {
        let name = req_str(message, "name", path)?;
        match self.pending_functions.iter().position(|(_, n)| n == name) {
            Some(k) => Ok(self.pending_functions.remove(k).0),
            None => Err(InvalidRequest::at(
                format!("the function message at {path} answers no earlier assistant function_call named '{name}'"),
                format!("{path}.name"),
            )),
        }
    }

    /// Consecutive results share one tool message, as a Messages user turn holds them (§4.2).
    fn push_result(&mut self, result: ToolResult) {
        match self.messages.last_mut() {
            Some(last) if last.role == Role::Tool => last.parts.push(Part::ToolResult(result)),
            _ => self.messages.push(Message { role: Role::Tool, parts: vec![Part::ToolResult(result)] }),
        }
    }
}

/// `content` as parts: a string is one text part, an array is decoded part by part with
/// `decode_part(part, type, path)`. Absent content is an error only when `required`.
fn content(
    message: &Map<String, Value>,
    path: &str,
    required: bool,
    decode_part: impl Fn(&Map<String, Value>, &str, &str) -> Result<Part, InvalidRequest>,
) -> Result<Vec<Part>, InvalidRequest> {
    match get(message, "content") {
        None if required => Err(InvalidRequest::missing(format!("{path}.content"))),
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![plain_text(text)]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, item)| {
                let path = format!("{path}.content[{j}]");
                let part = as_object(item, &path)?;
                decode_part(part, req_str(part, "type", &path)?, &path)
            })
            .collect(),
        Some(_) => Err(InvalidRequest::wrong_type(format!("{path}.content"), "a string or an array of content parts")),
    }
}

fn plain_text(text: &str) -> Part {
    Part::Text { text: text.to_string(), cache_control: None }
}

/// A `text` part; `cache_control` (sent by some Chat clients for Anthropic models) is kept.
fn text_part(part: &Map<String, Value>, path: &str) -> Result<Part, InvalidRequest> {
    Ok(Part::Text {
        text: req_str(part, "text", path)?.to_string(),
        cache_control: get(part, "cache_control").cloned(),
    })
}

fn text_only(part: &Map<String, Value>, kind: &str, path: &str, role: &str) -> Result<Part, InvalidRequest> {
    match kind {
        "text" => text_part(part, path),
        other => Err(unsupported_part(other, path, &format!("{role} messages take text parts only"))),
    }
}

fn unsupported_part(kind: &str, path: &str, rule: &str) -> InvalidRequest {
    InvalidRequest::at(format!("unsupported content part type '{kind}' at {path} ({rule})"), format!("{path}.type"))
}

fn without_empty_text(parts: Vec<Part>) -> Vec<Part> {
    parts.into_iter().filter(|p| !matches!(p, Part::Text { text, .. } if text.is_empty())).collect()
}

fn user_part(part: &Map<String, Value>, kind: &str, path: &str) -> Result<Part, InvalidRequest> {
    match kind {
        "text" => text_part(part, path),
        "image_url" => image_part(part, path),
        "file" => file_part(part, path),
        "input_audio" => Err(InvalidRequest::at(
            format!(
                "audio input ({path}) cannot be translated for this model's upstream: the target family does not \
                 accept audio in this form; use a model served over the OpenAI Chat protocol"
            ),
            path.to_string(),
        )),
        other => Err(unsupported_part(other, path, "user messages take text, image_url and file parts")),
    }
}

fn assistant_part(part: &Map<String, Value>, kind: &str, path: &str) -> Result<Part, InvalidRequest> {
    match kind {
        "text" => text_part(part, path),
        "refusal" => Ok(Part::Refusal(req_str(part, "refusal", path)?.to_string())),
        other => Err(unsupported_part(other, path, "assistant messages take text and refusal parts")),
    }
}

/// `image_url.url` (or, as some clients send it, `image_url` itself): a data URL is inline
/// base64, anything else a URL (§4.3). `detail` has no canonical field and only OpenAI uses it.
fn image_part(part: &Map<String, Value>, path: &str) -> Result<Part, InvalidRequest> {
    let path = format!("{path}.image_url");
    let (url, url_path) = match get(part, "image_url") {
        Some(Value::String(url)) => (url.as_str(), path),
        Some(Value::Object(image)) => (req_str(image, "url", &path)?, format!("{path}.url")),
        None => return Err(InvalidRequest::missing(path)),
        Some(_) => return Err(InvalidRequest::wrong_type(path, "an object with a 'url'")),
    };
    if !is_data_url(url) {
        return Ok(Part::Image(ImageSource::Url(url.to_string())));
    }
    let (media_type, data) = parse_data_url(url, &url_path)?;
    Ok(Part::Image(ImageSource::Base64 { media_type, data }))
}

/// `file.file_data` (a data URL) is an inline document titled by `filename`; `file_id`
/// references have no canonical form for documents and are refused.
fn file_part(part: &Map<String, Value>, path: &str) -> Result<Part, InvalidRequest> {
    let path = format!("{path}.file");
    let file = req_object(part, "file", &path)?;
    let filename = opt_str(file, "filename", &path)?;
    let Some(file_data) = opt_str(file, "file_data", &path)? else {
        if let Some(id) = opt_str(file, "file_id", &path)? {
            return Err(InvalidRequest::at(
                format!(
                    "file reference '{id}' cannot be translated for this model's upstream; send the file inline as file_data"
                ),
                format!("{path}.file_id"),
            ));
        }
        return Err(InvalidRequest::missing(format!("{path}.file_data")));
    };
    let (media_type, data) = parse_data_url(file_data, &format!("{path}.file_data"))?;
    // The Chat encoder names an untitled document this way; reading it back as untitled keeps
    // canonical → Chat → canonical the identity.
    let title = filename.filter(|name| *name != default_filename(&media_type)).map(str::to_string);
    Ok(Part::Document { source: DocumentSource::Base64 { media_type, data }, title })
}

fn default_filename(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => "document.pdf",
        "text/plain" => "document.txt",
        _ => "document",
    }
}

pub(crate) fn is_data_url(url: &str) -> bool {
    url.get(..5).is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
}

/// `data:<media type>[;params];base64,<data>` as (media type, data); anything else is a 400 (§4.3).
pub(crate) fn parse_data_url(url: &str, path: &str) -> Result<(String, String), InvalidRequest> {
    let malformed = || {
        InvalidRequest::at(
            format!("malformed data URL at {path} (expected data:<media type>;base64,<data>)"),
            path.to_string(),
        )
    };
    let rest = url.get(5..).filter(|_| is_data_url(url)).ok_or_else(malformed)?;
    let (meta, data) = rest.split_once(',').ok_or_else(malformed)?;
    let base64 = meta.rsplit(';').next().is_some_and(|last| last.eq_ignore_ascii_case("base64"));
    let media_type = meta.split(';').next().unwrap_or_default().trim();
    if !base64 || !media_type.contains('/') || data.is_empty() {
        return Err(malformed());
    }
    Ok((media_type.to_string(), data.to_string()))
}

/// `reasoning_content`, or its alias `reasoning` (§4.8); empty text is none.
fn reasoning_text<'a>(message: &'a Map<String, Value>, path: &str) -> Result<Option<&'a str>, InvalidRequest> {
    let content = opt_str(message, "reasoning_content", path)?.filter(|t| !t.is_empty());
    match content {
        Some(text) => Ok(Some(text)),
        None => Ok(opt_str(message, "reasoning", path)?.filter(|t| !t.is_empty())),
    }
}

fn tool_call(call: &Value, path: &str) -> Result<ToolCall, InvalidRequest> {
    let call = as_object(call, path)?;
    if let Some(kind) = opt_str(call, "type", path)?.filter(|k| *k != "function") {
        return Err(InvalidRequest::at(
            format!("tool call type '{kind}' at {path} cannot be translated (only function calls can)"),
            format!("{path}.type"),
        ));
    }
    let function = req_object(call, "function", &join(path, "function"))?;
    Ok(ToolCall {
        id: req_id(call, "id", path)?,
        name: req_str(function, "name", &join(path, "function"))?.to_string(),
        arguments: arguments(function),
        signature: None,
    })
}

/// The JSON text of `arguments`: a string as sent, any other JSON serialised, absent `{}`.
fn arguments(function: &Map<String, Value>) -> String {
    match get(function, "arguments") {
        None => "{}".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A `tool` or `function` message's content (string or text parts) as a result of `call_id`.
/// Chat has no error flag: content starting with `Error: ` is how it marks one (§4.7), and the
/// text is kept as sent.
fn tool_result(call_id: String, message: &Map<String, Value>, path: &str) -> Result<ToolResult, InvalidRequest> {
    let content =
        without_empty_text(content(message, path, true, |part, kind, path| text_only(part, kind, path, "tool"))?);
    let is_error = matches!(content.first(), Some(Part::Text { text, .. }) if text.starts_with(ERROR_PREFIX));
    Ok(ToolResult { call_id, content, is_error })
}

/// `tools` (function tools only) followed by the legacy `functions`.
fn decode_tools(body: &Map<String, Value>) -> Result<Vec<Tool>, InvalidRequest> {
    let mut tools = Vec::new();
    for (key, legacy) in [("tools", false), ("functions", true)] {
        match get(body, key) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{key}[{i}]");
                    let item = as_object(item, &path)?;
                    tools.push(if legacy { function_declaration(item, &path)? } else { function_tool(item, &path)? });
                }
            }
            Some(_) => return Err(InvalidRequest::wrong_type(key.into(), "an array")),
        }
    }
    Ok(tools)
}

fn function_tool(tool: &Map<String, Value>, path: &str) -> Result<Tool, InvalidRequest> {
    if let Some(kind) = opt_str(tool, "type", path)?.filter(|k| *k != "function") {
        return Err(InvalidRequest::at(
            format!(
                "tool type '{kind}' at {path} cannot be translated for this model's upstream (only function tools can)"
            ),
            format!("{path}.type"),
        ));
    }
    let path = join(path, "function");
    function_declaration(req_object(tool, "function", &path)?, &path)
}

/// `{name, description, parameters, strict}`; missing parameters are an empty object schema (§4.4).
fn function_declaration(function: &Map<String, Value>, path: &str) -> Result<Tool, InvalidRequest> {
    let parameters = match get(function, "parameters") {
        None => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => return Err(InvalidRequest::wrong_type(join(path, "parameters"), "an object")),
    };
    Ok(Tool::Function {
        name: req_str(function, "name", path)?.to_string(),
        description: opt_str(function, "description", path)?.map(str::to_string),
        parameters,
        strict: opt_bool(function, "strict", path)?,
        cache_control: None,
    })
}

/// `tool_choice`, else the legacy `function_call` (§4.5); unknown values are a 400.
fn decode_tool_choice(body: &Map<String, Value>) -> Result<Option<ToolChoice>, InvalidRequest> {
    let (path, value) = match (get(body, "tool_choice"), get(body, "function_call")) {
        (Some(choice), _) => ("tool_choice", choice),
        (None, Some(legacy)) => ("function_call", legacy),
        (None, None) => return Ok(None),
    };
    let choice = match value {
        Value::String(mode) => match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" if path == "tool_choice" => ToolChoice::Required,
            other => {
                return Err(InvalidRequest::at(
                    format!("unknown {path} '{other}' (expected \"auto\", \"none\", \"required\" or a function)"),
                    path,
                ));
            }
        },
        Value::Object(choice) if path == "function_call" => ToolChoice::Specific(req_str(choice, "name", path)?.into()),
        Value::Object(choice) => {
            let kind = req_str(choice, "type", path)?;
            if kind != "function" {
                return Err(InvalidRequest::at(
                    format!("unsupported tool_choice type '{kind}' (expected \"function\")"),
                    "tool_choice.type",
                ));
            }
            let function = req_object(choice, "function", "tool_choice.function")?;
            ToolChoice::Specific(req_str(function, "name", "tool_choice.function")?.to_string())
        }
        _ => return Err(InvalidRequest::wrong_type(path.into(), "a string or an object")),
    };
    Ok(Some(choice))
}

/// `stop`: one string or an array of strings.
fn decode_stop(body: &Map<String, Value>) -> Result<Vec<String>, InvalidRequest> {
    match get(body, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(stop)) => Ok(vec![stop.clone()]),
        Some(Value::Array(items)) => strings(items, "stop"),
        Some(_) => Err(InvalidRequest::wrong_type("stop".into(), "a string or an array of strings")),
    }
}

/// `reasoning_effort` as given, `none` and `minimal` included; unknown efforts are a 400 (§4.11).
fn decode_reasoning(body: &Map<String, Value>) -> Result<Option<Reasoning>, InvalidRequest> {
    match opt_str(body, "reasoning_effort", "")? {
        None => Ok(None),
        Some(effort) if EFFORTS.contains(&effort) => Ok(Some(Reasoning::Effort(effort.to_string()))),
        Some(effort) => Err(InvalidRequest::at(
            format!("unknown reasoning_effort '{effort}' (expected one of {})", EFFORTS.join(", ")),
            "reasoning_effort",
        )),
    }
}

/// The end-user hint: `user`, else a string `metadata.user_id` (§4.9).
fn decode_user(body: &Map<String, Value>) -> Result<Option<String>, InvalidRequest> {
    if let Some(user) = opt_str(body, "user", "")? {
        return Ok(Some(user.to_string()));
    }
    let metadata = get(body, "metadata").and_then(Value::as_object);
    Ok(metadata.and_then(|m| m.get("user_id")).and_then(Value::as_str).map(str::to_string))
}

/// A tool call id: a non-empty string (results are paired with calls by it).
fn req_id(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<String, InvalidRequest> {
    match req_str(obj, key, prefix)? {
        "" => Err(InvalidRequest::at(format!("'{}' must not be empty", join(prefix, key)), join(prefix, key))),
        id => Ok(id.to_string()),
    }
}

#[cfg(test)]
mod tests;
