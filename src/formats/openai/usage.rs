//! Token counts from an OpenAI-style `usage` object, split the way accounting needs them:
//! uncached input, cache reads and writes, output without reasoning, reasoning.

use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Input tokens not served from a cache.
    pub prompt: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Output tokens without reasoning.
    pub completion: u64,
    pub reasoning: u64,
}

impl TokenUsage {
    /// Reads OpenAI's fields and the common vendor variants (DeepSeek's cache hit/miss counts,
    /// Anthropic-style cache fields passed through by aggregators).
    pub fn from_openai(usage: &Value) -> Self {
        let n = |path: &[&str]| path.iter().try_fold(usage, |v, key| v.get(key)).and_then(Value::as_u64).unwrap_or(0);
        let input = n(&["prompt_tokens"]);
        let cache_read = n(&["prompt_tokens_details", "cached_tokens"])
            .max(n(&["prompt_cache_hit_tokens"]))
            .max(n(&["cache_read_input_tokens"]));
        let cache_write = n(&["prompt_tokens_details", "cache_write_tokens"]).max(n(&["cache_creation_input_tokens"]));
        let output = n(&["completion_tokens"]);
        let reasoning = n(&["completion_tokens_details", "reasoning_tokens"]).max(n(&["reasoning_tokens"]));
        Self {
            prompt: input.saturating_sub(cache_read).saturating_sub(cache_write),
            cache_read,
            cache_write,
            completion: output.saturating_sub(reasoning),
            reasoning,
        }
    }

    /// From canonical counts, where input includes cached tokens and output includes reasoning.
    pub fn from_canonical(usage: &crate::formats::ir::Usage) -> Self {
        Self {
            prompt: usage.input_total.saturating_sub(usage.cache_read).saturating_sub(usage.cache_write),
            cache_read: usage.cache_read,
            cache_write: usage.cache_write,
            completion: usage.output_total.saturating_sub(usage.reasoning),
            reasoning: usage.reasoning,
        }
    }

    pub fn total(&self) -> u64 {
        self.prompt + self.cache_read + self.cache_write + self.completion + self.reasoning
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cached_and_reasoning_tokens_are_split_out() {
        let usage = json!({
            "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 20}
        });
        let t = TokenUsage::from_openai(&usage);
        assert_eq!(t, TokenUsage { prompt: 40, cache_read: 60, cache_write: 0, completion: 30, reasoning: 20 });
        assert_eq!(t.total(), 150);
    }

    #[test]
    fn deepseek_cache_hits_count_as_cache_reads() {
        let t = TokenUsage::from_openai(
            &json!({"prompt_tokens": 10, "prompt_cache_hit_tokens": 4, "completion_tokens": 2}),
        );
        assert_eq!((t.prompt, t.cache_read), (6, 4));
    }
}
