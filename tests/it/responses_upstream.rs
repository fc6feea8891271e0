//! A provider that speaks the OpenAI Responses API upstream (`<NAME>_API_FORMAT=responses`, or
//! some models of a provider by `<NAME>_RESPONSES_MODELS`): Chat and Messages clients reach it,
//! stream and non-stream, hold a tool conversation, and get its reasoning back to it (the
//! `encrypted_content` of a reasoning item travels as a Messages thinking signature); failures
//! rotate keys; the upstream stream decodes the same however the bytes are split.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use llmkp::formats::anthropic::MessagesStreamEncoder;
use llmkp::formats::anthropic::stream::MessagesEncoder;
use llmkp::formats::openai::chat_output::{ChatEncoder, ChatStreamEncoder};
use llmkp::formats::relay::{Relay, Translate};
use llmkp::formats::responses::upstream::ResponsesDecoder;

use crate::support::gateway::{Gateway, PROXY_KEY, chunks, error_of, sse_data};
use crate::support::responses_mock::{ENCRYPTED_REASONING, FAILURE_MESSAGE, REASONING_SUMMARY, ResponsesMock};
use crate::support::shell_turn::{SHELL_ANSWER, SHELL_COMMAND, SHELL_OUTPUT};

async fn gateway(mock: &ResponsesMock, keys: &[&str], extra: &[(&str, &str)]) -> Gateway {
    let mut vars = vec![("RESP_API_FORMAT", "responses")];
    vars.extend_from_slice(extra);
    Gateway::provider("RESP", &mock.base_url(), keys, &vars).await
}

fn tool_schema() -> Value {
    json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})
}

fn chat_request(model: &str, stream: bool, history: &[Value]) -> Value {
    let mut messages = vec![json!({"role": "system", "content": "be brief"}), json!({"role": "user", "content": "hi"})];
    messages.extend_from_slice(history);
    let tools = json!([{"type": "function", "function": {"name": "shell_command", "parameters": tool_schema()}}]);
    json!({"model": model, "messages": messages, "tools": tools, "stream": stream})
}

fn messages_request(model: &str, stream: bool, history: &[Value]) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "hi"})];
    messages.extend_from_slice(history);
    let tools = json!([{"name": "shell_command", "input_schema": tool_schema()}]);
    json!({"model": model, "max_tokens": 1024, "system": "be brief", "messages": messages, "tools": tools,
        "stream": stream, "thinking": {"type": "enabled", "budget_tokens": 2048}})
}

async fn post_messages(gw: &Gateway, body: &Value) -> (u16, String) {
    let response =
        gw.client().post(gw.url("/v1/messages")).header("x-api-key", PROXY_KEY).json(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post_chat(gw: &Gateway, body: &Value) -> (u16, String) {
    let response = gw.post("/v1/chat/completions", body).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The assistant message of a Chat answer, complete or streamed (its text, tool calls, finish).
fn chat_answer(body: &str, stream: bool) -> (Value, String) {
    if !stream {
        let answer: Value = serde_json::from_str(body).unwrap();
        let choice = &answer["choices"][0];
        return (choice["message"].clone(), choice["finish_reason"].as_str().unwrap().to_string());
    }
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    let (mut text, mut calls, mut finish) = (String::new(), Vec::<Value>::new(), String::new());
    for chunk in chunks(body) {
        let Some(choice) = chunk["choices"].get(0) else { continue };
        text += choice["delta"]["content"].as_str().unwrap_or_default();
        for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            if call["id"].is_string() {
                calls.push(json!({"id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}));
            }
            let last = calls.last_mut().unwrap();
            let arguments = last["function"]["arguments"].as_str().unwrap().to_string()
                + call["function"]["arguments"].as_str().unwrap_or_default();
            last["function"]["arguments"] = json!(arguments);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = reason.to_string();
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    (message, finish)
}

/// The content blocks of a Messages answer, complete or rebuilt from its stream, and its stop.
fn messages_answer(body: &str, stream: bool) -> (Vec<Value>, String) {
    if !stream {
        let answer: Value = serde_json::from_str(body).unwrap();
        assert_eq!(answer["type"], "message", "{answer}");
        return (answer["content"].as_array().unwrap().clone(), answer["stop_reason"].as_str().unwrap().into());
    }
    let events: Vec<Value> = sse_data(body).iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(events.last().unwrap()["type"], "message_stop", "{body}");
    let (mut blocks, mut stop, mut json_input) = (Vec::<Value>::new(), String::new(), String::new());
    for event in &events {
        match event["type"].as_str().unwrap() {
            "content_block_start" => {
                blocks.push(event["content_block"].clone());
                json_input.clear();
            }
            "content_block_delta" => {
                let block = blocks.last_mut().unwrap();
                let delta = &event["delta"];
                let append = |block: &mut Value, key: &str, more: &Value| {
                    block[key] = json!(block[key].as_str().unwrap_or_default().to_string() + more.as_str().unwrap());
                };
                match delta["type"].as_str().unwrap() {
                    "text_delta" => append(block, "text", &delta["text"]),
                    "thinking_delta" => append(block, "thinking", &delta["thinking"]),
                    "signature_delta" => append(block, "signature", &delta["signature"]),
                    "input_json_delta" => {
                        json_input += delta["partial_json"].as_str().unwrap();
                        block["input"] = serde_json::from_str(&json_input).unwrap_or(Value::Null);
                    }
                    _ => {}
                }
            }
            "message_delta" => stop = event["delta"]["stop_reason"].as_str().unwrap_or_default().into(),
            _ => {}
        }
    }
    (blocks, stop)
}

#[tokio::test]
async fn a_chat_client_gets_text_from_a_responses_upstream_stream_and_not() {
    let mock = ResponsesMock::start().await;
    for (stream, fold) in [(false, "true"), (false, "false"), (true, "true")] {
        let gw = gateway(&mock, &["sk-resp-1"], &[("UPSTREAM_STREAM_FOR_NON_STREAM", fold)]).await;
        let body = json!({"model": "resp/gpt-5.5", "messages": [{"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"}], "stream": stream, "max_tokens": 100, "stop": ["END"]});
        let response = gw.post("/v1/chat/completions", &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-llmkp-dropped-params"], "stop", "Responses has no stop sequences");
        let (message, finish) = chat_answer(&response.text().await.unwrap(), stream);
        assert_eq!(message["content"], "Hello from responses: hello there", "stream {stream}, fold {fold}");
        assert_eq!(finish, "stop");
    }
    let sent = mock.responses_requests();
    assert_eq!(sent.len(), 3);
    let first = &sent[0];
    assert_eq!(first.bearer(), Some("sk-resp-1"));
    assert_eq!(
        first.body,
        json!({"model": "gpt-5.5", "instructions": "be brief",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
            "max_output_tokens": 100, "stream": true, "store": false, "include": ["reasoning.encrypted_content"]})
    );
    assert!(sent[1].body.get("stream").is_none(), "not folded: a complete body is asked for");
    assert_eq!(sent[1].header("accept"), Some("application/json"));
    assert_eq!(sent[2].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn a_chat_client_holds_a_tool_conversation_on_a_responses_upstream() {
    let mock = ResponsesMock::start().await;
    let gw = gateway(&mock, &["sk-resp-1"], &[]).await;
    for stream in [false, true] {
        let (status, body) = post_chat(&gw, &chat_request("resp/shell-1", stream, &[])).await;
        assert_eq!(status, 200, "{body}");
        let (turn, finish) = chat_answer(&body, stream);
        assert_eq!(finish, "tool_calls", "{body}");
        let call = &turn["tool_calls"][0];
        assert_eq!(
            (call["id"].as_str(), call["function"]["name"].as_str()),
            (Some("call_shell_1"), Some("shell_command"))
        );
        let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"command": SHELL_COMMAND}));

        let result = json!({"role": "tool", "tool_call_id": "call_shell_1", "content": SHELL_OUTPUT});
        let (status, body) = post_chat(&gw, &chat_request("resp/shell-1", stream, &[turn.clone(), result])).await;
        assert_eq!(status, 200, "{body}");
        let (answer, finish) = chat_answer(&body, stream);
        assert_eq!(answer["content"], format!("{SHELL_ANSWER}{SHELL_OUTPUT}"));
        assert_eq!(finish, "stop");
    }
    let sent = mock.responses_requests();
    let second = &sent[1].body;
    let tools = &second["tools"];
    assert_eq!(
        tools,
        &json!([{"type": "function", "name": "shell_command", "parameters": tool_schema(), "strict": false}])
    );
    let items: Vec<&str> = second["input"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(items, ["message", "function_call", "function_call_output"]);
    assert_eq!(second["input"][1]["call_id"], "call_shell_1");
    assert_eq!(
        second["input"][2],
        json!({"type": "function_call_output", "call_id": "call_shell_1", "output": SHELL_OUTPUT})
    );
    // A Chat client cannot carry the encrypted reasoning: the proxy kept it by call id and sends
    // it back before the call (the streamed turn's history has no reasoning of its own).
    let streamed = sent[3].body["input"].as_array().unwrap();
    let reasoning = json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}],
        "encrypted_content": ENCRYPTED_REASONING});
    assert_eq!((&streamed[1], &streamed[2]["type"]), (&reasoning, &json!("function_call")));
}

#[tokio::test]
async fn a_messages_client_gets_reasoning_back_to_the_responses_upstream_that_wrote_it() {
    let mock = ResponsesMock::start().await;
    let gw = gateway(&mock, &["sk-resp-1"], &[]).await;
    for stream in [false, true] {
        let (status, body) = post_messages(&gw, &messages_request("resp/shell-1", stream, &[])).await;
        assert_eq!(status, 200, "{body}");
        let (blocks, stop) = messages_answer(&body, stream);
        assert_eq!(stop, "tool_use");
        let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["thinking", "tool_use"], "{body}");
        assert_eq!(blocks[0]["thinking"], REASONING_SUMMARY);
        // Another provider's signature reaches a Messages client wrapped with its origin.
        assert_eq!(blocks[0]["signature"], format!("llmkp1.resp.{ENCRYPTED_REASONING}"));
        assert_eq!(
            (blocks[1]["id"].as_str(), &blocks[1]["input"]),
            (Some("call_shell_1"), &json!({"command": SHELL_COMMAND}))
        );

        let history = [
            json!({"role": "assistant", "content": blocks}),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_shell_1", "content": SHELL_OUTPUT}]}),
        ];
        let (status, body) = post_messages(&gw, &messages_request("resp/shell-1", stream, &history)).await;
        assert_eq!(status, 200, "{body}");
        let (blocks, stop) = messages_answer(&body, stream);
        assert_eq!(stop, "end_turn");
        assert_eq!(blocks.last().unwrap()["text"], format!("{SHELL_ANSWER}{SHELL_OUTPUT}"));
    }
    let sent = mock.responses_requests();
    let second = &sent[1].body;
    assert_eq!(second["instructions"], "be brief");
    assert_eq!(second["reasoning"], json!({"effort": "low"}));
    assert_eq!(
        second["input"][1],
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}],
            "encrypted_content": ENCRYPTED_REASONING})
    );
    assert_eq!(second["input"][2]["type"], "function_call");
    assert_eq!(sent[3].body["input"], second["input"], "the streamed turn sends back the same history");
}

#[tokio::test]
async fn a_gemini_client_holds_a_tool_conversation_with_its_reasoning_on_a_responses_upstream() {
    let mock = ResponsesMock::start().await;
    let gw = gateway(&mock, &["sk-resp-1"], &[]).await;
    let tools = json!([{"functionDeclarations": [{"name": "shell_command", "parameters": tool_schema()}]}]);
    let prompt = json!({"role": "user", "parts": [{"text": "hi"}]});
    let post = |contents: Value| {
        let body = json!({"contents": contents, "tools": tools});
        gw.client()
            .post(gw.url("/v1beta/models/resp/shell-1:generateContent"))
            .header("x-goog-api-key", PROXY_KEY)
            .json(&body)
            .send()
    };
    let response = post(json!([prompt])).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let turn = answer["candidates"][0]["content"].clone();
    let call = turn["parts"].as_array().unwrap().iter().find_map(|p| p.get("functionCall")).cloned().unwrap();
    assert_eq!((call["name"].as_str(), &call["args"]), (Some("shell_command"), &json!({"command": SHELL_COMMAND})));

    let mut result = json!({"name": "shell_command", "response": {"output": SHELL_OUTPUT}});
    if let Some(id) = call.get("id") {
        result["id"] = id.clone();
    }
    let contents = json!([prompt, turn, {"role": "user", "parts": [{"functionResponse": result}]}]);
    let response = post(contents).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let text = answer["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap();
    assert!(text.starts_with(SHELL_ANSWER) && text.contains(SHELL_OUTPUT), "{answer}");
    let second = &mock.responses_requests()[1].body;
    let reasoning = second["input"].as_array().unwrap().iter().find(|i| i["type"] == "reasoning");
    assert_eq!(reasoning.map(|r| &r["encrypted_content"]), Some(&json!(ENCRYPTED_REASONING)), "{second}");
}

#[tokio::test]
async fn a_messages_client_gets_plain_text_and_the_output_limit_stop() {
    let mock = ResponsesMock::start().await;
    let gw = gateway(&mock, &["sk-resp-1"], &[]).await;
    for stream in [false, true] {
        let body = json!({"model": "resp/gpt-5.5", "max_tokens": 64, "messages": [{"role": "user", "content": "hey"}],
            "stream": stream});
        let (status, answer) = post_messages(&gw, &body).await;
        assert_eq!(status, 200, "{answer}");
        let (blocks, stop) = messages_answer(&answer, stream);
        assert_eq!((blocks[0]["text"].as_str(), stop.as_str()), (Some("Hello from responses: hey"), "end_turn"));

        let body = json!({"model": "resp/incomplete-1", "max_tokens": 64, "messages": [{"role": "user", "content": "hey"}],
            "stream": stream});
        let (status, answer) = post_messages(&gw, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(messages_answer(&answer, stream).1, "max_tokens", "{answer}");
    }
}

#[tokio::test]
async fn a_rate_limited_key_rotates_to_the_next_and_a_failed_response_is_an_error() {
    let mock = ResponsesMock::start().await;
    let gw = gateway(&mock, &["rl-resp-1", "sk-resp-2"], &[]).await;
    let (status, body) = post_chat(&gw, &chat_request("resp/gpt-5.5", false, &[])).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<Option<String>> = mock.responses_requests().iter().map(|r| r.bearer().map(str::to_string)).collect();
    assert_eq!(keys, [Some("rl-resp-1".to_string()), Some("sk-resp-2".to_string())]);

    for (stream, fold) in [(false, "true"), (false, "false"), (true, "true")] {
        let extra = [("MAX_ATTEMPTS_PER_CREDENTIAL", "1"), ("UPSTREAM_STREAM_FOR_NON_STREAM", fold)];
        let gw = gateway(&mock, &["sk-resp-3"], &extra).await;
        let response = gw.post("/v1/chat/completions", &chat_request("resp/failed-1", stream, &[])).await;
        assert!(response.status().is_server_error(), "{}", response.status());
        let error = error_of(response).await;
        assert!(error["message"].as_str().unwrap().contains(FAILURE_MESSAGE), "stream {stream}, fold {fold}: {error}");
    }
}

#[tokio::test]
async fn models_named_in_responses_models_go_over_responses_with_the_providers_keys() {
    let mock = ResponsesMock::start().await;
    let gw =
        Gateway::openai(&mock.base_url(), &["sk-openai-1"], &[("OPENAI_RESPONSES_MODELS", "gpt-5-pro, shell*")]).await;
    for model in ["openai/gpt-5-pro", "openai/shell-x"] {
        let (status, body) = post_chat(&gw, &chat_request(model, false, &[])).await;
        assert_eq!(status, 200, "{model}: {body}");
    }
    let body = json!({"model": "openai/gpt-5-pro", "max_tokens": 64, "messages": [{"role": "user", "content": "hey"}]});
    let (status, answer) = post_messages(&gw, &body).await;
    assert_eq!(
        (status, messages_answer(&answer, false).0[0]["text"].as_str()),
        (200, Some("Hello from responses: hey"))
    );
    // Any other model of the provider is still called over Chat Completions.
    gw.post("/v1/chat/completions", &chat_request("openai/gpt-4o", false, &[])).await;
    let calls: Vec<(String, String, Option<String>)> = mock
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path.clone(), r.body["model"].as_str().unwrap().to_string(), r.bearer().map(str::to_string)))
        .collect();
    let call = |path: &str, model: &str| (path.to_string(), model.to_string(), Some("sk-openai-1".to_string()));
    assert_eq!(
        calls,
        [
            call("/v1/responses", "gpt-5-pro"),
            call("/v1/responses", "shell-x"),
            call("/v1/responses", "gpt-5-pro"),
            call("/v1/chat/completions", "gpt-4o"),
        ]
    );
}

/// A Responses stream with a reasoning summary and its encrypted content, text with multi-byte
/// characters, and a function call whose arguments arrive in pieces.
const RESPONSES_UPSTREAM: &str = concat!(
    "event: response.created\r\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\r\n\r\n",
    ": keep-alive\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}}\n\n",
    "event: response.reasoning_summary_text.delta\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,\"summary_index\":0,\"delta\":\"Denke nach…\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Denke nach…\"}],\"encrypted_content\":\"gAAAA==\"}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":1,\"content_index\":0,\"delta\":\"Grüße 👋\"}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":2,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"\"}}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":2,\"item_id\":\"fc_1\",\"delta\":\"{\\\"city\\\":\"}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":2,\"item_id\":\"fc_1\",\"delta\":\"\\\"Zürich\\\"}\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":2,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Zürich\\\"}\"}}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":25,\"input_tokens_details\":{\"cached_tokens\":5},\"output_tokens\":30,\"output_tokens_details\":{\"reasoning_tokens\":10}}}}\n\n",
);

use crate::stream_splits::relay_all;

/// Whole, split at every byte, one byte at a time, and in random pieces: the same output.
fn assert_split_invariant(make: impl Fn() -> Box<dyn Relay>) -> String {
    let bytes = RESPONSES_UPSTREAM.as_bytes();
    let whole = relay_all(make().as_mut(), &[bytes]);
    for cut in 1..bytes.len() {
        assert_eq!(relay_all(make().as_mut(), &[&bytes[..cut], &bytes[cut..]]), whole, "split at byte {cut}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(relay_all(make().as_mut(), &singles), whole, "one byte at a time");
    let mut rng = StdRng::seed_from_u64(14);
    for round in 0..50 {
        let mut pieces = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(rng.random_range(1..=rest.len().min(40)));
            pieces.push(piece);
            rest = tail;
        }
        assert_eq!(relay_all(make().as_mut(), &pieces), whole, "random pieces, round {round}");
    }
    String::from_utf8(whole).unwrap()
}

#[test]
fn a_responses_upstream_stream_translates_to_chat_and_messages_identically_at_every_split() {
    let chat = assert_split_invariant(|| {
        let encoder = ChatStreamEncoder::new("chatcmpl-fixed", "resp/gpt-5", 1, true);
        Box::new(Translate::new(Box::new(ResponsesDecoder::new("resp")), Box::new(ChatEncoder(encoder))))
    });
    assert!(chat.contains(r#""reasoning_content":"Denke nach…""#), "{chat}");
    assert!(chat.contains(r#""content":"Grüße 👋""#), "{chat}");
    assert!(chat.contains(r#""arguments":"\"Zürich\"}""#), "{chat}");
    assert!(chat.contains(r#""finish_reason":"tool_calls""#), "{chat}");
    assert!(chat.contains(r#""prompt_tokens":25"#) && chat.ends_with("data: [DONE]\n\n"), "{chat}");

    let messages = assert_split_invariant(|| {
        let encoder = MessagesStreamEncoder::new("msg_fixed", "resp/gpt-5", 12);
        Box::new(Translate::new(Box::new(ResponsesDecoder::new("resp")), Box::new(MessagesEncoder(encoder))))
    });
    assert!(messages.contains(r#""signature":"llmkp1.resp.gAAAA==""#), "{messages}");
    assert!(messages.contains("Grüße 👋") && messages.contains("Zürich"), "{messages}");
    assert!(messages.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{messages}");
}
