//! Model filters: `IGNORE_MODELS_<P>` / `WHITELIST_MODELS_<P>` glob lists and the allow/block decision
//! every route and listing applies to a `provider/model`.

use std::collections::HashMap;

use crate::config::Env;
use crate::config::values::parse_list;

/// Whether `text` matches the glob `pattern` (`*`, `?`, `[abc]`, `[!abc]`, `[a-z]`), case-sensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    Glob::compile(pattern).matches(text)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    AnyRun,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Token {
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyChar | Token::AnyRun => true,
            Token::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        }
    }
}

/// A pattern parsed once at load, so per-request checks do no parsing.
#[derive(Debug, Clone)]
struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl Glob {
    fn compile(pattern: &str) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                // Consecutive stars mean the same as one; collapsing them keeps matching linear per star.
                '*' if tokens.last() == Some(&Token::AnyRun) => {}
                '*' => tokens.push(Token::AnyRun),
                '?' => tokens.push(Token::AnyChar),
                '[' => {
                    if let Some((token, next)) = parse_class(&chars, i + 1) {
                        tokens.push(token);
                        i = next;
                        continue;
                    }
                    // An unclosed bracket is far more likely part of a name than a broken pattern.
                    tokens.push(Token::Literal('['));
                }
                c => tokens.push(Token::Literal(c)),
            }
            i += 1;
        }
        Self { source: pattern.to_string(), tokens }
    }

    /// Greedy match that remembers only the last star: on a mismatch the star absorbs one more
    /// character. Earlier stars never need revisiting, so the cost is bounded by pattern × text
    /// length instead of growing exponentially with the number of stars.
    fn matches(&self, text: &str) -> bool {
        let tokens = &self.tokens;
        let (mut pi, mut ti) = (0, 0);
        let mut last_star: Option<(usize, usize)> = None;
        while let Some(c) = text[ti..].chars().next() {
            match tokens.get(pi) {
                Some(Token::AnyRun) => {
                    last_star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                Some(token) if token.accepts(c) => {
                    pi += 1;
                    ti += c.len_utf8();
                    continue;
                }
                _ => {}
            }
            let Some((after_star, absorbed_to)) = last_star else { return false };
            let resume = absorbed_to + text[absorbed_to..].chars().next().map_or(1, char::len_utf8);
            last_star = Some((after_star, resume));
            pi = after_star;
            ti = resume;
        }
        tokens[pi..].iter().all(|t| *t == Token::AnyRun)
    }
}

/// Parses a bracket class whose body starts at `start`; returns the token and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let body_start = i;
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        // A `]` opening the body is a member, as in shell globs, so `[]]` can be written.
        if c == ']' && i > body_start {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((c, hi));
                i += 3;
            }
            _ => {
                ranges.push((c, c));
                i += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ProviderLists {
    ignore_variable: String,
    ignore: Vec<Glob>,
    whitelist: Vec<Glob>,
}

impl ProviderLists {
    fn any_matches(globs: &[Glob], model: &str, qualified: &str) -> bool {
        globs.iter().any(|g| g.matches(model) || g.matches(qualified))
    }
}

/// The model filters of every configured provider.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    providers: HashMap<String, ProviderLists>,
}

/// The outcome for one model; `Blocked` names the variable responsible so logs can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterDecision {
    Allowed,
    Blocked { variable: String },
}

impl ModelFilter {
    /// Reads IGNORE_MODELS_<P> / WHITELIST_MODELS_<P> for each given provider name (lower case).
    pub fn from_env(env: &Env, providers: &[&str]) -> Self {
        let mut filter = Self::default();
        for &provider in providers {
            let upper = provider.to_ascii_uppercase();
            let ignore_variable = format!("IGNORE_MODELS_{upper}");
            let read = |name: &str| -> Vec<Glob> {
                env.get(name).map(parse_list).unwrap_or_default().iter().map(|p| Glob::compile(p)).collect()
            };
            let ignore = read(&ignore_variable);
            let whitelist = read(&format!("WHITELIST_MODELS_{upper}"));
            if ignore.is_empty() && whitelist.is_empty() {
                continue;
            }
            filter.providers.insert(provider.to_string(), ProviderLists { ignore_variable, ignore, whitelist });
        }
        filter
    }

    /// `model` is the bare name; patterns are also tried against `provider/model`.
    pub fn decide(&self, provider: &str, model: &str) -> FilterDecision {
        let Some(lists) = self.providers.get(provider) else { return FilterDecision::Allowed };
        let qualified = format!("{provider}/{model}");
        if ProviderLists::any_matches(&lists.whitelist, model, &qualified) {
            return FilterDecision::Allowed;
        }
        // The spec's "ignore list equal to `*`" rule; a lone `*` glob would match anyway, this just skips it.
        let block_all = lists.ignore.len() == 1 && lists.ignore[0].source == "*";
        if block_all || ProviderLists::any_matches(&lists.ignore, model, &qualified) {
            return FilterDecision::Blocked { variable: lists.ignore_variable.clone() };
        }
        FilterDecision::Allowed
    }

    pub fn allows(&self, provider: &str, model: &str) -> bool {
        self.decide(provider, model) == FilterDecision::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, &str)], providers: &[&str]) -> ModelFilter {
        ModelFilter::from_env(&Env::from_pairs(pairs.iter().copied()), providers)
    }

    #[test]
    fn star_matches_any_run_including_an_empty_one() {
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("gpt-*", "gpt-"));
        assert!(glob_match("*mini*", "gpt-4o-mini-2024"));
        assert!(glob_match("a**b", "ab"));
        assert!(!glob_match("gpt-*", "o1-gpt-4"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(glob_match("gpt-?o", "gpt-4o"));
        assert!(!glob_match("gpt-?o", "gpt-o"));
        assert!(!glob_match("gpt-?o", "gpt-45o"));
        assert!(glob_match("m?del", "mödel"), "one character, not one byte");
    }

    #[test]
    fn bracket_sets_negations_and_ranges_match_one_character() {
        assert!(glob_match("gpt-[34]o", "gpt-4o"));
        assert!(!glob_match("gpt-[34]o", "gpt-5o"));
        assert!(glob_match("gpt-[!34]o", "gpt-5o"));
        assert!(!glob_match("gpt-[!34]o", "gpt-4o"));
        assert!(glob_match("v[0-9][a-c]", "v7b"));
        assert!(!glob_match("v[0-9][a-c]", "v7d"));
        assert!(glob_match("x[]]", "x]"));
        assert!(glob_match("x[a-]", "x-"));
    }

    #[test]
    fn unclosed_bracket_is_a_literal() {
        assert!(glob_match("odd[name", "odd[name"));
        assert!(!glob_match("odd[name", "oddn"));
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!glob_match("GPT-*", "gpt-4o"));
        assert!(!glob_match("[A-Z]pt", "gpt"));
    }

    #[test]
    fn pathological_pattern_finishes_quickly() {
        let pattern = "*a".repeat(60) + "*b";
        let text = "a".repeat(5_000);
        let started = std::time::Instant::now();
        assert!(!glob_match(&pattern, &text));
        assert!(glob_match(&pattern, &(text + "b")));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn star_ignore_blocks_everything_except_whitelisted_models() {
        let f = filter(&[("IGNORE_MODELS_OPENAI", "*"), ("WHITELIST_MODELS_OPENAI", "gpt-4o, o[13]-*")], &["openai"]);
        assert!(f.allows("openai", "gpt-4o"));
        assert!(f.allows("openai", "o3-mini"));
        assert_eq!(
            f.decide("openai", "gpt-3.5-turbo"),
            FilterDecision::Blocked { variable: "IGNORE_MODELS_OPENAI".to_string() }
        );
    }

    #[test]
    fn patterns_also_match_the_provider_qualified_name() {
        let f =
            filter(&[("IGNORE_MODELS_GROQ", "groq/llama-*"), ("WHITELIST_MODELS_GROQ", "groq/llama-3.3-*")], &["groq"]);
        assert!(!f.allows("groq", "llama-3.1-8b"));
        assert!(f.allows("groq", "llama-3.3-70b"));
        assert!(f.allows("groq", "mixtral-8x7b"));
    }

    #[test]
    fn ignore_list_blocks_only_matching_models() {
        let f = filter(&[("IGNORE_MODELS_NVIDIA_NIM", " *embed*, ,rerank-?")], &["nvidia_nim"]);
        assert_eq!(
            f.decide("nvidia_nim", "nv-embed-v1"),
            FilterDecision::Blocked { variable: "IGNORE_MODELS_NVIDIA_NIM".to_string() }
        );
        assert!(!f.allows("nvidia_nim", "rerank-2"));
        assert!(f.allows("nvidia_nim", "llama-3.1-70b"));
    }

    #[test]
    fn whitelist_without_ignore_list_blocks_nothing() {
        let f = filter(&[("WHITELIST_MODELS_OPENAI", "gpt-4o")], &["openai"]);
        assert!(f.allows("openai", "gpt-3.5-turbo"));
    }

    #[test]
    fn provider_without_lists_allows_everything() {
        let f = filter(&[("IGNORE_MODELS_OPENAI", "*"), ("IGNORE_MODELS_GEMINI", "")], &["openai", "gemini", "groq"]);
        assert!(f.allows("gemini", "gemini-2.5-pro"));
        assert!(f.allows("groq", "anything"));
        assert!(f.allows("unlisted", "anything"));
        assert!(!f.allows("openai", "gpt-4o"));
    }
}
