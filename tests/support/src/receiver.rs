//! A webhook receiver on loopback for the tests: it records every request (headers,
//! body, when) and answers with the statuses it was given, in order (then 200).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Its headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

/// A running receiver (stops with the test's runtime).
pub struct Receiver {
    /// Its URL (`http://127.0.0.1:<port>/hook`).
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Starts one that answers `statuses` in order, then 200.
    pub async fn start(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(statuses.to_vec()));
        let (seen, script) = (hits.clone(), answers.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (seen, script) = (seen.clone(), script.clone());
                tokio::spawn(async move {
                    let Some(hit) = read(&mut socket).await else {
                        return;
                    };
                    seen.lock().unwrap().push(hit);
                    let status = {
                        let mut s = script.lock().unwrap();
                        if s.is_empty() { 200 } else { s.remove(0) }
                    };
                    let body = if status < 300 {
                        "ok"
                    } else {
                        "receiver is down"
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, hits }
    }

    /// The requests so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

async fn read(socket: &mut tokio::net::TcpStream) -> Option<Hit> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    Some(Hit {
        headers,
        body: String::from_utf8_lossy(&data[head_end..]).to_string(),
        at: Instant::now(),
    })
}

/// Verifies a delivery with the receivers' own library, the PyPI package
/// `standardwebhooks` (in .local/venv): Ok, or what it said.
pub fn verify_with_standardwebhooks(secret: &str, hit: &Hit) -> Result<(), String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let script = "import json, sys\nfrom standardwebhooks import Webhook\n\
        d = json.load(sys.stdin)\n\
        Webhook(d['secret']).verify(d['body'], d['headers'])\nprint('verified')\n";
    let input = serde_json::json!({ "secret": secret, "body": hit.body, "headers": hit.headers });
    let mut child = std::process::Command::new(format!("{root}/.local/venv/bin/python"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("python: {e}"))?;
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}
