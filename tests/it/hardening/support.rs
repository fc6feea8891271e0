//! Raw sockets and child servers for the hardening tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::cli::BIN;

/// What a hostile client leaves open.
#[derive(Debug, Clone, Copy)]
pub enum Hold {
    /// Connects and sends nothing.
    Silent,
    /// Sends part of the request head and stops.
    HalfHeader,
    /// Sends the head of a POST announcing a body, a few bytes of it, and stops.
    HalfBody,
}

/// Opens `n` connections of each kind in turn; write errors (the server may close some at once)
/// are ignored. The sockets stay open as long as the returned vector lives.
pub async fn hold_open(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let kinds = [Hold::Silent, Hold::HalfHeader, Hold::HalfBody];
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
        match kinds[i % kinds.len()] {
            Hold::Silent => {}
            Hold::HalfHeader => {
                let _ = stream.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Ty").await;
            }
            Hold::HalfBody => {
                let _ = stream
                    .write_all(
                        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                          Content-Length: 1000\r\n\r\n{\"model\":",
                    )
                    .await;
            }
        }
        held.push(stream);
    }
    held
}

/// Reads what the server sends until it closes the connection or `within` passes; `None` when it
/// was still open then.
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().map(|()| out)
}

/// `llmkp --home <home>` started through `sh` with the open-file limit lowered to `files`.
pub fn llmkp_with_file_limit(home: &Path, files: u32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home).current_dir(home);
    cmd.arg("-c").arg(format!("ulimit -n {files} && exec \"$0\" \"$@\"")).arg(BIN).arg("--home").arg(home);
    cmd
}
