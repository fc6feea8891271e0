//! The canonical model every family translates through (translation specification §3, §9):
//! family → IR → family, so N wire families need 2N converters, not N².

use serde_json::{Map, Value};

/// A request in canonical form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// As the client sent it (`provider/model`, an alias, …).
    pub model: String,
    pub system: Vec<Part>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` when the client asked for at most one call per turn.
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub reasoning: Option<Reasoning>,
    /// Structured output (§4.10).
    pub response_format: Option<ResponseFormat>,
    pub stream: bool,
    /// `metadata.user_id` and similar hints (session keys, end-user ids).
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// Results of tool calls.
    Tool,
    /// Instructions placed inside the conversation (Anthropic Messages `role: "system"` entries,
    /// which apply from their position on). The leading system prompt is [`Request::system`].
    System,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// Anthropic prompt-cache marker, kept for targets that understand it.
        cache_control: Option<Value>,
    },
    Image(ImageSource),
    Document {
        source: DocumentSource,
        title: Option<String>,
    },
    ToolCall(ToolCall),
    ToolResult(ToolResult),
    Reasoning {
        text: String,
        signature: Option<Signature>,
        /// Anthropic `redacted_thinking` data.
        redacted: Option<String>,
    },
    Refusal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Url(String),
    Base64 { media_type: String, data: String },
    FileRef(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentSource {
    Url(String),
    Base64 { media_type: String, data: String },
    PlainText(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (an object).
    pub arguments: String,
    pub signature: Option<Signature>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub call_id: String,
    /// Text and images only.
    pub content: Vec<Part>,
    pub is_error: bool,
}

/// A reasoning signature, with the provider that produced it (they are not portable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub origin: String,
    pub value: String,
}

/// Prefix of a signature shown to a client of another family (§10): `llmkp1.<origin>.<value>`.
const WRAP_PREFIX: &str = "llmkp1.";

impl Signature {
    /// `llmkp1.<origin>.<value>`: how a foreign signature travels through a client.
    pub fn wrapped(&self) -> String {
        format!("{WRAP_PREFIX}{}.{}", self.origin, self.value)
    }

    /// The signature a wrapped string carries, if it is one.
    pub fn unwrap(wire: &str) -> Option<Self> {
        let (origin, value) = wire.strip_prefix(WRAP_PREFIX)?.split_once('.')?;
        (!origin.is_empty()).then(|| Self { origin: origin.to_string(), value: value.to_string() })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Function {
        name: String,
        description: Option<String>,
        /// JSON Schema of the arguments (an object schema).
        parameters: Value,
        strict: Option<bool>,
        cache_control: Option<Value>,
    },
    /// A provider-run tool (Anthropic `web_search_…`), kept as sent.
    Server { kind: String, raw: Map<String, Value> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Specific(String),
}

/// Structured output the client asked for (§4.10).
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON matching `schema`; `name` is required by Chat and Responses (`response` when absent).
    JsonSchema { name: Option<String>, schema: Value, strict: Option<bool> },
}

/// How much the model should think.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reasoning {
    /// `low`, `medium`, `high`, …
    Effort(String),
    BudgetTokens(u64),
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    ToolUse,
    StopSequence,
    /// Blocked by a content filter.
    ContentFilter,
    Refusal,
}

/// Token counts (translation specification §7): `input_total` includes cached input,
/// `output_total` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_total: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output_total: u64,
    pub reasoning: u64,
}

/// A complete (non-stream) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: String,
    /// `provider/model` that served.
    pub model: String,
    pub parts: Vec<Part>,
    pub stop_reason: StopReason,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// One step of a streamed answer, as upstream decoders produce and client encoders consume.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    ReasoningDelta(String),
    ReasoningSignature(Signature),
    RedactedReasoning(String),
    TextDelta(String),
    /// A tool call begins; `index` counts calls of this response from 0.
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolCallDelta {
        index: usize,
        json_fragment: String,
    },
    ToolCallEnd {
        index: usize,
    },
    Finish {
        stop_reason: StopReason,
        stop_sequence: Option<String>,
    },
    Usage(Usage),
}

impl StopReason {
    /// A stop that explains an answer without output (cut at the limit, filtered, refused): such
    /// an answer is not empty.
    pub fn explains_no_output(self) -> bool {
        matches!(self, Self::MaxTokens | Self::ContentFilter | Self::Refusal)
    }
}

impl Part {
    /// Output a client can use: text, reasoning (or redacted reasoning), a refusal, a tool call.
    pub fn is_output(&self) -> bool {
        match self {
            Self::Text { text, .. } | Self::Refusal(text) => !text.is_empty(),
            Self::Reasoning { text, redacted, .. } => !text.is_empty() || redacted.is_some(),
            Self::ToolCall(_) => true,
            _ => false,
        }
    }
}

impl Response {
    /// No output and an ordinary stop: nothing a client could use (pitfall A08). Such an answer
    /// is a retryable upstream failure on every path, never a 200.
    pub fn is_empty(&self) -> bool {
        !self.parts.iter().any(Part::is_output) && !self.stop_reason.explains_no_output()
    }

    /// The answer as the stream events that would have produced it (what [`StreamEvent`]
    /// encoders need when an upstream answered a stream request with one complete body).
    pub fn stream_events(&self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let mut calls = 0;
        for part in &self.parts {
            match part {
                Part::Reasoning { text, signature, redacted } => {
                    if !text.is_empty() {
                        events.push(StreamEvent::ReasoningDelta(text.clone()));
                    }
                    events.extend(signature.clone().map(StreamEvent::ReasoningSignature));
                    events.extend(redacted.clone().map(StreamEvent::RedactedReasoning));
                }
                Part::Text { text, .. } | Part::Refusal(text) if !text.is_empty() => {
                    events.push(StreamEvent::TextDelta(text.clone()));
                }
                Part::ToolCall(call) => {
                    events.extend(call.signature.clone().map(StreamEvent::ReasoningSignature));
                    events.push(StreamEvent::ToolCallStart {
                        index: calls,
                        id: call.id.clone(),
                        name: call.name.clone(),
                    });
                    events.push(StreamEvent::ToolCallDelta { index: calls, json_fragment: call.arguments.clone() });
                    events.push(StreamEvent::ToolCallEnd { index: calls });
                    calls += 1;
                }
                _ => {}
            }
        }
        events.push(StreamEvent::Finish { stop_reason: self.stop_reason, stop_sequence: self.stop_sequence.clone() });
        events.push(StreamEvent::Usage(self.usage));
        events
    }
}

impl StreamEvent {
    /// The event carries output (see [`Part::is_output`]) or a finish that explains its absence.
    /// Only such events commit a stream: a stream that ends after a finish-only event with an
    /// ordinary stop is empty and retried like an empty complete answer.
    pub fn is_output(&self) -> bool {
        match self {
            Self::ReasoningDelta(text) | Self::TextDelta(text) => !text.is_empty(),
            Self::RedactedReasoning(_) | Self::ToolCallStart { .. } => true,
            Self::Finish { stop_reason, .. } => stop_reason.explains_no_output(),
            Self::ReasoningSignature(_) | Self::ToolCallDelta { .. } | Self::ToolCallEnd { .. } | Self::Usage(_) => {
                false
            }
        }
    }

    /// The characters of generated output the event carries (text, reasoning, tool-call
    /// arguments), for the estimate of a stream that ends without the upstream's usage.
    pub fn output_chars(&self) -> u64 {
        match self {
            Self::ReasoningDelta(text) | Self::TextDelta(text) | Self::ToolCallDelta { json_fragment: text, .. } => {
                text.chars().count() as u64
            }
            _ => 0,
        }
    }
}

/// `latest` as a usage event, unless it is what `emitted` says the stream already reported:
/// decoders whose upstream repeats its usage report each change once.
pub fn push_usage_change(latest: Option<Usage>, emitted: &mut Option<Usage>, events: &mut Vec<StreamEvent>) {
    if let Some(usage) = latest
        && *emitted != Some(usage)
    {
        *emitted = Some(usage);
        events.push(StreamEvent::Usage(usage));
    }
}

/// The output characters of a run of events.
pub fn output_chars(events: &[StreamEvent]) -> u64 {
    events.iter().map(StreamEvent::output_chars).sum()
}
