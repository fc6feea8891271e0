//! `llmkp auth`: log in to OAuth providers or store API keys (`add`), turn stored credentials
//! into environment variables for stateless deploys (`export`), show them (`list`) and delete
//! them (`remove`). Credentials specification §4, §5, §8.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::output::{print, print_json, table};
use super::{CliError, Context};
use crate::auth::credential::mask;
use crate::auth::oauth::flows::{LoginOptions, LoginUi, login};
use crate::auth::oauth::providers::FlowKind;
use crate::auth::oauth::refresh::renew_cookie_api_key;
use crate::auth::oauth::shared_refresh::{self, SharedLogin};
use crate::auth::oauth::{
    CredentialSource, OAuthEndpoints, OAuthProvider, ProxyMetadata, StoredCredential, TokenSet, export, store,
};
use crate::config::dotenv;
use crate::store::shared::SharedLogins;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Log in to an OAuth provider, or store an API key in <home>/.env
    Add(AddArgs),
    /// Print stored OAuth credentials as environment variables (for stateless deploys)
    Export(ExportArgs),
    /// Stored OAuth credentials: account, tier, expiry and state (never a token)
    List(AuthListArgs),
    /// Delete a stored credential (an OAuth file or an API-key line of <home>/.env)
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Provider: gemini_cli, antigravity, qwen_code, iflow (OAuth) or any API-key provider
    pub provider: String,
    /// The API key (otherwise read from stdin when it is not a terminal, else prompted)
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Also store <PROVIDER>_API_BASE (a custom OpenAI-compatible provider)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Print the login URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Callback port of the login (default: the provider's, or <PROVIDER>_OAUTH_PORT)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// No local callback: paste the final redirect URL (or the code) instead
    #[arg(long)]
    pub manual: bool,
    /// Account identity for providers without a user-info endpoint (Qwen Code)
    #[arg(long, value_name = "ID")]
    pub email: Option<String>,
    /// iFlow: log in with the BXAuth browser cookie of platform.iflow.cn (read like --api-key)
    #[arg(long)]
    pub cookie: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// gemini_cli, antigravity, qwen_code, iflow, or all
    pub provider: String,
    /// Only the credential with this file number
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub index: Option<u32>,
    /// Every credential (the default)
    #[arg(long)]
    pub all: bool,
    /// Write to this file (0600) instead of stdout
    #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
    pub out: Option<PathBuf>,
    /// Write one file per credential into this directory (0600 each)
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// With --out-dir: one combined file
    #[arg(long, requires = "out_dir")]
    pub combine: bool,
}

#[derive(Debug, Args)]
pub struct AuthListArgs {
    /// Only this provider
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// One JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The provider
    pub provider: String,
    /// OAuth: the file number (1 for gemini_cli_oauth_1.json); API keys: the variable name
    pub which: String,
}

pub async fn run(context: &Context, command: AuthCommand) -> Result<(), CliError> {
    match command {
        AuthCommand::Add(args) => add(context, args).await,
        AuthCommand::Export(args) => export_command(context, &args).await,
        AuthCommand::List(args) => list(context, &args).await,
        AuthCommand::Remove(args) => remove(context, &args),
    }
}

fn oauth_provider(name: &str) -> Option<OAuthProvider> {
    OAuthProvider::from_name(&name.to_ascii_lowercase())
}

// ------------------------------------------------------------------------------------------
// add
// ------------------------------------------------------------------------------------------

async fn add(context: &Context, args: AddArgs) -> Result<(), CliError> {
    match oauth_provider(&args.provider) {
        Some(provider) if args.cookie => add_cookie(context, provider, &args).await,
        Some(provider) => add_oauth(context, provider, &args).await,
        None => add_api_key(context, &args),
    }
}

/// The secret a flag gave, else stdin when it is not a terminal, else a hidden prompt.
fn read_secret(flag: Option<&str>, prompt: &str) -> Result<SecretString, CliError> {
    let value = match flag {
        Some(value) => value.to_string(),
        None if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::failed(format!("cannot read stdin: {e}")))?;
            text
        }
        None => dialoguer::Password::new()
            .with_prompt(prompt)
            .interact()
            .map_err(|e| CliError::failed(format!("no input: {e}")))?,
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(CliError::usage(format!("{prompt}: nothing given")));
    }
    Ok(SecretString::from(value))
}

fn add_api_key(context: &Context, args: &AddArgs) -> Result<(), CliError> {
    let provider = args.provider.to_ascii_lowercase();
    if provider.is_empty() || !provider.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(CliError::usage(format!("'{}' is not a provider name (letters, digits and '_')", args.provider)));
    }
    let key = read_secret(args.api_key.as_deref(), &format!("API key for {provider}"))?;
    // `quote` has no form for a value holding both `'` and `${`: refuse rather than store another key.
    let line = format!("K={}\n", dotenv::quote(key.expose_secret()));
    if dotenv::parse_dotenv(&line, &|_| None).entries.first().is_none_or(|(_, v)| v != key.expose_secret()) {
        return Err(CliError::usage("this key cannot be written to .env unchanged (it holds both ' and ${)"));
    }
    let upper = provider.to_ascii_uppercase();
    let path = context.home.join(".env");
    let (mut text, created_proxy_key) = read_or_create_env(&path)?;
    let entries = dotenv::parse_dotenv(&text, &|_| None).entries;
    let marker = format!("{upper}_API_KEY");
    if let Some((name, _)) =
        entries.iter().find(|(name, value)| name.starts_with(&marker) && value == key.expose_secret())
    {
        return Err(CliError::failed(format!("this key is already stored as {name} in {}", path.display())));
    }
    // Variables of the environment and of other `.env` files count too: `<home>/.env` takes
    // precedence over `<home>/*.env` (§1), so reusing their names would hide their keys.
    if let Some((name, _)) =
        context.env.iter().find(|(name, value)| name.starts_with(&marker) && value.trim() == key.expose_secret())
    {
        return Err(CliError::failed(format!(
            "this key is already stored as {name} (in the environment or another .env file)"
        )));
    }
    let taken = |n: u32| {
        let name = format!("{upper}_API_KEY_{n}");
        entries.iter().any(|(e, _)| *e == name) || context.env.get(&name).is_some()
    };
    let n = (1..).find(|n| !taken(*n)).expect("a free number");
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{upper}_API_KEY_{n}={}\n", dotenv::quote(key.expose_secret())));
    if let Some(base) = &args.base_url {
        let base_var = format!("{upper}_API_BASE");
        if !entries.iter().any(|(name, _)| *name == base_var) {
            text.push_str(&format!("{base_var}={}\n", dotenv::quote(base)));
        }
    }
    write_private(&path, text.as_bytes())?;
    if let Some(proxy_key) = created_proxy_key {
        eprintln!(
            "created {} with a new PROXY_API_KEY (shown once, keep it): {}",
            path.display(),
            proxy_key.expose_secret()
        );
    }
    print(&format!("{provider}: added {upper}_API_KEY_{n} ({}) to {}\n", mask(key.expose_secret()), path.display()))
}

/// The home `.env`, or a new one holding a random `PROXY_API_KEY` (§1).
fn read_or_create_env(path: &Path) -> Result<(String, Option<SecretString>), CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, None)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            use base64::Engine as _;
            let bytes: [u8; 32] = rand::random();
            let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            Ok((format!("PROXY_API_KEY={key}\n"), Some(SecretString::from(key))))
        }
        Err(err) => Err(CliError::failed(format!("cannot read {}: {err}", path.display()))),
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let temp =
        dir.join(format!(".{}.tmp-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&temp, path).map_err(fail)?;
    Ok(())
}

/// The login's messages on stderr (stdout keeps the result).
struct CliUi;

impl LoginUi for CliUi {
    fn show_url(&self, url: &str) {
        eprintln!("Open this URL to log in:\n{url}");
    }

    fn show_device_code(&self, verification_uri: &str, user_code: &str) {
        eprintln!("Open this URL and confirm the code {user_code}:\n{verification_uri}");
    }

    fn read_manual_redirect(&self) -> Option<String> {
        eprintln!("Paste the URL the browser was sent to after the login (or just the code):");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(line.trim().to_string()).filter(|l| !l.is_empty())
    }
}

fn oauth_http() -> Result<reqwest::Client, CliError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::failed(format!("cannot set up HTTP: {e}")))
}

async fn add_oauth(context: &Context, provider: OAuthProvider, args: &AddArgs) -> Result<(), CliError> {
    let endpoints = OAuthEndpoints::resolve(provider, &context.env);
    let http = oauth_http()?;
    let options =
        LoginOptions { no_browser: args.no_browser, port: args.port, manual: args.manual, ..LoginOptions::default() };
    let result = login(&http, &endpoints, &options, &CliUi).await.map_err(|e| CliError::failed(e.to_string()))?;
    let email = match (result.email.clone(), &args.email) {
        (_, Some(email)) => Some(email.clone()),
        (Some(email), None) => Some(email),
        (None, None) if provider.flow() == FlowKind::Device && std::io::stdin().is_terminal() => {
            dialoguer::Input::<String>::new()
                .with_prompt("Account name or e-mail for this login")
                .interact_text()
                .ok()
                .filter(|e| !e.trim().is_empty())
        }
        (None, None) => None,
    };
    let mut metadata = ProxyMetadata { email: email.clone(), ..ProxyMetadata::default() };
    metadata.last_check_timestamp = Some(crate::auth::oauth::runtime::now_ms() as f64 / 1000.0);
    let mut credential = new_credential(context, provider, result.tokens, metadata);
    if provider.is_google() {
        discover_project(context, &http, &mut credential).await;
    }
    save_credential(context, credential)
}

async fn add_cookie(context: &Context, provider: OAuthProvider, args: &AddArgs) -> Result<(), CliError> {
    if provider != OAuthProvider::Iflow {
        return Err(CliError::usage("--cookie is for iflow only"));
    }
    let cookie = read_secret(args.api_key.as_deref(), "BXAuth cookie of platform.iflow.cn")?;
    let value = cookie.expose_secret().trim_start_matches("BXAuth=").trim_end_matches(';').to_string();
    let endpoints = OAuthEndpoints::resolve(provider, &context.env);
    let http = oauth_http()?;
    let mut credential = new_credential(
        context,
        provider,
        TokenSet::default(),
        ProxyMetadata { credential_type: Some("cookie".into()), ..ProxyMetadata::default() },
    );
    // Stored as the Python proxy stores it (§4.5).
    credential.cookie = Some(SecretString::from(format!("BXAuth={value};")));
    let (api_key, expire_time, name) =
        renew_cookie_api_key(&http, &endpoints, &credential).await.map_err(|e| CliError::failed(e.to_string()))?;
    credential.tokens.api_key = Some(api_key);
    credential.cookie_expire_time = Some(expire_time);
    let identity = args.email.clone().unwrap_or(name);
    credential.metadata.email = Some(identity);
    save_credential(context, credential)
}

fn new_credential(
    context: &Context,
    provider: OAuthProvider,
    tokens: TokenSet,
    metadata: ProxyMetadata,
) -> StoredCredential {
    let number = store::next_number(&context.home, provider);
    let path = store::oauth_dir(&context.home).join(format!("{}_oauth_{number}.json", provider.name()));
    let endpoints = OAuthEndpoints::resolve(provider, &context.env);
    StoredCredential {
        provider,
        source: CredentialSource::File { path, number },
        tokens,
        metadata,
        cookie: None,
        cookie_expire_time: None,
        client_id: provider.is_google().then(|| endpoints.client_id.clone()),
        client_secret: endpoints.client_secret.clone().filter(|_| provider.is_google()).map(SecretString::from),
        token_uri: provider.is_google().then(|| endpoints.token_uri.clone()),
        raw: serde_json::Map::new(),
    }
}

/// Code Assist project and tier of a Google-family login, shown and stored (§9).
async fn discover_project(context: &Context, http: &reqwest::Client, credential: &mut StoredCredential) {
    let (registry, _) = crate::providers::Registry::from_env(&context.env);
    let Some(provider) = code_assist_provider(context, credential.provider, &registry) else { return };
    let Some(token) = credential.tokens.access_token.as_ref().map(|t| t.expose_secret().to_string()) else { return };
    let configured = context.env.get_nonempty(&format!("{}_PROJECT_ID", credential.provider.env_prefix()));
    match crate::providers::code_assist::discover(http, &provider, &token, configured).await {
        Ok(found) => {
            credential.metadata.project_id = Some(found.project);
            credential.metadata.tier = found.tier;
        }
        Err(err) => eprintln!("warning: project discovery failed ({err}); it is retried before the first request"),
    }
}

fn code_assist_provider(
    context: &Context,
    provider: OAuthProvider,
    _registry: &crate::providers::Registry,
) -> Option<crate::providers::Provider> {
    let built = crate::providers::builtin::builtin(provider.name())?;
    let base = context
        .env
        .get_nonempty(&format!("{}_API_BASE", provider.env_prefix()))
        .map_or_else(|| built.base_url.to_string(), |b| b.trim().trim_end_matches('/').to_string());
    Some(crate::providers::Provider {
        base_overridden: true,
        ..crate::providers::Provider::new(provider.name(), built.protocol, base)
    })
}

/// Writes a new login, or updates the file of the same account (§7), and reports it.
fn save_credential(context: &Context, mut credential: StoredCredential) -> Result<(), CliError> {
    let (existing, _) = store::load_files(&context.home, credential.provider);
    let mut verb = "added";
    if let Some(email) = credential.metadata.email.clone()
        && let Some(same) = store::find_by_email(&existing, &email)
    {
        credential.source = same.source.clone();
        credential.raw = same.raw.clone();
        if credential.metadata.project_id.is_none() {
            credential.metadata.project_id = same.metadata.project_id.clone();
            credential.metadata.tier = same.metadata.tier.clone();
        }
        verb = "updated";
    }
    crate::auth::oauth::runtime::set_needs_reauth_flag(&mut credential, false);
    store::write_file(&credential).map_err(|e| CliError::failed(format!("cannot write the credential file: {e}")))?;
    let mut line = format!("{}: {verb} {}", credential.provider.name(), credential.display_id());
    if let Some(email) = &credential.metadata.email {
        line.push_str(&format!(" for {email}"));
    }
    if let Some(tier) = &credential.metadata.tier {
        line.push_str(&format!(", tier {tier}"));
    }
    if let Some(project) = &credential.metadata.project_id {
        line.push_str(&format!(", project {project}"));
    }
    print(&format!("{line}\n"))
}

// ------------------------------------------------------------------------------------------
// export
// ------------------------------------------------------------------------------------------

fn providers_named(name: &str) -> Result<Vec<OAuthProvider>, CliError> {
    if name.eq_ignore_ascii_case("all") {
        return Ok(OAuthProvider::ALL.to_vec());
    }
    oauth_provider(name).map(|p| vec![p]).ok_or_else(|| {
        CliError::usage(format!("'{name}' is not an OAuth provider (gemini_cli, antigravity, qwen_code, iflow, all)"))
    })
}

/// The stored logins of `provider`; with a shared state store, each with the newest tokens any
/// instance published for it (a file whose refresh token another instance rotated would
/// otherwise export or show a dead login).
async fn current_logins(
    context: &Context,
    provider: OAuthProvider,
    logins: Option<&Arc<dyn SharedLogins>>,
) -> Vec<StoredCredential> {
    let (mut credentials, warnings) = store::load_all(&context.env, &context.home, provider);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let Some(logins) = logins else { return credentials };
    for credential in &mut credentials {
        let identity = credential.metadata.email.clone().unwrap_or_else(|| credential.display_id());
        let id = crate::auth::CredentialId::for_login(provider.name(), &identity);
        let shared = SharedLogin { logins: logins.clone(), id: id.as_str().to_string() };
        if let Ok(Some(newer)) = shared_refresh::newest(&shared, credential).await {
            *credential = newer;
        }
    }
    credentials
}

async fn export_command(context: &Context, args: &ExportArgs) -> Result<(), CliError> {
    let providers = providers_named(&args.provider)?;
    let generated_at = generated_at();
    let mut outputs: Vec<(OAuthProvider, u32, Option<String>, String)> = Vec::new();
    let logins = super::state::shared_logins(context).await;
    for provider in &providers {
        for credential in current_logins(context, *provider, logins.as_ref()).await {
            let number = match &credential.source {
                CredentialSource::File { number, .. } => *number,
                CredentialSource::Env { index } => *index,
            };
            if args.index.is_some_and(|i| i != number) {
                continue;
            }
            match export::export_lines(&credential, number, &generated_at) {
                Ok(text) => outputs.push((*provider, number, credential.metadata.email.clone(), text)),
                Err(err) if args.index.is_some() => return Err(CliError::usage(err.to_string())),
                Err(err) => tracing::warn!("{}: {err}; skipped", credential.display_id()),
            }
        }
    }
    if outputs.is_empty() {
        return Err(CliError::failed(match args.index {
            Some(n) => format!("no {} credential number {n}", args.provider),
            None => format!("no stored {} credentials to export", args.provider),
        }));
    }
    let all_text: String = outputs.iter().map(|(.., text)| text.as_str()).collect::<Vec<_>>().join("\n");
    if let Some(dir) = &args.out_dir {
        warn_if_home_root(context, dir);
        if args.combine {
            let single = if providers.len() == 1 { Some(providers[0]) } else { None };
            let path = dir.join(export::combined_file_name(single));
            write_private(&path, all_text.as_bytes())?;
            return print(&format!("wrote {}\n", path.display()));
        }
        let mut report = String::new();
        for (provider, number, email, text) in &outputs {
            let path = dir.join(export::out_dir_file_name(*provider, *number, email.as_deref()));
            write_private(&path, text.as_bytes())?;
            report.push_str(&format!("wrote {}\n", path.display()));
        }
        return print(&report);
    }
    if let Some(path) = &args.out {
        if let Some(dir) = path.parent() {
            warn_if_home_root(context, dir);
        }
        write_private(path, all_text.as_bytes())?;
        return print(&format!("wrote {}\n", path.display()));
    }
    print(&all_text)
}

fn warn_if_home_root(context: &Context, dir: &Path) {
    let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    if same(dir, &context.home) {
        eprintln!(
            "warning: *.env files in the home directory are loaded at start, and environment credentials take \
             precedence over oauth_creds/ files"
        );
    }
}

fn generated_at() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::catalog::models::rfc3339_utc(secs).replace('T', " ").trim_end_matches('Z').to_string()
}

// ------------------------------------------------------------------------------------------
// list / remove
// ------------------------------------------------------------------------------------------

async fn list(context: &Context, args: &AuthListArgs) -> Result<(), CliError> {
    let providers = match &args.provider {
        Some(name) => providers_named(name)?,
        None => OAuthProvider::ALL.to_vec(),
    };
    let now = crate::auth::oauth::runtime::now_ms();
    let mut rows = Vec::new();
    let logins = super::state::shared_logins(context).await;
    for provider in providers {
        for c in current_logins(context, provider, logins.as_ref()).await {
            let state = credential_state(&c, now);
            rows.push(json!({
                "provider": provider.name(),
                "credential": c.display_id(),
                "masked": c.masked(),
                "account": c.metadata.email,
                "tier": c.metadata.tier,
                "project": c.metadata.project_id,
                "expires_in_seconds": c.tokens.expiry_ms.map(|e| (e - now) / 1000),
                "state": state,
            }));
        }
    }
    if args.json {
        return print_json(&json!({ "credentials": rows }));
    }
    if rows.is_empty() {
        return print("no OAuth credentials: run `llmkp auth add gemini_cli` (or antigravity, qwen_code, iflow)\n");
    }
    let mut t = table(&["PROVIDER", "CREDENTIAL", "ACCOUNT", "TIER", "EXPIRES", "STATE"]);
    for row in &rows {
        let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
        let expires = match row["expires_in_seconds"].as_i64() {
            Some(s) if s > 0 => super::output::duration(s as u64),
            Some(_) => "expired".to_string(),
            None => "-".to_string(),
        };
        t.add_row(vec![
            text(&row["provider"]),
            format!("{} ({})", text(&row["credential"]), text(&row["masked"])),
            text(&row["account"]),
            text(&row["tier"]),
            expires,
            text(&row["state"]),
        ]);
    }
    print(&format!("{t}\n"))
}

/// `ok`, `refresh due`, or `needs_reauth: run llmkp auth add <provider>`.
fn credential_state(c: &StoredCredential, now_ms: i64) -> String {
    let flagged =
        c.raw.get("_proxy_metadata").and_then(|m| m.get("needs_reauth")).and_then(Value::as_bool) == Some(true);
    if flagged || (c.tokens.refresh_token.is_none() && !c.is_cookie()) {
        return format!("needs_reauth: run `llmkp auth add {}`", c.provider.name());
    }
    if crate::auth::oauth::refresh::is_due(c, now_ms) { "refresh due".to_string() } else { "ok".to_string() }
}

fn remove(context: &Context, args: &RemoveArgs) -> Result<(), CliError> {
    if let Some(provider) = oauth_provider(&args.provider)
        && let Ok(number) = args.which.trim().parse::<u32>()
    {
        let (files, _) = store::load_files(&context.home, provider);
        let found =
            files.iter().find(|c| matches!(&c.source, CredentialSource::File { number: n, .. } if *n == number));
        let Some(CredentialSource::File { path, .. }) = found.map(|c| &c.source) else {
            return Err(CliError::failed(format!("no {} credential number {number}", provider.name())));
        };
        std::fs::remove_file(path).map_err(|e| CliError::failed(format!("cannot remove {}: {e}", path.display())))?;
        return print(&format!("removed {}\n", path.display()));
    }
    let var = args.which.trim().to_ascii_uppercase();
    let upper = args.provider.to_ascii_uppercase();
    if !var.starts_with(&format!("{upper}_API_KEY")) {
        return Err(CliError::usage(format!("expected a file number or a {upper}_API_KEY… variable name")));
    }
    let path = context.home.join(".env");
    let text =
        std::fs::read_to_string(&path).map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            let line = line.trim_start().strip_prefix("export ").unwrap_or(line.trim_start());
            line.split_once('=').is_none_or(|(name, _)| name.trim() != var)
        })
        .collect();
    if kept.len() == text.lines().count() {
        return Err(CliError::failed(format!("{var} is not in {}", path.display())));
    }
    write_private(&path, (kept.join("\n") + "\n").as_bytes())?;
    print(&format!("removed {var} from {}\n", path.display()))
}
