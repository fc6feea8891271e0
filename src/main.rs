//! The `llmkp` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    llmkp::cli::run(llmkp::cli::Cli::parse())
}
