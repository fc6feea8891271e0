//! Token counts split the way accounting needs them (uncached input, cache reads and writes,
//! output without reasoning, reasoning), from the canonical usage every protocol decodes into.

use crate::formats::ir::Usage;

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
    /// From canonical counts, where input includes cached tokens and output includes reasoning.
    pub fn from_canonical(usage: &Usage) -> Self {
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

    #[test]
    fn cached_and_reasoning_tokens_are_split_out() {
        let usage = Usage { input_total: 100, cache_read: 60, cache_write: 0, output_total: 50, reasoning: 20 };
        let t = TokenUsage::from_canonical(&usage);
        assert_eq!(t, TokenUsage { prompt: 40, cache_read: 60, cache_write: 0, completion: 30, reasoning: 20 });
        assert_eq!(t.total(), 150);
    }
}
