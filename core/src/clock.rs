//! Whether the system clock can be trusted when an order is accepted.
//!
//! The Raspberry Pi has no real-time clock: until NTP has synchronised it
//! after a boot, the clock says whatever the last shutdown left (or 1970).
//! An order accepted then records "time unverified" (`Order::time_unverified`),
//! central stamps its own receipt time beside it, and the receipt says so.
//!
//! The device's source is systemd-timesyncd's flag file: timesyncd creates
//! `/run/systemd/timesync/synchronized` at its first synchronisation after
//! boot, and `/run` is a tmpfs, so the file exists exactly when the clock
//! has been synchronised since this boot (systemd-time-wait-sync.service
//! waits on the same file).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// The file systemd-timesyncd creates at its first synchronisation after boot.
pub const TIMESYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

/// The alarm `/status` shows while the clock is not synchronised.
pub const UNSYNCHRONIZED_ALARM: &str =
    "clock not synchronised since boot (no NTP): orders are accepted with their time unverified";

/// Says whether the system clock has been synchronised since boot.
pub trait ClockSync: Send + Sync + std::fmt::Debug {
    /// `true` when the clock can be trusted.
    fn synchronized(&self) -> bool;
}

/// systemd-timesyncd's flag file (see the module documentation).
#[derive(Debug, Clone)]
pub struct TimesyncFlag {
    path: PathBuf,
}

impl TimesyncFlag {
    /// The flag at `path` ([`TIMESYNC_FLAG`] on the device).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl ClockSync for TimesyncFlag {
    fn synchronized(&self) -> bool {
        self.path.exists()
    }
}

/// A clock taken as synchronised: `[clock] source = "trusted"` (a host whose
/// clock another NTP client keeps, the demo on the twins).
#[derive(Debug, Clone, Copy, Default)]
pub struct Trusted;

impl ClockSync for Trusted {
    fn synchronized(&self) -> bool {
        true
    }
}

/// A source set by hand: tests, and the simulator's scenarios.
#[derive(Debug, Default)]
pub struct Manual(AtomicBool);

impl Manual {
    /// A source that says `synced`.
    pub fn new(synced: bool) -> Self {
        Self(AtomicBool::new(synced))
    }

    /// Changes what it says.
    pub fn set(&self, synced: bool) {
        self.0.store(synced, Ordering::Relaxed);
    }
}

impl ClockSync for Manual {
    fn synchronized(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `[clock]`: where the kiosk learns whether its clock is synchronised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// `timesyncd` (the flag file below) or `trusted`.
    pub source: ClockSource,
    /// The flag file of `timesyncd`.
    pub sync_flag: PathBuf,
}

/// The kinds of [`ClockConfig::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    /// systemd-timesyncd's flag file.
    Timesyncd,
    /// Always synchronised.
    Trusted,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            source: ClockSource::Timesyncd,
            sync_flag: PathBuf::from(TIMESYNC_FLAG),
        }
    }
}

impl ClockConfig {
    /// The source this config names.
    pub fn source(&self) -> std::sync::Arc<dyn ClockSync> {
        match self.source {
            ClockSource::Timesyncd => std::sync::Arc::new(TimesyncFlag::new(&self.sync_flag)),
            ClockSource::Trusted => std::sync::Arc::new(Trusted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_file_says_whether_timesyncd_has_synchronised() {
        let dir = tempfile::tempdir().expect("tempdir");
        let flag = dir.path().join("synchronized");
        let config = ClockConfig {
            source: ClockSource::Timesyncd,
            sync_flag: flag.clone(),
        };
        let clock = config.source();
        assert!(!clock.synchronized());
        std::fs::write(&flag, b"").expect("flag");
        assert!(clock.synchronized());
        std::fs::remove_file(&flag).expect("rm");
        assert!(!clock.synchronized());
        let trusted = ClockConfig {
            source: ClockSource::Trusted,
            sync_flag: flag,
        };
        assert!(trusted.source().synchronized());
    }

    #[test]
    fn the_config_defaults_to_timesyncd_and_reads_trusted() {
        assert_eq!(
            ClockConfig::default().sync_flag,
            PathBuf::from(TIMESYNC_FLAG)
        );
        let c: ClockConfig = toml::from_str("source = \"trusted\"").expect("parse");
        assert_eq!(c.source, ClockSource::Trusted);
        assert!(toml::from_str::<ClockConfig>("source = \"gps\"").is_err());
        let m = Manual::new(false);
        assert!(!m.synchronized());
        m.set(true);
        assert!(m.synchronized());
    }
}
