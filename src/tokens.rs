//! Offline token counting (translation.md §11): the BPE encodings bundled with tiktoken-rs, the
//! right one per OpenAI model family, and the `o200k_base` estimate for every other model.
//!
//! Encodings are loaded once, on first use, by tiktoken-rs' singletons, and shared from then on;
//! [`warm`] pays that cost ahead of time. `serve` does not warm them: an encoding is tens of MB
//! of memory, and a gateway that never counts tokens never loads one. Counting is CPU work proportional to the input: async callers should run it on
//! a blocking thread.

use serde::Serialize;
use serde_json::Value;

use crate::formats::ir;
use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};

/// Tokens counted per image (the `IMAGE_TOKEN_ESTIMATE` default of config.md).
pub const IMAGE_TOKEN_ESTIMATE: usize = 1600;
/// OpenAI's documented overhead of one chat message (`<|start|>role … <|end|>`).
pub const TOKENS_PER_MESSAGE: usize = 3;
/// OpenAI's documented priming of the reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: usize = 3;

/// The result of a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenCount {
    pub tokens: usize,
    /// The encoding used, e.g. `o200k_base`.
    pub encoding: &'static str,
    /// True when the model's own encoding was used and nothing was estimated (images,
    /// documents, tool definitions and unknown blocks are estimates). Only OpenAI models have a
    /// bundled encoding; every other model gets the `o200k_base` estimate.
    pub exact: bool,
}

/// A request body that cannot be counted: the message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TokenError {
    pub message: String,
}

impl TokenError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// The API family a messages body is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Chat Completions: `messages` with roles system/developer/user/assistant/tool, `tools`
    /// of `{"type":"function","function":{…}}`.
    OpenAi,
    /// Messages: top-level `system`, content blocks (`text`, `image`, `tool_use`,
    /// `tool_result`, …), `tools` with `input_schema`.
    Anthropic,
    /// Responses: `instructions` and `input` (a string, or items: messages, function calls and
    /// their outputs, reasoning), `tools`.
    Responses,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Responses => "responses",
        }
    }

    /// The family a body's shape shows; OpenAI when nothing tells them apart (plain
    /// `{"role","content":"…"}` messages count the same either way).
    pub fn detect(body: &Value) -> Self {
        if body.get("input").is_some() && body.get("messages").is_none() {
            return Self::Responses;
        }
        if body.get("system").is_some_and(|s| !s.is_null()) {
            return Self::Anthropic;
        }
        if let Some(tools) = body.get("tools").and_then(Value::as_array) {
            if tools.iter().any(|t| t.get("input_schema").is_some()) {
                return Self::Anthropic;
            }
            if tools.iter().any(|t| t.get("function").is_some()) {
                return Self::OpenAi;
            }
        }
        for message in messages_of(body).into_iter().flatten() {
            let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
            if matches!(role, "system" | "developer" | "tool" | "function")
                || ["tool_calls", "tool_call_id", "function_call"].iter().any(|k| message.get(k).is_some())
            {
                return Self::OpenAi;
            }
            let parts = message.get("content").and_then(Value::as_array).into_iter().flatten();
            for kind in parts.filter_map(|p| p.get("type").and_then(Value::as_str)) {
                match kind {
                    "tool_use" | "tool_result" | "image" | "document" | "thinking" | "redacted_thinking" => {
                        return Self::Anthropic;
                    }
                    "image_url" | "input_audio" | "file" | "input_text" | "input_image" => return Self::OpenAi,
                    _ => {}
                }
            }
        }
        Self::OpenAi
    }
}

/// How [`count_messages_with`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountOptions {
    /// `None`: detect from the body's shape.
    pub format: Option<Family>,
    /// Tokens per image.
    pub image_tokens: usize,
}

impl Default for CountOptions {
    fn default() -> Self {
        Self { format: None, image_tokens: IMAGE_TOKEN_ESTIMATE }
    }
}

/// Loads the `o200k_base` encoding now, so that the first count does not pay for it.
pub fn warm() {
    let _ = tiktoken_rs::o200k_base_singleton();
}

/// The tokens of `text` for `model` (`provider/model` or a bare model name).
pub fn count_text(model: &str, text: &str) -> TokenCount {
    let encoding = Encoding::for_model(model);
    TokenCount { tokens: encoding.bpe.count_ordinary(text), encoding: encoding.name, exact: encoding.exact }
}

/// The prompt tokens of a request body — a Chat Completions or Messages request, or a bare
/// array of messages — in the format its shape shows.
pub fn count_messages(model: &str, body: &Value) -> Result<TokenCount, TokenError> {
    count_messages_with(model, body, &CountOptions::default())
}

/// [`count_messages`] with the format forced or a different image estimate.
pub fn count_messages_with(model: &str, body: &Value, options: &CountOptions) -> Result<TokenCount, TokenError> {
    let wrapped;
    let body = if body.is_array() {
        wrapped = serde_json::json!({ "messages": body });
        &wrapped
    } else if body.is_object() {
        body
    } else {
        return Err(TokenError::new("the body must be a JSON object with `messages` or an array of messages"));
    };
    let encoding = Encoding::for_model(model);
    let mut counter = Counter { bpe: encoding.bpe, image_tokens: options.image_tokens, tokens: 0, estimated: false };
    match options.format.unwrap_or_else(|| Family::detect(body)) {
        Family::OpenAi => counter.openai(body)?,
        Family::Anthropic => counter.anthropic(body)?,
        Family::Responses => counter.responses(body)?,
    }
    counter.tokens += REPLY_PRIMING_TOKENS;
    Ok(TokenCount { tokens: counter.tokens, encoding: encoding.name, exact: encoding.exact && !counter.estimated })
}

/// The prompt tokens of a request in canonical form, whatever family it came in: the system
/// prompt and every message (with the same per-message overhead and reply priming as
/// [`count_messages`]), tool calls as name and arguments, tool results as their content, tool
/// definitions as their compact JSON.
pub fn count_request(model: &str, request: &ir::Request) -> TokenCount {
    let encoding = Encoding::for_model(model);
    let mut counter = Counter { bpe: encoding.bpe, image_tokens: IMAGE_TOKEN_ESTIMATE, tokens: 0, estimated: false };
    if !request.system.is_empty() {
        counter.tokens += TOKENS_PER_MESSAGE;
        request.system.iter().for_each(|part| counter.part(part));
    }
    for message in &request.messages {
        counter.tokens += TOKENS_PER_MESSAGE;
        message.parts.iter().for_each(|part| counter.part(part));
    }
    for tool in &request.tools {
        let definition = match tool {
            ir::Tool::Function { name, description, parameters, .. } => {
                serde_json::json!({"name": name, "description": description, "parameters": parameters})
            }
            ir::Tool::Server { raw, .. } => Value::Object(raw.clone()),
        };
        counter.json(&definition);
    }
    counter.tokens += REPLY_PRIMING_TOKENS;
    TokenCount { tokens: counter.tokens, encoding: encoding.name, exact: encoding.exact && !counter.estimated }
}

fn messages_of(body: &Value) -> Option<&Vec<Value>> {
    body.get("messages").and_then(Value::as_array)
}

/// The encoding for a model and whether it is the model's own.
struct Encoding {
    bpe: &'static CoreBPE,
    name: &'static str,
    exact: bool,
}

impl Encoding {
    fn for_model(model: &str) -> Self {
        // `provider/model`: the provider says nothing about the tokenizer; OpenRouter-style ids
        // keep the vendor (`openrouter/openai/gpt-4o`).
        let name = model.split_once('/').map_or(model, |(_, rest)| rest);
        let name = name.strip_prefix("openai/").unwrap_or(name).to_ascii_lowercase();
        match get_tokenizer(&name) {
            Some(tokenizer) => {
                let (bpe, name) = bundled(tokenizer);
                Self { bpe, name, exact: true }
            }
            None => Self { bpe: tiktoken_rs::o200k_base_singleton(), name: "o200k_base", exact: false },
        }
    }
}

fn bundled(tokenizer: Tokenizer) -> (&'static CoreBPE, &'static str) {
    match tokenizer {
        Tokenizer::O200kHarmony => (tiktoken_rs::o200k_harmony_singleton(), "o200k_harmony"),
        Tokenizer::O200kBase => (tiktoken_rs::o200k_base_singleton(), "o200k_base"),
        Tokenizer::Cl100kBase => (tiktoken_rs::cl100k_base_singleton(), "cl100k_base"),
        Tokenizer::P50kBase => (tiktoken_rs::p50k_base_singleton(), "p50k_base"),
        Tokenizer::P50kEdit => (tiktoken_rs::p50k_edit_singleton(), "p50k_edit"),
        Tokenizer::R50kBase => (tiktoken_rs::r50k_base_singleton(), "r50k_base"),
        // GPT-2's encoding is r50k_base under its older name.
        Tokenizer::Gpt2 => (tiktoken_rs::r50k_base_singleton(), "gpt2"),
    }
}

/// Bytes a base64 payload (possibly a `data:` URL) decodes to.
fn decoded_len(data: &str) -> usize {
    let payload = data.split_once(";base64,").map_or(data, |(_, b64)| b64);
    let payload = payload.trim_end_matches('=');
    payload.bytes().filter(|b| !b.is_ascii_whitespace()).count() * 3 / 4
}

struct Counter {
    bpe: &'static CoreBPE,
    image_tokens: usize,
    tokens: usize,
    /// Something was counted by a rule of thumb rather than by the encoding.
    estimated: bool,
}

impl Counter {
    /// One canonical part, as the model would read it.
    fn part(&mut self, part: &ir::Part) {
        match part {
            ir::Part::Text { text, .. } | ir::Part::Refusal(text) => self.text(text),
            ir::Part::Reasoning { text, .. } => self.text(text),
            ir::Part::Image(_) => self.image(),
            ir::Part::Document { source, title } => {
                if let Some(title) = title {
                    self.text(title);
                }
                match source {
                    ir::DocumentSource::PlainText(text) => self.text(text),
                    ir::DocumentSource::Base64 { data, .. } => self.document(data),
                    ir::DocumentSource::Url(url) => self.text(url),
                }
            }
            ir::Part::ToolCall(call) => {
                self.text(&call.name);
                self.text(&call.arguments);
            }
            ir::Part::ToolResult(result) => result.content.iter().for_each(|part| self.part(part)),
        }
    }

    fn text(&mut self, text: &str) {
        self.tokens += self.bpe.count_ordinary(text);
    }

    /// A structure the model sees in some rendering of its own: its compact JSON.
    fn json(&mut self, value: &Value) {
        self.text(&value.to_string());
        self.estimated = true;
    }

    fn image(&mut self) {
        self.tokens += self.image_tokens;
        self.estimated = true;
    }

    /// A binary document: one token per 4 decoded bytes.
    fn document(&mut self, base64: &str) {
        self.tokens += decoded_len(base64).div_ceil(4);
        self.estimated = true;
    }

    /// The field's text, or the whole `part` as JSON when the field is not a string.
    fn text_or_json(&mut self, field: Option<&Value>, part: &Value) {
        match field.and_then(Value::as_str) {
            Some(text) => self.text(text),
            None => self.json(part),
        }
    }

    /// The field's base64 payload as a document, or the whole `part` as JSON.
    fn document_or_json(&mut self, field: Option<&Value>, part: &Value) {
        match field.and_then(Value::as_str) {
            Some(data) => self.document(data),
            None => self.json(part),
        }
    }

    fn tools(&mut self, body: &Value, key: &str) -> Result<(), TokenError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Array(tools)) => {
                tools.iter().for_each(|tool| self.json(tool));
                Ok(())
            }
            Some(_) => Err(TokenError::new(format!("`{key}` must be an array"))),
        }
    }

    fn openai(&mut self, body: &Value) -> Result<(), TokenError> {
        for (i, message) in required_messages(body)?.iter().enumerate() {
            let Some(fields) = message.as_object() else {
                return Err(TokenError::new(format!("messages[{i}] must be an object")));
            };
            self.tokens += TOKENS_PER_MESSAGE;
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("content", content) => self.openai_content(content, &format!("messages[{i}].content"))?,
                    ("tool_calls", Value::Array(calls)) => calls.iter().for_each(|call| self.openai_call(call)),
                    ("function_call", call) => self.openai_function(call),
                    ("name", Value::String(name)) => {
                        self.text(name);
                        self.tokens += 1;
                    }
                    (_, Value::String(text)) => self.text(text),
                    _ => {}
                }
            }
        }
        self.tools(body, "tools")?;
        self.tools(body, "functions")
    }

    fn openai_content(&mut self, content: &Value, path: &str) -> Result<(), TokenError> {
        let parts = match content {
            Value::Null => return Ok(()),
            Value::String(text) => {
                self.text(text);
                return Ok(());
            }
            Value::Array(parts) => parts,
            _ => return Err(TokenError::new(format!("{path} must be a string or an array of content parts"))),
        };
        for (j, part) in parts.iter().enumerate() {
            let kind = match part {
                Value::String(text) => {
                    self.text(text);
                    continue;
                }
                Value::Object(_) => part.get("type").and_then(Value::as_str).unwrap_or_default(),
                _ => return Err(TokenError::new(format!("{path}[{j}] must be an object"))),
            };
            match kind {
                "text" | "input_text" | "output_text" => self.text_or_json(part.get("text"), part),
                "refusal" => self.text_or_json(part.get("refusal"), part),
                "image_url" | "input_image" | "image" => self.image(),
                "file" | "input_file" => {
                    self.document_or_json(
                        part.get("file").and_then(|f| f.get("file_data")).or(part.get("file_data")),
                        part,
                    );
                }
                "input_audio" => self.document_or_json(part.get("input_audio").and_then(|a| a.get("data")), part),
                _ => self.json(part),
            }
        }
        Ok(())
    }

    fn openai_call(&mut self, call: &Value) {
        match call.get("function") {
            Some(function) => self.openai_function(function),
            None => self.json(call),
        }
    }

    fn openai_function(&mut self, function: &Value) {
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            self.text(name);
        }
        match function.get("arguments") {
            Some(Value::String(arguments)) => self.text(arguments),
            Some(Value::Null) | None => {}
            Some(other) => self.json(other),
        }
    }

    fn responses(&mut self, body: &Value) -> Result<(), TokenError> {
        if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
            self.tokens += TOKENS_PER_MESSAGE;
            self.text(instructions);
        }
        match body.get("input") {
            Some(Value::String(text)) => {
                self.tokens += TOKENS_PER_MESSAGE;
                self.text(text);
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        return Err(TokenError::new(format!("input[{i}] must be an object")));
                    }
                    self.tokens += TOKENS_PER_MESSAGE;
                    self.responses_item(item, &format!("input[{i}]"))?;
                }
            }
            None | Some(Value::Null) => return Err(TokenError::new("`input` is required")),
            Some(_) => return Err(TokenError::new("`input` must be a string or an array of items")),
        }
        self.tools(body, "tools")
    }

    fn responses_item(&mut self, item: &Value, path: &str) -> Result<(), TokenError> {
        match item.get("type").and_then(Value::as_str).unwrap_or("message") {
            "message" => self.openai_content(item.get("content").unwrap_or(&Value::Null), &format!("{path}.content")),
            "function_call" | "custom_tool_call" => {
                self.text(item.get("name").and_then(Value::as_str).unwrap_or_default());
                self.text_or_json(item.get("arguments").or(item.get("input")), item);
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" => {
                self.text_or_json(item.get("output"), item);
                Ok(())
            }
            "reasoning" => {
                let summary = item.get("summary").and_then(Value::as_array).into_iter().flatten();
                summary.for_each(|part| self.text_or_json(part.get("text"), part));
                Ok(())
            }
            _ => {
                self.json(item);
                Ok(())
            }
        }
    }

    fn anthropic(&mut self, body: &Value) -> Result<(), TokenError> {
        match body.get("system") {
            None | Some(Value::Null) => {}
            Some(system @ (Value::String(_) | Value::Array(_))) => {
                self.tokens += TOKENS_PER_MESSAGE;
                self.anthropic_content(system, "system")?;
            }
            Some(_) => return Err(TokenError::new("`system` must be a string or an array of content blocks")),
        }
        for (i, message) in required_messages(body)?.iter().enumerate() {
            if !message.is_object() {
                return Err(TokenError::new(format!("messages[{i}] must be an object")));
            }
            self.tokens += TOKENS_PER_MESSAGE;
            if let Some(role) = message.get("role").and_then(Value::as_str) {
                self.text(role);
            }
            self.anthropic_content(message.get("content").unwrap_or(&Value::Null), &format!("messages[{i}].content"))?;
        }
        self.tools(body, "tools")
    }

    fn anthropic_content(&mut self, content: &Value, path: &str) -> Result<(), TokenError> {
        match content {
            Value::Null => Ok(()),
            Value::String(text) => {
                self.text(text);
                Ok(())
            }
            Value::Array(blocks) => self.anthropic_blocks(blocks, path),
            _ => Err(TokenError::new(format!("{path} must be a string or an array of content blocks"))),
        }
    }

    fn anthropic_blocks(&mut self, blocks: &[Value], path: &str) -> Result<(), TokenError> {
        for (j, block) in blocks.iter().enumerate() {
            if !block.is_object() {
                return Err(TokenError::new(format!("{path}[{j}] must be an object")));
            }
            match block.get("type").and_then(Value::as_str).unwrap_or_default() {
                "text" => self.text_or_json(block.get("text"), block),
                "thinking" => self.text_or_json(block.get("thinking"), block),
                "image" => self.image(),
                "document" => self.anthropic_document(block, &format!("{path}[{j}]"))?,
                "tool_use" | "server_tool_use" => {
                    self.text(block.get("name").and_then(Value::as_str).unwrap_or_default());
                    self.json(block.get("input").unwrap_or(&Value::Null));
                }
                "tool_result" => {
                    let content = block.get("content").unwrap_or(&Value::Null);
                    self.anthropic_content(content, &format!("{path}[{j}].content"))?;
                }
                _ => self.json(block),
            }
        }
        Ok(())
    }

    fn anthropic_document(&mut self, block: &Value, path: &str) -> Result<(), TokenError> {
        for name in ["title", "context"] {
            if let Some(text) = block.get(name).and_then(Value::as_str) {
                self.text(text);
            }
        }
        let source = block.get("source").unwrap_or(&Value::Null);
        let data = source.get("data");
        match (source.get("type").and_then(Value::as_str), data) {
            (Some("base64"), Some(Value::String(data))) => self.document(data),
            (Some("text"), Some(Value::String(text))) => self.text(text),
            (Some("content"), _) => {
                self.anthropic_content(source.get("content").unwrap_or(&Value::Null), &format!("{path}.source"))?;
            }
            _ => self.json(source),
        }
        Ok(())
    }
}

fn required_messages(body: &Value) -> Result<&Vec<Value>, TokenError> {
    match body.get("messages") {
        Some(Value::Array(messages)) => Ok(messages),
        None | Some(Value::Null) => Err(TokenError::new("`messages` is required")),
        Some(_) => Err(TokenError::new("`messages` must be an array")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hello_world_is_two_tokens_for_gpt_4o() {
        let count = count_text("gpt-4o", "hello world");
        assert_eq!(count, TokenCount { tokens: 2, encoding: "o200k_base", exact: true });
        assert_eq!(count_text("openai/gpt-4o", "hello world").tokens, 2);
        assert_eq!(count_text("openrouter/openai/gpt-4o-mini", "hello world").encoding, "o200k_base");
    }

    #[test]
    fn other_models_get_the_o200k_estimate() {
        for model in ["gemini/gemini-2.5-pro", "anthropic/claude-sonnet-4-5", "llama-3.3-70b", ""] {
            let count = count_text(model, "hello world");
            assert_eq!(count, TokenCount { tokens: 2, encoding: "o200k_base", exact: false }, "{model}");
        }
    }

    #[test]
    fn openai_messages_follow_the_documented_overheads() {
        let body = json!({"messages": [{"role": "user", "content": "hello world"}]});
        // 3 per message + "user" (1) + "hello world" (2) + 3 priming.
        assert_eq!(
            count_messages("gpt-4o", &body).unwrap(),
            TokenCount { tokens: 9, encoding: "o200k_base", exact: true }
        );
        let named = json!([{"role": "user", "name": "bob", "content": [{"type": "text", "text": "hello world"}]}]);
        assert_eq!(count_messages("gpt-4o", &named).unwrap().tokens, 9 + 2);
        let with_image = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]);
        let count = count_messages("gpt-4o", &with_image).unwrap();
        assert_eq!((count.tokens, count.exact), (7 + IMAGE_TOKEN_ESTIMATE, false));
    }

    #[test]
    fn tool_calls_and_tools_are_counted() {
        let plain = json!({"messages": [{"role": "user", "content": "weather?"}]});
        let mut with_tools = plain.clone();
        let parameters = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        with_tools["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
            "description": "Current weather for a city", "parameters": parameters}}]);
        let base = count_messages("gpt-4o", &plain).unwrap().tokens;
        assert!(count_messages("gpt-4o", &with_tools).unwrap().tokens > base + 20);
        let call = json!([{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}]);
        assert!(count_messages("gpt-4o", &call).unwrap().tokens > 10);
    }

    #[test]
    fn anthropic_bodies_count_system_blocks_and_tools() {
        let base = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
        let plain = count_messages("anthropic/claude-sonnet-4-5", &base).unwrap();
        assert!(!plain.exact);
        let system = "You are a careful assistant. ".repeat(200);
        let mut with_system = base.clone();
        with_system["system"] = json!([{"type": "text", "text": system}]);
        let grown = count_messages("anthropic/claude-sonnet-4-5", &with_system).unwrap().tokens - plain.tokens;
        let alone = count_text("claude-sonnet-4-5", &system).tokens;
        assert!(grown >= alone && grown <= alone + TOKENS_PER_MESSAGE, "{grown} vs {alone}");

        let mut with_tools = with_system.clone();
        with_tools["tools"] = json!([{"name": "get_weather", "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
        assert!(count_messages("claude-sonnet-4-5", &with_tools).unwrap().tokens > grown + plain.tokens + 15);
    }

    #[test]
    fn anthropic_blocks_of_every_kind() {
        let pdf = json!({"type": "base64", "media_type": "application/pdf", "data": "QUFB".repeat(100)});
        let body = json!({"system": "be brief", "messages": [
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                {"type": "document", "source": pdf}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}]}]});
        let count = count_messages("claude-haiku-4-5", &body).unwrap().tokens;
        // Four messages, an image and 300 decoded document bytes (75 tokens) dominate.
        assert!(count > IMAGE_TOKEN_ESTIMATE + 75 + 4 * TOKENS_PER_MESSAGE, "{count}");
        let same =
            count_messages_with("claude-haiku-4-5", &body, &CountOptions { image_tokens: 0, ..Default::default() });
        assert_eq!(same.unwrap().tokens, count - IMAGE_TOKEN_ESTIMATE);
    }

    #[test]
    fn counts_are_deterministic() {
        let body = json!({"messages": [{"role": "user", "content": "same input, same number"}], "tools": [{"a": 1}]});
        assert_eq!(count_messages("gemini-2.5-pro", &body), count_messages("gemini-2.5-pro", &body));
    }

    #[test]
    fn a_canonical_request_counts_like_its_chat_form() {
        use crate::formats::openai::decode_request::decode_request;
        let body = serde_json::json!({"model": "openai/gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the weather in Paris?"}
        ]});
        let canonical = decode_request(body.as_object().unwrap()).unwrap();
        let chat = count_messages("openai/gpt-4o", &body).unwrap();
        let counted = count_request("openai/gpt-4o", &canonical);
        // The Chat form also counts the role names; the canonical form has none.
        assert!(counted.tokens > 10 && counted.tokens <= chat.tokens, "{} vs {}", counted.tokens, chat.tokens);
        assert!(counted.exact);
        let mut with_tool = canonical.clone();
        with_tool.tools.push(crate::formats::ir::Tool::Function {
            name: "get_weather".into(),
            description: None,
            parameters: serde_json::json!({"type": "object"}),
            strict: None,
            cache_control: None,
        });
        let with_tool = count_request("openai/gpt-4o", &with_tool);
        assert!(with_tool.tokens > counted.tokens && !with_tool.exact, "tool definitions are estimated");
    }

    #[test]
    fn a_responses_body_counts_its_instructions_items_and_tools() {
        let body = serde_json::json!({"model": "gpt-4o", "instructions": "Be brief.", "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files"}]},
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt b.txt"}
        ]});
        assert_eq!(Family::detect(&body), Family::Responses);
        let counted = count_messages("openai/gpt-4o", &body).unwrap();
        let plain = count_messages("openai/gpt-4o", &serde_json::json!({"model": "gpt-4o", "input": "List the files"}))
            .unwrap();
        assert!(counted.tokens > plain.tokens + 10, "{} vs {}", counted.tokens, plain.tokens);
        assert!(count_messages("openai/gpt-4o", &serde_json::json!({"input": 5})).is_err());
    }
}
