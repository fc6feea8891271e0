//! The answers of the Anthropic mock: content blocks chosen by the model prefix.

use serde_json::{Value, json};

use super::super::shell_turn::{shell_answer, shell_call};
use super::{THINKING_SIGNATURE, random_alnum};

/// One content block of an answer.
pub(super) enum Block {
    Text(String),
    Thinking(String),
    ToolUse { id: String, name: String, input: Value },
}

impl Block {
    fn to_json(&self) -> Value {
        match self {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::Thinking(thinking) => {
                json!({"type": "thinking", "thinking": thinking, "signature": THINKING_SIGNATURE})
            }
            Block::ToolUse { id, name, input } => json!({"type": "tool_use", "id": id, "name": name, "input": input}),
        }
    }

    fn output_tokens(&self) -> u64 {
        match self {
            Block::Text(t) | Block::Thinking(t) => t.split_whitespace().count() as u64,
            Block::ToolUse { input, .. } => input.to_string().len() as u64 / 4 + 1,
        }
    }
}

/// A whole answer, rendered as one `message` or as a stream of events.
pub(super) struct Reply {
    pub(super) id: String,
    pub(super) model: String,
    pub(super) blocks: Vec<Block>,
    pub(super) stop_reason: &'static str,
    pub(super) input_tokens: u64,
}

impl Reply {
    pub(super) fn output_tokens(&self) -> u64 {
        self.blocks.iter().map(Block::output_tokens).sum::<u64>().max(1)
    }

    pub(super) fn message(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks.iter().map(Block::to_json).collect::<Vec<_>>(),
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": usage(self.input_tokens, self.output_tokens()),
        })
    }
}

pub(super) fn usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
        "service_tier": "standard",
    })
}

/// The answer chosen by the model prefix.
pub(super) fn build_reply(body: &Value, model: &str) -> Reply {
    let last = last_user_text(&body["messages"]);
    let greeting = format!("Hello from mock: {last}");
    let shell = model.starts_with("shell").then(|| shell_step(body));
    let (blocks, stop_reason) = if let Some(Some(step)) = shell {
        step
    } else if model.starts_with("tools-parallel") {
        (tool_blocks(&body["tools"], 2), "tool_use")
    } else if model.starts_with("tools-text") {
        let mut blocks = vec![Block::Text("Let me check that for you.".into())];
        blocks.extend(tool_blocks(&body["tools"], 1));
        (blocks, "tool_use")
    } else if model.starts_with("tools") {
        (tool_blocks(&body["tools"], 1), "tool_use")
    } else if model.starts_with("thinking") {
        let thought = format!("The user said \"{last}\". I should greet them back.");
        (vec![Block::Thinking(thought), Block::Text(greeting)], "end_turn")
    } else if model.starts_with("echo") {
        (vec![Block::Text(body.to_string())], "end_turn")
    } else if model.starts_with("length") {
        (vec![Block::Text(greeting)], "max_tokens")
    } else {
        (vec![Block::Text(greeting)], "end_turn")
    };
    Reply {
        id: format!("msg_01{}", random_alnum(22)),
        model: model.to_owned(),
        blocks,
        stop_reason,
        input_tokens: input_tokens(body),
    }
}

/// The `shell…` turn: a call of the client's shell tool, or the answer quoting its result
/// (`None` when the request offers no shell tool and carries no tool result).
fn shell_step(body: &Value) -> Option<(Vec<Block>, &'static str)> {
    let last = body["messages"].as_array().and_then(|ms| ms.last()).filter(|m| m["role"] == "user");
    let results: Vec<String> = last
        .and_then(|m| m["content"].as_array())
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| content_text(&b["content"]))
        .collect();
    if !results.is_empty() {
        return Some((vec![Block::Text(shell_answer(&results.join(" ")))], "end_turn"));
    }
    let names = body["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str());
    let (name, input) = shell_call(names)?;
    Some((vec![Block::ToolUse { id: "toolu_shell_1".into(), name, input }], "tool_use"))
}

/// `n` tool calls: the first `n` tools of the request (repeating the first if
/// there are fewer), or `get_weather` when the request has no tools. Ids are
/// `toolu_mock_1`, `toolu_mock_2`, …
fn tool_blocks(tools: &Value, n: usize) -> Vec<Block> {
    let tools = tools.as_array().map(Vec::as_slice).unwrap_or_default();
    (0..n)
        .map(|i| {
            let (name, input) = match tools.get(i).or(tools.first()) {
                Some(t) => (t["name"].as_str().unwrap_or("tool").to_owned(), input_for(&t["input_schema"])),
                None => ("get_weather".to_owned(), json!({"city": "Paris"})),
            };
            Block::ToolUse { id: format!("toolu_mock_{}", i + 1), name, input }
        })
        .collect()
}

/// An input object setting only the schema's first property: its first `enum`
/// value, else `"Paris"` / `1` / `true` / `[]` / `{}` by type; `{}` without properties.
fn input_for(schema: &Value) -> Value {
    let Some((name, prop)) = schema["properties"].as_object().and_then(|p| p.iter().next()) else {
        return json!({});
    };
    let value = if let Some(first) = prop["enum"].as_array().and_then(|e| e.first()) {
        first.clone()
    } else {
        match prop["type"].as_str() {
            Some("integer" | "number") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ => json!("Paris"),
        }
    };
    json!({ name: value })
}

/// Text of the last user message: string content, or its `text` blocks and
/// `tool_result` contents joined by spaces.
fn last_user_text(messages: &Value) -> String {
    let Some(m) = messages.as_array().and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user")) else {
        return String::new();
    };
    content_text(&m["content"])
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().map(str::to_owned),
                Some("tool_result") => Some(content_text(&b["content"])),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Rough token count of the prompt parts (`system`, `messages`, `tools`); always > 0.
/// `count_tokens` and `usage.input_tokens` agree for the same request.
pub(super) fn input_tokens(body: &Value) -> u64 {
    let chars: usize =
        ["system", "messages", "tools"].iter().filter_map(|k| body.get(*k)).map(|v| v.to_string().len()).sum();
    chars as u64 / 4 + 1
}
