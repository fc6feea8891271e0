//! Upstream providers: the built-in table, custom providers from `<NAME>_API_BASE`, the registry
//! that holds each provider with its credentials, and one adapter per wire protocol.

pub mod anthropic;
pub mod builtin;
pub mod code_assist;
pub mod gemini;
pub mod iflow;
pub mod openai;
pub mod registry;

pub use registry::{Provider, Registry};

use crate::auth::Credential;

/// `GET` the model list at `url` with the credential, in the provider's protocol.
pub fn list_models(
    http: &reqwest::Client,
    provider: &Provider,
    url: &str,
    credential: &Credential,
) -> reqwest::RequestBuilder {
    match provider.protocol {
        Protocol::Anthropic => anthropic::list_models(http, url, credential),
        Protocol::Gemini => gemini::list_models(http, url, credential),
        _ => openai::list_models(http, url, credential),
    }
}

/// The models of a list body in the provider's protocol.
pub fn parse_model_list(protocol: Protocol, body: &[u8]) -> Result<Vec<openai::ListedModel>, serde_json::Error> {
    match protocol {
        Protocol::Gemini => gemini::parse_model_list(body),
        _ => openai::parse_model_list(body),
    }
}

/// The wire protocol a provider speaks upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions (`{base}/chat/completions`, `{base}/models`).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini generateContent.
    Gemini,
    /// Google Code Assist envelope (Gemini CLI, Antigravity).
    CodeAssist,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::CodeAssist => "code_assist",
        }
    }

    /// The protocol a custom provider's `<NAME>_API_FORMAT` names (its first entry when it is a
    /// comma list).
    pub fn from_format(value: &str) -> Option<Self> {
        match value.split(',').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "openai" | "chat" => Some(Self::OpenAi),
            "anthropic" => Some(Self::Anthropic),
            "gemini" => Some(Self::Gemini),
            _ => None,
        }
    }

    /// Where the live model list is, relative to the normalised base URL.
    pub fn models_path(self) -> &'static str {
        match self {
            Self::OpenAi | Self::CodeAssist => "/models",
            Self::Anthropic => "/v1/models",
            Self::Gemini => "/v1beta/models",
        }
    }

    /// Base URL normalisation: the form the vendor's SDK takes as `base_url`.
    pub fn normalize_base(self, raw: &str) -> String {
        let mut base = raw.trim().trim_end_matches('/').to_string();
        let strip: &[&str] = match self {
            Self::OpenAi => &["/chat/completions", "/responses"],
            Self::Anthropic => &["/v1/messages", "/v1"],
            Self::Gemini => &["/v1beta/models", "/v1beta"],
            Self::CodeAssist => &[],
        };
        for suffix in strip {
            if let Some(stripped) = base.strip_suffix(suffix) {
                base = stripped.trim_end_matches('/').to_string();
                break;
            }
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn base_urls_are_normalised_per_protocol() {
        assert_eq!(Protocol::OpenAi.normalize_base("http://h:9/openai/v1/"), "http://h:9/openai/v1");
        assert_eq!(Protocol::OpenAi.normalize_base("http://h:9/v1/chat/completions"), "http://h:9/v1");
        assert_eq!(Protocol::Anthropic.normalize_base("http://h:9/anthropic/v1"), "http://h:9/anthropic");
        assert_eq!(Protocol::Gemini.normalize_base("http://h:9/gemini/v1beta/"), "http://h:9/gemini");
    }
}
