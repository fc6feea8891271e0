//! `llmkp quota show`: usage per provider, credential and model (or quota group) in the current
//! window, with when it resets, from the state `serve` writes (the home's database, or the shared
//! Redis of `LLMKP_STATE_URL`).

use super::output::{count, duration, print, print_json, table};
use super::{CliError, Context, ListArgs};
use crate::engine::EngineConfig;
use crate::pool::report::QuotaReport;
use crate::store::now_ms;

pub fn show(context: &Context, args: &ListArgs) -> Result<(), CliError> {
    let report = local_report(context, args.provider.as_deref())?;
    if args.json {
        return print_json(&report);
    }
    print(&render(&report))
}

/// The report from this home's configuration and state (read-only: works while `serve` runs,
/// and with no state yet).
pub fn local_report(context: &Context, provider: Option<&str>) -> Result<QuotaReport, CliError> {
    let (config, _) = EngineConfig::load(&context.env, Some(&context.home));
    if let Some(p) = provider {
        super::require_provider(&config.registry, p)?;
    }
    let now = now_ms();
    let snapshot = super::state::snapshot(context, now)?;
    let mut report = QuotaReport::build(&config.registry, &config.pool, &snapshot, provider, &|_| None, now);
    if context.settings.state.url.is_some() {
        report.data_source = "shared_store";
    }
    Ok(report)
}

fn render(report: &QuotaReport) -> String {
    let mut t = table(&[
        "PROVIDER",
        "CREDENTIAL",
        "MODEL/GROUP",
        "USED",
        "OK",
        "FAILED",
        "TOKENS IN",
        "TOKENS OUT",
        "COST $",
        "RESETS IN",
    ]);
    let now = now_ms() / 1000;
    let mut rows = 0;
    for (name, provider) in &report.providers {
        for c in &provider.credentials {
            for (scope, usage) in &c.scopes {
                let w = &usage.window;
                let resets = u64::try_from(usage.reset_at - now).map_or_else(|_| "-".to_string(), duration);
                t.add_row(vec![
                    name.clone(),
                    c.accessor_masked.clone(),
                    scope.clone(),
                    match usage.limit {
                        Some(limit) => format!("{}/{}", count(w.requests), count(limit)),
                        None => count(w.requests),
                    },
                    count(w.successes),
                    count(w.failures),
                    count(w.prompt_tokens + w.cache_read_tokens + w.cache_write_tokens),
                    count(w.completion_tokens + w.reasoning_tokens),
                    format!("{:.4}", w.cost_usd),
                    resets,
                ]);
                rows += 1;
            }
        }
    }
    if rows == 0 {
        return "no usage recorded yet\n".to_string();
    }
    format!("{t}\n")
}
