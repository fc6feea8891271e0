//! Adapter for Google's Code Assist API (`v1internal`), spoken by the Gemini CLI and Antigravity
//! logins (credentials specification §9, §10): Gemini requests wrapped with the account's project,
//! the clients' fingerprint headers, and project discovery (`loadCodeAssist`, `onboardUser`).

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Credential;
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_stream_error};
use crate::formats::gemini::relay::GeminiDecoder;
use crate::formats::gemini::{request as gemini_request, response as gemini_response};
use crate::formats::ir;
use crate::formats::json::to_bytes;
use crate::formats::openai::chunk::stream_error;
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;
use crate::formats::{InvalidRequest, random_uuid, uuid_string};

use super::Provider;
use super::openai::{ListedModel, list_models, parse_model_list};
use super::protocol::{EncodeTarget, Encoded, FoldPolicy, PassthroughEdits, UpstreamCall, UpstreamProtocol};

/// Google's Code Assist API as one client's logins speak it.
pub struct CodeAssist(CodeAssistClient);

static GEMINI_CLI: CodeAssist = CodeAssist(CodeAssistClient::GeminiCli);
static ANTIGRAVITY: CodeAssist = CodeAssist(CodeAssistClient::Antigravity);

/// The Code Assist protocol of the provider `name`.
pub fn adapter(name: &str) -> &'static dyn UpstreamProtocol {
    if name == "antigravity" { &ANTIGRAVITY } else { &GEMINI_CLI }
}

impl UpstreamProtocol for CodeAssist {
    fn id(&self) -> Protocol {
        Protocol::CodeAssist
    }

    /// A Gemini request (cleaned schemas, the login's signature origin); the envelope is added
    /// per call, as it names the login's project.
    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest> {
        let origin = target.provider.name.as_str();
        let encoded = gemini_request::encode_upstream(request, target.upstream_model, origin, Protocol::CodeAssist)?;
        Ok(Encoded { body: encoded.body, dropped: encoded.dropped_params, adjustments: encoded.adjustments })
    }

    /// No client speaks Code Assist itself; a Gemini body is edited as the Gemini API edits it.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
        super::gemini::generation_config_edits(body, edits)
    }

    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        let project = call.credential.oauth.as_ref().and_then(|h| h.project()).unwrap_or_default();
        let inner: Map<String, Value> = serde_json::from_slice(&call.body).unwrap_or_default();
        let wrapped = to_bytes(&wrap(self.0, call.upstream_model, &project, inner));
        let token = call.credential.secret();
        generate(call.http, call.provider, &token, call.upstream_model, call.stream, wrapped)
    }

    fn stream_decoder(&self, provider: &Provider, renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder> {
        Box::new(GeminiDecoder::new(&provider.name, renames))
    }

    /// Signatures of Code Assist are only valid for the login that issued them: their origin is
    /// the provider.
    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest> {
        gemini_response::decode_upstream_response(body, served, &provider.name)
    }

    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure> {
        stream_error(body).map(classify_stream_error)
    }

    /// Generation is always streamed (credentials specification §9).
    fn fold(&self) -> FoldPolicy {
        FoldPolicy::Always
    }

    fn tool_renames(&self, request: &ir::Request) -> Vec<(String, String)> {
        super::gemini::tool_renames(request)
    }

    fn model_in_path(&self) -> bool {
        true
    }

    fn needs_project(&self) -> bool {
        true
    }

    /// The next generation base after a failure the client itself moves on after (§9: 5xx or
    /// connection; §10 Antigravity: any error but a rate limit or a refused login).
    fn attempt_failed(&self, provider: &Provider, class: ErrorClass) {
        let moves_on = match self.0 {
            CodeAssistClient::Antigravity => {
                !matches!(class, ErrorClass::RateLimit | ErrorClass::Quota | ErrorClass::Auth)
            }
            CodeAssistClient::GeminiCli => {
                matches!(class, ErrorClass::ServerError | ErrorClass::Connection | ErrorClass::Overloaded)
            }
        };
        if moves_on {
            provider.generation_base_failed();
        }
    }

    fn discover_project<'a>(
        &'a self,
        http: &'a reqwest::Client,
        provider: &'a Provider,
        token: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<Discovered>, String>> {
        Box::pin(async move { discover(http, provider, token, provider.project.as_deref()).await.map(Some) })
    }

    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
        list_models(http, url, credential)
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
        parse_model_list(body)
    }
}

/// Which client's logins speak the API (they differ in envelope, headers and model names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAssistClient {
    GeminiCli,
    Antigravity,
}

impl CodeAssistClient {
    pub fn of(provider: &Provider) -> Self {
        if provider.name == "antigravity" { Self::Antigravity } else { Self::GeminiCli }
    }
}

const GEMINI_CLI_UA_VERSION: &str = "0.31.0";
const GEMINI_CLI_PLATFORM: &str = "win32; x64";
const GEMINI_CLI_NODE_CLIENT: &str = "10.6.1";
const GEMINI_CLI_GL_NODE: &str = "22.17.1";
const ANTIGRAVITY_UA_VERSION: &str = "1.15.8";
const CLIENT_METADATA: &str =
    r#"{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}"#;

/// The generation body: the Gemini request inside the envelope (§9, §10).
pub fn wrap(
    flavor: CodeAssistClient,
    model: &str,
    project: &str,
    mut request: Map<String, Value>,
) -> Map<String, Value> {
    let first_user_text = first_user_text(&request);
    let mut body = Map::new();
    match flavor {
        CodeAssistClient::GeminiCli => {
            request.insert("session_id".into(), Value::from(session_uuid(first_user_text.as_deref())));
            body.insert("model".into(), Value::from(model));
            body.insert("project".into(), Value::from(project));
            body.insert("user_prompt_id".into(), Value::from(random_hex(14)));
        }
        CodeAssistClient::Antigravity => {
            let upstream_model = antigravity_model(model, &request);
            request.insert("sessionId".into(), Value::from(antigravity_session(first_user_text.as_deref())));
            body.insert("project".into(), Value::from(project));
            body.insert("userAgent".into(), Value::from("antigravity"));
            body.insert("requestType".into(), Value::from("agent"));
            body.insert("requestId".into(), Value::from(format!("agent-{}", random_uuid())));
            body.insert("model".into(), Value::from(upstream_model));
        }
    }
    body.insert("request".into(), Value::Object(request));
    body
}

/// `POST {base}:streamGenerateContent?alt=sse` or `:generateContent`, with the client's headers.
pub fn generate(
    http: &reqwest::Client,
    provider: &Provider,
    token: &str,
    model: &str,
    stream: bool,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let method = if stream { ":streamGenerateContent?alt=sse" } else { ":generateContent" };
    let request = http
        .post(format!("{}{method}", provider.generation_base()))
        .bearer_auth(token)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "*/*")
        .body(body);
    match CodeAssistClient::of(provider) {
        CodeAssistClient::GeminiCli => request
            .header(
                http::header::USER_AGENT,
                format!(
                    "GeminiCLI/{GEMINI_CLI_UA_VERSION}/{model} ({GEMINI_CLI_PLATFORM}) google-api-nodejs-client/{GEMINI_CLI_NODE_CLIENT}"
                ),
            )
            .header("x-goog-api-client", format!("gl-node/{GEMINI_CLI_GL_NODE}")),
        CodeAssistClient::Antigravity => request
            .header(http::header::USER_AGENT, format!("antigravity/{ANTIGRAVITY_UA_VERSION} windows/amd64"))
            .header("x-goog-api-client", "google-cloud-sdk vscode_cloudshelleditor/0.1")
            .header("client-metadata", CLIENT_METADATA),
    }
}

fn management(
    http: &reqwest::Client,
    provider: &Provider,
    token: &str,
    method: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{}:{method}", provider.base_url))
        .bearer_auth(token)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "*/*")
        .body(body.to_string());
    match CodeAssistClient::of(provider) {
        CodeAssistClient::GeminiCli => request
            .header(
                http::header::USER_AGENT,
                format!("GeminiCLI/{GEMINI_CLI_UA_VERSION} ({GEMINI_CLI_PLATFORM}) google-api-nodejs-client/{GEMINI_CLI_NODE_CLIENT}"),
            )
            .header("x-goog-api-client", format!("gl-node/{GEMINI_CLI_GL_NODE}")),
        CodeAssistClient::Antigravity => request
            .header(http::header::USER_AGENT, "google-api-nodejs-client/10.3.0")
            .header("x-goog-api-client", "gl-node/22.18.0")
            .header("client-metadata", CLIENT_METADATA),
    }
}

/// Antigravity's upstream name for a public model name (credentials specification §10): thinking
/// variants when the request asks for reasoning, Gemini 3 Pro by thinking level; other names as
/// they are.
pub fn antigravity_model(public: &str, request: &Map<String, Value>) -> String {
    let thinking = request.get("generationConfig").and_then(|c| c.get("thinkingConfig"));
    let level = thinking.and_then(|t| t.get("thinkingLevel")).and_then(Value::as_str).map(str::to_ascii_lowercase);
    let reasoning = thinking.is_some_and(|t| {
        t.get("includeThoughts").and_then(Value::as_bool) == Some(true)
            || t.get("thinkingBudget").and_then(Value::as_i64).is_some_and(|b| b != 0)
            || t.get("thinkingLevel").is_some()
    });
    match public {
        "claude-sonnet-4.5" | "claude-sonnet-4-5" if reasoning => "claude-sonnet-4-5-thinking",
        "claude-sonnet-4.5" => "claude-sonnet-4-5",
        "claude-opus-4.5" | "claude-opus-4-5" => "claude-opus-4-5-thinking",
        "claude-opus-4.6" | "claude-opus-4-6" => "claude-opus-4-6-thinking",
        "gemini-3-pro-preview" if level.as_deref() == Some("low") => "gemini-3-pro-low",
        "gemini-3-pro-preview" => "gemini-3-pro-high",
        "gemini-2.5-flash" if reasoning => "gemini-2.5-flash-thinking",
        other => other,
    }
    .to_string()
}

/// A discovered project and tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub project: String,
    /// Canonical tier (`FREE`, `PRO`, `ULTRA`, or the id as is).
    pub tier: Option<String>,
}

/// How long onboarding is polled, and how often.
const ONBOARD_TIMEOUT: Duration = Duration::from_secs(300);
const ONBOARD_POLL: Duration = Duration::from_secs(2);

/// The account's project (§9 steps 2–4): `loadCodeAssist`, and `onboardUser` when the account
/// has no tier yet. `configured` is `GEMINI_CLI_PROJECT_ID` (P).
pub async fn discover(
    http: &reqwest::Client,
    provider: &Provider,
    token: &str,
    configured: Option<&str>,
) -> Result<Discovered, String> {
    let mut metadata =
        json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"});
    let mut load = json!({});
    if let Some(project) = configured {
        metadata["duetProject"] = json!(project);
        load["cloudaicompanionProject"] = json!(project);
    }
    load["metadata"] = metadata.clone();
    let answer = call(management(http, provider, token, "loadCodeAssist", &load)).await?;
    let tier = answer.pointer("/paidTier/id").or_else(|| answer.pointer("/currentTier/id")).and_then(Value::as_str);
    if let Some(tier) = tier {
        let project = project_of(answer.get("cloudaicompanionProject")).or(configured.map(str::to_string));
        return project
            .map(|project| Discovered { project, tier: Some(canonical_tier(tier)) })
            .ok_or_else(|| "the account has a tier but no project; set GEMINI_CLI_PROJECT_ID".to_string());
    }
    let allowed = answer.get("allowedTiers").and_then(Value::as_array).cloned().unwrap_or_default();
    let tier_id = allowed
        .iter()
        .find(|t| t.get("isDefault").and_then(Value::as_bool) == Some(true))
        .or_else(|| allowed.iter().find(|t| t["id"] == "legacy-tier"))
        .or_else(|| allowed.first())
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .unwrap_or("legacy-tier")
        .to_string();
    let free = canonical_tier(&tier_id) == "FREE";
    let mut onboard = json!({"tierId": tier_id, "metadata": metadata});
    if let (Some(project), false) = (configured, free) {
        onboard["cloudaicompanionProject"] = json!(project);
    } else if free && let Some(object) = onboard["metadata"].as_object_mut() {
        // A free tier must not name a project (the service answers 412).
        object.remove("duetProject");
    }
    let started = tokio::time::Instant::now();
    loop {
        let answer = call(management(http, provider, token, "onboardUser", &onboard)).await?;
        if answer.get("done").and_then(Value::as_bool) == Some(true) {
            let project =
                project_of(answer.pointer("/response/cloudaicompanionProject")).or(configured.map(str::to_string));
            return project
                .map(|project| Discovered { project, tier: Some(canonical_tier(&tier_id)) })
                .ok_or_else(|| "onboarding named no project; set GEMINI_CLI_PROJECT_ID".to_string());
        }
        if started.elapsed() >= ONBOARD_TIMEOUT {
            return Err("onboarding did not finish in 5 minutes".into());
        }
        tokio::time::sleep(ONBOARD_POLL).await;
    }
}

async fn call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("cannot reach Code Assist: {e}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| format!("cannot read the Code Assist answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("Code Assist answered HTTP {}", status.as_u16()));
    }
    serde_json::from_slice(&body).map_err(|_| "Code Assist answered something that is not JSON".to_string())
}

fn project_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
        _ => None,
    }
}

/// `FREE` / `PRO` / `ULTRA` for the known tier ids (§9), any other id as is.
pub fn canonical_tier(id: &str) -> String {
    match id {
        "free-tier" | "legacy-tier" | "g1-free-tier" | "gemini-code-assist-free" => "FREE",
        "standard-tier" | "pro-tier" | "g1-pro-tier" | "gemini-code-assist-pro" => "PRO",
        "ultra-tier" | "enterprise-tier" | "g1-ultra-tier" | "gemini-code-assist-ultra" => "ULTRA",
        other => other,
    }
    .to_string()
}

fn first_user_text(request: &Map<String, Value>) -> Option<String> {
    let contents = request.get("contents")?.as_array()?;
    let user = contents.iter().find(|c| c.get("role").and_then(Value::as_str).unwrap_or("user") == "user")?;
    user.get("parts")?.as_array()?.iter().find_map(|p| p.get("text").and_then(Value::as_str)).map(str::to_string)
}

/// UUID-formatted from the first 16 bytes of SHA-256 of the first user text (random without one).
fn session_uuid(text: Option<&str>) -> String {
    match text {
        Some(text) => uuid_string(Sha256::digest(text.as_bytes())[..16].try_into().expect("16 bytes")),
        None => random_uuid(),
    }
}

/// `-` and the decimal value of the first 8 bytes of SHA-256 of the first user text, top bit
/// cleared (§10).
fn antigravity_session(text: Option<&str>) -> String {
    let bytes: [u8; 8] = match text {
        Some(text) => Sha256::digest(text.as_bytes())[..8].try_into().expect("8 bytes"),
        None => random_bytes()[..8].try_into().expect("8 bytes"),
    };
    format!("-{}", u64::from_be_bytes(bytes) & (u64::MAX >> 1))
}

fn random_bytes() -> [u8; 16] {
    rand::random()
}

fn random_hex(len: usize) -> String {
    random_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()[..len].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_cli_requests_are_wrapped_with_project_and_a_stable_session() {
        let request = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
        let body = wrap(CodeAssistClient::GeminiCli, "gemini-2.5-pro", "proj-1", request.as_object().unwrap().clone());
        assert_eq!((body["model"].as_str(), body["project"].as_str()), (Some("gemini-2.5-pro"), Some("proj-1")));
        assert_eq!(body["user_prompt_id"].as_str().unwrap().len(), 14);
        let again = wrap(CodeAssistClient::GeminiCli, "m", "p", request.as_object().unwrap().clone());
        assert_eq!(body["request"]["session_id"], again["request"]["session_id"]);
        assert_eq!(body["request"]["session_id"].as_str().unwrap().len(), 36);
        let antigravity =
            wrap(CodeAssistClient::Antigravity, "claude-sonnet-4-5", "p", request.as_object().unwrap().clone());
        assert!(antigravity["request"]["sessionId"].as_str().unwrap().starts_with('-'));
        assert!(antigravity["requestId"].as_str().unwrap().starts_with("agent-"));
    }

    #[test]
    fn antigravity_model_names_follow_the_reasoning_asked_for() {
        let plain = Map::new();
        let thinking = json!({"generationConfig": {"thinkingConfig": {"includeThoughts": true}}});
        let thinking = thinking.as_object().unwrap();
        let low = json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}});
        assert_eq!(antigravity_model("claude-sonnet-4.5", &plain), "claude-sonnet-4-5");
        assert_eq!(antigravity_model("claude-sonnet-4.5", thinking), "claude-sonnet-4-5-thinking");
        assert_eq!(antigravity_model("claude-opus-4.6", &plain), "claude-opus-4-6-thinking");
        assert_eq!(antigravity_model("gemini-3-pro-preview", &plain), "gemini-3-pro-high");
        assert_eq!(antigravity_model("gemini-3-pro-preview", low.as_object().unwrap()), "gemini-3-pro-low");
        assert_eq!(antigravity_model("gemini-2.5-flash", thinking), "gemini-2.5-flash-thinking");
        assert_eq!(antigravity_model("gemini-3-flash", thinking), "gemini-3-flash");
    }

    #[test]
    fn tiers_are_canonical() {
        assert_eq!(canonical_tier("free-tier"), "FREE");
        assert_eq!(canonical_tier("g1-pro-tier"), "PRO");
        assert_eq!(canonical_tier("custom"), "custom");
    }
}
