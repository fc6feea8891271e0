//! One client request, decoded once and never changed: the body as the client sent it (for
//! passthrough and the session key's hints), its family, and its canonical form (decoded up
//! front by families that validate in full, else the first time a translated target needs it).

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::formats::InvalidRequest;
use crate::formats::family::{ClientFamily, Head};
use crate::formats::ir;

pub struct ClientRequest {
    family: Box<dyn ClientFamily>,
    body: Map<String, Value>,
    model: String,
    stream: bool,
    canonical: OnceLock<Result<ir::Request, InvalidRequest>>,
}

impl ClientRequest {
    /// `head` is what the family's parser learned from `body`.
    pub fn new(family: Box<dyn ClientFamily>, head: Head, body: Map<String, Value>) -> Self {
        let canonical = OnceLock::new();
        if let Some(request) = head.canonical {
            let _ = canonical.set(Ok(request));
        }
        Self { family, body, model: head.model, stream: head.stream, canonical }
    }

    /// The `model` the client asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn stream(&self) -> bool {
        self.stream
    }

    /// The body as the client sent it.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    pub fn family(&self) -> &dyn ClientFamily {
        self.family.as_ref()
    }

    /// The request in canonical form, decoded at most once.
    pub fn canonical(&self) -> Result<&ir::Request, InvalidRequest> {
        self.canonical.get_or_init(|| self.family.decode(&self.body)).as_ref().map_err(Clone::clone)
    }

    /// The conversation's opening in canonical form (what the session key reads): the decoded
    /// request when there is one, else only the opening, decoded by the family.
    pub fn opening(&self) -> Cow<'_, ir::Request> {
        match self.canonical.get() {
            Some(Ok(request)) => Cow::Borrowed(request),
            _ => Cow::Owned(self.family.opening(&self.body)),
        }
    }
}
