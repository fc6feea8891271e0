//! The credential status report behind `llmkp keys list`, `llmkp quota show` and
//! `GET /v1/quota-stats`: per provider and credential, state (active, cooling, locked), the
//! cooldowns with their reasons, and usage per scope in the current window and in total. Built
//! from the configuration and a state snapshot, so the CLI and the server show the same thing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::settings::PoolSettings;
use crate::auth::Credential;
use crate::providers::Registry;
use crate::store::{CooldownKindRecord, StateSnapshot, UsageCounters};

#[derive(Debug, Clone, Serialize)]
pub struct QuotaReport {
    pub providers: BTreeMap<String, ProviderReport>,
    pub summary: Summary,
    /// `state_db` (read from the database), `shared_store` (read from the Redis of
    /// `LLMKP_STATE_URL`) or `live` (from a running server's pool).
    pub data_source: &'static str,
    /// Unix seconds.
    pub timestamp: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total_providers: usize,
    pub total_credentials: usize,
    pub active_credentials: usize,
    pub total_requests: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderReport {
    pub provider: String,
    pub rotation_mode: &'static str,
    pub credential_count: usize,
    pub active_count: usize,
    pub total_requests: u64,
    pub tokens: TokenTotals,
    /// List-price cost of the current windows (models missing from the price table count 0).
    pub approx_cost_usd: f64,
    pub credentials: Vec<CredentialReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenTotals {
    pub input_cached: u64,
    pub input_uncached: u64,
    pub output: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialReport {
    pub stable_id: String,
    pub accessor_masked: String,
    /// Where it was configured (`OPENAI_API_KEY_2`).
    pub source: String,
    pub kind: &'static str,
    pub priority: u32,
    /// `active`, `cooldown`, `locked`, `exhausted` (fair cycle) or `unknown_provider`.
    pub status: &'static str,
    /// Requests in flight now (only known to a running server).
    pub active_requests: Option<u32>,
    pub cooldowns: BTreeMap<String, CooldownReport>,
    /// Usage per scope (model or quota group).
    pub scopes: BTreeMap<String, ScopeUsage>,
    /// Sum over scopes of the current windows.
    pub window: UsageCounters,
}

#[derive(Debug, Clone, Serialize)]
pub struct CooldownReport {
    pub kind: &'static str,
    pub reason: String,
    pub remaining_seconds: u64,
    /// Unix seconds.
    pub until: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeUsage {
    pub window: UsageCounters,
    pub total: UsageCounters,
    /// Unix seconds: when the current window ends.
    pub reset_at: i64,
    /// Unix seconds.
    pub last_used: i64,
    /// Not known until an upstream reports it.
    pub limit: Option<u64>,
}

/// The rolling usage window of the pool, in milliseconds.
const WINDOW_MS: i64 = 24 * 3600 * 1000;

impl QuotaReport {
    /// `provider` limits the report to one provider; `active` gives in-flight counts per
    /// provider (a running server), in credential order.
    pub fn build(
        registry: &Registry,
        settings: &PoolSettings,
        snapshot: &StateSnapshot,
        provider: Option<&str>,
        active: &dyn Fn(&str) -> Option<Vec<u32>>,
        now_ms: i64,
    ) -> Self {
        let wanted = |name: &str| provider.is_none_or(|p| p == name);
        let mut providers = BTreeMap::new();
        for p in registry.providers().filter(|p| wanted(&p.name)) {
            let pool = settings.provider(&p.name);
            let counts = active(&p.name);
            let credentials: Vec<CredentialReport> = p
                .credentials
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut report = credential_report(&p.name, c, pool.priority_of(&c.source), snapshot, now_ms);
                    if c.needs_reauth() {
                        report.status = "needs_reauth";
                    }
                    CredentialReport { active_requests: counts.as_ref().and_then(|a| a.get(i).copied()), ..report }
                })
                .collect();
            providers.insert(p.name.clone(), provider_report(&p.name, pool.mode.as_str(), credentials));
        }
        for u in registry.unroutable.iter().filter(|u| wanted(&u.name)) {
            let credentials = u
                .credentials
                .iter()
                .map(|c| CredentialReport {
                    status: "unknown_provider",
                    ..credential_report(&u.name, c, 10, snapshot, now_ms)
                })
                .collect();
            providers.insert(u.name.clone(), provider_report(&u.name, "none", credentials));
        }
        let summary = Summary {
            total_providers: providers.len(),
            total_credentials: providers.values().map(|p| p.credential_count).sum(),
            active_credentials: providers.values().map(|p| p.active_count).sum(),
            total_requests: providers.values().map(|p| p.total_requests).sum(),
        };
        #[allow(clippy::cast_precision_loss)]
        let timestamp = now_ms as f64 / 1000.0;
        Self { providers, summary, data_source: "state_db", timestamp }
    }
}

fn provider_report(name: &str, mode: &'static str, credentials: Vec<CredentialReport>) -> ProviderReport {
    let mut tokens = TokenTotals::default();
    for c in &credentials {
        tokens.input_cached += c.window.cache_read_tokens;
        tokens.input_uncached += c.window.prompt_tokens + c.window.cache_write_tokens;
        tokens.output += c.window.completion_tokens + c.window.reasoning_tokens;
    }
    ProviderReport {
        provider: name.to_string(),
        rotation_mode: mode,
        credential_count: credentials.len(),
        active_count: credentials.iter().filter(|c| c.status == "active").count(),
        total_requests: credentials.iter().map(|c| c.window.requests).sum(),
        tokens,
        approx_cost_usd: credentials.iter().map(|c| c.window.cost_usd).sum(),
        credentials,
    }
}

fn credential_report(
    provider: &str,
    c: &Credential,
    priority: u32,
    snapshot: &StateSnapshot,
    now_ms: i64,
) -> CredentialReport {
    let mine = |p: &str, id: &str| p == provider && id == c.id.as_str();
    let cooldowns: BTreeMap<String, CooldownReport> = snapshot
        .cooldowns
        .iter()
        .filter(|r| mine(&r.key.provider, &r.key.credential) && r.until_ms > now_ms)
        .map(|r| {
            let report = CooldownReport {
                kind: r.kind.as_str(),
                reason: r.reason.clone(),
                remaining_seconds: u64::try_from((r.until_ms - now_ms + 999) / 1000).unwrap_or(0),
                until: r.until_ms / 1000,
            };
            (r.scope.clone(), report)
        })
        .collect();
    let mut window = UsageCounters::default();
    let mut scopes = BTreeMap::new();
    for u in snapshot.usage.iter().filter(|u| mine(&u.key.provider, &u.key.credential)) {
        let current = if u.window_start_ms + WINDOW_MS > now_ms { u.window } else { UsageCounters::default() };
        window.add(&current);
        let usage = ScopeUsage {
            window: current,
            total: u.total,
            reset_at: (u.window_start_ms + WINDOW_MS) / 1000,
            last_used: u.last_used_ms / 1000,
            limit: None,
        };
        scopes.insert(u.scope.clone(), usage);
    }
    let status = if snapshot.cooldowns.iter().any(|r| {
        mine(&r.key.provider, &r.key.credential) && r.until_ms > now_ms && r.kind == CooldownKindRecord::Lockout
    }) {
        "locked"
    } else if cooldowns.values().any(|c| c.kind == CooldownKindRecord::Quota.as_str()) {
        "cooldown"
    } else if snapshot.fair_cycle.iter().any(|f| mine(&f.key.provider, &f.key.credential)) {
        "exhausted"
    } else {
        "active"
    };
    CredentialReport {
        stable_id: c.id.as_str().to_string(),
        accessor_masked: c.masked.clone(),
        source: c.source.clone(),
        kind: "api_key",
        priority,
        status,
        active_requests: None,
        cooldowns,
        scopes,
        window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use crate::store::{CooldownRecord, CredentialKey, UsageRecord};

    #[test]
    fn statuses_cooldowns_and_window_usage_come_from_the_snapshot() {
        let env = Env::from_pairs([
            ("OPENAI_API_KEY_1", "sk-aaaaaaaaaaaa1111"),
            ("OPENAI_API_KEY_2", "sk-bbbbbbbbbbbb2222"),
            ("NOSUCH_API_KEY", "zzzzzzzzzzzz"),
        ]);
        let (registry, _) = Registry::from_env(&env);
        let settings = PoolSettings::from_env(&env, &registry.names()).0;
        let openai = registry.get("openai").unwrap();
        let key = |i: usize| CredentialKey {
            provider: "openai".into(),
            credential: openai.credentials[i].id.as_str().into(),
        };
        let now = 1_000_000_000;
        let snapshot = StateSnapshot {
            cooldowns: vec![CooldownRecord {
                key: key(1),
                scope: "gpt-4o".into(),
                kind: CooldownKindRecord::Quota,
                reason: "rate_limit".into(),
                set_at_ms: now - 1000,
                until_ms: now + 6500,
            }],
            ladders: vec![],
            usage: vec![UsageRecord {
                key: key(0),
                scope: "gpt-4o".into(),
                window_start_ms: now - 1000,
                window: UsageCounters { requests: 3, successes: 3, prompt_tokens: 30, ..Default::default() },
                total: UsageCounters { requests: 10, ..Default::default() },
                first_used_ms: now - 5000,
                last_used_ms: now - 10,
            }],
            fair_cycle: vec![],
        };
        let report = QuotaReport::build(&registry, &settings, &snapshot, None, &|_| Some(vec![2, 0]), now);
        let p = &report.providers["openai"];
        assert_eq!((p.credential_count, p.active_count, p.total_requests), (2, 1, 3));
        assert_eq!(p.credentials[0].status, "active");
        assert_eq!(p.credentials[0].active_requests, Some(2));
        assert_eq!(p.credentials[1].status, "cooldown");
        assert_eq!(p.credentials[1].cooldowns["gpt-4o"].remaining_seconds, 7);
        assert_eq!(p.credentials[0].accessor_masked, "…1111");
        assert_eq!(report.providers["nosuch"].credentials[0].status, "unknown_provider");
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("sk-aaaaaaaaaaaa1111"), "no secret in the report");
        let only = QuotaReport::build(&registry, &settings, &snapshot, Some("openai"), &|_| None, now);
        assert_eq!(only.providers.len(), 1);
    }
}
