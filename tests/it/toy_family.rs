//! A client family the engine has never heard of, written here in a few lines (issue 13): a
//! plain-text completion API (`{"model", "prompt"}` in, `{"text"}` or `data: <text>` frames out).
//! It reaches every upstream protocol through the engine without a change anywhere else — the
//! family is this module, and the only registration a real one needs is the route that builds it.

use serde_json::{Map, Value, json};

use llmkp::engine::{ClientRequest, Reply, RequestContext};
use llmkp::formats::InvalidRequest;
use llmkp::formats::failure::UpstreamFailure;
use llmkp::formats::family::{ClientFamily, ErrorShape, Head, SSE, StreamPresentation};
use llmkp::formats::ir::{self, StreamEvent};
use llmkp::formats::relay::{ClientEncoder, Relay};

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::gateway::Gateway;
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;

struct PlainText;

impl PlainText {
    fn parse(body: &Map<String, Value>) -> Result<Head, InvalidRequest> {
        let canonical = Self.decode(body)?;
        Ok(Head { model: canonical.model.clone(), stream: canonical.stream, canonical: Some(canonical) })
    }
}

impl ClientFamily for PlainText {
    fn protocol(&self) -> Option<llmkp::formats::protocol::Protocol> {
        None
    }

    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).ok_or_else(|| InvalidRequest::missing(key.into()));
        let prompt = ir::Part::Text { text: text("prompt")?.to_string(), cache_control: None };
        Ok(ir::Request {
            model: text("model")?.to_string(),
            messages: vec![ir::Message { role: ir::Role::User, parts: vec![prompt] }],
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            ..ir::Request::default()
        })
    }

    fn dropped_params(&self, _body: &Map<String, Value>) -> Vec<String> {
        Vec::new()
    }

    fn passthrough_relay(&self, _served: &str) -> Box<dyn Relay> {
        unreachable!("no upstream speaks this family's protocol")
    }

    fn passthrough_complete(&self, _body: &mut Map<String, Value>, _served: &str) {}

    fn stream_encoder(&self, _served: &str, _request: Option<&ir::Request>) -> Box<dyn ClientEncoder> {
        Box::new(PlainFrames { done: false })
    }

    fn encode_complete(&self, response: &ir::Response, served: &str) -> Value {
        let text: String = response
            .parts
            .iter()
            .filter_map(|p| match p {
                ir::Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        json!({"text": text, "model": served})
    }

    fn error_shape(&self) -> ErrorShape {
        ErrorShape::OpenAi
    }

    fn stream_presentation(&self) -> StreamPresentation {
        StreamPresentation { content_type: SSE, keepalive: None }
    }
}

struct PlainFrames {
    done: bool,
}

impl ClientEncoder for PlainFrames {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        match event {
            StreamEvent::TextDelta(text) => format!("data: {text}\n\n").into_bytes(),
            _ => Vec::new(),
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        self.done = true;
        b"data: END\n\n".to_vec()
    }

    fn error(&mut self, _failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.done = true;
        format!("data: ERROR {message}\n\n").into_bytes()
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

async fn ask(gw: &Gateway, model: &str, stream: bool) -> String {
    let body = json!({"model": model, "prompt": "hi", "stream": stream});
    let body = body.as_object().unwrap().clone();
    let head = PlainText::parse(&body).unwrap();
    let request = ClientRequest::new(Box::new(PlainText), head, body);
    let context = RequestContext::new(tokio::time::Instant::now(), None);
    match gw.engine.respond(request, context).await.expect("served").reply {
        Reply::Complete(body) => serde_json::from_slice::<Value>(&body).unwrap()["text"].as_str().unwrap().to_string(),
        Reply::Stream(frames) => {
            use futures::StreamExt;
            let frames: Vec<_> = frames.collect().await;
            let text: String = frames.into_iter().map(|f| String::from_utf8(f.unwrap().to_vec()).unwrap()).collect();
            assert!(text.ends_with("data: END\n\n"), "{text}");
            text.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|l| *l != "END").collect()
        }
    }
}

#[tokio::test]
async fn a_new_family_reaches_every_upstream_protocol_without_engine_changes() {
    let openai = OpenAiMock::start().await;
    let anthropic = AnthropicMock::start().await;
    let gemini = GeminiMock::start().await;
    let (o, a, g) = (openai.base_url(), anthropic.base_url(), gemini.base_url());
    let gw = Gateway::start(&[
        ("OPENAI_API_BASE", &o),
        ("OPENAI_API_KEY", "sk-toy-000001"),
        ("ANTHROPIC_API_BASE", &a),
        ("ANTHROPIC_API_KEY", "sk-ant-toy"),
        ("GEMINI_API_BASE", &g),
        ("GEMINI_API_KEY", "gm-toy-000001"),
    ])
    .await;
    for (model, expected) in [
        ("openai/gpt-4o", "Hello! You said: hi"),
        ("anthropic/claude-sonnet-4-5", "hi"),
        ("gemini/gemini-2.5-flash", "Hello from gemini: hi"),
    ] {
        for stream in [false, true] {
            let text = ask(&gw, model, stream).await;
            assert!(text.contains(expected), "{model} (stream: {stream}): {text:?}");
        }
    }
}
