//! Label values that stay bounded whatever clients send: provider names come from the
//! configuration, model names only when the bundled price table knows them (and then at most
//! [`MAX_MODEL_LABELS`] of them); everything else is `other`.

use std::collections::BTreeSet;
use std::sync::{Mutex, RwLock};

/// What a label becomes when its value is not one the configuration or the price table knows.
pub const OTHER: &str = "other";
/// No provider or model was involved (a request refused before routing).
pub const NONE: &str = "none";
/// Distinct model labels kept at most; later new ones become `other`.
pub const MAX_MODEL_LABELS: usize = 256;

static PROVIDERS: RwLock<BTreeSet<String>> = RwLock::new(BTreeSet::new());
static MODELS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The configured providers (set at start and at each reload). Names seen before stay known so
/// that series already exported keep their labels.
pub fn set_providers<'a>(names: impl IntoIterator<Item = &'a str>) {
    let mut known = PROVIDERS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    known.extend(names.into_iter().map(str::to_string));
    super::series::invalidate();
}

/// `name` when it is a configured provider, else `other`.
pub fn provider(name: &str) -> String {
    let known = PROVIDERS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if known.contains(name) { name.to_string() } else { OTHER.to_string() }
}

/// The provider part of a `provider/model` id, bounded as [`provider`].
pub fn provider_of(model_id: &str) -> String {
    match model_id.split_once('/') {
        Some((p, _)) => provider(p),
        None => OTHER.to_string(),
    }
}

/// A `provider/model` id as a label: kept when its provider is configured and the price table
/// knows the model, while fewer than [`MAX_MODEL_LABELS`] models have been labelled.
pub fn model(model_id: &str) -> String {
    let model_id = model_id.trim();
    if provider_of(model_id) == OTHER || crate::catalog::pricing::lookup(model_id).is_none() {
        return OTHER.to_string();
    }
    let mut seen = MODELS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(model_id) {
        return model_id.to_string();
    }
    if seen.len() >= MAX_MODEL_LABELS || model_id.len() > 128 {
        return OTHER.to_string();
    }
    seen.insert(model_id.to_string());
    model_id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_providers_and_models_become_other() {
        set_providers(["labeltest"]);
        assert_eq!(provider("labeltest"), "labeltest");
        assert_eq!(provider("made-up-by-a-client"), OTHER);
        assert_eq!(model("made-up/gpt-4o"), OTHER);
        assert_eq!(model("labeltest/no-such-model-xyz"), OTHER);
        assert_eq!(model("labeltest/gpt-4o"), "labeltest/gpt-4o");
    }
}
