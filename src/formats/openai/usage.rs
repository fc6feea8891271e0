//! OpenAI-style `usage` objects in canonical form (translation specification §7), with the
//! vendor variants: DeepSeek's cache hit counts, Anthropic-style cache fields passed through by
//! aggregators, reasoning counts reported beside or inside `completion_tokens`.

use serde_json::Value;

use crate::formats::ir::Usage;

/// A `usage` object as canonical counts: input including cached tokens, output including
/// reasoning.
pub fn decode_usage(usage: &Value) -> Usage {
    let n = |path: &[&str]| path.iter().try_fold(usage, |v, key| v.get(key)).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n(&["prompt_tokens"]);
    let cache_read = n(&["prompt_tokens_details", "cached_tokens"])
        .max(n(&["prompt_cache_hit_tokens"]))
        .max(n(&["cache_read_input_tokens"]));
    let cache_write = n(&["prompt_tokens_details", "cache_write_tokens"]).max(n(&["cache_creation_input_tokens"]));
    let completion = n(&["completion_tokens"]);
    let reasoning = n(&["completion_tokens_details", "reasoning_tokens"]).max(n(&["reasoning_tokens"]));
    // Some servers count reasoning apart from `completion_tokens`.
    let output_total = if reasoning > completion { completion + reasoning } else { completion };
    Usage { input_total: prompt.max(cache_read + cache_write), cache_read, cache_write, output_total, reasoning }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cached_and_reasoning_tokens_are_read() {
        let usage = json!({
            "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 20}
        });
        let u = decode_usage(&usage);
        assert_eq!(u, Usage { input_total: 100, cache_read: 60, cache_write: 0, output_total: 50, reasoning: 20 });
    }

    #[test]
    fn deepseek_cache_hits_count_as_cache_reads() {
        let u = decode_usage(&json!({"prompt_tokens": 10, "prompt_cache_hit_tokens": 4, "completion_tokens": 2}));
        assert_eq!((u.input_total, u.cache_read), (10, 4));
    }
}
