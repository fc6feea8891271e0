//! A Gemini client's `GenerateContentRequest` (and `countTokens` body) as a canonical request.

use super::upstream_encode::mime_from_extension;
use super::*;

// ---------------------------------------------------------------------------------------------
// Client requests → canonical.

/// Gemini `generationConfig` fields the canonical model has no place for (§4.9).
const UNCARRIED_CONFIG: [&str; 5] = ["seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs"];

/// A Gemini client's `GenerateContentRequest` (camelCase or snake_case field names, §5.7 of the
/// HTTP API) in canonical form, for `model` (from the URL). `safetySettings` and `cachedContent`
/// have no canonical form and are ignored ([`dropped_client_params`] names them).
pub fn decode_client_request(body: &Map<String, Value>, model: &str, stream: bool) -> Result<Request, InvalidRequest> {
    decode_generate(body, "", model, stream, false)
}

/// A `:countTokens` body, `{"contents": […]}` or `{"generateContentRequest": {…}}` (the latter
/// wins when both are present), in canonical form.
pub fn decode_client_count_request(body: &Map<String, Value>, model: &str) -> Result<Request, InvalidRequest> {
    match field(body, "generateContentRequest") {
        Some((key, Value::Object(inner))) => decode_generate(inner, key, model, false, true),
        Some((key, _)) => Err(InvalidRequest::wrong_type(key.to_string(), "an object")),
        None if field(body, "contents").is_none() => Err(InvalidRequest::missing("contents".into())),
        None => decode_generate(body, "", model, false, true),
    }
}

/// The request fields present in `body` that [`decode_client_request`] accepts but cannot carry,
/// for `x-llmkp-dropped-params`.
pub fn dropped_client_params(body: &Map<String, Value>) -> Vec<&'static str> {
    let mut dropped: Vec<&'static str> =
        ["safetySettings", "cachedContent"].into_iter().filter(|k| field(body, k).is_some()).collect();
    if let Some((_, Value::Object(config))) = field(body, "generationConfig") {
        dropped.extend(UNCARRIED_CONFIG.into_iter().filter(|k| field(config, k).is_some()));
    }
    dropped
}

fn decode_generate(
    body: &Map<String, Value>,
    prefix: &str,
    model: &str,
    stream: bool,
    count: bool,
) -> Result<Request, InvalidRequest> {
    let mut decoder = Decoder::default();
    match field(body, "contents") {
        Some((key, Value::Array(items))) => {
            let path = join(prefix, key);
            if items.is_empty() && !count {
                return Err(InvalidRequest::at(format!("'{path}' must not be empty"), path));
            }
            for (i, item) in items.iter().enumerate() {
                decoder.content(item, &format!("{path}[{i}]"))?;
            }
        }
        Some((key, _)) => return Err(InvalidRequest::wrong_type(join(prefix, key), "an array of contents")),
        None if count => {}
        None => return Err(InvalidRequest::missing(join(prefix, "contents"))),
    }
    let system = match field(body, "systemInstruction") {
        Some((key, value)) => decode_system(value, &join(prefix, key))?,
        None => Vec::new(),
    };
    let tools = match field(body, "tools") {
        Some((key, value)) => decode_tools(value, &join(prefix, key))?,
        None => Vec::new(),
    };
    let tool_choice = match field(body, "toolConfig") {
        Some((key, value)) => decode_tool_config(value, &join(prefix, key))?,
        None => None,
    };
    let mut request = Request {
        model: model.to_string(),
        system,
        messages: decoder.messages,
        tools,
        tool_choice,
        stream,
        ..Request::default()
    };
    if let Some((key, value)) = field(body, "generationConfig") {
        decode_generation_config(value, &join(prefix, key), &mut request)?;
    }
    Ok(request)
}

/// The conversation being decoded, with calls waiting for their responses.
#[derive(Default)]
struct Decoder {
    messages: Vec<Message>,
    /// (id, name) of calls not yet answered, oldest first: responses without an id are paired by
    /// position among calls of the same name (§4.6).
    pending: Vec<(String, String)>,
}

impl Decoder {
    fn content(&mut self, item: &Value, path: &str) -> Result<(), InvalidRequest> {
        let content = as_object(item, path)?;
        let model = match opt_str(content, "role", path)? {
            None | Some("user" | "" | "function" | "tool") => false,
            Some("model") => true,
            Some(other) => {
                return Err(InvalidRequest::at(
                    format!("'{path}.role' must be \"user\" or \"model\", got \"{other}\""),
                    format!("{path}.role"),
                ));
            }
        };
        let (key, parts) = match field(content, "parts") {
            Some((key, Value::Array(parts))) => (key, parts),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an array of parts")),
            None => return Err(InvalidRequest::missing(join(path, "parts"))),
        };
        let mut out = Vec::with_capacity(parts.len());
        let mut results = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let path = format!("{path}.{key}[{j}]");
            let part = as_object(part, &path)?;
            if model {
                self.model_part(part, &path, &mut out)?;
            } else if let Some(result) = self.user_part(part, &path, &mut out)? {
                results.push(Part::ToolResult(result));
            }
        }
        if model {
            self.messages.push(Message { role: Role::Assistant, parts: out });
        } else if results.is_empty() {
            self.messages.push(Message { role: Role::User, parts: out });
        } else {
            self.messages.push(Message { role: Role::Tool, parts: results });
            if !out.is_empty() {
                self.messages.push(Message { role: Role::User, parts: out });
            }
        }
        Ok(())
    }

    fn model_part(&mut self, part: &Map<String, Value>, path: &str, out: &mut Vec<Part>) -> Result<(), InvalidRequest> {
        let signature = opt_str(part, "thoughtSignature", path)?
            .filter(|s| !s.is_empty())
            .map(|s| signature_from_client(s, ORIGIN));
        let thought = opt_bool(part, "thought", path)?.unwrap_or(false);
        if let Some((key, value)) = field(part, "functionCall") {
            let path = join(path, key);
            let call = as_object(value, &path)?;
            let name = req_str(call, "name", &path)?.to_string();
            let id = match opt_str(call, "id", &path)? {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => synthetic_call_id(&format!("{path}:{name}")),
            };
            let arguments = match field(call, "args") {
                None => "{}".to_string(),
                Some((_, args @ Value::Object(_))) => args.to_string(),
                Some((key, _)) => return Err(InvalidRequest::wrong_type(join(&path, key), "an object")),
            };
            self.pending.push((id.clone(), name.clone()));
            out.push(Part::ToolCall(ToolCall { id, name, arguments, signature }));
            return Ok(());
        }
        if let Some((key, value)) = field(part, "text") {
            let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(path, key), "a string"))?;
            if thought {
                out.push(Part::Reasoning { text: text.to_string(), signature, redacted: None });
                return Ok(());
            }
            if let Some(signature) = signature {
                out.push(Part::Reasoning { text: String::new(), signature: Some(signature), redacted: None });
            }
            if !text.is_empty() {
                out.push(Part::Text { text: text.to_string(), cache_control: None });
            }
            return Ok(());
        }
        if field(part, "functionResponse").is_some() {
            return Err(InvalidRequest::at(
                format!("functionResponse parts belong in user turns ({path})"),
                path.to_string(),
            ));
        }
        let media = media(part, path)?;
        if let Some(signature) = signature {
            out.push(Part::Reasoning { text: String::new(), signature: Some(signature), redacted: None });
        }
        out.extend(media);
        Ok(())
    }

    /// A user part; a `functionResponse` is returned as a result instead of added to `out`.
    fn user_part(
        &mut self,
        part: &Map<String, Value>,
        path: &str,
        out: &mut Vec<Part>,
    ) -> Result<Option<ToolResult>, InvalidRequest> {
        if let Some((key, value)) = field(part, "functionResponse") {
            return self.function_response(value, &join(path, key)).map(Some);
        }
        if let Some((key, value)) = field(part, "text") {
            let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(path, key), "a string"))?;
            out.push(Part::Text { text: text.to_string(), cache_control: None });
            return Ok(None);
        }
        if field(part, "functionCall").is_some() {
            return Err(InvalidRequest::at(
                format!("functionCall parts belong in model turns ({path})"),
                path.to_string(),
            ));
        }
        out.extend(media(part, path)?);
        Ok(None)
    }

    fn function_response(&mut self, value: &Value, path: &str) -> Result<ToolResult, InvalidRequest> {
        let response = as_object(value, path)?;
        let name = req_str(response, "name", path)?;
        let call_id = match opt_str(response, "id", path)?.filter(|id| !id.is_empty()) {
            Some(id) => {
                if let Some(n) = self.pending.iter().position(|(pending, _)| pending == id) {
                    self.pending.remove(n);
                }
                id.to_string()
            }
            None => match self.pending.iter().position(|(_, pending)| pending == name) {
                Some(n) => self.pending.remove(n).0,
                None => synthetic_call_id(&format!("{path}:{name}")),
            },
        };
        let (mut content, is_error) = match field(response, "response") {
            None => (Vec::new(), false),
            Some((_, Value::Object(payload))) => response_content(payload),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        };
        // Multimodal function responses (Gemini 3): images after the text.
        if let Some((key, value)) = field(response, "parts") {
            let parts_path = join(path, key);
            let Value::Array(parts) = value else {
                return Err(InvalidRequest::wrong_type(parts_path, "an array of parts"));
            };
            for (k, part) in parts.iter().enumerate() {
                let path = format!("{parts_path}[{k}]");
                for part in media(as_object(part, &path)?, &path)? {
                    match part {
                        Part::Image(_) => content.push(part),
                        _ => {
                            return Err(InvalidRequest::at(
                                format!("only images can be returned inside a function response ({path})"),
                                path,
                            ));
                        }
                    }
                }
            }
        }
        Ok(ToolResult { call_id, content, is_error })
    }
}

/// `response` of a `functionResponse`: `{"result"|"output": X}` is X, `{"error": X}` an error
/// with X; any other object is the result as a whole (§4.7).
fn response_content(payload: &Map<String, Value>) -> (Vec<Part>, bool) {
    let text = |value: &Value| match value {
        Value::Null => Vec::new(),
        Value::String(text) if text.is_empty() => Vec::new(),
        Value::String(text) => vec![Part::Text { text: text.clone(), cache_control: None }],
        other => vec![Part::Text { text: other.to_string(), cache_control: None }],
    };
    match payload.iter().next() {
        Some((key, value)) if payload.len() == 1 && (key == "result" || key == "output") => (text(value), false),
        Some((key, value)) if payload.len() == 1 && key == "error" => (text(value), true),
        _ => {
            let is_error = payload.get("error").is_some_and(|e| !e.is_null());
            (text(&Value::Object(payload.clone())), is_error)
        }
    }
}

/// `inlineData` or `fileData`; anything else a part cannot hold in translation is refused.
fn media(part: &Map<String, Value>, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    if let Some((key, value)) = field(part, "inlineData") {
        let path = join(path, key);
        let blob = as_object(value, &path)?;
        let media_type = req_str(blob, "mimeType", &path)?.to_string();
        let data = req_str(blob, "data", &path)?.to_string();
        return Ok(vec![if media_type.to_ascii_lowercase().starts_with("image/") {
            Part::Image(ImageSource::Base64 { media_type, data })
        } else {
            // PDFs, text, and (for Gemini targets, which take them back as `inlineData`) audio
            // and video.
            Part::Document { source: DocumentSource::Base64 { media_type, data }, title: None }
        }]);
    }
    if let Some((key, value)) = field(part, "fileData") {
        let path = join(path, key);
        let file = as_object(value, &path)?;
        let uri = req_str(file, "fileUri", &path)?.to_string();
        let media_type = opt_str(file, "mimeType", &path)?.map(str::to_string);
        let media_type = media_type.or_else(|| mime_from_extension(&uri).map(str::to_string));
        let is_image = media_type.as_deref().is_none_or(|m| m.to_ascii_lowercase().starts_with("image/"));
        let remote = uri.starts_with("http://") || uri.starts_with("https://");
        return Ok(vec![match (is_image, remote) {
            (true, true) => Part::Image(ImageSource::Url(uri)),
            (true, false) => Part::Image(ImageSource::FileRef(uri)),
            (false, _) => Part::Document { source: DocumentSource::Url(uri), title: None },
        }]);
    }
    if part.is_empty()
        || part.keys().all(|k| matches!(k.as_str(), "thought" | "thoughtSignature" | "thought_signature"))
    {
        // A signature alone (the model side has taken it already) or an empty part.
        return Ok(Vec::new());
    }
    let kind = part.keys().find(|k| !matches!(k.as_str(), "thought" | "thoughtSignature" | "thought_signature"));
    Err(InvalidRequest::at(
        format!(
            "unsupported part '{}' at {path} (text, inlineData, fileData, functionCall and functionResponse can be \
             translated)",
            kind.map(String::as_str).unwrap_or_default()
        ),
        path.to_string(),
    ))
}

/// `systemInstruction`: a content whose parts are text (a plain string is taken too).
fn decode_system(value: &Value, path: &str) -> Result<Vec<Part>, InvalidRequest> {
    let parts = match value {
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![Part::Text { text: text.clone(), cache_control: None }]),
        Value::Object(content) => match field(content, "parts") {
            Some((key, Value::Array(parts))) => (join(path, key), parts),
            Some((key, _)) => return Err(InvalidRequest::wrong_type(join(path, key), "an array of parts")),
            None => return Ok(Vec::new()),
        },
        _ => return Err(InvalidRequest::wrong_type(path.to_string(), "a content object")),
    };
    let (parts_path, parts) = parts;
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let path = format!("{parts_path}[{i}]");
        let part = as_object(part, &path)?;
        let Some((key, value)) = field(part, "text") else {
            return Err(InvalidRequest::at(format!("system instructions can only hold text ({path})"), path));
        };
        let text = value.as_str().ok_or_else(|| InvalidRequest::wrong_type(join(&path, key), "a string"))?;
        if !text.is_empty() {
            out.push(Part::Text { text: text.to_string(), cache_control: None });
        }
    }
    Ok(out)
}

/// `tools`: function declarations, `googleSearch` (as a web search server tool), and other
/// Gemini tools kept as server tools under their own name.
fn decode_tools(value: &Value, path: &str) -> Result<Vec<Tool>, InvalidRequest> {
    let Value::Array(items) = value else { return Err(InvalidRequest::wrong_type(path.to_string(), "an array")) };
    let mut tools = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let tool = as_object(item, &path)?;
        for (key, value) in tool {
            if value.is_null() {
                continue;
            }
            let name = camel_case(key);
            match name.as_str() {
                "functionDeclarations" => {
                    let path = join(&path, key);
                    let Value::Array(declarations) = value else {
                        return Err(InvalidRequest::wrong_type(path, "an array"));
                    };
                    for (j, declaration) in declarations.iter().enumerate() {
                        tools.push(function_declaration(declaration, &format!("{path}[{j}]"))?);
                    }
                }
                "googleSearch" => {
                    let mut raw = Map::new();
                    raw.insert("type".into(), json!("web_search_20250305"));
                    raw.insert("name".into(), json!("web_search"));
                    tools.push(Tool::Server { kind: "web_search_20250305".into(), raw });
                }
                _ => {
                    let mut raw = Map::new();
                    raw.insert(name.clone(), value.clone());
                    tools.push(Tool::Server { kind: name, raw });
                }
            }
        }
    }
    Ok(tools)
}

/// `{name, description?, parametersJsonSchema | parameters}`; a Gemini-style `parameters` schema
/// is read as JSON Schema; none is an empty object schema (§4.4).
fn function_declaration(value: &Value, path: &str) -> Result<Tool, InvalidRequest> {
    let declaration = as_object(value, path)?;
    let parameters = match (field(declaration, "parametersJsonSchema"), field(declaration, "parameters")) {
        (Some((_, schema @ Value::Object(_))), _) => schema.clone(),
        (Some((key, _)), _) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, Some((_, schema @ Value::Object(_)))) => openapi_to_json_schema(schema),
        (None, Some((key, _))) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, None) => json!({"type": "object", "properties": {}}),
    };
    Ok(Tool::Function {
        name: req_str(declaration, "name", path)?.to_string(),
        description: opt_str(declaration, "description", path)?.map(str::to_string),
        parameters,
        strict: None,
        cache_control: None,
    })
}

/// `toolConfig.functionCallingConfig` (§4.5); unknown modes are a 400.
fn decode_tool_config(value: &Value, path: &str) -> Result<Option<ToolChoice>, InvalidRequest> {
    let config = as_object(value, path)?;
    let Some((key, value)) = field(config, "functionCallingConfig") else { return Ok(None) };
    let path = join(path, key);
    let calling = as_object(value, &path)?;
    let names: Vec<String> = match field(calling, "allowedFunctionNames") {
        None => Vec::new(),
        Some((key, Value::Array(names))) => names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| InvalidRequest::wrong_type(format!("{}[{i}]", join(&path, key)), "a string"))
            })
            .collect::<Result<_, _>>()?,
        Some((key, _)) => return Err(InvalidRequest::wrong_type(join(&path, key), "an array of strings")),
    };
    let mode = opt_str(calling, "mode", &path)?.map(str::to_ascii_uppercase);
    Ok(match mode.as_deref() {
        None | Some("MODE_UNSPECIFIED") => None,
        Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
        Some("NONE") => Some(ToolChoice::None),
        Some("ANY") => match names.as_slice() {
            [only] => Some(ToolChoice::Specific(only.clone())),
            _ => Some(ToolChoice::Required),
        },
        Some(other) => {
            return Err(InvalidRequest::at(
                format!("unknown function calling mode '{other}' (expected AUTO, ANY, NONE or VALIDATED)"),
                join(&path, "mode"),
            ));
        }
    })
}

fn decode_generation_config(value: &Value, path: &str, request: &mut Request) -> Result<(), InvalidRequest> {
    let config = as_object(value, path)?;
    request.temperature = opt_f64(config, "temperature", path)?;
    request.top_p = opt_f64(config, "topP", path)?;
    request.top_k = opt_count(config, "topK", path)?;
    request.max_output_tokens = opt_count(config, "maxOutputTokens", path)?;
    if let Some((key, value)) = field(config, "stopSequences") {
        let path = join(path, key);
        let Value::Array(items) = value else { return Err(InvalidRequest::wrong_type(path, "an array of strings")) };
        request.stop = items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| InvalidRequest::wrong_type(format!("{path}[{i}]"), "a string"))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = opt_count(config, "candidateCount", path)?
        && n > 1
    {
        return Err(InvalidRequest::at(
            format!("candidateCount = {n} cannot be served: this model's upstream returns one candidate per request"),
            join(path, "candidateCount"),
        ));
    }
    if let Some((key, Value::Array(modalities))) = field(config, "responseModalities")
        && modalities.iter().any(|m| m.as_str().is_none_or(|m| !m.eq_ignore_ascii_case("text")))
    {
        return Err(InvalidRequest::at(
            "only text output can be produced by this model's upstream (responseModalities must be [\"TEXT\"])",
            join(path, key),
        ));
    }
    request.response_format = decode_response_format(config, path)?;
    if let Some((key, value)) = field(config, "thinkingConfig") {
        request.reasoning = decode_thinking(value, &join(path, key))?;
    }
    Ok(())
}

/// `responseMimeType` with `responseJsonSchema` / `responseSchema` (§4.10).
fn decode_response_format(config: &Map<String, Value>, path: &str) -> Result<Option<ResponseFormat>, InvalidRequest> {
    let schema = match (field(config, "responseJsonSchema"), field(config, "responseSchema")) {
        (Some((_, schema)), _) => Some(schema.clone()),
        (None, Some((_, schema @ Value::Object(_)))) => Some(openapi_to_json_schema(schema)),
        (None, Some((key, _))) => return Err(InvalidRequest::wrong_type(join(path, key), "an object")),
        (None, None) => None,
    };
    let mime = opt_str(config, "responseMimeType", path)?.map(str::to_ascii_lowercase);
    Ok(match (mime.as_deref(), schema) {
        (None | Some("application/json"), Some(schema)) => {
            Some(ResponseFormat::JsonSchema { name: None, schema, strict: None })
        }
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (None | Some("text/plain"), None) => None,
        (Some(other), _) => {
            return Err(InvalidRequest::at(
                format!("responseMimeType '{other}' cannot be translated (application/json or text/plain can)"),
                join(path, "responseMimeType"),
            ));
        }
    })
}

/// `thinkingConfig` (§4.11): budget 0 disables, -1 leaves the choice to the model, a level is an
/// effort (read case-insensitively); a level wins over a budget.
fn decode_thinking(value: &Value, path: &str) -> Result<Option<Reasoning>, InvalidRequest> {
    let config = as_object(value, path)?;
    if let Some(level) = opt_str(config, "thinkingLevel", path)? {
        let level = level.to_ascii_lowercase();
        return match level.as_str() {
            "thinking_level_unspecified" => Ok(None),
            "minimal" | "low" | "medium" | "high" => Ok(Some(Reasoning::Effort(level))),
            _ => Err(InvalidRequest::at(
                format!("unknown thinkingLevel '{level}' (expected minimal, low, medium or high)"),
                join(path, "thinkingLevel"),
            )),
        };
    }
    let Some((key, budget)) = field(config, "thinkingBudget") else { return Ok(None) };
    match budget.as_i64() {
        Some(0) => Ok(Some(Reasoning::Disabled)),
        Some(-1) => Ok(None),
        Some(b) if b > 0 => Ok(Some(Reasoning::BudgetTokens(b as u64))),
        _ => Err(InvalidRequest::wrong_type(join(path, key), "an integer of at least -1")),
    }
}

// Field readers: each name is looked up as written (camelCase) and in snake_case
// ([`find`]); failures name the field by its path with the spelling the client used.

fn field<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<(&'a str, &'a Value)> {
    find(obj, camel)
}

fn req_str<'a>(obj: &'a Map<String, Value>, camel: &str, prefix: &str) -> Result<&'a str, InvalidRequest> {
    match field(obj, camel) {
        Some((key, value)) => as_str(value, &join(prefix, key)),
        None => Err(InvalidRequest::missing(join(prefix, &spelling(obj, prefix, camel)))),
    }
}

/// The name of a missing field as the client would have written it: snake_case when the object
/// or its own name is spelled that way.
fn spelling(obj: &Map<String, Value>, prefix: &str, camel: &str) -> String {
    let own_name = prefix.rsplit('.').next().unwrap_or_default();
    if own_name.contains('_') || obj.keys().any(|k| k.contains('_')) { snake_case(camel) } else { camel.to_string() }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<&'a str>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_str(value, &join(prefix, key))).transpose()
}

fn opt_bool(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<bool>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_bool(value, &join(prefix, key))).transpose()
}

fn opt_f64(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<f64>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_f64(value, &join(prefix, key))).transpose()
}

fn opt_count(obj: &Map<String, Value>, camel: &str, prefix: &str) -> Result<Option<u64>, InvalidRequest> {
    field(obj, camel).map(|(key, value)| as_count(value, &join(prefix, key))).transpose()
}
