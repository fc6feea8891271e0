//! The `llmkp` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// glibc's allocator spends a sixth of the proxy's CPU under load (measured with perf on the
/// `proxy` bench); mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    llmkp::cli::run(llmkp::cli::Cli::parse())
}
