//! A fault-injecting HTTP/1.1 proxy for sync tests.
//!
//! [`FaultProxy`] listens on `127.0.0.1:0` and forwards each request to an
//! upstream (the central simulator), unless the current [`Fault`] says to
//! drop, delay, reset, answer 5xx or garbage itself, or forward the request
//! and lose the reply. One request per connection: the proxy asks the
//! upstream to close after its answer, tells the client `Connection: close`,
//! and closes, so a fault always hits exactly one request and a pooled
//! connection can never carry a request past it.
//!
//! Faults are chosen per request: first from a queue ([`FaultProxy::push`],
//! [`FaultProxy::set_for`]), then the standing fault ([`FaultProxy::set`]).
//! Every request is recorded with the fault it got ([`FaultProxy::seen`],
//! [`FaultProxy::count`]). Every read has a deadline and every size a
//! limit, so no connection task can hang; dropping the proxy stops the
//! listener and every connection task.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Forward the request and return the answer.
    Pass,
    /// Read the request, then close the connection without answering.
    Drop,
    /// Read the request, wait this long, then forward it as [`Fault::Pass`]
    /// (a client that gave up meanwhile never sees the answer, but central
    /// still gets the request).
    Delay(Duration),
    /// Read the request, then reset the connection (RST, `SO_LINGER` 0).
    Reset,
    /// Answer this status (a JSON error body, code `proxy-fault`) without
    /// forwarding: 5xx, or a 4xx central might send (401, 403, 404).
    Status(u16),
    /// Answer 200 `application/json` with a body that is not JSON, without
    /// forwarding.
    MalformedJson,
    /// Forward the request (central acts on it), read the whole answer, then
    /// close the client connection without returning it.
    LoseReply,
}

/// Longest request or response head, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request or response body, in bytes.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Deadline for reading a request from the client or an answer from the
/// upstream.
const IO_DEADLINE: Duration = Duration::from_secs(10);

/// Why one proxied exchange ended early (logged, never surfaced: the client
/// just sees a closed connection).
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    /// A socket operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A read passed its deadline.
    #[error("timed out")]
    Timeout,
    /// The request or answer is not HTTP/1.1 this proxy understands.
    #[error("bad message: {0}")]
    Bad(&'static str),
}

#[derive(Debug)]
struct Shared {
    standing: Fault,
    queue: VecDeque<Fault>,
    seen: Vec<Fault>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A connection task that panicked leaves counters that are still
    // meaningful for a test; poisoning is ignored.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fault proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, with
    /// [`Fault::Pass`] standing.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            standing: Fault::Pass,
            queue: VecDeque::new(),
            seen: Vec::new(),
        }));
        let task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&shared)));
        Ok(FaultProxy { addr, shared, task })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for a client (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the standing fault and clears the queue.
    pub fn set(&self, fault: Fault) {
        let mut s = lock(&self.shared);
        s.standing = fault;
        s.queue.clear();
    }

    /// The next `n` requests get `fault` (after whatever is queued), then
    /// the standing fault resumes.
    pub fn set_for(&self, fault: Fault, n: usize) {
        lock(&self.shared)
            .queue
            .extend(std::iter::repeat_n(fault, n));
    }

    /// Queues one fault per coming request, in order.
    pub fn push(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared).queue.extend(faults);
    }

    /// Faults still queued.
    pub fn queued(&self) -> usize {
        lock(&self.shared).queue.len()
    }

    /// The fault each request got, in arrival order.
    pub fn seen(&self) -> Vec<Fault> {
        lock(&self.shared).seen.clone()
    }

    /// How many requests got `fault`.
    pub fn count(&self, fault: Fault) -> usize {
        lock(&self.shared)
            .seen
            .iter()
            .filter(|f| **f == fault)
            .count()
    }

    /// How many requests arrived.
    pub fn requests(&self) -> usize {
        lock(&self.shared).seen.len()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks' JoinSet: aborting it
        // aborts them all.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        if let Err(e) = exchange(client, upstream, &shared).await {
                            tracing::debug!("fault proxy: exchange ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::debug!("fault proxy: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            // Reap finished connection tasks so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One HTTP message read off a stream: head (through the blank line) and
/// body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    /// The head with any `Connection` header replaced by `Connection: close`.
    fn head_with_close(&self) -> String {
        let mut out = String::with_capacity(self.head.len() + 20);
        for line in self.head.split("\r\n").filter(|l| !l.is_empty()) {
            if line.to_ascii_lowercase().starts_with("connection:") {
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        out
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head_with_close().into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads a head and a `Content-Length` body (a request or an upstream
/// answer; the sim never chunks, and a request without a length has no
/// body). With `to_eof`, a body without a length runs to the end of the
/// stream (an answer on a closing connection).
async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    to_eof: bool,
) -> Result<Message, ExchangeError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ExchangeError::Bad("head too long"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ExchangeError::Bad("closed before the end of the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| ExchangeError::Bad("head is not UTF-8"))?
        .to_string();
    let mut length = None;
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = Some(
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| ExchangeError::Bad("bad content-length"))?,
            );
        }
        if lower.starts_with("transfer-encoding:") {
            return Err(ExchangeError::Bad("chunked bodies are not supported"));
        }
    }
    let mut body = buf[head_end..].to_vec();
    match length {
        Some(len) if len > MAX_BODY => return Err(ExchangeError::Bad("body too large")),
        Some(len) => {
            while body.len() < len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(ExchangeError::Bad("closed before the end of the body"));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        None if to_eof => loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            if body.len() + n > MAX_BODY {
                return Err(ExchangeError::Bad("body too large"));
            }
            body.extend_from_slice(&chunk[..n]);
        },
        None => body.clear(),
    }
    Ok(Message { head, body })
}

async fn with_deadline<T>(
    f: impl std::future::Future<Output = Result<T, ExchangeError>>,
) -> Result<T, ExchangeError> {
    tokio::time::timeout(IO_DEADLINE, f)
        .await
        .map_err(|_| ExchangeError::Timeout)?
}

/// Sends the request upstream and reads its whole answer.
async fn forward(upstream: SocketAddr, request: &Message) -> Result<Message, ExchangeError> {
    with_deadline(async {
        let mut up = TcpStream::connect(upstream).await?;
        up.write_all(&request.to_bytes()).await?;
        read_message(&mut up, true).await
    })
    .await
}

fn next_fault(shared: &Mutex<Shared>) -> Fault {
    let mut s = lock(shared);
    let fault = s.queue.pop_front().unwrap_or(s.standing);
    s.seen.push(fault);
    fault
}

fn canned(status: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one request from `client`, applies the next fault, and closes.
async fn exchange(
    mut client: TcpStream,
    upstream: SocketAddr,
    shared: &Mutex<Shared>,
) -> Result<(), ExchangeError> {
    // The whole request is read first in every case, so a fault never
    // depends on how far the client got with writing it.
    let request = with_deadline(read_message(&mut client, false)).await?;
    let reply = match next_fault(shared) {
        Fault::Pass => Some(forward(upstream, &request).await?.to_bytes()),
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            Some(forward(upstream, &request).await?.to_bytes())
        }
        Fault::Drop => None,
        Fault::Reset => {
            client.set_zero_linger()?;
            drop(client);
            return Ok(());
        }
        Fault::Status(status) => Some(canned(
            status,
            "Injected Fault",
            r#"{"code":"proxy-fault","message":"injected by the fault proxy"}"#,
        )),
        Fault::MalformedJson => Some(canned(200, "OK", r#"{"order_no": "2026112300001", <"#)),
        Fault::LoseReply => {
            forward(upstream, &request).await?;
            None
        }
    };
    if let Some(bytes) = reply {
        // The client may have given up (Delay): a failed write is expected.
        if client.write_all(&bytes).await.is_ok() {
            let _ = client.flush().await;
        }
    }
    let _ = client.shutdown().await;
    Ok(())
}
