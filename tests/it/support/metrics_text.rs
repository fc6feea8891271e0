//! Reading `/metrics`: the Prometheus text format parsed by `prometheus-parse`, after a strict
//! check of every line's shape (that parser skips lines it cannot read), and lookups by name and
//! label subset.

#![allow(dead_code)]

use prometheus_parse::{Sample, Scrape, Value};

/// Parses the exposition, failing on any line that is neither a comment nor `name{labels} value`.
pub fn parse(text: &str) -> Scrape {
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "bad labels: {line}");
        }
        let ok = value.parse::<f64>().is_ok() || matches!(value, "+Inf" | "-Inf" | "NaN");
        assert!(ok, "bad value: {line}");
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("prometheus text")
}

fn matches(sample: &Sample, name: &str, labels: &[(&str, &str)]) -> bool {
    sample.metric == name && labels.iter().all(|(k, v)| sample.labels.get(k) == Some(*v))
}

/// The sum of every counter, gauge or untyped sample `name` whose labels include `labels`.
pub fn sum(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| matches(s, name, labels))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            _ => 0.0,
        })
        .sum()
}

/// How many observations histogram `name` holds across series matching `labels`.
pub fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let count = sum(scrape, &format!("{name}_count"), labels);
    let buckets: f64 = scrape
        .samples
        .iter()
        .filter(|s| matches(s, name, labels))
        .filter_map(|s| match &s.value {
            Value::Histogram(b) => b.iter().find(|b| b.less_than.is_infinite()).map(|b| b.count),
            _ => None,
        })
        .sum();
    assert_eq!(count, buckets, "{name}: _count and the +Inf bucket agree");
    count
}

/// Every value label `label` takes in samples of `name`.
pub fn label_values(scrape: &Scrape, name: &str, label: &str) -> std::collections::BTreeSet<String> {
    scrape.samples.iter().filter(|s| s.metric == name).filter_map(|s| s.labels.get(label).map(str::to_string)).collect()
}
