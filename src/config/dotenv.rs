//! Parser for `.env` files (python-dotenv syntax), without touching the process environment.

use std::collections::HashMap;

/// A line that could not be parsed. The reason is a fixed message: `.env` files hold
/// secrets, so nothing from the file's text (not even a would-be key) is ever echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvWarning {
    /// 1-based line on which the offending entry starts.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedDotenv {
    /// In order of first appearance; a repeated key keeps its first slot but its last value.
    pub entries: Vec<(String, String)>,
    pub warnings: Vec<DotenvWarning>,
}

/// A value as written, before `${VAR}` expansion (single-quoted values are never expanded).
enum Value {
    Literal(String),
    Expandable(String),
}

/// The outcome of one entry: `Ok(None)` for blank, comment and key-only lines.
type EntryResult = Result<Option<(String, Value)>, &'static str>;

/// A value written so that [`parse_dotenv`] reads it back unchanged: bare when it is plain;
/// single-quoted (literal) when it holds `${`; otherwise double-quoted with `\\`, `\"` and
/// `\n` escaped.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value.chars().any(|c| c.is_whitespace() || matches!(c, '#' | '"' | '\'' | '$' | '\\' | '`'));
    if plain {
        return value.to_string();
    }
    if value.contains("${") && !value.contains('\'') {
        return format!("'{value}'");
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\t', "\\t");
    format!("\"{escaped}\"")
}

/// Parses `.env` text. `lookup` is the higher-precedence environment consulted first when
/// expanding `${VAR}`; keys defined earlier in the file are the fallback.
pub fn parse_dotenv(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> ParsedDotenv {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n");
    let mut out = ParsedDotenv::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rest = text.as_str();
    let mut line = 1;
    while !rest.is_empty() {
        let (result, consumed) = parse_entry(rest);
        match result {
            Ok(None) => {}
            Ok(Some((key, value))) => {
                let value = match value {
                    Value::Literal(v) => v,
                    Value::Expandable(v) => {
                        expand(&v, &|name| lookup(name).or_else(|| index.get(name).map(|&i| out.entries[i].1.clone())))
                    }
                };
                if let Some(&i) = index.get(&key) {
                    out.entries[i].1 = value;
                } else {
                    index.insert(key.clone(), out.entries.len());
                    out.entries.push((key, value));
                }
            }
            Err(reason) => out.warnings.push(DotenvWarning { line, reason: reason.to_owned() }),
        }
        line += rest[..consumed].matches('\n').count();
        rest = &rest[consumed..];
    }
    out
}

/// Parses the entry at the start of `input`, returning it with the number of bytes it
/// occupies (always at least one line, newline included, so the caller makes progress).
fn parse_entry(input: &str) -> (EntryResult, usize) {
    let line_end = input.find('\n').unwrap_or(input.len());
    let next_line = (line_end + 1).min(input.len());
    let line = &input[..line_end];

    let body = line.trim_start();
    if body.is_empty() || body.starts_with('#') {
        return (Ok(None), next_line);
    }
    let body = body.strip_prefix("export").filter(|r| r.starts_with([' ', '\t'])).map_or(body, str::trim_start);
    let key_len = key_len(body);
    if key_len == 0 {
        return (Err("invalid or missing key"), next_line);
    }
    let (key, after_key) = body.split_at(key_len);
    let after_key = after_key.trim_start();
    let Some(after_eq) = after_key.strip_prefix('=') else {
        // python-dotenv reads a bare `KEY` as "no value", which it never exports.
        let result = if after_key.is_empty() || after_key.starts_with('#') {
            Ok(None)
        } else {
            Err("expected '=' after the key")
        };
        return (result, next_line);
    };

    let value_start = after_eq.trim_start();
    let quote = ['\'', '"'].into_iter().find(|&q| value_start.starts_with(q));
    let Some(quote) = quote else {
        let value = Value::Expandable(strip_inline_comment(after_eq).trim().to_owned());
        return (Ok(Some((key.to_owned(), value))), next_line);
    };

    // A quoted value may run past this line, so scan the whole remaining input.
    let open = line_end - value_start.len() + 1;
    let Some(len) = closing_quote(&input[open..], quote) else {
        return (Err("unterminated quoted value"), next_line);
    };
    let raw = &input[open..open + len];
    let after = &input[open + len + 1..];
    let tail_end = after.find('\n').unwrap_or(after.len());
    let tail = after[..tail_end].trim();
    // Skip through the closing line even on error: resuming inside a multi-line value
    // would misread (secret) value text as entries.
    let consumed = (open + len + 1 + tail_end + 1).min(input.len());
    if !tail.is_empty() && !tail.starts_with('#') {
        return (Err("unexpected text after the closing quote"), consumed);
    }
    let value = if quote == '"' { Value::Expandable(unescape(raw)) } else { Value::Literal(raw.to_owned()) };
    (Ok(Some((key.to_owned(), value))), consumed)
}

/// Length in bytes of the `[A-Za-z_][A-Za-z0-9_.-]*` key at the start of `s`, 0 if none.
fn key_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !matches!(bytes.first(), Some(b) if b.is_ascii_alphabetic() || *b == b'_') {
        return 0;
    }
    bytes.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))).unwrap_or(bytes.len())
}

/// Byte offset of the quote closing a value whose opening quote was just consumed.
fn closing_quote(s: &str, quote: char) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some(i);
        }
        if c == '\\' && quote == '"' {
            chars.next();
        }
    }
    None
}

/// Cuts an unquoted value at a `#` preceded by a space or tab; `a#b` keeps its `#`.
fn strip_inline_comment(raw: &str) -> &str {
    let cut = raw
        .match_indices('#')
        .find(|&(i, _)| i > 0 && matches!(raw.as_bytes()[i - 1], b' ' | b'\t'))
        .map_or(raw.len(), |(i, _)| i);
    &raw[..cut]
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(c @ ('"' | '\\' | '\'')) => out.push(c),
            other => {
                out.push('\\');
                out.extend(other);
            }
        }
    }
    out
}

/// Expands `${VAR}` and `${VAR:-default}`. As in python-dotenv, the default applies only
/// when VAR is undefined (not when it is empty), and substituted text is not rescanned.
fn expand(raw: &str, resolve: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = inner.split_once(":-").map_or((inner, None), |(n, d)| (n, Some(d)));
        if name.contains(':') {
            // `${A:x}` is not a reference: keep the `${` literally and rescan after it.
            out.push_str("${");
            rest = after;
            continue;
        }
        let value = resolve(name);
        out.push_str(value.as_deref().or(default).unwrap_or_default());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_read_back_unchanged() {
        for value in [
            "plain-value",
            "with space",
            "a#b",
            "say \"hi\"",
            "it's",
            "${HOME}",
            "$5 and ${X} it's",
            "x\\y",
            "two\nlines",
            "",
        ] {
            let text = format!("K={}\n", quote(value));
            let parsed = parse_dotenv(&text, &|_| None);
            let expected = if value == "$5 and ${X} it's" { "$5 and  it's" } else { value };
            assert_eq!(parsed.entries, [("K".to_string(), expected.to_string())], "{text}");
        }
    }

    fn parse(text: &str) -> ParsedDotenv {
        parse_dotenv(text, &|_| None)
    }

    fn entries(parsed: &ParsedDotenv) -> Vec<(&str, &str)> {
        parsed.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn leaks(parsed: &ParsedDotenv, secret: &str) -> bool {
        parsed.warnings.iter().any(|w| w.reason.contains(secret))
    }

    fn warning_lines(parsed: &ParsedDotenv) -> Vec<usize> {
        parsed.warnings.iter().map(|w| w.line).collect()
    }

    #[test]
    fn basic_pairs_with_export_comments_and_blank_lines() {
        let parsed = parse("# header\n\nA=1\nexport B=2\n  # indented comment\n\t\nexport=3\n");
        assert_eq!(entries(&parsed), [("A", "1"), ("B", "2"), ("export", "3")]);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn whitespace_around_key_and_equals_is_ignored() {
        let parsed = parse("  A = 1\n\tB\t=\t2  \nexport\tC =3");
        assert_eq!(entries(&parsed), [("A", "1"), ("B", "2"), ("C", "3")]);
    }

    #[test]
    fn keys_allow_dots_and_dashes_after_first_char() {
        let parsed = parse("_a.b-c=1\nX9=2\n9X=3\n.A=4\n");
        assert_eq!(entries(&parsed), [("_a.b-c", "1"), ("X9", "2")]);
        assert_eq!(warning_lines(&parsed), [3, 4]);
    }

    #[test]
    fn unquoted_value_is_trimmed_and_drops_inline_comment() {
        let parsed = parse("A=  x y  # note\nB=a#b\nC=v\t# tab\nD=#e\nE= # comment only\nF=\n");
        let expected = [("A", "x y"), ("B", "a#b"), ("C", "v"), ("D", "#e"), ("E", "")];
        assert_eq!(entries(&parsed)[..5], expected);
        assert_eq!(entries(&parsed)[5], ("F", ""));
    }

    #[test]
    fn single_quoted_value_is_literal_spans_lines_and_is_not_expanded() {
        let parsed = parse_dotenv("A='a\\n\"b\n  ${X} $Y # c'\nB=2", &|_| Some("no".into()));
        assert_eq!(entries(&parsed), [("A", "a\\n\"b\n  ${X} $Y # c"), ("B", "2")]);
    }

    #[test]
    fn double_quoted_value_spans_lines_and_unescapes() {
        let parsed = parse("A=\"line1\nline2\\n\\t\\r\\\"\\\\\\' # kept\"\nB=2");
        assert_eq!(entries(&parsed), [("A", "line1\nline2\n\t\r\"\\' # kept"), ("B", "2")]);
    }

    #[test]
    fn double_quoted_unknown_escapes_keep_their_backslash() {
        let parsed = parse(r#"A="C:\dir\$x\u""#);
        assert_eq!(entries(&parsed), [("A", r"C:\dir\$x\u")]);
    }

    #[test]
    fn escaped_backslash_before_quote_closes_the_value() {
        let parsed = parse("A=\"x\\\\\"\nB=\"say \\\"hi\\\"\"");
        assert_eq!(entries(&parsed), [("A", "x\\"), ("B", "say \"hi\"")]);
    }

    #[test]
    fn comment_after_closing_quote_is_allowed() {
        let parsed = parse("A=\"x\" # note\nB='y'# note\nC = \"z\"   \n");
        assert_eq!(entries(&parsed), [("A", "x"), ("B", "y"), ("C", "z")]);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn garbage_after_closing_quote_skips_the_entry_through_its_last_line() {
        let parsed = parse("A=\"secret\nvalue\" trailing\nB=2\nC='x'y\n");
        assert_eq!(entries(&parsed), [("B", "2")]);
        assert_eq!(warning_lines(&parsed), [1, 4]);
    }

    #[test]
    fn malformed_line_warns_with_line_number_not_value() {
        let parsed = parse("A=1\n=hunter2\nsk-hunter2 hunter2\nB=\"hunter2\" hunter2\nC=3\n");
        assert_eq!(entries(&parsed), [("A", "1"), ("C", "3")]);
        assert_eq!(warning_lines(&parsed), [2, 3, 4]);
        assert!(!leaks(&parsed, "hunter2"));
    }

    #[test]
    fn unterminated_quote_warns_and_resumes_on_the_next_line() {
        let parsed = parse("A=1\nB=\"hunter2\nC=3\nD='x\n");
        assert_eq!(entries(&parsed), [("A", "1"), ("C", "3")]);
        assert_eq!(warning_lines(&parsed), [2, 4]);
        assert!(!leaks(&parsed, "hunter2"));
    }

    #[test]
    fn key_without_equals_is_skipped_silently() {
        let parsed = parse("A\nB # comment\nexport C\nD=4");
        assert_eq!(entries(&parsed), [("D", "4")]);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn line_numbers_count_lines_inside_multiline_values() {
        let parsed = parse("A='1\n2\n3'\nB=\"4\n5\"\n\n!bad\n");
        assert_eq!(warning_lines(&parsed), [7]);
    }

    #[test]
    fn expansion_prefers_outer_environment_then_earlier_keys() {
        let outer = |name: &str| (name == "HOST").then(|| "outer".to_owned());
        let text = "HOST=file\nPORT=80\nURL=${HOST}:${PORT}/${LATER}\nQ=\"${PORT}!\"\nLATER=x";
        let parsed = parse_dotenv(text, &outer);
        assert_eq!(entries(&parsed)[2..4], [("URL", "outer:80/"), ("Q", "80!")]);
    }

    #[test]
    fn expansion_default_applies_only_when_undefined() {
        let outer = |name: &str| (name == "EMPTY").then(String::new);
        let text = "A=${MISSING:-fall back:1}\nB=${EMPTY:-unused}\nC=${MISSING}|";
        let parsed = parse_dotenv(text, &outer);
        assert_eq!(entries(&parsed), [("A", "fall back:1"), ("B", ""), ("C", "|")]);
    }

    #[test]
    fn bare_dollar_and_malformed_references_stay_literal() {
        let parsed = parse_dotenv("A=$X ${X\nB=${X:y} ${X}", &|_| Some("v".into()));
        assert_eq!(entries(&parsed), [("A", "$X ${X"), ("B", "${X:y} v")]);
    }

    #[test]
    fn substituted_text_is_neither_unescaped_nor_reexpanded() {
        let parsed = parse_dotenv("A=\"${X}\"", &|n| (n == "X").then(|| r"\n${X}".to_owned()));
        assert_eq!(entries(&parsed), [("A", r"\n${X}")]);
    }

    #[test]
    fn expansion_sees_latest_value_of_a_redefined_key() {
        let parsed = parse("A=1\nA=${A}2\nB=${A}");
        assert_eq!(entries(&parsed), [("A", "12"), ("B", "12")]);
    }

    #[test]
    fn duplicate_key_last_wins_but_keeps_first_position() {
        let parsed = parse("A=1\nB=2\nA=3\n");
        assert_eq!(entries(&parsed), [("A", "3"), ("B", "2")]);
    }

    #[test]
    fn crlf_and_bom_are_handled() {
        let parsed = parse("\u{feff}A=1\r\nB=\"x\r\ny\"\r\nC='z' # c\r\n\r\n!\r\n");
        assert_eq!(entries(&parsed), [("A", "1"), ("B", "x\ny"), ("C", "z")]);
        assert_eq!(warning_lines(&parsed), [6]);
    }

    #[test]
    fn empty_and_comment_only_input_yield_nothing() {
        assert_eq!(parse(""), ParsedDotenv::default());
        assert_eq!(parse("\n# c\n   \n"), ParsedDotenv::default());
    }
}
