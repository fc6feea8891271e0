//! The command line: clap definitions, the shared start-up (home directory, merged environment,
//! logging), and dispatch to one module per subcommand.

pub mod assets;
pub mod auth;
pub mod chat;
pub mod count_tokens;
pub mod keys;
pub mod keys_test;
pub mod models;
pub mod output;
pub mod quota;
pub mod reload;
pub mod serve;
pub mod state;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Env, EnvFiles, LoadWarning, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "llmkp",
    version,
    about = "A self-hosted LLM gateway: many keys, many providers, one small binary",
    propagate_version = true
)]
#[command(arg_required_else_help = true)]
pub struct Cli {
    /// Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]
    #[arg(long, global = true, env = "LLMKP_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Extra env file, loaded before ./.env and <home>/.env (repeatable)
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    pub env_files: Vec<PathBuf>,

    /// Log level on stderr [default: $LOG_LEVEL, else info]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,

    /// Only errors on stderr (no progress, no warnings)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP gateway in the foreground
    Serve(ServeArgs),
    /// Log in to OAuth providers, store API keys, export credentials as environment variables
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Credentials and their state
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Usage per credential and model
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// Send one prompt and print the answer as it streams
    Chat(chat::ChatArgs),
    /// Count tokens offline: a text, a file, stdin, or a request body
    CountTokens(count_tokens::CountTokensArgs),
    /// Live model lists of the configured providers, with prices where known
    Models(models::ModelsArgs),
    /// Write shell completions and man pages (for packagers and the repository)
    #[command(hide = true)]
    GenerateAssets(assets::AssetsArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// One row per credential: source, priority, state (active, cooling, locked) and usage
    List(ListArgs),
    /// Check every credential with one cheap real call (the model list); exit 0 when all pass
    Test(keys_test::KeysTestArgs),
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Requests and tokens per provider, credential and model in the current window
    Show(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this provider
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,

    /// One JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (loopback by default; 0.0.0.0 in containers) [default: $LLMKP_HOST, else 127.0.0.1]
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Listen port [default: $LLMKP_PORT, else $PORT, else 8000]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Write every request, upstream exchange and stream chunk (secrets redacted) to
    /// <home>/logs/detailed_logs/ [default: $ENABLE_REQUEST_LOGGING, else off]
    #[arg(long)]
    pub enable_request_logging: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// A command's failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Exit code 2: bad flags, fatal configuration, address in use.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }

    /// Exit code 1: the operation failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }
}

/// What every subcommand starts from.
pub struct Context {
    pub home: PathBuf,
    /// Where `env` was read from (`serve` reads them again on a reload).
    pub files: EnvFiles,
    pub env: Env,
    pub settings: Settings,
}

/// Fails with a usage error naming the configured providers when `provider` is not one of them.
pub fn require_provider(registry: &crate::providers::Registry, provider: &str) -> Result<(), CliError> {
    if registry.get(provider).is_some() || registry.unroutable.iter().any(|u| u.name == provider) {
        return Ok(());
    }
    let upper = provider.to_ascii_uppercase();
    let known = registry.names().join(", ");
    let known = if known.is_empty() { "none".to_string() } else { known };
    Err(CliError::usage(format!(
        "no credentials for provider '{provider}': set {upper}_API_KEY_1 (configured: {known})"
    )))
}

/// The embedded state database of a home directory.
pub fn state_db_path(home: &std::path::Path) -> PathBuf {
    home.join("state.db")
}

/// `$XDG_CONFIG_HOME/llmkp`, else `~/.config/llmkp`.
pub fn default_home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(xdg) = nonempty("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return xdg.join("llmkp");
    }
    match nonempty("HOME") {
        Some(home) => PathBuf::from(home).join(".config").join("llmkp"),
        None => PathBuf::from(".llmkp"),
    }
}

/// Parses nothing; runs the already parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let home = cli.home.clone().unwrap_or_else(|| default_home(&|name| std::env::var(name).ok()));
    let files =
        EnvFiles { explicit: cli.env_files.clone(), cwd: std::env::current_dir().ok(), home: Some(home.clone()) };
    let (env, mut warnings) = match Env::load(std::env::vars(), &files) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings::resolve(&env);
    init_logging(&cli, &env);
    for file in &env.loaded_files {
        tracing::debug!("loaded {}", file.display());
    }
    warnings.extend(settings.warnings.iter().cloned());
    for LoadWarning(message) in &warnings {
        tracing::warn!("{message}");
    }
    let context = Context { home, files, env, settings };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let quiet = cli.quiet;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(context, args).await,
            Command::Auth(command) => auth::run(&context, command).await,
            Command::Keys(KeysCommand::List(args)) => keys::list(&context, &args),
            Command::Keys(KeysCommand::Test(args)) => keys_test::run(&context, args, quiet).await,
            Command::Quota(QuotaCommand::Show(args)) => quota::show(&context, &args),
            Command::Chat(args) => chat::run(&context, &args, quiet).await,
            Command::CountTokens(args) => count_tokens::run(&context, &args),
            Command::Models(args) => models::run(&context, &args).await,
            Command::GenerateAssets(args) => assets::run(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line a person reads: no timestamp, no log level.
            eprintln!("error: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}

fn init_logging(cli: &Cli, env: &Env) {
    // The server narrates at info; one-shot tools keep stderr for warnings and errors, so a
    // script sees only what went wrong.
    let default = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    let level = match (cli.quiet, cli.log_level) {
        (_, Some(level)) => level.as_str().to_string(),
        (true, None) => "error".to_string(),
        (false, None) => env
            .get_nonempty(crate::config::env_names::LOG_LEVEL)
            .map(str::to_ascii_lowercase)
            .filter(|l| LogLevel::from_str(l, true).is_ok())
            .unwrap_or_else(|| default.to_string()),
    };
    // HTTP internals are noisy below warn and say nothing a user needs. One-shot commands report
    // their own outcome in one line, so the engine's per-attempt warnings stay out of the way.
    let quiet_engine = default == "warn" && cli.log_level.is_none();
    let engine = if quiet_engine { ",llmkp::engine=error,llmkp::pool=error" } else { "" };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{level},hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn{engine}"
    ));
    let json = env.get_nonempty(crate::config::env_names::LOG_FORMAT).is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if json {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_home_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_string())
        };
        assert_eq!(default_home(&env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])), PathBuf::from("/x/llmkp"));
        assert_eq!(
            default_home(&env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")])),
            PathBuf::from("/h/.config/llmkp")
        );
        assert_eq!(default_home(&env(&[("HOME", "/h")])), PathBuf::from("/h/.config/llmkp"));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
