//! The real `llmkp serve` binary as a child process, for the rows an in-process instance cannot
//! give: start-to-listening time and the resident memory of the llmkp process alone.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::mock::UPSTREAM_KEY;

pub struct ServeProcess {
    pub addr: SocketAddr,
    pub pid: u32,
    /// From spawning the process to the first accepted TCP connection.
    pub start_to_listening: Duration,
    child: Child,
    _home: tempfile::TempDir,
}

impl ServeProcess {
    /// `llmkp serve` on a free loopback port in front of `mock`, with the default settings, one
    /// key, a proxy key, `LOG_LEVEL` as given and a fresh home (its SQLite state store included).
    pub fn start(binary: &str, mock: SocketAddr, proxy_key: &str, log_level: &str) -> Result<Self, String> {
        let home = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("LLMKP_HOME", home.path())
            .env("LLMKP_HOST", "127.0.0.1")
            .env("LLMKP_PORT", port.to_string())
            .env("LOG_LEVEL", log_level)
            .env("OPENAI_API_BASE", format!("http://{mock}/v1"))
            .env("OPENAI_API_KEY", UPSTREAM_KEY)
            .env("PROXY_API_KEY", proxy_key)
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| format!("cannot start {binary}: {e}"))?;
        while started.elapsed() < Duration::from_secs(10) {
            if std::net::TcpStream::connect(addr).is_ok() {
                let start_to_listening = started.elapsed();
                let pid = child.id();
                return Ok(Self { addr, pid, start_to_listening, child, _home: home });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("llmkp serve exited: {status}"));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("llmkp serve did not listen within 10 s".into())
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory of a process now (`VmRSS` of `/proc/<pid>/status`), in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}
