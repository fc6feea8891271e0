//! An upstream stream folded into one canonical answer, for non-stream clients of protocols
//! the proxy streams from (so `GLOBAL_TIMEOUT` bounds only the wait for the first byte, never a
//! long generation; translation specification §2).

use std::collections::BTreeMap;

use crate::formats::ir::{Part, Response, Signature, StopReason, StreamEvent, ToolCall, Usage};

#[derive(Debug, Default)]
pub struct Collector {
    reasoning: String,
    reasoning_signature: Option<Signature>,
    redacted: Vec<String>,
    text: String,
    /// By canonical index: id, name, arguments, signature.
    calls: BTreeMap<usize, ToolCall>,
    /// A Gemini signature arrives right before the call it belongs to.
    pending_signature: Option<Signature>,
    stop: Option<(StopReason, Option<String>)>,
    usage: Usage,
    /// Every signature signs the reasoning before it (see [`Self::new`]).
    signatures_sign_reasoning: bool,
}

impl Collector {
    /// A collector for a stream whose signatures all sign the reasoning before them (OpenAI
    /// Responses' `encrypted_content`) when `signatures_sign_reasoning`; otherwise only
    /// Anthropic's do and any other signature signs the part that follows it (Gemini's).
    pub fn new(signatures_sign_reasoning: bool) -> Self {
        Self { signatures_sign_reasoning, ..Self::default() }
    }

    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::ReasoningDelta(text) => self.reasoning.push_str(&text),
            // Anthropic signs its thinking block; any other origin signs the part that follows.
            StreamEvent::ReasoningSignature(signature)
                if self.signatures_sign_reasoning || signature.origin == crate::formats::anthropic::ORIGIN =>
            {
                self.reasoning_signature = Some(signature);
            }
            StreamEvent::ReasoningSignature(signature) => {
                if let Some(earlier) = self.pending_signature.replace(signature) {
                    self.reasoning_signature.get_or_insert(earlier);
                }
            }
            StreamEvent::RedactedReasoning(data) => self.redacted.push(data),
            StreamEvent::TextDelta(text) => {
                if let Some(signature) = self.pending_signature.take() {
                    self.reasoning_signature.get_or_insert(signature);
                }
                self.text.push_str(&text);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                let signature = self.pending_signature.take();
                self.calls.insert(index, ToolCall { id, name, arguments: String::new(), signature });
            }
            StreamEvent::ToolCallDelta { index, json_fragment } => {
                if let Some(call) = self.calls.get_mut(&index) {
                    call.arguments.push_str(&json_fragment);
                }
            }
            StreamEvent::ToolCallEnd { .. } => {}
            StreamEvent::Finish { stop_reason, stop_sequence } => self.stop = Some((stop_reason, stop_sequence)),
            StreamEvent::Usage(usage) => self.usage = usage,
        }
    }

    /// The answer: reasoning, text, then tool calls (§5).
    pub fn finish(mut self, id: String, model: String) -> Response {
        if let Some(signature) = self.pending_signature.take() {
            self.reasoning_signature.get_or_insert(signature);
        }
        let mut parts = Vec::new();
        if !self.reasoning.is_empty() || self.reasoning_signature.is_some() {
            parts.push(Part::Reasoning { text: self.reasoning, signature: self.reasoning_signature, redacted: None });
        }
        parts.extend(self.redacted.into_iter().map(|data| Part::Reasoning {
            text: String::new(),
            signature: None,
            redacted: Some(data),
        }));
        if !self.text.is_empty() {
            parts.push(Part::Text { text: self.text, cache_control: None });
        }
        let has_calls = !self.calls.is_empty();
        parts.extend(self.calls.into_values().map(Part::ToolCall));
        let (stop_reason, stop_sequence) =
            self.stop.unwrap_or((if has_calls { StopReason::ToolUse } else { StopReason::EndTurn }, None));
        Response { id, model, parts, stop_reason, stop_sequence, usage: self.usage }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_folds_into_reasoning_text_and_calls_with_their_signatures() {
        let sig = |origin: &str, value: &str| Signature { origin: origin.into(), value: value.into() };
        let mut collector = Collector::default();
        for event in [
            StreamEvent::ReasoningDelta("hmm".into()),
            StreamEvent::TextDelta("Hello ".into()),
            StreamEvent::TextDelta("world".into()),
            StreamEvent::ReasoningSignature(sig("gemini", "S1")),
            StreamEvent::ToolCallStart { index: 0, id: "c1".into(), name: "f".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"a\":".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "1}".into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::Usage(Usage { input_total: 5, output_total: 7, ..Usage::default() }),
        ] {
            collector.push(event);
        }
        let response = collector.finish("r".into(), "gemini/x".into());
        assert_eq!(response.parts.len(), 3);
        assert!(matches!(&response.parts[0], Part::Reasoning { text, signature: None, .. } if text == "hmm"));
        assert_eq!(response.parts[1], Part::Text { text: "Hello world".into(), cache_control: None });
        let Part::ToolCall(call) = &response.parts[2] else { panic!("a call") };
        assert_eq!((call.arguments.as_str(), call.signature.clone()), ("{\"a\":1}", Some(sig("gemini", "S1"))));
        assert_eq!((response.stop_reason, response.usage.output_total), (StopReason::ToolUse, 7));

        let mut anthropic = Collector::default();
        anthropic.push(StreamEvent::ReasoningDelta("think".into()));
        anthropic.push(StreamEvent::ReasoningSignature(sig("anthropic", "A1")));
        anthropic.push(StreamEvent::ToolCallStart { index: 0, id: "t".into(), name: "g".into() });
        let response = anthropic.finish("r".into(), "anthropic/x".into());
        assert!(matches!(&response.parts[0], Part::Reasoning { signature: Some(s), .. } if s.value == "A1"));
        assert!(matches!(&response.parts[1], Part::ToolCall(c) if c.signature.is_none()));
        assert_eq!(response.stop_reason, StopReason::ToolUse);

        let mut responses = Collector::new(true);
        responses.push(StreamEvent::ReasoningDelta("plan".into()));
        responses.push(StreamEvent::ReasoningSignature(sig("openai", "gAAA")));
        responses.push(StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "g".into() });
        let response = responses.finish("r".into(), "openai/x".into());
        assert!(matches!(&response.parts[0], Part::Reasoning { signature: Some(s), .. } if s.value == "gAAA"));
        assert!(matches!(&response.parts[1], Part::ToolCall(c) if c.signature.is_none()));
    }
}
