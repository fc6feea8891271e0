//! The Redis of the `+ redis store` row: `BENCH_REDIS_URL`, else a `redis-server` started on a
//! free loopback port (and stopped at the end), else none.

use std::time::Duration;

pub struct BenchRedis {
    url: String,
    child: Option<std::process::Child>,
}

impl BenchRedis {
    pub fn find() -> Option<Self> {
        if let Ok(url) = std::env::var("BENCH_REDIS_URL") {
            return Some(Self { url, child: None });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut redis = Self { url: format!("redis://127.0.0.1:{port}"), child: Some(child) };
        // Give it a moment to listen.
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(redis);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        redis.stop();
        None
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for BenchRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
