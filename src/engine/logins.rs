//! OAuth logins kept ready while serving (credentials specification §6): a pass at start-up and
//! then every minute refreshes the tokens that are due and finds the project of logins whose
//! protocol needs one (Code Assist), so requests rarely wait for either.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::auth::oauth::refresh::RefreshError;
use crate::auth::oauth::runtime::OAuthHandle;
use crate::providers::Provider;

/// How often the background pass runs.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);

impl Engine {
    /// One pass over every OAuth login, in parallel. Failures are logged (never a token) and
    /// left to the next pass or the next request; refused refresh tokens mark the login.
    pub async fn refresh_logins(&self) {
        let logins: Vec<(Arc<Provider>, Arc<OAuthHandle>)> = self
            .registry
            .providers()
            .flat_map(|p| p.credentials.iter().filter_map(move |c| c.oauth.clone().map(|h| (p.clone(), h))))
            .collect();
        futures::future::join_all(logins.iter().map(|(provider, handle)| self.refresh_login(provider, handle))).await;
    }

    async fn refresh_login(&self, provider: &Provider, handle: &Arc<OAuthHandle>) {
        handle.retry_unsaved().await;
        match handle.ensure_fresh(&self.http).await {
            Ok(()) => {}
            // Logged with the fix by the handle itself.
            Err(RefreshError::NeedsReauth(_)) => return,
            Err(err) => {
                tracing::warn!(provider = %provider.name, "background token refresh failed: {err}");
                return;
            }
        }
        if provider.adapter.needs_project()
            && handle.project().is_none()
            && let Err(message) = self.ensure_project(provider, handle).await
        {
            tracing::warn!(provider = %provider.name, "Code Assist project discovery failed: {message}");
        }
    }

    /// Clears `needs_reauth` of the logins in a scope (the `reset` action); `credential` is a
    /// credential id.
    pub fn clear_needs_reauth(&self, provider: Option<&str>, credential: Option<&str>) {
        for p in self.registry.providers().filter(|p| provider.is_none_or(|name| name == p.name)) {
            for c in p.credentials.iter().filter(|c| credential.is_none_or(|id| id == c.id.as_str())) {
                if let Some(handle) = &c.oauth {
                    handle.clear_needs_reauth();
                }
            }
        }
    }

    /// Finds (and stores) the project of a login whose protocol needs one and that has none.
    pub(super) async fn ensure_project(&self, provider: &Provider, handle: &OAuthHandle) -> Result<(), String> {
        let token = handle.bearer().unwrap_or_default();
        if let Some(found) = provider.adapter.discover_project(&self.http, provider, &token).await? {
            handle.set_project(&found.project, found.tier.as_deref()).await;
        }
        Ok(())
    }

    /// Runs [`Self::refresh_logins`] now (unless `first_pass` is false) and then every
    /// [`REFRESH_EVERY`], until the returned task is aborted.
    pub fn spawn_login_refresher(self: &Arc<Self>, first_pass: bool) -> tokio::task::JoinHandle<()> {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            if !first_pass {
                tokio::time::sleep(REFRESH_EVERY).await;
            }
            loop {
                engine.refresh_logins().await;
                tokio::time::sleep(REFRESH_EVERY).await;
            }
        })
    }
}
