//! The merged environment llmkp reads its configuration from: the process environment,
//! `--env-file` files, `./.env`, `<home>/.env` and `<home>/*.env`, highest precedence first.
//!
//! The process environment is never modified: every later module reads this snapshot, which keeps
//! tests free of global state and makes the precedence rules one piece of code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dotenv::parse_dotenv;

/// Where a `.env`-style file is looked for; built by the CLI from flags.
#[derive(Debug, Clone, Default)]
pub struct EnvFiles {
    /// `--env-file` files in the order given.
    pub explicit: Vec<PathBuf>,
    /// The working directory (its `.env` is loaded after the explicit files).
    pub cwd: Option<PathBuf>,
    /// The home directory (its `.env`, then other `*.env` files in byte order).
    pub home: Option<PathBuf>,
}

/// A warning found while loading; logged by the caller once logging is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning(pub String);

/// An `--env-file` that could not be read: a usage error.
#[derive(Debug, thiserror::Error)]
#[error("cannot read env file {path}: {source}")]
pub struct EnvFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A snapshot of variables with the precedence already applied.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Files that were loaded, for the debug log.
    pub loaded_files: Vec<PathBuf>,
}

impl Env {
    /// An environment made only of the given pairs (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), loaded_files: Vec::new() }
    }

    /// Process environment first, then each file; a variable set by an earlier source is never
    /// overridden by a later one.
    pub fn load(
        process: impl IntoIterator<Item = (String, String)>,
        files: &EnvFiles,
    ) -> Result<(Self, Vec<LoadWarning>), EnvFileError> {
        let mut env = Self::from_pairs(process);
        let mut warnings = Vec::new();
        for path in &files.explicit {
            let text = std::fs::read_to_string(path).map_err(|source| EnvFileError { path: path.clone(), source })?;
            env.merge_file(path, &text, &mut warnings);
        }
        let mut optional: Vec<PathBuf> = Vec::new();
        if let Some(cwd) = &files.cwd {
            optional.push(cwd.join(".env"));
        }
        if let Some(home) = &files.home {
            optional.push(home.join(".env"));
            optional.extend(other_env_files(home));
        }
        let mut seen: Vec<PathBuf> = files.explicit.iter().filter_map(|p| p.canonicalize().ok()).collect();
        for path in optional {
            // The working directory is often the home directory itself: load each file once.
            let Ok(canonical) = path.canonicalize() else { continue };
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            match std::fs::read_to_string(&path) {
                Ok(text) => env.merge_file(&path, &text, &mut warnings),
                Err(err) => warnings.push(LoadWarning(format!("cannot read {}: {err}", path.display()))),
            }
        }
        Ok((env, warnings))
    }

    fn merge_file(&mut self, path: &Path, text: &str, warnings: &mut Vec<LoadWarning>) {
        let parsed = parse_dotenv(text, &|name| self.vars.get(name).cloned());
        for warning in parsed.warnings {
            warnings.push(LoadWarning(format!(
                "{}:{}: {}; line skipped",
                path.display(),
                warning.line,
                warning.reason
            )));
        }
        for (key, value) in parsed.entries {
            self.vars.entry(key).or_insert(value);
        }
        self.loaded_files.push(path.to_path_buf());
    }

    /// The value of `name`, if set (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name` when set and not blank, trimmed.
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `<home>/*.env` other than `.env` itself, in byte-wise name order.
fn other_env_files(home: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(home) else { return Vec::new() };
    let mut names: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".env") && n != ".env"))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_environment_wins_over_files_and_earlier_files_win_over_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cwd = dir.path().join("cwd");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(cwd.join(".env"), "A=cwd\nB=cwd\n").unwrap();
        std::fs::write(home.join(".env"), "A=home\nB=home\nC=home\nD=home\n").unwrap();
        std::fs::write(home.join("extra.env"), "D=extra\nE=extra\n").unwrap();
        let explicit = dir.path().join("first.env");
        std::fs::write(&explicit, "B=explicit\n").unwrap();
        let files = EnvFiles { explicit: vec![explicit], cwd: Some(cwd), home: Some(home) };
        let (env, warnings) = Env::load([("A".to_string(), "process".to_string())], &files).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(env.get("A"), Some("process"));
        assert_eq!(env.get("B"), Some("explicit"));
        assert_eq!(env.get("C"), Some("home"));
        assert_eq!(env.get("D"), Some("home"));
        assert_eq!(env.get("E"), Some("extra"));
    }

    #[test]
    fn home_equal_to_working_directory_is_loaded_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\n").unwrap();
        let files = EnvFiles { explicit: vec![], cwd: Some(dir.path().into()), home: Some(dir.path().into()) };
        let (env, _) = Env::load(Vec::new(), &files).unwrap();
        assert_eq!(env.loaded_files.len(), 1);
    }

    #[test]
    fn missing_explicit_env_file_is_an_error() {
        let files = EnvFiles { explicit: vec!["/nonexistent/x.env".into()], ..Default::default() };
        assert!(Env::load(Vec::new(), &files).is_err());
    }
}
