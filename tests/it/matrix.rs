//! Every client family on every upstream protocol (issue 13): the same conversation — a tool
//! call, the tool's result, the answer to it, and reasoning — from Chat, Messages, Gemini and
//! Responses clients to OpenAI, Anthropic, Gemini and Code Assist upstreams, stream and non-stream, each
//! checked in the client's own wire shape.

use serde_json::{Value, json};

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::code_assist_mock::CodeAssistMock;
use crate::support::gateway::{Gateway, PROXY_KEY, chunks, sse_data};
use crate::support::gemini_mock::GeminiMock;
use crate::support::oauth_mock::OAuthMock;
use crate::support::openai_mock::OpenAiMock;
use crate::support::shell_turn::{SHELL_ANSWER, SHELL_COMMAND, SHELL_OUTPUT};

const PROMPT: &str = "Run the marker command";

#[derive(Debug, Clone, Copy)]
enum Client {
    Chat,
    Messages,
    Gemini,
    Responses,
}

/// What a client read from one answer.
#[derive(Debug, Default)]
struct Read {
    text: String,
    reasoning: String,
    /// (id, name, arguments) of the first tool call.
    call: Option<(String, String, Value)>,
    /// The assistant turn as the client would send it back (non-stream answers).
    history: Value,
}

struct Upstreams {
    gateway: Gateway,
    _mocks: (OpenAiMock, AnthropicMock, GeminiMock, OAuthMock, CodeAssistMock),
}

async fn upstreams() -> Upstreams {
    let openai = OpenAiMock::start().await;
    let anthropic = AnthropicMock::start().await;
    let gemini = GeminiMock::start().await;
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let mut vars: Vec<(String, String)> = oauth.env_vars();
    vars.extend(
        [
            ("OPENAI_API_BASE", openai.base_url()),
            ("OPENAI_API_KEY", "sk-matrix-0001".into()),
            ("ANTHROPIC_API_BASE", anthropic.base_url()),
            ("ANTHROPIC_API_KEY", "sk-ant-matrix".into()),
            ("GEMINI_API_BASE", gemini.base_url()),
            ("GEMINI_API_KEY", "gm-matrix-0001".into()),
            ("GEMINI_CLI_API_BASE", code_assist.base_url()),
            ("GEMINI_CLI_1_ACCESS_TOKEN", "ya29.expired".into()),
            ("GEMINI_CLI_1_REFRESH_TOKEN", issued.refresh_token.clone()),
            ("GEMINI_CLI_1_EXPIRY_DATE", "0".into()),
            ("GEMINI_CLI_1_EMAIL", "user@example.com".into()),
            ("GEMINI_CLI_1_PROJECT_ID", "mock-project-123".into()),
            ("PROXY_API_KEY", PROXY_KEY.into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gateway = Gateway::start(&pairs).await;
    Upstreams { gateway, _mocks: (openai, anthropic, gemini, oauth, code_assist) }
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]})
}

/// The client's request: the prompt, then `history` (the assistant turn and the tool result)
/// when given.
fn request(client: Client, model: &str, stream: bool, history: Option<(&Value, &str)>) -> (String, Value) {
    match client {
        Client::Chat => {
            let mut messages = vec![json!({"role": "user", "content": PROMPT})];
            if let Some((turn, call_id)) = history {
                messages.push(turn.clone());
                messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": format!("{SHELL_OUTPUT}\n")}));
            }
            let tools = json!([{"type": "function", "function": {"name": "exec_command", "parameters": schema()}}]);
            let body = json!({"model": model, "messages": messages, "tools": tools, "stream": stream});
            ("/v1/chat/completions".into(), body)
        }
        Client::Messages => {
            let mut messages = vec![json!({"role": "user", "content": PROMPT})];
            if let Some((turn, call_id)) = history {
                messages.push(turn.clone());
                messages.push(json!({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": call_id, "content": format!("{SHELL_OUTPUT}\n")}]}));
            }
            let tools = json!([{"name": "exec_command", "input_schema": schema()}]);
            let body =
                json!({"model": model, "max_tokens": 1024, "messages": messages, "tools": tools, "stream": stream});
            ("/v1/messages".into(), body)
        }
        Client::Gemini => {
            let mut contents = vec![json!({"role": "user", "parts": [{"text": PROMPT}]})];
            if let Some((turn, call_id)) = history {
                contents.push(turn.clone());
                let mut response = json!({"name": "exec_command", "response": {"output": SHELL_OUTPUT}});
                if !call_id.is_empty() {
                    response["id"] = json!(call_id);
                }
                contents.push(json!({"role": "user", "parts": [{"functionResponse": response}]}));
            }
            let tools = json!([{"functionDeclarations": [{"name": "exec_command", "parameters": schema()}]}]);
            let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
            (format!("/v1beta/models/{model}:{method}"), json!({"contents": contents, "tools": tools}))
        }
        Client::Responses => {
            let mut input = vec![json!({"role": "user", "content": PROMPT})];
            if let Some((turn, call_id)) = history {
                input.extend(turn.as_array().unwrap().iter().cloned());
                input.push(
                    json!({"type": "function_call_output", "call_id": call_id, "output": format!("{SHELL_OUTPUT}\n")}),
                );
            }
            let tools = json!([{"type": "function", "name": "exec_command", "parameters": schema()}]);
            let body = json!({"model": model, "input": input, "tools": tools, "stream": stream, "store": false});
            ("/v1/responses".into(), body)
        }
    }
}

/// A Responses output item as the client reads it.
fn read_item(out: &mut Read, item: &Value) {
    match item["type"].as_str().unwrap_or_default() {
        "message" => {
            for part in item["content"].as_array().into_iter().flatten() {
                out.text += part["text"].as_str().unwrap_or_default();
            }
        }
        "reasoning" => {
            for part in item["summary"].as_array().into_iter().flatten() {
                out.reasoning += part["text"].as_str().unwrap_or_default();
            }
        }
        "function_call" => {
            let arguments = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
            out.call =
                Some((item["call_id"].as_str().unwrap().into(), item["name"].as_str().unwrap().into(), arguments));
        }
        _ => {}
    }
}

/// The client's reading of an answer body in its own wire shape.
fn read(client: Client, stream: bool, body: &str) -> Read {
    let mut out = Read::default();
    let parse = |data: &str| serde_json::from_str::<Value>(data).unwrap_or_else(|_| panic!("not JSON: {data}"));
    match (client, stream) {
        (Client::Chat, false) => {
            let message = parse(body)["choices"][0]["message"].clone();
            out.text = message["content"].as_str().unwrap_or_default().into();
            out.reasoning = message["reasoning_content"].as_str().unwrap_or_default().into();
            if let Some(call) = message["tool_calls"].get(0) {
                let arguments = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
                out.call = Some((
                    call["id"].as_str().unwrap().into(),
                    call["function"]["name"].as_str().unwrap().into(),
                    arguments,
                ));
            }
            out.history = message;
        }
        (Client::Chat, true) => {
            assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
            let mut arguments = String::new();
            for chunk in chunks(body) {
                let delta = &chunk["choices"][0]["delta"];
                out.text += delta["content"].as_str().unwrap_or_default();
                out.reasoning += delta["reasoning_content"].as_str().unwrap_or_default();
                if let Some(call) = delta["tool_calls"].get(0) {
                    if let Some(name) = call["function"]["name"].as_str() {
                        out.call = Some((call["id"].as_str().unwrap_or_default().into(), name.into(), Value::Null));
                    }
                    arguments += call["function"]["arguments"].as_str().unwrap_or_default();
                }
            }
            if let Some(call) = &mut out.call {
                call.2 = serde_json::from_str(&arguments).unwrap();
            }
        }
        (Client::Messages, false) => {
            let message = parse(body);
            assert_eq!(message["type"], "message", "{message}");
            for block in message["content"].as_array().unwrap() {
                match block["type"].as_str().unwrap() {
                    "text" => out.text += block["text"].as_str().unwrap(),
                    "thinking" => out.reasoning += block["thinking"].as_str().unwrap(),
                    "tool_use" => {
                        out.call = Some((
                            block["id"].as_str().unwrap().into(),
                            block["name"].as_str().unwrap().into(),
                            block["input"].clone(),
                        ));
                    }
                    _ => {}
                }
            }
            out.history = json!({"role": "assistant", "content": message["content"]});
        }
        (Client::Messages, true) => {
            let events: Vec<Value> = sse_data(body).iter().map(|d| parse(d)).collect();
            assert_eq!(events.last().unwrap()["type"], "message_stop", "{body}");
            let mut arguments = String::new();
            for event in &events {
                match (event["type"].as_str().unwrap(), event["delta"]["type"].as_str()) {
                    ("content_block_start", _) if event["content_block"]["type"] == "tool_use" => {
                        let block = &event["content_block"];
                        out.call = Some((
                            block["id"].as_str().unwrap().into(),
                            block["name"].as_str().unwrap().into(),
                            Value::Null,
                        ));
                    }
                    ("content_block_delta", Some("text_delta")) => out.text += event["delta"]["text"].as_str().unwrap(),
                    ("content_block_delta", Some("thinking_delta")) => {
                        out.reasoning += event["delta"]["thinking"].as_str().unwrap()
                    }
                    ("content_block_delta", Some("input_json_delta")) => {
                        arguments += event["delta"]["partial_json"].as_str().unwrap()
                    }
                    _ => {}
                }
            }
            if let Some(call) = &mut out.call {
                call.2 = serde_json::from_str(&arguments).unwrap();
            }
        }
        (Client::Responses, false) => {
            let response = parse(body);
            assert_eq!(response["object"], "response", "{response}");
            for item in response["output"].as_array().unwrap() {
                read_item(&mut out, item);
            }
            out.history = response["output"].clone();
        }
        (Client::Responses, true) => {
            let events: Vec<Value> = sse_data(body).iter().map(|d| parse(d)).collect();
            let last = events.last().unwrap();
            assert_eq!(last["type"], "response.completed", "{body}");
            let (mut text, mut reasoning) = (String::new(), String::new());
            for event in &events {
                match event["type"].as_str().unwrap() {
                    "response.output_text.delta" => text += event["delta"].as_str().unwrap(),
                    "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                        reasoning += event["delta"].as_str().unwrap()
                    }
                    "response.output_item.done" if event["item"]["type"] == "function_call" => {
                        read_item(&mut out, &event["item"])
                    }
                    _ => {}
                }
            }
            (out.text, out.reasoning) = (text, reasoning);
            out.history = last["response"]["output"].clone();
        }
        (Client::Gemini, stream) => {
            // Gemini frames its events with CRLF.
            let data = body.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix("data: "));
            let answers: Vec<Value> = if stream { data.map(parse).collect() } else { vec![parse(body)] };
            for answer in &answers {
                let parts = answer["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default();
                for part in parts {
                    match (part["text"].as_str(), part.get("functionCall")) {
                        (Some(text), _) if part["thought"] == true => out.reasoning += text,
                        (Some(text), _) => out.text += text,
                        (None, Some(call)) => {
                            out.call = Some((
                                call["id"].as_str().unwrap_or_default().into(),
                                call["name"].as_str().unwrap().into(),
                                call["args"].clone(),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            out.history = answers[0]["candidates"][0]["content"].clone();
        }
    }
    out
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> (u16, String) {
    let response = gw.client().post(gw.url(path)).header("x-api-key", PROXY_KEY).json(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The tool call, the answer to its result, and reasoning, for one client on one upstream.
async fn conversation(gw: &Gateway, client: Client, provider: &str, reasoning: bool) {
    let shell = format!("{provider}/shell-matrix");
    let what = |stream: bool| format!("{client:?} on {provider} (stream: {stream})");
    for stream in [true, false] {
        let (path, body) = request(client, &shell, stream, None);
        let (status, answer) = post(gw, &path, &body).await;
        assert_eq!(status, 200, "{}: {answer}", what(stream));
        let read = read(client, stream, &answer);
        let (_, name, arguments) = read.call.unwrap_or_else(|| panic!("{}: no tool call in {answer}", what(stream)));
        assert_eq!((name.as_str(), arguments), ("exec_command", json!({"cmd": SHELL_COMMAND})), "{}", what(stream));
    }
    // The result goes back with the assistant turn as the client received it (signatures
    // included), and the model's answer quotes it.
    let (path, body) = request(client, &shell, false, None);
    let first = read(client, false, &post(gw, &path, &body).await.1);
    let call_id = first.call.as_ref().map(|c| c.0.clone()).unwrap();
    for stream in [true, false] {
        let (path, body) = request(client, &shell, stream, Some((&first.history, &call_id)));
        let (status, answer) = post(gw, &path, &body).await;
        assert_eq!(status, 200, "{}: {answer}", what(stream));
        let read = read(client, stream, &answer);
        assert!(
            read.text.starts_with(SHELL_ANSWER) && read.text.contains(SHELL_OUTPUT),
            "{}: {:?}",
            what(stream),
            read.text
        );
    }
    if reasoning {
        let thinking = format!("{provider}/thinking-matrix");
        for stream in [true, false] {
            let (path, mut body) = request(client, &thinking, stream, None);
            if let Client::Messages = client {
                body["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
            }
            let (status, answer) = post(gw, &path, &body).await;
            assert_eq!(status, 200, "{}: {answer}", what(stream));
            let read = read(client, stream, &answer);
            assert!(!read.reasoning.is_empty() && !read.text.is_empty(), "{}: no reasoning in {answer}", what(stream));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_family_holds_a_tool_conversation_on_every_upstream_protocol() {
    let upstreams = upstreams().await;
    let gw = &upstreams.gateway;
    for client in [Client::Chat, Client::Messages, Client::Gemini, Client::Responses] {
        // The OpenAI mock has no reasoning model; the others think when asked.
        for (provider, reasoning) in [("openai", false), ("anthropic", true), ("gemini", true), ("gemini_cli", true)] {
            conversation(gw, client, provider, reasoning).await;
        }
    }
}
