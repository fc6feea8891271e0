//! One OAuth refresh for every instance: the others adopt the token it published.

use std::time::Duration;

use super::{chat_urls, command, post_url, prefix, redis_url, serve};
use crate::support::code_assist_mock::CodeAssistMock;
use crate::support::gateway::chat_body;
use crate::support::oauth_mock::OAuthMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_on_two_instances_with_an_expired_login_cause_one_refresh() {
    let Some(url) = redis_url() else { return };
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    // The refresh stays in flight while both instances' requests pile up; refresh tokens rotate,
    // so a second refresh with the old one would be refused.
    oauth.set_refresh_delay(Duration::from_millis(400));
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let mut env = oauth.env_vars();
    env.extend(
        [
            ("GEMINI_CLI_API_BASE", code_assist.base_url().as_str()),
            ("GEMINI_CLI_1_ACCESS_TOKEN", "ya29.expired"),
            ("GEMINI_CLI_1_REFRESH_TOKEN", issued.refresh_token.as_str()),
            ("GEMINI_CLI_1_EXPIRY_DATE", "0"),
            ("GEMINI_CLI_1_EMAIL", "user@example.com"),
            ("GEMINI_CLI_1_PROJECT_ID", "mock-project-123"),
            ("SKIP_OAUTH_INIT_CHECK", "true"),
            ("GLOBAL_TIMEOUT", "30"),
            ("LLMKP_STATE_URL", url.as_str()),
            ("LLMKP_STATE_PREFIX", prefix("oauth").as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let (a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let servers = chat_urls(&[&a, &b]);
    let client = reqwest::Client::new();
    let requests = (0..50).map(|i| {
        let (servers, client) = (servers.clone(), client.clone());
        async move {
            let response =
                post_url(&client, &servers[i % 2], &chat_body("gemini_cli/gemini-2.5-flash", &format!("q{i}"))).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    for (status, text) in futures::future::join_all(requests).await {
        assert_eq!(status, 200, "{text}");
    }
    assert_eq!(oauth.refresh_calls(), 1, "one refresh for both instances");
    assert_eq!(code_assist.generate_requests().len(), 50);

    // `auth export` of the same (now rotated-out) login exports the live tokens from Redis.
    let home = tempfile::tempdir().unwrap();
    let mut export = command(home.path(), &env);
    export.args(["auth", "export", "gemini_cli"]);
    let output = tokio::task::spawn_blocking(move || export.output().unwrap()).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let exported = text
        .lines()
        .find_map(|l| l.strip_prefix("GEMINI_CLI_1_REFRESH_TOKEN="))
        .unwrap_or_else(|| panic!("no refresh token exported: {text}"));
    assert_ne!(exported, issued.refresh_token, "not the rotated-out token");
    assert!(oauth.tokens().refresh_valid(exported), "the live refresh token");
}
