//! Live model lists: each provider's listing endpoint, fetched with the first credential that
//! works, cached in the catalog.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::Engine;
use super::upstream_events::{ReadError, ReadLimits, read_body};
use crate::catalog::ModelCard;
use crate::providers::Provider;

/// A listing call should be quick; a slow one must not hold `/v1/models` for the full deadline.
const LISTING_TIMEOUT: Duration = Duration::from_secs(15);

impl Engine {
    /// Every routable provider's models as `provider/model` cards (providers in name order,
    /// models the filters block left out), then the named fallback groups.
    pub async fn list_models(&self, force_refresh: bool) -> Vec<ModelCard> {
        let lists =
            futures::future::join_all(self.registry.providers().map(|p| self.provider_models(p, force_refresh))).await;
        let mut cards: Vec<ModelCard> = Vec::new();
        for card in lists.into_iter().flatten() {
            let model = card.id.strip_prefix(&format!("{}/", card.owned_by)).unwrap_or(&card.id).to_string();
            if self.filter.allows(&card.owned_by, &model) && !cards.iter().any(|c| c.id == card.id) {
                cards.push(card);
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        cards.extend(self.fallbacks.named().map(|(name, _)| ModelCard::named(name, "fallback-group", now)));
        cards.extend(self.aliases.listed().map(|(alias, _)| ModelCard::named(alias, "alias", now)));
        cards
    }

    async fn provider_models(&self, provider: &Provider, force_refresh: bool) -> Vec<ModelCard> {
        if !force_refresh && let Some(cards) = self.catalog.fresh(&provider.name, Instant::now()) {
            return cards;
        }
        match self.fetch_models(provider).await {
            Some(cards) => {
                self.catalog.store(&provider.name, cards.clone(), Instant::now());
                cards
            }
            None => self.catalog.store_failure(&provider.name, Instant::now()),
        }
    }

    /// `None` when no credential could fetch the list.
    async fn fetch_models(&self, provider: &Provider) -> Option<Vec<ModelCard>> {
        let url = provider.models_url.as_deref()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let timeout = LISTING_TIMEOUT.min(self.settings.global_timeout);
        for credential in &provider.credentials {
            let call = async {
                let response = provider
                    .adapter
                    .models_request(&self.http, url, credential)
                    .send()
                    .await
                    .map_err(ReadError::Transport)?;
                let status = response.status();
                let body = read_body(response, ReadLimits::body(&self.settings)).await?;
                Ok::<_, ReadError>((status, body))
            };
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok((status, body))) if status.is_success() => match parse_cards(provider, &body, now) {
                    Some(cards) => return Some(cards),
                    None => tracing::warn!(provider = %provider.name, "model list is not a list body"),
                },
                Ok(Ok((status, _))) => {
                    tracing::warn!(provider = %provider.name, credential = %credential.masked, status = status.as_u16(), "model list refused");
                }
                Ok(Err(err)) => {
                    tracing::warn!(provider = %provider.name, credential = %credential.masked, error = %err.failure().message, "model list failed");
                }
                Err(_) => {
                    tracing::warn!(provider = %provider.name, credential = %credential.masked, "model list timed out")
                }
            }
        }
        None
    }
}

fn parse_cards(provider: &Provider, body: &[u8], now: u64) -> Option<Vec<ModelCard>> {
    let models = provider.adapter.parse_model_list(body).ok()?;
    Some(models.iter().map(|m| ModelCard::new(&provider.name, &m.id, m.created.unwrap_or(now))).collect())
}
