//! The official `openai` and `anthropic` Python SDKs against llmkp, when Python has them
//! installed (CI installs them; a machine with only the Rust toolchain skips these tests with a
//! notice).

use std::process::Command;

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;

/// A Python that can import `package`.
fn python_with(package: &str) -> Option<&'static str> {
    let import = format!("import {package}");
    ["python3", "python"]
        .into_iter()
        .find(|python| Command::new(python).args(["-c", &import]).output().is_ok_and(|o| o.status.success()))
}

/// The Python that has `package`, or `None` to skip (a failure when CI requires the SDKs).
fn sdk_python(package: &str) -> Option<&'static str> {
    let python = python_with(package);
    if python.is_none() {
        // CI installs the SDKs and sets LLMKP_REQUIRE_SDK=1, so there a missing SDK is a failure.
        assert!(
            std::env::var_os("LLMKP_REQUIRE_SDK").is_none(),
            "LLMKP_REQUIRE_SDK is set but `import {package}` fails"
        );
        eprintln!("skipped: the `{package}` Python package is not installed (pip install {package})");
    }
    python
}

/// Runs `tests/sdk/<script>` against `base_url` and checks its closing line.
async fn run_sdk_script(python: &str, script: &str, base_url: &str, expected: &str) {
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(path)
        .env("LLMKP_BASE_URL", base_url)
        .env("LLMKP_PROXY_KEY", PROXY_KEY)
        .output()
        .await
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK checks failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(expected), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_works_against_llmkp() {
    let Some(python) = sdk_python("openai") else { return };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-sdk"], &[]).await;
    run_sdk_script(python, "openai_sdk_check.py", &gw.url("/v1"), "9 passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_anthropic_python_sdk_works_against_llmkp() {
    let Some(python) = sdk_python("anthropic") else { return };
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
    run_sdk_script(python, "anthropic_sdk_check.py", &gw.url(""), "7 passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_reaches_anthropic_models() {
    let Some(python) = sdk_python("openai") else { return };
    let mock = AnthropicMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("ANTHROPIC_API_BASE", &base),
        ("ANTHROPIC_API_KEY_1", "sk-ant-sdk"),
        ("LIMITED_API_BASE", &base),
        ("LIMITED_API_FORMAT", "anthropic"),
        ("LIMITED_API_KEY_1", "rl-ant-sdk"),
        ("GLOBAL_TIMEOUT", "3"),
    ])
    .await;
    run_sdk_script(python, "openai_sdk_anthropic_check.py", &gw.url("/v1"), "7 passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_google_genai_python_sdk_works_against_llmkp() {
    let Some(python) = sdk_python("google.genai") else { return };
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = gemini_and_openai(&gemini, &openai).await;
    run_sdk_script(python, "genai_sdk_check.py", &gw.url(""), "8 passed, 0 failed").await;
}

/// A gateway in front of the Gemini mock and the OpenAI mock.
async fn gemini_and_openai(gemini: &GeminiMock, openai: &OpenAiMock) -> Gateway {
    let (gbase, obase) = (gemini.base_url(), openai.base_url());
    Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("GEMINI_API_BASE", &gbase),
        ("GEMINI_API_KEY_1", "gm-good-sdk"),
        ("OPENAI_API_BASE", &obase),
        ("OPENAI_API_KEY_1", "sk-good-sdk"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_reaches_gemini_models_and_embeddings() {
    let Some(python) = sdk_python("openai") else { return };
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = gemini_and_openai(&gemini, &openai).await;
    run_sdk_script(python, "openai_sdk_gemini_check.py", &gw.url("/v1"), "7 passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_anthropic_python_sdk_reaches_gemini_models() {
    let Some(python) = sdk_python("anthropic") else { return };
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = gemini_and_openai(&gemini, &openai).await;
    run_sdk_script(python, "anthropic_sdk_gemini_check.py", &gw.url(""), "3 passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_uses_the_responses_api_over_a_chat_upstream() {
    let Some(python) = sdk_python("openai") else { return };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-sdk"], &[]).await;
    run_sdk_script(python, "openai_responses_check.py", &gw.url("/v1"), "9 passed, 0 failed").await;
    // Structured output reached the upstream as Chat's `response_format`.
    let formats: Vec<_> =
        mock.requests().iter().filter_map(|r| r.body["response_format"]["type"].as_str().map(str::to_owned)).collect();
    assert_eq!(formats, ["json_schema"]);
}
