//! Typed reads of configuration values: booleans, durations, numbers and lists, with one WARN
//! (collected, not printed) naming the variable whenever a value is rejected and the default used.

use std::time::Duration;

use super::env::{Env, LoadWarning};

/// Reads typed values from an [`Env`], collecting a warning for every rejected value.
pub struct ValueReader<'a> {
    env: &'a Env,
    pub warnings: Vec<LoadWarning>,
}

impl<'a> ValueReader<'a> {
    pub fn new(env: &'a Env) -> Self {
        Self { env, warnings: Vec::new() }
    }

    pub fn env(&self) -> &'a Env {
        self.env
    }

    fn reject(&mut self, name: &str, expected: &str, default: impl std::fmt::Display) {
        self.warnings.push(LoadWarning(format!("{name}: expected {expected}; using the default {default}")));
    }

    /// `true/false`, `1/0`, `yes/no`, `on/off`, case-insensitive.
    pub fn bool(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.env.get_nonempty(name) else { return default };
        match parse_bool(raw) {
            Some(v) => v,
            None => {
                self.reject(name, "a boolean (true/false, 1/0, yes/no, on/off)", default);
                default
            }
        }
    }

    /// Seconds, decimals allowed; negative values are rejected.
    pub fn seconds(&mut self, name: &str, default: f64) -> Duration {
        let Some(raw) = self.env.get_nonempty(name) else { return Duration::from_secs_f64(default) };
        match raw.parse::<f64>() {
            Ok(v) if (0.0..=MAX_SECONDS).contains(&v) => Duration::from_secs_f64(v),
            _ => {
                self.reject(name, "a number of seconds from 0 to 10 years", default);
                Duration::from_secs_f64(default)
            }
        }
    }

    /// A non-negative integer.
    pub fn u64(&mut self, name: &str, default: u64) -> u64 {
        let Some(raw) = self.env.get_nonempty(name) else { return default };
        match raw.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                self.reject(name, "a non-negative integer", default);
                default
            }
        }
    }

    /// A positive integer (at least 1).
    pub fn positive(&mut self, name: &str, default: u64) -> u64 {
        let Some(raw) = self.env.get_nonempty(name) else { return default };
        match raw.parse::<u64>() {
            Ok(v) if v >= 1 => v,
            _ => {
                self.reject(name, "a positive integer", default);
                default
            }
        }
    }

    /// Comma-separated entries, trimmed, empties dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.env.get(name).map(parse_list).unwrap_or_default()
    }
}

/// Ten years: longer is a typo, and would overflow deadline arithmetic.
const MAX_SECONDS: f64 = 315_360_000.0;

pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn parse_list(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_warns_naming_the_variable_and_uses_default() {
        let env = Env::from_pairs([("GLOBAL_TIMEOUT", "fast"), ("REQUIRE_PROXY_KEY", "YES")]);
        let mut r = ValueReader::new(&env);
        assert_eq!(r.seconds("GLOBAL_TIMEOUT", 30.0), Duration::from_secs(30));
        assert!(r.bool("REQUIRE_PROXY_KEY", false));
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].0.starts_with("GLOBAL_TIMEOUT:"));
        assert!(!r.warnings[0].0.contains("fast"), "values may be secrets and are not echoed");
    }

    #[test]
    fn absurd_durations_warn_instead_of_panicking() {
        let env = Env::from_pairs([("GLOBAL_TIMEOUT", "1e300")]);
        let mut r = ValueReader::new(&env);
        assert_eq!(r.seconds("GLOBAL_TIMEOUT", 30.0), Duration::from_secs(30));
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn lists_are_trimmed_and_empties_dropped() {
        assert_eq!(parse_list(" a, ,b ,"), vec!["a", "b"]);
    }

    #[test]
    fn decimal_seconds_are_accepted() {
        let env = Env::from_pairs([("TRANSIENT_RETRY_DELAY", "0.25")]);
        assert_eq!(ValueReader::new(&env).seconds("TRANSIENT_RETRY_DELAY", 1.0), Duration::from_millis(250));
    }
}
