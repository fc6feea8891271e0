//! Provider profiles: every quirk of one provider (a parameter allow-list, a placeholder tool,
//! request signing, an account-specific API host, inline reasoning tags) as hooks the engine and
//! the protocols call without knowing which provider they serve. A provider without quirks has
//! the default profile; [`profile_for`] is the one place that maps a name to its profile.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Provider;
use crate::auth::Credential;
use crate::formats::relay::EventFilter;

pub trait ProviderProfile: Send + Sync + 'static {
    /// The request body as this provider takes it; returns the fields it had to leave out.
    /// `placeholder_tool` is `QWEN_CODE_DUMMY_TOOL`.
    fn shape_body(&self, _body: &mut Map<String, Value>, _placeholder_tool: bool) -> Vec<String> {
        Vec::new()
    }

    /// Whether [`Self::shape_body`] changes anything (passthrough bodies are re-read only then).
    fn shapes_body(&self) -> bool {
        false
    }

    /// The API base for `credential` (an account-specific host), when it is not the provider's.
    fn api_base<'a>(&self, provider: &'a Provider, _credential: &Credential) -> Cow<'a, str> {
        Cow::Borrowed(&provider.base_url)
    }

    /// Extra headers of one call (request signing); `secret` is the credential's current key.
    fn sign(&self, request: reqwest::RequestBuilder, _secret: &str) -> reqwest::RequestBuilder {
        request
    }

    /// A rewriting of the provider's stream events, fresh for each stream.
    fn event_filter(&self) -> Option<Box<dyn EventFilter>> {
        None
    }

    /// The same rewriting for a complete answer body.
    fn rewrite_body(&self, _body: &mut Map<String, Value>) {}

    /// The provider is OpenAI's own platform: `max_completion_tokens`, the `developer` role and
    /// every reasoning effort are understood (other Chat servers know only the older forms).
    fn openai_platform(&self) -> bool {
        false
    }
}

/// The provider without quirks.
pub struct Plain;

impl ProviderProfile for Plain {}

/// OpenAI's own API.
pub struct OpenAiPlatform;

impl ProviderProfile for OpenAiPlatform {
    fn openai_platform(&self) -> bool {
        true
    }
}

/// The profile of the provider `name`.
pub fn profile_for(name: &str) -> &'static dyn ProviderProfile {
    match name {
        "openai" => &OpenAiPlatform,
        "qwen_code" => &super::qwen_code::QwenCode,
        "iflow" => &super::iflow::IFlow,
        _ => &Plain,
    }
}
