//! The official `openai` and `anthropic` Python SDKs against llmkp, when Python has them
//! installed (CI installs them; a machine with only the Rust toolchain skips these tests with a
//! notice).

use std::process::Command;

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

/// A Python that can import `package`.
fn python_with(package: &str) -> Option<&'static str> {
    let import = format!("import {package}");
    ["python3", "python"]
        .into_iter()
        .find(|python| Command::new(python).args(["-c", &import]).output().is_ok_and(|o| o.status.success()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_works_against_llmkp() {
    let Some(python) = python_with("openai") else {
        // CI installs the SDK and sets LLMKP_REQUIRE_SDK=1, so there a missing SDK is a failure.
        assert!(std::env::var_os("LLMKP_REQUIRE_SDK").is_none(), "LLMKP_REQUIRE_SDK is set but `import openai` fails");
        eprintln!("skipped: the `openai` Python package is not installed (pip install openai)");
        return;
    };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-sdk"], &[]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk_check.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("LLMKP_BASE_URL", gw.url("/v1"))
        .env("LLMKP_PROXY_KEY", PROXY_KEY)
        .output()
        .await
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK checks failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("9 passed, 0 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_anthropic_python_sdk_works_against_llmkp() {
    let Some(python) = python_with("anthropic") else {
        assert!(
            std::env::var_os("LLMKP_REQUIRE_SDK").is_none(),
            "LLMKP_REQUIRE_SDK is set but `import anthropic` fails"
        );
        eprintln!("skipped: the `anthropic` Python package is not installed (pip install anthropic)");
        return;
    };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-good-sdk"),
        ("RATELIMITED_API_BASE", &base),
        ("RATELIMITED_API_KEY_1", "rl-key-1"),
        ("GLOBAL_TIMEOUT", "3"),
    ])
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/anthropic_sdk_check.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("LLMKP_BASE_URL", gw.url(""))
        .env("LLMKP_PROXY_KEY", PROXY_KEY)
        .output()
        .await
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK checks failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("7 passed, 0 failed"), "{stdout}");
}
