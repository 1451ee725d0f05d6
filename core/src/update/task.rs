//! The kiosk's side of an update: ask central, download, ask for the
//! install while idle, ask for the reboot inside the maintenance window.
//! Privileged steps are requests to `kiosk update apply` (root).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::{
    free_bytes, sha256_file, write_atomic, InstallRequest, Outcome, Paths, Release, State,
    SystemReport, UpdateConfig, Window,
};
use crate::central::client::CentralClient;
use crate::central::RolloutDecision;
use crate::flow::ServiceZone;

/// What the update task needs.
pub struct UpdateTask {
    /// `[update]`.
    pub config: UpdateConfig,
    /// The kiosk's data folder (`/data/kiosk`).
    pub data_dir: PathBuf,
    /// This kiosk's id, as central knows it.
    pub device_id: String,
    /// Central.
    pub central: Arc<CentralClient>,
    /// Whether the kiosk is idle at attract (no citizen, no transaction).
    pub idle: Arc<dyn Fn() -> bool + Send + Sync>,
    /// The service's time zone (the maintenance window is local time).
    pub zone: ServiceZone,
    /// Published for `/status` after every change.
    pub report: watch::Sender<SystemReport>,
}

/// What one round did (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// Nothing offered, or not this kiosk's turn, or the offer runs already.
    Nothing,
    /// The offer was refused before (same version): not tried again.
    RefusedBefore,
    /// Central or the download failed; kept for the next round.
    Retry(String),
    /// Downloaded and verified, waiting for the kiosk to be idle.
    WaitingIdle,
    /// Not enough space on `/data`.
    NoSpace(String),
    /// The install was asked for.
    InstallRequested,
    /// Installed; waiting for the maintenance window and an idle moment.
    WaitingWindow,
    /// The reboot was asked for.
    RebootRequested,
}

impl UpdateTask {
    fn paths(&self) -> Paths {
        Paths::new(&self.data_dir)
    }

    fn publish(&self) {
        self.report
            .send_replace(SystemReport::read(&self.config, &self.data_dir));
    }

    fn publish_round(&self, round: &Round) {
        let mut report = SystemReport::read(&self.config, &self.data_dir);
        report.waiting = match round {
            Round::Retry(why) | Round::NoSpace(why) => Some(why.clone()),
            Round::WaitingIdle => Some("an idle moment at the attract screen to install".into()),
            Round::WaitingWindow => {
                Some("the maintenance window and an idle moment to reboot".into())
            }
            _ => None,
        };
        self.report.send_replace(report);
    }

    /// One round (see [`Round`]).
    pub async fn round(&self) -> Round {
        let paths = self.paths();
        let mut state = State::load(&paths.state());
        let release = Release::load(&self.config.release_file);
        let booted = super::this_boot_slot();
        if let Some(p) = &state.pending {
            if Some(&p.slot) != booted.as_ref() {
                let now = Utc::now().with_timezone(&self.zone.0).time();
                let window = Window::parse(&self.config.maintenance_window);
                let in_window = window.map(|w| w.contains(now)).unwrap_or(false);
                // A technician who installed from a stick restarts it
                // themselves ("Restart now"); if they leave without, the
                // maintenance window applies after a grace period.
                let technician_waits = p.technician
                    && Utc::now() - p.installed_at
                        < chrono::Duration::minutes(super::TECHNICIAN_GRACE_MINUTES);
                if !in_window
                    || technician_waits
                    || !(self.idle)()
                    || paths.reboot_request().exists()
                {
                    return Round::WaitingWindow;
                }
                // The orders are on /data, which every slot mounts: a reboot
                // loses none; at attract no transaction is open.
                return match write_atomic(&paths.reboot_request(), b"reboot\n") {
                    Ok(()) => Round::RebootRequested,
                    Err(e) => Round::Retry(e.to_string()),
                };
            }
        }
        if paths.install_request().exists() || paths.installing().exists() {
            return Round::InstallRequested;
        }
        let answer = match self
            .central
            .update_offer(&self.device_id, &release.version)
            .await
        {
            Ok(a) => a,
            Err(e) => return Round::Retry(e.to_string()),
        };
        let Some(offer) = answer.update else {
            return Round::Nothing;
        };
        if offer.version == release.version || offer.rollout.decision == RolloutDecision::Wait {
            return Round::Nothing;
        }
        if offer.sha256.len() != 64 || !offer.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Round::Retry("the offer's sha256 is not a SHA-256".into());
        }
        if state.failed_before(&offer.version) {
            return Round::RefusedBefore;
        }
        if let Some(last) = &state.last {
            // A failed install (I/O, RAUC unavailable) is retried, but not
            // at once: every five minutes.
            if last.version == offer.version
                && last.outcome == Outcome::Failed
                && Utc::now() - last.at < chrono::Duration::minutes(5)
            {
                return Round::Retry(format!("the last try failed: {}", last.detail));
            }
        }
        let file = paths.bundle(&offer.sha256.to_lowercase());
        // Bundles of earlier offers (failed, superseded) give their space
        // back: /data holds one download at a time.
        if let Ok(entries) = std::fs::read_dir(&paths.dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "raucb") && p != file {
                    tracing::info!("removing the stale download {}", p.display());
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        let have = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if have < offer.size {
            let need = offer.size - have + self.config.keep_free_mib * 1024 * 1024;
            if let Err(e) = std::fs::create_dir_all(&paths.dir) {
                return Round::Retry(format!("cannot create {}: {e}", paths.dir.display()));
            }
            match free_bytes(&paths.dir) {
                Some(free) if free < need => {
                    let why = format!(
                        "{} MiB free on /data, the bundle needs {} MiB more",
                        free / 1024 / 1024,
                        need / 1024 / 1024
                    );
                    state.record(&offer.version, Outcome::Failed, why.clone());
                    let _ = state.save(&paths.state());
                    self.publish();
                    return Round::NoSpace(why);
                }
                _ => {}
            }
            tracing::info!(
                "downloading update {} ({} bytes, from byte {have})",
                offer.version,
                offer.size
            );
            match self
                .central
                .download_to(&offer.bundle_url, &file, have, offer.size)
                .await
            {
                Ok(n) if n == offer.size => {}
                Ok(n) => {
                    return Round::Retry(format!("download stopped at {n} of {} bytes", offer.size))
                }
                Err(e) => return Round::Retry(format!("download interrupted, resumes: {e}")),
            }
        }
        match sha256_file(&file) {
            Ok(sum) if sum.eq_ignore_ascii_case(&offer.sha256) => {}
            Ok(_) => {
                let _ = std::fs::remove_file(&file);
                state.record(
                    &offer.version,
                    Outcome::Failed,
                    "downloaded bundle has the wrong SHA-256; fetched again",
                );
                let _ = state.save(&paths.state());
                self.publish();
                return Round::Retry("wrong SHA-256".into());
            }
            Err(e) => return Round::Retry(format!("cannot read the download: {e}")),
        }
        if state.last.as_ref().map(|l| (&l.version, l.outcome))
            != Some((&offer.version, Outcome::Downloaded))
        {
            state.record(
                &offer.version,
                Outcome::Downloaded,
                "verified, waiting for an idle moment",
            );
            let _ = state.save(&paths.state());
            self.publish();
        }
        if !(self.idle)() {
            return Round::WaitingIdle;
        }
        let request = InstallRequest {
            bundle: file,
            version: offer.version.clone(),
            sha256: Some(offer.sha256.to_lowercase()),
            technician: false,
        };
        match write_atomic(
            &paths.install_request(),
            &serde_json::to_vec(&request).unwrap_or_default(),
        ) {
            Ok(()) => {
                tracing::info!("asked for the install of update {}", offer.version);
                Round::InstallRequested
            }
            Err(e) => Round::Retry(e.to_string()),
        }
    }

    /// Rounds until `shutdown`: every `check_every_secs`, and every 10 s
    /// while something waits (an idle moment, the install, the window).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.publish();
        loop {
            let round = self.round().await;
            match &round {
                Round::Retry(why) | Round::NoSpace(why) => {
                    tracing::info!("update: {why}");
                }
                Round::Nothing | Round::RefusedBefore => {}
                other => tracing::debug!("update: {other:?}"),
            }
            self.publish_round(&round);
            let quick = matches!(
                round,
                Round::WaitingIdle
                    | Round::InstallRequested
                    | Round::WaitingWindow
                    | Round::RebootRequested
            );
            let wait = if quick {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(self.config.check_every_secs)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}
