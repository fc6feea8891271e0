//! Content blocks of a Messages request (§4.3, §4.6–§4.8): text, image, document, tool_use,
//! tool_result, thinking and redacted_thinking. Any other type is refused, naming type and index.

use serde_json::{Map, Value};

use super::request::InvalidRequest;
use super::signature_from_wire;
use crate::formats::fields::{as_object, get, opt_bool, opt_str, req_object, req_str};
use crate::formats::ir::{DocumentSource, ImageSource, Part, Role, ToolCall, ToolResult};

pub(super) fn decode_block(block: &Value, role: Role, path: &str) -> Result<Part, InvalidRequest> {
    let block = as_object(block, path)?;
    let kind = req_str(block, "type", path)?;
    match (kind, role) {
        ("text", _) => text_part(block, path),
        ("image", _) => Ok(Part::Image(decode_image_source(block, path)?)),
        ("document", _) => Ok(Part::Document {
            source: decode_document_source(block, path)?,
            title: opt_str(block, "title", path)?.map(str::to_string),
        }),
        ("tool_use", Role::Assistant) => {
            let arguments = match get(block, "input") {
                None => "{}".to_string(),
                Some(input @ Value::Object(_)) => input.to_string(),
                Some(_) => return Err(InvalidRequest::wrong_type(format!("{path}.input"), "an object")),
            };
            Ok(Part::ToolCall(ToolCall {
                id: req_str(block, "id", path)?.to_string(),
                name: req_str(block, "name", path)?.to_string(),
                arguments,
                signature: None,
            }))
        }
        ("tool_result", Role::User) => Ok(Part::ToolResult(decode_tool_result(block, path)?)),
        ("tool_use" | "tool_result", _) => {
            let role = if role == Role::User { "user" } else { "assistant" };
            Err(InvalidRequest::at(
                format!("a '{kind}' block is not allowed in a {role} message ({path})"),
                format!("{path}.type"),
            ))
        }
        ("thinking", _) => Ok(Part::Reasoning {
            text: req_str(block, "thinking", path)?.to_string(),
            signature: opt_str(block, "signature", path)?.filter(|s| !s.is_empty()).map(signature_from_wire),
            redacted: None,
        }),
        ("redacted_thinking", _) => Ok(Part::Reasoning {
            text: String::new(),
            signature: None,
            redacted: Some(req_str(block, "data", path)?.to_string()),
        }),
        (other, _) => Err(InvalidRequest::at(
            format!("unsupported content block type '{other}' at {path}"),
            format!("{path}.type"),
        )),
    }
}

pub(super) fn text_part(block: &Map<String, Value>, path: &str) -> Result<Part, InvalidRequest> {
    Ok(Part::Text {
        text: req_str(block, "text", path)?.to_string(),
        cache_control: get(block, "cache_control").cloned(),
    })
}

fn decode_image_source(block: &Map<String, Value>, path: &str) -> Result<ImageSource, InvalidRequest> {
    let path = format!("{path}.source");
    let source = req_object(block, "source", &path)?;
    match req_str(source, "type", &path)? {
        "base64" => Ok(ImageSource::Base64 {
            media_type: req_str(source, "media_type", &path)?.to_string(),
            data: req_str(source, "data", &path)?.to_string(),
        }),
        "url" => Ok(ImageSource::Url(req_str(source, "url", &path)?.to_string())),
        "file" => Ok(ImageSource::FileRef(req_str(source, "file_id", &path)?.to_string())),
        other => Err(InvalidRequest::at(
            format!("unsupported image source type '{other}' at {path}"),
            format!("{path}.type"),
        )),
    }
}

fn decode_document_source(block: &Map<String, Value>, path: &str) -> Result<DocumentSource, InvalidRequest> {
    let path = format!("{path}.source");
    let source = req_object(block, "source", &path)?;
    match req_str(source, "type", &path)? {
        "base64" => Ok(DocumentSource::Base64 {
            media_type: req_str(source, "media_type", &path)?.to_string(),
            data: req_str(source, "data", &path)?.to_string(),
        }),
        "url" => Ok(DocumentSource::Url(req_str(source, "url", &path)?.to_string())),
        "text" => Ok(DocumentSource::PlainText(req_str(source, "data", &path)?.to_string())),
        other => Err(InvalidRequest::at(
            format!("unsupported document source type '{other}' at {path}"),
            format!("{path}.type"),
        )),
    }
}

fn decode_tool_result(block: &Map<String, Value>, path: &str) -> Result<ToolResult, InvalidRequest> {
    let content = match get(block, "content") {
        None => Vec::new(),
        Some(Value::String(text)) => vec![Part::Text { text: text.clone(), cache_control: None }],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(k, item)| {
                let path = format!("{path}.content[{k}]");
                let item = as_object(item, &path)?;
                match req_str(item, "type", &path)? {
                    "text" => text_part(item, &path),
                    "image" => Ok(Part::Image(decode_image_source(item, &path)?)),
                    other => Err(InvalidRequest::at(
                        format!("unsupported tool_result content type '{other}' at {path} (text and image only)"),
                        format!("{path}.type"),
                    )),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(InvalidRequest::wrong_type(format!("{path}.content"), "a string or an array of blocks"));
        }
    };
    Ok(ToolResult {
        call_id: req_str(block, "tool_use_id", path)?.to_string(),
        content,
        is_error: opt_bool(block, "is_error", path)?.unwrap_or(false),
    })
}
