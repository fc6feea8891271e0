//! The official `openai` Python SDK against llmkp, when Python has it installed (CI installs it;
//! a machine with only the Rust toolchain skips this test with a notice).

use std::process::Command;

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

fn python_with_openai() -> Option<&'static str> {
    ["python3", "python"]
        .into_iter()
        .find(|python| Command::new(python).args(["-c", "import openai"]).output().is_ok_and(|o| o.status.success()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_works_against_llmkp() {
    let Some(python) = python_with_openai() else {
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
