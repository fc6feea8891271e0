//! Tests of Gemini request encoding (canonical → upstream body) and decoding (client body →
//! canonical).

use super::*;
use crate::formats::gemini::signature_to_client;

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

fn call(id: &str, name: &str, arguments: &str) -> Part {
    Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None })
}

fn signed_call(id: &str, name: &str, arguments: &str, origin: &str, value: &str) -> Part {
    Part::ToolCall(ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
        signature: Some(sig(origin, value)),
    })
}

fn result(call_id: &str, content: &str) -> Part {
    Part::ToolResult(ToolResult { call_id: call_id.into(), content: vec![text(content)], is_error: false })
}

fn sig(origin: &str, value: &str) -> Signature {
    Signature { origin: origin.into(), value: value.into() }
}

fn reasoning(text: &str, signature: Option<Signature>) -> Part {
    Part::Reasoning { text: text.into(), signature, redacted: None }
}

fn message(role: Role, parts: Vec<Part>) -> Message {
    Message { role, parts }
}

fn request(messages: Vec<Message>) -> Request {
    Request { model: "gemini/gemini-2.5-flash".into(), messages, ..Request::default() }
}

fn function(name: &str, parameters: Value) -> Tool {
    Tool::Function { name: name.into(), description: None, parameters, strict: None, cache_control: None }
}

fn encode(req: &Request, model: &str) -> UpstreamRequest {
    encode_upstream(req, model, ORIGIN, Protocol::Gemini).unwrap()
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn decode(body: Value) -> Result<Request, InvalidRequest> {
    decode_client_request(&obj(body), "gemini/gemini-2.5-flash", false)
}

fn param_of(body: Value) -> Option<String> {
    decode(body).expect_err("should be refused").param
}

// ---------------------------------------------------------------------------------------------
// Encoding.

#[test]
fn spec_example_13_2_parallel_tool_round_trip() {
    let req = request(vec![
        message(
            Role::Assistant,
            vec![
                signed_call("call_1", "get_weather", r#"{"city":"Paris"}"#, ORIGIN, "CsQBAV…"),
                call("call_2", "get_time", r#"{"tz":"CET"}"#),
            ],
        ),
        message(Role::Tool, vec![result("call_1", r#"{"temp":21}"#), result("call_2", "12:00")]),
    ]);
    let out = encode(&req, "gemini-3-pro-preview");
    let contents = out.body["contents"].as_array().unwrap();
    assert_eq!(contents[0], json!({"role": "user", "parts": [{"text": "."}]}));
    assert_eq!(out.adjustments, vec!["leading_user_turn_added"]);
    assert_eq!(
        Value::Array(contents[1..].to_vec()),
        json!([{"role":"model","parts":[
           {"functionCall":{"id":"call_1","name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CsQBAV…"},
           {"functionCall":{"id":"call_2","name":"get_time","args":{"tz":"CET"}}}]},
         {"role":"user","parts":[
           {"functionResponse":{"id":"call_1","name":"get_weather","response":{"result":{"temp":21}}}},
           {"functionResponse":{"id":"call_2","name":"get_time","response":{"result":"12:00"}}}]}])
    );
}

#[test]
fn body_carries_system_tools_choice_and_generation_config() {
    let mut req = request(vec![message(Role::User, vec![text("Weather in Paris?")])]);
    req.system = vec![text("x-anthropic-billing-header: cc_version=1"), text("Be brief."), text("Use metric.")];
    req.tools = vec![Tool::Function {
        name: "get_weather".into(),
        description: Some("Current weather".into()),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                           "additionalProperties": false}),
        strict: Some(true),
        cache_control: Some(json!({"type": "ephemeral"})),
    }];
    req.tool_choice = Some(ToolChoice::Required);
    req.temperature = Some(0.5);
    req.top_p = Some(0.9);
    req.top_k = Some(40);
    req.max_output_tokens = Some(1024);
    req.stop = vec!["END".into()];
    req.response_format = Some(ResponseFormat::JsonObject);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(
        Value::Object(out.body),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief.\n\nUse metric."}]},
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Current weather",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}},
                                         "required": ["city"], "additionalProperties": false}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"temperature": 0.5, "topP": 0.9, "topK": 40, "maxOutputTokens": 1024,
                                 "stopSequences": ["END"], "responseMimeType": "application/json"}
        })
    );
    assert!(out.dropped_params.is_empty());
    assert!(out.adjustments.is_empty());
}

#[test]
fn code_assist_gets_cleaned_schemas_and_a_user_role_system_instruction() {
    let schema = json!({"$schema": "x", "type": "object", "properties": {"when": {"type": ["string", "null"]}},
                        "additionalProperties": false});
    let mut req = request(vec![message(Role::User, vec![text("hi")])]);
    req.system = vec![text("Be brief.")];
    req.tools = vec![function("when", schema.clone()), function("ping", json!({"type": "object", "properties": {}}))];
    req.response_format = Some(ResponseFormat::JsonSchema { name: Some("out".into()), schema, strict: Some(true) });
    let out = encode_upstream(&req, "gemini-2.5-pro", "gemini_cli", Protocol::CodeAssist).unwrap();
    let cleaned = json!({"type": "object", "properties": {"when": {"type": "string", "nullable": true}}});
    assert_eq!(out.body["systemInstruction"], json!({"role": "user", "parts": [{"text": "Be brief."}]}));
    assert_eq!(
        out.body["tools"],
        json!([{"functionDeclarations": [{"name": "when", "parameters": cleaned}, {"name": "ping"}]}])
    );
    assert_eq!(
        out.body["generationConfig"],
        json!({"responseMimeType": "application/json", "responseSchema": cleaned})
    );
    // The public API takes the schema as given.
    let public = encode(&req, "gemini-2.5-pro");
    assert_eq!(public.body["generationConfig"]["responseJsonSchema"]["additionalProperties"], json!(false));
    assert_eq!(
        public.body["tools"][0]["functionDeclarations"][1],
        json!({"name": "ping", "parametersJsonSchema": {"type": "object", "properties": {}}})
    );
}

#[test]
fn tool_choices_map_to_function_calling_modes() {
    let cases = [
        (ToolChoice::Auto, json!({"mode": "AUTO"})),
        (ToolChoice::None, json!({"mode": "NONE"})),
        (ToolChoice::Required, json!({"mode": "ANY"})),
        (ToolChoice::Specific("get_time".into()), json!({"mode": "ANY", "allowedFunctionNames": ["get_time"]})),
    ];
    for (choice, expected) in cases {
        let mut req = request(vec![message(Role::User, vec![text("hi")])]);
        req.tools = vec![function("get_time", json!({"type": "object", "properties": {}}))];
        req.tool_choice = Some(choice);
        req.parallel_tool_calls = Some(false);
        let out = encode(&req, "gemini-2.5-flash");
        assert_eq!(out.body["toolConfig"], json!({"functionCallingConfig": expected}));
        assert_eq!(out.dropped_params, vec!["parallel_tool_calls"]);
    }
    // No tools, no tool config.
    let mut req = request(vec![message(Role::User, vec![text("hi")])]);
    req.tool_choice = Some(ToolChoice::Required);
    assert!(encode(&req, "gemini-2.5-flash").body.get("toolConfig").is_none());
}

#[test]
fn server_tools_become_google_search_or_are_dropped() {
    let mut req = request(vec![message(Role::User, vec![text("news?")])]);
    req.tools = vec![
        Tool::Server { kind: "web_search_20250305".into(), raw: obj(json!({"type": "web_search_20250305"})) },
        Tool::Server { kind: "bash_20250124".into(), raw: obj(json!({"type": "bash_20250124", "name": "bash"})) },
        Tool::Server { kind: "codeExecution".into(), raw: obj(json!({"codeExecution": {}})) },
    ];
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(out.body["tools"], json!([{"googleSearch": {}}, {"codeExecution": {}}]));
    assert_eq!(out.dropped_params, vec!["tools"]);
}

#[test]
fn invalid_tool_names_are_rewritten_everywhere_the_same_way() {
    assert_eq!(wire_tool_name("get_weather"), "get_weather");
    assert_eq!(wire_tool_name("mcp.server:tool-1"), "mcp.server:tool-1");
    assert_eq!(wire_tool_name("1st tool/é"), "_st_tool__");
    let long = "a".repeat(70);
    let rewritten = wire_tool_name(&long);
    assert_eq!(rewritten.len(), 64);
    assert!(rewritten.starts_with(&format!("{}_", "a".repeat(55))));
    assert_eq!(wire_tool_name(&rewritten), rewritten);
    assert_eq!(wire_tool_name(""), "_");

    let mut req = request(vec![
        message(Role::User, vec![text("go")]),
        message(Role::Assistant, vec![call("c1", "my tool", "{}")]),
        message(Role::Tool, vec![result("c1", "ok")]),
    ]);
    req.tools = vec![function("my tool", json!({"type": "object", "properties": {}}))];
    req.tool_choice = Some(ToolChoice::Specific("my tool".into()));
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(out.body["tools"][0]["functionDeclarations"][0]["name"], "my_tool");
    assert_eq!(out.body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"], json!(["my_tool"]));
    assert_eq!(out.body["contents"][1]["parts"][0]["functionCall"]["name"], "my_tool");
    assert_eq!(out.body["contents"][2]["parts"][0]["functionResponse"]["name"], "my_tool");
}

#[test]
fn turns_merge_results_come_first_in_call_order_and_pairing_is_repaired() {
    let req = request(vec![
        message(Role::User, vec![text("Weather and time?"), text("")]),
        message(Role::User, vec![text("In Paris.")]),
        message(Role::Assistant, vec![text("Checking."), call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
        message(Role::Assistant, vec![call("call_2", "get_time", "")]),
        message(Role::Tool, vec![result("call_2", "12:00")]),
        message(Role::User, vec![text("Also: be brief.")]),
        message(Role::Tool, vec![result("call_1", "21 C")]),
        message(Role::Assistant, vec![text("")]),
        message(Role::Assistant, vec![text("Sunny, noon."), call("call_3", "get_news", "not json")]),
        message(Role::User, vec![text("And?")]),
        message(Role::Tool, vec![result("call_9", "stray")]),
    ]);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(out.adjustments, vec!["tool_pairing_repaired"]);
    assert_eq!(
        out.body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time?"}, {"text": "In Paris."}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_2", "name": "get_time", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"result": "21 C"}}},
                {"functionResponse": {"id": "call_2", "name": "get_time", "response": {"result": "12:00"}}},
                {"text": "Also: be brief."}]},
            {"role": "model", "parts": [
                {"text": "Sunny, noon."},
                {"functionCall": {"id": "call_3", "name": "get_news", "args": {"_raw": "not json"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_3", "name": "get_news",
                                      "response": {"error": "no result was recorded for this call"}}},
                {"text": "Tool result (call_9): stray"},
                {"text": "And?"}]}
        ])
    );
}

#[test]
fn tool_result_content_errors_and_images() {
    let png = ImageSource::Base64 { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() };
    let req = request(vec![
        message(Role::User, vec![text("Shoot.")]),
        message(Role::Assistant, vec![call("a", "shot", "{}"), call("b", "fail", "{}")]),
        message(
            Role::Tool,
            vec![
                Part::ToolResult(ToolResult {
                    call_id: "a".into(),
                    content: vec![text("[1,"), text("2]"), Part::Image(png)],
                    is_error: false,
                }),
                Part::ToolResult(ToolResult { call_id: "b".into(), content: vec![text("boom")], is_error: true }),
            ],
        ),
    ]);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(
        out.body["contents"][2]["parts"],
        json!([
            {"functionResponse": {"id": "a", "name": "shot", "response": {"result": [1, 2]}}},
            {"functionResponse": {"id": "b", "name": "fail", "response": {"error": "boom"}}},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
        ])
    );
}

#[test]
fn media_parts_map_to_inline_and_file_data() {
    let req = request(vec![message(
        Role::User,
        vec![
            Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "AAAA".into() }),
            Part::Image(ImageSource::Url("https://example.com/cat.JPG?size=2".into())),
            Part::Image(ImageSource::Url("https://example.com/render".into())),
            Part::Image(ImageSource::FileRef("https://generativelanguage.googleapis.com/v1beta/files/abc".into())),
            Part::Document {
                source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBER".into() },
                title: Some("Report".into()),
            },
            Part::Document { source: DocumentSource::Url("https://example.com/paper".into()), title: None },
            Part::Document { source: DocumentSource::PlainText("body".into()), title: Some("Notes".into()) },
            Part::Document { source: DocumentSource::PlainText("".into()), title: None },
            Part::Refusal("no".into()),
        ],
    )]);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(
        out.body["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.JPG?size=2"}},
            {"fileData": {"fileUri": "https://example.com/render"}},
            {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/paper"}},
            {"text": "Notes\nbody"},
            {"text": "no"}
        ])
    );
}

#[test]
fn own_signatures_go_on_their_parts_and_foreign_ones_are_dropped() {
    let req = request(vec![
        message(Role::User, vec![text("Go.")]),
        message(
            Role::Assistant,
            vec![
                reasoning("Let me think.", Some(sig(ORIGIN, "T1"))),
                reasoning("Claude thoughts", Some(sig("anthropic", "EqQB"))),
                reasoning("Chat thoughts", None),
                Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                reasoning("", Some(sig(ORIGIN, "P1"))),
                text("Answer."),
                signed_call("c1", "f", "{}", "anthropic", "EqQB"),
                signed_call("c2", "g", "{}", ORIGIN, "C2"),
            ],
        ),
        message(Role::Tool, vec![result("c1", "1"), result("c2", "2")]),
        message(Role::Assistant, vec![reasoning("", Some(sig(ORIGIN, "END")))]),
    ]);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(
        out.body["contents"][1]["parts"],
        json!([
            {"text": "Let me think.", "thought": true, "thoughtSignature": "T1"},
            {"text": "Answer.", "thoughtSignature": "P1"},
            {"functionCall": {"id": "c1", "name": "f", "args": {}}},
            {"functionCall": {"id": "c2", "name": "g", "args": {}}, "thoughtSignature": "C2"}
        ])
    );
    assert_eq!(out.body["contents"][3]["parts"], json!([{"text": "", "thoughtSignature": "END"}]));
    // Another Gemini-protocol provider does not take "gemini" signatures.
    let other = encode_upstream(&req, "gemini-2.5-flash", "gemini_cli", Protocol::CodeAssist).unwrap();
    assert_eq!(
        other.body["contents"][1]["parts"],
        json!([
            {"text": "Answer."},
            {"functionCall": {"id": "c1", "name": "f", "args": {}}},
            {"functionCall": {"id": "c2", "name": "g", "args": {}}}
        ])
    );
    assert_eq!(other.body["contents"].as_array().unwrap().len(), 3);
}

#[test]
fn gemini_3_gets_the_skip_signature_on_the_first_unsigned_call_of_a_turn() {
    let req = request(vec![
        message(Role::User, vec![text("Go.")]),
        message(Role::Assistant, vec![call("c1", "f", "{}"), call("c2", "g", "{}")]),
        message(Role::Tool, vec![result("c1", "1"), result("c2", "2")]),
        message(Role::Assistant, vec![signed_call("c3", "f", "{}", "anthropic", "x"), call("c4", "g", "{}")]),
        message(Role::Tool, vec![result("c3", "1"), result("c4", "2")]),
    ]);
    let out = encode(&req, "gemini-3-flash-preview");
    for turn in [1, 3] {
        let parts = &out.body["contents"][turn]["parts"];
        assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
        assert!(parts[1].get("thoughtSignature").is_none());
    }
    let older = encode(&req, "gemini-2.5-pro");
    assert!(older.body["contents"][1]["parts"][0].get("thoughtSignature").is_none());
}

#[test]
fn thinking_follows_the_model_family() {
    let cases: Vec<(&str, Reasoning, Option<Value>)> = vec![
        // Gemini 2.5: budgets, clamped to the model's range.
        (
            "gemini-2.5-flash",
            Reasoning::Effort("low".into()),
            Some(json!({"thinkingBudget": 4096, "includeThoughts": true})),
        ),
        (
            "gemini-2.5-flash",
            Reasoning::Effort("high".into()),
            Some(json!({"thinkingBudget": 24576, "includeThoughts": true})),
        ),
        (
            "gemini-2.5-pro",
            Reasoning::Effort("high".into()),
            Some(json!({"thinkingBudget": 32768, "includeThoughts": true})),
        ),
        (
            "gemini-2.5-pro",
            Reasoning::Effort("max".into()),
            Some(json!({"thinkingBudget": 32768, "includeThoughts": true})),
        ),
        (
            "gemini-2.5-flash-lite",
            Reasoning::BudgetTokens(100),
            Some(json!({"thinkingBudget": 512, "includeThoughts": true})),
        ),
        (
            "gemini-2.5-flash",
            Reasoning::BudgetTokens(2048),
            Some(json!({"thinkingBudget": 2048, "includeThoughts": true})),
        ),
        ("gemini-2.5-flash", Reasoning::Disabled, Some(json!({"thinkingBudget": 0}))),
        ("gemini-2.5-flash-lite", Reasoning::Effort("none".into()), Some(json!({"thinkingBudget": 0}))),
        ("gemini-2.5-pro", Reasoning::Disabled, Some(json!({"thinkingBudget": 128}))),
        ("gemini-2.5-pro", Reasoning::BudgetTokens(0), Some(json!({"thinkingBudget": 128}))),
        // Gemini 3: levels, upper-case, raised to the next accepted one.
        (
            "gemini-3-pro-preview",
            Reasoning::Effort("medium".into()),
            Some(json!({"thinkingLevel": "HIGH", "includeThoughts": true})),
        ),
        (
            "gemini-3-pro-preview",
            Reasoning::Effort("minimal".into()),
            Some(json!({"thinkingLevel": "LOW", "includeThoughts": true})),
        ),
        ("gemini-3-pro-preview", Reasoning::Disabled, Some(json!({"thinkingLevel": "LOW"}))),
        (
            "gemini-3.1-pro-preview",
            Reasoning::Effort("medium".into()),
            Some(json!({"thinkingLevel": "MEDIUM", "includeThoughts": true})),
        ),
        (
            "gemini-3.1-pro-preview",
            Reasoning::Effort("xhigh".into()),
            Some(json!({"thinkingLevel": "HIGH", "includeThoughts": true})),
        ),
        (
            "gemini-3-flash-preview",
            Reasoning::Effort("minimal".into()),
            Some(json!({"thinkingLevel": "MINIMAL", "includeThoughts": true})),
        ),
        ("gemini-3-flash-preview", Reasoning::Effort("none".into()), Some(json!({"thinkingLevel": "MINIMAL"}))),
        (
            "gemini-3-flash-preview",
            Reasoning::BudgetTokens(8192),
            Some(json!({"thinkingLevel": "LOW", "includeThoughts": true})),
        ),
        (
            "gemini-3-flash-preview",
            Reasoning::BudgetTokens(10000),
            Some(json!({"thinkingLevel": "MEDIUM", "includeThoughts": true})),
        ),
        (
            "gemini-3-flash-preview",
            Reasoning::BudgetTokens(20000),
            Some(json!({"thinkingLevel": "HIGH", "includeThoughts": true})),
        ),
        // Models without thinking, and unknown ones.
        ("gemma-3-27b-it", Reasoning::Effort("high".into()), None),
        ("gemini-2.0-flash", Reasoning::Disabled, None),
        (
            "my-custom-model",
            Reasoning::Effort("medium".into()),
            Some(json!({"thinkingBudget": 16384, "includeThoughts": true})),
        ),
    ];
    for (model, reasoning, expected) in cases {
        let mut req = request(vec![message(Role::User, vec![text("hi")])]);
        req.reasoning = Some(reasoning.clone());
        let out = encode(&req, model);
        let got = out.body.get("generationConfig").and_then(|c| c.get("thinkingConfig")).cloned();
        assert_eq!(got, expected, "{model} {reasoning:?}");
        let dropped = model.starts_with("gemma") && reasoning != Reasoning::Disabled;
        assert_eq!(out.dropped_params.contains(&"reasoning"), dropped, "{model}");
    }
}

#[test]
fn gemma_3_gets_the_system_prompt_in_the_first_user_message() {
    let mut req = request(vec![message(Role::Assistant, vec![text("Hello.")]), message(Role::User, vec![text("Hi.")])]);
    req.system = vec![text("Be brief.")];
    let out = encode(&req, "gemma-3-27b-it");
    assert!(out.body.get("systemInstruction").is_none());
    assert_eq!(
        out.body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "."}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Hi."}]}
        ])
    );
    let alone = Request { system: vec![text("Be brief.")], ..request(Vec::new()) };
    assert_eq!(
        encode(&alone, "gemma-3-4b-it").body["contents"],
        json!([{"role": "user", "parts": [{"text": "Be brief."}]}])
    );
}

#[test]
fn parameters_gemini_cannot_take_are_named() {
    let mut req = request(vec![message(Role::User, vec![text("hi")])]);
    req.user = Some("user-1".into());
    req.stop = (1..=7).map(|i| format!("S{i}")).collect();
    req.parallel_tool_calls = Some(false);
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(out.body["generationConfig"]["stopSequences"], json!(["S1", "S2", "S3", "S4", "S5"]));
    assert_eq!(out.dropped_params, vec!["parallel_tool_calls", "stop", "user"]);
}

#[test]
fn canonical_content_gemini_cannot_take_is_refused() {
    let req = request(vec![message(Role::User, vec![call("c", "f", "{}")])]);
    let err = encode_upstream(&req, "gemini-2.5-flash", ORIGIN, Protocol::Gemini).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages[0].parts[0]"));
    let req = request(vec![message(Role::Assistant, vec![result("c", "x")])]);
    let err = encode_upstream(&req, "gemini-2.5-flash", ORIGIN, Protocol::Gemini).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages[0].parts[0]"));
    let req = Request { system: vec![Part::Image(ImageSource::Url("https://x/a.png".into()))], ..request(Vec::new()) };
    let err = encode_upstream(&req, "gemini-2.5-flash", ORIGIN, Protocol::Gemini).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("system"));
}

#[test]
fn count_request_wraps_the_generate_request() {
    let mut req = request(vec![message(Role::User, vec![text("hi")])]);
    req.system = vec![text("Be brief.")];
    req.tools = vec![function("f", json!({"type": "object", "properties": {}}))];
    req.tool_choice = Some(ToolChoice::Auto);
    req.temperature = Some(1.0);
    let body = encode_count_request(&req, "gemini-2.5-flash", ORIGIN).unwrap();
    assert_eq!(
        Value::Object(body),
        json!({"generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object", "properties": {}}}]}]
        }})
    );
    let body = encode_count_request(&request(Vec::new()), "models/gemini-2.5-pro", ORIGIN).unwrap();
    assert_eq!(body["generateContentRequest"]["model"], "models/gemini-2.5-pro");
}

// ---------------------------------------------------------------------------------------------
// Decoding.

fn client_body() -> Value {
    json!({
        "contents": [
            {"role": "user", "parts": [
                {"text": "Weather in Paris?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}}]},
            {"role": "model", "parts": [
                {"text": "Planning.", "thought": true, "thoughtSignature": "VDE="},
                {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}},
                 "thoughtSignature": "QzE="}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"result": {"temp": 21}}}},
                {"text": "Thanks."}]}
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Current weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]},
            {"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {"temperature": 0.2, "topP": 0.95, "topK": 40, "maxOutputTokens": 512,
            "stopSequences": ["END"], "responseMimeType": "application/json",
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}],
        "cachedContent": "cachedContents/abc"
    })
}

fn expected_client_request() -> Request {
    Request {
        model: "gemini/gemini-2.5-flash".into(),
        system: vec![text("Be brief.")],
        messages: vec![
            message(
                Role::User,
                vec![
                    text("Weather in Paris?"),
                    Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() }),
                    Part::Document { source: DocumentSource::Url("gs://bucket/report.pdf".into()), title: None },
                ],
            ),
            message(
                Role::Assistant,
                vec![
                    reasoning("Planning.", Some(sig(ORIGIN, "VDE="))),
                    signed_call("call_1", "get_weather", r#"{"city":"Paris"}"#, ORIGIN, "QzE="),
                ],
            ),
            message(Role::Tool, vec![result("call_1", r#"{"temp":21}"#)]),
            message(Role::User, vec![text("Thanks.")]),
        ],
        tools: vec![
            Tool::Function {
                name: "get_weather".into(),
                description: Some("Current weather".into()),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
                strict: None,
                cache_control: None,
            },
            Tool::Server {
                kind: "web_search_20250305".into(),
                raw: obj(json!({"type": "web_search_20250305", "name": "web_search"})),
            },
        ],
        tool_choice: Some(ToolChoice::Specific("get_weather".into())),
        max_output_tokens: Some(512),
        temperature: Some(0.2),
        top_p: Some(0.95),
        top_k: Some(40),
        stop: vec!["END".into()],
        reasoning: Some(Reasoning::BudgetTokens(1024)),
        response_format: Some(ResponseFormat::JsonObject),
        ..Request::default()
    }
}

/// Every camelCase key of a body rewritten in snake_case, except inside schemas and arguments.
fn snake_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match key.as_str() {
                        "args" | "response" | "parameters" | "parametersJsonSchema" | "responseSchema" => value.clone(),
                        _ => snake_keys(value),
                    };
                    (snake_case(key), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(snake_keys).collect()),
        other => other.clone(),
    }
}

#[test]
fn client_requests_decode_into_the_canonical_model() {
    assert_eq!(decode(client_body()).unwrap(), expected_client_request());
    let streamed = decode_client_request(&obj(client_body()), "gemini/gemini-2.5-flash", true).unwrap();
    assert!(streamed.stream);
    assert_eq!(dropped_client_params(&obj(client_body())), vec!["safetySettings", "cachedContent"]);
}

#[test]
fn snake_case_field_names_are_accepted() {
    let snake = snake_keys(&client_body());
    assert!(snake.get("system_instruction").is_some());
    assert!(snake["contents"][0]["parts"][1].get("inline_data").is_some());
    assert!(snake["contents"][1]["parts"][1].get("thought_signature").is_some());
    assert!(snake["tools"][0].get("function_declarations").is_some());
    assert_eq!(decode(snake.clone()).unwrap(), expected_client_request());
    assert_eq!(dropped_client_params(&obj(snake)), vec!["safetySettings", "cachedContent"]);
}

#[test]
fn calls_without_ids_get_synthetic_ids_shared_with_their_responses() {
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {"n": 1}}},
            {"functionCall": {"name": "g"}},
            {"functionCall": {"name": "f", "args": {"n": 2}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {"result": "one"}}},
            {"functionResponse": {"name": "f", "response": {"output": "two"}}},
            {"functionResponse": {"name": "g", "response": {"error": "bad"}}},
            {"functionResponse": {"name": "h", "response": {"a": 1, "b": 2}}}]}]});
    let req = decode(body.clone()).unwrap();
    let calls: Vec<&ToolCall> = req.messages[1]
        .parts
        .iter()
        .map(|p| match p {
            Part::ToolCall(call) => call,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(calls.iter().all(|c| c.id.starts_with("call_") && c.id.len() == 29));
    assert_ne!(calls[0].id, calls[2].id);
    assert_eq!(calls[0].arguments, r#"{"n":1}"#);
    assert_eq!(calls[1].arguments, "{}");
    let results: Vec<&ToolResult> = req.messages[2]
        .parts
        .iter()
        .map(|p| match p {
            Part::ToolResult(result) => result,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(req.messages[2].role, Role::Tool);
    assert_eq!((results[0].call_id.as_str(), &results[0].content), (calls[0].id.as_str(), &vec![text("one")]));
    assert_eq!((results[1].call_id.as_str(), &results[1].content), (calls[2].id.as_str(), &vec![text("two")]));
    assert_eq!((results[2].call_id.as_str(), results[2].is_error), (calls[1].id.as_str(), true));
    assert_eq!(results[3].content, vec![text(r#"{"a":1,"b":2}"#)]);
    assert!(results[3].call_id.starts_with("call_"));
    // Deterministic.
    assert_eq!(decode(body).unwrap(), req);
}

#[test]
fn client_signatures_are_unwrapped_to_their_origin() {
    let foreign = sig("anthropic", "EqQB.sig");
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [
            {"text": "thinking", "thought": true},
            {"text": "Answer.", "thoughtSignature": signature_to_client(&foreign, ORIGIN)},
            {"text": "", "thoughtSignature": "RU5E"},
            {"thoughtSignature": "QUxPTkU="},
            {"functionCall": {"id": "c", "name": "f", "args": {}}, "thoughtSignature": ""}]}]});
    let req = decode(body).unwrap();
    assert_eq!(
        req.messages[1].parts,
        vec![
            reasoning("thinking", None),
            reasoning("", Some(foreign)),
            text("Answer."),
            reasoning("", Some(sig(ORIGIN, "RU5E"))),
            reasoning("", Some(sig(ORIGIN, "QUxPTkU="))),
            call("c", "f", "{}"),
        ]
    );
}

#[test]
fn thinking_configs_decode_per_section_4_11() {
    let cases = [
        (json!({"thinkingBudget": 0}), Some(Reasoning::Disabled)),
        (json!({"thinkingBudget": -1, "includeThoughts": true}), None),
        (json!({"thinkingBudget": 8000}), Some(Reasoning::BudgetTokens(8000))),
        (json!({"thinkingLevel": "HIGH"}), Some(Reasoning::Effort("high".into()))),
        (json!({"thinking_level": "low"}), Some(Reasoning::Effort("low".into()))),
        (json!({"thinkingLevel": "THINKING_LEVEL_UNSPECIFIED"}), None),
        (json!({"includeThoughts": true}), None),
    ];
    for (config, expected) in cases {
        let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": config}});
        assert_eq!(decode(body).unwrap().reasoning, expected, "{config}");
    }
}

#[test]
fn response_formats_decode_per_section_4_10() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let cases = [
        (json!({"responseMimeType": "application/json"}), Some(ResponseFormat::JsonObject)),
        (json!({"responseMimeType": "text/plain"}), None),
        (
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema}),
            Some(ResponseFormat::JsonSchema { name: None, schema: schema.clone(), strict: None }),
        ),
        (
            json!({"response_mime_type": "application/json",
                   "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}}),
            Some(ResponseFormat::JsonSchema { name: None, schema: schema.clone(), strict: None }),
        ),
    ];
    for (config, expected) in cases {
        let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": config});
        assert_eq!(decode(body).unwrap().response_format, expected, "{config}");
    }
}

#[test]
fn tool_configs_decode_per_section_4_5() {
    let cases = [
        (json!({"functionCallingConfig": {"mode": "AUTO"}}), Some(ToolChoice::Auto)),
        (json!({"functionCallingConfig": {"mode": "validated"}}), Some(ToolChoice::Auto)),
        (json!({"function_calling_config": {"mode": "NONE"}}), Some(ToolChoice::None)),
        (json!({"functionCallingConfig": {"mode": "ANY"}}), Some(ToolChoice::Required)),
        (
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["a", "b"]}}),
            Some(ToolChoice::Required),
        ),
        (
            json!({"functionCallingConfig": {"mode": "ANY", "allowed_function_names": ["a"]}}),
            Some(ToolChoice::Specific("a".into())),
        ),
        (json!({"functionCallingConfig": {}}), None),
        (json!({}), None),
    ];
    for (config, expected) in cases {
        let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "toolConfig": config});
        assert_eq!(decode(body).unwrap().tool_choice, expected, "{config}");
    }
}

#[test]
fn gemini_native_tools_survive_as_server_tools() {
    let body = json!({"contents": [{"parts": [{"text": "hi"}]}],
        "tools": [{"code_execution": {}}, {"urlContext": {}, "functionDeclarations": [{"name": "f"}]}]});
    let req = decode(body).unwrap();
    assert_eq!(
        req.tools,
        vec![
            Tool::Server { kind: "codeExecution".into(), raw: obj(json!({"codeExecution": {}})) },
            Tool::Server { kind: "urlContext".into(), raw: obj(json!({"urlContext": {}})) },
            function("f", json!({"type": "object", "properties": {}})),
        ]
    );
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(
        out.body["tools"],
        json!([{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object", "properties": {}}}]},
               {"codeExecution": {}}, {"urlContext": {}}])
    );
}

#[test]
fn media_decodes_by_mime_type_and_uri() {
    let body = json!({"contents": [{"parts": [
        {"inline_data": {"mime_type": "audio/wav", "data": "UklGR"}},
        {"fileData": {"fileUri": "https://example.com/cat.png"}},
        {"fileData": {"fileUri": "files/abc"}},
        {"fileData": {"mimeType": "video/mp4", "fileUri": "https://youtu.be/x"}}]}]});
    assert_eq!(
        decode(body).unwrap().messages[0].parts,
        vec![
            Part::Document {
                source: DocumentSource::Base64 { media_type: "audio/wav".into(), data: "UklGR".into() },
                title: None
            },
            Part::Image(ImageSource::Url("https://example.com/cat.png".into())),
            Part::Image(ImageSource::FileRef("files/abc".into())),
            Part::Document { source: DocumentSource::Url("https://youtu.be/x".into()), title: None },
        ]
    );
}

#[test]
fn malformed_client_requests_are_refused_with_param_paths() {
    let user = |parts: Value| json!({"contents": [{"role": "user", "parts": parts}]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "contents"),
        (json!({"contents": []}), "contents"),
        (json!({"contents": {}}), "contents"),
        (json!({"contents": [7]}), "contents[0]"),
        (json!({"contents": [{"role": "assistant", "parts": []}]}), "contents[0].role"),
        (json!({"contents": [{"role": "user"}]}), "contents[0].parts"),
        (user(json!([{"text": 5}])), "contents[0].parts[0].text"),
        (user(json!([{"inlineData": {"data": "x"}}])), "contents[0].parts[0].inlineData.mimeType"),
        (user(json!([{"inline_data": {"data": "x"}}])), "contents[0].parts[0].inline_data.mime_type"),
        (user(json!([{"fileData": {"mimeType": "image/png"}}])), "contents[0].parts[0].fileData.fileUri"),
        (user(json!([{"functionCall": {"name": "f"}}])), "contents[0].parts[0]"),
        (user(json!([{"functionResponse": {"response": {}}}])), "contents[0].parts[0].functionResponse.name"),
        (user(json!([{"executableCode": {"code": "1"}}])), "contents[0].parts[0]"),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": "{}"}}]}]}),
            "contents[0].parts[0].functionCall.args",
        ),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionResponse": {"name": "f"}}]}]}),
            "contents[0].parts[0]",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "systemInstruction": {"parts": [{"inlineData": {}}]}}),
            "systemInstruction.parts[0]",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{}]}]}),
            "tools[0].functionDeclarations[0].name",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"function_declarations": [{"name": "f", "parameters": []}]}]}),
            "tools[0].function_declarations[0].parameters",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
            "toolConfig.functionCallingConfig.mode",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}}),
            "generationConfig.temperature",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generation_config": {"max_output_tokens": -1}}),
            "generation_config.max_output_tokens",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}}),
            "generationConfig.candidateCount",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "text/x.enum"}}),
            "generationConfig.responseMimeType",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}),
            "generationConfig.responseModalities",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingLevel": "ultra"}}}),
            "generationConfig.thinkingConfig.thinkingLevel",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": -5}}}),
            "generationConfig.thinkingConfig.thinkingBudget",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"stopSequences": ["a", 1]}}),
            "generationConfig.stopSequences[1]",
        ),
    ];
    for (body, param) in cases {
        assert_eq!(param_of(body.clone()).as_deref(), Some(param), "{body}");
    }
}

#[test]
fn count_requests_take_contents_or_a_generate_request() {
    let plain = decode_client_count_request(&obj(json!({"contents": [{"parts": [{"text": "hi"}]}]})), "m").unwrap();
    assert_eq!(plain.messages, vec![message(Role::User, vec![text("hi")])]);
    let wrapped = decode_client_count_request(
        &obj(json!({"generateContentRequest": {"model": "models/x", "contents": [{"parts": [{"text": "hi"}]}],
                    "systemInstruction": {"parts": [{"text": "Be brief."}]}},
                    "contents": [{"parts": [{"text": "ignored"}]}]})),
        "m",
    )
    .unwrap();
    assert_eq!(wrapped.messages, plain.messages);
    assert_eq!(wrapped.system, vec![text("Be brief.")]);
    let snake = decode_client_count_request(
        &obj(json!({"generate_content_request": {"contents": [{"parts": [{"text": "hi"}]}]}})),
        "m",
    )
    .unwrap();
    assert_eq!(snake.messages, plain.messages);
    assert!(decode_client_count_request(&obj(json!({"contents": []})), "m").unwrap().messages.is_empty());
    let err = decode_client_count_request(&obj(json!({})), "m").unwrap_err();
    assert_eq!(err.param.as_deref(), Some("contents"));
    let err = decode_client_count_request(
        &obj(json!({"generateContentRequest": {"contents": [{"parts": [{"text": 1}]}]}})),
        "m",
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("generateContentRequest.contents[0].parts[0].text"));
}

// ---------------------------------------------------------------------------------------------
// Round trips: canonical → Gemini → canonical is the identity for what Gemini can express.
// Exceptions (by design): several system parts come back joined; an empty call id is replaced by a
// synthetic one; arguments come back as compact JSON; a result text that is a JSON string literal
// comes back unquoted; images inside tool results come back as user content; document titles,
// `cache_control`, `strict`, `user` and `parallel_tool_calls` have no Gemini field; unsigned or
// foreign reasoning is not replayed; efforts become budgets on Gemini 2.5 and levels on Gemini 3.

fn rich_request(thinking: Reasoning) -> Request {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    Request {
        model: "gemini/gemini-2.5-flash".into(),
        system: vec![text("Be brief.")],
        messages: vec![
            message(
                Role::User,
                vec![
                    text("Weather?"),
                    Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "AAAA".into() }),
                    Part::Document {
                        source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBER".into() },
                        title: None,
                    },
                    Part::Document { source: DocumentSource::Url("https://example.com/paper.pdf".into()), title: None },
                ],
            ),
            message(
                Role::Assistant,
                vec![
                    reasoning("Thinking.", Some(sig(ORIGIN, "VDE="))),
                    reasoning("", Some(sig(ORIGIN, "UDE="))),
                    text("Checking."),
                    signed_call("call_1", "get_weather", r#"{"city":"Paris"}"#, ORIGIN, "QzE="),
                    call("call_2", "get_time", "{}"),
                ],
            ),
            message(
                Role::Tool,
                vec![
                    result("call_1", r#"{"temp":21}"#),
                    Part::ToolResult(ToolResult {
                        call_id: "call_2".into(),
                        content: vec![text("12:00")],
                        is_error: true,
                    }),
                ],
            ),
            message(
                Role::User,
                vec![
                    text("Thanks."),
                    Part::Image(ImageSource::Url("https://example.com/cat.png".into())),
                    Part::Image(ImageSource::FileRef("files/abc".into())),
                ],
            ),
            message(Role::Assistant, vec![text("Done."), reasoning("", Some(sig(ORIGIN, "RU5E")))]),
            message(Role::User, vec![text("Bye.")]),
        ],
        tools: vec![
            Tool::Function {
                name: "get_weather".into(),
                description: Some("Current weather".into()),
                parameters: schema.clone(),
                strict: None,
                cache_control: None,
            },
            function("get_time", json!({"type": "object", "properties": {}})),
        ],
        tool_choice: Some(ToolChoice::Specific("get_weather".into())),
        max_output_tokens: Some(2048),
        temperature: Some(0.5),
        top_p: Some(0.9),
        top_k: Some(40),
        stop: vec!["END".into()],
        reasoning: Some(thinking),
        response_format: Some(ResponseFormat::JsonSchema { name: None, schema, strict: None }),
        stream: true,
        ..Request::default()
    }
}

fn round_trip(req: &Request, upstream_model: &str, protocol: Protocol) -> Request {
    let out = encode_upstream(req, upstream_model, ORIGIN, protocol).unwrap();
    decode_client_request(&out.body, &req.model, req.stream).unwrap()
}

#[test]
fn canonical_to_gemini_and_back_is_the_identity() {
    let req = rich_request(Reasoning::BudgetTokens(2048));
    assert_eq!(round_trip(&req, "gemini-2.5-flash", Protocol::Gemini), req);
    let gemini3 = rich_request(Reasoning::Effort("low".into()));
    assert_eq!(round_trip(&gemini3, "gemini-3-flash-preview", Protocol::Gemini), gemini3);
    // The schemas here are already in Gemini's subset, so Code Assist's cleaning keeps them.
    assert_eq!(round_trip(&req, "gemini-2.5-flash", Protocol::CodeAssist), req);
    for choice in [ToolChoice::Auto, ToolChoice::None, ToolChoice::Required] {
        let req = Request { tool_choice: Some(choice), ..req.clone() };
        assert_eq!(round_trip(&req, "gemini-2.5-flash", Protocol::Gemini), req);
    }
    for reasoning in [Reasoning::Disabled, Reasoning::BudgetTokens(24576)] {
        let req = Request { reasoning: Some(reasoning), ..req.clone() };
        assert_eq!(round_trip(&req, "gemini-2.5-flash", Protocol::Gemini), req);
    }
    for effort in ["minimal", "low", "medium", "high"] {
        let req = Request { reasoning: Some(Reasoning::Effort(effort.into())), ..req.clone() };
        assert_eq!(round_trip(&req, "gemini-3-flash-preview", Protocol::Gemini), req);
    }
    let plain = Request { response_format: Some(ResponseFormat::JsonObject), reasoning: None, ..req.clone() };
    assert_eq!(round_trip(&plain, "gemini-2.5-flash", Protocol::Gemini), plain);
}

#[test]
fn gemini_client_bodies_survive_decode_and_encode() {
    // Gemini client → canonical → Gemini upstream keeps what the client wrote (apart from the
    // spelling of schemas).
    let body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [
                {"text": "Hm.", "thought": true, "thoughtSignature": "VDE="},
                {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "QzE="}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "c1", "name": "get_weather", "response": {"result": {"temp": 21}}}}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}, "maxOutputTokens": 99}
    });
    let req = decode(body.clone()).unwrap();
    let out = encode(&req, "gemini-2.5-flash");
    assert_eq!(Value::Object(out.body), body);
}

// ---------------------------------------------------------------------------------------------
// Garbage: nothing panics.

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self, depth: u32) -> Value {
        const KEYS: [&str; 24] = [
            "contents",
            "parts",
            "role",
            "text",
            "thought",
            "thoughtSignature",
            "functionCall",
            "functionResponse",
            "name",
            "id",
            "args",
            "response",
            "inlineData",
            "mimeType",
            "data",
            "fileData",
            "fileUri",
            "tools",
            "functionDeclarations",
            "parameters",
            "generationConfig",
            "thinkingConfig",
            "thinkingBudget",
            "model",
        ];
        const STRINGS: [&str; 8] = ["user", "model", "", "image/png", "AUTO", "f", "application/json", "HIGH"];
        match if depth == 0 { self.below(4) } else { self.below(7) } {
            0 => Value::Null,
            1 => json!(self.below(3) == 0),
            2 => json!((self.next() as i64) % 70_000 - 2),
            3 => json!(STRINGS[self.below(STRINGS.len() as u64) as usize]),
            4 | 5 => {
                let mut map = Map::new();
                for _ in 0..self.below(5) {
                    let key = KEYS[self.below(KEYS.len() as u64) as usize];
                    map.insert(key.into(), self.value(depth - 1));
                }
                Value::Object(map)
            }
            _ => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
        }
    }

    /// `value` with one node somewhere replaced by garbage.
    fn mutate(&mut self, value: &mut Value) {
        let replace = self.below(4) == 0;
        match value {
            Value::Object(map) if !map.is_empty() && !replace => {
                let key = map.keys().nth(self.below(map.len() as u64) as usize).cloned().unwrap_or_default();
                if let Some(child) = map.get_mut(&key) {
                    self.mutate(child);
                }
            }
            Value::Array(items) if !items.is_empty() && !replace => {
                let i = self.below(items.len() as u64) as usize;
                self.mutate(&mut items[i]);
            }
            _ => *value = self.value(3),
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let models = ["gemini-2.5-pro", "gemini-3-pro-preview", "gemma-3-1b", "x"];
    let seeds = [client_body(), snake_keys(&client_body())];
    for round in 0..3000 {
        let mut body = seeds[round % 2].clone();
        for _ in 0..=rng.below(3) {
            rng.mutate(&mut body);
        }
        if round % 5 == 0 {
            body = json!({"contents": [rng.value(4)], "tools": rng.value(3), "generationConfig": rng.value(3)});
        }
        let Value::Object(body) = body else { continue };
        let _ = decode_client_count_request(&body, "m");
        if let Ok(req) = decode_client_request(&body, "m", false) {
            let model = models[round % models.len()];
            for protocol in [Protocol::Gemini, Protocol::CodeAssist] {
                let out = encode_upstream(&req, model, ORIGIN, protocol).expect("decoded requests encode");
                // What we send, we can read back.
                decode_client_request(&out.body, "m", false).expect("encoded bodies decode");
            }
            encode_count_request(&req, model, ORIGIN).expect("decoded requests count");
        }
    }
}

#[test]
fn a_carrier_signature_rides_only_on_the_part_right_after_it() {
    let req = request(vec![
        message(Role::User, vec![text("Go.")]),
        message(
            Role::Assistant,
            vec![reasoning("", Some(sig(ORIGIN, "P1"))), call("c1", "f", "{}"), text("After the call.")],
        ),
    ]);
    // A call right after the carrier takes it (Messages clients keep a call's signature so).
    assert_eq!(
        encode(&req, "gemini-2.5-flash").body["contents"][1]["parts"],
        json!([
            {"functionCall": {"id": "c1", "name": "f", "args": {}}, "thoughtSignature": "P1"},
            {"text": "After the call."}
        ])
    );
}

#[test]
fn an_empty_reasoning_carrier_signs_the_call_that_follows_it() {
    let req = request(vec![
        message(Role::User, vec![text("weather?")]),
        message(Role::Assistant, vec![reasoning("", Some(sig(ORIGIN, "sig-1"))), call("c1", "get_weather", "{}")]),
        message(Role::Tool, vec![result("c1", "sunny")]),
    ]);
    let body = encode(&req, "gemini-2.5-flash").body;
    let parts = body["contents"][1]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "the carrier is not sent on its own: {parts:?}");
    assert_eq!(parts[0]["thoughtSignature"], "sig-1");
    assert_eq!(parts[0]["functionCall"]["name"], "get_weather");
}

#[test]
fn system_messages_join_the_instruction_or_become_user_text_in_place() {
    let system = |t: &str| message(Role::System, vec![text(t)]);
    let mut req = request(vec![
        system("first"),
        message(Role::User, vec![text("hi")]),
        message(Role::Assistant, vec![text("hello")]),
        system("env: linux"),
        message(Role::User, vec![text("next")]),
    ]);
    req.system = vec![text("top")];
    let body = Value::Object(encode(&req, "gemini-2.5-flash").body);
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "top\n\nfirst");
    let contents = body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3, "{contents:?}");
    assert_eq!(contents[2]["role"], "user");
    assert_eq!(contents[2]["parts"], json!([{"text": "env: linux"}, {"text": "next"}]));
}
