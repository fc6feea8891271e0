//! Adapter for the Anthropic Messages API: endpoints, the `x-api-key` header, the API version,
//! and which client headers travel upstream.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::Provider;
use crate::auth::Credential;

/// The API version sent when the client named none (translation specification §2).
pub const DEFAULT_VERSION: &str = "2023-06-01";

const VERSION_HEADER: &str = "anthropic-version";
const BETA_HEADER: &str = "anthropic-beta";

/// Whether a client header is forwarded to Anthropic upstreams.
pub fn forwards(name: &HeaderName) -> bool {
    name == VERSION_HEADER || name == BETA_HEADER
}

/// `POST {base}/v1/messages` with the credential as `x-api-key`, the client's `anthropic-version`
/// (or [`DEFAULT_VERSION`]) and its `anthropic-beta` values.
pub fn messages(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{}/v1/messages", provider.base_url))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .body(body);
    authorise(request, credential, client_headers)
}

/// `POST {base}/v1/messages/count_tokens`, authorised like [`messages`].
pub fn count_tokens(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{}/v1/messages/count_tokens", provider.base_url))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body);
    authorise(request, credential, client_headers)
}

/// The fields of a Messages request the count endpoint takes (it refuses the others).
pub const COUNT_FIELDS: &[&str] = &["messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"];

/// `GET {models_url}` for the credential.
pub fn list_models(http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
    authorise(http.get(url).header(http::header::ACCEPT, "application/json"), credential, &[])
}

fn authorise(
    mut request: reqwest::RequestBuilder,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
) -> reqwest::RequestBuilder {
    let mut version_sent = false;
    for (name, value) in client_headers.iter().filter(|(name, _)| forwards(name)) {
        version_sent |= name == VERSION_HEADER;
        request = request.header(name, value);
    }
    if !version_sent {
        request = request.header(VERSION_HEADER, DEFAULT_VERSION);
    }
    request.header("x-api-key", credential.secret().as_ref())
}
