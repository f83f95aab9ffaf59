//! The Runtime API proxy of the local stack (`scripts/stack.py`): it sits between the
//! function processes and `cargo lambda watch`, which plays AWS's Runtime API.
//!
//! It works around one emulator bug. cargo-lambda 1.9.2 (`functions_router.rs`)
//! answers a function's response POST with 200 before it has read the body. The
//! runtime's HTTP client (hyper, in lambda_runtime 1.x) takes that answer as the end of
//! the exchange and may drop the connection while the rest of a body over the ~16 KB
//! the socket took at once is unsent: the body is cut, and the API client gets the
//! emulator's text/plain 500, or nothing. Here every body is read whole from the
//! function, then written whole to the emulator before its answer is read, over a
//! connection kept per function (the emulator reads the rest of a body only as the next
//! request on that connection comes in), and only then acknowledged.
//!
//! As AWS does, a response POST that the emulator could not hand on (its client hung
//! up: 5xx) is acknowledged with 202, and a long poll whose connection the emulator
//! drops is polled again: the runtime panics on anything else.
//!
//! One thread per connection, plain blocking I/O: a function process holds one
//! connection, and each request costs two small writes and two small reads here.
//!
//! Usage: `runtime-proxy --listen PORT --upstream PORT` (PORT 0 listens on a free port;
//! the port is printed on the first line of standard output either way).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Long polls retried this many times when the emulator drops them.
const POLL_RETRIES: usize = 100;
/// The largest body accepted (Lambda's own limit is 6 MB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One HTTP/1.1 message: a request (`start` = method, path) or a response (status).
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The peer closes the connection after it.
    close: bool,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response.
    fn status(&self) -> u16 {
        self.start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn method(&self) -> &str {
        self.start.split_whitespace().next().unwrap_or_default()
    }

    fn path(&self) -> &str {
        self.start.split_whitespace().nth(1).unwrap_or_default()
    }

    /// A response of this proxy's own: `status` (`202 Accepted`), headers and body.
    fn own_reply(status: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        Self {
            start: format!("HTTP/1.1 {status}"),
            headers,
            body,
            close: false,
        }
    }

    /// Writes the message with a `content-length` of its body, the hop-by-hop headers
    /// left out, and `extra` headers added.
    fn write_to(&self, out: &mut impl Write, extra: &[(&str, &str)]) -> io::Result<()> {
        let mut head = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            let hop = [
                "host",
                "connection",
                "content-length",
                "transfer-encoding",
                "keep-alive",
            ]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h));
            if !hop {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", self.body.len()));
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one message; `None` at a clean end of the stream before it. `response` says
/// which kind (a response may run to the end of the stream).
fn read_message(r: &mut impl BufRead, response: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let start = start.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("the stream ended inside a header"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad("a header without ':'"))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut msg = Message {
        close: start.starts_with("HTTP/1.0") || start.ends_with("HTTP/1.0"),
        start,
        headers,
        body: Vec::new(),
    };
    if msg
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    {
        msg.close = true;
    }
    let chunked = msg
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = msg.header("content-length").map(str::parse::<usize>);
    if chunked {
        msg.body = read_chunked(r)?;
    } else if let Some(length) = length {
        let length = length.map_err(|_| bad("a content-length that is not a number"))?;
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        msg.body = vec![0; length];
        r.read_exact(&mut msg.body)?;
    } else if response && !matches!(msg.status(), 100..=199 | 204 | 304) {
        r.take(MAX_BODY as u64).read_to_end(&mut msg.body)?;
        msg.close = true;
    }
    Ok(Some(msg))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("a bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut line = String::new();
                if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// A connection to the emulator.
struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Upstream {
    fn open(port: u16) -> io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        // Head and body go out in two writes; with Nagle's algorithm the second would
        // wait for the peer's delayed ACK (40 ms a request).
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends the whole request, then reads the whole answer.
    fn exchange(&mut self, req: &Message, host: &str) -> io::Result<Message> {
        req.write_to(&mut self.writer, &[("host", host)])?;
        read_message(&mut self.reader, true)?
            .ok_or_else(|| bad("the emulator closed the connection without an answer"))
    }
}

/// The emulator's address and the idle connections to it, by function.
struct Proxy {
    port: u16,
    host: String,
    idle: Mutex<HashMap<String, Vec<Upstream>>>,
}

impl Proxy {
    /// The connection the function used last, or a new one.
    fn take(&self, function: &str) -> io::Result<Upstream> {
        let reused = self
            .idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.get_mut(function).and_then(Vec::pop));
        match reused {
            Some(conn) => Ok(conn),
            None => Upstream::open(self.port),
        }
    }

    fn give_back(&self, function: &str, conn: Upstream) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.entry(function.to_owned()).or_default().push(conn);
        }
    }

    /// Passes one Runtime API call on; a long poll the emulator drops is polled again.
    fn forward(&self, req: &Message) -> io::Result<Message> {
        // `/.rt/<function>/2018-06-01/runtime/...`
        let function = req.path().split('/').nth(2).unwrap_or("_").to_owned();
        let mut tries = 0;
        loop {
            let mut conn = self.take(&function)?;
            match conn.exchange(req, &self.host) {
                Ok(reply) => {
                    if !reply.close {
                        self.give_back(&function, conn);
                    }
                    return Ok(reply);
                }
                Err(err) if req.method() != "GET" || tries + 1 >= POLL_RETRIES => return Err(err),
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// Serves one function process's connection until it closes it.
fn serve(proxy: &Proxy, client: TcpStream) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    while let Some(req) = read_message(&mut reader, false)? {
        let reply = match proxy.forward(&req) {
            // The emulator could not hand the response on (its client hung up). AWS
            // takes a response whatever became of the caller.
            Ok(reply) if reply.status() >= 500 && req.method() == "POST" => {
                Message::own_reply("202 Accepted", Vec::new(), Vec::new())
            }
            // The emulator's answer, passed on as HTTP/1.1 whatever version it spoke.
            Ok(reply) => Message {
                start: format!(
                    "HTTP/1.1 {}",
                    reply.start.split_once(' ').map_or("200 OK", |(_, s)| s)
                ),
                ..reply
            },
            Err(err) => Message::own_reply(
                "502 Bad Gateway",
                vec![("content-type".into(), "text/plain".into())],
                format!("emulator: {err}").into_bytes(),
            ),
        };
        reply.write_to(&mut writer, &[])?;
    }
    Ok(())
}

fn port_arg(args: &[String], name: &str) -> Option<u16> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) =
        (port_arg(&args, "--listen"), port_arg(&args, "--upstream"))
    else {
        eprintln!("usage: runtime-proxy --listen PORT --upstream PORT");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", listen))?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let proxy = Arc::new(Proxy {
        port: upstream,
        host: format!("127.0.0.1:{upstream}"),
        idle: Mutex::new(HashMap::new()),
    });
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let proxy = Arc::clone(&proxy);
        std::thread::spawn(move || {
            // A function that goes away (stopped, killed) just ends its connection.
            let _ = serve(&proxy, client);
        });
    }
    Ok(())
}
