//! The table of built-in providers: name, protocol and default base URL.

use super::Protocol;

/// Where a provider lists its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelListing {
    /// `GET {base}/models` (OpenAI protocol) on the effective base.
    FromBase,
    /// A fixed URL that is not derived from the base.
    Url(&'static str),
    /// No listing endpoint: only static models.
    Static,
}

#[derive(Debug, Clone, Copy)]
pub struct BuiltinProvider {
    pub name: &'static str,
    pub protocol: Protocol,
    pub base_url: &'static str,
    pub listing: ModelListing,
}

const fn openai(name: &'static str, base_url: &'static str) -> BuiltinProvider {
    BuiltinProvider { name, protocol: Protocol::OpenAi, base_url, listing: ModelListing::FromBase }
}

const fn other(name: &'static str, protocol: Protocol, base_url: &'static str) -> BuiltinProvider {
    BuiltinProvider { name, protocol, base_url, listing: ModelListing::FromBase }
}

/// Every built-in provider. Adding an OpenAI-compatible vendor is one row here.
pub const BUILTIN_PROVIDERS: &[BuiltinProvider] = &[
    openai("openai", "https://api.openai.com/v1"),
    other("anthropic", Protocol::Anthropic, "https://api.anthropic.com"),
    other("gemini", Protocol::Gemini, "https://generativelanguage.googleapis.com"),
    openai("openrouter", "https://openrouter.ai/api/v1"),
    openai("groq", "https://api.groq.com/openai/v1"),
    openai("mistral", "https://api.mistral.ai/v1"),
    openai("deepseek", "https://api.deepseek.com"),
    openai("nvidia_nim", "https://integrate.api.nvidia.com/v1"),
    openai("chutes", "https://llm.chutes.ai/v1"),
    BuiltinProvider {
        name: "cohere",
        protocol: Protocol::OpenAi,
        base_url: "https://api.cohere.ai/compatibility/v1",
        listing: ModelListing::Url("https://api.cohere.ai/v1/models"),
    },
    openai("xai", "https://api.x.ai/v1"),
    openai("together_ai", "https://api.together.xyz/v1"),
    openai("fireworks_ai", "https://api.fireworks.ai/inference/v1"),
    openai("cerebras", "https://api.cerebras.ai/v1"),
    BuiltinProvider {
        name: "perplexity",
        protocol: Protocol::OpenAi,
        base_url: "https://api.perplexity.ai",
        listing: ModelListing::Static,
    },
    openai("moonshot", "https://api.moonshot.ai/v1"),
    openai("deepinfra", "https://api.deepinfra.com/v1/openai"),
    openai("sambanova", "https://api.sambanova.ai/v1"),
    openai("codestral", "https://codestral.mistral.ai/v1"),
    openai("featherless_ai", "https://api.featherless.ai/v1"),
    openai("meta_llama", "https://api.llama.com/compat/v1"),
    openai("nanogpt", "https://nano-gpt.com/api/v1"),
    openai("firmware", "https://app.firmware.ai/api/v1"),
    // OAuth logins (`llmkp auth add`); Code Assist has no public model list.
    BuiltinProvider {
        name: "gemini_cli",
        protocol: Protocol::CodeAssist,
        base_url: "https://cloudcode-pa.googleapis.com/v1internal",
        listing: ModelListing::Static,
    },
    BuiltinProvider {
        name: "antigravity",
        protocol: Protocol::CodeAssist,
        base_url: "https://cloudcode-pa.googleapis.com/v1internal",
        listing: ModelListing::Static,
    },
    openai("qwen_code", "https://portal.qwen.ai/v1"),
    openai("iflow", "https://apis.iflow.cn/v1"),
];

/// Short names users type for providers whose canonical name carries a vendor suffix.
pub const PROVIDER_ALIASES: &[(&str, &str)] = &[("together", "together_ai"), ("fireworks", "fireworks_ai")];

pub fn builtin(name: &str) -> Option<&'static BuiltinProvider> {
    BUILTIN_PROVIDERS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        for (i, p) in BUILTIN_PROVIDERS.iter().enumerate() {
            assert!(p.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(BUILTIN_PROVIDERS[i + 1..].iter().all(|q| q.name != p.name), "{} twice", p.name);
        }
        for (alias, target) in PROVIDER_ALIASES {
            assert!(builtin(alias).is_none());
            assert!(builtin(target).is_some());
        }
    }
}
