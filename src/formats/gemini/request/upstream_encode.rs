//! Canonical requests as the body sent to a Gemini-protocol upstream (public API or the Code
//! Assist envelope's inner request).

use super::*;

/// The `generateContent` body for `req`, sent to `upstream_model` of the provider whose
/// signatures carry `origin`.
pub fn encode_upstream(
    req: &Request,
    upstream_model: &str,
    origin: &str,
    protocol: Protocol,
) -> Result<UpstreamRequest, InvalidRequest> {
    let mut dropped_params = Vec::new();
    let mut adjustments = Vec::new();
    let (system, messages) = place_system_messages(&req.system, &req.messages);
    let system = system_text(&system)?;
    let lower_model = upstream_model.to_ascii_lowercase();
    let system_as_user = lower_model.contains("gemma-3");
    let gemini3 = lower_model.contains("gemini-3");
    let messages: Cow<'_, [Message]> = match &system {
        Some(text) if system_as_user => Cow::Owned(with_system_as_user(&messages, text)),
        _ => messages,
    };
    let contents = encode_contents(&messages, origin, gemini3, &mut adjustments)?;
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if let Some(text) = system.filter(|_| !system_as_user) {
        let mut instruction = Map::new();
        if protocol == Protocol::CodeAssist {
            instruction.insert("role".into(), json!("user"));
        }
        instruction.insert("parts".into(), json!([{"text": text}]));
        body.insert("systemInstruction".into(), Value::Object(instruction));
    }
    let (tools, has_functions) = encode_tools(&req.tools, protocol, &mut dropped_params);
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if has_functions && let Some(choice) = &req.tool_choice {
        body.insert("toolConfig".into(), json!({"functionCallingConfig": encode_tool_choice(choice)}));
    }
    if req.parallel_tool_calls == Some(false) {
        dropped_params.push("parallel_tool_calls");
    }
    let config = generation_config(req, upstream_model, protocol, &mut dropped_params);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    if req.user.is_some() {
        dropped_params.push("user");
    }
    Ok(UpstreamRequest { body, dropped_params, adjustments })
}

/// The public API's `:countTokens` body for `req`: `{"generateContentRequest": {"model":
/// "models/<m>", "contents", "systemInstruction"?, "tools"?}}`.
pub fn encode_count_request(
    req: &Request,
    upstream_model: &str,
    origin: &str,
) -> Result<Map<String, Value>, InvalidRequest> {
    let mut full = encode_upstream(req, upstream_model, origin, Protocol::Gemini)?.body;
    let mut inner = Map::new();
    let model = if upstream_model.starts_with("models/") {
        upstream_model.to_string()
    } else {
        format!("models/{upstream_model}")
    };
    inner.insert("model".into(), json!(model));
    for key in ["contents", "systemInstruction", "tools"] {
        if let Some(value) = full.remove(key) {
            inner.insert(key.into(), value);
        }
    }
    let mut body = Map::new();
    body.insert("generateContentRequest".into(), Value::Object(inner));
    Ok(body)
}

/// System text parts joined with a blank line; billing-header blocks left out (§4.1).
fn system_text(parts: &[Part]) -> Result<Option<String>, InvalidRequest> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { text, .. } if text.starts_with(BILLING_HEADER) || text.is_empty() => {}
            Part::Text { text, .. } => texts.push(text.as_str()),
            _ => return Err(InvalidRequest::at("system prompts can only hold text", "system")),
        }
    }
    Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
}

/// Gemini has one `systemInstruction` (§4.1): system messages before the first turn join it;
/// later ones become user text at their place, so the model still reads them in order.
fn place_system_messages<'a>(system: &'a [Part], messages: &'a [Message]) -> (Cow<'a, [Part]>, Cow<'a, [Message]>) {
    if !messages.iter().any(|m| m.role == Role::System) {
        return (Cow::Borrowed(system), Cow::Borrowed(messages));
    }
    let leading = messages.iter().take_while(|m| m.role == Role::System).count();
    let mut parts = system.to_vec();
    parts.extend(messages[..leading].iter().flat_map(|m| m.parts.iter().cloned()));
    let rest = messages[leading..]
        .iter()
        .map(|m| match m.role {
            Role::System => Message {
                role: Role::User,
                parts: m
                    .parts
                    .iter()
                    .filter(|p| !matches!(p, Part::Text { text, .. } if text.starts_with(BILLING_HEADER)))
                    .cloned()
                    .collect(),
            },
            _ => m.clone(),
        })
        .collect();
    (Cow::Owned(parts), Cow::Owned(rest))
}

/// Quirk `system_as_user` (§4.1, §12): the system text opens the first user message.
fn with_system_as_user(messages: &[Message], system: &str) -> Vec<Message> {
    let mut messages = messages.to_vec();
    let text = Part::Text { text: system.to_string(), cache_control: None };
    match messages.iter_mut().find(|m| m.role == Role::User) {
        Some(first) => first.parts.insert(0, text),
        None => messages.insert(0, Message { role: Role::User, parts: vec![text] }),
    }
    messages
}

/// One Gemini content being built.
struct Turn<'a> {
    model: bool,
    parts: Vec<Value>,
    /// User turns: tool results, in arrival order (placed first, in call order, at the end).
    results: Vec<&'a ToolResult>,
    /// Model turns: (id, wire name) of the calls.
    calls: Vec<(String, String)>,
}

fn turn<'t, 'a>(turns: &'t mut Vec<Turn<'a>>, model: bool) -> &'t mut Turn<'a> {
    if turns.last().is_none_or(|t| t.model != model) {
        turns.push(Turn { model, parts: Vec::new(), results: Vec::new(), calls: Vec::new() });
    }
    turns.last_mut().expect("a turn was just ensured")
}

/// §4.2: consecutive turns of one role merged, tool results opening the next user turn in call
/// order, pairing repaired, empty text removed, a user turn first; §4.8 signatures.
fn encode_contents(
    messages: &[Message],
    origin: &str,
    gemini3: bool,
    adjustments: &mut Vec<&'static str>,
) -> Result<Vec<Value>, InvalidRequest> {
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let model = message.role == Role::Assistant;
        // The signature of a carrier (empty reasoning) waits for the text part right after it.
        let mut pending: Option<&str> = None;
        for (j, part) in message.parts.iter().enumerate() {
            let path = || format!("messages[{i}].parts[{j}]");
            match part {
                Part::ToolResult(result) if !model => turn(&mut turns, false).results.push(result),
                Part::ToolResult(_) => {
                    return Err(InvalidRequest::at(
                        format!("tool results can only appear in user or tool messages ({})", path()),
                        path(),
                    ));
                }
                Part::ToolCall(_) if !model => {
                    return Err(InvalidRequest::at(
                        format!("tool calls can only appear in assistant messages ({})", path()),
                        path(),
                    ));
                }
                Part::ToolCall(call) => {
                    let name = wire_tool_name(&call.name).into_owned();
                    let mut function = Map::new();
                    if !call.id.is_empty() {
                        function.insert("id".into(), json!(call.id));
                    }
                    function.insert("name".into(), json!(name));
                    function.insert("args".into(), tool_input(&call.arguments));
                    let mut value = json!({"functionCall": function});
                    // A carrier right before the call (how Messages clients hold a Gemini call's
                    // signature: an empty thinking block) signs the call.
                    let carried = pending.take();
                    if let Some(signature) = own(&call.signature, origin).or(carried) {
                        value["thoughtSignature"] = json!(signature);
                    }
                    let turn = turn(&mut turns, true);
                    turn.parts.push(value);
                    turn.calls.push((call.id.clone(), name));
                }
                Part::Reasoning { text, signature, redacted: None } if model => {
                    let Some(signature) = own(signature, origin) else { continue };
                    let turn = turn(&mut turns, true);
                    if let Some(earlier) = pending.take() {
                        turn.parts.push(json!({"text": "", "thoughtSignature": earlier}));
                    }
                    if !text.is_empty() {
                        turn.parts.push(json!({"text": text, "thought": true, "thoughtSignature": signature}));
                    } else if message.parts.get(j + 1).is_some_and(|next| is_text(next) || is_call(next)) {
                        pending = Some(signature);
                    } else {
                        turn.parts.push(json!({"text": "", "thoughtSignature": signature}));
                    }
                }
                // Foreign, unsigned and redacted reasoning: this upstream cannot verify it and
                // thought text need not be replayed (§4.8, §10).
                Part::Reasoning { .. } => {}
                Part::Text { text, .. } | Part::Refusal(text) => {
                    if text.is_empty() {
                        continue;
                    }
                    let mut value = json!({"text": text});
                    if model && let Some(signature) = pending.take() {
                        value["thoughtSignature"] = json!(signature);
                    }
                    turn(&mut turns, model).parts.push(value);
                }
                Part::Image(source) => turn(&mut turns, model).parts.push(image_part(source)),
                Part::Document { source, title } => {
                    if let Some(value) = document_part(source, title.as_deref()) {
                        turn(&mut turns, model).parts.push(value);
                    }
                }
            }
        }
    }
    if repair_pairing(&mut turns) {
        adjustments.push("tool_pairing_repaired");
    }
    if gemini3 {
        for turn in turns.iter_mut().filter(|t| t.model) {
            if let Some(Value::Object(first)) = turn.parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
                first.entry("thoughtSignature").or_insert_with(|| json!(SKIP_SIGNATURE));
            }
        }
    }
    let mut contents: Vec<Value> =
        turns.into_iter().map(|t| json!({"role": if t.model { "model" } else { "user" }, "parts": t.parts})).collect();
    if contents.first().is_none_or(|c| c["role"] != "user") {
        contents.insert(0, json!({"role": "user", "parts": [{"text": LEADING_USER_TEXT}]}));
        adjustments.push("leading_user_turn_added");
    }
    Ok(contents)
}

/// The signature value when it was issued by `origin` (§10).
fn own<'s>(signature: &'s Option<Signature>, origin: &str) -> Option<&'s str> {
    signature.as_ref().filter(|s| s.origin == origin && !s.value.is_empty()).map(|s| s.value.as_str())
}

fn is_call(part: &Part) -> bool {
    matches!(part, Part::ToolCall(_))
}

fn is_text(part: &Part) -> bool {
    matches!(part, Part::Text { text, .. } | Part::Refusal(text) if !text.is_empty())
}

/// Puts each user turn's tool results first, as `functionResponse` parts in the order of the calls
/// of the model turn before it (images of the results after them), adds an error response for a
/// call without a result, and turns a result answering no such call into user text. Whether
/// anything was changed.
fn repair_pairing(turns: &mut [Turn<'_>]) -> bool {
    let mut repaired = false;
    for k in 0..turns.len() {
        if turns[k].model {
            continue;
        }
        let calls = match k.checked_sub(1).map(|p| &turns[p]) {
            Some(previous) => previous.calls.clone(),
            None => Vec::new(),
        };
        let turn = &mut turns[k];
        let mut by_call: Vec<Option<&ToolResult>> = vec![None; calls.len()];
        let mut orphans = Vec::new();
        for result in std::mem::take(&mut turn.results) {
            match calls.iter().position(|(id, _)| *id == result.call_id) {
                Some(n) if by_call[n].is_none() => by_call[n] = Some(result),
                _ => orphans.push(result),
            }
        }
        let mut head = Vec::with_capacity(calls.len());
        let mut images = Vec::new();
        for ((id, name), result) in calls.iter().zip(by_call) {
            match result {
                Some(result) => {
                    head.push(function_response(id, name, result_value(result), result.is_error));
                    images.extend(result.content.iter().filter_map(|p| match p {
                        Part::Image(source) => Some(image_part(source)),
                        _ => None,
                    }));
                }
                None => {
                    repaired = true;
                    head.push(function_response(id, name, json!(MISSING_RESULT_TEXT), true));
                }
            }
        }
        repaired |= !orphans.is_empty();
        let orphan_text =
            orphans.iter().map(|r| json!({"text": format!("Tool result ({}): {}", r.call_id, joined(r))}));
        let rest = std::mem::take(&mut turn.parts);
        turn.parts = head.into_iter().chain(images).chain(orphan_text).chain(rest).collect();
    }
    repaired
}

fn function_response(id: &str, name: &str, value: Value, is_error: bool) -> Value {
    let mut response = Map::new();
    if !id.is_empty() {
        response.insert("id".into(), json!(id));
    }
    response.insert("name".into(), json!(name));
    response.insert("response".into(), json!({ if is_error { "error" } else { "result" }: value }));
    json!({"functionResponse": response})
}

/// The text parts of a result joined with `"\n"` (§4.7).
fn joined(result: &ToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } | Part::Refusal(text) => Some(text.as_str()),
            Part::Document { source: DocumentSource::PlainText(text), .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

/// The parsed JSON when the whole text is JSON, else the text (§4.7).
fn result_value(result: &ToolResult) -> Value {
    let text = joined(result);
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn image_part(source: &ImageSource) -> Value {
    match source {
        ImageSource::Base64 { media_type, data } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
        ImageSource::Url(url) | ImageSource::FileRef(url) => file_data(url, mime_from_extension(url)),
    }
}

/// A PDF (or other document) inline or by URI; plain text as a text part (`<title>\n<text>`).
fn document_part(source: &DocumentSource, title: Option<&str>) -> Option<Value> {
    match source {
        DocumentSource::Base64 { media_type, data } => {
            Some(json!({"inlineData": {"mimeType": media_type, "data": data}}))
        }
        DocumentSource::Url(url) => Some(file_data(url, mime_from_extension(url).or(Some("application/pdf")))),
        DocumentSource::PlainText(text) => {
            let text = match title {
                Some(title) if !title.is_empty() => format!("{title}\n{text}"),
                _ => text.clone(),
            };
            (!text.is_empty()).then(|| json!({"text": text}))
        }
    }
}

fn file_data(uri: &str, mime_type: Option<&str>) -> Value {
    let mut data = Map::new();
    if let Some(mime_type) = mime_type {
        data.insert("mimeType".into(), json!(mime_type));
    }
    data.insert("fileUri".into(), json!(uri));
    json!({"fileData": data})
}

/// The media type a URI's file extension names, for `fileData` (remote media the proxy did not
/// fetch, §4.3).
pub(super) fn mime_from_extension(uri: &str) -> Option<&'static str> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    let (_, extension) = name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "xml" => "text/xml",
        "json" => "application/json",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "aac" => "audio/aac",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "webm" => "video/webm",
        _ => return None,
    })
}

/// `tools`: function declarations in one tool, then `googleSearch` for web search server tools,
/// then Gemini-native tools a Gemini client declared. Whether any function was declared.
fn encode_tools(tools: &[Tool], protocol: Protocol, dropped: &mut Vec<&'static str>) -> (Vec<Value>, bool) {
    let mut declarations = Vec::new();
    let mut google_search = false;
    let mut native = Vec::new();
    for tool in tools {
        match tool {
            Tool::Function { name, description, parameters, .. } => {
                let mut declaration = Map::new();
                declaration.insert("name".into(), json!(wire_tool_name(name)));
                if let Some(description) = description {
                    declaration.insert("description".into(), json!(description));
                }
                let parameters = match parameters {
                    Value::Object(_) => parameters.clone(),
                    _ => json!({"type": "object", "properties": {}}),
                };
                match protocol {
                    // The public Gemini API takes JSON schemas as they are.
                    Protocol::Gemini => {
                        declaration.insert("parametersJsonSchema".into(), parameters);
                    }
                    // The Code Assist envelope's inner request takes the OpenAPI subset.
                    _ => {
                        let cleaned = clean_schema(&parameters);
                        // An object without properties is refused ("should be non-empty for
                        // OBJECT type"); a function without parameters has none.
                        if !is_empty_object_schema(&cleaned) {
                            declaration.insert("parameters".into(), cleaned);
                        }
                    }
                }
                declarations.push(Value::Object(declaration));
            }
            Tool::Server { kind, .. } if kind.starts_with("web_search") => google_search = true,
            Tool::Server { raw, .. }
                if raw.len() == 1 && raw.keys().all(|k| GEMINI_SERVER_TOOLS.contains(&k.as_str())) =>
            {
                if raw.contains_key("googleSearch") {
                    google_search = true;
                } else if !native.contains(raw) {
                    native.push(raw.clone());
                }
            }
            Tool::Server { .. } => {
                if !dropped.contains(&"tools") {
                    dropped.push("tools");
                }
            }
        }
    }
    let has_functions = !declarations.is_empty();
    let mut out = Vec::new();
    if has_functions {
        out.push(json!({"functionDeclarations": declarations}));
    }
    if google_search {
        out.push(json!({"googleSearch": {}}));
    }
    out.extend(native.into_iter().map(Value::Object));
    (out, has_functions)
}

fn is_empty_object_schema(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else { return true };
    map.get("type").is_none_or(|t| t == "object")
        && map.get("properties").is_none_or(|p| p.as_object().is_some_and(Map::is_empty))
        && !map.contains_key("anyOf")
}

/// §4.5.
fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Specific(name) => json!({"mode": "ANY", "allowedFunctionNames": [wire_tool_name(name)]}),
    }
}

/// `generationConfig` (§4.9–§4.11); empty when the request sets nothing.
fn generation_config(
    req: &Request,
    upstream_model: &str,
    protocol: Protocol,
    dropped: &mut Vec<&'static str>,
) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(temperature) = req.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = req.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if let Some(top_k) = req.top_k {
        config.insert("topK".into(), json!(top_k));
    }
    if let Some(max) = req.max_output_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if !req.stop.is_empty() {
        if req.stop.len() > MAX_STOP_SEQUENCES {
            dropped.push("stop");
        }
        let stop: Vec<&String> = req.stop.iter().take(MAX_STOP_SEQUENCES).collect();
        config.insert("stopSequences".into(), json!(stop));
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            match protocol {
                Protocol::Gemini => config.insert("responseJsonSchema".into(), schema.clone()),
                _ => config.insert("responseSchema".into(), clean_schema(schema)),
            };
        }
        None => {}
    }
    if let Some(reasoning) = &req.reasoning {
        match thinking_config(reasoning, thinking_of(upstream_model)) {
            Some(thinking) => {
                config.insert("thinkingConfig".into(), thinking);
            }
            None if requested(reasoning) => dropped.push("reasoning"),
            None => {}
        }
    }
    config
}

/// Whether the client asked for thinking (any effort but `none`, a budget above 0).
fn requested(reasoning: &Reasoning) -> bool {
    match reasoning {
        Reasoning::Effort(effort) => effort != "none",
        Reasoning::BudgetTokens(budget) => *budget > 0,
        Reasoning::Disabled => false,
    }
}

/// §4.11, Gemini columns; `None` for models that do not think.
fn thinking_config(reasoning: &Reasoning, thinking: Thinking) -> Option<Value> {
    let off = match reasoning {
        Reasoning::Disabled | Reasoning::BudgetTokens(0) => true,
        Reasoning::Effort(effort) => effort == "none",
        Reasoning::BudgetTokens(_) => false,
    };
    let mut config = Map::new();
    match thinking {
        Thinking::None => return None,
        Thinking::Levels(levels) => {
            let level = match reasoning {
                _ if off => levels[0],
                Reasoning::Effort(effort) => level_at_least(levels, effort),
                Reasoning::BudgetTokens(budget) => level_at_least(levels, budget_effort(*budget)),
                Reasoning::Disabled => levels[0],
            };
            config.insert("thinkingLevel".into(), json!(level.to_ascii_uppercase()));
        }
        Thinking::Budget { min, max, zero } => {
            let budget = match reasoning {
                _ if off => {
                    if zero {
                        0
                    } else {
                        min
                    }
                }
                Reasoning::Effort(effort) => effort_budget(effort).clamp(min, max),
                Reasoning::BudgetTokens(budget) => (*budget).clamp(min, max),
                Reasoning::Disabled => min,
            };
            config.insert("thinkingBudget".into(), json!(budget));
        }
    }
    if requested(reasoning) {
        config.insert("includeThoughts".into(), json!(true));
    }
    Some(Value::Object(config))
}

/// The accepted level equal to `effort`, else the next one up, else the highest (§4.11).
fn level_at_least(levels: &[&'static str], effort: &str) -> &'static str {
    let rank = |e: &str| EFFORT_ORDER.iter().position(|o| *o == e).unwrap_or(3);
    let wanted = rank(effort);
    levels.iter().copied().find(|l| rank(l) >= wanted).unwrap_or_else(|| levels[levels.len() - 1])
}

/// §4.11: the effort a budget stands for.
fn budget_effort(budget: u64) -> &'static str {
    match budget {
        0..=8192 => "low",
        8193..=16384 => "medium",
        _ => "high",
    }
}

/// §4.11: the budget an effort stands for (unknown efforts as `high`).
fn effort_budget(effort: &str) -> u64 {
    match effort {
        "minimal" => 1024,
        "low" => 4096,
        "medium" => 16384,
        "xhigh" | "max" => 65536,
        _ => 32768,
    }
}
