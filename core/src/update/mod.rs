//! Updates over the air: RAUC bundles offered by central, installed into the
//! other root slot, confirmed only when the new slot is healthy.
//!
//! Who does what:
//! * the kiosk (unprivileged, [`task`]) asks central for an offer, downloads
//!   the bundle into `/data` (resuming after a network fault, after checking
//!   free space), checks its size and SHA-256, and when the screen is idle at
//!   attract writes an install request; once installed, it asks for a reboot
//!   inside the maintenance window, again only while idle;
//! * `kiosk update apply` (root, started by `kiosk-update-apply.path` when a
//!   request appears) runs `rauc install` (RAUC checks the signature against
//!   the image's keyring) or reboots;
//! * `kiosk update confirm` (root, `kiosk-update-confirm.service`, every
//!   boot) gives the booted slot its tries back (`rauc status mark-good`)
//!   only once the kiosk is healthy: on a freshly installed slot that means
//!   `/status` answers (so the store opened), the flow is at attract and no
//!   device is in fault, within `[update] confirm_within_secs`; otherwise it
//!   fails and the unit reboots, so U-Boot spends the slot's tries and falls
//!   back to the previous slot by itself. After such a fall back it records
//!   the failed update, which `/status` and `/metrics` report.
//!
//! Everything the three share lives in `<data_dir>/update/` ([`State`]), on
//! `/data`, which both slots mount.

pub mod task;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// The `[update]` config section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Ask central for updates (a kiosk without RAUC never installs).
    pub enabled: bool,
    /// Seconds between two questions to central.
    pub check_every_secs: u64,
    /// Local time window (`HH:MM-HH:MM`, may cross midnight) in which the
    /// kiosk may reboot into an installed update.
    pub maintenance_window: String,
    /// Seconds a new slot has after boot to become healthy.
    pub confirm_within_secs: u64,
    /// Free space kept on `/data` besides the bundle, MiB.
    pub keep_free_mib: u64,
    /// The release file of the running system.
    pub release_file: PathBuf,
    /// Where a technician's USB stick is mounted (read-only, by the
    /// image's udev rule); its top-level `*.raucb` bundles are offered on
    /// the technician menu.
    pub usb_dir: PathBuf,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            check_every_secs: 3600,
            maintenance_window: "02:00-05:00".into(),
            confirm_within_secs: 300,
            keep_free_mib: 64,
            release_file: PathBuf::from("/etc/kiosk/release"),
            usb_dir: PathBuf::from("/media/kiosk-usb"),
        }
    }
}

impl UpdateConfig {
    /// Checks the fields that can be wrong.
    pub fn validate(&self) -> Result<(), String> {
        Window::parse(&self.maintenance_window)?;
        if self.check_every_secs < 5 {
            return Err("update.check_every_secs must be at least 5".into());
        }
        if self.confirm_within_secs < 30 {
            return Err("update.confirm_within_secs must be at least 30".into());
        }
        Ok(())
    }
}

/// A daily local-time window, `start` inclusive, `end` exclusive; crosses
/// midnight when `end <= start` (`22:00-04:00`); `00:00-24:00` is all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: u32,
    end: u32,
}

impl Window {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("update.maintenance_window {s:?}: expected HH:MM-HH:MM");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Result<u32, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if m > 59 || h > 24 || (h == 24 && m > 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        Ok(Self {
            start: minutes(a)?,
            end: minutes(b)?,
        })
    }

    /// Whether local time `t` is inside.
    pub fn contains(&self, t: NaiveTime) -> bool {
        use chrono::Timelike as _;
        let m = t.hour() * 60 + t.minute();
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }
}

/// The running system's release (`/etc/kiosk/release`, written by
/// image-build): its version is what central compares offers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Release version (`0.1.0+g0123abcdef`); the kiosk's own version when
    /// the file is missing (a host build).
    pub version: String,
    /// Image name (`rpi4`, `qemu-virt`), when known.
    pub image: Option<String>,
}

impl Release {
    /// Reads `path` (`KEY=value` lines).
    pub fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let get = |k: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(key, _)| key.trim() == k)
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            version: get("VERSION").unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            image: get("IMAGE"),
        }
    }
}

/// The slot the boot script booted (`rauc.slot=` on the kernel command line).
pub fn booted_slot(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rauc.slot="))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The booted slot of this system, if it was booted by the boot script.
pub fn this_boot_slot() -> Option<String> {
    booted_slot(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default())
}

/// What one update ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Downloaded and verified, waiting for an idle moment to install.
    Downloaded,
    /// Installed into the other slot, waiting for the maintenance window.
    Installed,
    /// The new slot booted and was healthy: marked good.
    Good,
    /// The new slot never became healthy; the board fell back.
    RolledBack,
    /// RAUC refused the bundle (signature, compatible, format): nothing
    /// changed.
    Refused,
    /// The download or the install failed (space, checksum, I/O); it is
    /// retried after five minutes.
    Failed,
    /// The install was cut short (power cut, crash) before RAUC finished:
    /// the slot it wrote is out of the boot order, the bundle is still on
    /// `/data`; retried at the next idle moment (the bundle is not at fault).
    Interrupted,
    /// An outcome written by a newer version this one does not know (after
    /// a rollback); read rather than losing the whole state.
    #[serde(other)]
    Unknown,
}

impl Outcome {
    /// The label `/metrics` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Downloaded => "downloaded",
            Outcome::Installed => "installed",
            Outcome::Good => "good",
            Outcome::RolledBack => "rolled-back",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Unknown => "unknown",
        }
    }
}

/// The last update, as `/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUpdate {
    /// Release version of the bundle.
    pub version: String,
    /// How it ended (so far).
    pub outcome: Outcome,
    /// A short reason, never personal.
    pub detail: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An install waiting for its first boot: which slot it went to, from which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Release version installed.
    pub version: String,
    /// The slot it was installed into.
    pub slot: String,
    /// The slot (and version) that ran when it was installed.
    pub from_slot: Option<String>,
    /// That version.
    pub from_version: String,
    /// When RAUC finished.
    pub installed_at: DateTime<Utc>,
    /// Installed by a technician (USB stick): the reboot waits for their
    /// "Restart now" for [`TECHNICIAN_GRACE_MINUTES`], then for the
    /// maintenance window as any other update.
    #[serde(default)]
    pub technician: bool,
}

/// Minutes an install a technician started waits for their restart before
/// the maintenance window applies.
pub const TECHNICIAN_GRACE_MINUTES: i64 = 30;

/// Format of `state.json`; a newer one is read as far as it is understood
/// (unknown fields are kept out, never an error), so a rolled-back older
/// kiosk still reports.
pub const STATE_FORMAT: u32 = 1;

/// `<data_dir>/update/state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// [`STATE_FORMAT`] of the writer.
    pub format: u32,
    /// The install waiting for its first boot.
    pub pending: Option<Pending>,
    /// The last update's result.
    pub last: Option<LastUpdate>,
    /// Updates that failed (refused, rolled back) since the kiosk was made.
    pub failures_total: u64,
    /// Versions refused or rolled back, never offered to RAUC again (the
    /// last [`REMEMBERED_FAILURES`]): another update in between (a USB
    /// stick's, say) must not make the kiosk fetch them once more.
    pub failed_versions: Vec<String>,
    /// Tries of the pending slot that did not become healthy in time.
    pub unhealthy_boots: u64,
    /// RAUC's view of the slots, as the root helpers last read it (the
    /// kiosk itself may not ask RAUC).
    pub slots: Vec<SlotState>,
}

/// The update folder's files.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `<data_dir>/update`.
    pub dir: PathBuf,
}

impl Paths {
    /// Under the kiosk's data folder.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("update"),
        }
    }
    /// The shared state.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// A bundle being downloaded or downloaded.
    pub fn bundle(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{}.raucb", &sha256[..sha256.len().min(16)]))
    }
    /// The kiosk's request to install ([`InstallRequest`]).
    pub fn install_request(&self) -> PathBuf {
        self.dir.join("install.request")
    }
    /// The kiosk's request to reboot into the installed slot.
    pub fn reboot_request(&self) -> PathBuf {
        self.dir.join("reboot.request")
    }
    /// Present while `rauc install` runs (an install never survives a
    /// reboot: `kiosk update confirm` clears a stale one).
    pub fn installing(&self) -> PathBuf {
        self.dir.join("installing")
    }
}

/// What the kiosk asks the root helper to install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequest {
    /// The bundle file (on `/data`, or a technician's USB stick).
    pub bundle: PathBuf,
    /// Its release version, as offered.
    pub version: String,
    /// Its SHA-256 as offered (checked again before RAUC sees it); none
    /// for a technician's USB stick, where RAUC's signature check is the
    /// guard.
    pub sha256: Option<String>,
    /// Asked for on the technician menu.
    #[serde(default)]
    pub technician: bool,
}

/// The bundles at the top of a technician's USB stick, by name.
pub fn usb_bundles(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "raucb") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The technician menu's "Install from the USB stick": an install request
/// for `bundle`. Its version is read from RAUC once installed.
pub fn request_usb_install(data_dir: &Path, bundle: &Path) -> Result<(), UpdateError> {
    let paths = Paths::new(data_dir);
    if paths.install_request().exists() || paths.installing().exists() {
        return Err(UpdateError::Tool("an install is already running".into()));
    }
    let request = InstallRequest {
        bundle: bundle.to_path_buf(),
        version: String::new(),
        sha256: None,
        technician: true,
    };
    write_atomic(
        &paths.install_request(),
        &serde_json::to_vec(&request).unwrap_or_default(),
    )
}

/// The technician menu's "Restart now" into an installed update.
pub fn request_reboot(data_dir: &Path) -> Result<(), UpdateError> {
    write_atomic(&Paths::new(data_dir).reboot_request(), b"reboot\n")
}

/// Errors of the update paths.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// Which file or step.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A tool (rauc, systemctl) failed.
    #[error("{0}")]
    Tool(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> UpdateError {
    let what = what.into();
    move |source| UpdateError::Io { what, source }
}

impl State {
    /// Reads the state; a missing or unreadable file is a fresh state (an
    /// unreadable one is logged: the kiosk keeps working without history).
    pub fn load(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "update state {} unreadable, starting afresh: {e}",
                    path.display()
                );
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes the state atomically (temporary file, fsync, rename, fsync of
    /// the folder), owned like the folder so both the kiosk and the root
    /// helper can rewrite it.
    pub fn save(&self, path: &Path) -> Result<(), UpdateError> {
        let mut s = self.clone();
        s.format = s.format.max(STATE_FORMAT);
        write_atomic(path, &serde_json::to_vec_pretty(&s).unwrap_or_default())
    }

    /// Records an outcome.
    pub fn record(&mut self, version: &str, outcome: Outcome, detail: impl Into<String>) {
        if matches!(outcome, Outcome::Refused | Outcome::RolledBack) {
            self.failures_total += 1;
            if !self.failed_before(version) {
                self.failed_versions.push(version.to_string());
                let extra = self
                    .failed_versions
                    .len()
                    .saturating_sub(REMEMBERED_FAILURES);
                self.failed_versions.drain(..extra);
            }
        }
        self.last = Some(LastUpdate {
            version: version.to_string(),
            outcome,
            detail: detail.into(),
            at: Utc::now(),
        });
    }
}

/// How many refused or rolled-back versions [`State`] remembers.
pub const REMEMBERED_FAILURES: usize = 32;

impl State {
    /// Whether `version` was refused or rolled back before (so it is never
    /// tried again).
    pub fn failed_before(&self, version: &str) -> bool {
        self.failed_versions.iter().any(|v| v == version)
            || self.last.as_ref().is_some_and(|l| {
                l.version == version && matches!(l.outcome, Outcome::Refused | Outcome::RolledBack)
            })
    }
}

/// Writes `bytes` to `path` atomically; the file gets the owner of its
/// folder (root writes files the unprivileged kiosk must rewrite).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    // The update folder belongs to the kiosk even when root made it
    // (`kiosk update confirm` at boot): the kiosk downloads into it.
    if let Some(parent) = dir.parent() {
        crate::files::own_like_folder(dir, parent);
    }
    crate::files::replace(path, bytes, 0o666)
        .map_err(|e| io(format!("{} {}", e.what, e.path.display()))(e.source))
}

/// One slot as RAUC reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotState {
    /// `A` or `B`.
    pub bootname: String,
    /// `booted`, `inactive`, …
    pub state: String,
    /// `good` or `bad` (U-Boot counters: tries left and in the boot order).
    pub boot_status: String,
    /// The release version RAUC last installed there, if it did.
    pub version: Option<String>,
}

/// Parses `rauc status --detailed --output-format=json`.
pub fn parse_rauc_status(json: &str) -> Result<Vec<SlotState>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("rauc status is not JSON: {e}"))?;
    let slots = v["slots"].as_array().ok_or("rauc status has no slots")?;
    let mut out = Vec::new();
    for entry in slots {
        let Some(obj) = entry.as_object() else {
            continue;
        };
        for (_, s) in obj {
            let Some(bootname) = s["bootname"].as_str() else {
                continue;
            };
            out.push(SlotState {
                bootname: bootname.to_string(),
                state: s["state"].as_str().unwrap_or("").to_string(),
                boot_status: s["boot_status"].as_str().unwrap_or("").to_string(),
                version: s["slot_status"]["bundle"]["version"]
                    .as_str()
                    .map(str::to_string),
            });
        }
    }
    Ok(out)
}

/// Runs a tool, returning its stdout, or an error with what it said about
/// the failure: RAUC prints its reason (`LastError: …`) among progress
/// lines, on either stream, so lines naming an error come first.
pub fn run_tool(program: &str, args: &[&str]) -> Result<String, UpdateError> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(io(format!("cannot run {program}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(UpdateError::Tool(format!(
        "{program} {} failed ({}): {}",
        args.first().copied().unwrap_or(""),
        out.status,
        failure_reason(&text)
    )))
}

/// The lines of a tool's output that say why it failed (those naming an
/// error, else the last three), at most 400 characters.
pub fn failure_reason(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("error") || l.contains("failed to") || l.contains("refused")
        })
        .collect();
    let picked = if errors.is_empty() {
        lines[lines.len().saturating_sub(3)..].to_vec()
    } else {
        errors
    };
    picked.join(" | ").chars().take(400).collect()
}

/// RAUC's view of the slots (`None` where RAUC is not installed or fails).
pub fn rauc_slots() -> Option<Vec<SlotState>> {
    let json = run_tool("rauc", &["status", "--detailed", "--output-format=json"]).ok()?;
    parse_rauc_status(&json).ok()
}

/// What `/status` reports about the system and its updates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemReport {
    /// Release version running.
    pub release: String,
    /// The booted slot (`A`, `B`), if booted by the boot script.
    pub slot: Option<String>,
    /// The other slot's `good`/`bad` as RAUC sees it.
    pub other_slot: Option<String>,
    /// The last update.
    pub last_update: Option<LastUpdate>,
    /// Failed updates so far.
    pub update_failures_total: u64,
    /// A request waiting for the root helper (`install`, `reboot`), or
    /// `installing` while RAUC writes the other slot.
    #[serde(default)]
    pub request: Option<String>,
    /// What the update task waits for or retries (a download cut, central
    /// unreachable, not enough space), until it moves on.
    #[serde(default)]
    pub waiting: Option<String>,
    /// Why provisioning refused the `kiosk.toml` on the boot partition
    /// (`drop-refused.txt`), for the technician menu; `/status` says it
    /// among its alarms.
    #[serde(skip)]
    pub drop_refused: Option<String>,
}

impl SystemReport {
    /// Reads release, slot, RAUC and the state file.
    pub fn read(config: &UpdateConfig, data_dir: &Path) -> Self {
        let release = Release::load(&config.release_file);
        let slot = this_boot_slot();
        let paths = Paths::new(data_dir);
        let state = State::load(&paths.state());
        let other_slot = match &slot {
            Some(me) => state
                .slots
                .iter()
                .find(|s| &s.bootname != me)
                .map(|s| s.boot_status.clone()),
            None => None,
        };
        let request = if paths.installing().exists() {
            Some("installing".to_string())
        } else if paths.install_request().exists() {
            Some("install".to_string())
        } else if paths.reboot_request().exists() {
            Some("reboot".to_string())
        } else {
            None
        };
        Self {
            release: release.version,
            slot,
            other_slot,
            last_update: state.last,
            update_failures_total: state.failures_total,
            request,
            waiting: None,
            drop_refused: crate::config_drop::refusal(data_dir),
        }
    }
}

/// Whether a `/status` snapshot shows a kiosk healthy enough to keep a new
/// slot: at attract, no device in fault. (That it answered at all says the
/// store opened: the kiosk opens it before it serves.)
pub fn healthy(s: &crate::status::Snapshot) -> Result<(), String> {
    if s.flow_state != "attract" {
        return Err(format!("the flow is at {}, not at attract", s.flow_state));
    }
    let faults: Vec<String> = s
        .devices
        .iter()
        .filter_map(|(n, h)| match h {
            kiosk_drivers::Health::Fault(w) => Some(format!("{n}: {w}")),
            _ => None,
        })
        .collect();
    if !faults.is_empty() {
        return Err(format!("device fault: {}", faults.join("; ")));
    }
    Ok(())
}

/// Writes one line to every console the kernel writes to (the serial
/// console a technician reads, the screen's tty): the boot's verdict.
pub fn tell_consoles(line: &str) {
    let active = std::fs::read_to_string("/sys/class/tty/console/active").unwrap_or_default();
    for name in active.split_whitespace() {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .open(Path::new("/dev").join(name))
        {
            let _ = writeln!(f, "\r\n{line}\r");
        }
    }
}

/// Records RAUC's view of the slots in the state (root helpers only).
fn note_slots(state: &mut State) {
    if let Some(slots) = rauc_slots() {
        state.slots = slots;
    }
}

/// How `kiosk update confirm` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// A freshly installed slot became healthy: marked good.
    NewSlotGood {
        /// Its version.
        version: String,
    },
    /// A slot already kept: its tries given back once it answered.
    Kept,
    /// A slot already kept whose kiosk did not answer in time, or whose
    /// tries could not be given back: not a reason to reboot (a device
    /// fault or a bad config is staff's business, not a software change).
    KeptUnconfirmed {
        /// Why.
        why: String,
    },
    /// The new slot did not become healthy in time: the caller reboots.
    Unhealthy {
        /// Why.
        why: String,
    },
}

/// Where `kiosk update confirm` asks for health.
pub struct HealthProbe {
    /// `http://127.0.0.1:PORT/status`.
    pub url: String,
    /// The status token.
    pub token: Option<String>,
    /// The kiosk's own certificate and key, once enrolled: the endpoint
    /// then answers only certificates of the fleet CA, and this is one.
    pub identity: Option<crate::central::client::IdentityPem>,
}

impl HealthProbe {
    /// One look at `/status`: the snapshot, or why there is none.
    pub async fn look(&self, client: &reqwest::Client) -> Result<crate::status::Snapshot, String> {
        let mut r = client.get(&self.url);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let resp = r
            .send()
            .await
            .map_err(|_| "the status endpoint does not answer".to_string())?;
        if !resp.status().is_success() {
            return Err(format!(
                "the status endpoint answered HTTP {}",
                resp.status().as_u16()
            ));
        }
        resp.json()
            .await
            .map_err(|e| format!("the status endpoint answered garbage: {e}"))
    }
}

/// `kiosk update confirm`: decides whether the booted slot keeps its
/// place (see the module doc). `mark_good` runs `rauc status mark-good`.
pub async fn confirm(
    config: &UpdateConfig,
    data_dir: &Path,
    probe: &HealthProbe,
    booted: Option<String>,
    mark_good: impl Fn() -> Result<(), UpdateError>,
    gave_up: impl Fn() -> Option<String>,
) -> Result<Confirmed, UpdateError> {
    let paths = Paths::new(data_dir);
    let mut state = State::load(&paths.state());
    let release = Release::load(&config.release_file);
    if std::fs::remove_file(paths.installing()).is_ok() {
        // The board went down while RAUC wrote the other slot; RAUC had
        // taken that slot out of the boot order first, so this one booted.
        let version = state
            .last
            .as_ref()
            .map(|l| l.version.clone())
            .unwrap_or_default();
        state.record(
            &version,
            Outcome::Interrupted,
            "the install was cut short (power cut or crash); the kiosk retries it",
        );
        state.save(&paths.state())?;
        tell_consoles(&format!(
            "kiosk: the install of {version} was cut short; it is retried"
        ));
    }
    let trial = match (&state.pending, &booted) {
        (Some(p), Some(b)) if &p.slot == b => true,
        (Some(p), _) => {
            // Installed into the other slot, yet this one booted: the new
            // slot spent its tries (or never started) and the board fell
            // back.
            let why = if state.unhealthy_boots > 0 {
                format!(
                    "slot {} never became healthy ({} tries); slot {} runs {} again",
                    p.slot,
                    state.unhealthy_boots,
                    booted.as_deref().unwrap_or("?"),
                    release.version
                )
            } else {
                format!(
                    "slot {} did not boot; slot {} runs {} again",
                    p.slot,
                    booted.as_deref().unwrap_or("?"),
                    release.version
                )
            };
            let version = p.version.clone();
            state.pending = None;
            state.unhealthy_boots = 0;
            state.record(&version, Outcome::RolledBack, why.clone());
            state.save(&paths.state())?;
            tracing::warn!("update {version} rolled back: {why}");
            tell_consoles(&format!("kiosk: update {version} ROLLED BACK: {why}"));
            false
        }
        (None, _) => false,
    };
    let mut client = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(5))
        .danger_accept_invalid_certs(true);
    if let Some(id) = &probe.identity {
        client = client.identity(
            reqwest::Identity::from_pem(&id.0)
                .map_err(|e| UpdateError::Tool(format!("the kiosk's certificate: {e}")))?,
        );
    }
    let client = client
        .build()
        .map_err(|e| UpdateError::Tool(format!("http client: {e}")))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.confirm_within_secs);
    let mut last_why: String;
    loop {
        match probe.look(&client).await {
            Ok(_) if !trial => {
                if let Err(e) = mark_good() {
                    return Ok(Confirmed::KeptUnconfirmed {
                        why: format!("cannot give the slot its tries back: {e}"),
                    });
                }
                note_slots(&mut state);
                state.save(&paths.state())?;
                tell_consoles(&format!(
                    "kiosk: slot {} running {}: kiosk active",
                    booted.as_deref().unwrap_or("-"),
                    release.version
                ));
                return Ok(Confirmed::Kept);
            }
            Ok(s) => match healthy(&s) {
                Ok(()) => {
                    mark_good()?;
                    let version = state
                        .pending
                        .take()
                        .map(|p| p.version)
                        .unwrap_or_else(|| release.version.clone());
                    state.unhealthy_boots = 0;
                    note_slots(&mut state);
                    state.record(
                        &version,
                        Outcome::Good,
                        format!(
                            "slot {} healthy, marked good",
                            booted.as_deref().unwrap_or("?")
                        ),
                    );
                    state.save(&paths.state())?;
                    tell_consoles(&format!(
                        "kiosk: slot {} running {}: kiosk active, update marked good",
                        booted.as_deref().unwrap_or("?"),
                        version
                    ));
                    return Ok(Confirmed::NewSlotGood { version });
                }
                Err(why) => last_why = why,
            },
            Err(why) => last_why = why,
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        if trial {
            // A kiosk that keeps crashing will not get better by waiting.
            if let Some(why) = gave_up() {
                last_why = why;
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if !trial {
        return Ok(Confirmed::KeptUnconfirmed {
            why: format!(
                "the kiosk is not answering after {} s: {last_why}",
                config.confirm_within_secs
            ),
        });
    }
    state.unhealthy_boots += 1;
    if let Some(p) = &state.pending {
        let version = p.version.clone();
        state.last = Some(LastUpdate {
            version,
            outcome: Outcome::Installed,
            detail: format!(
                "try {} of the new slot unhealthy: {last_why}",
                state.unhealthy_boots
            ),
            at: Utc::now(),
        });
    }
    state.save(&paths.state())?;
    tell_consoles(&format!(
        "kiosk: slot {} not healthy within {} s ({last_why}); rebooting",
        booted.as_deref().unwrap_or("?"),
        config.confirm_within_secs
    ));
    Ok(Confirmed::Unhealthy { why: last_why })
}

/// `kiosk update apply` (root): carries out the kiosk's requests. An
/// install request runs `rauc install` and records the result; a reboot
/// request reboots. Each request is removed before it is acted on, so a
/// crash never loops.
pub fn apply(data_dir: &Path, release: &Release) -> Result<Option<Outcome>, UpdateError> {
    let paths = Paths::new(data_dir);
    if let Some(req) = claim(&paths)? {
        let mut state = State::load(&paths.state());
        let outcome = install(&req, release, &mut state);
        note_slots(&mut state);
        let saved = state.save(&paths.state());
        let _ = std::fs::remove_file(paths.installing());
        saved?;
        return Ok(Some(outcome));
    }
    if std::fs::remove_file(paths.reboot_request()).is_ok() {
        tracing::info!("rebooting into the installed update");
        tell_consoles("kiosk: rebooting into the installed update");
        run_tool("systemctl", &["reboot"])?;
    }
    Ok(None)
}

/// Takes the install request, if there is one. The `installing` marker is
/// written before the request is removed, so the kiosk's update round and
/// the technician menu always see an install under way: while the bundle's
/// SHA-256 is checked (seconds for 200 MB on the board) neither file used
/// to exist, and the round asked for the same bundle a second time.
pub(crate) fn claim(paths: &Paths) -> Result<Option<InstallRequest>, UpdateError> {
    let Ok(bytes) = std::fs::read(paths.install_request()) else {
        return Ok(None);
    };
    let req: Result<InstallRequest, _> = serde_json::from_slice(&bytes);
    if let Ok(r) = &req {
        write_atomic(&paths.installing(), r.version.as_bytes())?;
    }
    let _ = std::fs::remove_file(paths.install_request());
    req.map(Some)
        .map_err(|e| UpdateError::Tool(format!("unreadable install request: {e}")))
}

/// Installs a claimed request; the caller removes the `installing` marker
/// once the outcome is saved.
fn install(req: &InstallRequest, release: &Release, state: &mut State) -> Outcome {
    if let Some(want) = &req.sha256 {
        match sha256_file(&req.bundle) {
            Ok(got) if &got == want => {}
            Ok(_) => {
                state.record(
                    &req.version,
                    Outcome::Failed,
                    "the bundle's SHA-256 does not match the offer",
                );
                let _ = std::fs::remove_file(&req.bundle);
                return Outcome::Failed;
            }
            Err(e) => {
                state.record(
                    &req.version,
                    Outcome::Failed,
                    format!("cannot read the bundle: {e}"),
                );
                return Outcome::Failed;
            }
        }
    }
    let from_slot = this_boot_slot();
    let bundle = req.bundle.to_string_lossy().into_owned();
    tracing::info!("installing update {}", req.version);
    let result = run_tool("rauc", &["install", &bundle]);
    match result {
        Ok(_) => {
            let target = rauc_slots().and_then(|slots| {
                slots
                    .into_iter()
                    .find(|s| Some(&s.bootname) != from_slot.as_ref())
            });
            let slot = target
                .as_ref()
                .map(|s| s.bootname.clone())
                .unwrap_or_else(|| "?".into());
            // A stick's bundle has no offer: its version is what RAUC
            // wrote into the slot.
            let version = Some(req.version.clone())
                .filter(|v| !v.is_empty())
                .or_else(|| target.and_then(|s| s.version))
                .unwrap_or_else(|| {
                    req.bundle
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
            state.pending = Some(Pending {
                version: version.clone(),
                slot: slot.clone(),
                from_slot,
                from_version: release.version.clone(),
                installed_at: Utc::now(),
                technician: req.technician,
            });
            state.unhealthy_boots = 0;
            state.record(
                &version,
                Outcome::Installed,
                if req.technician {
                    format!("installed into slot {slot} from the USB stick")
                } else {
                    format!("installed into slot {slot}")
                },
            );
            // A download is removed; a technician's stick is theirs.
            if !req.technician {
                let _ = std::fs::remove_file(&req.bundle);
            }
            Outcome::Installed
        }
        Err(e) => {
            let text = e.to_string();
            // RAUC's refusals (signature, keyring, compatible, format) never
            // change; anything else (I/O, space) may pass on a retry.
            let refused = [
                "signature",
                "verify",
                "certificate",
                "keyring",
                "compatible",
                "format",
            ]
            .iter()
            .any(|w| text.to_lowercase().contains(w));
            tracing::warn!("rauc install of {} failed: {text}", req.version);
            let version = if req.version.is_empty() {
                req.bundle
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                req.version.clone()
            };
            if refused {
                state.record(&version, Outcome::Refused, text);
                if !req.technician {
                    let _ = std::fs::remove_file(&req.bundle);
                }
                Outcome::Refused
            } else {
                state.record(&version, Outcome::Failed, text);
                Outcome::Failed
            }
        }
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Free bytes for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

#[cfg(test)]
mod tests;
