//! systemd's service notification protocol (`Type=notify`, `WatchdogSec=`),
//! without a dependency: datagrams to the socket named by `$NOTIFY_SOCKET`.
//!
//! `kiosk run` sends `READY=1` once the status endpoint is bound, then
//! `WATCHDOG=1` at half the interval systemd gives in `$WATCHDOG_USEC` from
//! a task on the same runtime, so a wedged runtime stops the pings and
//! systemd restarts the kiosk. Outside systemd (no `$NOTIFY_SOCKET`)
//! everything here does nothing.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where notifications go, from the environment systemd sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    socket: PathBuf,
    watchdog: Option<Duration>,
}

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The socket is in the abstract namespace, which this does not support.
    #[error("abstract notify sockets ({0}) are not supported")]
    Abstract(String),
    /// Sending failed.
    #[error("cannot notify systemd at {path}: {source}")]
    Send {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` (honouring `$WATCHDOG_PID`);
    /// `None` when not started by systemd with `Type=notify`.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(
            std::env::var("NOTIFY_SOCKET").ok(),
            std::env::var("WATCHDOG_USEC").ok(),
            std::env::var("WATCHDOG_PID").ok(),
            std::process::id(),
        )
    }

    /// The same from explicit values (tests).
    pub fn from_vars(
        socket: Option<String>,
        watchdog_usec: Option<String>,
        watchdog_pid: Option<String>,
        pid: u32,
    ) -> Option<Self> {
        let socket = socket.filter(|s| !s.is_empty())?;
        let for_us = watchdog_pid
            .map(|p| p.trim().parse::<u32>().ok() == Some(pid))
            .unwrap_or(true);
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(Duration::from_micros);
        Some(Self {
            socket: PathBuf::from(socket),
            watchdog,
        })
    }

    /// The watchdog interval systemd expects pings within, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one notification (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, …).
    pub fn send(&self, state: &str) -> Result<(), NotifyError> {
        let path = self.socket.to_string_lossy();
        if path.starts_with('@') {
            return Err(NotifyError::Abstract(path.into_owned()));
        }
        let sock = UnixDatagram::unbound().map_err(|source| NotifyError::Send {
            path: self.socket.clone(),
            source,
        })?;
        sock.send_to(state.as_bytes(), &self.socket)
            .map(|_| ())
            .map_err(|source| NotifyError::Send {
                path: self.socket.clone(),
                source,
            })
    }

    /// Sends `READY=1` and, when systemd asked for a watchdog, spawns the
    /// task pinging it at half the interval. Failures are logged, never
    /// fatal: the kiosk serves citizens even if systemd cannot be told.
    pub fn ready_and_watchdog(self) -> Option<tokio::task::JoinHandle<()>> {
        if let Err(e) = self.send("READY=1") {
            tracing::warn!("{e}");
        }
        let every = self.watchdog? / 2;
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = self.send("WATCHDOG=1") {
                    tracing::warn!("{e}");
                }
            }
        }))
    }
}

/// Resolves on SIGINT or SIGTERM (systemd stops a service with SIGTERM),
/// so `kiosk run` stops its tasks and flushes instead of dying mid-write.
pub async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_socket_means_no_systemd() {
        assert_eq!(
            Notifier::from_vars(None, Some("1000".into()), None, 1),
            None
        );
        assert_eq!(
            Notifier::from_vars(Some(String::new()), None, None, 1),
            None
        );
    }

    #[test]
    fn the_watchdog_is_for_this_pid_only() {
        let n = Notifier::from_vars(Some("/run/n".into()), Some("30000000".into()), None, 7)
            .expect("notifier");
        assert_eq!(n.watchdog(), Some(Duration::from_secs(30)));
        let other = Notifier::from_vars(
            Some("/run/n".into()),
            Some("30000000".into()),
            Some("8".into()),
            7,
        )
        .expect("notifier");
        assert_eq!(other.watchdog(), None);
        let bad = Notifier::from_vars(Some("/run/n".into()), Some("soon".into()), None, 7)
            .expect("notifier");
        assert_eq!(bad.watchdog(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn ready_then_watchdog_pings_at_half_the_interval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).expect("bind");
        server.set_nonblocking(true).expect("nonblocking");
        let n = Notifier::from_vars(
            Some(path.to_string_lossy().into_owned()),
            Some("10000000".into()),
            None,
            1,
        )
        .expect("notifier");
        let task = n.ready_and_watchdog().expect("watchdog task");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        // Paused time: each sleep lets the interval fire exactly once more.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5_001)).await;
            tokio::task::yield_now().await;
        }
        while let Ok(len) = server.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        task.abort();
        assert_eq!(got.first().map(String::as_str), Some("READY=1"));
        let pings = got.iter().filter(|m| *m == "WATCHDOG=1").count();
        // The first tick fires at once, then one per 5 s: 4 in 15 s.
        assert_eq!(pings, 4, "{got:?}");
    }

    #[test]
    fn a_missing_socket_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = Notifier::from_vars(
            Some(dir.path().join("gone").to_string_lossy().into_owned()),
            None,
            None,
            1,
        )
        .expect("notifier");
        let err = n.send("READY=1").expect_err("no socket");
        assert!(err.to_string().contains("gone"), "{err}");
        let abs = Notifier::from_vars(Some("@abstract".into()), None, None, 1).expect("n");
        assert!(matches!(abs.send("READY=1"), Err(NotifyError::Abstract(_))));
    }
}
