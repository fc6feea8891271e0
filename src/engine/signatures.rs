//! The signature cache (translation specification §10): Chat clients cannot carry reasoning
//! signatures, yet Anthropic and Gemini want them back with the tool calls they belong to. Every
//! signature attached to a tool call is kept by tool call id, and the reasoning of an assistant
//! turn with tool calls by its first call id; when a later request brings those ids back, they are
//! re-attached before the request is encoded for its upstream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::formats::collect::Collector;
use crate::formats::failure::UpstreamFailure;
use crate::formats::ir::{Message, Part, Request, Response, Role, Signature, StreamEvent};
use crate::formats::relay::ClientEncoder;

/// Entries kept at most; the oldest go first beyond this.
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone)]
struct Entry {
    stored: Instant,
    /// The signature of the call itself (Gemini `thoughtSignature` on a `functionCall`).
    call: Option<Signature>,
    /// Reasoning text and signature of the turn this call opened.
    reasoning: Option<(String, Option<Signature>)>,
}

#[derive(Debug)]
pub struct SignatureCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SignatureCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// Remembers what an answer carried for its tool calls (streamed answers are folded into one
    /// first, by [`crate::formats::collect::Collector`]).
    pub fn remember_response(&self, response: &Response) {
        let calls: Vec<(&str, Option<Signature>)> = response
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall(call) if !call.id.is_empty() => Some((call.id.as_str(), call.signature.clone())),
                _ => None,
            })
            .collect();
        if calls.is_empty() {
            return;
        }
        let reasoning = response.parts.iter().find_map(|p| match p {
            Part::Reasoning { text, signature, redacted: None } if !text.is_empty() || signature.is_some() => {
                Some((text.clone(), signature.clone()))
            }
            _ => None,
        });
        self.store(calls, reasoning);
    }

    /// Re-attaches remembered signatures and reasoning to the assistant turns of `request` whose
    /// tool calls have none.
    pub fn restore(&self, request: &mut Request) {
        let now = Instant::now();
        let entries = self.entries.lock().expect("signature cache lock");
        for message in request.messages.iter_mut().filter(|m| m.role == Role::Assistant) {
            restore_turn(message, &entries, |e| now.duration_since(e.stored) < self.ttl);
        }
    }

    fn store(&self, calls: Vec<(&str, Option<Signature>)>, reasoning: Option<(String, Option<Signature>)>) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("signature cache lock");
        if entries.len() + calls.len() > MAX_ENTRIES {
            entries.retain(|_, e| now.duration_since(e.stored) < self.ttl);
            // Still full within the TTL: the oldest half goes (a hard bound on memory).
            if entries.len() + calls.len() > MAX_ENTRIES {
                let mut ages: Vec<(Instant, String)> = entries.iter().map(|(k, e)| (e.stored, k.clone())).collect();
                ages.sort_unstable();
                for (_, key) in ages.into_iter().take(entries.len() / 2 + calls.len()) {
                    entries.remove(&key);
                }
            }
        }
        for (i, (id, call)) in calls.into_iter().enumerate() {
            if call.is_none() && (i > 0 || reasoning.is_none()) {
                continue;
            }
            let reasoning = if i == 0 { reasoning.clone() } else { None };
            entries.insert(id.to_string(), Entry { stored: now, call, reasoning });
        }
    }
}

fn restore_turn(message: &mut Message, entries: &HashMap<String, Entry>, fresh: impl Fn(&Entry) -> bool) {
    let mut first_call = None;
    for part in &mut message.parts {
        if let Part::ToolCall(call) = part {
            let entry = entries.get(&call.id).filter(|e| fresh(e));
            first_call.get_or_insert_with(|| call.id.clone());
            if call.signature.is_none()
                && let Some(signature) = entry.and_then(|e| e.call.clone())
            {
                call.signature = Some(signature);
            }
        }
    }
    let has_reasoning = message.parts.iter().any(|p| matches!(p, Part::Reasoning { .. }));
    if has_reasoning {
        return;
    }
    let remembered = first_call.and_then(|id| entries.get(&id)).filter(|e| fresh(e)).and_then(|e| e.reasoning.clone());
    if let Some((text, signature)) = remembered {
        message.parts.insert(0, Part::Reasoning { text, signature, redacted: None });
    }
}

/// A client encoder that also records the answer's reasoning and tool-call signatures in the
/// signature cache (for Chat clients, which cannot carry them, §10).
pub struct RecordingEncoder {
    inner: Box<dyn ClientEncoder>,
    recorder: Option<Collector>,
    cache: Arc<SignatureCache>,
}

impl RecordingEncoder {
    /// `signatures_sign_reasoning`: how the upstream's signatures attach ([`Collector::new`]).
    pub fn new(inner: Box<dyn ClientEncoder>, cache: Arc<SignatureCache>, signatures_sign_reasoning: bool) -> Self {
        Self { inner, recorder: Some(Collector::new(signatures_sign_reasoning)), cache }
    }
}

impl ClientEncoder for RecordingEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        if let Some(recorder) = &mut self.recorder {
            recorder.push(event.clone());
        }
        self.inner.push(event)
    }

    fn finish(&mut self) -> Vec<u8> {
        if let Some(recorder) = self.recorder.take() {
            self.cache.remember_response(&recorder.finish(String::new(), String::new()));
        }
        self.inner.finish()
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.recorder = None;
        self.inner.error(failure, message)
    }

    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ir::{StopReason, ToolCall, Usage};

    fn sig(value: &str) -> Signature {
        Signature { origin: "gemini".into(), value: value.into() }
    }

    fn call(id: &str, signature: Option<Signature>) -> Part {
        Part::ToolCall(ToolCall { id: id.into(), name: "f".into(), arguments: "{}".into(), signature })
    }

    fn history(parts: Vec<Part>) -> Request {
        Request { messages: vec![Message { role: Role::Assistant, parts }], ..Request::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn signatures_and_reasoning_come_back_with_their_calls_until_they_expire() {
        let cache = SignatureCache::new(Duration::from_secs(60));
        let response = Response {
            id: "r".into(),
            model: "gemini/x".into(),
            parts: vec![
                Part::Reasoning { text: "thinking".into(), signature: Some(sig("R")), redacted: None },
                call("call_1", Some(sig("A"))),
                call("call_2", None),
            ],
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
            usage: Usage::default(),
        };
        cache.remember_response(&response);
        let mut request = history(vec![call("call_1", None), call("call_2", None)]);
        cache.restore(&mut request);
        let parts = &request.messages[0].parts;
        assert_eq!(parts[0], Part::Reasoning { text: "thinking".into(), signature: Some(sig("R")), redacted: None });
        assert_eq!(parts[1], call("call_1", Some(sig("A"))));
        assert_eq!(parts[2], call("call_2", None));

        tokio::time::advance(Duration::from_secs(61)).await;
        let mut later = history(vec![call("call_1", None)]);
        cache.restore(&mut later);
        assert_eq!(later.messages[0].parts, [call("call_1", None)]);
    }

    #[tokio::test]
    async fn a_streamed_turn_is_recorded_like_a_whole_one() {
        use crate::formats::collect::Collector;
        let cache = SignatureCache::new(Duration::from_secs(60));
        let mut collector = Collector::default();
        for event in [
            StreamEvent::ReasoningDelta("hm".into()),
            StreamEvent::ReasoningSignature(sig("A")),
            StreamEvent::ToolCallStart { index: 0, id: "call_9".into(), name: "f".into() },
            StreamEvent::ToolCallEnd { index: 0 },
        ] {
            collector.push(event);
        }
        cache.remember_response(&collector.finish(String::new(), "gemini/x".into()));
        let mut request = history(vec![call("call_9", None)]);
        cache.restore(&mut request);
        assert_eq!(request.messages[0].parts[1], call("call_9", Some(sig("A"))));
        assert!(matches!(&request.messages[0].parts[0], Part::Reasoning { text, .. } if text == "hm"));
    }
}
