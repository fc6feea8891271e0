//! Other builds of the `llmkp` binary measured next to this one (`BENCH_COMPARE`): each runs as
//! its own `llmkp serve` process with the same settings, and its paths take part in every
//! section, interleaved with this build's where the section interleaves. This is how a change is
//! checked for "no slower than before": build the binary at the earlier commit, then
//! `BENCH_COMPARE=before=/path/to/llmkp cargo bench --bench proxy`.

use std::collections::HashMap;
use std::time::Duration;

use super::table::{Table, mb, ratio, us};

/// `llmkp serve` of this build, called as an Anthropic Messages client (an OpenAI upstream).
/// Measured only when there is something to compare it with.
pub const THIS_TRANSLATED: &str = "llmkp serve: Messages → OpenAI";

/// One other build: a label for the report and its binary.
pub struct Build {
    pub label: String,
    pub binary: String,
}

impl Build {
    pub fn chat_path(&self) -> String {
        format!("serve {} (binary)", self.label)
    }

    pub fn translated_path(&self) -> String {
        format!("serve {}: Messages → OpenAI", self.label)
    }
}

/// `BENCH_COMPARE`: a comma list of `label=path-to-llmkp`.
pub fn from_env() -> Result<Vec<Build>, String> {
    let Ok(raw) = std::env::var("BENCH_COMPARE") else {
        return Ok(Vec::new());
    };
    let mut builds = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((label, binary)) = entry.split_once('=') else {
            return Err(format!("BENCH_COMPARE entry {entry:?}: expected label=path-to-llmkp"));
        };
        let (label, binary) = (label.trim(), binary.trim());
        if label.is_empty() || label.contains(char::is_whitespace) {
            return Err(format!("BENCH_COMPARE entry {entry:?}: the label must be one word"));
        }
        if !std::path::Path::new(binary).is_file() {
            return Err(format!("BENCH_COMPARE entry {entry:?}: {binary} is not a file"));
        }
        if builds.iter().any(|b: &Build| b.label == label) {
            return Err(format!("BENCH_COMPARE: the label {label:?} is given twice"));
        }
        builds.push(Build { label: label.to_string(), binary: binary.to_string() });
    }
    Ok(builds)
}

/// What the run measured, by path name.
pub struct Measured<'a> {
    pub rate: &'a HashMap<String, f64>,
    pub stream_rate: &'a HashMap<String, f64>,
    pub latency: &'a HashMap<String, (Option<Duration>, Option<Duration>)>,
    /// Resident memory 1 s after start, by path name of the build's Chat path.
    pub idle_rss: &'a HashMap<String, Option<u64>>,
}

/// One table per other build: each measurement of this build's `llmkp serve` next to the same
/// measurement of that build, and this build's value over theirs (above 1× = this build is faster
/// for rates, below 1× = lower for latencies and memory).
pub fn report(builds: &[Build], this_chat: &str, measured: &Measured) -> String {
    let mut out = String::new();
    for build in builds {
        out.push_str(&format!("### This build vs `{}` ({})\n\n", build.label, build.binary));
        let mut table = Table::new(&["measurement", "this build", &build.label, "this ÷ theirs"]);
        let pairs = [(this_chat, build.chat_path()), (THIS_TRANSLATED, build.translated_path())];
        for (rates, what) in [(measured.rate, "non-stream req/s"), (measured.stream_rate, "client streams/s")] {
            for (this, theirs) in &pairs {
                if let (Some(a), Some(b)) = (rates.get(*this), rates.get(theirs)) {
                    table.row(vec![format!("{what}: {this}"), format!("{a:.0}"), format!("{b:.0}"), ratio(*a, *b)]);
                }
            }
        }
        for (this, theirs) in &pairs {
            if let (Some(a), Some(b)) = (measured.latency.get(*this), measured.latency.get(theirs)) {
                for (what, x, y) in [("p50", a.0, b.0), ("p99", a.1, b.1)] {
                    let r = match (x, y) {
                        (Some(x), Some(y)) => ratio(x.as_secs_f64(), y.as_secs_f64()),
                        _ => "—".into(),
                    };
                    table.row(vec![format!("latency {what} µs, c=1: {this}"), us(x), us(y), r]);
                }
            }
        }
        if let (Some(a), Some(b)) = (measured.idle_rss.get(this_chat), measured.idle_rss.get(&build.chat_path())) {
            let r = match (a, b) {
                (Some(x), Some(y)) => ratio(*x as f64, *y as f64),
                _ => "—".into(),
            };
            table.row(vec!["RSS idle (1 s after start)".into(), mb(*a), mb(*b), r]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    out
}
