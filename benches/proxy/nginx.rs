//! nginx as a reverse proxy in front of the mock (`proxy_pass`, upstream keep-alive, no
//! buffering), the reference llmkp is compared with. Started only when `nginx` is installed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct BenchNginx {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

/// `nginx` on PATH or in the sbin directories Debian installs it to.
fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("BENCH_NGINX") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

impl BenchNginx {
    /// nginx listening on a free loopback port and proxying to `upstream`, or why not.
    pub fn start(upstream: SocketAddr, workers: &str) -> Result<Self, String> {
        let nginx = binary().ok_or("nginx is not installed")?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let d = dir.path().display();
        // As root, nginx would hand its workers to `nobody`, who cannot use the temp dir.
        let user = if rustix::process::geteuid().is_root() { "user root;" } else { "" };
        let conf = format!(
            "{user}
worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream mock {{ server {upstream}; keepalive 128; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
            tcp_nodelay on;
        }}
    }}
}}
"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("write nginx.conf: {e}"))?;
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", nginx.display()))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut nginx = Self { addr, child, _dir: dir };
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Ok(nginx);
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(nginx._dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {}", log.trim()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        nginx.stop();
        Err("nginx did not listen within 2 s".into())
    }

    /// SIGTERM to the master (which stops its workers; SIGKILL would orphan them), then wait.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = rustix::process::Pid::from_raw(self.child.id() as i32);
            match pid.map(|pid| rustix::process::kill_process(pid, rustix::process::Signal::TERM)) {
                Some(Ok(())) => {}
                _ => {
                    let _ = self.child.kill();
                }
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for BenchNginx {
    fn drop(&mut self) {
        self.stop();
    }
}
