//! Resident ID-card reader (SAM module, GA/T 467 serial protocol).
//!
//! Layers, each usable alone:
//! - [`frame`]: the pure byte codec (commands, replies, status codes), with
//!   property tests and a fuzz target (`drivers/fuzz`).
//! - [`text`]: the pure parser of a read reply into an [`IdCard`].
//! - [`decode`]: one saved reply from raw bytes, for `kiosk card decode FILE`.
//! - [`photo`]: the seam for a (vendor-only) WLT photo decoder.
//! - [`serial`]: [`SerialCardReader`], the driver: find → select → read over
//!   any async byte stream, with per-step timeouts, retries on corrupted
//!   replies and health tracking.
//! - [`sim`]: the twin, a fake reader on the far end of a pseudo-terminal that
//!   answers the real driver byte for byte from a script of behaviours, and
//!   [`sim::CardFixture`] to build card data for tests.
//!
//! The rest of the system sees only [`CardReader`] and [`Error`].

pub mod decode;
pub mod frame;
pub mod photo;
pub mod serial;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod text;

pub use decode::{decode_reply_bytes, CardDecodeError};
pub use frame::{Command, FrameError, Reply, Status};
pub use photo::{NoPhotoDecoder, PhotoDecoder, PhotoError, RgbPhoto};
pub use serial::{PortReader, ReaderTimings, SerialCardReader};
pub use text::{CardKind, IdCard, Sex, TextError};

use std::time::Duration;

/// A card reader as the rest of the system calls it.
pub trait CardReader: Send {
    /// One attempt: find → select → read. Ok(None) when no card is present.
    fn read(&mut self) -> impl std::future::Future<Output = Result<Option<IdCard>, Error>> + Send;
    /// Last known health (SAM state, link).
    fn health(&self) -> crate::Health;
    /// Between reads: a reader whose port is missing tries to open it
    /// again (a USB adapter that appeared after the kiosk started). Most
    /// readers have nothing to do.
    fn reopen(&mut self) {}
}

/// Why a read attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reader did not answer a command in time (or answered only noise).
    #[error("reader silent: no reply to {command} within {after:?}")]
    Timeout {
        /// The command left unanswered.
        command: Command,
        /// The step's time limit.
        after: Duration,
    },
    /// A card was found and selected but could not be read: most likely it
    /// was pulled away mid-read. Ask the user to hold it still and retry.
    #[error("card removed during the read: {0}")]
    CardRemoved(#[source] Box<Error>),
    /// Replies kept arriving corrupted after all retries.
    #[error("bad reply frame to {command}: {source}")]
    Frame {
        /// The command whose replies were corrupted.
        command: Command,
        /// The last frame error.
        source: FrameError,
    },
    /// The reader answered with a status the step does not expect.
    #[error("unexpected status for {command}: {status}")]
    Status {
        /// The command answered.
        command: Command,
        /// The status.
        status: Status,
    },
    /// The SAM module reports a fault; the reader needs service.
    #[error("SAM fault on {command}: {status}")]
    Sam {
        /// The command answered.
        command: Command,
        /// The SAM status.
        status: Status,
    },
    /// The read reply's data is not a card.
    #[error("malformed card data: {0}")]
    Text(#[from] TextError),
    /// The serial port could not be opened.
    #[error("cannot open card reader at {path}: {source}")]
    Open {
        /// Device path.
        path: String,
        /// The cause.
        source: tokio_serial::Error,
    },
    /// I/O error on the link.
    #[error("card reader I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A frame error outside a command exchange (the `tokio_util` codecs).
    #[error("bad frame: {0}")]
    Codec(#[from] FrameError),
}

impl Error {
    /// Whether the card was pulled mid-read.
    pub fn is_card_removed(&self) -> bool {
        matches!(self, Error::CardRemoved(_))
    }

    /// Whether the reader did not answer.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the SAM module reports a fault.
    pub fn is_sam_fault(&self) -> bool {
        matches!(self, Error::Sam { .. })
    }

    /// Whether retrying the read soon may succeed (the kiosk keeps polling);
    /// otherwise the reader needs attention.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::CardRemoved(_) | Error::Frame { .. } | Error::Text(_) | Error::Codec(_) => true,
            Error::Status { status, .. } => !status.is_sam_fault(),
            Error::Timeout { .. } | Error::Sam { .. } | Error::Open { .. } | Error::Io(_) => false,
        }
    }
}

#[cfg(test)]
mod tests;
