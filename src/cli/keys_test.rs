//! `llmkp keys test`: checks every credential with the cheapest real call (the provider's model
//! list), in parallel, and reports one row per credential. The outcomes update the credential
//! state `serve` uses (also while it runs) unless `--no-record`. Never prints a key.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::output::{duration, print, print_json, table};
use super::{CliError, Context};
use crate::config::LoadWarning;
use crate::engine::probe::{ProbeOutcome, ProbeResult};
use crate::engine::{Engine, EngineConfig};
use crate::providers::Registry;
use crate::server::ProxyAuth;

/// Longest upstream message shown in the table (`--json` has it whole).
const DETAIL_WIDTH: usize = 90;

#[derive(Debug, clap::Args)]
pub struct KeysTestArgs {
    /// Only this provider's credentials
    #[arg(value_name = "PROVIDER")]
    pub provider: Option<String>,

    /// One JSON document on stdout
    #[arg(long)]
    pub json: bool,

    /// Seconds to wait for each credential's answer
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Credentials tested at the same time
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024)
    )]
    pub concurrency: usize,

    /// Exit 0 when at least N credentials are ok (default: all must be)
    #[arg(long, value_name = "N")]
    pub min_ok: Option<usize>,

    /// Do not record the results (by default an invalid key is locked out, a working one released)
    #[arg(long)]
    pub no_record: bool,
}

/// `keys test --json`.
#[derive(Serialize)]
struct Report<'a> {
    results: &'a [ProbeResult],
    ok: usize,
    failed: usize,
}

pub async fn run(context: &Context, args: KeysTestArgs, quiet: bool) -> Result<(), CliError> {
    let (mut config, warnings) = EngineConfig::load(&context.env, Some(&context.home));
    for LoadWarning(message) in &warnings {
        tracing::warn!("{message}");
    }
    let total = credentials_to_test(&config.registry, args.provider.as_deref())?;
    // A shared writer: works next to a running `serve`, which keeps the exclusive lock.
    let store =
        if args.no_record { None } else { Some(super::state::open(context, super::state::Writer::OneShot).await?) };
    config.store = store.clone();
    let secrets = ProxyAuth::from_env(&context.env).secrets().to_vec();
    let engine = Engine::new(config, secrets).map_err(|e| CliError::usage(e.to_string()))?;

    let show_progress = total > 0 && !quiet && !args.json && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| progress_bar(total));
    let on_result = |r: &ProbeResult| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{} {} {}", r.provider, r.credential, r.result.as_str()));
            bar.inc(1);
        }
    };
    let results = engine
        .probe_credentials(args.provider.as_deref(), args.timeout, args.concurrency, !args.no_record, &on_result)
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(store) = &store
        && let Err(err) = store.flush()
    {
        tracing::warn!("results not recorded: {err}");
    }

    let ok = results.iter().filter(|r| r.result.is_ok()).count();
    let failed = results.len() - ok;
    if args.json {
        print_json(&Report { results: &results, ok, failed })?;
    } else {
        print(&render(&results, ok, failed))?;
    }
    verdict(ok, failed, args.min_ok)
}

/// How many credentials a run covers; an unknown provider is a usage error naming the known ones.
fn credentials_to_test(registry: &Registry, provider: Option<&str>) -> Result<usize, CliError> {
    let stray = |name: Option<&str>| -> usize {
        registry.unroutable.iter().filter(|u| name.is_none_or(|n| n == u.name)).map(|u| u.credentials.len()).sum()
    };
    let Some(name) = provider else { return Ok(registry.credential_count() + stray(None)) };
    super::require_provider(registry, name)?;
    Ok(registry.get(name).map_or(0, |p| p.credentials.len()) + stray(Some(name)))
}

fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} testing keys {pos}/{len} [{bar:30}] {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Exit 0 when every credential is ok, or at least `min_ok` are; exit 1 otherwise.
fn verdict(ok: usize, failed: usize, min_ok: Option<usize>) -> Result<(), CliError> {
    let total = ok + failed;
    match min_ok {
        Some(min) if ok >= min => Ok(()),
        Some(min) => Err(CliError::failed(format!("{ok} of {total} credentials ok; --min-ok {min} not reached"))),
        None if total == 0 => Err(CliError::failed("no credentials to test: set e.g. OPENAI_API_KEY_1 in <home>/.env")),
        None if failed == 0 => Ok(()),
        None => Err(CliError::failed(format!("{failed} of {total} credentials failed"))),
    }
}

fn render(results: &[ProbeResult], ok: usize, failed: usize) -> String {
    if results.is_empty() {
        return "no credentials configured: set e.g. OPENAI_API_KEY_1 in <home>/.env\n".to_string();
    }
    let mut t = table(&["PROVIDER", "CREDENTIAL", "SOURCE", "RESULT", "DETAIL", "LATENCY MS"]);
    for r in results {
        t.add_row(vec![
            r.provider.clone(),
            r.credential.clone(),
            r.source.clone(),
            r.result.as_str().to_string(),
            detail(r),
            r.latency_ms.map_or_else(|| "-".to_string(), |ms| ms.to_string()),
        ]);
    }
    format!("{t}\n{ok} ok, {failed} failed\n")
}

/// The message on one line, shortened, after the upstream's reset when it named one.
fn detail(r: &ProbeResult) -> String {
    let mut text = r.detail.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > DETAIL_WIDTH {
        text = text.chars().take(DETAIL_WIDTH - 1).collect::<String>() + "…";
    }
    let status = match r.status {
        Some(status) if !r.result.is_ok() => format!("HTTP {status}: "),
        _ => String::new(),
    };
    match r.retry_after {
        Some(wait) if r.result != ProbeOutcome::Ok => format!("resets in {}; {status}{text}", duration(wait)),
        _ => format!("{status}{text}"),
    }
}

/// Seconds, fractions allowed (`0.5`); more than zero.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("must be more than 0 seconds".to_string());
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: ProbeOutcome, status: Option<u16>, retry_after: Option<u64>, detail: &str) -> ProbeResult {
        ProbeResult {
            provider: "openai".into(),
            credential: "…0001".into(),
            source: "OPENAI_API_KEY_1".into(),
            result: outcome,
            status,
            detail: detail.into(),
            retry_after,
            latency_ms: Some(5),
        }
    }

    #[test]
    fn exit_code_follows_all_ok_or_min_ok() {
        assert!(verdict(3, 0, None).is_ok());
        assert_eq!(verdict(2, 1, None).unwrap_err().code, 1);
        assert!(verdict(2, 1, Some(2)).is_ok());
        assert_eq!(verdict(1, 2, Some(2)).unwrap_err().code, 1);
        assert_eq!(verdict(0, 0, None).unwrap_err().code, 1, "nothing tested is not healthy");
        assert!(verdict(0, 0, Some(0)).is_ok());
    }

    #[test]
    fn details_carry_the_status_and_the_reset_on_one_short_line() {
        let limited = result(ProbeOutcome::RateLimited, Some(429), Some(7), "Rate limit\nreached.");
        assert_eq!(detail(&limited), "resets in 7s; HTTP 429: Rate limit reached.");
        assert_eq!(detail(&result(ProbeOutcome::Ok, Some(200), None, "2 models")), "2 models");
        let long = result(ProbeOutcome::ServerError, Some(500), None, &"x".repeat(500));
        assert_eq!(detail(&long).chars().count(), "HTTP 500: ".len() + DETAIL_WIDTH);
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(parse_seconds("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "NaN", "soon", "1e400"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
