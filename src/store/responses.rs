//! Stored Responses (OpenAI Responses API `store`, `previous_response_id`, `GET` and `DELETE
//! /v1/responses/{id}`): what one response kept for later, as every state store holds it. The
//! body is opaque JSON text to the stores; only the owner and the two times are theirs to read.

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// `resp_…`.
    pub id: String,
    /// Who may read it: a hash of the proxy key that created it (`open` without proxy keys).
    pub owner: String,
    pub created_ms: i64,
    /// Gone after this time (`RESPONSES_STORE_TTL`).
    pub expires_ms: i64,
    /// `{"input": [items…], "response": {…}}` as JSON text.
    pub body: String,
}
