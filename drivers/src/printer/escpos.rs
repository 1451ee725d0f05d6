//! ESC/POS: the pure encoder, real-time status parsing, and [`EscPosPrinter`],
//! the real [`ReceiptPrinter`] that drives a printer through a [`Sink`].
//!
//! A job is `ESC @` (init), the receipt as `GS v 0` raster bands of at most
//! [`BAND_ROWS`] rows, `ESC d n` (feed) and `GS V A n` (feed and cut). Status
//! comes from real-time requests `DLE EOT n`, whose one-byte replies always
//! match the bit pattern `0xx1xx10`; anything else is rejected rather than
//! guessed at. No reply within the timeout means the printer is offline.

use std::time::Duration;

use super::receipt::{Bitmap, ReceiptRenderer};
use super::sink::Sink;
use super::{Error, PrintOutcome, PrinterConfig, PrinterStatus, Receipt, ReceiptPrinter};

/// `ESC @`: initialise the printer.
pub const INIT: [u8; 2] = [0x1B, 0x40];
/// `DLE EOT 1`: printer status.
pub const STATUS_PRINTER: [u8; 3] = [0x10, 0x04, 0x01];
/// `DLE EOT 2`: offline cause (cover, paper-end stop, error).
pub const STATUS_OFFLINE_CAUSE: [u8; 3] = [0x10, 0x04, 0x02];
/// `DLE EOT 3`: error cause.
pub const STATUS_ERROR_CAUSE: [u8; 3] = [0x10, 0x04, 0x03];
/// `DLE EOT 4`: paper roll sensor.
pub const STATUS_PAPER: [u8; 3] = [0x10, 0x04, 0x04];
/// Maximum rows per `GS v 0` band (many printers have small buffers).
pub const BAND_ROWS: u32 = 256;
/// Lines fed after the image so the end clears the cutter.
pub const FEED_LINES: u8 = 4;
/// Extra feed (in motion units) given to `GS V A n`.
pub const CUT_FEED: u8 = 3;

/// Errors of the status codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The reply does not match the fixed pattern `0xx1xx10`.
    #[error("status byte {byte:#04x} for DLE EOT {n} does not match 0xx1xx10")]
    BadPattern {
        /// The request parameter.
        n: u8,
        /// The reply.
        byte: u8,
    },
    /// `DLE EOT n` with n outside 1..=4.
    #[error("no such real-time status request: DLE EOT {0}")]
    UnknownRequest(u8),
}

/// Reply to `DLE EOT 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterBits {
    /// Drawer kick-out connector pin 3 high.
    pub drawer_high: bool,
    /// Offline.
    pub offline: bool,
}

/// Reply to `DLE EOT 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineCause {
    /// Cover open (bit 2).
    pub cover_open: bool,
    /// Paper being fed by the feed button (bit 3).
    pub feed_button: bool,
    /// Printing stopped because of paper end (bit 5).
    pub stopped_by_paper_end: bool,
    /// An error occurred (bit 6).
    pub error: bool,
}

/// Reply to `DLE EOT 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCause {
    /// Auto-cutter error (bit 3).
    pub autocutter: bool,
    /// Unrecoverable error (bit 5).
    pub unrecoverable: bool,
    /// Automatically recoverable error, e.g. head overheated (bit 6).
    pub auto_recoverable: bool,
}

/// Reply to `DLE EOT 4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperSensor {
    /// Roll near-end sensor (bits 2–3).
    pub near_end: bool,
    /// Roll end sensor (bits 5–6).
    pub end: bool,
}

/// A parsed real-time status reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusBits {
    /// `DLE EOT 1`.
    Printer(PrinterBits),
    /// `DLE EOT 2`.
    OfflineCause(OfflineCause),
    /// `DLE EOT 3`.
    ErrorCause(ErrorCause),
    /// `DLE EOT 4`.
    Paper(PaperSensor),
}

/// Parses the reply `byte` to `DLE EOT n`.
pub fn parse_status(n: u8, byte: u8) -> Result<StatusBits, StatusError> {
    if !(1..=4).contains(&n) {
        return Err(StatusError::UnknownRequest(n));
    }
    if byte & 0b1001_0011 != 0b0001_0010 {
        return Err(StatusError::BadPattern { n, byte });
    }
    let bit = |i: u8| byte & (1 << i) != 0;
    Ok(match n {
        1 => StatusBits::Printer(PrinterBits {
            drawer_high: bit(2),
            offline: bit(3),
        }),
        2 => StatusBits::OfflineCause(OfflineCause {
            cover_open: bit(2),
            feed_button: bit(3),
            stopped_by_paper_end: bit(5),
            error: bit(6),
        }),
        3 => StatusBits::ErrorCause(ErrorCause {
            autocutter: bit(3),
            unrecoverable: bit(5),
            auto_recoverable: bit(6),
        }),
        _ => StatusBits::Paper(PaperSensor {
            near_end: bit(2) || bit(3),
            end: bit(5) || bit(6),
        }),
    })
}

/// Combines the offline cause and the paper sensor into one status, the most
/// serious first: cover open, paper out, error, paper near end, ready.
pub fn combine(cause: &OfflineCause, paper: &PaperSensor) -> PrinterStatus {
    if cause.cover_open {
        PrinterStatus::CoverOpen
    } else if paper.end || cause.stopped_by_paper_end {
        PrinterStatus::PaperOut
    } else if cause.error {
        PrinterStatus::Error("printer reports an error (DLE EOT 2 bit 6)".into())
    } else if paper.near_end {
        PrinterStatus::PaperNearEnd
    } else {
        PrinterStatus::Ready
    }
}

/// Encodes one print job for a bitmap: init, raster bands, feed, cut.
pub fn encode_job(bitmap: &Bitmap) -> Vec<u8> {
    let stride = bitmap.stride();
    let mut out = Vec::with_capacity(bitmap.bits.len() + 64);
    out.extend_from_slice(&INIT);
    if stride > 0 && bitmap.height > 0 {
        let mut row = 0u32;
        while row < bitmap.height {
            let rows = (bitmap.height - row).min(BAND_ROWS);
            // stride ≤ 65535 is implied by any real head; clamp defensively.
            let x = u16::try_from(stride).unwrap_or(u16::MAX);
            let y = rows as u16; // rows ≤ BAND_ROWS = 256
            out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00]);
            out.extend_from_slice(&x.to_le_bytes());
            out.extend_from_slice(&y.to_le_bytes());
            let start = row as usize * stride;
            let end = (row + rows) as usize * stride;
            out.extend_from_slice(&bitmap.bits[start..end]);
            row += rows;
        }
    }
    out.extend_from_slice(&[0x1B, 0x64, FEED_LINES]);
    out.extend_from_slice(&[0x1D, 0x56, 0x41, CUT_FEED]);
    out
}

/// The real printer: renders, encodes and sends receipts through a [`Sink`],
/// reading status before and after each job.
pub struct EscPosPrinter<S> {
    sink: S,
    renderer: ReceiptRenderer,
    timeout: Duration,
    last: Option<PrinterStatus>,
    io_failed: bool,
}

impl<S: Sink> std::fmt::Debug for EscPosPrinter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscPosPrinter")
            .field("sink", &self.sink.describe())
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl<S: Sink> EscPosPrinter<S> {
    /// Loads the receipt font and wraps a sink. Fails if no font is found.
    pub fn new(sink: S, config: &PrinterConfig) -> Result<Self, Error> {
        let renderer = ReceiptRenderer::new(config)?;
        Ok(Self::with_renderer(
            sink,
            renderer,
            Duration::from_millis(config.status_timeout_ms),
        ))
    }

    /// Wraps a sink with an already built renderer.
    pub fn with_renderer(sink: S, renderer: ReceiptRenderer, status_timeout: Duration) -> Self {
        EscPosPrinter {
            sink,
            renderer,
            timeout: status_timeout,
            last: None,
            io_failed: false,
        }
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The renderer (to preview a receipt without printing it).
    pub fn renderer(&self) -> &ReceiptRenderer {
        &self.renderer
    }

    fn io(&mut self, source: std::io::Error) -> Error {
        self.io_failed = true;
        Error::Io {
            device: self.sink.describe(),
            source,
        }
    }

    /// Sends `DLE EOT n` and parses the reply; `None` if there is none.
    async fn query(&mut self, request: [u8; 3]) -> Result<Option<StatusBits>, Error> {
        // Drop stale bytes (a late reply to an earlier, timed-out request).
        for _ in 0..64 {
            match self.sink.read_byte(Duration::ZERO).await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return Err(self.io(e)),
            }
        }
        if let Err(e) = self.sink.write_all(&request).await {
            return Err(self.io(e));
        }
        let reply = match self.sink.read_byte(self.timeout).await {
            Ok(r) => r,
            Err(e) => return Err(self.io(e)),
        };
        match reply {
            None => Ok(None),
            Some(byte) => {
                parse_status(request[2], byte)
                    .map(Some)
                    .map_err(|source| Error::Status {
                        device: self.sink.describe(),
                        source,
                    })
            }
        }
    }

    /// Reads the printer's real-time status (`DLE EOT 2`, then `DLE EOT 4`).
    pub async fn read_status(&mut self) -> Result<PrinterStatus, Error> {
        let status = self.read_status_inner().await?;
        self.io_failed = false;
        if self.last.as_ref() != Some(&status) {
            tracing::info!(printer = %self.sink.describe(), %status, "printer status");
        }
        self.last = Some(status.clone());
        Ok(status)
    }

    async fn read_status_inner(&mut self) -> Result<PrinterStatus, Error> {
        let cause = match self.query(STATUS_OFFLINE_CAUSE).await? {
            None => return Ok(PrinterStatus::Offline),
            Some(StatusBits::OfflineCause(c)) => c,
            Some(other) => return Ok(PrinterStatus::Error(format!("unexpected reply {other:?}"))),
        };
        let paper = match self.query(STATUS_PAPER).await? {
            None => return Ok(PrinterStatus::Offline),
            Some(StatusBits::Paper(p)) => p,
            Some(other) => return Ok(PrinterStatus::Error(format!("unexpected reply {other:?}"))),
        };
        Ok(combine(&cause, &paper))
    }

    /// Prints an already rendered bitmap, checking status before and after.
    pub async fn print_bitmap(&mut self, bitmap: &Bitmap) -> Result<PrintOutcome, Error> {
        let before = self.read_status().await?;
        if !before.is_printable() {
            return Err(Error::NotReady(before));
        }
        self.send_job(bitmap).await
    }

    /// Sends a job and reads the status afterwards.
    async fn send_job(&mut self, bitmap: &Bitmap) -> Result<PrintOutcome, Error> {
        let job = encode_job(bitmap);
        if let Err(e) = self.sink.write_all(&job).await {
            return Err(self.io(e));
        }
        let after = self.read_status().await?;
        if !after.is_printable() {
            tracing::warn!(printer = %self.sink.describe(), status = %after, "job interrupted");
            return Err(Error::Interrupted { status: after });
        }
        if after == PrinterStatus::PaperNearEnd {
            tracing::warn!(printer = %self.sink.describe(), "paper near end");
        }
        Ok(PrintOutcome {
            bytes_sent: job.len(),
            status_after: after,
        })
    }
}

impl<S: Sink> ReceiptPrinter for EscPosPrinter<S> {
    async fn status(&mut self) -> Result<PrinterStatus, Error> {
        self.read_status().await
    }

    async fn print(&mut self, receipt: &Receipt) -> Result<PrintOutcome, Error> {
        // Check first: rendering is wasted work if the printer is not ready,
        // but render before sending so a font error never leaves half a job.
        let before = self.read_status().await?;
        if !before.is_printable() {
            return Err(Error::NotReady(before));
        }
        let bitmap = self.renderer.render(receipt)?;
        self.send_job(&bitmap).await
    }

    fn health(&self) -> crate::Health {
        if self.io_failed {
            return crate::Health::Fault("printer I/O error".into());
        }
        match &self.last {
            None => crate::Health::Unknown,
            Some(s) => s.health(),
        }
    }
}
