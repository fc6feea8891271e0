//! Rotation and concurrency settings per provider, and the cooldown ladders, resolved once from
//! the merged environment (configuration reference §4–§6).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::caps::{CustomCap, caps_from_env};
use crate::config::env_names as names;
use crate::config::values::{ValueReader, parse_list};
use crate::config::{Env, LoadWarning};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationMode {
    /// Spread requests: tolerance-weighted random over usage.
    Balanced,
    /// Stay on one credential until it cools down (keeps prompt caches warm).
    Sequential,
}

impl RotationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Balanced => "balanced",
            Self::Sequential => "sequential",
        }
    }
}

/// The settings of one provider's pool.
#[derive(Debug, Clone)]
pub struct ProviderPoolSettings {
    pub mode: RotationMode,
    /// Balanced-mode randomness T (0 = deterministic least-used).
    pub tolerance: f64,
    /// Session stickiness in balanced mode (sequential is always sticky).
    pub session_affinity: bool,
    /// Hard limit per credential before multipliers; ≤ 0 = unlimited.
    pub max_concurrent: i64,
    /// Soft target per credential; ≤ 0 = none.
    pub optimal_concurrent: i64,
    /// Multiplier of the hard limit by priority.
    pub multipliers: BTreeMap<u32, u32>,
    /// Multiplier for priorities without an entry (sequential mode).
    pub sequential_fallback_multiplier: u32,
    /// `CREDENTIAL_PRIORITY_<P>`: reference (variable name) → priority.
    pub priorities: HashMap<String, u32>,
    /// Quota groups: model → group name. Members share cooldowns and usage.
    pub quota_groups: HashMap<String, String>,
    pub fair_cycle: FairCycleSettings,
    pub caps: Vec<CustomCap>,
}

/// Fair cycle (resilience specification §11.2): use every credential of a tier until it is
/// exhausted before going back to any of them.
#[derive(Debug, Clone)]
pub struct FairCycleSettings {
    pub enabled: bool,
    /// Track per whole credential instead of per quota group / model.
    pub per_credential: bool,
    /// Every tier must be exhausted before a reset.
    pub cross_tier: bool,
    /// A cycle resets after this long anyway.
    pub duration: Duration,
    /// Delay a reset while some cooldown ends within this.
    pub reset_cooldown_threshold: Duration,
    /// A cooldown at least this long exhausts the credential.
    pub exhaustion_threshold: Duration,
}

impl FairCycleSettings {
    /// The key exhaustion is tracked under for `scope`.
    pub fn tracking_key<'a>(&self, scope: &'a str) -> &'a str {
        if self.per_credential { "_credential_" } else { scope }
    }
}

impl ProviderPoolSettings {
    /// Effective hard limit for a credential of `priority`; `None` = unlimited.
    pub fn effective_max(&self, priority: u32) -> Option<u32> {
        if self.max_concurrent <= 0 {
            return None;
        }
        let multiplier = self.multipliers.get(&priority).copied().unwrap_or(match self.mode {
            RotationMode::Sequential => self.sequential_fallback_multiplier,
            RotationMode::Balanced => 1,
        });
        Some(u32::try_from(self.max_concurrent).unwrap_or(u32::MAX).saturating_mul(multiplier.max(1)))
    }

    /// Effective soft target; `None` = no preference.
    pub fn effective_optimal(&self) -> Option<u32> {
        (self.optimal_concurrent > 0).then(|| u32::try_from(self.optimal_concurrent).unwrap_or(u32::MAX))
    }

    /// The scope a model's cooldowns and usage live in: its quota group, else the model.
    pub fn scope_of(&self, model: &str) -> String {
        self.quota_groups.get(model).cloned().unwrap_or_else(|| model.to_string())
    }

    /// Priority of a credential from its source reference; API keys default to 10.
    pub fn priority_of(&self, source: &str) -> u32 {
        self.priorities.get(source).copied().unwrap_or(DEFAULT_API_KEY_PRIORITY)
    }
}

pub const DEFAULT_API_KEY_PRIORITY: u32 = 10;

/// Settings shared by all providers plus each provider's own.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub backoff_ladder: Vec<Duration>,
    pub auth_ladder: Vec<Duration>,
    pub max_cooldown: Duration,
    pub session_ttl: Duration,
    pub sticky_wait: Duration,
    providers: HashMap<String, ProviderPoolSettings>,
    default_provider: ProviderPoolSettings,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self::from_env(&Env::default(), &[]).0
    }
}

impl PoolSettings {
    pub fn from_env(env: &Env, providers: &[&str]) -> (Self, Vec<LoadWarning>) {
        let mut r = ValueReader::new(env);
        let backoff_ladder = ladder(&mut r, names::COOLDOWN_BACKOFF_LADDER, &[10, 30, 60, 120, 300]);
        let auth_ladder = ladder(&mut r, names::COOLDOWN_AUTH_LADDER, &[300, 1800, 3600]);
        let max_cooldown = r.seconds(names::MAX_COOLDOWN_SECONDS, 604_800.0);
        let session_ttl = r.seconds(names::SESSION_TTL, 3600.0);
        let sticky_wait = r.seconds(names::STICKY_WAIT_SECONDS, 15.0);
        let global_tolerance = float(&mut r, names::ROTATION_TOLERANCE, 3.0);
        let mut provider_settings = HashMap::new();
        for name in providers {
            let settings = provider_settings_from(&mut r, name, global_tolerance);
            provider_settings.insert((*name).to_string(), settings);
        }
        let default_provider = provider_settings_from(&mut ValueReader::new(&Env::default()), "", global_tolerance);
        let settings = Self {
            backoff_ladder,
            auth_ladder,
            max_cooldown,
            session_ttl,
            sticky_wait,
            providers: provider_settings,
            default_provider,
        };
        (settings, r.warnings)
    }

    pub fn provider(&self, name: &str) -> &ProviderPoolSettings {
        self.providers.get(name).unwrap_or(&self.default_provider)
    }
}

fn provider_settings_from(r: &mut ValueReader<'_>, provider: &str, global_tolerance: f64) -> ProviderPoolSettings {
    let p = provider.to_ascii_uppercase();
    let env = r.env();
    let mode = match env.get_nonempty(&format!("ROTATION_MODE_{p}")).map(str::to_ascii_lowercase).as_deref() {
        None => RotationMode::Sequential,
        Some("balanced") => RotationMode::Balanced,
        Some("sequential") => RotationMode::Sequential,
        Some(_) => {
            r.warnings
                .push(LoadWarning(format!("ROTATION_MODE_{p}: expected balanced or sequential; using sequential")));
            RotationMode::Sequential
        }
    };
    let mode_suffix = match mode {
        RotationMode::Balanced => "BALANCED",
        RotationMode::Sequential => "SEQUENTIAL",
    };
    let tolerance = float(r, &format!("ROTATION_TOLERANCE_{p}"), global_tolerance);
    let session_affinity = r.bool(&format!("SESSION_AFFINITY_{p}"), false);
    let max_concurrent = int_most_specific(
        r,
        &[format!("MAX_CONCURRENT_REQUESTS_PER_KEY_{p}_{mode_suffix}"), format!("MAX_CONCURRENT_REQUESTS_PER_KEY_{p}")],
        -1,
    );
    let optimal_default = match mode {
        RotationMode::Balanced => 1,
        RotationMode::Sequential => -1,
    };
    let optimal_concurrent = int_most_specific(
        r,
        &[
            format!("OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_{p}_{mode_suffix}"),
            format!("OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_{p}"),
        ],
        optimal_default,
    );
    let multiplier_prefix = format!("CONCURRENCY_MULTIPLIER_{p}_PRIORITY_");
    let mut multipliers = BTreeMap::new();
    let mut mode_specific = BTreeMap::new();
    for (name, value) in env.iter() {
        let Some(rest) = name.strip_prefix(&multiplier_prefix) else { continue };
        let (priority, specific) = match rest.split_once('_') {
            Some((n, m)) if m == mode_suffix => (n, true),
            Some(_) => continue,
            None => (rest, false),
        };
        let (Ok(priority), Ok(multiplier)) = (priority.parse::<u32>(), value.trim().parse::<u32>()) else {
            r.warnings.push(LoadWarning(format!("{name}: expected a positive integer multiplier; ignored")));
            continue;
        };
        if multiplier < 1 {
            r.warnings.push(LoadWarning(format!("{name}: multipliers below 1 are ignored")));
            continue;
        }
        let target = if specific { &mut mode_specific } else { &mut multipliers };
        target.insert(priority, multiplier);
    }
    multipliers.extend(mode_specific);
    let sequential_fallback_multiplier =
        u32::try_from(r.positive(&format!("SEQUENTIAL_FALLBACK_MULTIPLIER_{p}"), 1)).unwrap_or(1);
    let priorities = credential_priorities(r, &format!("CREDENTIAL_PRIORITY_{p}"));
    let quota_groups = quota_groups(env, &format!("QUOTA_GROUPS_{p}_"));
    let fair_cycle_default = mode == RotationMode::Sequential;
    let fair_cycle_var = if env.get_nonempty(&format!("FAIR_CYCLE_{p}")).is_some() {
        format!("FAIR_CYCLE_{p}")
    } else {
        format!("FAIR_CYCLE_ENABLED_{p}")
    };
    let per_credential =
        match env.get_nonempty(&format!("FAIR_CYCLE_TRACKING_MODE_{p}")).map(str::to_ascii_lowercase).as_deref() {
            None | Some("model_group") => false,
            Some("credential") => true,
            Some(_) => {
                r.warnings.push(LoadWarning(format!(
                    "FAIR_CYCLE_TRACKING_MODE_{p}: expected model_group or credential; using model_group"
                )));
                false
            }
        };
    let global_exhaustion = r.seconds(names::EXHAUSTION_COOLDOWN_THRESHOLD, 300.0).as_secs_f64();
    let fair_cycle = FairCycleSettings {
        enabled: r.bool(&fair_cycle_var, fair_cycle_default),
        per_credential,
        cross_tier: r.bool(&format!("FAIR_CYCLE_CROSS_TIER_{p}"), false),
        duration: r.seconds(&format!("FAIR_CYCLE_DURATION_{p}"), 604_800.0),
        reset_cooldown_threshold: r.seconds(&format!("FAIR_CYCLE_RESET_COOLDOWN_THRESHOLD_{p}"), 90.0),
        exhaustion_threshold: r.seconds(&format!("EXHAUSTION_COOLDOWN_THRESHOLD_{p}"), global_exhaustion),
    };
    let caps = caps_from_env(env, &p, &mut r.warnings);
    ProviderPoolSettings {
        mode,
        tolerance,
        session_affinity,
        max_concurrent,
        optimal_concurrent,
        multipliers,
        sequential_fallback_multiplier,
        priorities,
        quota_groups,
        fair_cycle,
        caps,
    }
}

/// `ref:priority` entries; bad entries are skipped with a warning.
fn credential_priorities(r: &mut ValueReader<'_>, name: &str) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for entry in r.list(name) {
        match entry.rsplit_once(':').map(|(k, v)| (k.trim(), v.trim().parse::<u32>())) {
            Some((reference, Ok(priority))) if !reference.is_empty() => {
                out.insert(reference.to_string(), priority);
            }
            _ => r.warnings.push(LoadWarning(format!("{name}: entries are ref:priority; one entry ignored"))),
        }
    }
    out
}

/// `QUOTA_GROUPS_<P>_<GROUP>=m1,m2`: model → group name (lower case; an empty list defines nothing).
fn quota_groups(env: &Env, prefix: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (name, value) in env.iter() {
        let Some(group) = name.strip_prefix(prefix) else { continue };
        let group = group.to_ascii_lowercase().replace('_', "-");
        for model in parse_list(value) {
            out.insert(model, group.clone());
        }
    }
    out
}

fn int_most_specific(r: &mut ValueReader<'_>, names: &[String], default: i64) -> i64 {
    for name in names {
        if let Some(raw) = r.env().get_nonempty(name) {
            match raw.parse::<i64>() {
                Ok(v) => return v,
                Err(_) => r.warnings.push(LoadWarning(format!("{name}: expected an integer; ignored"))),
            }
        }
    }
    default
}

fn float(r: &mut ValueReader<'_>, name: &str, default: f64) -> f64 {
    let Some(raw) = r.env().get_nonempty(name) else { return default };
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => v,
        _ => {
            r.warnings.push(LoadWarning(format!("{name}: expected a non-negative number; using {default}")));
            default
        }
    }
}

fn ladder(r: &mut ValueReader<'_>, name: &str, default: &[u64]) -> Vec<Duration> {
    let fallback = || default.iter().map(|s| Duration::from_secs(*s)).collect();
    let Some(raw) = r.env().get_nonempty(name) else { return fallback() };
    let parsed: Option<Vec<Duration>> = parse_list(raw)
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|v| (1.0..=315_360_000.0).contains(v)).map(Duration::from_secs_f64))
        .collect();
    match parsed.filter(|l| !l.is_empty()) {
        Some(ladder) => ladder,
        None => {
            r.warnings.push(LoadWarning(format!("{name}: expected a comma list of seconds; using the default")));
            fallback()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (PoolSettings, Vec<LoadWarning>) {
        PoolSettings::from_env(&Env::from_pairs(pairs.iter().copied()), &["openai", "gemini_cli"])
    }

    #[test]
    fn defaults_follow_the_configuration_reference() {
        let (s, warnings) = settings(&[]);
        assert!(warnings.is_empty());
        let p = s.provider("openai");
        assert_eq!(p.mode, RotationMode::Sequential);
        assert_eq!(p.tolerance, 3.0);
        assert_eq!(p.effective_max(10), None);
        assert_eq!(p.effective_optimal(), None);
        assert_eq!(s.backoff_ladder, [10, 30, 60, 120, 300].map(Duration::from_secs));
        assert_eq!(s.auth_ladder, [300, 1800, 3600].map(Duration::from_secs));
        assert_eq!(s.sticky_wait, Duration::from_secs(15));
    }

    #[test]
    fn mode_specific_values_and_multipliers_win() {
        let (s, _) = settings(&[
            ("ROTATION_MODE_OPENAI", "balanced"),
            ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "3"),
            ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI_BALANCED", "2"),
            ("CONCURRENCY_MULTIPLIER_OPENAI_PRIORITY_1", "4"),
            ("CONCURRENCY_MULTIPLIER_OPENAI_PRIORITY_1_BALANCED", "3"),
            ("ROTATION_TOLERANCE", "0"),
        ]);
        let p = s.provider("openai");
        assert_eq!(p.mode, RotationMode::Balanced);
        assert_eq!(p.effective_max(1), Some(6));
        assert_eq!(p.effective_max(10), Some(2));
        assert_eq!(p.effective_optimal(), Some(1), "balanced default optimal is 1");
        assert_eq!(p.tolerance, 0.0);
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (s, warnings) = settings(&[("ROTATION_MODE_OPENAI", "fast"), ("COOLDOWN_BACKOFF_LADDER", "a,b")]);
        assert_eq!(s.provider("openai").mode, RotationMode::Sequential);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].0.contains("COOLDOWN_BACKOFF_LADDER") || warnings[1].0.contains("COOLDOWN_BACKOFF_LADDER"));
    }

    #[test]
    fn priorities_and_quota_groups_are_read() {
        let (s, _) = settings(&[
            ("CREDENTIAL_PRIORITY_OPENAI", "OPENAI_API_KEY_2:1, OPENAI_API_KEY_3:5"),
            ("QUOTA_GROUPS_OPENAI_GPT4", "gpt-4o,gpt-4o-mini"),
        ]);
        let p = s.provider("openai");
        assert_eq!(p.priority_of("OPENAI_API_KEY_2"), 1);
        assert_eq!(p.priority_of("OPENAI_API_KEY_1"), 10);
        assert_eq!(p.scope_of("gpt-4o-mini"), "gpt4");
        assert_eq!(p.scope_of("o3"), "o3");
    }
}
