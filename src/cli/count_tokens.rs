//! `llmkp count-tokens`: the local token count of a text or of a request body, offline
//! (translation.md §11). Prints the number alone, or one JSON document with `--json`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use super::output::{print, print_json};
use super::{CliError, Context};
use crate::tokens::{self, CountOptions, Family};

#[derive(Debug, Args)]
pub struct CountTokensArgs {
    /// Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI's get
    /// the o200k_base estimate
    #[arg(short, long, value_name = "MODEL")]
    pub model: String,

    /// Text to count; `-` reads stdin, as does no input at all when stdin is not a terminal
    #[arg(value_name = "TEXT", conflicts_with_all = ["file", "messages"])]
    pub text: Option<String>,

    /// Count the contents of a file (`-`: stdin)
    #[arg(long, value_name = "FILE", conflicts_with = "messages")]
    pub file: Option<PathBuf>,

    /// Count a request body: OpenAI Chat, Anthropic Messages or OpenAI Responses JSON, or a bare array of messages (`-`: stdin)
    #[arg(long, value_name = "FILE")]
    pub messages: Option<PathBuf>,

    /// The format of --messages [default: detected from its shape]
    #[arg(long, value_name = "FORMAT", requires = "messages", conflicts_with_all = ["text", "file"])]
    pub format: Option<FormatArg>,

    /// One JSON document on stdout: model, tokens, encoding, exact
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Openai,
    Anthropic,
    Responses,
}

impl From<FormatArg> for Family {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Openai => Self::OpenAi,
            FormatArg::Anthropic => Self::Anthropic,
            FormatArg::Responses => Self::Responses,
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    tokens: usize,
    encoding: &'static str,
    exact: bool,
}

pub fn run(_context: &Context, args: &CountTokensArgs) -> Result<(), CliError> {
    let count = if let Some(path) = &args.messages {
        let raw = read_input(path)?;
        let body: Value = serde_json::from_slice(&raw)
            .map_err(|e| CliError::usage(format!("{}: not valid JSON: {e}", shown(path))))?;
        let options = CountOptions { format: args.format.map(Family::from), ..CountOptions::default() };
        tokens::count_messages_with(&args.model, &body, &options)
            .map_err(|e| CliError::usage(format!("{}: {e}", shown(path))))?
    } else {
        let text = match (&args.text, &args.file) {
            (Some(text), _) if text == "-" => read_stdin()?,
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(path)) => read_input(path)?,
            (None, None) if !std::io::stdin().is_terminal() => read_stdin()?,
            (None, None) => {
                return Err(CliError::usage(
                    "nothing to count: give TEXT, --file FILE or --messages FILE, or pipe text to stdin",
                ));
            }
        };
        tokens::count_text(&args.model, &String::from_utf8_lossy(&text))
    };
    if args.json {
        print_json(&Report { model: &args.model, tokens: count.tokens, encoding: count.encoding, exact: count.exact })
    } else {
        print(&format!("{}\n", count.tokens))
    }
}

fn shown(path: &Path) -> String {
    if path == Path::new("-") { "stdin".to_string() } else { path.display().to_string() }
}

/// A file's bytes, or stdin's for `-`.
fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        return read_stdin();
    }
    std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut buffer = Vec::new();
    std::io::stdin().lock().read_to_end(&mut buffer).map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
    Ok(buffer)
}
