//! The real driver: GA/T 467 over a serial line (or any async byte stream).
//!
//! [`SerialCardReader`] is generic over its transport so the same code runs
//! against `/dev/ttyUSB0` ([`SerialCardReader::open`]) and against the twin on
//! a pseudo-terminal ([`super::sim::spawn`]). One [`CardReader::read`] is one
//! attempt: find card → select card → read text (`30 01`).
//!
//! Each step is one exchange: clear what is left in the receive buffer (a
//! late reply to an earlier, timed-out command must not be taken for this
//! one's), send the command, decode frames until one is complete, all within
//! the step's time limit ([`ReaderTimings`]). A reply with a bad frame
//! (checksum, impossible length), or the reader's own `10` "checksum error"
//! status, resends the command up to `retries` times. Garbage before a
//! preamble is skipped by the codec; a stream of garbage with no frame ends
//! in the step's timeout.
//!
//! Outcomes: find `80` → `Ok(None)`. Once find succeeded, a timeout (select
//! or read; a reply cut short ends in one) or a failure status (select `81`,
//! read `41`) → [`Error::CardRemoved`], since the card was there a moment
//! ago; health is left as find set it. Corrupted frames after all retries →
//! [`Error::Frame`] (a noisy line, not a card problem). SAM statuses →
//! [`Error::Sam`], other unexpected ones → [`Error::Status`]. Silence or
//! noise on find → [`Error::Timeout`].
//!
//! Health: `Ok` after any well-formed exchange, `Degraded` after frame
//! errors, `Fault` while the reader is silent or the SAM reports a fault.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{self, Command, FrameError, Reply, Status};
use super::text::{self, ReadLayout};
use super::{CardReader, Error, IdCard};
use crate::Health;

/// Time limits and retries of the exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderTimings {
    /// Limit for find card (and SAM commands).
    pub find: Duration,
    /// Limit for select card.
    pub select: Duration,
    /// Limit for the read (1295 bytes take ~115 ms at 115200 baud, the card
    /// itself takes longer).
    pub read: Duration,
    /// Resends of a command whose reply arrived corrupted.
    pub retries: u8,
}

impl Default for ReaderTimings {
    fn default() -> Self {
        Self {
            find: Duration::from_secs(1),
            select: Duration::from_secs(1),
            read: Duration::from_secs(3),
            retries: 2,
        }
    }
}

impl ReaderTimings {
    /// The same limit for every step (tests use short ones).
    pub fn uniform(limit: Duration) -> Self {
        Self {
            find: limit,
            select: limit,
            read: limit,
            retries: 2,
        }
    }
}

/// A GA/T 467 reader on an async byte stream.
#[derive(Debug)]
pub struct SerialCardReader<T> {
    io: T,
    buf: BytesMut,
    timings: ReaderTimings,
    health: Health,
}

impl SerialCardReader<tokio_serial::SerialStream> {
    /// Opens a serial reader at `path` (8N1, no flow control; readers ship
    /// at 115200 baud).
    pub fn open(path: &str, baud: u32) -> Result<Self, Error> {
        use tokio_serial::SerialPortBuilderExt;
        let stream = tokio_serial::new(path, baud)
            .data_bits(tokio_serial::DataBits::Eight)
            .parity(tokio_serial::Parity::None)
            .stop_bits(tokio_serial::StopBits::One)
            .flow_control(tokio_serial::FlowControl::None)
            .open_native_async()
            .map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::from_transport(stream, ReaderTimings::default()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> SerialCardReader<T> {
    /// A reader on an already open transport.
    pub fn from_transport(io: T, timings: ReaderTimings) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(2048),
            timings,
            health: Health::Unknown,
        }
    }

    /// The time limits in use.
    pub fn timings(&self) -> ReaderTimings {
        self.timings
    }

    /// Asks the SAM for its status and updates health.
    pub async fn probe(&mut self) -> Result<(), Error> {
        let reply = self.exchange(Command::SamStatus, self.timings.find).await?;
        match reply.status {
            Status::Ok => Ok(()),
            status => Err(self.unexpected(Command::SamStatus, status)),
        }
    }

    /// One exchange with retries on corrupted replies.
    async fn exchange(&mut self, command: Command, limit: Duration) -> Result<Reply, Error> {
        let mut attempt = 0u8;
        loop {
            let outcome = tokio::time::timeout(limit, self.send_and_receive(command)).await;
            match outcome {
                Err(_elapsed) => {
                    self.health = Health::Fault("card reader silent".into());
                    return Err(Error::Timeout {
                        command,
                        after: limit,
                    });
                }
                Ok(Err(ExchangeError::Io(e))) => {
                    self.health = Health::Fault(format!("card reader link: {}", e.kind()));
                    return Err(Error::Io(e));
                }
                Ok(Err(ExchangeError::Frame(source))) => {
                    self.health = Health::Degraded("card reader line noise".into());
                    if attempt >= self.timings.retries {
                        return Err(Error::Frame { command, source });
                    }
                    tracing::debug!(%command, error = %source, attempt, "corrupted reply, resending");
                }
                Ok(Ok(reply)) if reply.status == Status::ChecksumError => {
                    self.health = Health::Degraded("card reader line noise".into());
                    if attempt >= self.timings.retries {
                        return Ok(reply);
                    }
                    tracing::debug!(%command, attempt, "reader saw a corrupted command, resending");
                }
                Ok(Ok(reply)) => {
                    if reply.status.is_sam_fault() {
                        self.health = Health::Fault(format!("SAM: {}", reply.status));
                    } else {
                        self.health = Health::Ok;
                    }
                    return Ok(reply);
                }
            }
            attempt += 1;
        }
    }

    async fn send_and_receive(&mut self, command: Command) -> Result<Reply, ExchangeError> {
        self.discard_stale_input().await?;
        self.io.write_all(&frame::encode(command)).await?;
        self.io.flush().await?;
        loop {
            if let Some(reply) = frame::decode(&mut self.buf)? {
                return Ok(reply);
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// Drops bytes already received or readable right now: the tail of a
    /// reply to an earlier command that timed out (a card pulled mid-read
    /// leaves half a frame) must not prefix the next reply.
    async fn discard_stale_input(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        // Bounded: a reader streaming noise cannot keep us here.
        for _ in 0..16 {
            // A zero timeout still polls the read once: it takes what is
            // buffered and returns at once when nothing is.
            match tokio::time::timeout(Duration::ZERO, self.io.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(_)) => self.buf.clear(),
                Ok(Err(e)) => return Err(e),
            }
        }
        self.buf.clear();
        Ok(())
    }

    fn unexpected(&self, command: Command, status: Status) -> Error {
        if status.is_sam_fault() {
            Error::Sam { command, status }
        } else {
            Error::Status { command, status }
        }
    }

    async fn read_card(&mut self) -> Result<Option<IdCard>, Error> {
        let found = self.exchange(Command::FindCard, self.timings.find).await?;
        match found.status {
            Status::CardFound => {}
            Status::FindFailed => return Ok(None),
            status => return Err(self.unexpected(Command::FindCard, status)),
        }
        // The reader answered find a moment ago: a failure from here on is
        // the card's, not the reader's, so health stays as find left it.
        let health = self.health.clone();
        let removed = |e: Error| Error::CardRemoved(Box::new(e));
        let selected = match self
            .exchange(Command::SelectCard, self.timings.select)
            .await
        {
            Ok(r) => r,
            Err(e @ Error::Timeout { .. }) => {
                self.health = health;
                return Err(removed(e));
            }
            Err(e) => return Err(e),
        };
        match selected.status {
            Status::Ok => {}
            status @ Status::SelectFailed => {
                return Err(removed(Error::Status {
                    command: Command::SelectCard,
                    status,
                }))
            }
            status => return Err(self.unexpected(Command::SelectCard, status)),
        }
        let read = match self.exchange(Command::ReadText, self.timings.read).await {
            Ok(r) => r,
            Err(e @ Error::Timeout { .. }) => {
                self.health = health;
                return Err(removed(e));
            }
            Err(e) => return Err(e),
        };
        match read.status {
            Status::Ok => {}
            status @ Status::ReadFailed => {
                return Err(removed(Error::Status {
                    command: Command::ReadText,
                    status,
                }))
            }
            status => return Err(self.unexpected(Command::ReadText, status)),
        }
        Ok(Some(text::parse_read_data(&read.data, ReadLayout::Text)?))
    }
}

/// What one send-and-receive can fail with, before timeouts and retries.
enum ExchangeError {
    Io(std::io::Error),
    Frame(FrameError),
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        ExchangeError::Io(e)
    }
}

impl From<FrameError> for ExchangeError {
    fn from(e: FrameError) -> Self {
        ExchangeError::Frame(e)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> CardReader for SerialCardReader<T> {
    async fn read(&mut self) -> Result<Option<IdCard>, Error> {
        self.read_card().await
    }

    fn health(&self) -> Health {
        self.health.clone()
    }
}

/// A reader on a serial port that may not be there yet: a USB adapter
/// plugged in after boot, or replugged. The port is opened before a read
/// until it opens, and again after an I/O error; until then the reader's
/// health is a fault that names the port, and a read fails with
/// [`Error::Open`]. The kiosk starts without its reader instead of failing
/// to start.
pub struct PortReader {
    path: String,
    baud: u32,
    reader: Option<SerialCardReader<tokio_serial::SerialStream>>,
    last_error: Option<String>,
}

impl PortReader {
    /// Tries to open `path` now; a failure is kept as the reader's health.
    pub fn new(path: &str, baud: u32) -> Self {
        let mut r = Self {
            path: path.to_owned(),
            baud,
            reader: None,
            last_error: None,
        };
        let _ = r.port();
        r
    }

    /// The open port, opened now if it is not; a failure is kept as the
    /// reader's health.
    fn port(&mut self) -> Result<&mut SerialCardReader<tokio_serial::SerialStream>, Error> {
        if self.reader.is_none() {
            match SerialCardReader::open(&self.path, self.baud) {
                Ok(reader) => {
                    self.reader = Some(reader);
                    self.last_error = None;
                }
                Err(e) => {
                    self.last_error = Some(e.to_string());
                    return Err(e);
                }
            }
        }
        self.reader
            .as_mut()
            .ok_or_else(|| Error::Io(std::io::Error::other("card reader not open")))
    }
}

impl CardReader for PortReader {
    async fn read(&mut self) -> Result<Option<IdCard>, Error> {
        let result = self.port()?.read().await;
        if let Err(Error::Io(_)) = &result {
            // The port went away (unplugged): open it again next time.
            self.reader = None;
        }
        result
    }

    fn reopen(&mut self) {
        let _ = self.port();
    }

    fn health(&self) -> Health {
        match (&self.reader, &self.last_error) {
            (Some(r), _) => r.health(),
            (None, Some(e)) => Health::Fault(e.clone()),
            (None, None) => Health::Fault(format!("card reader at {} not open", self.path)),
        }
    }
}

#[cfg(test)]
mod port_reader_tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_is_not_plugged_in_is_a_fault_naming_its_port() {
        let mut r = PortReader::new("/dev/ttyKIOSK-absent", 115_200);
        match r.health() {
            Health::Fault(why) => assert!(why.contains("/dev/ttyKIOSK-absent"), "{why}"),
            other => panic!("{other:?}"),
        }
        let err = r.read().await.expect_err("no port");
        assert!(matches!(err, Error::Open { .. }), "{err}");
    }
}
