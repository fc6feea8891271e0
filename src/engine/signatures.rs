//! The signature cache (translation specification §10): Chat clients cannot carry reasoning
//! signatures, yet Anthropic and Gemini want them back with the tool calls they belong to. Every
//! signature attached to a tool call is kept by tool call id, and the reasoning of an assistant
//! turn with tool calls by its first call id; when a later request brings those ids back, they are
//! re-attached before the request is encoded for its upstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::formats::anthropic::ORIGIN as ANTHROPIC;
use crate::formats::ir::{Message, Part, Request, Response, Role, Signature, StreamEvent};

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

    /// Remembers what an answer carried for its tool calls.
    pub fn remember_response(&self, response: &Response) {
        let mut turn = TurnRecorder::default();
        for part in &response.parts {
            match part {
                Part::Reasoning { text, signature, .. } => turn.reasoning(text, signature.clone()),
                Part::ToolCall(call) => turn.call(&call.id, call.signature.clone()),
                _ => {}
            }
        }
        self.store(turn);
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

    fn store(&self, turn: TurnRecorder) {
        if turn.calls.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("signature cache lock");
        if entries.len() + turn.calls.len() > MAX_ENTRIES {
            entries.retain(|_, e| now.duration_since(e.stored) < self.ttl);
            // Still full within the TTL: the oldest half goes (a hard bound on memory).
            if entries.len() + turn.calls.len() > MAX_ENTRIES {
                let mut ages: Vec<(Instant, String)> = entries.iter().map(|(k, e)| (e.stored, k.clone())).collect();
                ages.sort_unstable();
                for (_, key) in ages.into_iter().take(entries.len() / 2 + turn.calls.len()) {
                    entries.remove(&key);
                }
            }
        }
        let reasoning =
            if turn.text.is_empty() && turn.signature.is_none() { None } else { Some((turn.text, turn.signature)) };
        for (i, (id, call)) in turn.calls.into_iter().enumerate() {
            if call.is_none() && (i > 0 || reasoning.is_none()) {
                continue;
            }
            let reasoning = if i == 0 { reasoning.clone() } else { None };
            entries.insert(id, Entry { stored: now, call, reasoning });
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

/// Collects one answer's reasoning and tool calls, from parts or from stream events.
#[derive(Debug, Default)]
pub struct TurnRecorder {
    text: String,
    signature: Option<Signature>,
    calls: Vec<(String, Option<Signature>)>,
    /// A signature that arrived right before a call starts belongs to that call.
    pending: Option<Signature>,
}

impl TurnRecorder {
    fn reasoning(&mut self, text: &str, signature: Option<Signature>) {
        self.text.push_str(text);
        if signature.is_some() {
            self.signature = signature;
        }
    }

    fn call(&mut self, id: &str, signature: Option<Signature>) {
        if !id.is_empty() {
            self.calls.push((id.to_string(), signature));
        }
    }

    /// Follows one stream event.
    pub fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::ReasoningDelta(text) => self.text.push_str(text),
            // Anthropic signs thinking blocks; Gemini signs the part that follows the signature
            // event (a call when `ToolCallStart` comes next).
            StreamEvent::ReasoningSignature(signature) if signature.origin == ANTHROPIC => {
                self.signature = Some(signature.clone())
            }
            StreamEvent::ReasoningSignature(signature) => self.pending = Some(signature.clone()),
            StreamEvent::ToolCallStart { id, .. } => {
                let signature = self.pending.take();
                self.call(id, signature);
            }
            StreamEvent::TextDelta(_) => {
                if let Some(signature) = self.pending.take() {
                    self.signature = Some(signature);
                }
            }
            StreamEvent::Finish { .. } => {
                if let Some(signature) = self.pending.take() {
                    self.signature = Some(signature);
                }
            }
            _ => {}
        }
    }

    /// Hands what was collected to the cache.
    pub fn save(mut self, cache: &SignatureCache) {
        if let Some(signature) = self.pending.take() {
            self.signature = Some(signature);
        }
        cache.store(self);
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
        let cache = SignatureCache::new(Duration::from_secs(60));
        let mut recorder = TurnRecorder::default();
        for event in [
            StreamEvent::ReasoningDelta("hm".into()),
            StreamEvent::ReasoningSignature(sig("A")),
            StreamEvent::ToolCallStart { index: 0, id: "call_9".into(), name: "f".into() },
            StreamEvent::ToolCallEnd { index: 0 },
        ] {
            recorder.observe(&event);
        }
        recorder.save(&cache);
        let mut request = history(vec![call("call_9", None)]);
        cache.restore(&mut request);
        assert_eq!(request.messages[0].parts[1], call("call_9", Some(sig("A"))));
        assert!(matches!(&request.messages[0].parts[0], Part::Reasoning { text, .. } if text == "hm"));
    }
}
