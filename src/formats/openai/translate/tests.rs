use serde_json::json;

use super::*;
use crate::formats::ir::{Response, Signature, StopReason, ToolCall, ToolResult, Usage};

fn text(t: &str) -> Part {
    Part::Text { text: t.into(), cache_control: None }
}

fn user(parts: Vec<Part>) -> Message {
    Message { role: Role::User, parts }
}

fn request(messages: Vec<Message>) -> Request {
    Request { model: "p/m".into(), messages, ..Request::default() }
}

fn encode(req: &Request, provider: &str) -> Value {
    Value::Object(encode_request(req, "m", provider == "openai", false).unwrap())
}

fn call(id: &str, name: &str, arguments: &str) -> Part {
    Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None })
}

fn result(call_id: &str, content: Vec<Part>, is_error: bool) -> Part {
    Part::ToolResult(ToolResult { call_id: call_id.into(), content, is_error })
}

fn png() -> Part {
    Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() })
}

fn weather_tool() -> Tool {
    Tool::Function {
        name: "get_weather".into(),
        description: Some("Current weather".into()),
        parameters: json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}),
        strict: None,
        cache_control: None,
    }
}

#[test]
fn spec_example_request_encodes_to_the_chat_body() {
    // §13.1's Chat request, read into canonical form, comes back out as the same Chat request.
    let req = Request {
        model: "anthropic/claude-sonnet-4-5".into(),
        system: vec![text("Be brief.")],
        messages: vec![user(vec![text("Weather in this city?"), png()])],
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Required),
        parallel_tool_calls: Some(false),
        max_output_tokens: Some(1024),
        stream: true,
        ..Request::default()
    };
    let body = encode_request(&req, "claude-sonnet-4-5", false, true).unwrap();
    let expected = json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in this city?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "max_tokens": 1024,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    assert_eq!(serde_json::to_string(&body).unwrap(), serde_json::to_string(&expected).unwrap());
    assert!(dropped_params(&req).is_empty());
}

#[test]
fn system_parts_join_one_leading_message_without_billing_headers() {
    let mut req = request(vec![user(vec![text("hi")])]);
    req.system = vec![text("x-anthropic-billing-header: cc_version=1.0.3"), text("A"), text("B")];
    let body = encode(&req, "groq");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": [{"type":"text","text":"A"},{"type":"text","text":"B"}]})
    );
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "hi"}));

    req.system = vec![text("x-anthropic-billing-header: cc_version=1.0.3"), text("Only")];
    assert_eq!(encode(&req, "openai")["messages"][0], json!({"role": "system", "content": "Only"}));
    req.system = vec![text("x-anthropic-billing-header: x")];
    assert_eq!(encode(&req, "openai")["messages"][0]["role"], "user");
}

#[test]
fn tool_results_become_tool_messages_then_a_user_message_with_their_images() {
    let req = request(vec![
        user(vec![text("look")]),
        Message { role: Role::Assistant, parts: vec![call("call_1", "shot", "{}"), call("call_2", "read", "{}")] },
        Message {
            role: Role::Tool,
            parts: vec![
                result("call_1", vec![text("first"), png(), text("second")], false),
                result("call_2", vec![text("no such file")], true),
            ],
        },
        user(vec![text("what now?")]),
    ]);
    let messages = &encode(&req, "deepseek")["messages"];
    assert_eq!(messages.as_array().unwrap().len(), 5, "{messages:#}");
    assert_eq!(messages[2], json!({"role": "tool", "tool_call_id": "call_1", "content": "first\nsecond"}));
    assert_eq!(messages[3], json!({"role": "tool", "tool_call_id": "call_2", "content": "Error: no such file"}));
    assert_eq!(
        messages[4],
        json!({"role": "user", "content": [
            {"type": "text", "text": "Images returned by tool call call_1:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "text", "text": "what now?"}]})
    );
}

#[test]
fn results_in_separate_tool_messages_all_precede_the_images() {
    let req = request(vec![
        Message { role: Role::Assistant, parts: vec![call("a", "f", "{}"), call("b", "f", "{}")] },
        Message { role: Role::Tool, parts: vec![result("a", vec![png()], false)] },
        Message { role: Role::Tool, parts: vec![result("b", vec![text("Error: already")], true)] },
    ]);
    let messages = &encode(&req, "x")["messages"];
    let roles: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["assistant", "tool", "tool", "user"]);
    assert_eq!(messages[1]["content"], "");
    assert_eq!(messages[2]["content"], "Error: already", "no double prefix");
    assert_eq!(messages[3]["content"][0]["text"], "Images returned by tool call a:");
}

#[test]
fn assistant_history_keeps_tool_calls_and_reasoning() {
    let signature = Some(Signature { origin: "anthropic".into(), value: "sig".into() });
    let assistant = Message {
        role: Role::Assistant,
        parts: vec![
            Part::Reasoning { text: "Plan A.".into(), signature: signature.clone(), redacted: None },
            Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
            call("toolu_01!", "get_weather", "{\"city\":\"Paris\"}"),
        ],
    };
    let req = request(vec![user(vec![text("hi")]), assistant.clone()]);
    assert_eq!(
        encode(&req, "deepseek")["messages"][1],
        json!({"role": "assistant", "content": null, "reasoning_content": "Plan A.", "tool_calls": [
            {"id": "toolu_01!", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    // OpenAI defines no reasoning input on Chat messages.
    assert!(encode(&req, "openai")["messages"][1].get("reasoning_content").is_none());

    let texts = Message { role: Role::Assistant, parts: vec![text("Hel"), text("lo"), Part::Refusal("no".into())] };
    assert_eq!(
        encode(&request(vec![texts]), "x")["messages"][0],
        json!({"role": "assistant", "content": "Hello", "refusal": "no"})
    );
}

#[test]
fn tool_choice_table() {
    let cases = [
        (ToolChoice::Auto, json!("auto")),
        (ToolChoice::None, json!("none")),
        (ToolChoice::Required, json!("required")),
        (ToolChoice::Specific("get_weather".into()), json!({"type": "function", "function": {"name": "get_weather"}})),
    ];
    for (choice, expected) in cases {
        let mut req = request(vec![user(vec![text("hi")])]);
        req.tools = vec![weather_tool()];
        req.tool_choice = Some(choice);
        req.parallel_tool_calls = Some(false);
        let body = encode(&req, "x");
        assert_eq!(body["tool_choice"], expected);
        assert_eq!(body["parallel_tool_calls"], false);
        // Without tools both mean nothing, and OpenAI refuses them.
        req.tools.clear();
        let body = encode(&req, "x");
        assert!(body.get("tool_choice").is_none() && body.get("parallel_tool_calls").is_none());
    }
}

#[test]
fn tool_without_schema_gets_an_empty_object_schema_and_strict_is_kept() {
    let mut req = request(vec![user(vec![text("hi")])]);
    req.tools = vec![Tool::Function {
        name: "ping".into(),
        description: None,
        parameters: Value::Null,
        strict: Some(true),
        cache_control: Some(json!({"type": "ephemeral"})),
    }];
    assert_eq!(
        encode(&req, "x")["tools"][0],
        json!({"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}, "strict": true}})
    );
}

#[test]
fn server_tool_is_refused_naming_it() {
    let mut req = request(vec![user(vec![text("hi")])]);
    req.tools = vec![weather_tool(), Tool::Server { kind: "web_search_20250305".into(), raw: Map::new() }];
    let err = encode_request(&req, "m", true, false).unwrap_err();
    assert_eq!(err.message, "web_search_20250305 can only run on Anthropic upstreams");
    assert_eq!(err.param.as_deref(), Some("tools[1]"));
}

#[test]
fn top_k_is_dropped_and_reported() {
    let mut req = request(vec![user(vec![text("hi")])]);
    req.top_k = Some(40);
    req.temperature = Some(0.5);
    req.top_p = Some(0.9);
    req.stop = vec!["END".into()];
    req.user = Some("u-1".into());
    let body = encode(&req, "x");
    assert!(body.get("top_k").is_none());
    assert_eq!(dropped_params(&req), ["top_k"]);
    assert_eq!(
        (&body["temperature"], &body["top_p"], &body["stop"], &body["user"]),
        (&json!(0.5), &json!(0.9), &json!(["END"]), &json!("u-1"))
    );
}

#[test]
fn max_output_tokens_uses_the_field_the_upstream_accepts_and_streams_ask_for_usage() {
    let mut req = request(vec![user(vec![text("hi")])]);
    req.max_output_tokens = Some(300);
    let openai = encode(&req, "openai");
    assert_eq!(openai["max_completion_tokens"], 300);
    assert!(openai.get("max_tokens").is_none() && openai.get("stream").is_none());
    let streamed = Value::Object(encode_request(&req, "m", false, true).unwrap());
    assert_eq!(streamed["max_tokens"], 300);
    assert_eq!((&streamed["stream"], &streamed["stream_options"]), (&json!(true), &json!({"include_usage": true})));
}

#[test]
fn reasoning_settings_become_reasoning_effort() {
    let cases = [
        (Reasoning::Effort("minimal".into()), "x", Some("minimal")),
        (Reasoning::Effort("xhigh".into()), "x", Some("high")),
        (Reasoning::Effort("xhigh".into()), "openai", Some("xhigh")),
        (Reasoning::Effort("none".into()), "x", None),
        (Reasoning::Effort("none".into()), "openai", Some("none")),
        (Reasoning::Disabled, "x", None),
        (Reasoning::Disabled, "openai", Some("none")),
        (Reasoning::BudgetTokens(0), "openai", Some("none")),
        (Reasoning::BudgetTokens(1024), "x", Some("low")),
        (Reasoning::BudgetTokens(8192), "x", Some("low")),
        (Reasoning::BudgetTokens(16384), "x", Some("medium")),
        (Reasoning::BudgetTokens(32768), "x", Some("high")),
    ];
    for (reasoning, provider, expected) in cases {
        let mut req = request(vec![user(vec![text("hi")])]);
        req.reasoning = Some(reasoning.clone());
        let body = encode(&req, provider);
        assert_eq!(body.get("reasoning_effort").and_then(Value::as_str), expected, "{reasoning:?} to {provider}");
    }
}

#[test]
fn documents_become_text_or_file_parts_and_unsendable_media_is_refused() {
    let doc = |source, title: Option<&str>| Part::Document { source, title: title.map(str::to_string) };
    let req = request(vec![user(vec![
        doc(DocumentSource::PlainText("body".into()), Some("Notes")),
        doc(DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBERi0=".into() }, None),
    ])]);
    assert_eq!(
        encode(&req, "x")["messages"][0]["content"],
        json!([{"type": "text", "text": "Notes\nbody"},
               {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "document.pdf"}}])
    );

    let url = request(vec![user(vec![text("a"), doc(DocumentSource::Url("https://x.test/a.pdf".into()), None)])]);
    let err = encode_request(&url, "m", false, false).unwrap_err();
    assert!(
        err.message.contains("https://x.test/a.pdf") && err.message.contains("does not fetch remote documents"),
        "{}",
        err.message
    );
    assert_eq!(err.param.as_deref(), Some("messages[0]"));

    let file = request(vec![user(vec![Part::Image(ImageSource::FileRef("file-1".into()))])]);
    assert!(encode_request(&file, "m", false, false).unwrap_err().message.contains("file-1"));
    let call_in_user = request(vec![user(vec![call("c", "f", "{}")])]);
    assert!(encode_request(&call_in_user, "m", false, false).is_err());
}

fn decode(body: Value) -> Response {
    decode_response(body.as_object().unwrap(), "deepseek/deepseek-reasoner").unwrap()
}

#[test]
fn response_with_reasoning_text_tool_calls_and_usage_decodes() {
    let response = decode(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "deepseek-reasoner",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.", "reasoning_content": "Need weather.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                  "prompt_tokens_details": {"cached_tokens": 60}, "completion_tokens_details": {"reasoning_tokens": 20}}
    }));
    assert_eq!(
        response,
        Response {
            id: "chatcmpl-1".into(),
            model: "deepseek/deepseek-reasoner".into(),
            parts: vec![
                Part::Reasoning { text: "Need weather.".into(), signature: None, redacted: None },
                text("Checking."),
                call("call_1", "get_weather", "{\"city\":\"Paris\"}"),
                call("call_2", "get_time", "{}"),
            ],
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
            usage: Usage { input_total: 100, cache_read: 60, cache_write: 0, output_total: 50, reasoning: 20 },
        }
    );
}

#[test]
fn finish_reasons_map_per_the_table() {
    let with = |finish: Value, calls: bool| {
        let mut message = json!({"role": "assistant", "content": "x"});
        if calls {
            message["tool_calls"] = json!([{"id": "c", "function": {"name": "f", "arguments": "{}"}}]);
        }
        decode(json!({"choices": [{"message": message, "finish_reason": finish}]})).stop_reason
    };
    assert_eq!(with(json!("stop"), false), StopReason::EndTurn);
    assert_eq!(with(json!("stop"), true), StopReason::ToolUse);
    assert_eq!(with(json!("length"), false), StopReason::MaxTokens);
    assert_eq!(with(json!("function_call"), false), StopReason::ToolUse);
    assert_eq!(with(json!("content_filter"), false), StopReason::ContentFilter);
    assert_eq!(with(Value::Null, false), StopReason::EndTurn);
    assert_eq!(with(Value::Null, true), StopReason::ToolUse);
}

#[test]
fn response_oddities_decode_without_loss() {
    // `reasoning` alias, refusal, legacy function_call, object arguments, missing id, reasoning
    // counted apart from completion tokens.
    let response = decode(json!({
        "id": "r1",
        "choices": [{"message": {"content": null, "reasoning": "hm", "refusal": "I can't.",
            "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
            "function_call": {"name": "g", "arguments": "{}"}}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 8}}
    }));
    assert_eq!(response.parts[0], Part::Reasoning { text: "hm".into(), signature: None, redacted: None });
    assert_eq!(response.parts[1], Part::Refusal("I can't.".into()));
    let Part::ToolCall(first) = &response.parts[2] else { panic!("{:?}", response.parts) };
    assert!(first.id.starts_with("call_") && first.id.len() == 29);
    assert_eq!(first.arguments, "{\"a\":1}");
    assert!(matches!(&response.parts[3], Part::ToolCall(c) if c.name == "g"));
    assert_eq!(response.usage, Usage { input_total: 10, output_total: 13, reasoning: 8, ..Usage::default() });

    assert!(decode_response(json!({"choices": []}).as_object().unwrap(), "m").is_err());
}

#[test]
fn system_messages_inside_the_conversation_stay_in_place() {
    let system = |t: &str| Message { role: Role::System, parts: vec![text(t)] };
    let mut req = request(vec![
        user(vec![text("hi")]),
        system("env: linux"),
        Message { role: Role::Assistant, parts: vec![call("c1", "ls", "{}")] },
        system("x-anthropic-billing-header: cc_version=1"),
        Message { role: Role::Tool, parts: vec![result("c1", vec![text("a.txt")], false)] },
        system("later"),
        user(vec![text("next")]),
    ]);
    req.system = vec![text("top")];
    let body = encode(&req, "openai");
    let roles: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    // Tool answers follow their call at once; system text keeps its order otherwise.
    assert_eq!(roles, ["system", "user", "system", "assistant", "tool", "system", "user"]);
    assert_eq!(body["messages"][2]["content"], "env: linux");
    assert_eq!(body["messages"][5]["content"], "later");
}
