//! OAuth credentials at rest (credentials specification §4, §5, §7): the `oauth_creds/` files
//! shared with the Python LLM-API-Key-Proxy, the environment (stateless) credentials, the
//! one-time import of `<PROVIDER>_OAUTH_<digits>` paths, duplicate detection and the
//! `.env-state` files that keep rotated refresh tokens of environment credentials alive.
//!
//! Reading is lenient (every shape the Python project, the official CLIs and gcloud write is
//! accepted); writing is lossless: a rewrite keeps every field llmkp does not know and writes the
//! known ones in the file's own formats.
//!
//! Secrets never sit in [`StoredCredential::raw`]: when a file is decoded, the string values of
//! the secret fields (`access_token`, `refresh_token`, `id_token`, `api_key`, `cookie`,
//! `client_secret`) move into the typed `secrecy` fields and `raw` keeps a `null` in their place
//! (so the key order survives); [`to_file_json`] writes them back. `Debug` output of a
//! credential therefore shows no secret.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::{CredentialSource, OAuthEndpoints, OAuthProvider, ProxyMetadata, StoredCredential, TokenSet};
use crate::config::Env;

/// The directory of credential files inside the home directory.
pub const OAUTH_DIR: &str = "oauth_creds";
/// `oauth_creds/.env-state/`: refreshed tokens of environment credentials (§5).
pub const ENV_STATE_DIR: &str = ".env-state";

const METADATA: &str = "_proxy_metadata";
/// gcloud-style files carry their token fields in this nested object (§4.3).
const NESTED: &str = "credential";
/// `.env-state` files: SHA-256 (hex) of the environment refresh token the saved tokens replaced.
const REPLACED_HASH: &str = "replaced_refresh_sha256";
/// Fields whose values are secrets: held in typed fields, `null` placeholders in `raw`.
const SECRET_FIELDS: [&str; 6] = ["access_token", "refresh_token", "id_token", "api_key", "cookie", "client_secret"];
const DEFAULT_QWEN_RESOURCE_URL: &str = "https://portal.qwen.ai/v1";
const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// A credential file that cannot be used. Messages name the file, never a value from it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: invalid JSON at line {line}, column {column}", path.display())]
    Json { path: PathBuf, line: usize, column: usize },
    #[error("{}: not a JSON object", path.display())]
    NotObject { path: PathBuf },
    #[error("{}: no access_token, refresh_token or cookie", path.display())]
    NoTokens { path: PathBuf },
}

/// `<home>/oauth_creds`.
pub fn oauth_dir(home: &Path) -> PathBuf {
    home.join(OAUTH_DIR)
}

/// The file a new or numbered credential of `provider` lives in.
pub fn file_path(home: &Path, provider: OAuthProvider, number: u32) -> PathBuf {
    oauth_dir(home).join(format!("{}_oauth_{number}.json", provider.name()))
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding one file
// ---------------------------------------------------------------------------------------------

/// Decodes one credential file (§4.3–§4.5). `path` and `number` become its
/// [`CredentialSource::File`]; the object is kept in `raw` (secrets replaced by `null`).
pub fn parse_file(
    provider: OAuthProvider,
    path: &Path,
    number: u32,
    json: &[u8],
) -> Result<StoredCredential, StoreError> {
    let value: Value = serde_json::from_slice(json).map_err(|e| StoreError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(raw) = value else {
        return Err(StoreError::NotObject { path: path.to_path_buf() });
    };
    let source = CredentialSource::File { path: path.to_path_buf(), number };
    decode(provider, source, raw).ok_or_else(|| StoreError::NoTokens { path: path.to_path_buf() })
}

/// The typed credential of a JSON object; `None` when it holds no token at all.
fn decode(provider: OAuthProvider, source: CredentialSource, mut raw: Map<String, Value>) -> Option<StoredCredential> {
    let fields = token_fields(&raw);
    let text = |key: &str| nonempty_str(fields.get(key)).map(str::to_string);
    let secret = |key: &str| text(key).map(SecretString::from);
    let expiry_ms = fields.get("expiry_date").and_then(|v| decode_expiry(provider, v)).or_else(|| {
        // gcloud / oauth2client style.
        nonempty_str(fields.get("token_expiry")).and_then(parse_iso_ms)
    });
    let tokens = TokenSet {
        access_token: secret("access_token"),
        refresh_token: secret("refresh_token"),
        expiry_ms,
        api_key: secret("api_key"),
        id_token: secret("id_token"),
        scope: text("scope"),
        token_type: text("token_type"),
        resource_url: text("resource_url"),
    };
    let cookie = if provider == OAuthProvider::Iflow { secret("cookie") } else { None };
    let cookie_expire_time = if provider == OAuthProvider::Iflow { text("expire_time") } else { None };
    if tokens.access_token.is_none() && tokens.refresh_token.is_none() && cookie.is_none() {
        return None;
    }

    let meta = metadata_object(&raw);
    let meta_text = |key: &str| nonempty_str(meta.and_then(|m| m.get(key))).map(str::to_string);
    let metadata = ProxyMetadata {
        // iFlow files also carry the identity at the top level.
        email: meta_text("email").or_else(|| text("email")),
        last_check_timestamp: meta.and_then(|m| m.get("last_check_timestamp")).and_then(Value::as_f64),
        project_id: meta_text("project_id"),
        tier: meta_text("tier"),
        tier_full: meta_text("tier_full"),
        display_name: meta_text("display_name"),
        credential_type: meta_text("credential_type"),
    };

    // Google files without an OAuth client (official gemini-cli) use the provider's own.
    let defaults = provider.is_google().then(|| OAuthEndpoints::resolve(provider, &Env::default()));
    let client_id = text("client_id").or_else(|| defaults.as_ref().map(|d| d.client_id.clone()));
    let client_secret = secret("client_secret")
        .or_else(|| defaults.as_ref().and_then(|d| d.client_secret.clone()).map(SecretString::from));
    let token_uri = text("token_uri").or_else(|| defaults.as_ref().map(|d| d.token_uri.clone()));

    scrub_secrets(provider, &mut raw);
    Some(StoredCredential {
        provider,
        source,
        tokens,
        metadata,
        cookie,
        cookie_expire_time,
        client_id,
        client_secret,
        token_uri,
        raw,
    })
}

/// The object holding the token fields: the nested `credential` object when there is one.
fn token_fields(raw: &Map<String, Value>) -> &Map<String, Value> {
    match raw.get(NESTED) {
        Some(Value::Object(nested)) => nested,
        _ => raw,
    }
}

/// `_proxy_metadata`, at the top level or (only there) inside the nested token object.
fn metadata_object(raw: &Map<String, Value>) -> Option<&Map<String, Value>> {
    raw.get(METADATA).and_then(Value::as_object).or_else(|| token_fields(raw).get(METADATA).and_then(Value::as_object))
}

fn nonempty_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Replaces the secret strings of the token object by `null` (they live in the typed fields;
/// `cookie` only for iFlow, the one provider that decodes it).
fn scrub_secrets(provider: OAuthProvider, raw: &mut Map<String, Value>) {
    let target = if let Some(Value::Object(nested)) = raw.get_mut(NESTED) { nested } else { raw };
    for key in SECRET_FIELDS {
        if key == "cookie" && provider != OAuthProvider::Iflow {
            continue;
        }
        if let Some(value) = target.get_mut(key)
            && nonempty_str(Some(value)).is_some()
        {
            *value = Value::Null;
        }
    }
}

/// An `expiry_date` as unix milliseconds: Google and Qwen write milliseconds (a number, possibly
/// fractional), iFlow an ISO 8601 string (a number there is unix seconds).
fn decode_expiry(provider: OAuthProvider, value: &Value) -> Option<i64> {
    let iflow = provider == OAuthProvider::Iflow;
    let number_ms = |n: f64| {
        let ms = if iflow { n * 1000.0 } else { n };
        ms.is_finite().then_some(ms as i64)
    };
    match value {
        Value::Number(n) if !iflow && n.is_i64() => n.as_i64(),
        Value::Number(n) => n.as_f64().and_then(number_ms),
        Value::String(s) => {
            let s = s.trim();
            if iflow {
                parse_iso_ms(s).or_else(|| s.parse::<f64>().ok().and_then(number_ms))
            } else {
                s.parse::<f64>().ok().and_then(number_ms).or_else(|| parse_iso_ms(s))
            }
        }
        _ => None,
    }
}

/// The file's JSON object: `raw` with the known fields overwritten from the typed values in the
/// file's own formats (milliseconds for Google and Qwen `expiry_date`, an ISO 8601 UTC string
/// with microseconds for iFlow), `_proxy_metadata` merged (other metadata keys kept), and the
/// OAuth client fields written in. A typed value that is `None` leaves the field as it was.
pub fn to_file_json(credential: &StoredCredential) -> Map<String, Value> {
    let mut out = credential.raw.clone();
    match out.get_mut(NESTED) {
        Some(Value::Object(nested)) => write_token_fields(credential, nested),
        _ => write_token_fields(credential, &mut out),
    }
    write_metadata(credential, &mut out);
    out
}

fn write_token_fields(c: &StoredCredential, target: &mut Map<String, Value>) {
    let t = &c.tokens;
    let mut secret = |key: &str, value: &Option<SecretString>| {
        if let Some(value) = value {
            target.insert(key.to_string(), Value::String(value.expose_secret().to_string()));
        }
    };
    secret("access_token", &t.access_token);
    secret("refresh_token", &t.refresh_token);
    secret("id_token", &t.id_token);
    secret("api_key", &t.api_key);
    secret("cookie", &c.cookie);
    secret("client_secret", &c.client_secret);
    let mut text = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            target.insert(key.to_string(), Value::String(value.clone()));
        }
    };
    text("scope", &t.scope);
    text("token_type", &t.token_type);
    text("resource_url", &t.resource_url);
    text("client_id", &c.client_id);
    text("token_uri", &c.token_uri);
    text("expire_time", &c.cookie_expire_time);
    if c.provider == OAuthProvider::Iflow {
        text("email", &c.metadata.email);
    }
    if let Some(ms) = t.expiry_ms {
        write_expiry(c.provider, target, ms);
    }
}

/// Writes `expiry_date` unless it already says `ms` (so an unchanged fractional value or string
/// form stays as it was), and keeps a gcloud `token_expiry` in step.
fn write_expiry(provider: OAuthProvider, target: &mut Map<String, Value>, ms: i64) {
    let current = target.get("expiry_date").and_then(|v| decode_expiry(provider, v));
    if current != Some(ms) {
        let value =
            if provider == OAuthProvider::Iflow { Value::String(format_iso_micros(ms)) } else { Value::from(ms) };
        target.insert("expiry_date".into(), value);
    }
    if let Some(Value::String(old)) = target.get("token_expiry")
        && parse_iso_ms(old).map(|v| v.div_euclid(1000)) != Some(ms.div_euclid(1000))
    {
        target.insert("token_expiry".into(), Value::String(format_iso_seconds(ms)));
    }
}

fn write_metadata(c: &StoredCredential, out: &mut Map<String, Value>) {
    let m = &c.metadata;
    let credential_type = match (&m.credential_type, c.provider) {
        (Some(kind), _) => Some(kind.clone()),
        (None, OAuthProvider::Iflow) => Some(if c.is_cookie() { "cookie" } else { "oauth" }.to_string()),
        (None, _) => None,
    };
    let known: [(&str, &Option<String>); 6] = [
        ("email", &m.email),
        ("project_id", &m.project_id),
        ("tier", &m.tier),
        ("tier_full", &m.tier_full),
        ("display_name", &m.display_name),
        ("credential_type", &credential_type),
    ];
    let Some(holder) = metadata_holder(out) else { return };
    let has_values = known.iter().any(|(_, v)| v.is_some()) || m.last_check_timestamp.is_some();
    if !has_values && !holder.contains_key(METADATA) {
        return;
    }
    let entry = holder.entry(METADATA).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    let Value::Object(meta) = entry else { return };
    for (key, value) in known {
        if let Some(value) = value {
            meta.insert(key.to_string(), Value::String(value.clone()));
        }
    }
    if let Some(ts) = m.last_check_timestamp
        && meta.get("last_check_timestamp").and_then(Value::as_f64) != Some(ts)
        && let Some(number) = Number::from_f64(ts)
    {
        meta.insert("last_check_timestamp".into(), Value::Number(number));
    }
}

/// Where `_proxy_metadata` goes: the top level, unless only the nested token object has one.
fn metadata_holder(out: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    let nested_only = !matches!(out.get(METADATA), Some(Value::Object(_)))
        && matches!(out.get(NESTED), Some(Value::Object(n)) if matches!(n.get(METADATA), Some(Value::Object(_))));
    if nested_only { out.get_mut(NESTED).and_then(Value::as_object_mut) } else { Some(out) }
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// `<provider>_oauth_<N>.json` files in `dir` (N ≥ 1), in numeric order.
fn numbered_files(dir: &Path, provider: OAuthProvider) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let prefix = format!("{}_oauth_", provider.name());
    let mut files: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let digits = name.to_str()?.strip_prefix(&prefix)?.strip_suffix(".json")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let number: u32 = digits.parse().ok().filter(|&n| n > 0)?;
            let path = entry.path();
            path.is_file().then_some((number, path))
        })
        .collect();
    files.sort();
    files
}

/// Every credential file of `provider`, in numeric order. Unreadable or invalid files are
/// skipped with a warning naming the file; a file other users can access gets a warning too.
pub fn load_files(home: &Path, provider: OAuthProvider) -> (Vec<StoredCredential>, Vec<String>) {
    let mut creds = Vec::new();
    let mut warnings = Vec::new();
    for (number, path) in numbered_files(&oauth_dir(home), provider) {
        #[cfg(unix)]
        if let Ok(meta) = fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warnings.push(format!(
                    "{} is accessible by group or others (mode {mode:04o}); it is rewritten with mode 0600 on the \
                     next save",
                    path.display()
                ));
            }
        }
        let parsed = fs::read(&path)
            .map_err(|source| StoreError::Read { path: path.clone(), source })
            .and_then(|bytes| parse_file(provider, &path, number, &bytes));
        match parsed {
            Ok(credential) => creds.push(credential),
            Err(err) => warnings.push(format!("{err}; file skipped")),
        }
    }
    (creds, warnings)
}

/// Writes a file credential atomically with mode 0600 (creating `oauth_creds/` 0700 if needed).
/// Environment credentials are never written to `oauth_creds/` (see [`save_env_state`]).
pub fn write_file(credential: &StoredCredential) -> io::Result<()> {
    let CredentialSource::File { path, .. } = &credential.source else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "environment credentials have no file"));
    };
    write_json_private(path, to_file_json(credential))
}

fn write_json_private(path: &Path, map: Map<String, Value>) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(map)).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_private_atomic(path, &bytes)
}

/// Temp file in the same directory (mode 0600 from creation), fsync, rename, directory fsync.
fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file path"));
    };
    create_private_dir(dir)?;
    let tmp =
        dir.join(format!(".{}.{}.{:016x}.tmp", name.to_string_lossy(), std::process::id(), rand::random::<u64>()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The number a new file of `provider` takes: max(N)+1 over the existing file names (valid or
/// not), 1 when there is none.
pub fn next_number(home: &Path, provider: OAuthProvider) -> u32 {
    numbered_files(&oauth_dir(home), provider).last().map_or(1, |(n, _)| n.saturating_add(1))
}

/// The credential whose `_proxy_metadata.email` is `email`, compared case-insensitively.
pub fn find_by_email<'a>(creds: &'a [StoredCredential], email: &str) -> Option<&'a StoredCredential> {
    creds.iter().find(|c| c.metadata.email.as_deref().is_some_and(|e| same_email(e, email)))
}

fn same_email(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Environment credentials
// ---------------------------------------------------------------------------------------------

/// The environment credentials of `provider` (§5): every `<PREFIX>_<N>_ACCESS_TOKEN` with a
/// non-empty `<PREFIX>_<N>_REFRESH_TOKEN` (and, for iFlow, `_API_KEY`) in index order; the
/// unnumbered form (index 0) only when no numbered one exists.
pub fn load_env(env: &Env, provider: OAuthProvider) -> Vec<StoredCredential> {
    let prefix = provider.env_prefix();
    let mut indices: Vec<u32> = env
        .iter()
        .filter_map(|(name, _)| {
            let digits = name.strip_prefix(prefix)?.strip_prefix('_')?.strip_suffix("_ACCESS_TOKEN")?;
            let canonical =
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
            canonical.then(|| digits.parse().ok()).flatten()
        })
        .collect();
    indices.sort_unstable();
    indices.dedup();
    let defaults = OAuthEndpoints::resolve(provider, env);
    let mut creds: Vec<StoredCredential> =
        indices.into_iter().filter_map(|n| env_credential(env, provider, &defaults, Some(n))).collect();
    if creds.is_empty() {
        creds.extend(env_credential(env, provider, &defaults, None));
    }
    creds
}

fn env_credential(
    env: &Env,
    provider: OAuthProvider,
    defaults: &OAuthEndpoints,
    number: Option<u32>,
) -> Option<StoredCredential> {
    let base = provider.env_prefix();
    let (prefix, index, default_email) = match number {
        Some(n) => (format!("{base}_{n}"), n, format!("env-user-{n}")),
        None => (base.to_string(), 0, "env-user".to_string()),
    };
    let get = |suffix: &str| env.get_nonempty(&format!("{prefix}_{suffix}")).map(str::to_string);
    let secret = |suffix: &str| get(suffix).map(SecretString::from);
    let access_token = secret("ACCESS_TOKEN")?;
    let refresh_token = secret("REFRESH_TOKEN")?;
    let expiry = get("EXPIRY_DATE").and_then(|s| decode_expiry(provider, &Value::String(s)));
    let mut tokens = TokenSet {
        access_token: Some(access_token),
        refresh_token: Some(refresh_token),
        // Google and Qwen: 0 (refresh at once) when missing; iFlow: unknown, which is due too.
        expiry_ms: if provider == OAuthProvider::Iflow { expiry } else { Some(expiry.unwrap_or(0)) },
        ..TokenSet::default()
    };
    let mut metadata = ProxyMetadata { email: Some(get("EMAIL").unwrap_or(default_email)), ..Default::default() };
    let mut raw = Map::new();
    let (mut client_id, mut client_secret, mut token_uri) = (None, None, None);
    match provider {
        OAuthProvider::GeminiCli | OAuthProvider::Antigravity => {
            tokens.scope = get("SCOPE");
            tokens.token_type = get("TOKEN_TYPE");
            tokens.id_token = secret("ID_TOKEN");
            metadata.project_id = get("PROJECT_ID");
            metadata.tier = get("TIER");
            metadata.tier_full = get("TIER_FULL");
            client_id = Some(get("CLIENT_ID").unwrap_or_else(|| defaults.client_id.clone()));
            client_secret = secret("CLIENT_SECRET").or_else(|| defaults.client_secret.clone().map(SecretString::from));
            token_uri = Some(get("TOKEN_URI").unwrap_or_else(|| defaults.token_uri.clone()));
            let universe = get("UNIVERSE_DOMAIN").unwrap_or_else(|| DEFAULT_UNIVERSE_DOMAIN.to_string());
            raw.insert("universe_domain".into(), Value::String(universe));
        }
        OAuthProvider::QwenCode => {
            tokens.resource_url = Some(get("RESOURCE_URL").unwrap_or_else(|| DEFAULT_QWEN_RESOURCE_URL.to_string()));
        }
        OAuthProvider::Iflow => {
            tokens.api_key = Some(secret("API_KEY")?);
            tokens.token_type = Some(get("TOKEN_TYPE").unwrap_or_else(|| "Bearer".to_string()));
            tokens.scope = Some(get("SCOPE").unwrap_or_else(|| "read write".to_string()));
            metadata.credential_type = Some("oauth".to_string());
        }
    }
    let mut meta = Map::new();
    meta.insert("loaded_from_env".into(), Value::Bool(true));
    meta.insert("env_credential_index".into(), Value::String(index.to_string()));
    raw.insert(METADATA.into(), Value::Object(meta));
    Some(StoredCredential {
        provider,
        source: CredentialSource::Env { index },
        tokens,
        metadata,
        cookie: None,
        cookie_expire_time: None,
        client_id,
        client_secret,
        token_uri,
        raw,
    })
}

/// The one-time import of §4.2: each `<PROVIDER>_OAUTH_<digits>` variable naming an existing
/// file (`~` expanded) is copied to `oauth_creds/<provider>_oauth_<i>.json` (i from 1, sources
/// in path order), only while `oauth_creds/` holds no file of that provider. Returns info lines.
pub fn import_paths(env: &Env, home: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for provider in OAuthProvider::ALL {
        let prefix = format!("{}_OAUTH_", provider.env_prefix());
        let mut sources: Vec<PathBuf> = env
            .iter()
            .filter(|(name, _)| {
                name.strip_prefix(prefix.as_str())
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
            .filter_map(|(_, value)| Some(value.trim()).filter(|v| !v.is_empty()))
            .map(|value| expand_tilde(env, value))
            .filter(|path| path.is_file())
            .collect();
        if sources.is_empty() || !numbered_files(&oauth_dir(home), provider).is_empty() {
            continue;
        }
        sources.sort();
        sources.dedup();
        let mut next = 1;
        for source in sources {
            let bytes = match fs::read(&source) {
                Ok(bytes) => bytes,
                Err(err) => {
                    lines.push(format!("cannot import {}: {err}", source.display()));
                    continue;
                }
            };
            if let Err(err) = parse_file(provider, &source, next, &bytes) {
                lines.push(format!("not imported: {err}"));
                continue;
            }
            let dest = file_path(home, provider, next);
            match write_private_atomic(&dest, &bytes) {
                Ok(()) => {
                    lines.push(format!("imported {} as {}", source.display(), dest.display()));
                    next += 1;
                }
                Err(err) => lines.push(format!("cannot write {}: {err}", dest.display())),
            }
        }
    }
    lines
}

fn expand_tilde(env: &Env, value: &str) -> PathBuf {
    let rest = match value.strip_prefix('~') {
        Some("") => "",
        Some(rest) if rest.starts_with('/') => &rest[1..],
        _ => return PathBuf::from(value),
    };
    let home = env.get_nonempty("HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(PathBuf::from));
    match home {
        Some(home) if rest.is_empty() => home,
        Some(home) => home.join(rest),
        None => PathBuf::from(value),
    }
}

// ---------------------------------------------------------------------------------------------
// Duplicates, loading everything, .env-state
// ---------------------------------------------------------------------------------------------

/// Duplicate detection (§7): the same e-mail (case-insensitive) or the same refresh token. The
/// credential with the lower file number (environment index) is kept; the result is in that
/// order, with a warning naming both for each one dropped.
pub fn dedupe(mut creds: Vec<StoredCredential>) -> (Vec<StoredCredential>, Vec<String>) {
    creds.sort_by_key(|c| match c.source {
        CredentialSource::File { number, .. } => number,
        CredentialSource::Env { index } => index,
    });
    let mut kept: Vec<StoredCredential> = Vec::with_capacity(creds.len());
    let mut warnings = Vec::new();
    for credential in creds {
        let duplicate = kept.iter().find_map(|k| duplicate_reason(k, &credential).map(|why| (k.display_id(), why)));
        if let Some((kept_id, why)) = duplicate {
            warnings.push(format!("{} duplicates {kept_id} ({why}); ignored", credential.display_id()));
            continue;
        }
        kept.push(credential);
    }
    (kept, warnings)
}

fn duplicate_reason(a: &StoredCredential, b: &StoredCredential) -> Option<&'static str> {
    if let (Some(x), Some(y)) = (&a.metadata.email, &b.metadata.email)
        && same_email(x, y)
    {
        return Some("same e-mail");
    }
    match (&a.tokens.refresh_token, &b.tokens.refresh_token) {
        (Some(x), Some(y)) if x.expose_secret() == y.expose_secret() => Some("same refresh token"),
        _ => None,
    }
}

/// The credentials of `provider`: its environment credentials when there is at least one (its
/// files are then ignored, with an info line listing them; `.env-state` applied), else its
/// files; then duplicates removed. The second value holds warnings and info lines.
pub fn load_all(env: &Env, home: &Path, provider: OAuthProvider) -> (Vec<StoredCredential>, Vec<String>) {
    let mut warnings = Vec::new();
    let env_creds = load_env(env, provider);
    let creds = if env_creds.is_empty() {
        let (creds, file_warnings) = load_files(home, provider);
        warnings.extend(file_warnings);
        creds
    } else {
        let ignored: Vec<String> = numbered_files(&oauth_dir(home), provider)
            .into_iter()
            .filter_map(|(_, path)| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if !ignored.is_empty() {
            warnings.push(format!(
                "{}: environment credentials are in use; ignoring {}",
                provider.name(),
                ignored.join(", ")
            ));
        }
        env_creds
            .into_iter()
            .map(|mut credential| {
                apply_env_state(home, &mut credential, &mut warnings);
                credential
            })
            .collect()
    };
    let (creds, duplicates) = dedupe(creds);
    warnings.extend(duplicates);
    (creds, warnings)
}

/// `oauth_creds/.env-state/<provider>_<index>.json`.
pub fn env_state_path(home: &Path, provider: OAuthProvider, index: u32) -> PathBuf {
    oauth_dir(home).join(ENV_STATE_DIR).join(format!("{}_{index}.json", provider.name()))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Rotating providers (Qwen Code, iFlow): when the saved state was made from the refresh token
/// the environment still holds, its tokens replace the consumed ones from the environment.
fn apply_env_state(home: &Path, credential: &mut StoredCredential, warnings: &mut Vec<String>) {
    if !matches!(credential.provider, OAuthProvider::QwenCode | OAuthProvider::Iflow) {
        return;
    }
    let CredentialSource::Env { index } = credential.source else { return };
    let Some(env_refresh) = &credential.tokens.refresh_token else { return };
    let path = env_state_path(home, credential.provider, index);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return,
        Err(err) => {
            warnings.push(format!("cannot read {}: {err}; environment tokens used", path.display()));
            return;
        }
    };
    let saved = match parse_file(credential.provider, &path, index, &bytes) {
        Ok(saved) => saved,
        Err(err) => {
            warnings.push(format!("{err}; environment tokens used"));
            return;
        }
    };
    if saved.raw.get(REPLACED_HASH).and_then(Value::as_str) != Some(sha256_hex(env_refresh.expose_secret()).as_str()) {
        warnings.push(format!(
            "{} was saved for another environment refresh token; environment tokens used",
            path.display()
        ));
        return;
    }
    if saved.tokens.refresh_token.is_some() {
        credential.tokens = saved.tokens;
    }
}

/// Saves the refreshed tokens of an environment credential to `.env-state` (mode 0600) with the
/// SHA-256 of the environment refresh token they replace. `replaced_refresh_token` is the token
/// the refresh consumed: the environment's on the first refresh; on later ones the previously
/// saved token is recognised and the environment token's hash recorded with it is kept.
pub fn save_env_state(home: &Path, credential: &StoredCredential, replaced_refresh_token: &str) -> io::Result<()> {
    let CredentialSource::Env { index } = credential.source else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an environment credential"));
    };
    let path = env_state_path(home, credential.provider, index);
    let mut hash = sha256_hex(replaced_refresh_token);
    if let Ok(bytes) = fs::read(&path)
        && let Ok(Value::Object(previous)) = serde_json::from_slice::<Value>(&bytes)
        && token_fields(&previous).get("refresh_token").and_then(Value::as_str) == Some(replaced_refresh_token)
        && let Some(env_hash) = previous.get(REPLACED_HASH).and_then(Value::as_str)
    {
        hash = env_hash.to_string();
    }
    let mut map = to_file_json(credential);
    map.insert(REPLACED_HASH.into(), Value::String(hash));
    write_json_private(&path, map)
}

// ---------------------------------------------------------------------------------------------
// ISO 8601
// ---------------------------------------------------------------------------------------------

/// An ISO 8601 date-time as unix milliseconds: `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]` followed by
/// `Z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (UTC). Fractions beyond milliseconds are dropped.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":")) {
        return None;
    }
    let (year, month, day, hour, minute) = (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?);
    let (mut i, mut second, mut millis) = (16, 0, 0);
    if at(i, b":") {
        second = num(17, 2)?;
        i = 19;
        if at(i, b".,") {
            let count = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if count == 0 {
                return None;
            }
            let kept = num(i + 1, count.min(3))?;
            millis = (count.min(3)..3).fold(kept, |acc, _| acc * 10);
            i += 1 + count;
        }
    }
    let offset_minutes = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hours = num(i + 1, 2)?;
            let (minutes, len) = if at(i + 3, b":") {
                (num(i + 4, 2)?, 6)
            } else if b.len() >= i + 5 {
                (num(i + 3, 2)?, 5)
            } else {
                (0, 3)
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            i += len;
            if sign == b'-' { -(hours * 60 + minutes) } else { hours * 60 + minutes }
        }
        Some(_) => return None,
    };
    if i != b.len() || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1000 + millis - offset_minutes * 60_000)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (what the Python project writes for iFlow).
pub fn format_iso_micros(ms: i64) -> String {
    let (date, millis) = format_iso_base(ms);
    format!("{date}.{:06}Z", millis * 1000)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (gcloud `token_expiry`).
fn format_iso_seconds(ms: i64) -> String {
    format!("{}Z", format_iso_base(ms).0)
}

fn format_iso_base(ms: i64) -> (String, i64) {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let secs = rest / 1000;
    let text = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60);
    (text, rest % 1000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests;
