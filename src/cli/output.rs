//! Writing results to stdout: JSON for machines, tables for people (styled only on a terminal),
//! and a closed pipe (`| head`) treated as success.

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use super::CliError;

/// Writes `text` to stdout; a reader that went away is not an error.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(CliError::failed(format!("cannot write to stdout: {err}"))),
        Ok(()) => Ok(()),
    }
}

/// One JSON document on stdout.
pub fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::failed(format!("cannot encode JSON: {e}")))?;
    print(&format!("{text}\n"))
}

/// A table with `header`: box drawing on a terminal, plain columns otherwise (and with NO_COLOR
/// the same plain form, so scripts that scrape it see stable text).
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    let styled = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    table.load_style(if styled { presets::UTF8_FULL_CONDENSED } else { presets::NOTHING });
    table.set_content_arrangement(if styled { ContentArrangement::Dynamic } else { ContentArrangement::Disabled });
    table.set_header(header.to_vec());
    table
}

/// `1h02m`, `4m59s`, `12s`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// `950`, `12.3k`, `4.5M`.
pub fn count(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", f / 1e3),
        _ => format!("{:.1}M", f / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_are_short() {
        assert_eq!(duration(12), "12s");
        assert_eq!(duration(299), "4m59s");
        assert_eq!(duration(3720), "1h02m");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_500_000), "4.5M");
    }
}
