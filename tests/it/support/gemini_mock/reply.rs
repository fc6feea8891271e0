//! The answers of the Gemini mock: parts and finish reason chosen by the model prefix.

use serde_json::{Map, Value, json};

use super::super::shell_turn::{shell_answer, shell_call};
use super::{IssuedCall, SKIP_SIGNATURES, Shared, random_alnum};

/// A whole answer, rendered as one `GenerateContentResponse` or as a stream of them.
pub(super) struct Reply {
    pub(super) model: String,
    pub(super) response_id: String,
    /// Content parts (`text`, thought `text`, `functionCall`), each possibly carrying a `thoughtSignature`.
    pub(super) parts: Vec<Value>,
    pub(super) finish: &'static str,
    pub(super) prompt_tokens: u64,
}

impl Reply {
    pub(super) fn thoughts_tokens(&self) -> u64 {
        self.parts.iter().filter(|p| is_thought(p)).map(part_tokens).sum()
    }

    pub(super) fn candidates_tokens(&self) -> u64 {
        self.parts.iter().filter(|p| !is_thought(p)).map(part_tokens).sum()
    }

    /// `usageMetadata`; zero counts are left out, as proto3 JSON does.
    pub(super) fn usage(&self) -> Value {
        let (candidates, thoughts) = (self.candidates_tokens(), self.thoughts_tokens());
        let mut u = json!({"promptTokenCount": self.prompt_tokens});
        if candidates > 0 {
            u["candidatesTokenCount"] = json!(candidates);
        }
        u["totalTokenCount"] = json!(self.prompt_tokens + candidates + thoughts);
        u["promptTokensDetails"] = json!([{"modality": "TEXT", "tokenCount": self.prompt_tokens}]);
        if thoughts > 0 {
            u["thoughtsTokenCount"] = json!(thoughts);
        }
        u
    }

    /// One `GenerateContentResponse` with `parts` (no `content` at all when `None`), and the finish reason and
    /// usage when `last`.
    pub(super) fn chunk(&self, parts: Option<Vec<Value>>, last: bool) -> Value {
        let mut candidate = Map::new();
        if let Some(parts) = parts {
            candidate.insert("content".into(), json!({"parts": parts, "role": "model"}));
        }
        if last {
            candidate.insert("finishReason".into(), json!(self.finish));
            if self.finish == "SAFETY" {
                candidate.insert("safetyRatings".into(), safety_ratings());
            }
        }
        candidate.insert("index".into(), json!(0));
        let mut v = json!({"candidates": [candidate]});
        if last {
            v["usageMetadata"] = self.usage();
        }
        v["modelVersion"] = json!(self.model);
        v["responseId"] = json!(self.response_id);
        v
    }

    /// The whole non-streamed answer.
    pub(super) fn response(&self) -> Value {
        let parts = (!self.parts.is_empty()).then(|| self.parts.clone());
        self.chunk(parts, true)
    }
}

fn is_thought(part: &Value) -> bool {
    part["thought"] == true
}

fn part_tokens(part: &Value) -> u64 {
    match part["text"].as_str() {
        Some(text) => text.split_whitespace().count() as u64,
        None => part["functionCall"].to_string().len() as u64 / 4 + 1,
    }
}

fn safety_ratings() -> Value {
    let rating = |category: &str, probability: &str| json!({"category": category, "probability": probability});
    let mut harassment = rating("HARM_CATEGORY_HARASSMENT", "MEDIUM");
    harassment["blocked"] = json!(true);
    json!([
        rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", "NEGLIGIBLE"),
        rating("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE"),
        harassment,
        rating("HARM_CATEGORY_DANGEROUS_CONTENT", "NEGLIGIBLE"),
    ])
}

/// Cheap version of the real request validation; `Err` holds the 400 message.
pub(super) fn validate(body: &Value) -> Result<(), String> {
    let contents = match &body["contents"] {
        Value::Array(c) if !c.is_empty() => c,
        _ => return Err("* GenerateContentRequest.contents: contents is not specified\n".into()),
    };
    for (i, content) in contents.iter().enumerate() {
        match &content["role"] {
            Value::Null => {}
            Value::String(r) if r == "user" || r == "model" => {}
            _ => return Err("Please use a valid role: user, model.".into()),
        }
        if content["parts"].as_array().is_none_or(Vec::is_empty) {
            return Err(format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"));
        }
    }
    Ok(())
}

/// Gemini 3 rule: a `functionCall` part the mock issued must come back with the exact `thoughtSignature` it
/// carried (or a documented skip value). Calls the mock never issued are not checked.
pub(super) fn check_signatures(shared: &Shared, body: &Value) -> Result<(), String> {
    let calls = shared.calls.lock().unwrap();
    let contents = body["contents"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (position, content) in contents.iter().enumerate().filter(|(_, c)| c["role"] == "model") {
        for part in content["parts"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let call = &part["functionCall"];
            let Some(name) = call["name"].as_str() else { continue };
            let args = if call["args"].is_null() { json!({}) } else { call["args"].clone() };
            let issued: Vec<&str> =
                calls.iter().filter(|c| c.name == name && c.args == args).map(|c| c.signature.as_str()).collect();
            if issued.is_empty() {
                continue;
            }
            match part["thoughtSignature"].as_str() {
                Some(sig) if issued.contains(&sig) || SKIP_SIGNATURES.contains(&sig) => {}
                None => {
                    return Err(format!(
                        "Function call is missing a thought_signature in functionCall parts. This is required for \
                         tools to work correctly, and missing thought_signature may lead to degraded model \
                         performance. Additional data, function call `default_api:{name}` , position {position}. \
                         Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                    ));
                }
                Some(_) => {
                    return Err(format!(
                        "Corrupted thought signature. The thought_signature of function call `{name}`, position \
                         {position}, is not the one the model issued."
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The answer chosen by the model prefix. Function calls get a fresh signature, remembered in `shared`.
pub(super) fn build(shared: &Shared, body: &Value, model: &str) -> Reply {
    let last = last_user_text(&body["contents"]);
    let greeting = format!("Hello from gemini: {last}");
    let answered_tool = last_user_has_function_response(&body["contents"]);
    let tool_call =
        if model.starts_with("shell") { shell_function(&body["tools"]) } else { first_function(&body["tools"]) };
    let (parts, finish) = if model.starts_with("shell") && answered_tool {
        (vec![json!({"text": shell_answer(&function_responses(&body["contents"]))})], "STOP")
    } else if (model.starts_with("tools") || model.starts_with("shell"))
        && !answered_tool
        && let Some((name, args)) = tool_call
    {
        let signature = shared.next_signature();
        let call = json!({"functionCall": {"name": name, "args": args}, "thoughtSignature": signature});
        shared.calls.lock().unwrap().push(IssuedCall { name, args, signature });
        (vec![call], "STOP")
    } else if model.starts_with("thinking") {
        let signature = shared.next_signature();
        let thought = json!({"text": "Let me think", "thought": true});
        (vec![thought, json!({"text": greeting, "thoughtSignature": signature})], "STOP")
    } else if model.starts_with("echo") {
        (vec![json!({"text": body.to_string()})], "STOP")
    } else if model.starts_with("length") {
        (vec![json!({"text": greeting})], "MAX_TOKENS")
    } else if model.starts_with("safety") {
        (vec![], "SAFETY")
    } else {
        (vec![json!({"text": greeting})], "STOP")
    };
    Reply { model: model.to_owned(), response_id: random_alnum(22), parts, finish, prompt_tokens: prompt_tokens(body) }
}

/// Name and args of a call of the client's shell tool, when `tools` declares one.
fn shell_function(tools: &Value) -> Option<(String, Value)> {
    let decls = tools.as_array()?.iter().filter_map(|t| t["functionDeclarations"].as_array()).flatten();
    shell_call(decls.filter_map(|d| d["name"].as_str()))
}

/// The `functionResponse.response` values of the last user content, as compact JSON joined by spaces.
fn function_responses(contents: &Value) -> String {
    let parts = last_user(contents).and_then(|c| c["parts"].as_array()).map(Vec::as_slice).unwrap_or_default();
    parts
        .iter()
        .filter_map(|p| p.get("functionResponse"))
        .map(|r| r["response"].to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Name and args of the first function declaration of `tools` (`None` without one).
fn first_function(tools: &Value) -> Option<(String, Value)> {
    let decl = tools.as_array()?.iter().find_map(|t| t["functionDeclarations"].as_array()?.first())?;
    let name = decl["name"].as_str()?.to_owned();
    let schema = if decl["parameters"].is_object() { &decl["parameters"] } else { &decl["parametersJsonSchema"] };
    Some((name, args_for(schema)))
}

/// Args setting only the schema's first property: its first `enum` value, else `"Paris"` / `1` / `true` / `[]` /
/// `{}` by type (OpenAPI `STRING` or JSON Schema `string`); `{}` without properties.
fn args_for(schema: &Value) -> Value {
    let Some((name, prop)) = schema["properties"].as_object().and_then(|p| p.iter().next()) else {
        return json!({});
    };
    let value = if let Some(first) = prop["enum"].as_array().and_then(|e| e.first()) {
        first.clone()
    } else {
        match prop["type"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("integer" | "number") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ => json!("Paris"),
        }
    };
    json!({ name: value })
}

fn last_user(contents: &Value) -> Option<&Value> {
    contents.as_array()?.iter().rev().find(|c| c["role"].is_null() || c["role"] == "user")
}

fn last_user_has_function_response(contents: &Value) -> bool {
    last_user(contents)
        .and_then(|c| c["parts"].as_array())
        .is_some_and(|parts| parts.iter().any(|p| p["functionResponse"].is_object()))
}

/// Text of the last user content: its `text` parts, and the compact `functionResponse.response` JSON of its
/// function responses, joined by spaces.
fn last_user_text(contents: &Value) -> String {
    let Some(parts) = last_user(contents).and_then(|c| c["parts"].as_array()) else {
        return String::new();
    };
    parts
        .iter()
        .filter_map(|p| {
            if let Some(text) = p["text"].as_str() {
                Some(text.to_owned())
            } else {
                p.get("functionResponse").map(|r| r["response"].to_string())
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rough token count of the prompt (`contents`, `systemInstruction`, `tools`); always > 0. `countTokens` and
/// `usageMetadata.promptTokenCount` agree for the same request.
pub(super) fn prompt_tokens(body: &Value) -> u64 {
    let chars: usize = ["contents", "systemInstruction", "tools"]
        .iter()
        .filter_map(|k| body.get(*k))
        .map(|v| v.to_string().len())
        .sum();
    chars as u64 / 4 + 1
}
