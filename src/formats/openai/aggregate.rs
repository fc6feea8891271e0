//! Folds a stream of `chat.completion.chunk`s into the `chat.completion` a non-streaming client
//! expects (the proxy runs non-stream requests as upstream streams so the deadline rules apply).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::chunk::{is_content, stream_error};
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_stream_error};
use crate::formats::relay::{PassthroughFold, parse_object, premature_end};
use crate::formats::sse::SseEvent;

#[derive(Debug, Default)]
pub struct ChatAggregator {
    id: Option<Value>,
    created: Option<Value>,
    system_fingerprint: Option<Value>,
    service_tier: Option<Value>,
    usage: Option<Value>,
    choices: BTreeMap<u64, ChoiceState>,
}

#[derive(Debug, Default)]
struct ChoiceState {
    /// Message fields other than tool calls: strings are concatenated, other values replaced.
    fields: Map<String, Value>,
    tool_calls: BTreeMap<u64, ToolCallState>,
    finish_reason: Option<Value>,
    logprobs: Option<Value>,
}

#[derive(Debug, Default)]
struct ToolCallState {
    id: Option<Value>,
    kind: Option<Value>,
    name: String,
    arguments: String,
}

impl ChatAggregator {
    pub fn push(&mut self, chunk: &Map<String, Value>) {
        for (slot, key) in [
            (&mut self.id, "id"),
            (&mut self.created, "created"),
            (&mut self.system_fingerprint, "system_fingerprint"),
            (&mut self.service_tier, "service_tier"),
        ] {
            if slot.is_none() {
                *slot = chunk.get(key).filter(|v| !v.is_null()).cloned();
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else { return };
        for choice in choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let state = self.choices.entry(index).or_default();
            if let Some(reason) = choice.get("finish_reason").filter(|f| !f.is_null()) {
                state.finish_reason = Some(reason.clone());
            }
            if let Some(logprobs) = choice.get("logprobs").filter(|l| !l.is_null()) {
                state.logprobs = Some(logprobs.clone());
            }
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                state.push_delta(delta);
            }
        }
    }

    /// The usage reported so far.
    pub fn usage(&self) -> Option<&Value> {
        self.usage.as_ref()
    }

    /// Whether any choice has finished.
    pub fn finished(&self) -> bool {
        self.choices.values().any(|c| c.finish_reason.is_some())
    }

    /// Whether anything at all was produced: content, a tool call or a finish reason. A role
    /// chunk with `content: ""` is not an answer (an empty answer is an upstream failure).
    pub fn has_output(&self) -> bool {
        self.choices
            .values()
            .any(|c| c.finish_reason.is_some() || !c.tool_calls.is_empty() || c.fields.values().any(is_content))
    }

    /// The upstream ended the stream (`[DONE]`): a choice without a finish reason gets the one
    /// its output implies, so the client always sees why generation stopped.
    pub fn close(&mut self) {
        for choice in self.choices.values_mut() {
            if choice.finish_reason.is_none() {
                let reason = if choice.tool_calls.is_empty() { "stop" } else { "tool_calls" };
                choice.finish_reason = Some(json!(reason));
            }
        }
    }

    pub fn into_completion(self, model: &str) -> Value {
        let choices: Vec<Value> = self.choices.into_iter().map(|(index, c)| c.into_choice(index)).collect();
        let mut out = Map::new();
        out.insert("id".into(), self.id.unwrap_or_else(|| json!("chatcmpl-llmkp")));
        out.insert("object".into(), json!("chat.completion"));
        out.insert("created".into(), self.created.unwrap_or_else(|| json!(0)));
        out.insert("model".into(), json!(model));
        out.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = self.usage {
            out.insert("usage".into(), usage);
        }
        if let Some(fp) = self.system_fingerprint {
            out.insert("system_fingerprint".into(), fp);
        }
        if let Some(tier) = self.service_tier {
            out.insert("service_tier".into(), tier);
        }
        Value::Object(out)
    }
}

impl ChoiceState {
    fn push_delta(&mut self, delta: &Map<String, Value>) {
        for (key, value) in delta {
            match (key.as_str(), value) {
                ("role", _) | (_, Value::Null) => {}
                ("tool_calls", Value::Array(calls)) => calls.iter().for_each(|call| self.push_tool_call(call)),
                (_, Value::String(s)) => match self.fields.get_mut(key) {
                    Some(Value::String(existing)) => existing.push_str(s),
                    _ => {
                        self.fields.insert(key.clone(), value.clone());
                    }
                },
                _ => {
                    self.fields.insert(key.clone(), value.clone());
                }
            }
        }
    }

    fn push_tool_call(&mut self, call: &Value) {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(self.tool_calls.len() as u64);
        let state = self.tool_calls.entry(index).or_default();
        if let Some(id) = call.get("id").filter(|v| !v.is_null()) {
            state.id = Some(id.clone());
        }
        if let Some(kind) = call.get("type").filter(|v| !v.is_null()) {
            state.kind = Some(kind.clone());
        }
        if let Some(function) = call.get("function") {
            if let Some(name) = function.get("name").and_then(Value::as_str) {
                state.name.push_str(name);
            }
            if let Some(arguments) = function.get("arguments").and_then(Value::as_str) {
                state.arguments.push_str(arguments);
            }
        }
    }

    fn into_choice(self, index: u64) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        message.insert("content".into(), Value::Null);
        for (key, value) in self.fields {
            message.insert(key, value);
        }
        if !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self
                .tool_calls
                .into_values()
                .map(|c| {
                    json!({
                        "id": c.id.unwrap_or(Value::Null),
                        "type": c.kind.unwrap_or_else(|| json!("function")),
                        "function": {"name": c.name, "arguments": c.arguments},
                    })
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        message.entry("refusal").or_insert(Value::Null);
        json!({
            "index": index,
            "message": message,
            "logprobs": self.logprobs.unwrap_or(Value::Null),
            "finish_reason": self.finish_reason.unwrap_or(Value::Null),
        })
    }
}

/// A Chat stream folded into one `chat.completion`, as a passthrough client gets it.
impl PassthroughFold for ChatAggregator {
    fn push(&mut self, event: &SseEvent) -> Result<bool, UpstreamFailure> {
        if event.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk = parse_object(&event.data)?;
        if let Some(error) = stream_error(&chunk) {
            return Err(classify_stream_error(error));
        }
        ChatAggregator::push(self, &chunk);
        Ok(false)
    }

    fn finish(mut self: Box<Self>, served: &str, terminal: bool) -> Result<Map<String, Value>, UpstreamFailure> {
        if !self.has_output() {
            return Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream answered with no content"));
        }
        if !terminal && !self.finished() {
            return Err(premature_end(false));
        }
        self.close();
        match self.into_completion(served) {
            Value::Object(completion) => Ok(completion),
            _ => unreachable!("a completion is an object"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aggregate(chunks: &[Value]) -> Value {
        let mut agg = ChatAggregator::default();
        for c in chunks {
            agg.push(c.as_object().unwrap());
        }
        agg.into_completion("openai/gpt-4o")
    }

    #[test]
    fn text_deltas_concatenate_and_usage_is_kept() {
        let out = aggregate(&[
            json!({"id":"c1","created":5,"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}),
            json!({"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}),
        ]);
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["model"], "openai/gpt-4o");
        assert_eq!(out["id"], "c1");
        assert_eq!(out["choices"][0]["message"]["content"], "Hello");
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["usage"]["total_tokens"], 5);
    }

    #[test]
    fn tool_call_fragments_join_by_index() {
        let out = aggregate(&[
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        ]);
        let message = &out["choices"][0]["message"];
        assert!(message["content"].is_null());
        assert_eq!(message["tool_calls"][0]["function"]["arguments"], "{\"location\":\"Paris\"}");
        assert_eq!(message["tool_calls"][1]["id"], "call_2");
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn a_role_chunk_alone_is_no_output() {
        let mut agg = ChatAggregator::default();
        agg.push(json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}).as_object().unwrap());
        assert!(!agg.has_output());
    }

    #[test]
    fn closing_supplies_the_missing_finish_reason() {
        let mut agg = ChatAggregator::default();
        agg.push(json!({"choices":[{"index":0,"delta":{"content":"Hi"}}]}).as_object().unwrap());
        agg.push(json!({"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}).as_object().unwrap());
        agg.close();
        let out = agg.into_completion("m");
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["choices"][1]["finish_reason"], "tool_calls");
    }

    #[test]
    fn reasoning_and_vendor_fields_are_kept() {
        let out = aggregate(&[
            json!({"choices":[{"index":0,"delta":{"reasoning_content":"think "}}]}),
            json!({"choices":[{"index":0,"delta":{"reasoning_content":"more","content":"ok"},"finish_reason":"stop"}]}),
        ]);
        assert_eq!(out["choices"][0]["message"]["reasoning_content"], "think more");
    }
}
