//! The upstream protocols by name: what a provider speaks upstream (and what a client family
//! speaks natively, so that same-protocol requests pass through), with the few facts about each
//! that configuration needs. The protocols' behaviour is `providers::protocol`.

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
    /// OpenAI Responses (`{base}/responses`, `{base}/models`).
    Responses,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::CodeAssist => "code_assist",
            Self::Responses => "responses",
        }
    }

    /// The protocol a custom provider's `<NAME>_API_FORMAT` names (its first entry when it is a
    /// comma list).
    pub fn from_format(value: &str) -> Option<Self> {
        match value.split(',').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "openai" | "chat" => Some(Self::OpenAi),
            "anthropic" => Some(Self::Anthropic),
            "gemini" => Some(Self::Gemini),
            "responses" => Some(Self::Responses),
            _ => None,
        }
    }

    /// Where the live model list is, relative to the normalised base URL.
    pub fn models_path(self) -> &'static str {
        match self {
            Self::OpenAi | Self::CodeAssist | Self::Responses => "/models",
            Self::Anthropic => "/v1/models",
            Self::Gemini => "/v1beta/models",
        }
    }

    /// Base URL normalisation: the form the vendor's SDK takes as `base_url`.
    pub fn normalize_base(self, raw: &str) -> String {
        let mut base = raw.trim().trim_end_matches('/').to_string();
        let strip: &[&str] = match self {
            Self::OpenAi | Self::Responses => &["/chat/completions", "/responses"],
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
        assert_eq!(Protocol::Responses.normalize_base("http://h:9/v1/responses/"), "http://h:9/v1");
    }

    #[test]
    fn responses_is_named_by_its_format() {
        assert_eq!(Protocol::from_format(" Responses "), Some(Protocol::Responses));
        assert_eq!(Protocol::Responses.as_str(), "responses");
        assert_eq!(Protocol::Responses.models_path(), "/models");
    }
}
