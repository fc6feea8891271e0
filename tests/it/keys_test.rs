//! `llmkp keys test` through the real binary against the OpenAI mock (keys `bad…` answer 401,
//! `rl…` 429 with retry-after 7, `err…` 500, others list the models): results, exit codes,
//! JSON, recording into the state `keys list` reads — also next to a running `serve` — and never a
//! key in the output.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::cli::{Server, home_with, llmkp};
use crate::support::openai_mock::OpenAiMock;

const GOOD_1: &str = "sk-good-key-000000000001";
const GOOD_2: &str = "sk-good-key-000000000002";
const BAD: &str = "bad-key-0000000000000003";
const LIMITED: &str = "rl-key-00000000000000004";
const BROKEN: &str = "err-key-0000000000000005";

/// Runs `llmkp <args>` off the runtime (the mock answers on it) and checks that no key of the
/// home's `.env` reached stdout or stderr.
async fn run(home: &Path, args: &[&str]) -> Output {
    let mut cmd = llmkp(home);
    cmd.args(args);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    for key in [GOOD_1, GOOD_2, BAD, LIMITED, BROKEN] {
        assert!(!stdout.contains(key) && !stderr.contains(key), "{key} printed:\n{stdout}\n{stderr}");
    }
    output
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&output.stdout), stderr(output)))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `keys list --json` statuses of the openai credentials, in order.
async fn statuses(home: &Path) -> Vec<String> {
    let listed = json(&run(home, &["keys", "list", "--json"]).await);
    listed["providers"]["openai"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect()
}

fn model_list_calls(mock: &OpenAiMock) -> Vec<String> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/models")
        .filter_map(|r| r.bearer().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_good_keys_pass_with_one_table_row_each_and_a_quiet_stderr() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[GOOD_1, GOOD_2]);
    let output = run(home.path(), &["keys", "test"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = String::from_utf8(output.stdout.clone()).unwrap();
    for (masked, source) in [("…0001", "OPENAI_API_KEY_1"), ("…0002", "OPENAI_API_KEY_2")] {
        let row = table.lines().find(|l| l.contains(masked)).unwrap_or_else(|| panic!("no row for {masked}:\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[..4], ["openai", masked, source, "ok"], "{table}");
        assert!(row.contains("2 models"), "{row}");
        assert!(cells.last().unwrap().parse::<u64>().is_ok(), "latency in ms: {row}");
    }
    assert!(table.contains("2 ok, 0 failed"), "{table}");
    assert!(output.stderr.is_empty(), "no progress bar when stderr is not a terminal: {}", stderr(&output));
    let mut called = model_list_calls(&mock);
    called.sort();
    assert_eq!(called, [GOOD_1, GOOD_2], "one model-list call per key");
    assert_eq!(statuses(home.path()).await, ["active", "active"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_key_fails_the_run_is_reported_as_auth_failed_and_is_locked_out() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[GOOD_1, BAD, GOOD_2]);
    let output = run(home.path(), &["keys", "test", "--json"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!((report["ok"].as_u64(), report["failed"].as_u64()), (Some(2), Some(1)), "{report}");
    let results = report["results"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| (r["credential"].as_str().unwrap(), r["source"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("…0001", "OPENAI_API_KEY_1", "ok"),
            ("…0003", "OPENAI_API_KEY_2", "auth_failed"),
            ("…0002", "OPENAI_API_KEY_3", "ok")
        ]
    );
    let bad = &results[1];
    assert_eq!(bad["provider"], "openai");
    assert_eq!(bad["status"], 401);
    assert!(bad["detail"].as_str().unwrap().contains("Incorrect API key"), "{bad}");
    assert!(bad["latency_ms"].is_u64(), "{bad}");
    assert_eq!(bad["retry_after"], Value::Null);
    for r in results {
        let fields: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["provider", "credential", "source", "result", "status", "detail", "retry_after", "latency_ms"]
        );
    }
    assert!(stderr(&output).contains("1 of 3 credentials failed"), "{}", stderr(&output));

    // Recorded: the invalid key is locked out in the state the server loads.
    assert_eq!(statuses(home.path()).await, ["active", "locked", "active"]);
    let listed = json(&run(home.path(), &["keys", "list", "--json"]).await);
    assert_eq!(listed["providers"]["openai"]["credentials"][1]["cooldowns"]["_global_"]["reason"], "auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ok_accepts_partial_health() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[GOOD_1, GOOD_2, BAD]);
    let enough = run(home.path(), &["keys", "test", "--min-ok", "2", "--no-record"]).await;
    assert_eq!(enough.status.code(), Some(0), "{}", stderr(&enough));
    assert!(String::from_utf8_lossy(&enough.stdout).contains("auth_failed"));
    let short = run(home.path(), &["keys", "test", "--min-ok", "3", "--no-record", "--concurrency", "1"]).await;
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("--min-ok 3"), "{}", stderr(&short));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_carry_the_reset_and_server_errors_are_told_apart() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[LIMITED, BROKEN]);
    let output = run(home.path(), &["keys", "test", "openai", "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let limited = &report["results"][0];
    assert_eq!((limited["result"].as_str(), limited["status"].as_u64()), (Some("rate_limited"), Some(429)));
    assert_eq!(limited["retry_after"], 7, "{limited}");
    let broken = &report["results"][1];
    assert_eq!((broken["result"].as_str(), broken["status"].as_u64()), (Some("server_error"), Some(500)));
    assert_eq!(statuses(home.path()).await[0], "cooldown", "the rate limit is recorded as a cooldown");

    let table = run(home.path(), &["keys", "test", "--no-record"]).await;
    let text = String::from_utf8(table.stdout).unwrap();
    let row = text.lines().find(|l| l.contains("rate_limited")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("resets in 7s") && row.contains("HTTP 429"), "{row}");
    assert!(text.contains("0 ok, 2 failed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_provider_is_a_one_line_usage_error_naming_the_configured_ones() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[GOOD_1]);
    let output = run(home.path(), &["keys", "test", "nosuch"]).await;
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("nosuch") && message.contains("openai"), "{message}");
    assert!(output.stdout.is_empty());
    assert!(model_list_calls(&mock).is_empty(), "nothing was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_record_leaves_the_state_alone() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[BAD, GOOD_1]);
    let output = run(home.path(), &["keys", "test", "--no-record", "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json(&output)["results"][0]["result"], "auth_failed");
    assert_eq!(statuses(home.path()).await, ["active", "active"]);
    assert!(!home.path().join("state.db").exists(), "no database opened");

    // Without the flag the same run records the lockout.
    let recorded = run(home.path(), &["keys", "test"]).await;
    assert_eq!(recorded.status.code(), Some(1));
    assert_eq!(statuses(home.path()).await, ["locked", "active"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_recorded_while_serve_runs() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &[GOOD_1, BAD]);
    let _serve = Server::start(llmkp(home.path()));
    let output = run(home.path(), &["keys", "test"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(!stderr(&output).contains("already"), "{}", stderr(&output));
    assert_eq!(statuses(home.path()).await, ["active", "locked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_keys_are_probed_with_their_own_auth_header() {
    let mock = crate::support::anthropic_mock::AnthropicMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let env =
        format!("ANTHROPIC_API_BASE={}\nANTHROPIC_API_KEY_1={GOOD_1}\nANTHROPIC_API_KEY_2={BAD}\n", mock.base_url());
    std::fs::write(home.path().join(".env"), env).unwrap();
    let output = run(home.path(), &["keys", "test", "--json"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let results = json(&output);
    let outcome = |masked: &str| {
        let row = results["results"].as_array().unwrap().iter().find(|r| r["credential"] == masked).cloned();
        row.unwrap_or_else(|| panic!("no {masked} in {results}"))["result"].as_str().unwrap().to_string()
    };
    assert_eq!(outcome("…0001"), "ok");
    assert_eq!(outcome("…0003"), "auth_failed");
    let probes: Vec<String> = mock.requests().iter().filter_map(|r| r.header("x-api-key").map(str::to_owned)).collect();
    assert_eq!(probes.len(), 2, "one model-list call per key");
}
