use super::*;
use crate::formats::ir::{DocumentSource, ImageSource, Signature, ToolCall, ToolResult};

fn decode(body: Value) -> Result<Request, InvalidRequest> {
    decode_request(body.to_string().as_bytes())
}

fn with_messages(messages: Value) -> Request {
    decode(json!({"model": "anthropic/claude-sonnet-4-5", "messages": messages})).unwrap()
}

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

#[test]
fn top_level_fields_decode_and_the_body_is_kept() {
    let raw = json!({
        "model": " anthropic/claude-sonnet-4-5 ", "max_tokens": 1024, "temperature": 0.5, "top_p": 0.9,
        "top_k": 40, "stop_sequences": ["###"], "stream": true, "metadata": {"user_id": "u-1"},
        "system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}], "vendor_extra": [1]
    });
    let parsed = MessagesRequest::parse(raw.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.body["vendor_extra"], json!([1]));
    let req = parsed.request;
    assert_eq!(req.model, "anthropic/claude-sonnet-4-5");
    assert_eq!(req.max_output_tokens, Some(1024));
    assert_eq!((req.temperature, req.top_p, req.top_k), (Some(0.5), Some(0.9), Some(40)));
    assert_eq!(req.stop, ["###"]);
    assert!(req.stream);
    assert_eq!(req.user.as_deref(), Some("u-1"));
    assert_eq!(req.system, [text("Be brief.")]);
    assert_eq!(req.messages, [Message { role: Role::User, parts: vec![text("Hi")] }]);
    let minimal = with_messages(json!([{"role": "user", "content": "Hi"}]));
    assert_eq!(minimal.max_output_tokens, None, "the caller fills the default");
    assert!(!minimal.stream && minimal.reasoning.is_none() && minimal.tool_choice.is_none());
}

#[test]
fn system_blocks_keep_cache_control_and_the_billing_header() {
    let req = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "Hi"}], "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=1.0"},
        {"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}}
    ]}))
    .unwrap();
    assert_eq!(
        req.system,
        [
            text("x-anthropic-billing-header: cc_version=1.0"),
            Part::Text { text: "You are helpful.".into(), cache_control: Some(json!({"type": "ephemeral"})) },
        ]
    );
}

#[test]
fn every_content_block_kind_decodes() {
    let req = with_messages(json!([
        {"role": "user", "content": [
            {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
             "title": "Report"},
            {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}}
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "EqQB"},
            {"type": "thinking", "thinking": "wrapped", "signature": "llmkp1.gemini.Cs"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"z": 1, "a": {"y": [1, 2]}}},
            {"type": "tool_use", "id": "toolu_2", "name": "g"}
        ]}
    ]));
    assert_eq!(
        req.messages[0].parts,
        [
            Part::Text { text: "Look".into(), cache_control: Some(json!({"type": "ephemeral"})) },
            Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "iVBO".into() }),
            Part::Image(ImageSource::Url("https://x.test/a.png".into())),
            Part::Image(ImageSource::FileRef("file_1".into())),
            Part::Document {
                source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBE".into() },
                title: Some("Report".into()),
            },
            Part::Document { source: DocumentSource::Url("https://x.test/a.pdf".into()), title: None },
            Part::Document { source: DocumentSource::PlainText("plain".into()), title: None },
        ]
    );
    let signature = |origin: &str, value: &str| Some(Signature { origin: origin.into(), value: value.into() });
    let call = |id: &str, name: &str, arguments: &str| {
        Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None })
    };
    assert_eq!(
        req.messages[1],
        Message {
            role: Role::Assistant,
            parts: vec![
                Part::Reasoning { text: "hm".into(), signature: signature("anthropic", "EqQB"), redacted: None },
                Part::Reasoning { text: "wrapped".into(), signature: signature("gemini", "Cs"), redacted: None },
                Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                call("toolu_1", "f", r#"{"z":1,"a":{"y":[1,2]}}"#),
                call("toolu_2", "g", "{}"),
            ],
        }
    );
}

#[test]
fn tool_results_become_a_tool_message_before_the_remaining_user_blocks() {
    let req = with_messages(json!([
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21 C"},
            {"type": "text", "text": "And tomorrow?"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": [
                {"type": "text", "text": "failed"},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/e.png"}}
            ]},
            {"type": "tool_result", "tool_use_id": "toolu_3"}
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_4", "content": "ok"}]}
    ]));
    let result = |id: &str, content: Vec<Part>, is_error: bool| {
        Part::ToolResult(ToolResult { call_id: id.into(), content, is_error })
    };
    assert_eq!(
        req.messages,
        [
            Message {
                role: Role::Tool,
                parts: vec![
                    result("toolu_1", vec![text("21 C")], false),
                    result(
                        "toolu_2",
                        vec![text("failed"), Part::Image(ImageSource::Url("https://x.test/e.png".into()))],
                        true
                    ),
                    result("toolu_3", vec![], false),
                ],
            },
            Message { role: Role::User, parts: vec![text("And tomorrow?")] },
            Message { role: Role::Tool, parts: vec![result("toolu_4", vec![text("ok")], false)] },
        ]
    );
}

#[test]
fn function_and_server_tools_are_accepted() {
    let req = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "Hi"}], "tools": [
        {"name": "get_weather", "description": "Current weather", "cache_control": {"type": "ephemeral"},
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "custom", "name": "no_schema"}
    ]}))
    .unwrap();
    assert_eq!(
        req.tools[0],
        Tool::Function {
            name: "get_weather".into(),
            description: Some("Current weather".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            strict: None,
            cache_control: Some(json!({"type": "ephemeral"})),
        }
    );
    let Tool::Server { kind, raw } = &req.tools[1] else { panic!("{:?}", req.tools[1]) };
    assert_eq!(kind, "web_search_20250305");
    assert_eq!(Value::Object(raw.clone()), json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 5}));
    assert!(matches!(&req.tools[2], Tool::Function { parameters, .. }
        if *parameters == json!({"type": "object", "properties": {}})));
}

#[test]
fn tool_choice_maps_and_disable_parallel_tool_use_sets_parallel_false() {
    let choice = |tc: Value| {
        let req = decode(json!({"model": "a/b", "messages": [{"role": "user", "content": "Hi"}], "tool_choice": tc}));
        req.map(|r| (r.tool_choice, r.parallel_tool_calls))
    };
    assert_eq!(choice(json!({"type": "auto"})).unwrap(), (Some(ToolChoice::Auto), None));
    assert_eq!(choice(json!({"type": "none"})).unwrap(), (Some(ToolChoice::None), None));
    assert_eq!(
        choice(json!({"type": "any", "disable_parallel_tool_use": true})).unwrap(),
        (Some(ToolChoice::Required), Some(false))
    );
    assert_eq!(
        choice(json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": false})).unwrap(),
        (Some(ToolChoice::Specific("get_weather".into())), None)
    );
    assert_eq!(choice(json!({"type": "sometimes"})).unwrap_err().param.as_deref(), Some("tool_choice.type"));
    assert_eq!(choice(json!({"type": "tool"})).unwrap_err().param.as_deref(), Some("tool_choice.name"));
    assert_eq!(choice(json!("auto")).unwrap_err().param.as_deref(), Some("tool_choice"));
}

#[test]
fn thinking_and_effort_map_to_canonical_reasoning() {
    let reasoning = |extra: Value| {
        let mut body = json!({"model": "a/b", "messages": [{"role": "user", "content": "Hi"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        decode(body).map(|r| r.reasoning)
    };
    let effort = |e: &str| Some(Reasoning::Effort(e.into()));
    assert_eq!(
        reasoning(json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})).unwrap(),
        Some(Reasoning::BudgetTokens(2048))
    );
    assert_eq!(reasoning(json!({"thinking": {"type": "disabled"}})).unwrap(), Some(Reasoning::Disabled));
    // Adaptive thinking alone leaves the amount to the upstream (translation §4.11).
    assert_eq!(reasoning(json!({"thinking": {"type": "adaptive"}})).unwrap(), None);
    assert_eq!(
        reasoning(json!({"thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "high"}}))
            .unwrap(),
        effort("high")
    );
    // A thinking mode newer than the proxy is no error: translation drops it, naming it.
    assert_eq!(reasoning(json!({"thinking": {"type": "sometimes"}})).unwrap(), None);
    assert_eq!(
        reasoning(json!({"thinking": {"type": "sometimes"}, "output_config": {"effort": "low"}})).unwrap(),
        effort("low")
    );
    assert_eq!(
        reasoning(json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}})).unwrap(),
        effort("low")
    );
    assert_eq!(reasoning(json!({"output_config": {"effort": "max"}})).unwrap(), effort("max"));
    for (extra, param) in [
        (json!({"thinking": {"type": "enabled"}}), "thinking.budget_tokens"),
        (json!({"output_config": {"effort": "extreme"}}), "output_config.effort"),
    ] {
        assert_eq!(reasoning(extra).unwrap_err().param.as_deref(), Some(param));
    }
}

#[test]
fn unknown_block_types_are_refused_naming_type_and_index() {
    let err = decode(json!({"model": "a/b", "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "server_tool_use", "id": "x"}]}
    ]}))
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages[1].content[1].type"));
    assert!(err.message.contains("'server_tool_use'") && err.message.contains("messages[1].content[1]"), "{err}");
}

#[test]
fn invalid_requests_name_the_field() {
    let user = json!([{"role": "user", "content": "Hi"}]);
    let block = |b: Value| json!({"model": "a/b", "messages": [{"role": "user", "content": [b]}]});
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"{not json".to_vec(), None),
        (b"[1]".to_vec(), None),
        (json!({"messages": user}).to_string().into_bytes(), Some("model")),
        (json!({"model": 3, "messages": user}).to_string().into_bytes(), Some("model")),
        (json!({"model": "a/b"}).to_string().into_bytes(), Some("messages")),
        (json!({"model": "a/b", "messages": []}).to_string().into_bytes(), Some("messages")),
        (
            json!({"model": "a/b", "messages": [{"role": "developer", "content": "x"}]}).to_string().into_bytes(),
            Some("messages[0].role"),
        ),
        (json!({"model": "a/b", "messages": [{"role": "user"}]}).to_string().into_bytes(), Some("messages[0].content")),
        (json!({"model": "a/b", "messages": user, "max_tokens": -1}).to_string().into_bytes(), Some("max_tokens")),
        (json!({"model": "a/b", "messages": user, "temperature": "hot"}).to_string().into_bytes(), Some("temperature")),
        (json!({"model": "a/b", "messages": user, "stream": "yes"}).to_string().into_bytes(), Some("stream")),
        (
            json!({"model": "a/b", "messages": user, "stop_sequences": ["a", 1]}).to_string().into_bytes(),
            Some("stop_sequences[1]"),
        ),
        (
            json!({"model": "a/b", "messages": user, "system": [{"type": "image"}]}).to_string().into_bytes(),
            Some("system[0].type"),
        ),
        (
            json!({"model": "a/b", "messages": user, "metadata": {"user_id": 5}}).to_string().into_bytes(),
            Some("metadata.user_id"),
        ),
        (
            json!({"model": "a/b", "messages": user, "tools": [{"input_schema": {}}]}).to_string().into_bytes(),
            Some("tools[0].name"),
        ),
        (
            json!({"model": "a/b", "messages": user, "tools": [{"name": "f", "input_schema": "x"}]})
                .to_string()
                .into_bytes(),
            Some("tools[0].input_schema"),
        ),
        (block(json!({"type": "text"})).to_string().into_bytes(), Some("messages[0].content[0].text")),
        (
            block(json!({"type": "image", "source": {"type": "ftp"}})).to_string().into_bytes(),
            Some("messages[0].content[0].source.type"),
        ),
        (
            block(json!({"type": "document", "source": {"type": "file", "file_id": "f"}})).to_string().into_bytes(),
            Some("messages[0].content[0].source.type"),
        ),
        (block(json!({"type": "image"})).to_string().into_bytes(), Some("messages[0].content[0].source")),
        (
            block(json!({"type": "tool_result", "content": "x"})).to_string().into_bytes(),
            Some("messages[0].content[0].tool_use_id"),
        ),
        (
            block(json!({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}))
                .to_string()
                .into_bytes(),
            Some("messages[0].content[0].content[0].type"),
        ),
        (
            block(json!({"type": "tool_use", "id": "t", "name": "f", "input": {}})).to_string().into_bytes(),
            Some("messages[0].content[0].type"),
        ),
    ];
    for (body, param) in cases {
        let err = decode_request(&body).unwrap_err();
        assert_eq!(err.param.as_deref(), param, "{}", err.message);
        if let Some(param) = param {
            let named = param.strip_suffix(".type").unwrap_or(param);
            assert!(err.message.contains(named), "message names the field: {}", err.message);
        }
    }
}

#[test]
fn system_messages_inside_the_conversation_keep_their_place() {
    let req = decode(json!({"model": "a/b", "system": "top", "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "system", "content": "env: linux"},
        {"role": "assistant", "content": "Hello"},
        {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "More"}
    ]}))
    .unwrap();
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::System, Role::Assistant, Role::System, Role::User]);
    assert_eq!(req.messages[1].parts, [Part::Text { text: "env: linux".into(), cache_control: None }]);
    assert_eq!(req.messages[3].parts.len(), 2);
    let err =
        decode(json!({"model": "a/b", "messages": [{"role": "system", "content": [{"type": "image"}]}]})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages[0].content[0].type"));
    let err = decode(json!({"model": "a/b", "messages": [{"role": "tool", "content": "x"}]})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages[0].role"));
}

#[test]
fn fields_translation_cannot_carry_are_named() {
    let body = json!({"model": "a/b", "max_tokens": 10, "messages": [], "context_management": {"edits": []},
        "thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "high", "task_budget": 5},
        "metadata": {"user_id": "u"}, "stream": true});
    let dropped = super::dropped_client_params(body.as_object().unwrap());
    assert_eq!(dropped, ["context_management", "thinking.display", "output_config.task_budget"]);
    let tools = json!({"model": "a/b", "messages": [], "tools": [
        {"name": "A", "input_schema": {}, "defer_loading": true},
        {"name": "B", "input_schema": {}, "defer_loading": false},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]});
    assert_eq!(super::dropped_client_params(tools.as_object().unwrap()), ["tools.defer_loading"]);
    let future = json!({"model": "a/b", "messages": [], "thinking": {"type": "sometimes"}});
    assert_eq!(super::dropped_client_params(future.as_object().unwrap()), ["thinking"]);
}
