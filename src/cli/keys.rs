//! `llmkp keys list`: one row per credential with its state and usage in the current window,
//! read from the state database that `serve` writes (live while it runs). Never a secret.

use std::collections::BTreeMap;

use super::output::{count, duration, print, print_json, table};
use super::{CliError, Context, ListArgs};
use crate::pool::report::{CredentialReport, QuotaReport};
use crate::store::GLOBAL_SCOPE;

pub fn list(context: &Context, args: &ListArgs) -> Result<(), CliError> {
    let report = super::quota::local_report(context, args.provider.as_deref())?;
    if args.json {
        return print_json(&report);
    }
    print(&render(&report))
}

fn render(report: &QuotaReport) -> String {
    if report.providers.is_empty() {
        return "no credentials configured: set e.g. OPENAI_API_KEY_1 in <home>/.env\n".to_string();
    }
    let mut t = table(&["PROVIDER", "CREDENTIAL", "SOURCE", "PRIORITY", "STATUS", "REQUESTS", "TOKENS"]);
    for (name, provider) in &report.providers {
        for c in &provider.credentials {
            let tokens = c.window.prompt_tokens
                + c.window.cache_read_tokens
                + c.window.cache_write_tokens
                + c.window.completion_tokens
                + c.window.reasoning_tokens;
            t.add_row(vec![
                name.clone(),
                c.accessor_masked.clone(),
                c.source.clone(),
                c.priority.to_string(),
                status(name, c),
                count(c.window.requests),
                count(tokens),
            ]);
        }
    }
    format!("{t}\n")
}

/// `active`, `cooling 12s (rate_limit: gpt-4o)`, `locked 4m59s (auth)`.
fn status(provider: &str, c: &CredentialReport) -> String {
    if c.status == "unknown_provider" {
        return "unknown provider".to_string();
    }
    if c.status == "exhausted" {
        return "exhausted (fair cycle)".to_string();
    }
    if c.status == "needs_reauth" {
        return format!("needs a new login: llmkp auth add {provider}");
    }
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (scope, cooldown) in &c.cooldowns {
        let label =
            if scope == GLOBAL_SCOPE { cooldown.reason.clone() } else { format!("{}: {scope}", cooldown.reason) };
        by_kind.entry(cooldown.kind).or_default().push(format!("{} ({label})", duration(cooldown.remaining_seconds)));
    }
    let mut parts = Vec::new();
    for (kind, word) in [("lockout", "locked"), ("quota", "cooling"), ("transient_rest", "resting")] {
        if let Some(entries) = by_kind.get(kind) {
            parts.push(format!("{word} {}", entries.join(", ")));
        }
    }
    if parts.is_empty() { "active".to_string() } else { parts.join("; ") }
}
