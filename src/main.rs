//! The `llmkp` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// glibc's allocator spends a sixth of the proxy's CPU under load (measured with perf on the
/// `proxy` bench); mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages, so every 2 MB region it touches is resident at
    // once (an idle `serve` held 8 MB of heap for well under 1 MB in use) and freed memory cannot
    // be given back page by page. Small pages keep RSS to what is used.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    llmkp::cli::run(llmkp::cli::Cli::parse())
}
