//! A bundled pricing and capability table for common models, for cost estimates and output
//! limits without a network catalog.
//!
//! Prices are the vendors' list prices for their own APIs (standard tier, no batch, regional or
//! fast-mode surcharges) as published on their pricing and model pages; all rates are USD per
//! million tokens. Context windows and output limits are the vendors' published limits for their
//! own APIs, checked as of [`LIMITS_AS_OF`]. Nothing here is updated automatically: each vendor
//! block names the pages it was read from, so the next check starts there.

use std::collections::HashMap;
use std::sync::LazyLock;

/// When the table's prices were taken from the vendors' published price pages. Rows added at the
/// [`LIMITS_AS_OF`] check carry the prices published then (their vendor block says so).
pub const PRICES_AS_OF: &str = "2025-11";

/// When every row's `context_length` and `max_output` were last checked against the vendors' own
/// model pages.
pub const LIMITS_AS_OF: &str = "2026-12-04";

/// USD per million tokens. A missing cache rate means the vendor charges none of its own: such
/// tokens are priced as ordinary input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    /// Reading cached input (cache hit).
    pub cache_read: Option<f64>,
    /// Writing input to the cache (Anthropic's five-minute write, OpenAI's 30-minute write).
    pub cache_write: Option<f64>,
}

/// Higher rates for a whole request whose prompt is longer than `above` tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    pub above: u64,
    pub rates: Rates,
}

/// One model of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// The vendor as a provider name: `openai`, `anthropic`, `google`, `deepseek`, `xai`.
    pub vendor: &'static str,
    /// The vendor's model id.
    pub model: &'static str,
    /// Other ids of the same model at the same price (dated snapshots, `-latest`, dotted forms).
    pub aliases: &'static [&'static str],
    pub rates: Rates,
    pub long_context: Option<LongContext>,
    /// Input plus output tokens the model accepts.
    pub context_length: u32,
    /// The most output tokens (reasoning included) one request may ask for on the vendor's own
    /// API. `None` where the vendor publishes no limit or it could not be verified: the gateway
    /// then leaves a client's limit alone.
    pub max_output: Option<u32>,
    pub tool_calling: bool,
    pub reasoning: bool,
    pub vision: bool,
}

impl ModelInfo {
    const fn new(vendor: &'static str, model: &'static str, input: f64, output: f64) -> Self {
        Self {
            vendor,
            model,
            aliases: &[],
            rates: Rates { input, output, cache_read: None, cache_write: None },
            long_context: None,
            context_length: 0,
            max_output: None,
            tool_calling: false,
            reasoning: false,
            vision: false,
        }
    }

    const fn cache(mut self, read: f64, write: Option<f64>) -> Self {
        self.rates.cache_read = Some(read);
        self.rates.cache_write = write;
        self
    }

    const fn limits(mut self, context_length: u32, max_output: Option<u32>) -> Self {
        self.context_length = context_length;
        self.max_output = max_output;
        self
    }

    /// Tool calling, reasoning, vision.
    const fn caps(mut self, tool_calling: bool, reasoning: bool, vision: bool) -> Self {
        self.tool_calling = tool_calling;
        self.reasoning = reasoning;
        self.vision = vision;
        self
    }

    const fn aka(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    const fn long(mut self, above: u64, input: f64, output: f64, read: f64, write: Option<f64>) -> Self {
        self.long_context =
            Some(LongContext { above, rates: Rates { input, output, cache_read: Some(read), cache_write: write } });
        self
    }

    /// `vendor/model`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.vendor, self.model)
    }

    /// The rates that apply to a request with this many prompt tokens (cached ones included).
    pub fn rates_for(&self, prompt_tokens: u64) -> Rates {
        match self.long_context {
            Some(long) if prompt_tokens > long.above => long.rates,
            _ => self.rates,
        }
    }

    /// The scan [`lookup`]'s index stands for (its tests compare the two).
    #[cfg(test)]
    fn answers_to(&self, name: &str) -> bool {
        self.model.eq_ignore_ascii_case(name) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

const M: u32 = 1_048_576;
const T: bool = true;
const F: bool = false;

/// The table. Anthropic cache writes are the five-minute rate, OpenAI's the 30-minute rate;
/// Google's cache storage (per hour) is not modelled.
pub const MODELS: &[ModelInfo] = &[
    // OpenAI. Limits and prices: https://developers.openai.com/api/docs/models/<model> (older
    // rows: https://platform.openai.com/docs/models/<model>). Above 272K input tokens the GPT-5.6
    // and GPT-6 rows bill the whole request at twice the input and cache rates and 1.5 times the
    // output rate (the GPT-5.6 pages say "2x input"; cached input is doubled with it, as the GPT-6
    // pages state outright).
    ModelInfo::new("openai", "gpt-6.2-sol", 2.0, 10.0)
        .cache(0.10, Some(2.50))
        .long(272_000, 4.0, 15.0, 0.20, Some(5.0))
        .limits(1_050_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("openai", "gpt-6-luna", 0.10, 0.50)
        .cache(0.01, Some(0.125))
        .long(272_000, 0.20, 0.75, 0.02, Some(0.25))
        .limits(1_050_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("openai", "gpt-5.6-terra", 2.0, 12.0)
        .cache(0.20, Some(2.50))
        .long(272_000, 4.0, 18.0, 0.40, Some(5.0))
        .limits(1_050_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("openai", "gpt-5.6-luna", 0.20, 1.20)
        .cache(0.02, Some(0.25))
        .long(272_000, 0.40, 1.80, 0.04, Some(0.50))
        .limits(1_050_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("openai", "gpt-5", 1.25, 10.0)
        .cache(0.125, None)
        .limits(400_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["gpt-5-2025-08-07"]),
    ModelInfo::new("openai", "gpt-5-mini", 0.25, 2.0)
        .cache(0.025, None)
        .limits(400_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["gpt-5-mini-2025-08-07"]),
    ModelInfo::new("openai", "gpt-5-nano", 0.05, 0.40)
        .cache(0.005, None)
        .limits(400_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["gpt-5-nano-2025-08-07"]),
    ModelInfo::new("openai", "gpt-5.1", 1.25, 10.0)
        .cache(0.125, None)
        .limits(400_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["gpt-5.1-2025-11-13"]),
    ModelInfo::new("openai", "gpt-4.1", 2.0, 8.0)
        .cache(0.50, None)
        .limits(1_047_576, Some(32_768))
        .caps(T, F, T)
        .aka(&["gpt-4.1-2025-04-14"]),
    ModelInfo::new("openai", "gpt-4.1-mini", 0.40, 1.60)
        .cache(0.10, None)
        .limits(1_047_576, Some(32_768))
        .caps(T, F, T)
        .aka(&["gpt-4.1-mini-2025-04-14"]),
    ModelInfo::new("openai", "gpt-4.1-nano", 0.10, 0.40)
        .cache(0.025, None)
        .limits(1_047_576, Some(32_768))
        .caps(T, F, T)
        .aka(&["gpt-4.1-nano-2025-04-14"]),
    ModelInfo::new("openai", "gpt-4o", 2.50, 10.0)
        .cache(1.25, None)
        .limits(128_000, Some(16_384))
        .caps(T, F, T)
        .aka(&["gpt-4o-2024-08-06", "gpt-4o-2024-11-20"]),
    ModelInfo::new("openai", "gpt-4o-mini", 0.15, 0.60)
        .cache(0.075, None)
        .limits(128_000, Some(16_384))
        .caps(T, F, T)
        .aka(&["gpt-4o-mini-2024-07-18"]),
    ModelInfo::new("openai", "o3", 2.0, 8.0)
        .cache(0.50, None)
        .limits(200_000, Some(100_000))
        .caps(T, T, T)
        .aka(&["o3-2025-04-16"]),
    ModelInfo::new("openai", "o4-mini", 1.10, 4.40)
        .cache(0.275, None)
        .limits(200_000, Some(100_000))
        .caps(T, T, T)
        .aka(&["o4-mini-2025-04-16"]),
    ModelInfo::new("openai", "o3-mini", 1.10, 4.40)
        .cache(0.55, None)
        .limits(200_000, Some(100_000))
        .caps(T, T, F)
        .aka(&["o3-mini-2025-01-31"]),
    ModelInfo::new("openai", "o1", 15.0, 60.0)
        .cache(7.50, None)
        .limits(200_000, Some(100_000))
        .caps(T, T, T)
        .aka(&["o1-2024-12-17"]),
    ModelInfo::new("openai", "text-embedding-3-small", 0.02, 0.0).limits(8_191, None),
    ModelInfo::new("openai", "text-embedding-3-large", 0.13, 0.0).limits(8_191, None),
    // Anthropic. Limits: https://platform.claude.com/docs/en/models/<model>/overview (the
    // synchronous Messages API; the Batch API's larger beta output limit is not this one).
    // Prices: https://platform.claude.com/docs/en/about-claude/pricing. The 1M-context models
    // bill long prompts at the standard rates; Haiku 5.5 bills prompts over 100K at its higher
    // band. Sonnet 5.5's cache read is its model page's $0.20: a later cut to $0.10 is reported
    // elsewhere but was not on the vendor pages checked.
    ModelInfo::new("anthropic", "claude-fable-5-1", 10.0, 50.0)
        .cache(0.25, Some(12.50))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-fable-5.1"]),
    ModelInfo::new("anthropic", "claude-fable-5", 10.0, 50.0)
        .cache(1.0, Some(12.50))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("anthropic", "claude-opus-5-5", 4.0, 20.0)
        .cache(0.20, Some(5.0))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-opus-5.5"]),
    ModelInfo::new("anthropic", "claude-sonnet-5-5", 2.0, 10.0)
        .cache(0.20, Some(2.50))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-sonnet-5.5"]),
    ModelInfo::new("anthropic", "claude-haiku-5-5", 0.10, 0.50)
        .cache(0.01, Some(0.125))
        .long(100_000, 0.50, 2.50, 0.05, Some(0.625))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-haiku-5.5"]),
    ModelInfo::new("anthropic", "claude-opus-5", 5.0, 25.0)
        .cache(0.50, Some(6.25))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("anthropic", "claude-sonnet-5", 2.0, 10.0)
        .cache(0.20, Some(2.50))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T),
    ModelInfo::new("anthropic", "claude-opus-4-8", 5.0, 25.0)
        .cache(0.50, Some(6.25))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4.8"]),
    ModelInfo::new("anthropic", "claude-opus-4-7", 5.0, 25.0)
        .cache(0.50, Some(6.25))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4.7"]),
    ModelInfo::new("anthropic", "claude-opus-4-6", 5.0, 25.0)
        .cache(0.50, Some(6.25))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4.6"]),
    ModelInfo::new("anthropic", "claude-sonnet-4-6", 3.0, 15.0)
        .cache(0.30, Some(3.75))
        .limits(1_000_000, Some(128_000))
        .caps(T, T, T)
        .aka(&["claude-sonnet-4.6"]),
    ModelInfo::new("anthropic", "claude-opus-4-5", 5.0, 25.0)
        .cache(0.50, Some(6.25))
        .limits(200_000, Some(64_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4-5-20251101", "claude-opus-4.5"]),
    ModelInfo::new("anthropic", "claude-opus-4-1", 15.0, 75.0)
        .cache(1.50, Some(18.75))
        .limits(200_000, Some(32_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4-1-20250805", "claude-opus-4.1"]),
    ModelInfo::new("anthropic", "claude-opus-4", 15.0, 75.0)
        .cache(1.50, Some(18.75))
        .limits(200_000, Some(32_000))
        .caps(T, T, T)
        .aka(&["claude-opus-4-0", "claude-opus-4-20250514"]),
    ModelInfo::new("anthropic", "claude-sonnet-4-5", 3.0, 15.0)
        .cache(0.30, Some(3.75))
        .long(200_000, 6.0, 22.50, 0.60, Some(7.50))
        .limits(200_000, Some(64_000))
        .caps(T, T, T)
        .aka(&["claude-sonnet-4-5-20250929", "claude-sonnet-4.5"]),
    ModelInfo::new("anthropic", "claude-sonnet-4", 3.0, 15.0)
        .cache(0.30, Some(3.75))
        .long(200_000, 6.0, 22.50, 0.60, Some(7.50))
        .limits(200_000, Some(64_000))
        .caps(T, T, T)
        .aka(&["claude-sonnet-4-0", "claude-sonnet-4-20250514"]),
    ModelInfo::new("anthropic", "claude-haiku-4-5", 1.0, 5.0)
        .cache(0.10, Some(1.25))
        .limits(200_000, Some(64_000))
        .caps(T, T, T)
        .aka(&["claude-haiku-4-5-20251001", "claude-haiku-4.5"]),
    ModelInfo::new("anthropic", "claude-3-7-sonnet", 3.0, 15.0)
        .cache(0.30, Some(3.75))
        .limits(200_000, Some(64_000))
        .caps(T, T, T)
        .aka(&["claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest", "claude-3.7-sonnet"]),
    ModelInfo::new("anthropic", "claude-3-5-haiku", 0.80, 4.0)
        .cache(0.08, Some(1.0))
        .limits(200_000, Some(8_192))
        .caps(T, F, T)
        .aka(&["claude-3-5-haiku-20241022", "claude-3-5-haiku-latest", "claude-3.5-haiku"]),
    ModelInfo::new("anthropic", "claude-3-haiku", 0.25, 1.25)
        .cache(0.03, Some(0.30))
        .limits(200_000, Some(4_096))
        .caps(T, F, T)
        .aka(&["claude-3-haiku-20240307"]),
    // Google (Gemini API, paid tier; text/image/video input rates). Limits:
    // https://ai.google.dev/gemini-api/docs/models/<model> (Vertex AI publishes other output
    // limits for some models; these are the Gemini API's). Prices:
    // https://ai.google.dev/gemini-api/docs/pricing. The pricing page could not be re-checked:
    // Gemini 3.1 Pro Preview carries the rates of the Gemini 3 Pro Preview it replaced, which is
    // what secondary sources quote for it.
    ModelInfo::new("google", "gemini-3.1-pro-preview", 2.0, 12.0)
        .cache(0.20, None)
        .long(200_000, 4.0, 18.0, 0.40, None)
        .limits(M, Some(65_536))
        .caps(T, T, T),
    ModelInfo::new("google", "gemini-3-pro-preview", 2.0, 12.0)
        .cache(0.20, None)
        .long(200_000, 4.0, 18.0, 0.40, None)
        .limits(M, Some(65_536))
        .caps(T, T, T),
    ModelInfo::new("google", "gemini-2.5-pro", 1.25, 10.0)
        .cache(0.125, None)
        .long(200_000, 2.50, 15.0, 0.25, None)
        .limits(M, Some(65_536))
        .caps(T, T, T),
    ModelInfo::new("google", "gemini-2.5-flash", 0.30, 2.50).cache(0.03, None).limits(M, Some(65_536)).caps(T, T, T),
    ModelInfo::new("google", "gemini-2.5-flash-lite", 0.10, 0.40)
        .cache(0.01, None)
        .limits(M, Some(65_536))
        .caps(T, T, T),
    ModelInfo::new("google", "gemini-2.0-flash", 0.10, 0.40)
        .cache(0.025, None)
        .limits(M, Some(8_192))
        .caps(T, F, T)
        .aka(&["gemini-2.0-flash-001"]),
    ModelInfo::new("google", "gemini-2.0-flash-lite", 0.075, 0.30)
        .limits(M, Some(8_192))
        .caps(T, F, T)
        .aka(&["gemini-2.0-flash-lite-001"]),
    // DeepSeek (V3.2 prices; cache hits are the cache-read rate):
    // https://api-docs.deepseek.com/quick_start/pricing. Both names served V3.2 (8K and 64K
    // output); later reports say DeepSeek retired them for its V4 models. Its page could not be
    // re-checked, so the output limits are left unknown rather than clamp a V4 answer to 8K.
    ModelInfo::new("deepseek", "deepseek-chat", 0.28, 0.42).cache(0.028, None).limits(128_000, None).caps(T, F, F),
    ModelInfo::new("deepseek", "deepseek-reasoner", 0.28, 0.42).cache(0.028, None).limits(128_000, None).caps(F, T, F),
    // xAI. https://docs.x.ai/developers/models/<model>. xAI publishes no output limit. Grok 4.20
    // bills a whole request whose prompt reaches 200K tokens at its higher rates.
    ModelInfo::new("xai", "grok-4.20-0309-reasoning", 1.25, 2.50)
        .cache(0.20, None)
        .long(199_999, 2.50, 5.0, 0.40, None)
        .limits(1_000_000, None)
        .caps(T, T, T)
        .aka(&["grok-4.20", "grok-4.20-reasoning", "grok-4.20-0309", "grok-4.20-reasoning-latest"]),
    ModelInfo::new("xai", "grok-4", 3.0, 15.0)
        .cache(0.75, None)
        .limits(256_000, None)
        .caps(T, T, T)
        .aka(&["grok-4-0709"]),
];

/// The provider names of config.md §10 that are another name for a vendor.
fn vendor_of(provider: &str) -> &str {
    match provider.to_ascii_lowercase().as_str() {
        "gemini" | "gemini_cli" | "antigravity" => "google",
        "nvidia_nim" => "nvidia",
        _ => provider,
    }
}

/// The table's entry for `provider/model` or a bare model id (config.md §10): exact
/// `vendor/model`, then the provider's alias, then the part after the last `/` alone. Case is
/// ignored.
pub fn lookup(model: &str) -> Option<&'static ModelInfo> {
    let model = model.trim();
    if let Some((provider, rest)) = model.split_once('/') {
        let vendor = vendor_of(provider);
        if let Some(info) = rows_answering_to(rest).find(|m| m.vendor.eq_ignore_ascii_case(vendor)) {
            return Some(info);
        }
    }
    let last = model.rsplit('/').next().unwrap_or(model);
    rows_answering_to(last).next()
}

/// The rows whose model name or an alias is `name` (case ignored), in table order. Every request
/// looks a model up several times (cost, output limit, metrics labels): an index, not a scan.
fn rows_answering_to(name: &str) -> impl Iterator<Item = &'static ModelInfo> {
    static INDEX: LazyLock<HashMap<String, Vec<usize>>> = LazyLock::new(|| {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (row, info) in MODELS.iter().enumerate() {
            for name in std::iter::once(&info.model).chain(info.aliases) {
                let rows = index.entry(name.to_ascii_lowercase()).or_default();
                if rows.last() != Some(&row) {
                    rows.push(row);
                }
            }
        }
        index
    });
    let rows = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        INDEX.get(&name.to_ascii_lowercase())
    } else {
        INDEX.get(name)
    };
    rows.into_iter().flatten().map(|&row| &MODELS[row])
}

/// The most output tokens a request for `model` (`provider/model` or a bare id, as [`lookup`]
/// takes it) may ask for on the vendor's own API: a larger requested limit is refused there, so
/// the gateway lowers it to this, and a Messages client that sent none gets this as its default.
/// `None` when the table does not list the model or knows no limit for it; the caller then
/// leaves the client's limit alone.
pub fn max_output_tokens(model: &str) -> Option<u64> {
    lookup(model).and_then(|m| m.max_output).map(u64::from)
}

/// The USD cost of a request: `prompt` uncached input tokens, `completion` output tokens, and the
/// two cache counts priced on top at their own rates (http-api.md §5.12), with the long-context
/// rates when all prompt tokens together pass the model's threshold. Rounded to 1e-10 USD.
pub fn cost(info: &ModelInfo, prompt: u64, completion: u64, cache_read: u64, cache_write: u64) -> f64 {
    let rates = info.rates_for(prompt.saturating_add(cache_read).saturating_add(cache_write));
    #[allow(clippy::cast_precision_loss)]
    let priced = |tokens: u64, per_million: f64| tokens as f64 * per_million / 1e6;
    let total = priced(prompt, rates.input)
        + priced(completion, rates.output)
        + priced(cache_read, rates.cache_read.unwrap_or(rates.input))
        + priced(cache_write, rates.cache_write.unwrap_or(rates.input));
    (total * 1e10).round() / 1e10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(model: &str) -> Option<String> {
        lookup(model).map(ModelInfo::id)
    }

    #[test]
    fn lookup_is_exact_then_provider_alias_then_suffix() {
        assert_eq!(id("openai/gpt-4o").as_deref(), Some("openai/gpt-4o"));
        assert_eq!(id("gpt-4o").as_deref(), Some("openai/gpt-4o"));
        assert_eq!(id("gpt-4o-mini").as_deref(), Some("openai/gpt-4o-mini"));
        assert_eq!(id("gemini/gemini-2.5-pro").as_deref(), Some("google/gemini-2.5-pro"));
        assert_eq!(id("gemini_cli/gemini-2.5-flash").as_deref(), Some("google/gemini-2.5-flash"));
        assert_eq!(id("openrouter/anthropic/claude-sonnet-4.5").as_deref(), Some("anthropic/claude-sonnet-4-5"));
        assert_eq!(id("anthropic/claude-3-5-haiku-20241022").as_deref(), Some("anthropic/claude-3-5-haiku"));
        assert_eq!(id("Anthropic/Claude-Haiku-4-5").as_deref(), Some("anthropic/claude-haiku-4-5"));
        assert_eq!(id("deepseek/deepseek-reasoner").as_deref(), Some("deepseek/deepseek-reasoner"));
        assert_eq!(id("gemini/models/gemini-2.5-flash-lite").as_deref(), Some("google/gemini-2.5-flash-lite"));
        assert_eq!(id("mycorp/llama-3-70b"), None);
        assert_eq!(id("gpt-4o-2024-05-13"), None, "an older snapshot at a different price");
        assert_eq!(id(""), None);
    }

    /// The lookup by a table scan, as the index must answer it.
    fn scanned(model: &str) -> Option<&'static ModelInfo> {
        let model = model.trim();
        if let Some((provider, rest)) = model.split_once('/') {
            let vendor = vendor_of(provider);
            if let Some(info) = MODELS.iter().find(|m| m.vendor.eq_ignore_ascii_case(vendor) && m.answers_to(rest)) {
                return Some(info);
            }
        }
        let last = model.rsplit('/').next().unwrap_or(model);
        MODELS.iter().find(|m| m.answers_to(last))
    }

    #[test]
    fn the_index_answers_every_name_as_the_table_scan_does() {
        let providers = [
            "",
            "openai/",
            "anthropic/",
            "google/",
            "gemini/",
            "gemini_cli/",
            "antigravity/",
            "openrouter/",
            "openrouter/anthropic/",
            "nvidia_nim/",
            "deepseek/",
            "mycorp/",
            "OpenAI/",
        ];
        let names = MODELS.iter().flat_map(|m| std::iter::once(m.model).chain(m.aliases.iter().copied()));
        let mut checked = 0;
        for name in names.chain(["no-such-model", "GPT-4O", "Claude-Haiku-4-5", " gpt-4o "]) {
            for provider in providers {
                for spelled in [name.to_string(), name.to_ascii_uppercase()] {
                    let model = format!("{provider}{spelled}");
                    let (indexed, scanned) = (lookup(&model).map(ModelInfo::id), scanned(&model).map(ModelInfo::id));
                    assert_eq!(indexed, scanned, "{model}");
                    checked += 1;
                }
            }
        }
        assert!(checked > MODELS.len() * providers.len());
    }

    #[test]
    fn cost_prices_each_kind_of_token_at_its_rate() {
        let gpt4o = lookup("gpt-4o").unwrap();
        assert!((cost(gpt4o, 1_000_000, 1_000_000, 0, 0) - 12.5).abs() < 1e-9);
        assert!((cost(gpt4o, 1000, 500, 0, 0) - 0.0075).abs() < 1e-12);
        // OpenAI charges no cache write of its own: written tokens cost ordinary input.
        assert!((cost(gpt4o, 0, 0, 2_000_000, 1_000_000) - (2.5 + 2.5)).abs() < 1e-9);
        let sonnet = lookup("anthropic/claude-sonnet-4-5").unwrap();
        let expected = 0.01 * 3.0 + 0.002 * 15.0 + 0.05 * 0.30 + 0.02 * 3.75;
        assert!((cost(sonnet, 10_000, 2_000, 50_000, 20_000) - expected).abs() < 1e-9);
        assert_eq!(cost(sonnet, 0, 0, 0, 0), 0.0);
    }

    #[test]
    fn long_prompts_use_the_long_context_rates() {
        let pro = lookup("gemini-2.5-pro").unwrap();
        assert!((cost(pro, 200_000, 1_000, 0, 0) - (0.25 + 0.01)).abs() < 1e-9);
        assert!((cost(pro, 100_000, 1_000, 100_001, 0) - (0.25 + 0.015 + 0.100_001 * 0.25)).abs() < 1e-9);
        assert!((cost(pro, 300_000, 0, 0, 0) - 0.75).abs() < 1e-9);

        // Haiku 5.5 bills prompts over 100K at its higher band, output included.
        let haiku = lookup("anthropic/claude-haiku-5-5").unwrap();
        assert!((cost(haiku, 100_000, 1_000, 0, 0) - (0.01 + 0.000_5)).abs() < 1e-12);
        assert!((cost(haiku, 100_001, 1_000, 0, 0) - (100_001.0 * 0.50 / 1e6 + 0.002_5)).abs() < 1e-12);
        // GPT-6.2 Sol above 272K input: twice the input and cache rates, 1.5 times the output.
        let sol = lookup("gpt-6.2-sol").unwrap();
        assert!((cost(sol, 272_001, 1_000, 0, 0) - (272_001.0 * 4.0 / 1e6 + 0.015)).abs() < 1e-12);
        // Grok 4.20's higher rates start when the prompt reaches 200K, not after it.
        let grok = lookup("xai/grok-4.20").unwrap();
        assert!((cost(grok, 199_999, 0, 0, 0) - 199_999.0 * 1.25 / 1e6).abs() < 1e-12);
        assert!((cost(grok, 200_000, 0, 0, 0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_table_is_consistent() {
        assert!(MODELS.len() >= 30);
        let mut names: Vec<String> = Vec::new();
        for m in MODELS {
            for name in std::iter::once(&m.model).chain(m.aliases) {
                let name = name.to_ascii_lowercase();
                assert!(!names.contains(&name), "{name} appears twice");
                names.push(name);
            }
            let r = m.rates;
            assert!(r.input > 0.0 && r.output >= 0.0, "{}", m.model);
            assert!(r.cache_read.is_none_or(|c| c < r.input), "{}", m.model);
            assert!(r.cache_write.is_none_or(|c| c > r.input), "{}", m.model);
            assert!(m.context_length > 0 && m.max_output.is_none_or(|o| o < m.context_length), "{}", m.model);
            assert!(m.long_context.is_none_or(|l| l.rates.input > r.input), "{}", m.model);
            if let Some(LongContext { rates: l, .. }) = m.long_context {
                assert!(l.output >= r.output, "{}", m.model);
                assert!(l.cache_read.is_none_or(|c| c < l.input), "{}", m.model);
                assert!(l.cache_write.is_none_or(|c| c > l.input), "{}", m.model);
            }
            assert_eq!(lookup(&m.id()), Some(m));
            assert_eq!(max_output_tokens(&m.id()), m.max_output.map(u64::from), "{}", m.model);
        }
    }

    #[test]
    fn max_output_tokens_is_the_vendors_published_limit() {
        // The real API answers 400 to gpt-4o asked for more (issue 11: Claude Code sends 32000).
        assert_eq!(max_output_tokens("openai/gpt-4o"), Some(16_384));
        assert_eq!(max_output_tokens("gpt-4o-2024-11-20"), Some(16_384));
        assert_eq!(max_output_tokens("openai/gpt-6.2-sol"), Some(128_000));
        assert_eq!(max_output_tokens("anthropic/claude-opus-4-6"), Some(128_000));
        assert_eq!(max_output_tokens("anthropic/claude-sonnet-4-6"), Some(128_000));
        assert_eq!(max_output_tokens("openrouter/anthropic/claude-opus-4.7"), Some(128_000));
        assert_eq!(max_output_tokens("claude-haiku-4-5-20251001"), Some(64_000));
        assert_eq!(max_output_tokens("anthropic/claude-3-5-haiku"), Some(8_192));
        assert_eq!(max_output_tokens("gemini/gemini-2.5-pro"), Some(65_536));
        assert_eq!(max_output_tokens("gemini_cli/gemini-3.1-pro-preview"), Some(65_536));
        assert_eq!(max_output_tokens("gemini/gemini-2.0-flash"), Some(8_192));
    }

    #[test]
    fn max_output_tokens_is_none_when_no_limit_is_known() {
        assert_eq!(max_output_tokens("mycorp/llama-3-70b"), None);
        assert_eq!(max_output_tokens("gpt-4o-2024-05-13"), None);
        assert_eq!(max_output_tokens(""), None);
        // Listed, but the vendor publishes no output limit (xAI, embeddings) or it could not be
        // re-checked (DeepSeek).
        assert_eq!(max_output_tokens("xai/grok-4"), None);
        assert_eq!(max_output_tokens("xai/grok-4.20"), None);
        assert_eq!(max_output_tokens("deepseek/deepseek-chat"), None);
        assert_eq!(max_output_tokens("openai/text-embedding-3-small"), None);
    }
}
