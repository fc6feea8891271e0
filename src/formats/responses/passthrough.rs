//! Responses client, Responses upstream: every event forwarded as the upstream wrote it (unknown
//! events included), except that the `response` objects name the `provider/model` that serves.
//! The relay reads each event for commit, accounting and the terminal `response.completed` /
//! `response.incomplete`; `response.failed` and `error` events are upstream failures. The fold
//! turns such a stream into the complete `response` object for a non-stream client.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::response::error_json;
use super::upstream::decode_usage;
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_responses_error};
use crate::formats::ir::Usage;
use crate::formats::relay::{PassthroughFold, Relay, Step, parse_object, premature_end};
use crate::formats::sse::{SseEvent, write_event, write_event_text};

/// The event's type (the `event:` line, else the `type` field).
fn kind_of(event: &SseEvent, data: &Map<String, Value>) -> String {
    data.get("type").and_then(Value::as_str).map(str::to_string).or_else(|| event.event.clone()).unwrap_or_default()
}

/// The failure an `error` or `response.failed` event reports.
fn failure_of(kind: &str, data: &Map<String, Value>) -> Option<UpstreamFailure> {
    match kind {
        "error" => Some(classify_responses_error(data.get("error").unwrap_or(&Value::Object(data.clone())))),
        "response.failed" => {
            let error = data.get("response").and_then(|r| r.get("error")).cloned().unwrap_or(Value::Null);
            let mut failure = classify_responses_error(&error);
            if error.is_null() {
                failure.message = "upstream response failed".into();
            }
            Some(failure)
        }
        _ => None,
    }
}

/// The events whose `delta` is generated output: text, refusal, tool input, reasoning.
const OUTPUT_DELTAS: [&str; 6] = [
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
];

/// The characters of generated output an event carries (other events carry none of their own:
/// their items repeat what the deltas said).
fn output_chars(kind: &str, data: &Map<String, Value>) -> u64 {
    if !OUTPUT_DELTAS.contains(&kind) {
        return 0;
    }
    data.get("delta").and_then(Value::as_str).map_or(0, |delta| delta.chars().count() as u64)
}

/// Events that carry output (or a stop that explains its absence): they commit the stream.
fn carries_output(kind: &str, data: &Map<String, Value>) -> bool {
    if OUTPUT_DELTAS.contains(&kind) {
        return true;
    }
    match kind {
        "response.incomplete" => true,
        "response.output_item.added" | "response.output_item.done" => {
            let kind = data.get("item").and_then(|i| i.get("type")).and_then(Value::as_str).unwrap_or_default();
            kind != "message" && kind != "reasoning"
        }
        _ => false,
    }
}

fn is_terminal(kind: &str) -> bool {
    matches!(kind, "response.completed" | "response.incomplete")
}

pub struct ResponsesPassthrough {
    served: String,
    received: bool,
    /// The response id and creation time the upstream announced.
    id: Option<Value>,
    created_at: Option<Value>,
    last_sequence: Option<u64>,
    usage: Option<Usage>,
    output_chars: u64,
}

impl ResponsesPassthrough {
    /// `served` is the `provider/model` that serves, shown to the client.
    pub fn new(served: String) -> Self {
        Self { served, received: false, id: None, created_at: None, last_sequence: None, usage: None, output_chars: 0 }
    }
}

impl Relay for ResponsesPassthrough {
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure> {
        let mut data = parse_object(&event.data)?;
        let kind = kind_of(event, &data);
        if let Some(failure) = failure_of(&kind, &data) {
            return Err(failure);
        }
        self.received = true;
        self.output_chars += output_chars(&kind, &data);
        if let Some(sequence) = data.get("sequence_number").and_then(Value::as_u64) {
            self.last_sequence = Some(sequence);
        }
        // Events that carry the response object show the served model; the others pass as sent.
        let rewritten = match data.get_mut("response").and_then(Value::as_object_mut) {
            Some(response) => {
                self.id = response.get("id").cloned().or(self.id.take());
                self.created_at = response.get("created_at").cloned().or(self.created_at.take());
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    self.usage = Some(decode_usage(usage));
                }
                response.insert("model".into(), Value::String(self.served.clone()));
                true
            }
            None => false,
        };
        let mut frames = Vec::with_capacity(event.data.len() + kind.len() + 16);
        if rewritten {
            write_event(&mut frames, Some(&kind), &data);
        } else {
            write_event_text(&mut frames, Some(&kind), &event.data);
        }
        Ok(Step { frames, content: carries_output(&kind, &data), done: is_terminal(&kind) })
    }

    /// Responses streams end with `response.completed` or `response.incomplete`.
    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        Err(premature_end(!self.received))
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let response = json!({
            "id": self.id.clone().unwrap_or_else(|| json!(super::new_response_id())),
            "object": "response",
            "created_at": self.created_at.clone().unwrap_or(json!(0)),
            "status": "failed",
            "error": error_json(failure, message),
            "model": self.served,
            "output": [],
        });
        let sequence = self.last_sequence.map_or(0, |n| n + 1);
        let data = json!({"type": "response.failed", "sequence_number": sequence, "response": response});
        let mut out = Vec::new();
        write_event(&mut out, Some("response.failed"), &data);
        out
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn output_chars(&self) -> u64 {
        self.output_chars
    }
}

/// A Responses stream folded into its complete `response` object.
#[derive(Default)]
pub struct ResponsesFold {
    /// Finished output items by output index (for terminal objects that leave `output` empty).
    items: BTreeMap<u64, Value>,
    response: Option<Map<String, Value>>,
}

impl PassthroughFold for ResponsesFold {
    fn push(&mut self, event: &SseEvent) -> Result<bool, UpstreamFailure> {
        let data = parse_object(&event.data)?;
        let kind = kind_of(event, &data);
        if let Some(failure) = failure_of(&kind, &data) {
            return Err(failure);
        }
        if kind == "response.output_item.done"
            && let (Some(at), Some(item)) = (data.get("output_index").and_then(Value::as_u64), data.get("item"))
        {
            self.items.insert(at, item.clone());
        }
        if is_terminal(&kind) {
            self.response = data.get("response").and_then(Value::as_object).cloned();
            return Ok(true);
        }
        Ok(false)
    }

    fn finish(self: Box<Self>, served: &str, terminal: bool) -> Result<Map<String, Value>, UpstreamFailure> {
        let Some(mut response) = self.response.filter(|_| terminal) else {
            return Err(premature_end(self.items.is_empty()));
        };
        let empty = response.get("output").and_then(Value::as_array).is_none_or(Vec::is_empty);
        if empty {
            if self.items.is_empty() && response.get("status").and_then(Value::as_str) == Some("completed") {
                return Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream answered with no content"));
            }
            response.insert("output".into(), Value::Array(self.items.into_values().collect()));
        }
        response.insert("model".into(), Value::String(served.to_string()));
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(data: Value) -> SseEvent {
        SseEvent { event: data["type"].as_str().map(str::to_string), data: data.to_string() }
    }

    #[test]
    fn events_pass_as_written_with_the_served_model_and_usage_is_read() {
        let mut relay = ResponsesPassthrough::new("resp/gpt-5.5".into());
        let created = relay
            .event(&sse(json!({"type": "response.created", "sequence_number": 0,
                "response": {"id": "resp_1", "model": "gpt-5.5", "x_unknown": 1}})))
            .unwrap();
        let text = String::from_utf8(created.frames).unwrap();
        assert!(text.contains("\"model\":\"resp/gpt-5.5\"") && text.contains("x_unknown"));
        assert!(!created.content && !created.done);
        let delta = relay
            .event(&sse(json!({"type": "response.output_text.delta", "delta": "Hi", "sequence_number": 1})))
            .unwrap();
        assert!(delta.content);
        let odd = relay.event(&sse(json!({"type": "response.vendor_thing", "sequence_number": 2}))).unwrap();
        assert!(String::from_utf8(odd.frames).unwrap().contains("vendor_thing"));
        let done = relay
            .event(&sse(json!({"type": "response.completed", "sequence_number": 3,
                "response": {"id": "resp_1", "usage": {"input_tokens": 5, "output_tokens": 2,
                "input_tokens_details": {"cached_tokens": 1}, "output_tokens_details": {"reasoning_tokens": 0}}}})))
            .unwrap();
        assert!(done.done);
        assert_eq!(relay.usage().map(|u| (u.input_total, u.cache_read, u.output_total)), Some((5, 1, 2)));
        let failed = String::from_utf8(relay.error(&UpstreamFailure::new(ErrorClass::ServerError, "x"), "x")).unwrap();
        assert!(failed.contains("\"sequence_number\":4") && failed.contains("resp_1"));
    }

    #[test]
    fn failures_in_the_stream_are_upstream_failures_and_the_fold_keeps_the_items() {
        let mut relay = ResponsesPassthrough::new("m".into());
        let failed = json!({"type": "response.failed", "response": {"error": {"code": "rate_limit_exceeded",
            "message": "Rate limit reached. Please try again in 2s."}}});
        let failure = relay.event(&sse(failed)).unwrap_err();
        assert_eq!(failure.class, ErrorClass::RateLimit);

        let mut fold: Box<dyn PassthroughFold> = Box::new(ResponsesFold::default());
        let item = json!({"type": "message", "content": [{"type": "output_text", "text": "Hi"}]});
        assert!(
            !fold.push(&sse(json!({"type": "response.output_item.done", "output_index": 0, "item": item}))).unwrap()
        );
        assert!(
            fold.push(&sse(
                json!({"type": "response.completed", "response": {"id": "r", "status": "completed", "output": []}})
            ))
            .unwrap()
        );
        let body = fold.finish("p/m", true).unwrap();
        assert_eq!(
            (body["model"].as_str(), body["output"][0]["content"][0]["text"].as_str()),
            (Some("p/m"), Some("Hi"))
        );
    }
}
