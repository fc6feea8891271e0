//! Custom caps (resilience specification §11.3): `CUSTOM_CAP_<P>_T<tiers>_<MODEL_OR_GROUP>` limits
//! how many requests a credential of those tiers makes for a model or group in a window; reaching
//! the cap cools the credential down (`CUSTOM_CAP_COOLDOWN_…`).

use std::time::Duration;

use crate::config::{Env, LoadWarning};

/// A window limit the upstream has not reported is taken as this for relative caps.
const ASSUMED_WINDOW_LIMIT: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapValue {
    Absolute(u64),
    /// Window limit plus (or minus) this.
    Offset(i64),
    /// Percent of the window limit.
    Percent(u64),
}

impl CapValue {
    fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if let Some(p) = raw.strip_suffix('%') {
            return p.trim().parse().ok().map(Self::Percent);
        }
        if raw.starts_with('+') || raw.starts_with('-') {
            return raw.parse().ok().map(Self::Offset);
        }
        raw.parse().ok().map(Self::Absolute)
    }

    /// The cap in requests, given the window limit when the upstream reported one.
    pub fn requests(self, limit: Option<u64>) -> u64 {
        let limit = limit.unwrap_or(ASSUMED_WINDOW_LIMIT);
        match self {
            Self::Absolute(n) => n,
            Self::Offset(d) => limit.saturating_add_signed(d),
            Self::Percent(p) => limit.saturating_mul(p) / 100,
        }
    }
}

/// How long a credential rests once it reaches its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapCooldown {
    /// Until the window resets.
    QuotaReset,
    /// Until the window resets, plus this.
    Offset(Duration),
    /// For this long from now.
    Fixed(Duration),
}

impl CapCooldown {
    fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase();
        let secs = |s: &str| s.trim().parse::<u64>().ok().map(Duration::from_secs);
        match raw.split_once(':') {
            None if raw == "quota_reset" => Some(Self::QuotaReset),
            Some(("offset", s)) => secs(s).map(Self::Offset),
            Some(("fixed", s)) => secs(s).map(Self::Fixed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomCap {
    /// `None` = `TDEFAULT` (tiers without a cap of their own).
    pub tiers: Option<Vec<u32>>,
    /// Upper-case, `-` and `.` as `_`.
    matcher: String,
    pub value: CapValue,
    pub cooldown: CapCooldown,
}

/// `CLAUDE_OPUS_4_5` matches `claude-opus-4.5` and `claude-opus-4-5`.
fn normalize(name: &str) -> String {
    name.to_ascii_uppercase().replace(['-', '.'], "_")
}

/// The caps of provider `p` (upper case).
pub fn caps_from_env(env: &Env, p: &str, warnings: &mut Vec<LoadWarning>) -> Vec<CustomCap> {
    let prefix = format!("CUSTOM_CAP_{p}_T");
    let mut caps = Vec::new();
    for (name, value) in env.iter() {
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let Some((tiers, matcher)) = split_tiers(rest) else {
            warnings.push(LoadWarning(format!("{name}: expected CUSTOM_CAP_{p}_T<tiers>_<MODEL_OR_GROUP>; ignored")));
            continue;
        };
        let Some(value) = CapValue::parse(value) else {
            warnings.push(LoadWarning(format!("{name}: expected a count, +n, -n or n%; ignored")));
            continue;
        };
        let cooldown_var = format!("CUSTOM_CAP_COOLDOWN_{p}_T{rest}");
        let cooldown = match env.get_nonempty(&cooldown_var) {
            None => CapCooldown::QuotaReset,
            Some(raw) => CapCooldown::parse(raw).unwrap_or_else(|| {
                warnings.push(LoadWarning(format!(
                    "{cooldown_var}: expected quota_reset, offset:<s> or fixed:<s>; using quota_reset"
                )));
                CapCooldown::QuotaReset
            }),
        };
        caps.push(CustomCap { tiers, matcher, value, cooldown });
    }
    caps
}

/// `2_3_CLAUDE` → tiers [2, 3], matcher `CLAUDE`; `DEFAULT_X` → default tier.
fn split_tiers(rest: &str) -> Option<(Option<Vec<u32>>, String)> {
    if let Some(model) = rest.strip_prefix("DEFAULT_") {
        return (!model.is_empty()).then(|| (None, normalize(model)));
    }
    let mut tiers = Vec::new();
    let mut remaining = rest;
    while let Some((segment, tail)) = remaining.split_once('_') {
        match segment.parse::<u32>() {
            Ok(tier) => tiers.push(tier),
            Err(_) => break,
        }
        remaining = tail;
    }
    (!tiers.is_empty() && !remaining.is_empty()).then(|| (Some(tiers), normalize(remaining)))
}

/// The cap for a credential of `tier` in `scope`: its own tier's cap, else the default one.
pub fn cap_for<'a>(caps: &'a [CustomCap], tier: u32, scope: &str) -> Option<&'a CustomCap> {
    let scope = normalize(scope);
    let matching = || caps.iter().filter(|c| c.matcher == scope);
    matching()
        .find(|c| c.tiers.as_ref().is_some_and(|t| t.contains(&tier)))
        .or_else(|| matching().find(|c| c.tiers.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_read_per_tier_with_a_default_and_their_cooldowns() {
        let env = Env::from_pairs([
            ("CUSTOM_CAP_OPENAI_T2_3_CLAUDE_OPUS_4_5", "130"),
            ("CUSTOM_CAP_COOLDOWN_OPENAI_T2_3_CLAUDE_OPUS_4_5", "fixed:600"),
            ("CUSTOM_CAP_OPENAI_TDEFAULT_CLAUDE_OPUS_4_5", "80%"),
            ("CUSTOM_CAP_OPENAI_T1_GPT_4O", "-10"),
            ("CUSTOM_CAP_OPENAI_TX_BAD", "5"),
        ]);
        let mut warnings = Vec::new();
        let caps = caps_from_env(&env, "OPENAI", &mut warnings);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let tier2 = cap_for(&caps, 2, "claude-opus-4.5").unwrap();
        assert_eq!((tier2.value.requests(None), tier2.cooldown), (130, CapCooldown::Fixed(Duration::from_secs(600))));
        let other = cap_for(&caps, 7, "claude-opus-4-5").unwrap();
        assert_eq!((other.value.requests(None), other.cooldown), (800, CapCooldown::QuotaReset));
        assert_eq!(cap_for(&caps, 1, "gpt-4o").unwrap().value.requests(Some(500)), 490);
        assert!(cap_for(&caps, 2, "gpt-4o").is_none());
    }
}
