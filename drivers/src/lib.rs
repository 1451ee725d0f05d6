//! Device drivers of the kiosk.
//!
//! One module per device, each with the same shape: `mod.rs` (the trait, its
//! types and its `Error`), the real Linux implementation, and `sim.rs`, a
//! simulated twin that speaks the same bytes where there are bytes and can
//! inject faults. Protocol codecs are pure functions over bytes, separate from
//! the I/O that moves them, so they can be property-tested and fuzzed.

#![warn(missing_docs)]

pub mod camera;
pub mod gpio;
pub mod id_card;
pub mod pii;
pub mod printer;
pub mod speaker;
#[doc(hidden)]
pub mod test_skip;

use serde::{Deserialize, Serialize};

/// A device's health as the status endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum Health {
    /// Not probed yet.
    Unknown,
    /// Working.
    Ok,
    /// Working with a warning (paper near end, slow link, …).
    Degraded(String),
    /// Not working (paper out, unplugged, SAM failed, …).
    Fault(String),
}
