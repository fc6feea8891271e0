//! `llmkp generate-assets` (hidden): shell completions and man pages from the clap definitions,
//! written to `completions/` and `man/`. The committed copies are checked by a test, so they are
//! regenerated whenever a flag changes.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, CliError};

#[derive(Debug, clap::Args)]
pub struct AssetsArgs {
    /// Directory that receives `completions/` and `man/`
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: &AssetsArgs) -> Result<(), CliError> {
    generate(&args.dir).map_err(|e| CliError::failed(format!("cannot write assets under {}: {e}", args.dir.display())))
}

/// Writes every completion script and man page under `dir`.
pub fn generate(dir: &Path) -> std::io::Result<()> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell, Shell::Elvish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "llmkp", &completions)?;
    }
    clap_mangen::generate_to(Cli::command(), &man)
}
