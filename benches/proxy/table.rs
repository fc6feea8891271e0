//! Markdown tables with padded columns, and the cell formats the report uses.

use std::time::Duration;

use super::load::Run;

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Markdown with padded columns; the first column is left-aligned, the others right-aligned.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                let cells = std::iter::once(&self.header[c]).chain(self.rows.iter().map(|r| &r[c]));
                cells.map(|s| s.chars().count()).max().unwrap_or(0).max(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| if c == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, &w)| if c == 0 { "-".repeat(w) } else { format!("{}:", "-".repeat(w - 1)) })
            .collect();
        let mut out = line(&self.header);
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

pub fn us(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), |d| d.as_micros().to_string())
}

pub fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

pub fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "—".to_string(), |b| format!("{:.1} MB", b as f64 / 1_048_576.0))
}

pub fn added(proxy: Option<Duration>, direct: Option<Duration>) -> String {
    match (proxy, direct) {
        (Some(p), Some(d)) => format!("{:+}", p.as_micros() as i128 - d.as_micros() as i128),
        _ => "—".to_string(),
    }
}

/// `added p50` and `added p99` cells: proxy minus direct, or dashes on the direct row.
pub fn added_p50_p99(is_direct: bool, run: &Run, direct: &Run) -> (String, String) {
    if is_direct {
        return ("—".to_string(), "—".to_string());
    }
    (added(run.pct(50.0), direct.pct(50.0)), added(run.pct(99.0), direct.pct(99.0)))
}

pub fn count(run: &Run) -> String {
    let n = run.samples.len();
    if run.cut { format!("{n}*") } else { n.to_string() }
}

pub fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() { format!("{:.2}×", value / base) } else { "—".to_string() }
}
