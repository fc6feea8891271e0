//! Running the real `llmkp` binary in tests: an empty environment (PATH and HOME only, so the
//! user's setup never leaks in), a temporary home, and runs kept off the async runtime that
//! serves the mocks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::openai_mock::OpenAiMock;

pub const BIN: &str = env!("CARGO_BIN_EXE_llmkp");

/// `llmkp --home <home>` with an empty environment, run in `home`.
pub fn llmkp(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home).current_dir(home);
    cmd.arg("--home").arg(home);
    cmd
}

/// Runs `llmkp <args>` to completion, feeding `stdin` (or /dev/null).
pub fn output(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = llmkp(home);
    cmd.args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// [`output`] on a blocking thread, so mocks served by the test's runtime keep answering.
pub async fn run(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let (home, stdin) = (home.to_path_buf(), stdin.map(str::to_string));
    let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        output(&home, &args, stdin.as_deref())
    })
    .await
    .unwrap()
}

/// A home whose `.env` points `openai` at `mock` with these keys (`OPENAI_API_KEY_1`, …) and no
/// wait between same-key retries.
pub fn home_with(mock: &OpenAiMock, keys: &[&str]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let mut env = format!("OPENAI_API_BASE={}\nTRANSIENT_RETRY_DELAY=0\n", mock.base_url());
    for (i, key) in keys.iter().enumerate() {
        env.push_str(&format!("OPENAI_API_KEY_{}={key}\n", i + 1));
    }
    std::fs::write(home.path().join(".env"), env).unwrap();
    home
}

/// A running `llmkp serve`, its address read from its own start-up log line.
pub struct Server {
    pub child: Child,
    pub addr: String,
    log: mpsc::Receiver<String>,
    /// Lines logged before the listen line (configuration warnings).
    early: Vec<String>,
}

impl Drop for Server {
    /// A failing test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(cmd: Command) -> Self {
        Self::start_with(cmd, &[])
    }

    /// [`Self::start`] with more `serve` flags.
    pub fn start_with(mut cmd: Command, flags: &[&str]) -> Self {
        let child = cmd
            .args(["serve", "--port", "0"])
            .args(flags)
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let mut server = Self { child, addr: String::new(), log: rx, early: Vec::new() };
        let stderr = server.child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        while server.addr.is_empty() {
            let Ok(line) = server.log.recv_timeout(Duration::from_secs(20)) else {
                panic!("no listen line; log: {:#?}", server.early);
            };
            if let Some(pos) = line.find("listening on http://") {
                server.addr = line[pos + "listening on http://".len()..].trim().to_string();
            }
            server.early.push(line);
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits (on a blocking thread's behalf: call it through `spawn_blocking` or from a
    /// multi-thread runtime) for the next log line containing `needle`; lines read on the way are
    /// kept for [`Self::stop`]. Panics after 20 s so a missing line fails the test.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = self.log.recv_timeout(left) else {
                panic!("no log line with {needle:?}; log: {:#?}", self.early);
            };
            self.early.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Sends a signal (`HUP`, `TERM`, …) to the server.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap().success());
    }

    /// SIGTERM, then the exit status and everything it logged.
    pub fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut log = std::mem::take(&mut self.early);
        // The reader thread ends at EOF of stderr, which disconnects the channel.
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(5)) {
            log.push(line);
        }
        (status, log.join("\n"))
    }
}
