use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::formats::openai::translate::encode_request;

fn decode(body: Value) -> Result<Request, InvalidRequest> {
    decode_request(body.as_object().expect("test bodies are objects"))
}

fn with_messages(messages: Value) -> Request {
    decode(json!({"model": "anthropic/claude-sonnet-4-5", "messages": messages})).unwrap()
}

fn err(body: Value) -> InvalidRequest {
    decode(body).unwrap_err()
}

fn text(t: &str) -> Part {
    Part::Text { text: t.into(), cache_control: None }
}

fn message(role: Role, parts: Vec<Part>) -> Message {
    Message { role, parts }
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
fn spec_example_request_decodes() {
    // §13.1's Chat request.
    let req = decode(json!({"model":"anthropic/claude-sonnet-4-5","max_tokens":1024,"stream":true,
     "messages":[{"role":"system","content":"Be brief."},
      {"role":"user","content":[{"type":"text","text":"Weather in this city?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
       "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
     "tool_choice":"required","parallel_tool_calls":false}))
    .unwrap();
    assert_eq!(
        req,
        Request {
            model: "anthropic/claude-sonnet-4-5".into(),
            system: vec![text("Be brief.")],
            messages: vec![message(Role::User, vec![text("Weather in this city?"), png()])],
            tools: vec![weather_tool()],
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(false),
            max_output_tokens: Some(1024),
            stream: true,
            ..Request::default()
        }
    );
}

#[test]
fn top_level_parameters_decode() {
    let req = decode(json!({
        "model": " openai/gpt-4o ", "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 100, "max_completion_tokens": 300, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "stop": ["END", "###"], "reasoning_effort": "minimal", "user": "u-1", "stream": false,
        "n": 1, "response_format": {"type": "text"}, "modalities": ["text"], "vendor_extra": {"k": 1}
    }))
    .unwrap();
    assert_eq!(req.model, "openai/gpt-4o");
    assert_eq!(req.max_output_tokens, Some(300), "max_completion_tokens wins");
    assert_eq!((req.temperature, req.top_p, req.top_k), (Some(0.5), Some(0.9), Some(40)));
    assert_eq!(req.stop, ["END", "###"]);
    assert_eq!(req.reasoning, Some(Reasoning::Effort("minimal".into())));
    assert_eq!(req.user.as_deref(), Some("u-1"));
    assert!(!req.stream);

    let minimal = with_messages(json!([{"role": "user", "content": "Hi"}]));
    assert_eq!(minimal.max_output_tokens, None);
    assert!(minimal.stop.is_empty() && minimal.reasoning.is_none() && minimal.tool_choice.is_none());
    assert!(minimal.user.is_none() && minimal.parallel_tool_calls.is_none() && !minimal.stream);

    let other = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 7,
        "stop": "STOP", "metadata": {"user_id": "u-2"}, "reasoning_effort": "none", "stream": true}))
    .unwrap();
    assert_eq!(other.max_output_tokens, Some(7));
    assert_eq!(other.stop, ["STOP"]);
    assert_eq!(other.user.as_deref(), Some("u-2"), "metadata.user_id when there is no user");
    assert_eq!(other.reasoning, Some(Reasoning::Effort("none".into())));
    assert!(other.stream);
}

#[test]
fn every_reasoning_effort_is_kept_as_given() {
    for effort in EFFORTS {
        let req =
            decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}));
        assert_eq!(req.unwrap().reasoning, Some(Reasoning::Effort(effort.into())));
    }
    let e = err(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "disable"}));
    assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
    assert!(e.message.contains("'disable'"), "{e}");
}

#[test]
fn system_and_developer_messages_are_hoisted_in_order() {
    let req = with_messages(json!([
        {"role": "system", "content": "A"},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "B"},
            {"type": "text", "text": "C", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": ""},
        {"role": "system", "content": "D", "name": "ops"},
    ]));
    assert_eq!(
        req.system,
        [
            text("A"),
            text("B"),
            Part::Text { text: "C".into(), cache_control: Some(json!({"type": "ephemeral"})) },
            text("D")
        ]
    );
    assert_eq!(req.messages, [message(Role::User, vec![text("hi")]), message(Role::Assistant, vec![text("hello")])]);
    let e = err(json!({"model": "a/b", "messages": [
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
    assert!(e.message.contains("'image_url'") && e.message.contains("text parts only"), "{e}");
}

#[test]
fn user_content_parts_decode() {
    let req = with_messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {"type": "image_url", "image_url": "https://x.test/b.png"},
        {"type": "image_url", "image_url": {"url": "DATA:image/png;charset=x;BASE64,AAAA"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "report.pdf"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
    ]}]));
    let base64 =
        |media_type: &str, data: &str| DocumentSource::Base64 { media_type: media_type.into(), data: data.into() };
    assert_eq!(
        req.messages[0].parts,
        [
            text("look"),
            Part::Image(ImageSource::Base64 { media_type: "image/jpeg".into(), data: "/9j/4AAQ".into() }),
            Part::Image(ImageSource::Url("https://x.test/a.png".into())),
            Part::Image(ImageSource::Url("https://x.test/b.png".into())),
            Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "AAAA".into() }),
            Part::Document { source: base64("application/pdf", "JVBERi0="), title: Some("report.pdf".into()) },
            Part::Document { source: base64("application/pdf", "JVBERi0="), title: None },
        ]
    );
    // A plain string, even empty, is one text part.
    assert_eq!(with_messages(json!([{"role": "user", "content": ""}])).messages[0].parts, [text("")]);
}

#[test]
fn audio_file_references_and_malformed_data_urls_are_refused() {
    let part = |p: Value| json!({"model": "a/b", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, p]}]});
    let audio = err(part(json!({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}})));
    assert_eq!(audio.param.as_deref(), Some("messages[0].content[1]"));
    assert!(audio.message.contains("audio"), "{audio}");

    let file_id = err(part(json!({"type": "file", "file": {"file_id": "file-abc"}})));
    assert_eq!(file_id.param.as_deref(), Some("messages[0].content[1].file.file_id"));
    assert!(file_id.message.contains("file-abc"), "{file_id}");

    for url in ["data:image/png,AAAA", "data:;base64,AAAA", "data:image/png;base64,", "data:image/png;base64"] {
        let e = err(part(json!({"type": "image_url", "image_url": {"url": url}})));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1].image_url.url"), "{url}");
        assert!(e.message.contains("malformed data URL"), "{e}");
    }
    let e = err(part(json!({"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}})));
    assert_eq!(e.param.as_deref(), Some("messages[0].content[1].file.file_data"));
}

#[test]
fn assistant_history_decodes_reasoning_text_refusal_and_calls_in_order() {
    let req = with_messages(json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": null, "reasoning_content": "Plan A.", "refusal": "no", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "function": {"name": "get_time", "arguments": {"tz": "CET"}}},
            {"id": "call_3", "type": "function", "function": {"name": "noop"}},
            {"id": "call_4", "type": "function", "function": {"name": "raw", "arguments": "not json"}}]},
        {"role": "assistant", "reasoning": "alias", "content": [{"type": "text", "text": "a"},
            {"type": "refusal", "refusal": "r"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "", "reasoning_content": ""},
    ]));
    let reasoning = |t: &str| Part::Reasoning { text: t.into(), signature: None, redacted: None };
    assert_eq!(
        req.messages[1].parts,
        [
            reasoning("Plan A."),
            Part::Refusal("no".into()),
            call("call_1", "get_weather", "{\"city\":\"Paris\"}"),
            call("call_2", "get_time", "{\"tz\":\"CET\"}"),
            call("call_3", "noop", "{}"),
            call("call_4", "raw", "not json"),
        ]
    );
    assert_eq!(req.messages[2].parts, [reasoning("alias"), text("a"), Part::Refusal("r".into()), text("b")]);
    assert_eq!(req.messages[3], message(Role::Assistant, vec![]));
}

#[test]
fn tool_messages_become_one_tool_message_per_run() {
    let req = with_messages(json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12"}, {"type": "text", "text": ":00"}]},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_3", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_3", "content": "Error: no such file"},
        {"role": "tool", "tool_call_id": "call_3b", "content": ""},
    ]));
    assert_eq!(req.messages.len(), 6);
    assert_eq!(
        req.messages[2],
        message(
            Role::Tool,
            vec![
                result("call_1", vec![text("{\"temp\":21}")], false),
                result("call_2", vec![text("12"), text(":00")], false)
            ]
        )
    );
    assert_eq!(req.messages[3], message(Role::User, vec![text("thanks")]));
    assert_eq!(
        req.messages[5],
        message(
            Role::Tool,
            vec![result("call_3", vec![text("Error: no such file")], true), result("call_3b", vec![], false)]
        )
    );
    let e = err(json!({"model": "a/b", "messages": [{"role": "tool", "tool_call_id": "c",
        "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
}

#[test]
fn legacy_function_calls_pair_with_function_messages_by_name() {
    let req = decode(json!({"model": "a/b",
        "functions": [{"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}],
        "function_call": {"name": "lookup"},
        "messages": [
            {"role": "user", "content": "find it"},
            {"role": "assistant", "content": null, "function_call": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}},
            {"role": "function", "name": "lookup", "content": "found"}]}))
    .unwrap();
    let Part::ToolCall(legacy) = &req.messages[1].parts[0] else { panic!("{:?}", req.messages[1]) };
    assert!(legacy.id.starts_with("call_"));
    assert_eq!((legacy.name.as_str(), legacy.arguments.as_str()), ("lookup", "{\"q\":\"x\"}"));
    assert_eq!(req.messages[2], message(Role::Tool, vec![result(&legacy.id, vec![text("found")], false)]));
    assert_eq!(req.tool_choice, Some(ToolChoice::Specific("lookup".into())));
    assert!(matches!(&req.tools[..], [Tool::Function { name, .. }] if name == "lookup"));

    let orphan = err(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"},
        {"role": "function", "name": "lookup", "content": "found"}]}));
    assert_eq!(orphan.param.as_deref(), Some("messages[1].name"));
    assert!(orphan.message.contains("'lookup'"), "{orphan}");
    let mode =
        |m: Value| decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "function_call": m}));
    assert_eq!(mode(json!("none")).unwrap().tool_choice, Some(ToolChoice::None));
    assert_eq!(mode(json!("required")).unwrap_err().param.as_deref(), Some("function_call"));
}

#[test]
fn function_tools_decode_and_other_tool_types_are_refused() {
    let req = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
            "parameters": {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
        {"type": "function", "function": {"name": "ping", "strict": true}}]}))
    .unwrap();
    assert_eq!(
        req.tools,
        [
            weather_tool(),
            Tool::Function {
                name: "ping".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
                strict: Some(true),
                cache_control: None,
            }
        ]
    );
    let e = err(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "f"}}, {"type": "web_search_preview"}]}));
    assert_eq!(e.param.as_deref(), Some("tools[1].type"));
    assert!(e.message.contains("'web_search_preview'"), "{e}");
}

#[test]
fn tool_choice_table() {
    let cases = [
        (json!("auto"), ToolChoice::Auto),
        (json!("none"), ToolChoice::None),
        (json!("required"), ToolChoice::Required),
        (json!({"type": "function", "function": {"name": "get_weather"}}), ToolChoice::Specific("get_weather".into())),
    ];
    for (choice, expected) in cases {
        let req = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "tool_choice": choice,
            "parallel_tool_calls": true}))
        .unwrap();
        assert_eq!(req.tool_choice, Some(expected));
        assert_eq!(req.parallel_tool_calls, Some(true));
    }
    let bad = |choice: Value| {
        err(json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "tool_choice": choice})).param
    };
    assert_eq!(bad(json!("any")).as_deref(), Some("tool_choice"));
    assert_eq!(bad(json!({"type": "allowed_tools"})).as_deref(), Some("tool_choice.type"));
    assert_eq!(bad(json!({"type": "function"})).as_deref(), Some("tool_choice.function"));
    assert_eq!(bad(json!({"type": "function", "function": {}})).as_deref(), Some("tool_choice.function.name"));
    assert_eq!(bad(json!(3)).as_deref(), Some("tool_choice"));
}

#[test]
fn untranslatable_requests_are_refused_and_droppable_params_are_named() {
    let base = || json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}]});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    let n = err(with("n", json!(2)));
    assert_eq!(n.param.as_deref(), Some("n"));
    assert!(n.message.contains("n = 2"), "{n}");
    assert_eq!(err(with("n", json!(0))).param.as_deref(), Some("n"));
    let schema = decode(with(
        "response_format",
        json!({"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": true}}),
    ))
    .unwrap();
    assert_eq!(
        schema.response_format,
        Some(ResponseFormat::JsonSchema {
            name: Some("r".into()),
            schema: json!({"type": "object"}),
            strict: Some(true)
        })
    );
    assert_eq!(err(with("response_format", json!({"type": "xml"}))).param.as_deref(), Some("response_format.type"));
    assert_eq!(err(with("modalities", json!(["text", "audio"]))).param.as_deref(), Some("modalities"));

    let body = json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}], "seed": 7,
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "logprobs": false, "top_logprobs": null,
        "logit_bias": {"50256": -100}, "response_format": {"type": "json_object"}});
    assert!(decode(body.clone()).is_ok());
    assert_eq!(
        dropped_params(body.as_object().unwrap()),
        ["seed", "presence_penalty", "frequency_penalty", "logit_bias"]
    );
    assert!(dropped_params(base().as_object().unwrap()).is_empty());
}

#[test]
fn invalid_requests_name_the_field() {
    let user = json!([{"role": "user", "content": "Hi"}]);
    let part = |p: Value| json!({"model": "a/b", "messages": [{"role": "user", "content": [p]}]});
    let assistant = |a: Value| json!({"model": "a/b", "messages": [{"role": "user", "content": "x"}, a]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"messages": user}), "model"),
        (json!({"model": " ", "messages": user}), "model"),
        (json!({"model": 3, "messages": user}), "model"),
        (json!({"model": "a/b"}), "messages"),
        (json!({"model": "a/b", "messages": []}), "messages"),
        (json!({"model": "a/b", "messages": {}}), "messages"),
        (json!({"model": "a/b", "messages": [1]}), "messages[0]"),
        (json!({"model": "a/b", "messages": [{"content": "x"}]}), "messages[0].role"),
        (json!({"model": "a/b", "messages": [{"role": "critic", "content": "x"}]}), "messages[0].role"),
        (json!({"model": "a/b", "messages": [{"role": "user"}]}), "messages[0].content"),
        (json!({"model": "a/b", "messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
        (json!({"model": "a/b", "messages": [{"role": "system"}]}), "messages[0].content"),
        (json!({"model": "a/b", "messages": [{"role": "tool", "content": "x"}]}), "messages[0].tool_call_id"),
        (
            json!({"model": "a/b", "messages": [{"role": "tool", "tool_call_id": "", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (json!({"model": "a/b", "messages": [{"role": "tool", "tool_call_id": "c"}]}), "messages[0].content"),
        (json!({"model": "a/b", "messages": [{"role": "function", "content": "x"}]}), "messages[0].name"),
        (part(json!("text")), "messages[0].content[0]"),
        (part(json!({"text": "x"})), "messages[0].content[0].type"),
        (part(json!({"type": "text"})), "messages[0].content[0].text"),
        (part(json!({"type": "text", "text": 1})), "messages[0].content[0].text"),
        (part(json!({"type": "video"})), "messages[0].content[0].type"),
        (part(json!({"type": "image_url"})), "messages[0].content[0].image_url"),
        (part(json!({"type": "image_url", "image_url": {}})), "messages[0].content[0].image_url.url"),
        (part(json!({"type": "image_url", "image_url": 4})), "messages[0].content[0].image_url"),
        (part(json!({"type": "file"})), "messages[0].content[0].file"),
        (part(json!({"type": "file", "file": {"filename": "a.pdf"}})), "messages[0].content[0].file.file_data"),
        (part(json!({"type": "file", "file": {"file_data": 1}})), "messages[0].content[0].file.file_data"),
        (assistant(json!({"role": "assistant", "content": [{"type": "image_url"}]})), "messages[1].content[0].type"),
        (assistant(json!({"role": "assistant", "content": [{"type": "refusal"}]})), "messages[1].content[0].refusal"),
        (assistant(json!({"role": "assistant", "reasoning_content": 1})), "messages[1].reasoning_content"),
        (assistant(json!({"role": "assistant", "refusal": []})), "messages[1].refusal"),
        (assistant(json!({"role": "assistant", "audio": {"id": "audio_1"}})), "messages[1].audio"),
        (assistant(json!({"role": "assistant", "tool_calls": {}})), "messages[1].tool_calls"),
        (assistant(json!({"role": "assistant", "tool_calls": [7]})), "messages[1].tool_calls[0]"),
        (
            assistant(json!({"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]})),
            "messages[1].tool_calls[0].id",
        ),
        (assistant(json!({"role": "assistant", "tool_calls": [{"id": "c"}]})), "messages[1].tool_calls[0].function"),
        (
            assistant(json!({"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]})),
            "messages[1].tool_calls[0].function.name",
        ),
        (
            assistant(json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]})),
            "messages[1].tool_calls[0].type",
        ),
        (assistant(json!({"role": "assistant", "function_call": {}})), "messages[1].function_call.name"),
        (json!({"model": "a/b", "messages": user, "tools": {}}), "tools"),
        (json!({"model": "a/b", "messages": user, "tools": [1]}), "tools[0]"),
        (json!({"model": "a/b", "messages": user, "tools": [{"type": "function"}]}), "tools[0].function"),
        (
            json!({"model": "a/b", "messages": user, "tools": [{"type": "function", "function": {}}]}),
            "tools[0].function.name",
        ),
        (
            json!({"model": "a/b", "messages": user, "tools": [{"function": {"name": "f", "parameters": []}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"model": "a/b", "messages": user, "tools": [{"function": {"name": "f", "strict": "yes"}}]}),
            "tools[0].function.strict",
        ),
        (json!({"model": "a/b", "messages": user, "functions": [{"description": "d"}]}), "functions[0].name"),
        (json!({"model": "a/b", "messages": user, "max_tokens": -1}), "max_tokens"),
        (json!({"model": "a/b", "messages": user, "max_completion_tokens": 1.5}), "max_completion_tokens"),
        (json!({"model": "a/b", "messages": user, "temperature": "hot"}), "temperature"),
        (json!({"model": "a/b", "messages": user, "top_p": []}), "top_p"),
        (json!({"model": "a/b", "messages": user, "stream": "yes"}), "stream"),
        (json!({"model": "a/b", "messages": user, "parallel_tool_calls": 1}), "parallel_tool_calls"),
        (json!({"model": "a/b", "messages": user, "stop": ["a", 1]}), "stop[1]"),
        (json!({"model": "a/b", "messages": user, "stop": 1}), "stop"),
        (json!({"model": "a/b", "messages": user, "user": 1}), "user"),
        (json!({"model": "a/b", "messages": user, "reasoning_effort": 1}), "reasoning_effort"),
        (json!({"model": "a/b", "messages": user, "n": "2"}), "n"),
        (json!({"model": "a/b", "messages": user, "response_format": "json"}), "response_format"),
        (json!({"model": "a/b", "messages": user, "response_format": {}}), "response_format.type"),
        (json!({"model": "a/b", "messages": user, "modalities": "text"}), "modalities"),
    ];
    for (body, param) in cases {
        let e = decode(body.clone()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some(param), "{body} → {}", e.message);
    }
}

/// Canonical → Chat (the encoder of Chat upstreams) → canonical is the identity for what Chat can express.
#[test]
fn canonical_requests_round_trip_through_chat() {
    let doc = Part::Document {
        source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBERi0=".into() },
        title: Some("report.pdf".into()),
    };
    let untitled = Part::Document {
        source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBERi0=".into() },
        title: None,
    };
    let full = |with_reasoning: bool| {
        let mut assistant = vec![text("Checking."), call("call_1", "get_weather", "{\"city\":\"Paris\"}")];
        assistant.push(call("call_2", "get_time", "{}"));
        if with_reasoning {
            assistant.insert(0, Part::Reasoning { text: "Need weather.".into(), signature: None, redacted: None });
        }
        Request {
            model: "anthropic/claude-sonnet-4-5".into(),
            system: vec![text("Be brief."), text("Use tools.")],
            messages: vec![
                message(
                    Role::User,
                    vec![text("Weather here?"), png(), Part::Image(ImageSource::Url("https://x.test/a.png".into()))],
                ),
                message(Role::User, vec![doc.clone(), untitled.clone()]),
                message(Role::Assistant, assistant),
                message(
                    Role::Tool,
                    vec![
                        result("call_1", vec![text("{\"temp\":21}")], false),
                        result("call_2", vec![text("Error: clock unavailable")], true),
                    ],
                ),
                message(Role::User, vec![text("And tomorrow?")]),
                message(Role::Assistant, vec![Part::Refusal("I can't forecast.".into())]),
                message(Role::Assistant, vec![text("Sorry.")]),
                message(Role::User, vec![text("ok")]),
            ],
            tools: vec![
                weather_tool(),
                Tool::Function {
                    name: "get_time".into(),
                    description: None,
                    parameters: json!({"type": "object", "properties": {}}),
                    strict: Some(true),
                    cache_control: None,
                },
            ],
            tool_choice: Some(ToolChoice::Specific("get_weather".into())),
            parallel_tool_calls: Some(false),
            max_output_tokens: Some(2048),
            temperature: Some(0.3),
            top_p: Some(0.8),
            stop: vec!["END".into(), "###".into()],
            reasoning: Some(Reasoning::Effort("high".into())),
            stream: true,
            user: Some("u-1".into()),
            ..Request::default()
        }
    };
    // `deepseek` gets `max_tokens` and `reasoning_content`; OpenAI `max_completion_tokens` and no
    // reasoning input (so none is in its canonical request).
    for (provider, req) in [("deepseek", full(true)), ("custom", full(true)), ("openai", full(false))] {
        let encoded = encode_request(&req, "m", provider == "openai", req.stream).unwrap();
        let mut decoded = decode_request(&encoded).unwrap();
        assert_eq!(decoded.model, "m");
        decoded.model = req.model.clone();
        assert_eq!(decoded, req, "through {provider}: {}", Value::Object(encoded));
    }

    let mut other = Request {
        model: "m".into(),
        messages: vec![message(Role::User, vec![text("hi")])],
        tool_choice: Some(ToolChoice::Auto),
        reasoning: Some(Reasoning::Effort("none".into())),
        ..Request::default()
    };
    let encoded = encode_request(&other, "m", true, false).unwrap();
    other.tool_choice = None; // not sent without tools
    assert_eq!(decode_request(&encoded).unwrap(), other);
}

/// Chat forms the encoder never produces (developer role, late system text, text part arrays)
/// decode to a canonical request that survives another trip through Chat unchanged.
#[test]
fn reencoding_a_decoded_request_is_stable() {
    let body = json!({"model": "m", "messages": [
        {"role": "developer", "content": "A"},
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "y"}], "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {"role": "system", "content": "B"}]});
    let first = decode(body).unwrap();
    let again = decode_request(&encode_request(&first, "m", false, false).unwrap()).unwrap();
    assert_eq!(again, first);
    assert_eq!(first.system, [text("A"), text("B")]);
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    const KEYS: [&str; 28] = [
        "role",
        "content",
        "type",
        "text",
        "image_url",
        "url",
        "file",
        "file_data",
        "filename",
        "file_id",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "id",
        "tool_call_id",
        "refusal",
        "reasoning_content",
        "parameters",
        "tools",
        "tool_choice",
        "stop",
        "n",
        "response_format",
        "function_call",
        "metadata",
        "user_id",
        "messages",
    ];
    const STRINGS: [&str; 22] = [
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "function",
        "text",
        "image_url",
        "file",
        "input_audio",
        "refusal",
        "auto",
        "required",
        "data:image/png;base64,AAAA",
        "data:;base64,",
        "data:application/pdf;base64,JVBE",
        "data:",
        "DATA:x/y;BASE64,",
        "Error: x",
        "",
        "json_object",
        "é☃",
    ];
    let numbers = [json!(0), json!(1), json!(2), json!(-1), json!(1.5), json!(u64::MAX), json!(i64::MIN), json!(1e308)];
    let pick = rng.random_range(0..if depth == 0 { 4 } else { 7 });
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random_bool(0.5)),
        2 => numbers[rng.random_range(0..numbers.len())].clone(),
        3 => json!(STRINGS[rng.random_range(0..STRINGS.len())]),
        4 => (0..rng.random_range(0..4)).map(|_| random_value(rng, depth - 1)).collect(),
        _ => Value::Object(
            (0..rng.random_range(0..5))
                .map(|_| (KEYS[rng.random_range(0..KEYS.len())].to_string(), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// Replaces (with probability `rate` per node), removes or adds nodes anywhere in `value`.
fn mutate(value: &mut Value, rng: &mut StdRng, rate: f64) {
    if rng.random_bool(rate) {
        *value = random_value(rng, 3);
        return;
    }
    match value {
        Value::Array(items) => {
            if !items.is_empty() && rng.random_bool(rate) {
                items.remove(rng.random_range(0..items.len()));
            }
            items.iter_mut().for_each(|item| mutate(item, rng, rate));
        }
        Value::Object(map) => {
            if !map.is_empty() && rng.random_bool(rate) {
                let key = map.keys().nth(rng.random_range(0..map.len())).cloned().unwrap_or_default();
                map.remove(&key);
            }
            if rng.random_bool(rate / 2.0) {
                map.insert("type".into(), random_value(rng, 2));
            }
            map.values_mut().for_each(|v| mutate(v, rng, rate));
        }
        _ => {}
    }
}

#[test]
fn garbage_input_never_panics() {
    let seed_body = json!({"model": "a/b", "stream": true, "max_tokens": 10, "stop": ["x"], "n": 1,
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "function_call": "auto",
        "response_format": {"type": "json_object"}, "metadata": {"user_id": "u"}, "reasoning_effort": "low",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "functions": [{"name": "g"}],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            {"role": "user", "content": [{"type": "text", "text": "u"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}]},
            {"role": "assistant", "content": null, "reasoning_content": "r", "function_call": {"name": "g"},
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
            {"role": "function", "name": "g", "content": "ok"}]});
    assert!(decode(seed_body.clone()).is_ok());
    let mut rng = StdRng::seed_from_u64(0x11c4);
    let (mut ok, mut refused) = (0, 0);
    for round in 0..4000 {
        let body = if round % 4 == 0 {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..6) {
                let value = random_value(&mut rng, 4);
                let key = ["model", "messages", "tools", "tool_choice", "stop", "n", "user"][rng.random_range(0..7)];
                map.insert(key.into(), value);
            }
            map
        } else {
            let mut body = seed_body.clone();
            mutate(&mut body, &mut rng, [0.003, 0.01, 0.05][round % 3]);
            match body {
                Value::Object(map) => map,
                _ => continue,
            }
        };
        match decode_request(&body) {
            Ok(req) => {
                ok += 1;
                // What decodes must also encode (or be refused) without panicking.
                let _ = encode_request(&req, "m", false, req.stream);
            }
            Err(e) => {
                refused += 1;
                assert!(!e.message.is_empty());
            }
        }
        let _ = dropped_params(&body);
    }
    assert!(ok > 100 && refused > 100, "ok {ok}, refused {refused}");
}
