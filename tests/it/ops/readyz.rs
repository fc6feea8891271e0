//! `GET /readyz`: ready while a credential is usable, 503 naming the failing check when every
//! key is cooling, ready again when one is usable.

use serde_json::{Value, json};

use crate::support::cli::{Server, llmkp};
use crate::support::openai_mock::OpenAiMock;

const PROXY_KEY: &str = "ops-proxy-key-000000000002";

async fn readyz(client: &reqwest::Client, server: &Server) -> (u16, Value) {
    let response = client.get(server.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_flips_to_503_when_every_key_cools_and_back() {
    let openai = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!(
            "PROXY_API_KEY={PROXY_KEY}\nOPENAI_API_BASE={}\nOPENAI_API_KEY_1=rl-ready-key-0000000001\n\
             OPENAI_API_KEY_2=rl-ready-key-0000000002\nSMALL_COOLDOWN_RETRY_THRESHOLD=0\n",
            openai.base_url()
        ),
    )
    .unwrap();
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();

    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["credentials"]["usable"], 2);
    assert_eq!(body["checks"]["state_store"]["status"], "ok");
    assert_eq!(body["checks"]["config"]["status"], "ok");

    // Both keys answer 429 with retry-after: 7 s: both cool.
    let chat = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let response =
        client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&chat).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["failing"], json!(["credentials"]));
    assert_eq!(body["checks"]["credentials"]["providers"]["openai"]["cooling"], 2);

    // An operator clears the cooldowns: ready again.
    let reset = json!({"action": "reset", "scope": "all"});
    let response = client.post(server.url("/v1/quota-stats")).bearer_auth(PROXY_KEY).json(&reset).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["credentials"]["usable"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_without_any_credential_and_healthz_stays_up() {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failing"], json!(["credentials"]));
    assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_is_degraded_but_ready_and_requests_are_served() {
    let openai = OpenAiMock::start().await;
    // A port nothing listens on: the shared store is down from the start.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!(
            "PROXY_API_KEY={PROXY_KEY}\nMETRICS_PUBLIC=true\nLLMKP_STATE_URL={url}\nOPENAI_API_BASE={}\n\
             OPENAI_API_KEY_1=sk-degraded-key-00000001\n",
            openai.base_url()
        ),
    )
    .unwrap();
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    let chat = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let response =
        client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&chat).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["state_store"]["status"], "degraded");
    assert!(body["checks"]["state_store"]["reason"].is_string(), "{body}");

    let text = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let m = crate::support::metrics_text::parse(&text);
    assert_eq!(crate::support::metrics_text::sum(&m, "llmkp_state_store_up", &[]), 0.0);
    assert!(crate::support::metrics_text::sum(&m, "llmkp_state_store_outages_total", &[]) >= 1.0);
}
