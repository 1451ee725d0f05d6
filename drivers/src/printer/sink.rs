//! Byte movers between [`EscPosPrinter`](super::EscPosPrinter) and a printer.
//!
//! A [`Sink`] writes bytes and reads single status bytes with a timeout; it
//! knows nothing of ESC/POS. Three real sinks: [`FileSink`] (a device file such
//! as `/dev/usb/lp0`, opened read+write so status replies can be read),
//! [`SerialSink`] (`tokio-serial`) and [`TcpSink`] (raw TCP, port 9100). The
//! simulated twin has its own in-memory sink in [`sim`](super::sim).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Moves bytes to a printer and reads its replies.
pub trait Sink: Send {
    /// Writes all bytes (and flushes).
    fn write_all(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// Reads one byte, or `Ok(None)` if none arrives within `timeout`.
    fn read_byte(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<Option<u8>>> + Send;

    /// What this sink talks to, for error messages and logs (no secrets).
    fn describe(&self) -> String;
}

/// How often a non-blocking device file is polled for a reply.
const FILE_POLL: Duration = Duration::from_millis(5);

/// A printer device file (`/dev/usb/lp0`), opened read+write, non-blocking.
///
/// Device files do not work with epoll-style readiness in general, so reads
/// and writes are non-blocking calls retried on a short timer: a printer that
/// never replies costs a timeout, never a hung thread.
#[derive(Debug)]
pub struct FileSink {
    file: std::fs::File,
    path: PathBuf,
}

impl FileSink {
    /// Opens a device file read+write in non-blocking mode.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = path.as_ref().to_path_buf();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)?;
        Ok(FileSink { file, path })
    }
}

impl Sink for FileSink {
    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        while !bytes.is_empty() {
            match self.file.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(FILE_POLL).await;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn read_byte(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        use std::io::Read;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = [0u8; 1];
        loop {
            match self.file.read(&mut buf) {
                Ok(1) => return Ok(Some(buf[0])),
                // 0: no data now (usblp returns 0 rather than EAGAIN on some kernels).
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(FILE_POLL).await;
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// A sink over any async byte stream (serial port, TCP socket).
#[derive(Debug)]
pub struct StreamSink<T> {
    stream: T,
    name: String,
}

impl<T> StreamSink<T> {
    /// Wraps a stream; `name` is used in error messages.
    pub fn new(stream: T, name: impl Into<String>) -> Self {
        StreamSink {
            stream,
            name: name.into(),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Sink for StreamSink<T> {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    async fn read_byte(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        match tokio::time::timeout(timeout, self.stream.read_u8()).await {
            Ok(Ok(b)) => Ok(Some(b)),
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Ok(None),
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A printer on a serial port.
pub type SerialSink = StreamSink<tokio_serial::SerialStream>;

impl SerialSink {
    /// Opens a serial port (8N1, no flow control). Prefer 115200 baud: a
    /// receipt raster takes ~50 s at 9600.
    pub fn open(path: &str, baud: u32) -> io::Result<Self> {
        use tokio_serial::SerialPortBuilderExt;
        let stream = tokio_serial::new(path, baud)
            .open_native_async()
            .map_err(io::Error::from)?;
        Ok(StreamSink::new(stream, path))
    }
}

/// A network printer on raw TCP (port 9100).
pub type TcpSink = StreamSink<tokio::net::TcpStream>;

impl TcpSink {
    /// Connects to `addr` (e.g. `"192.0.2.10:9100"`) within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> io::Result<Self> {
        let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(StreamSink::new(stream, addr))
    }
}

/// Where a printer is, for [`ReopeningSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A device file such as `/dev/usb/lp0`.
    File(std::path::PathBuf),
    /// A serial port and its baud rate.
    Serial(String, u32),
    /// A network printer, `host:9100`.
    Tcp(String),
}

enum Opened {
    File(FileSink),
    Serial(SerialSink),
    Tcp(TcpSink),
}

/// A printer connection that is made when it is needed and made again after
/// it broke: a printer switched on after the kiosk, a USB cable replugged, a
/// network printer restarted. The kiosk starts without its printer (its
/// health shows why at the first job) instead of failing to start.
pub struct ReopeningSink {
    endpoint: Endpoint,
    opened: Option<Opened>,
}

/// How long a TCP connect to a network printer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl ReopeningSink {
    /// A sink for `endpoint`; nothing is opened yet.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            opened: None,
        }
    }

    async fn ensure_open(&mut self) -> io::Result<&mut Opened> {
        if self.opened.is_none() {
            let opened = match &self.endpoint {
                Endpoint::File(path) => Opened::File(FileSink::open(path)?),
                Endpoint::Serial(path, baud) => Opened::Serial(SerialSink::open(path, *baud)?),
                Endpoint::Tcp(addr) => Opened::Tcp(TcpSink::connect(addr, CONNECT_TIMEOUT).await?),
            };
            self.opened = Some(opened);
        }
        self.opened
            .as_mut()
            .ok_or_else(|| io::Error::other("printer connection lost"))
    }
}

impl Sink for ReopeningSink {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let written = match self.ensure_open().await? {
            Opened::File(s) => s.write_all(bytes).await,
            Opened::Serial(s) => s.write_all(bytes).await,
            Opened::Tcp(s) => s.write_all(bytes).await,
        };
        if written.is_err() {
            // Open again at the next job.
            self.opened = None;
        }
        written
    }

    async fn read_byte(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        let read = match self.ensure_open().await? {
            Opened::File(s) => s.read_byte(timeout).await,
            Opened::Serial(s) => s.read_byte(timeout).await,
            Opened::Tcp(s) => s.read_byte(timeout).await,
        };
        if read.is_err() {
            self.opened = None;
        }
        read
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::File(p) => p.display().to_string(),
            Endpoint::Serial(p, _) | Endpoint::Tcp(p) => p.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reopening_tests {
    use super::*;

    /// A network printer switched on after the kiosk: the first job fails
    /// with the connect error, the next one reaches the printer; a printer
    /// restarted mid-shift is connected to again.
    #[tokio::test]
    async fn a_printer_that_comes_later_or_restarts_is_connected_to_again() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let mut sink = ReopeningSink::new(Endpoint::Tcp(addr.to_string()));
        assert_eq!(sink.describe(), addr.to_string());
        assert!(
            sink.write_all(b"\x1b@").await.is_err(),
            "nothing listens yet"
        );

        for round in 0..2 {
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            let write = sink.write_all(b"\x1b@");
            let accept = listener.accept();
            let (written, accepted) = tokio::join!(write, accept);
            written.unwrap();
            let (mut peer, _) = accepted.unwrap();
            let mut got = [0u8; 2];
            peer.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"\x1b@", "round {round}");
            // The printer goes away: the next read sees it and forgets the
            // connection.
            drop(peer);
            drop(listener);
            assert!(
                sink.read_byte(Duration::from_millis(500)).await.is_err()
                    || sink.read_byte(Duration::from_millis(500)).await.is_err()
            );
        }
    }
}
