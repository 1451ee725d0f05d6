//! Receipt printer (ESC/POS thermal printer, 58 or 80 mm).
//!
//! The kiosk prints one receipt per accepted order: what was accepted, what is
//! still missing and by when, and a QR code to follow progress. The receipt is
//! rendered by [`receipt`] into a 1-bit [`Bitmap`] (so any name character the
//! font knows prints, whatever the printer's ROM font lacks), encoded by the
//! pure codec in [`escpos`] as `GS v 0` raster bands, and moved by a [`Sink`]
//! (USB device file, serial port or TCP 9100).
//!
//! Two implementations of [`ReceiptPrinter`] sit side by side:
//! [`EscPosPrinter`] drives a real printer through a sink, and
//! [`sim::SimPrinter`] runs that same `EscPosPrinter` against an in-memory sink
//! that decodes the ESC/POS stream, answers real-time status requests from an
//! injectable fault state and records every job.
//!
//! Paper is checked before and after every job: many printers accept bytes
//! with no paper and report nothing, so a job is only reported as printed if
//! the printer says it still had paper afterwards.

pub mod escpos;
pub mod receipt;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod sink;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use escpos::{EscPosPrinter, StatusBits, StatusError};
pub use receipt::{Bitmap, ReceiptRenderer, RenderError};
pub use sink::{Endpoint, FileSink, ReopeningSink, SerialSink, Sink, TcpSink};

/// What a receipt says. Every personal field is already masked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Heading, e.g. "国网供电 自助服务 受理回执".
    pub title: String,
    /// Business type, e.g. "低压新装".
    pub business: String,
    /// Order number given by the kiosk (always present, even offline).
    pub local_id: String,
    /// Order number given by the central system; `None` while not synced yet.
    pub central_no: Option<String>,
    /// Time of acceptance, already formatted in local time.
    pub accepted_at: String,
    /// Masked applicant name, e.g. "张*".
    pub masked_name: String,
    /// Masked ID number, e.g. "3301**********0026".
    pub masked_id: String,
    /// One line per accepted item (capacity, route, …).
    pub accepted: Vec<String>,
    /// `(document, deadline)`: what is missing and by when.
    pub missing: Vec<(String, String)>,
    /// Content of the progress-query QR code.
    pub qr_payload: String,
    /// Service phone number, e.g. "95598".
    pub service_phone: String,
    /// Closing lines (small print).
    pub footer: Vec<String>,
    /// An acceptance receipt or an invoice: the labels differ.
    pub kind: ReceiptKind,
}

/// What a printed slip is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptKind {
    /// The receipt of an accepted order.
    #[default]
    Acceptance,
    /// The invoice of a paid bill.
    Invoice,
}

/// What the printer reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrinterStatus {
    /// Ready to print.
    Ready,
    /// Printable, but the roll is nearly finished: staff should replace it.
    PaperNearEnd,
    /// No paper.
    PaperOut,
    /// The cover is open.
    CoverOpen,
    /// No reply to a status request (unplugged, powered off, link down).
    Offline,
    /// The printer reports an error (cutter jam, head overheated, …).
    Error(String),
}

impl PrinterStatus {
    /// Whether a job may be sent in this state.
    pub fn is_printable(&self) -> bool {
        match self {
            PrinterStatus::Ready | PrinterStatus::PaperNearEnd => true,
            PrinterStatus::PaperOut
            | PrinterStatus::CoverOpen
            | PrinterStatus::Offline
            | PrinterStatus::Error(_) => false,
        }
    }

    /// The device health this status amounts to.
    pub fn health(&self) -> crate::Health {
        match self {
            PrinterStatus::Ready => crate::Health::Ok,
            PrinterStatus::PaperNearEnd => crate::Health::Degraded("paper near end".into()),
            PrinterStatus::PaperOut => crate::Health::Fault("paper out".into()),
            PrinterStatus::CoverOpen => crate::Health::Fault("cover open".into()),
            PrinterStatus::Offline => crate::Health::Fault("offline".into()),
            PrinterStatus::Error(e) => crate::Health::Fault(format!("printer error: {e}")),
        }
    }
}

impl std::fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrinterStatus::Ready => f.write_str("ready"),
            PrinterStatus::PaperNearEnd => f.write_str("paper near end"),
            PrinterStatus::PaperOut => f.write_str("paper out"),
            PrinterStatus::CoverOpen => f.write_str("cover open"),
            PrinterStatus::Offline => f.write_str("offline"),
            PrinterStatus::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// A job that was sent and, by the printer's own account, printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOutcome {
    /// Bytes sent to the printer for this job.
    pub bytes_sent: usize,
    /// Status read after the job; always printable (else [`Error::Interrupted`]).
    pub status_after: PrinterStatus,
}

impl PrintOutcome {
    /// A warning for the operator, if any (paper near end).
    pub fn warning(&self) -> Option<&'static str> {
        (self.status_after == PrinterStatus::PaperNearEnd).then_some("paper near end")
    }
}

/// Printer configuration (part of the kiosk configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrinterConfig {
    /// Print head width in dots: 384 (58 mm) or 576 (80 mm) at 203 dpi.
    pub width_dots: u32,
    /// TrueType font (or collection) used to render receipts. `None`: search
    /// [`receipt::DEFAULT_FONT_PATHS`]. The font is never embedded in the binary.
    pub font_path: Option<PathBuf>,
    /// How long to wait for a real-time status reply before calling the
    /// printer offline, in milliseconds.
    pub status_timeout_ms: u64,
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            width_dots: 384,
            font_path: None,
            status_timeout_ms: 500,
        }
    }
}

/// Errors of the receipt printer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The printer cannot print now ({0}); nothing was sent.
    #[error("printer not ready: {0}")]
    NotReady(PrinterStatus),
    /// The job was sent but the printer reported {status} afterwards: the
    /// receipt may be incomplete. The order stands; the receipt can be reprinted.
    #[error("printing interrupted ({status}); the order stands, the receipt can be reprinted")]
    Interrupted {
        /// Status read after the job.
        status: PrinterStatus,
    },
    /// Moving bytes to or from the printer failed.
    #[error("printer I/O on {device}: {source}")]
    Io {
        /// The device (path, address) involved.
        device: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The printer answered a status request with an impossible byte.
    #[error("bad status reply from {device}: {source}")]
    Status {
        /// The device involved.
        device: String,
        /// What was wrong with the reply.
        #[source]
        source: StatusError,
    },
    /// The receipt could not be rendered (font missing, QR payload too long, …).
    #[error("cannot render receipt: {0}")]
    Render(#[from] RenderError),
}

/// A receipt printer: the kiosk's only view of the device.
pub trait ReceiptPrinter: Send {
    /// Asks the printer for its real-time status.
    fn status(&mut self) -> impl Future<Output = Result<PrinterStatus, Error>> + Send;

    /// Prints a receipt. Checks status before (refuses with
    /// [`Error::NotReady`] if paper out, cover open, offline…, sending nothing)
    /// and after printing ([`Error::Interrupted`] if the paper ran out during
    /// the job).
    fn print(
        &mut self,
        receipt: &Receipt,
    ) -> impl Future<Output = Result<PrintOutcome, Error>> + Send;

    /// Health from the last known status (no device access).
    fn health(&self) -> crate::Health;
}

/// A synthetic receipt (no real person) for tests and the demo.
pub fn sample_receipt() -> Receipt {
    Receipt {
        kind: ReceiptKind::Acceptance,
        title: "国网供电 自助服务 受理回执".into(),
        business: "低压新装".into(),
        local_id: "K0007-20261123-0042".into(),
        central_no: None,
        accepted_at: "2026-11-23 14:05".into(),
        masked_name: "张*".into(),
        masked_id: "3301**********0026".into(),
        accepted: vec![
            "用电地址 Address: 杭州市西湖区文三路 *** 号".into(),
            "申请容量 Capacity: 8 kW 单相 single-phase".into(),
            "用电类别 Category: 居民生活 residential".into(),
        ],
        missing: vec![(
            "房屋产权证明 Proof of ownership".into(),
            "2026-12-07 前 before".into(),
        )],
        qr_payload: "https://example.invalid/q?o=K0007-20261123-0042".into(),
        service_phone: "95598".into(),
        footer: vec![
            "请妥善保管本回执 Keep this receipt.".into(),
            "补件可在任一自助终端办理 Missing documents can be handed in at any kiosk.".into(),
        ],
    }
}
