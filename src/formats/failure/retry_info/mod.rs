//! How long an upstream asked us to wait (resilience spec §10.1), from its error body and
//! headers. Sources are tried in order and the first one that yields a wait wins:
//!
//! 1. Google error `details`: `RetryInfo.retryDelay`, then `ErrorInfo.metadata.quotaResetDelay`,
//!    then `ErrorInfo.metadata.quotaResetTimeStamp`.
//! 2. Headers: `retry-after-ms`; `retry-after` (seconds or HTTP-date); the latest exhausted
//!    `anthropic-ratelimit-*-reset`; the longer of `x-ratelimit-reset-{requests,tokens}`;
//!    `x-ratelimit-reset` (unix seconds, unix milliseconds or relative seconds).
//! 3. Body: JSON `resets_at` / `resets_in_seconds`, then phrases such as "try again in 7s".
//!
//! Every wait is rounded up to whole seconds (at least one) and clamped to [`MAX_RETRY_WAIT`].
//! Absolute times are measured against a `now_unix_ms` the caller passes in, and times in the
//! past carry no information. Nothing here panics, whatever the input: numbers saturate and
//! garbage is simply no information.

mod dates;

pub use dates::{parse_http_date, parse_rfc3339};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use serde_json::Value;

/// The longest wait an upstream can impose (`MAX_COOLDOWN_SECONDS`' default: one week).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(604_800);

/// A wait in nanoseconds before rounding and clamping; arithmetic on it saturates.
type Nanos = u128;

const NS_PER_SEC: Nanos = 1_000_000_000;
const NS_PER_MS: Nanos = 1_000_000;
const NS_PER_MINUTE: Nanos = 60 * NS_PER_SEC;
const NS_PER_HOUR: Nanos = 3600 * NS_PER_SEC;

/// The system clock as unix milliseconds (0 if it is set before 1970).
pub fn now_unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// The whole §10.1 order: Google details in `json`, then `headers`, then the body (`json`'s
/// fields, then phrases in `text`, the raw body).
pub fn retry_after(headers: &HeaderMap, json: Option<&Value>, text: &str, now_unix_ms: i64) -> Option<Duration> {
    json.and_then(|json| google_details(json, now_unix_ms))
        .or_else(|| headers_wait(headers, now_unix_ms))
        .or_else(|| body_wait(json, text, now_unix_ms))
        .map(finish)
}

/// Step 1: `error.details[]` of a Google error body.
pub fn from_google_details(json: &Value, now_unix_ms: i64) -> Option<Duration> {
    google_details(json, now_unix_ms).map(finish)
}

/// Step 2: the rate-limit headers.
pub fn from_headers(headers: &HeaderMap, now_unix_ms: i64) -> Option<Duration> {
    headers_wait(headers, now_unix_ms).map(finish)
}

/// Step 3: the body's `resets_at` / `resets_in_seconds` fields, then its phrases.
pub fn from_body(json: Option<&Value>, text: &str, now_unix_ms: i64) -> Option<Duration> {
    body_wait(json, text, now_unix_ms).map(finish)
}

/// Step 3's phrases alone: "retry after 7s", "try again in 1.5 seconds", "reset after 2m30s",
/// "quota will reset after 20ms" (any case). Also read, after those: "retry in <d>" and the JSON
/// text of Google's `retryDelay` / `quotaResetDelay`, for bodies too broken to parse.
pub fn from_text(text: &str) -> Option<Duration> {
    text_wait(text).map(finish)
}

/// A compact duration (`250ms`, `7s`, `1.5s`, `6m0s`, `1h2m3.5s`; also `us`, `µs`, `ns`) or a bare
/// number of seconds (`12`, `0.5`, `1e3`), rounded up to whole seconds, at least one.
pub fn parse_duration(text: &str) -> Option<Duration> {
    duration_nanos(text).map(finish)
}

// ---------------------------------------------------------------------------------------------
// Sources

fn google_details(json: &Value, now_ms: i64) -> Option<Nanos> {
    let details: Vec<&Value> = error_objects(json)
        .filter_map(|error| error.get("details").and_then(Value::as_array))
        .flatten()
        .filter(|detail| detail.is_object())
        .collect();
    let of_type = |suffix: &'static str| {
        details
            .iter()
            .copied()
            .filter(move |d| d.get("@type").and_then(Value::as_str).is_some_and(|t| t.ends_with(suffix)))
    };
    let metadata = |detail: &Value, key: &str| detail.get("metadata")?.get(key)?.as_str().map(str::to_owned);
    of_type("google.rpc.RetryInfo")
        .find_map(|d| proto_duration(d.get("retryDelay")?))
        .or_else(|| of_type("google.rpc.ErrorInfo").find_map(|d| duration_nanos(&metadata(d, "quotaResetDelay")?)))
        .or_else(|| {
            of_type("google.rpc.ErrorInfo")
                .find_map(|d| until(parse_rfc3339(&metadata(d, "quotaResetTimeStamp")?)?, now_ms))
        })
}

/// A protobuf `Duration` in JSON: `"12s"` (canonical) or `{"seconds": 12, "nanos": 5e8}`.
fn proto_duration(value: &Value) -> Option<Nanos> {
    match value {
        Value::String(text) => duration_nanos(text),
        Value::Object(fields) => {
            let seconds = fields.get("seconds").map_or(Some(0), |v| json_number_nanos(v, NS_PER_SEC))?;
            let nanos = fields.get("nanos").map_or(Some(0), |v| json_number_nanos(v, 1))?;
            Some(seconds.saturating_add(nanos))
        }
        _ => None,
    }
}

const ANTHROPIC_LIMITS: [&str; 4] = ["requests", "tokens", "input-tokens", "output-tokens"];

fn headers_wait(headers: &HeaderMap, now_ms: i64) -> Option<Nanos> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(wait) = header("retry-after-ms").and_then(|v| number_nanos(v, NS_PER_MS)) {
        return Some(wait);
    }
    if let Some(wait) =
        header("retry-after").and_then(|v| number_nanos(v, NS_PER_SEC).or_else(|| until(parse_http_date(v)?, now_ms)))
    {
        return Some(wait);
    }
    // Anthropic sends a reset time for every limit; only the exhausted ones say when we may retry.
    let anthropic = ANTHROPIC_LIMITS
        .iter()
        .filter(|limit| header(&format!("anthropic-ratelimit-{limit}-remaining")).and_then(plain_number) == Some(0.0))
        .filter_map(|limit| until(parse_rfc3339(header(&format!("anthropic-ratelimit-{limit}-reset"))?)?, now_ms))
        .max();
    if anthropic.is_some() {
        return anthropic;
    }
    let openai = ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|name| header(name).and_then(duration_nanos))
        .max();
    if openai.is_some() {
        return openai;
    }
    header("x-ratelimit-reset").and_then(|v| ratelimit_reset(v, now_ms))
}

/// `x-ratelimit-reset`: unix milliseconds (≥ 10¹²), unix seconds (≥ 10⁹) or relative seconds;
/// failing those, a compact duration or an RFC 3339 time.
fn ratelimit_reset(value: &str, now_ms: i64) -> Option<Nanos> {
    match plain_number(value) {
        Some(n) if n >= 1e12 => until(f64_to_i64(n), now_ms),
        Some(n) if n >= 1e9 => until(f64_to_i64(n * 1000.0), now_ms),
        Some(_) => number_nanos(value, NS_PER_SEC),
        None => duration_nanos(value).or_else(|| until(parse_rfc3339(value)?, now_ms)),
    }
}

fn body_wait(json: Option<&Value>, text: &str, now_ms: i64) -> Option<Nanos> {
    json.and_then(|json| json_fields(json, now_ms)).or_else(|| text_wait(text))
}

/// `resets_at` (unix seconds; milliseconds if ≥ 10¹²; or RFC 3339), then `resets_in_seconds`,
/// each at the top level or inside `error`.
fn json_fields(json: &Value, now_ms: i64) -> Option<Nanos> {
    let objects: Vec<&Value> =
        roots(json).flat_map(|root| [Some(root), root.get("error")]).flatten().filter(|v| v.is_object()).collect();
    objects
        .iter()
        .find_map(|o| resets_at(o.get("resets_at")?, now_ms))
        .or_else(|| objects.iter().find_map(|o| json_number_nanos(o.get("resets_in_seconds")?, NS_PER_SEC)))
}

fn resets_at(value: &Value, now_ms: i64) -> Option<Nanos> {
    let unix = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(text) => match plain_number(text.trim()) {
            Some(n) => n,
            None => return until(parse_rfc3339(text)?, now_ms),
        },
        _ => return None,
    };
    if unix.is_nan() || unix < 0.0 {
        return None;
    }
    until(if unix >= 1e12 { f64_to_i64(unix) } else { f64_to_i64(unix * 1000.0) }, now_ms)
}

/// Phrases of step 3 (earliest in the text first), then the looser fallbacks.
const PHRASES: [&str; 4] = ["retry after", "try again in", "reset after", "quota will reset after"];
const LOOSE_PHRASES: [&str; 1] = ["retry in"];
const GOOGLE_KEYS: [&str; 2] = ["\"retrydelay\"", "\"quotaresetdelay\""];
/// Occurrences of one phrase examined at most (a body is not a place to loop forever).
const MAX_HITS: usize = 32;

fn text_wait(text: &str) -> Option<Nanos> {
    let lower = text.to_ascii_lowercase();
    let phrase_wait = |phrases: &[&str]| {
        let mut hits: Vec<usize> = phrases
            .iter()
            .flat_map(|phrase| lower.match_indices(phrase).take(MAX_HITS).map(|(at, p)| at + p.len()))
            .collect();
        hits.sort_unstable();
        hits.into_iter().find_map(|end| scan_duration(&lower[end..]))
    };
    phrase_wait(&PHRASES).or_else(|| phrase_wait(&LOOSE_PHRASES)).or_else(|| {
        GOOGLE_KEYS.iter().find_map(|key| {
            lower.match_indices(key).take(MAX_HITS).find_map(|(at, _)| {
                let rest = lower[at + key.len()..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
                duration_nanos(&rest[..rest.find('"')?])
            })
        })
    })
}

/// A duration at the start of free text: `7s`, `1.5 seconds`, `2m30s`, `1 minute 30 seconds`,
/// `20ms`, or a bare number (seconds). A number that continues as a date or a clock time is not.
fn scan_duration(text: &str) -> Option<Nanos> {
    let bytes = text.as_bytes();
    let skip = |mut i: usize, what: &dyn Fn(u8) -> bool| {
        while bytes.get(i).is_some_and(|&c| what(c)) {
            i += 1;
        }
        i
    };
    let mut i = skip(0, &|c| matches!(c, b' ' | b'\t' | b':' | b'='));
    let mut total: Option<Nanos> = None;
    loop {
        let start = i;
        i = skip(i, &|c| c.is_ascii_digit());
        if i == start {
            break;
        }
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i = skip(i + 1, &|c| c.is_ascii_digit());
        }
        let number = &text[start..i];
        // "2026-11-27…", "08:49", "1.2.3", "1,000": a date, a clock time or a version, not a wait.
        let digit_follows = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        match bytes.get(i) {
            Some(b'-' | b':' | b'/') => return None,
            Some(b'.' | b',') if digit_follows => return None,
            _ => {}
        }
        let word_start = skip(i, &|c| c == b' ');
        let word_end = skip(word_start, &|c| c.is_ascii_alphabetic());
        match text_unit(&text[word_start..word_end]) {
            Some(unit) => {
                total = Some(total.unwrap_or(0).saturating_add(decimal_nanos(number, unit)?));
                i = skip(word_end, &|c| c == b' ');
            }
            None => {
                if total.is_none() {
                    total = decimal_nanos(number, NS_PER_SEC);
                }
                break;
            }
        }
    }
    total
}

fn text_unit(word: &str) -> Option<Nanos> {
    Some(match word {
        "h" | "hr" | "hrs" | "hour" | "hours" => NS_PER_HOUR,
        "m" | "min" | "mins" | "minute" | "minutes" => NS_PER_MINUTE,
        "s" | "sec" | "secs" | "second" | "seconds" => NS_PER_SEC,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => NS_PER_MS,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Numbers and durations

/// Rounds up to whole seconds (at least one) and clamps to [`MAX_RETRY_WAIT`], with a warning.
fn finish(wait: Nanos) -> Duration {
    let secs = wait.div_ceil(NS_PER_SEC).max(1);
    match u64::try_from(secs) {
        Ok(secs) if secs <= MAX_RETRY_WAIT.as_secs() => Duration::from_secs(secs),
        _ => {
            tracing::warn!(
                requested_seconds = %secs,
                max_seconds = MAX_RETRY_WAIT.as_secs(),
                "upstream asked for a longer wait than the maximum; clamped"
            );
            MAX_RETRY_WAIT
        }
    }
}

/// Time from `now_ms` until `target_ms`; `None` when the target is in the past.
fn until(target_ms: i64, now_ms: i64) -> Option<Nanos> {
    let ahead = u128::try_from(i128::from(target_ms) - i128::from(now_ms)).ok()?;
    Some(ahead.saturating_mul(NS_PER_MS))
}

/// Float to integer, saturating (NaN is 0): only ever called on validated, non-negative numbers.
fn f64_to_i64(value: f64) -> i64 {
    value as i64
}

/// `<number><unit>…` with units `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`, or a bare number of seconds.
fn duration_nanos(text: &str) -> Option<Nanos> {
    let text = text.trim().trim_end_matches('.');
    if let Some(wait) = number_nanos(text, NS_PER_SEC) {
        return Some(wait);
    }
    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    if rest.is_empty() {
        return None;
    }
    let mut total: Nanos = 0;
    while !rest.is_empty() {
        let number_len = rest.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
        let unit_len: usize = rest[number_len..].chars().take_while(|c| c.is_alphabetic()).map(char::len_utf8).sum();
        if number_len == 0 || unit_len == 0 {
            return None;
        }
        let unit = match &rest[number_len..number_len + unit_len] {
            "h" => NS_PER_HOUR,
            "m" => NS_PER_MINUTE,
            "s" => NS_PER_SEC,
            "ms" => NS_PER_MS,
            "us" | "µs" | "μs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        total = total.saturating_add(decimal_nanos(&rest[..number_len], unit)?);
        rest = &rest[number_len + unit_len..];
    }
    Some(total)
}

/// A non-negative number (`250`, `1.5`, `.5`, `1e20`) times `unit`; no signs, no `inf`/`NaN`.
fn number_nanos(text: &str, unit: Nanos) -> Option<Nanos> {
    decimal_nanos(text, unit).or_else(|| f64_nanos(plain_number(text)?, unit))
}

fn json_number_nanos(value: &Value, unit: Nanos) -> Option<Nanos> {
    match value {
        Value::Number(n) => f64_nanos(n.as_f64()?, unit),
        Value::String(text) => number_nanos(text.trim(), unit),
        _ => None,
    }
}

fn f64_nanos(value: f64, unit: Nanos) -> Option<Nanos> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    // Float-to-integer casts saturate: infinity becomes u128::MAX and is clamped later.
    Some((value * unit as f64).ceil() as Nanos)
}

/// Digits of a fraction kept exactly; a non-zero digit beyond them rounds up by a nanosecond.
const FRACTION_DIGITS: usize = 15;

/// `digits[.digits]` times `unit`, exactly (no float rounding can turn `3000ms` into 4 s).
fn decimal_nanos(text: &str, unit: Nanos) -> Option<Nanos> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let fold = |s: &str| s.bytes().fold(0_u128, |acc, c| acc.saturating_mul(10).saturating_add(Nanos::from(c - b'0')));
    let kept = &fraction[..fraction.len().min(FRACTION_DIGITS)];
    let scale = (0..FRACTION_DIGITS).fold(1_u128, |acc, _| acc * 10);
    let padded = (kept.len()..FRACTION_DIGITS).fold(fold(kept), |acc, _| acc * 10);
    let beyond = fraction.bytes().skip(FRACTION_DIGITS).any(|c| c != b'0');
    let fraction_ns = (padded * unit).div_ceil(scale) + Nanos::from(beyond);
    Some(fold(whole).saturating_mul(unit).saturating_add(fraction_ns))
}

/// A plain non-negative number, possibly with an exponent (`1e20`, `1e400` = infinity); signs,
/// `inf` and `NaN` spelled out, and anything else are not numbers here.
fn plain_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let first_ok = bytes.first().is_some_and(|c| c.is_ascii_digit() || *c == b'.');
    let rest_ok = bytes.iter().enumerate().all(|(i, c)| match c {
        b'0'..=b'9' | b'.' | b'e' | b'E' => true,
        b'+' | b'-' => i > 0 && matches!(bytes[i - 1], b'e' | b'E'),
        _ => false,
    });
    if !first_ok || !rest_ok {
        return None;
    }
    text.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// JSON shapes

/// The body itself, or each element of a top-level array (some Google endpoints wrap errors).
fn roots(json: &Value) -> impl Iterator<Item = &Value> {
    let items = match json {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    items.iter().take(8)
}

/// `error` objects of the body, then the roots themselves (an unwrapped error).
fn error_objects(json: &Value) -> impl Iterator<Item = &Value> {
    roots(json).flat_map(|root| [root.get("error"), Some(root)]).flatten().filter(|v| v.is_object())
}

#[cfg(test)]
mod tests;
