//! Tests of the retry-information parsers, one per rule of §10.1 plus hostile input.
use super::*;
use serde_json::json;

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;

fn secs(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    map
}

fn google(details: Value) -> Value {
    json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": details}})
}

#[test]
fn google_retry_info_delay_is_read() {
    let body = google(json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]));
    assert_eq!(from_google_details(&body, NOW), secs(12));
    let body = google(json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s"}]));
    assert_eq!(from_google_details(&body, NOW), secs(1));
    let body = google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": {"seconds": "3", "nanos": 1}}]));
    assert_eq!(from_google_details(&body, NOW), secs(4));
    // Arrays of errors (streamGenerateContent) are read too.
    let body = json!([google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": "7s"}]))]);
    assert_eq!(from_google_details(&body, NOW), secs(7));
}

#[test]
fn google_error_info_quota_reset_delay_and_timestamp() {
    let info = |metadata: Value| {
        google(
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED", "metadata": metadata}]),
        )
    };
    assert_eq!(from_google_details(&info(json!({"quotaResetDelay": "1h2m3.5s"})), NOW), secs(3724));
    assert_eq!(from_google_details(&info(json!({"quotaResetDelay": "290ms"})), NOW), secs(1));
    let stamp = json!({"quotaResetTimeStamp": "2026-01-01T06:30:00Z"});
    assert_eq!(from_google_details(&info(stamp), NOW), secs(6 * 3600 + 1800));
    let stamp = json!({"quotaResetTimeStamp": "2026-01-01T02:00:10.250+02:00"});
    assert_eq!(from_google_details(&info(stamp), NOW), secs(11));
    // The delay wins over the time stamp, RetryInfo over both, wherever they sit in the list.
    let body = google(json!([
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": {"quotaResetTimeStamp": "2026-01-02T00:00:00Z", "quotaResetDelay": "90s"}},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
    ]));
    assert_eq!(from_google_details(&body, NOW), secs(30));
    let body = google(
        json!([{"@type": "google.rpc.ErrorInfo", "metadata": {"quotaResetTimeStamp": "2026-01-02T00:00:00Z", "quotaResetDelay": "90s"}}]),
    );
    assert_eq!(from_google_details(&body, NOW), secs(90));
    // Other detail types and untyped details carry nothing.
    let body = google(json!([{"@type": "google.rpc.Help", "retryDelay": "5s"}, {"retryDelay": "5s"}]));
    assert_eq!(from_google_details(&body, NOW), None);
}

#[test]
fn google_retry_info_wins_over_headers() {
    let body = google(json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]));
    let h = headers(&[("retry-after", "30"), ("retry-after-ms", "40000")]);
    assert_eq!(retry_after(&h, Some(&body), &body.to_string(), NOW), secs(12));
    // Without usable details the headers decide.
    let body = google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": "soon"}]));
    assert_eq!(retry_after(&h, Some(&body), "", NOW), secs(40));
}

#[test]
fn retry_after_ms_wins_over_retry_after() {
    assert_eq!(from_headers(&headers(&[("retry-after-ms", "2500"), ("retry-after", "30")]), NOW), secs(3));
    assert_eq!(from_headers(&headers(&[("retry-after-ms", "250")]), NOW), secs(1));
    assert_eq!(from_headers(&headers(&[("retry-after-ms", "3000")]), NOW), secs(3));
    assert_eq!(from_headers(&headers(&[("retry-after-ms", "soon"), ("retry-after", "30")]), NOW), secs(30));
}

#[test]
fn retry_after_seconds_round_up() {
    assert_eq!(from_headers(&headers(&[("retry-after", "7")]), NOW), secs(7));
    assert_eq!(from_headers(&headers(&[("retry-after", "1.5")]), NOW), secs(2));
    assert_eq!(from_headers(&headers(&[("retry-after", "0")]), NOW), secs(1));
}

#[test]
fn http_date_retry_after_is_relative_to_now() {
    let h = headers(&[("retry-after", "Thu, 01 Jan 2026 00:01:30 GMT")]);
    assert_eq!(from_headers(&h, NOW), secs(90));
    assert_eq!(from_headers(&h, NOW + 60_000), secs(30));
    assert_eq!(from_headers(&h, NOW + 89_500), secs(1));
    // The obsolete forms.
    assert_eq!(from_headers(&headers(&[("retry-after", "Thursday, 01-Jan-26 00:00:05 GMT")]), NOW), secs(5));
    assert_eq!(from_headers(&headers(&[("retry-after", "Thu Jan  1 00:00:05 2026")]), NOW), secs(5));
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777_000));
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
    assert_eq!(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"), None);
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 8:49:37 GMT"), None);
}

#[test]
fn anthropic_reset_uses_the_latest_exhausted_limit() {
    let h = headers(&[
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:20Z"),
        ("anthropic-ratelimit-input-tokens-remaining", "0"),
        ("anthropic-ratelimit-input-tokens-reset", "2026-01-01T00:01:00Z"),
        // Not exhausted: its later reset does not matter.
        ("anthropic-ratelimit-output-tokens-remaining", "1500"),
        ("anthropic-ratelimit-output-tokens-reset", "2026-01-01T01:00:00Z"),
        ("anthropic-ratelimit-tokens-remaining", "0"),
        ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:40Z"),
    ]);
    assert_eq!(from_headers(&h, NOW), secs(60));
}

#[test]
fn anthropic_resets_are_ignored_unless_exhausted() {
    let h = headers(&[
        ("anthropic-ratelimit-requests-remaining", "12"),
        ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:20Z"),
        ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:40Z"),
    ]);
    assert_eq!(from_headers(&h, NOW), None);
    let mut h = h;
    h.insert("x-ratelimit-reset-requests", "6m0s".parse().unwrap());
    assert_eq!(from_headers(&h, NOW), secs(360));
    // retry-after still wins over an exhausted Anthropic limit.
    h.insert("anthropic-ratelimit-tokens-remaining", "0".parse().unwrap());
    assert_eq!(from_headers(&h, NOW), secs(40));
    h.insert("retry-after", "5".parse().unwrap());
    assert_eq!(from_headers(&h, NOW), secs(5));
}

#[test]
fn x_ratelimit_reset_durations_take_the_longest() {
    let h = headers(&[("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")]);
    assert_eq!(from_headers(&h, NOW), secs(360));
    assert_eq!(from_headers(&headers(&[("x-ratelimit-reset-tokens", "20ms")]), NOW), secs(1));
    // They win over the plain x-ratelimit-reset.
    let h = headers(&[("x-ratelimit-reset-requests", "2s"), ("x-ratelimit-reset", "100")]);
    assert_eq!(from_headers(&h, NOW), secs(2));
}

#[test]
fn x_ratelimit_reset_unix_seconds_and_millis() {
    let reset = |value: &str| from_headers(&headers(&[("x-ratelimit-reset", value)]), NOW);
    assert_eq!(reset("1767225645"), secs(45), "unix seconds");
    assert_eq!(reset("1767225645.2"), secs(46), "fractional unix seconds");
    assert_eq!(reset("1767225645000"), secs(45), "unix milliseconds");
    assert_eq!(reset("1767225600001"), secs(1), "unix milliseconds, just ahead");
    assert_eq!(reset("45"), secs(45), "relative seconds");
    assert_eq!(reset("999999999"), Some(MAX_RETRY_WAIT), "below 1e9 is relative (and clamped)");
    assert_eq!(reset("1m30s"), secs(90), "a duration");
}

#[test]
fn past_reset_times_are_ignored() {
    let past_stamp = "2025-12-31T23:59:00Z";
    let body = google(json!([{"@type": "google.rpc.ErrorInfo", "metadata": {"quotaResetTimeStamp": past_stamp}}]));
    assert_eq!(from_google_details(&body, NOW), None);
    let h = headers(&[("retry-after", "Wed, 31 Dec 2025 23:59:00 GMT")]);
    assert_eq!(from_headers(&h, NOW), None);
    let h =
        headers(&[("anthropic-ratelimit-requests-remaining", "0"), ("anthropic-ratelimit-requests-reset", past_stamp)]);
    assert_eq!(from_headers(&h, NOW), None);
    assert_eq!(from_headers(&headers(&[("x-ratelimit-reset", "1767225500")]), NOW), None);
    assert_eq!(from_headers(&headers(&[("x-ratelimit-reset", "1767225500000")]), NOW), None);
    assert_eq!(from_body(Some(&json!({"resets_at": 1_767_225_500})), "", NOW), None);
    // A past time is no information: the next source decides.
    let h = headers(&[("retry-after", "Wed, 31 Dec 2025 23:59:00 GMT"), ("x-ratelimit-reset-tokens", "9s")]);
    assert_eq!(retry_after(&h, Some(&body), "", NOW), secs(9));
}

#[test]
fn body_resets_at_and_resets_in_seconds() {
    let wait = |body: Value| from_body(Some(&body), &body.to_string(), NOW);
    assert_eq!(wait(json!({"resets_at": 1_767_225_630})), secs(30));
    assert_eq!(wait(json!({"error": {"type": "usage_limit_reached", "resets_at": 1_767_225_630}})), secs(30));
    assert_eq!(wait(json!({"error": {"resets_at": "1767225630"}})), secs(30));
    assert_eq!(wait(json!({"resets_in_seconds": 42})), secs(42));
    assert_eq!(wait(json!({"error": {"resets_in_seconds": 0.2}})), secs(1));
    assert_eq!(wait(json!({"resets_in_seconds": 42, "resets_at": 1_767_225_610})), secs(10), "resets_at first");
    assert_eq!(wait(json!({"resets_in_seconds": 42, "message": "try again in 5s"})), secs(42), "fields first");
    assert_eq!(wait(json!({"resets_in_seconds": -4})), None);
}

#[test]
fn body_text_phrases() {
    assert_eq!(from_text("Rate limited. Retry after 7s."), secs(7));
    assert_eq!(from_text("Please try again in 1.5s."), secs(2));
    assert_eq!(from_text("Limit hit; reset after 2m30s"), secs(150));
    assert_eq!(from_text("Your QUOTA WILL RESET AFTER 20ms"), secs(1));
    assert_eq!(from_text("try again in 12 seconds"), secs(12));
    assert_eq!(from_text("try again in 1 second"), secs(1));
    assert_eq!(from_text("retry after 30"), secs(30));
    assert_eq!(from_text("try again in 1 minute 30 seconds"), secs(90));
    assert_eq!(from_text("retry after: 4s"), secs(4));
    assert_eq!(from_text("Please retry in 13.59s."), secs(14), "Gemini's wording");
    // The earliest phrase that has a duration wins; one without a duration is skipped.
    assert_eq!(from_text("retry after the window; try again in 9s; retry after 3s"), secs(9));
    assert_eq!(from_text("try again in 3s or retry after 9s"), secs(3));
    // Dates and times are not durations; nothing at all is nothing.
    assert_eq!(from_text("quota will reset after 2026-11-27T06:30:00Z"), None);
    assert_eq!(from_text("try again in a while"), None);
    assert_eq!(from_text("try again later"), None);
    // Google's fields as text, for bodies that do not parse.
    assert_eq!(from_text(r#"{"error":{"details":[{"retryDelay": "12s"}"#), secs(12));
    assert_eq!(from_text(r#""quotaResetDelay":"1h""#), secs(3600));
}

#[test]
fn headers_win_over_the_body_and_the_body_is_the_last_resort() {
    let body = json!({"error": {"message": "try again in 20s", "resets_in_seconds": 50}});
    let text = body.to_string();
    assert_eq!(retry_after(&headers(&[("retry-after", "3")]), Some(&body), &text, NOW), secs(3));
    assert_eq!(retry_after(&HeaderMap::new(), Some(&body), &text, NOW), secs(50));
    assert_eq!(retry_after(&HeaderMap::new(), None, "try again in 20s", NOW), secs(20));
    assert_eq!(retry_after(&HeaderMap::new(), None, "", NOW), None);
}

#[test]
fn durations_round_up_to_whole_seconds_with_minimum_one() {
    assert_eq!(parse_duration("1h2m3.5s"), secs(3724));
    assert_eq!(parse_duration("6m0s"), secs(360));
    assert_eq!(parse_duration("250ms"), secs(1));
    assert_eq!(parse_duration("3000ms"), secs(3), "exact, no float drift");
    assert_eq!(parse_duration("1001ms"), secs(2));
    assert_eq!(parse_duration("0.1h"), secs(360));
    assert_eq!(parse_duration("0s"), secs(1));
    assert_eq!(parse_duration("1.000000000000000001s"), secs(2), "any excess rounds up");
    assert_eq!(parse_duration("1500us"), secs(1));
    assert_eq!(parse_duration("2500000µs"), secs(3));
    assert_eq!(parse_duration("12"), secs(12));
    assert_eq!(parse_duration("12S"), secs(12));
    assert_eq!(parse_duration("1d"), None);
    assert_eq!(parse_duration("soon"), None);
    assert_eq!(parse_duration("5s3"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn waits_above_the_maximum_are_clamped() {
    assert_eq!(parse_duration("99999999999999999999s"), Some(MAX_RETRY_WAIT));
    assert_eq!(parse_duration("169h"), Some(MAX_RETRY_WAIT));
    assert_eq!(parse_duration("168h"), Some(MAX_RETRY_WAIT));
    assert_eq!(parse_duration("167h"), secs(167 * 3600));
    assert_eq!(from_headers(&headers(&[("retry-after", "1e20")]), NOW), Some(MAX_RETRY_WAIT));
    assert_eq!(from_headers(&headers(&[("x-ratelimit-reset", "9999999999")]), NOW), Some(MAX_RETRY_WAIT));
    let body =
        google(json!([{"@type": "google.rpc.ErrorInfo", "metadata": {"quotaResetTimeStamp": "9999-12-31T23:59:59Z"}}]));
    assert_eq!(from_google_details(&body, NOW), Some(MAX_RETRY_WAIT));
}

#[test]
fn rfc3339_times_parse_to_unix_millis() {
    assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(NOW));
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2026-11-27T06:30:00Z"), Some(1_795_761_000_000));
    assert_eq!(parse_rfc3339("2026-11-27T06:30:00.5Z"), Some(1_795_761_000_500));
    assert_eq!(parse_rfc3339("2026-11-27t08:30:00.123456789+02:00"), Some(1_795_761_000_123));
    assert_eq!(parse_rfc3339("2026-11-27T01:00:00-05:30"), Some(1_795_761_000_000));
    assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
    assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1000));
    for bad in [
        "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+0200",
        "2026-01-01T00:00:00Zjunk",
        "2026-1-01T00:00:00Z",
        "+2026-01-01T00:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let hostile = [
        "",
        " ",
        "-5",
        "-0",
        "+5",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "infinity",
        "1e400",
        "1e-400",
        "1e",
        "e5",
        ".",
        "..",
        "1..5",
        "5.",
        ".5s",
        "1.2.3s",
        "ms",
        "s",
        "1hms",
        "99999999999999999999999999999999999999999999999999999999999999",
        "99999999999999999999999999999999999999999999h99999999999999999999999999999999999ms",
        "0.99999999999999999999999999999999999999999999999999999999999999999999999999h",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "9999999999999999999999",
        "99999-12-31T23:59:59Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:00+99:99",
        "2026-01-01T00:00:00.99999999999999999999999Z",
        "2026-01-01T00:00:60Z",
        "0000-01-01T00:00:00Z",
        "Sun, 99 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 99999 08:49:37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 99:99:99 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37:00 GMT",
        ",,,,,,,",
        "- - - - -",
        "µs",
        "5µs",
        "5μs",
        "ünïcödé 5s",
        "try again in",
        "try again in 1e400s",
        "retry after 99999999999999999999999999999999999999 hours",
        "reset after .",
        "retry after -5s",
        "\"retryDelay\": \"",
        "\"retryDelay\":",
    ];
    let long = "9".repeat(10_000);
    let many = "try again in x ".repeat(10_000);
    let cap = Some(MAX_RETRY_WAIT);
    for value in hostile.iter().copied().chain([long.as_str(), many.as_str()]) {
        let checked = |wait: Option<Duration>| {
            assert!(wait.is_none_or(|w| w >= Duration::from_secs(1) && w <= MAX_RETRY_WAIT), "{value}: {wait:?}");
        };
        checked(parse_duration(value));
        checked(from_text(value));
        checked(from_text(&format!("try again in {value}")));
        let _ = parse_rfc3339(value);
        let _ = parse_http_date(value);
        if let Ok(v) = http::HeaderValue::from_str(value) {
            for name in [
                "retry-after-ms",
                "retry-after",
                "x-ratelimit-reset",
                "x-ratelimit-reset-requests",
                "anthropic-ratelimit-tokens-reset",
            ] {
                let mut h = headers(&[("anthropic-ratelimit-tokens-remaining", "0")]);
                h.insert(name, v.clone());
                checked(from_headers(&h, NOW));
                checked(from_headers(&h, i64::MIN));
                checked(from_headers(&h, i64::MAX));
            }
        }
        for body in [
            google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": value}])),
            google(json!([{"@type": "google.rpc.ErrorInfo", "metadata": {"quotaResetDelay": value}}])),
            google(json!([{"@type": "google.rpc.ErrorInfo", "metadata": {"quotaResetTimeStamp": value}}])),
            json!({"resets_at": value, "error": {"resets_in_seconds": value}}),
        ] {
            checked(retry_after(&HeaderMap::new(), Some(&body), value, NOW));
            checked(retry_after(&HeaderMap::new(), Some(&body), value, i64::MIN));
        }
    }
    // Numbers JSON itself cannot hold as integers, odd shapes, non-text header values.
    for body in [
        json!({"resets_at": 1e300, "resets_in_seconds": 1e300}),
        json!({"resets_at": -1e300}),
        json!({"resets_in_seconds": u64::MAX}),
        json!({"resets_in_seconds": i64::MIN}),
        json!({"error": "try again in 5s"}),
        json!({"error": {"details": "not a list"}}),
        json!({"error": {"details": [null, 5, "x", {"@type": 7}]}}),
        google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": {"seconds": 1e300, "nanos": -1}}])),
        google(json!([{"@type": "google.rpc.RetryInfo", "retryDelay": {"seconds": u64::MAX, "nanos": u64::MAX}}])),
        json!(null),
        json!([]),
        json!([[[[]]]]),
    ] {
        let wait = retry_after(&HeaderMap::new(), Some(&body), &body.to_string(), NOW);
        assert!(wait.is_none_or(|w| w <= MAX_RETRY_WAIT), "{body}");
    }
    assert_eq!(retry_after(&HeaderMap::new(), Some(&json!({"resets_in_seconds": u64::MAX})), "", NOW), cap);
    let mut h = HeaderMap::new();
    h.insert("retry-after", http::HeaderValue::from_bytes(b"\xff\xfe5").unwrap());
    assert_eq!(from_headers(&h, NOW), None);
}
