//! `image-build e2e`: the device as shipped serves citizens, proven on the
//! emulated board.
//!
//! It boots a writable copy of the built `qemu-virt` image, wired like a
//! real kiosk: the kiosk draws on a virtio-gpu display through linuxkms, a
//! virtio tablet is its touchscreen (driven through QMP), the card reader
//! is a USB serial adapter whose other end is the host's reader twin, the
//! printer is a network printer (the host's ESC/POS twin), central is
//! `kiosk-central-sim` on the host over TLS with its CA pinned, and
//! `/status` is reached through a port forward with the preseeded token.
//! The only change to the image is what a technician does: a `kiosk.toml`
//! on the boot partition (the touchscreen on, central's device token).
//!
//! Scenarios, in one run of as few boots as they allow (`DIR/e2e.json`,
//! a `screendump` PNG of every screen in `DIR/screens/`):
//! - `new-connection-idcard`: a citizen touches through every screen; the
//!   receipt the printer twin decoded (read back with `tesseract`) carries
//!   central's number and a masked ID number; central holds the order
//!   once; `/status` is back at attract; the journal, and the data
//!   partition in clear, hold no ID number, name or phone number;
//! - `offline`: central stops before "confirm"; the receipt says pending;
//!   central restarts on the same state; the order arrives once;
//! - `central-401`: central stops accepting the kiosk's token; the order is
//!   kept and retried with an alarm; with the token fixed it arrives;
//! - `power-cut`: qemu is SIGKILLed right after a receipt, booted again
//!   from the same disk: the order is there and arrives once, `kiosk audit
//!   verify` says ok; then more cuts at random moments of a transaction:
//!   no order shown accepted is lost, nothing is half-written;
//! - `bad-drop`: a `kiosk.toml` with an unknown field, then one naming a
//!   sim central, are refused at boot; the previous config stays; the
//!   reason is in the journal and `/status`;
//! - `unsigned-drop-refused`: drops are signed with the fleet's key
//!   (`kiosk.toml.sig`); an applied one is taken off the boot partition; an
//!   unsigned one and one changed after signing are refused, saying so;
//! - `journal-priorities`: `journalctl -u kiosk -p warning` shows the
//!   warnings central-401 provoked and none of the kiosk's information;
//! - `systemd-security`: the console's `HARDENING` line: the kiosk unit's
//!   exposure score (at most 2.0), SysRq off, Ctrl-Alt-Del masked, the USB
//!   keyboard plugged into the board refused;
//! - `enroll-and-scrape`: `enroll.toml` (a one-time code) on the boot
//!   partition; the kiosk makes its key pair, central signs its
//!   certificate, the file is removed, `/status` is mutual TLS, and a real
//!   Prometheus (Debian's, `docs/fleet/prometheus.yml` made local) finds
//!   the kiosk at central's `/v1/fleet/targets` and scrapes it;
//! - `scrape-without-cert-refused`: without the scraper's certificate the
//!   handshake fails, plain HTTP with the former token gets no answer, and
//!   Prometheus' job without the certificate has `up` 0;
//! - `audit-truncation-detected`: after the ninth cut, with the board off,
//!   the audit log on the data partition is cut back below the record
//!   central saw last and its head rewritten to match (it verifies on the
//!   card); at the next boot the kiosk reports its chain, central keeps an
//!   audit gap for it, and `/status` raises the alarm.
//!
//! The new connection also checks honest time: the board reaches no NTP
//! server, so `/status` says the clock is not synchronised (that alarm is
//! expected throughout) and central holds the order as `time_unverified`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod update;
pub use update::{rpi_boot_alone, update_test, UpdateOptions};

use crate::boot_test::{
    built, check_bootcheck, check_hardening, check_status, console_line, free_port, http_get,
    machine_command, scraper_dir, start_central, start_twins, Built, CardOnReader, Control,
    HostProgram, Machine, Vm, CENTRAL_PORT, ENROLL_CODE,
};
use crate::def::images_dir;
use crate::qmp::{read_ppm, to_png, Qmp};
use crate::step::{run, Step};

/// What `e2e` needs.
#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// Image definition name.
    pub image: String,
    /// The folder `build` wrote to; the results go there too.
    pub out: PathBuf,
    /// Power cuts at random moments after the first one.
    pub cuts: usize,
    /// Seed of those moments.
    pub seed: u64,
}

/// One scenario's outcome, as `e2e.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Whether every check held.
    pub passed: bool,
    /// What was checked and seen, or what failed.
    pub detail: String,
}

/// `e2e.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2eReport {
    /// Every scenario, in the order run.
    pub scenarios: Vec<ScenarioResult>,
}

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 11] = [
    "new-connection-idcard",
    "offline",
    "central-401",
    "power-cut",
    "bad-drop",
    "unsigned-drop-refused",
    "journal-priorities",
    "systemd-security",
    "enroll-and-scrape",
    "scrape-without-cert-refused",
    "audit-truncation-detected",
];

/// The power cut after which the audit chain is cut short on the card (the
/// kiosk enrolled at the boot after cut 7, so its chain is keyed by then).
const TRUNCATE_AFTER_CUT: usize = 9;

/// The device token the kiosk presents to central (set by the drop).
const CENTRAL_TOKEN: &str = "e2e-kiosk-token";
/// The phone number the citizen types (personal: must not leak).
const PHONE: &str = "13800138000";

/// The screens of a new connection by ID card, in order.
const FLOW: [&str; 10] = [
    "attract",
    "choose-business",
    "choose-identity",
    "consent-certificates",
    "review-certificates",
    "form",
    "review",
    "contract",
    "receipt",
    "rating",
];

/// Where a finger goes on each screen (1280×800, found on screendumps of
/// the screens themselves).
fn keypad(digit: char) -> (u32, u32) {
    let (col, row) = match digit {
        '0' => (1, 3),
        d => {
            let n = d.to_digit(10).unwrap_or(1) - 1;
            (n % 3, n / 3)
        }
    };
    (
        [968, 1081, 1198][col as usize],
        [216, 361, 506, 650][row as usize],
    )
}

/// A transaction to cut short: after acting on `FLOW[at]`, wait `after`
/// then pull the plug.
#[derive(Debug, Clone, Copy)]
struct Cut {
    at: usize,
    after: Duration,
}

/// What happens to central on the review screen, before "confirm".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum BeforeConfirm {
    /// Nothing.
    #[default]
    Nothing,
    /// Central stops.
    StopCentral,
    /// Central stops accepting the kiosk's device token.
    RotateToken,
}

/// How a transaction goes.
#[derive(Debug, Clone, Copy, Default)]
struct Plan {
    /// What central does before "confirm".
    before_confirm: BeforeConfirm,
    /// Pull the plug as soon as the receipt is printed.
    cut_at_receipt: bool,
    /// Pull the plug at this moment.
    cut: Option<Cut>,
}

/// What a transaction did.
#[derive(Debug, Default)]
struct Transaction {
    /// The receipt the printer twin decoded.
    receipt: Option<PathBuf>,
    /// The kiosk showed the order accepted (the receipt screen).
    shown_accepted: bool,
    /// The plug was pulled.
    cut: bool,
}

/// central's count of one idempotency key (`GET /sim/submissions`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Submission {
    /// Idempotency key (the kiosk's local order id).
    pub key: String,
    /// Submissions seen with it (replays included).
    pub count: u32,
    /// The order central stored under it, if any.
    pub order_no: Option<String>,
    /// The kiosk said its clock was not synchronised when it accepted it.
    #[serde(default)]
    pub time_unverified: bool,
}

/// The audit log cut short on the card ([`Lab::truncate_audit`]).
struct AuditCut {
    device: String,
    /// The record central saw last.
    seen: u64,
    /// The chain's head before the cut.
    head: u64,
    /// The records kept.
    keep: u64,
    /// `kiosk audit verify` on the cut chain.
    on_card: String,
}

/// The alarms in `/status` besides the clock's: the test board has no NTP
/// server to reach (no network beyond the host), so its clock is never
/// synchronised and that alarm stands throughout (`clock_synchronized`).
fn alarms_besides_clock(s: &serde_json::Value) -> Vec<serde_json::Value> {
    s["alarms"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    !x.as_str()
                        .is_some_and(|t| t.starts_with("clock not synchronised"))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// What the data partition held after the plug was pulled.
#[derive(Debug)]
struct DataCheck {
    /// `kiosk audit verify`'s answer and whether it said ok.
    audit: String,
    audit_ok: bool,
    /// `e2fsck -fy`'s exit status (after the journal replay a boot does).
    fsck: i32,
    /// The journal, as `journalctl -o cat` shows it.
    journal: String,
    /// Every field of every entry (`-o verbose`): the kiosk logs natively,
    /// with fields beside the message.
    journal_fields: String,
    /// The kiosk's entries (`-u kiosk`), and those at warning or worse
    /// (`-u kiosk -p warning`), as a technician reads them.
    kiosk_journal: String,
    kiosk_warnings: String,
    /// Personal values found in clear anywhere on the partition.
    in_clear: Vec<&'static str>,
}

/// The lab: the disk, the host programs, and the results folder.
struct Lab {
    built: Built,
    dir: PathBuf,
    disk: PathBuf,
    boot_offset: u64,
    data_offset: u64,
    data_len: u64,
    status: SocketAddr,
    tmp: tempfile::TempDir,
    central_state: PathBuf,
    central: Option<HostProgram>,
    _twins: HostProgram,
    card: CardOnReader,
    receipts: PathBuf,
    screens: PathBuf,
    shots: u32,
    boots: u32,
    /// What went wrong on the device that the run worked around, said in
    /// `e2e.json` (entry `incidents`).
    incidents: Vec<String>,
    /// The kiosk enrolled (its `/status` is mutual TLS from then on).
    enrolled: bool,
    host_kiosk: PathBuf,
    /// The private configuration key the image's drops are signed with.
    drop_key: PathBuf,
    /// Names of this run's files (`e2e`, `update`).
    prefix: String,
    /// Whether a guest reboot restarts the board.
    reboot: bool,
}

/// A booted kiosk.
struct Running {
    vm: Vm,
    qmp: Qmp,
    console: PathBuf,
}

impl Running {
    /// Pulls the plug: SIGKILL, no shutdown.
    fn cut(mut self) -> anyhow::Result<()> {
        self.vm.0.kill()?;
        self.vm.0.wait()?;
        Ok(())
    }
}

/// Runs every scenario; writes `e2e.json` whatever happens and fails when
/// a scenario failed.
pub fn e2e(opts: &E2eOptions) -> anyhow::Result<E2eReport> {
    let mut results: Vec<ScenarioResult> = Vec::new();
    let outcome = run_all(opts, &mut results);
    for name in SCENARIOS {
        if !results.iter().any(|r| r.name == name) {
            results.push(ScenarioResult {
                name: name.into(),
                passed: false,
                detail: match &outcome {
                    Err(e) => format!("not run: the run stopped: {e:#}"),
                    Ok(()) => "not run".into(),
                },
            });
        }
    }
    // The boot checks first, then the scenarios in the issue's order.
    let rank = |name: &str| match name {
        "boot" => 0,
        "boot-check" => 1,
        n => {
            2 + SCENARIOS
                .iter()
                .position(|s| *s == n)
                .unwrap_or(SCENARIOS.len())
        }
    };
    results.sort_by_key(|r| rank(&r.name));
    conclude(&opts.out.join("e2e.json"), results, outcome)
}

impl E2eReport {
    /// `N scenarios (a, b, …)`.
    pub fn summary(&self) -> String {
        let names: Vec<&str> = self.scenarios.iter().map(|s| s.name.as_str()).collect();
        format!("{} scenarios ({})", names.len(), names.join(", "))
    }
}

/// Writes a run's report (`{"scenarios":[…]}`) to `file` whatever happened,
/// then fails with the run's own error, or with the scenarios that failed.
fn conclude(
    file: &Path,
    scenarios: Vec<ScenarioResult>,
    outcome: anyhow::Result<()>,
) -> anyhow::Result<E2eReport> {
    let report = E2eReport { scenarios };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, serde_json::to_string_pretty(&report)? + "\n")?;
    outcome?;
    let failed: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "scenarios failed: {} (see {})",
            failed.join(", "),
            file.display()
        );
    }
    Ok(report)
}

/// Records a scenario: its checks' failures, or what it saw.
fn record(results: &mut Vec<ScenarioResult>, name: &str, outcome: anyhow::Result<String>) {
    let (passed, detail) = match outcome {
        Ok(d) => (true, d),
        Err(e) => (false, format!("{e:#}")),
    };
    println!(
        "e2e: {name}: {} — {detail}",
        if passed { "passed" } else { "FAILED" }
    );
    results.push(ScenarioResult {
        name: name.into(),
        passed,
        detail,
    });
}

fn run_all(opts: &E2eOptions, results: &mut Vec<ScenarioResult>) -> anyhow::Result<()> {
    let mut lab = Lab::new(opts)?;
    lab.put_drop(&drop_config(&lab.base_config()?, Drop::Good)?)?;
    let mut vm = lab.boot()?;
    record(results, "boot", lab.first_boot_checks());

    let s = lab.new_connection(&mut vm);
    let s1 = s
        .as_ref()
        .map(String::clone)
        .map_err(|e| anyhow::anyhow!("{e:#}"));
    if s1.is_err() {
        record(results, "new-connection-idcard", s);
    }
    let s = lab.offline(&mut vm);
    record(results, "offline", s);
    let s = lab.central_401(&mut vm);
    record(results, "central-401", s);
    let s = bootcheck(&vm);
    record(results, "boot-check", s);
    let s = hardening(&vm);
    record(results, "systemd-security", s);

    // The power cut: right after a receipt, then the disk is looked at as
    // the next boot will find it.
    let before = lab.submissions()?;
    let t = lab.transaction(
        &mut vm,
        "power-cut",
        Plan {
            cut_at_receipt: true,
            ..Plan::default()
        },
    )?;
    vm.cut()?;
    let data = lab.inspect()?;
    if let Ok(detail) = s1 {
        let clean = lab.personal_check(&data);
        record(
            results,
            "new-connection-idcard",
            clean.map(|c| format!("{detail}; {c}")),
        );
    }
    let mut cut_log = vec![format!(
        "cut right after the receipt ({}): audit {}, e2fsck {}",
        t.receipt
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        data.audit,
        data.fsck
    )];
    let mut power = check_data(&data);
    // central-401 made the kiosk warn; its journal keeps the priority.
    record(results, "journal-priorities", journal_priorities(&data));

    // The first boot applied the signed drop and took it off the card.
    let mut signing = vec![lab.drop_removed("the first boot's signed drop")];
    // The next boot finds an unknown field in the boot partition's config.
    lab.put_drop(&drop_config(&lab.base_config()?, Drop::UnknownField)?)?;
    let mut vm = lab.boot()?;
    let mut drops = Vec::new();
    drops.push(lab.refusal_shown("an unknown field"));
    if power.is_ok() {
        power = lab
            .delivered_once(&before, 1, Duration::from_secs(180))
            .map(|d| cut_log.push(format!("after the reboot: {d}")));
    }

    // Random cuts: every order shown accepted must reach central once.
    let cuts_before = lab.submissions()?;
    // The boot after the seventh cut enrolls the kiosk (enroll.toml); the
    // cuts after it run over mutual TLS.
    let mut enrollment = None;
    let mut truncation: Option<anyhow::Result<String>> = None;
    let mut shown = 0;
    let mut rng = opts.seed.max(1);
    for i in 0..opts.cuts {
        rng = xorshift(rng);
        let at = if rng % 2 == 0 {
            7
        } else {
            (rng >> 8) as usize % 9
        };
        let after = Duration::from_millis((rng >> 20) % 4000);
        let name = format!("power-cut-{}", i + 1);
        let t = lab.transaction(
            &mut vm,
            &name,
            Plan {
                cut: Some(Cut { at, after }),
                ..Plan::default()
            },
        )?;
        if !t.cut {
            // Finished before the moment came: pull the plug now.
            cut_log.push(format!("{name}: the transaction ended before the cut"));
        }
        vm.cut()?;
        shown += usize::from(t.shown_accepted);
        let data = lab.inspect()?;
        cut_log.push(format!(
            "{name}: after acting on {} +{} ms{}: audit {}, e2fsck {}",
            FLOW[at],
            after.as_millis(),
            if t.shown_accepted {
                " (shown accepted)"
            } else {
                ""
            },
            data.audit,
            data.fsck
        ));
        if power.is_ok() {
            power = check_data(&data).with_context(|| format!("after {name}"));
        }
        match i {
            // The boot after the first cut: a drop naming the simulator.
            0 => lab.put_drop(&drop_config(&lab.base_config()?, Drop::SimCentral)?)?,
            // After the second: the journal has both refusals; the good
            // config goes back (already applied: the alarm must end).
            1 => {
                drops.push(journal_refusals(&data.journal));
                lab.put_drop(&drop_config(&lab.base_config()?, Drop::Good)?)?;
            }
            // A changed config without a signature, then one changed after
            // it was signed: refused before anything reads them.
            2 => lab.put_drop_signed(&retuned(&lab.base_config()?)?, Signing::None)?,
            3 => lab.put_drop_signed(&retuned(&lab.base_config()?)?, Signing::ChangedAfter)?,
            // The applied config signed again: taken off, nothing refused.
            4 => lab.put_drop(&drop_config(&lab.base_config()?, Drop::Good)?)?,
            5 => signing.push(lab.drop_removed("the applied config left again")),
            6 => {
                lab.put_enroll()?;
                lab.enrolled = true;
            }
            _ => {}
        }
        // An attacker with the card cuts the audit log short, head and all.
        let cut_audit = (i + 1 == TRUNCATE_AFTER_CUT).then(|| lab.truncate_audit());
        vm = lab.boot()?;
        if let Some(cut) = cut_audit {
            truncation = Some(cut.and_then(|c| lab.audit_gap_seen(&mut vm, c)));
        }
        match i {
            0 => drops.push(lab.refusal_shown("a sim central")),
            1 => drops.push(lab.refusal_gone()),
            2 => signing.push(lab.refusal_says("an unsigned drop", "not signed")),
            3 => signing.push(lab.refusal_says("a drop changed after signing", "does not match")),
            4 => signing.push(lab.refusal_gone()),
            6 => enrollment = Some(lab.enroll_and_scrape(&mut vm)),
            _ => {}
        }
    }
    if power.is_ok() {
        power = lab
            .all_delivered(&cuts_before, shown, Duration::from_secs(240))
            .map(|d| cut_log.push(d));
    }
    vm.cut()?;
    let data = lab.inspect()?;
    if power.is_ok() {
        power = check_data(&data).context("at the end");
    }
    if power.is_ok() && !data.in_clear.is_empty() {
        power = Err(anyhow::anyhow!(
            "at the end the data partition holds {} in clear",
            data.in_clear.join(", ")
        ));
    }
    cut_log.push(format!(
        "at the end: audit {}, e2fsck {}",
        data.audit, data.fsck
    ));
    record(results, "power-cut", power.map(|()| cut_log.join("; ")));
    // Not a scenario: what the run had to work around, if anything.
    let incidents = if lab.incidents.is_empty() {
        "none".to_string()
    } else {
        lab.incidents.join("; ")
    };
    println!("e2e: incidents: {incidents}");
    results.push(ScenarioResult {
        name: "incidents".into(),
        passed: true,
        detail: incidents,
    });
    record(
        results,
        "unsigned-drop-refused",
        if signing.len() < 5 {
            Err(anyhow::anyhow!(
                "only {} of the 5 steps ran ({} power cuts; 6 are needed)",
                signing.len(),
                opts.cuts
            ))
        } else {
            signing
                .into_iter()
                .collect::<anyhow::Result<Vec<String>>>()
                .map(|d| d.join("; "))
        },
    );
    let (enroll, no_cert) = enrollment.unwrap_or_else(|| {
        let why = || anyhow::anyhow!("not run: {} power cuts, 7 are needed", opts.cuts);
        (Err(why()), Err(why()))
    });
    record(results, "enroll-and-scrape", enroll);
    record(results, "scrape-without-cert-refused", no_cert);
    record(
        results,
        "audit-truncation-detected",
        truncation.unwrap_or_else(|| {
            Err(anyhow::anyhow!(
                "not run: {} power cuts, {TRUNCATE_AFTER_CUT} are needed",
                opts.cuts
            ))
        }),
    );
    record(
        results,
        "bad-drop",
        drops
            .into_iter()
            .collect::<anyhow::Result<Vec<String>>>()
            .map(|d| d.join("; ")),
    );
    Ok(())
}

/// A real Prometheus on the host, stopped when dropped.
struct Prometheus {
    child: std::process::Child,
    api: SocketAddr,
}

impl std::ops::Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// `up` of the kiosk in each job (`kiosk`, `no-cert`), as Prometheus'
    /// query API answers it.
    fn up(&self) -> (Option<String>, Option<String>) {
        let body = http_get(self.api, "/api/v1/query?query=up", None)
            .filter(|r| r.code == 200)
            .map(|r| r.body)
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        let of = |job: &str| {
            v["data"]["result"].as_array().and_then(|r| {
                r.iter()
                    .find(|s| s["metric"]["job"] == job)
                    .and_then(|s| s["value"][1].as_str().map(str::to_owned))
            })
        };
        (of("kiosk"), of("no-cert"))
    }

    /// Waits (2 min at most) until `ok` holds for the two jobs' `up`; each
    /// job's result, worded.
    fn wait_up(
        &self,
        ok: impl Fn(Option<&str>, Option<&str>) -> bool,
    ) -> anyhow::Result<(String, String)> {
        let started = Instant::now();
        loop {
            let (kiosk, no_cert) = self.up();
            if ok(kiosk.as_deref(), no_cert.as_deref()) {
                let depth = http_get(
                    self.api,
                    "/api/v1/query?query=kiosk_outbox_depth%7Bjob%3D%22kiosk%22%7D",
                    None,
                )
                .map(|r| r.body)
                .unwrap_or_default();
                let depth: Value = serde_json::from_str(&depth).unwrap_or_default();
                return Ok((
                    format!(
                        "up 1, kiosk_outbox_depth {}",
                        depth["data"]["result"][0]["value"][1]
                            .as_str()
                            .unwrap_or("?")
                    ),
                    "up 0".to_string(),
                ));
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "Prometheus after 120 s: up {kiosk:?} in job kiosk (1 wanted), {no_cert:?} in job no-cert (0 wanted)"
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// How a drop is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// With the fleet's configuration key.
    Fleet,
    /// Not at all (no `kiosk.toml.sig`).
    None,
    /// With the fleet's key, then the file changed.
    ChangedAfter,
}

/// The drops a technician might leave on the boot partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drop {
    /// The image's config with the touchscreen on, central's device token
    /// and a short retry ceiling (a lab's).
    Good,
    /// That, with a field the kiosk does not know.
    UnknownField,
    /// That, naming the simulator as central.
    SimCentral,
}

/// The text of a drop, from the image's own config.
fn drop_config(base: &str, kind: Drop) -> anyhow::Result<String> {
    let mut v: toml::Table = toml::from_str(base).context("the image's kiosk.toml")?;
    // Provisioning puts the board's own id in.
    v.remove("device_id");
    let table = |v: &mut toml::Table, name: &str| -> anyhow::Result<toml::Table> {
        Ok(match v.remove(name) {
            Some(toml::Value::Table(t)) => t,
            None => toml::Table::new(),
            Some(other) => bail!("[{name}] is not a table: {other}"),
        })
    };
    let mut ui = table(&mut v, "ui")?;
    ui.insert("touchscreen".into(), true.into());
    v.insert("ui".into(), ui.into());
    let mut central = table(&mut v, "central")?;
    central.insert("token".into(), CENTRAL_TOKEN.into());
    let mut sync = table(&mut v, "sync")?;
    sync.insert("backoff_max_secs".into(), 10.into());
    v.insert("sync".into(), sync.into());
    match kind {
        Drop::Good => {}
        Drop::UnknownField => {
            v.insert("printer_colour".into(), "blue".into());
        }
        Drop::SimCentral => {
            central.insert("url".into(), "sim".into());
        }
    }
    v.insert("central".into(), central.into());
    Ok(format!(
        "# Left on the boot partition by image-build e2e ({kind:?}).\n{}",
        toml::to_string(&v)?
    ))
}

impl Lab {
    fn new(opts: &E2eOptions) -> anyhow::Result<Self> {
        Self::open(&opts.image, &opts.out, "e2e", false)
    }

    /// The lab around a writable copy of `image`'s card in `out`, its files
    /// named `<prefix>-…`; `reboot`: a guest reboot restarts the board
    /// (U-Boot picks the slot again) instead of stopping qemu.
    fn open(image: &str, out: &Path, prefix: &str, reboot: bool) -> anyhow::Result<Self> {
        let built = built(image, out)?;
        let dir = out.to_path_buf();
        let screens = dir.join(if prefix == "e2e" {
            "screens".to_string()
        } else {
            format!("{prefix}-screens")
        });
        let receipts = dir.join(format!("{prefix}-receipts"));
        for d in [&screens, &receipts] {
            if d.exists() {
                std::fs::remove_dir_all(d)?;
            }
            std::fs::create_dir_all(d)?;
        }
        let step = Step::start("a writable copy of the SD card");
        let disk = dir.join(format!("{prefix}-disk.img"));
        run(Command::new("cp")
            .arg("--sparse=always")
            .arg(&built.img)
            .arg(&disk))?;
        step.done();
        let parts = partitions(&run(Command::new("sfdisk").arg("-J").arg(&disk))?)?;
        let (boot_offset, _) = *parts.first().context("no boot partition")?;
        let (data_offset, data_len) = *parts.last().context("no data partition")?;
        let tmp = tempfile::tempdir()?;
        let central_state = tmp.path().join("central");
        let central = Some(start_central(&central_state, Some(CENTRAL_TOKEN))?);
        let (twins, card) = start_twins(&tmp.path().join("reader.sock"), &receipts)?;
        let host_kiosk = std::env::current_exe()?
            .parent()
            .map(|d| d.join("kiosk"))
            .filter(|p| p.is_file())
            .context("the host's kiosk (for `kiosk audit verify` on the disk) is not next to image-build: `cargo build -p kiosk`")?;
        // The image trusts drops signed with this key (the development
        // key image-build made; a company's private key is not here).
        let drop_key = crate::signing::ConfigKey::resolve(&crate::rootfs::Caches::from_env()?)?
            .private()?
            .to_path_buf();
        Ok(Self {
            status: SocketAddr::from(([127, 0, 0, 1], free_port()?)),
            built,
            dir,
            disk,
            boot_offset,
            data_offset,
            data_len,
            tmp,
            central_state,
            central,
            _twins: twins,
            card,
            receipts,
            screens,
            shots: 0,
            boots: 0,
            incidents: Vec::new(),
            enrolled: false,
            host_kiosk,
            drop_key,
            prefix: prefix.to_string(),
            reboot,
        })
    }

    fn base_config(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(
            images_dir().join(&self.built.def.board.kiosk_config),
        )?)
    }

    /// Leaves `text` as `kiosk.toml` on the SD card's boot partition with
    /// its signature by the fleet's key (`kiosk.toml.sig`), as a
    /// technician with a card reader would.
    fn put_drop(&self, text: &str) -> anyhow::Result<()> {
        self.put_drop_signed(text, Signing::Fleet)
    }

    /// [`Self::put_drop`], signed as `signing` says.
    fn put_drop_signed(&self, text: &str, signing: Signing) -> anyhow::Result<()> {
        let file = self.tmp.path().join("kiosk.toml");
        std::fs::write(&file, text)?;
        let sig = crate::signing::sign(&self.drop_key, &file)?;
        if signing == Signing::ChangedAfter {
            std::fs::write(&file, format!("{text}# changed after signing\n"))?;
        }
        let fat = format!("{}@@{}", self.disk.display(), self.boot_offset);
        let mcopy = |from: &Path, to: &str| {
            run(Command::new("mcopy")
                .arg("-o")
                .arg("-i")
                .arg(&fat)
                .arg(from)
                .arg(to))
        };
        mcopy(&file, "::/kiosk.toml")?;
        if signing == Signing::None {
            // No signature beside it (a stale one from before removed).
            let _ = Command::new("mdel")
                .arg("-i")
                .arg(&fat)
                .arg("::/kiosk.toml.sig")
                .output();
        } else {
            mcopy(&sig, "::/kiosk.toml.sig")?;
        }
        Ok(())
    }

    /// The files at the top of the boot partition (`mdir -b`).
    fn boot_files(&self) -> anyhow::Result<Vec<String>> {
        let listing = run(Command::new("mdir")
            .arg("-b")
            .arg("-i")
            .arg(format!("{}@@{}", self.disk.display(), self.boot_offset))
            .arg("::/"))?;
        Ok(listing
            .lines()
            .filter_map(|l| l.trim().rsplit('/').next().map(str::to_lowercase))
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// Boots the disk and waits for the kiosk's attract screen, drawn.
    ///
    /// A known defect: about one boot in 40 the kiosk reports attract but
    /// its screen never comes up (the framebuffer stays the console's) and
    /// touches do nothing, while `/status` and the watchdog stay healthy.
    /// The run then powers the board off and on once, and says so in
    /// `incidents`.
    fn boot(&mut self) -> anyhow::Result<Running> {
        let mut vm = self.boot_once()?;
        if let Err(e) = self.wait_drawn(&mut vm, Duration::from_secs(90)) {
            self.incidents.push(format!(
                "boot {}: {e}; the board was powered off and on again",
                self.boots
            ));
            vm.cut()?;
            vm = self.boot_once()?;
            self.wait_drawn(&mut vm, Duration::from_secs(90))?;
        }
        Ok(vm)
    }

    /// Waits until the framebuffer shows the kiosk's title bar (its blue
    /// top-left corner), not the console's.
    fn wait_drawn(&self, vm: &mut Running, timeout: Duration) -> anyhow::Result<()> {
        let ppm = self.tmp.path().join("drawn.ppm");
        let started = Instant::now();
        loop {
            vm.qmp.screendump(&ppm)?;
            let rgb = read_ppm(&std::fs::read(&ppm)?)?;
            let i = (20 * rgb.width as usize + 20) * 3;
            if let [r, _, b] = rgb.data[i..i + 3] {
                if b > 120 && r < 60 {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                bail!(
                    "/status said attract, but the kiosk's screen was not drawn within {} s",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Boots the disk and waits for `/status` to say attract.
    fn boot_once(&mut self) -> anyhow::Result<Running> {
        self.boots += 1;
        let console = self
            .dir
            .join(format!("{}-console-{:02}.log", self.prefix, self.boots));
        let qmp_path = self.tmp.path().join("qmp.sock");
        let _ = std::fs::remove_file(&qmp_path);
        let mut cmd = machine_command(&Machine {
            def: &self.built.def,
            out: &self.built.out,
            disk: &self.disk,
            snapshot: false,
            status_port: self.status.port(),
            reader_socket: &self.tmp.path().join("reader.sock"),
            console: &console,
            control: Control::Qmp(&qmp_path),
            reboot: self.reboot,
        })?;
        cmd.stderr(std::fs::File::create(
            self.dir
                .join(format!("{}-qemu-{:02}.log", self.prefix, self.boots)),
        )?);
        let step = Step::start(format!(
            "boot {} (boot {})",
            self.disk.display(),
            self.boots
        ));
        let vm = Vm(cmd
            .spawn()
            .context("cannot start qemu-system-aarch64 (package qemu-system-arm)")?);
        let qmp = Qmp::connect(&qmp_path, Duration::from_secs(30))?;
        let mut running = Running { vm, qmp, console };
        self.wait_status(
            "the attract screen",
            &mut running,
            Duration::from_secs(300),
            |s| s["flow_state"] == "attract",
        )?;
        step.done();
        Ok(running)
    }

    fn status(&self) -> Option<Value> {
        // Enrolled, the endpoint is mutual TLS; until then (or if the
        // enrollment failed, which its scenario reports), the token.
        if self.enrolled {
            if let Some(s) = self
                .scraper_get("/status", true)
                .ok()
                .and_then(|b| serde_json::from_str(&b).ok())
            {
                return Some(s);
            }
        }
        http_get(self.status, "/status", Some(&self.built.token))
            .filter(|r| r.code == 200)
            .and_then(|r| serde_json::from_str(&r.body).ok())
    }

    /// `GET path` from the enrolled kiosk's status endpoint as the fleet's
    /// scraper would: HTTPS, the kiosk's certificate checked against the
    /// fleet CA (and the address it was enrolled with), and the scraper's
    /// certificate presented unless `with_cert` is false.
    fn scraper_get(&self, path: &str, with_cert: bool) -> anyhow::Result<String> {
        let dir = scraper_dir(&self.central_state);
        let mut c = Command::new("curl");
        c.args(["-sS", "--fail", "--max-time", "10", "--cacert"])
            .arg(dir.join("fleet-ca.pem"));
        if with_cert {
            c.arg("--cert")
                .arg(dir.join("scraper.pem"))
                .arg("--key")
                .arg(dir.join("scraper-key.pem"));
        }
        run(c.arg(format!("https://{}{path}", self.status)))
    }

    /// Leaves `enroll.toml` (the lab's one-time code, and the address the
    /// host reaches the status endpoint at) on the boot partition.
    fn put_enroll(&self) -> anyhow::Result<()> {
        let file = self.tmp.path().join("enroll.toml");
        std::fs::write(
            &file,
            format!(
                "# Left on the boot partition by image-build e2e.\ncode = \"{ENROLL_CODE}\"\nstatus_address = \"{}\"\n",
                self.status
            ),
        )?;
        run(Command::new("mcopy")
            .arg("-o")
            .arg("-i")
            .arg(format!("{}@@{}", self.disk.display(), self.boot_offset))
            .arg(&file)
            .arg("::/enroll.toml"))?;
        Ok(())
    }

    /// Polls `/status` until `ok` holds; fails on a fault screen, a dead
    /// qemu or the timeout, with the console's tail.
    fn wait_status(
        &self,
        what: &str,
        vm: &mut Running,
        timeout: Duration,
        mut ok: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let started = Instant::now();
        let mut last = Value::Null;
        loop {
            if let Some(st) = vm.vm.0.try_wait()? {
                bail!(
                    "qemu exited ({st}) waiting for {what}\n{}",
                    console_tail(&vm.console)
                );
            }
            if let Some(s) = self.status() {
                if ok(&s) {
                    return Ok(s);
                }
                if s["flow_state"] == "fault" {
                    bail!(
                        "the kiosk shows its fault screen waiting for {what}: alarms {}",
                        s["alarms"]
                    );
                }
                last = s;
            }
            if started.elapsed() > timeout {
                bail!(
                    "no {what} within {} s; last /status: flow_state {}, alarms {}, outbox {}\n{}",
                    timeout.as_secs(),
                    last["flow_state"],
                    last["alarms"],
                    last["outbox_depth"],
                    console_tail(&vm.console)
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// A screendump once the screen has settled (two dumps alike), kept as
    /// `screens/NNN-<scenario>-<screen>.png`.
    fn shot(&mut self, vm: &mut Running, scenario: &str, screen: &str) -> anyhow::Result<PathBuf> {
        let ppm = self.tmp.path().join("screen.ppm");
        let started = Instant::now();
        let mut previous: Option<Vec<u8>> = None;
        let settled = loop {
            vm.qmp.screendump(&ppm)?;
            let now = std::fs::read(&ppm)?;
            if previous.as_ref() == Some(&now) || started.elapsed() > Duration::from_secs(15) {
                break now;
            }
            previous = Some(now);
            std::thread::sleep(Duration::from_millis(700));
        };
        self.shots += 1;
        let path = self
            .screens
            .join(format!("{:03}-{scenario}-{screen}.png", self.shots));
        std::fs::write(&path, to_png(&read_ppm(&settled)?)?)?;
        Ok(path)
    }

    /// The citizen's touches on `screen`; whether tapping again is safe
    /// (one button).
    fn act(vm: &mut Running, screen: &str) -> anyhow::Result<bool> {
        let q = &mut vm.qmp;
        let pause = || std::thread::sleep(Duration::from_millis(700));
        match screen {
            "attract" => q.tap(446, 503)?,
            "choose-business" => q.tap(640, 187)?,
            "choose-identity" => q.tap(446, 370)?,
            "consent-certificates" => q.tap(324, 693)?,
            "review-certificates" | "review" => q.tap(640, 693)?,
            "form" => {
                // Capacity 8 kW (the field has focus), then the phone.
                let (x, y) = keypad('8');
                q.tap(x, y)?;
                pause();
                q.tap(455, 440)?;
                for d in PHONE.chars() {
                    pause();
                    let (x, y) = keypad(d);
                    q.tap(x, y)?;
                }
                pause();
                q.tap(455, 669)?;
                return Ok(false);
            }
            "contract" => {
                // Every page read, a signature, then "confirm and sign".
                q.tap(521, 693)?;
                pause();
                q.tap(521, 693)?;
                pause();
                let signature: Vec<(u32, u32)> = (0..20)
                    .map(|i| (720 + i * 25, if i % 2 == 0 { 240 } else { 360 }))
                    .collect();
                q.stroke(&signature)?;
                pause();
                q.tap(1099, 693)?;
                return Ok(false);
            }
            "receipt" => q.tap(485, 765)?,
            "rating" => q.tap(855, 305)?,
            other => bail!("no touches known for screen {other}"),
        }
        Ok(true)
    }

    fn receipt_count(&self) -> usize {
        std::fs::read_dir(&self.receipts)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|f| f.path().extension().is_some_and(|x| x == "png"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The newest receipt once there are more than `before`.
    fn wait_receipt(&self, before: usize, timeout: Duration) -> anyhow::Result<PathBuf> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.receipt_count() > before {
                let mut all: Vec<PathBuf> = std::fs::read_dir(&self.receipts)?
                    .filter_map(Result::ok)
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "png"))
                    .collect();
                all.sort();
                return all.pop().context("a receipt");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "the printer twin decoded no receipt within {} s",
            timeout.as_secs()
        )
    }

    /// A new connection by ID card, touched through screen by screen.
    fn transaction(
        &mut self,
        vm: &mut Running,
        scenario: &str,
        plan: Plan,
    ) -> anyhow::Result<Transaction> {
        let mut t = Transaction::default();
        let receipts_before = self.receipt_count();
        let mut again: Option<&str> = None;
        for (i, screen) in FLOW.iter().enumerate() {
            let what = format!("the {screen} screen");
            let want = |s: &Value| s["flow_state"] == *screen;
            if let Some(previous) = again.take() {
                // A tap can be lost while the screen is still drawing: a
                // screen that stays put gets the same single tap once more.
                if self
                    .wait_status(&what, vm, Duration::from_secs(20), want)
                    .is_err()
                    && self.status().is_some_and(|s| s["flow_state"] == previous)
                {
                    Self::act(vm, previous)?;
                }
            }
            self.wait_status(&what, vm, Duration::from_secs(120), want)?;
            self.shot(vm, scenario, screen)?;
            if *screen == "receipt" {
                t.shown_accepted = true;
                t.receipt = Some(self.wait_receipt(receipts_before, Duration::from_secs(60))?);
                if plan.cut_at_receipt {
                    t.cut = true;
                    return Ok(t);
                }
            }
            if *screen == "review" {
                match plan.before_confirm {
                    BeforeConfirm::Nothing => {}
                    BeforeConfirm::StopCentral => self.central = None,
                    BeforeConfirm::RotateToken => self.central_wants("rotated-by-central")?,
                }
            }
            if Self::act(vm, screen)? {
                again = Some(screen);
            }
            if let Some(cut) = plan.cut.filter(|c| c.at == i) {
                std::thread::sleep(cut.after);
                t.cut = true;
                // A receipt may have printed in the meantime.
                if self.receipt_count() > receipts_before {
                    t.shown_accepted = true;
                }
                if let Some(s) = self.status() {
                    if s["flow_state"] == "receipt" || s["flow_state"] == "rating" {
                        t.shown_accepted = true;
                    }
                }
                return Ok(t);
            }
        }
        self.wait_status(
            "the attract screen again",
            vm,
            Duration::from_secs(120),
            |s| s["flow_state"] == "attract",
        )?;
        Ok(t)
    }

    fn central_ca(&self) -> PathBuf {
        images_dir().join("test-central/ca.pem")
    }

    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sS", "--fail", "--max-time", "10", "--cacert"])
            .arg(self.central_ca());
        c
    }

    /// Central's view of the fleet (`GET /sim/fleet`): codes, enrolled
    /// kiosks, audit anchors and gaps.
    fn fleet(&self) -> anyhow::Result<Value> {
        let body = run(self
            .curl()
            .arg(format!("https://127.0.0.1:{CENTRAL_PORT}/sim/fleet")))?;
        serde_json::from_str(&body).context("/sim/fleet")
    }

    /// The attacker with the card, the board off: on the data partition the
    /// inspection just took out, the audit log loses its last records below
    /// the one central saw last, and its head is rewritten to match, so that
    /// the chain still verifies on the card. Written back to the disk.
    fn truncate_audit(&self) -> anyhow::Result<AuditCut> {
        let step = Step::start("cut the audit log short on the card");
        let fleet = self.fleet()?;
        let (device, seen) = fleet["audits"]
            .as_object()
            .and_then(|a| {
                a.iter()
                    .filter_map(|(id, t)| Some((id.clone(), t["seen"]["seq"].as_u64()?)))
                    .max_by_key(|(_, seq)| *seq)
            })
            .context("central holds no audit anchor: the kiosk never reported its chain")?;
        let work = self.tmp.path().join("data");
        let part = work.join("data.ext4");
        let store = work.join("kiosk/kiosk/store");
        if !store.is_dir() {
            bail!(
                "no store in the data partition taken out ({})",
                store.display()
            );
        }
        // sled rewrites files as it likes: the changed copy replaces them all.
        let copy = work.join("tampered-store");
        if copy.exists() {
            std::fs::remove_dir_all(&copy)?;
        }
        run(Command::new("cp").arg("-a").arg(&store).arg(&copy))?;
        let (head, keep) = {
            let db = sled::open(&copy).context("the store's copy")?;
            let audit = db.open_tree("audit")?;
            let meta = db.open_tree("meta")?;
            let raw = meta.get("audit/head")?.context("the chain has no head")?;
            let head = u64::from_be_bytes(raw[..8].try_into().context("a head of 40 bytes")?);
            let keep = seen.min(head).saturating_sub(5).max(1);
            if keep >= seen {
                bail!("central saw only record {seen}: nothing to cut below it");
            }
            let kept: Value = serde_json::from_slice(
                &audit
                    .get(keep.to_be_bytes())?
                    .with_context(|| format!("no audit record {keep}"))?,
            )?;
            let hash = hex::decode(kept["hash"].as_str().context("a hash")?)?;
            for seq in keep + 1..=head {
                audit.remove(seq.to_be_bytes())?;
            }
            let mut new_head = keep.to_be_bytes().to_vec();
            new_head.extend(hash);
            meta.insert("audit/head", new_head)?;
            db.flush()?;
            (head, keep)
        };
        // The card's own check: a clean cut verifies.
        let check_dir = work.join("tampered");
        if check_dir.exists() {
            std::fs::remove_dir_all(&check_dir)?;
        }
        std::fs::create_dir_all(&check_dir)?;
        run(Command::new("cp")
            .arg("-a")
            .arg(&copy)
            .arg(check_dir.join("store")))?;
        let on_card = Command::new(&self.host_kiosk)
            .args(["audit", "verify", "--data"])
            .arg(&check_dir)
            .output()?;
        let on_card = String::from_utf8_lossy(&on_card.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        if !on_card.starts_with("ok") {
            bail!("the cut chain does not verify on the card: {on_card}");
        }
        // Back into the partition: every file of the store replaced, owner
        // and mode kept.
        let listing = run(Command::new("debugfs")
            .arg("-R")
            .arg("ls -p /kiosk/store")
            .arg(&part))?;
        let mut cmds = String::new();
        let mut owner = None;
        for line in listing.lines() {
            // /inode/mode/uid/gid/name/size/
            let f: Vec<&str> = line.trim().trim_matches('/').split('/').collect();
            if f.len() < 5 || f[4] == "." || f[4] == ".." {
                continue;
            }
            let mode = u32::from_str_radix(f[1], 8).unwrap_or(0);
            if mode & 0o170000 != 0o100000 {
                continue;
            }
            owner = Some((f[2].to_string(), f[3].to_string(), mode));
            cmds.push_str(&format!("rm /kiosk/store/{}\n", f[4]));
        }
        let (uid, gid, mode) = owner.context("no file in the store on the partition")?;
        for entry in std::fs::read_dir(&copy)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            cmds.push_str(&format!(
                "write {} /kiosk/store/{name}\nsif /kiosk/store/{name} uid {uid}\nsif /kiosk/store/{name} gid {gid}\nsif /kiosk/store/{name} mode 0{mode:o}\n",
                entry.path().display()
            ));
        }
        let script = work.join("tamper.debugfs");
        std::fs::write(&script, cmds)?;
        run(Command::new("debugfs")
            .arg("-w")
            .arg("-f")
            .arg(&script)
            .arg(&part))?;
        let _ = Command::new("e2fsck").arg("-fy").arg(&part).output();
        {
            use std::io::{Seek as _, Write as _};
            let mut disk = std::fs::OpenOptions::new().write(true).open(&self.disk)?;
            disk.seek(std::io::SeekFrom::Start(self.data_offset))?;
            let bytes = std::fs::read(&part)?;
            if bytes.len() as u64 != self.data_len {
                bail!(
                    "the partition copy has {} bytes, not {}",
                    bytes.len(),
                    self.data_len
                );
            }
            disk.write_all(&bytes)?;
            disk.sync_all()?;
        }
        step.done();
        Ok(AuditCut {
            device,
            seen,
            head,
            keep,
            on_card,
        })
    }

    /// After [`Lab::truncate_audit`] the board boots; the kiosk reports its
    /// chain and central must keep a gap for it, and `/status` say so.
    fn audit_gap_seen(&self, vm: &mut Running, cut: AuditCut) -> anyhow::Result<String> {
        let started = Instant::now();
        let gap = loop {
            let fleet = self.fleet()?;
            if let Some(g) = fleet["audits"][&cut.device]["gaps"]
                .as_array()
                .and_then(|g| g.last())
            {
                break g.clone();
            }
            if started.elapsed() > Duration::from_secs(240) {
                bail!(
                    "central kept no audit gap for {} within 240 s: {}",
                    cut.device,
                    fleet["audits"]
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        };
        let reason = gap["reason"].as_str().unwrap_or_default().to_string();
        // Records the kiosk wrote at boot before its first report (an
        // order delivered after the cut) may reach the seq central saw
        // again: then the gap says the record there is another one.
        if !reason.contains("records were removed") && !reason.contains("not the one central saw") {
            bail!("central's gap says neither records removed nor rewritten: {gap}");
        }
        let s = self.wait_status(
            "the kiosk's audit alarm",
            vm,
            Duration::from_secs(60),
            |s| {
                s["alarms"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str().is_some_and(|x| x.contains("audit chain")))
                })
            },
        )?;
        Ok(format!(
            "central had seen record {} of {}'s keyed chain (keyed: {}); with the board off the card's log was cut from record {} back to {} and its head rewritten, so the card still verifies (`kiosk audit verify`: {}); at the next boot central kept the gap \"{reason}\" and /status raised its alarm",
            cut.seen, cut.device, s["audit"]["keyed"], cut.head, cut.keep, cut.on_card
        ))
    }

    /// What central counted, per idempotency key.
    fn submissions(&self) -> anyhow::Result<Vec<Submission>> {
        let body = run(self
            .curl()
            .arg(format!("https://127.0.0.1:{CENTRAL_PORT}/sim/submissions")))?;
        serde_json::from_str(&body).context("/sim/submissions")
    }

    /// Makes central want `token` from the kiosk from now on.
    fn central_wants(&self, token: &str) -> anyhow::Result<()> {
        run(self
            .curl()
            .args([
                "-X",
                "PUT",
                "-H",
                "content-type: application/json",
                "--data",
            ])
            .arg(serde_json::json!({ "token": token }).to_string())
            .arg(format!("https://127.0.0.1:{CENTRAL_PORT}/sim/token")))?;
        Ok(())
    }

    /// Polls central's count of the orders new since `before` and the
    /// kiosk's outbox until `done` (told whether the outbox is empty) has
    /// seen what it waits for, or fails; `expected` words the timeout.
    fn wait_central(
        &self,
        before: &[Submission],
        timeout: Duration,
        expected: &str,
        mut done: impl FnMut(&[Submission], bool) -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let new = new_orders(before, &self.submissions()?);
            let outbox = self.status().map(|s| s["outbox_depth"].clone());
            if let Some(seen) = done(&new, outbox == Some(0.into()))? {
                return Ok(seen);
            }
            if started.elapsed() > timeout {
                bail!(
                    "after {} s central holds {new:?} ({expected}), kiosk outbox {outbox:?}",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits until central stored `n` new orders since `before`, each under
    /// its own key, and the kiosk's outbox is empty.
    fn delivered_once(
        &self,
        before: &[Submission],
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        self.wait_central(
            before,
            timeout,
            &format!("expected {n} stored"),
            |new, empty| {
                if new.len() > n {
                    bail!(
                        "central holds {} new orders, expected {n}: {new:?}",
                        new.len()
                    );
                }
                let stored = new.len() == n && new.iter().all(|s| s.order_no.is_some());
                Ok((stored && empty).then(|| {
                    new.iter()
                        .map(|s| {
                            format!(
                                "central holds {} as {} (submitted {}×, stored once)",
                                s.key,
                                s.order_no.as_deref().unwrap_or("-"),
                                s.count
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }))
            },
        )
    }

    /// Every order since `before` stored once, at least `shown` of them.
    fn all_delivered(
        &self,
        before: &[Submission],
        shown: usize,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let expected = format!("{shown} were shown accepted: each must be stored");
        self.wait_central(before, timeout, &expected, |new, empty| {
            let stored = new.iter().filter(|s| s.order_no.is_some()).count();
            Ok((empty && stored == new.len() && stored >= shown).then(|| {
                format!(
                    "{shown} orders shown accepted across the cuts, {stored} stored by central (each once), outbox empty"
                )
            }))
        })
    }

    fn first_boot_checks(&self) -> anyhow::Result<String> {
        let s = self.status().context("no /status")?;
        check_status(&s)?;
        match http_get(self.status, "/status", None) {
            Some(r) if r.code == 401 => {}
            other => bail!("/status without the token should be 401, got {other:?}"),
        }
        let mut s = s;
        let started = Instant::now();
        while s["clock_offset_s"].is_null() {
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the kiosk never reached kiosk-central-sim over pinned TLS");
            }
            std::thread::sleep(Duration::from_secs(1));
            s = self.status().context("no /status")?;
        }
        Ok(format!(
            "the image's kiosk holds no simulator code; /status answers with the token (401 without), attract, no device fault; reached central over pinned TLS (clock offset {} s)",
            s["clock_offset_s"]
        ))
    }

    fn new_connection(&mut self, vm: &mut Running) -> anyhow::Result<String> {
        let before = self.submissions()?;
        let t = self.transaction(vm, "new-connection-idcard", Plan::default())?;
        let delivered = self.delivered_once(&before, 1, Duration::from_secs(60))?;
        let now = self.submissions()?;
        let order = new_orders(&before, &now)
            .first()
            .and_then(|s| s.order_no.clone())
            .context("no order")?;
        let receipt = t.receipt.context("no receipt")?;
        self.check_printed(&receipt, Some(&order))?;
        let s = self.status().context("no /status")?;
        check_status(&s)?;
        if !alarms_besides_clock(&s).is_empty() {
            bail!("alarms after the transaction: {}", s["alarms"]);
        }
        // Honest time: what /status says of the clock is what central was
        // told with the order, and the alarm goes with it.
        let synced = s["clock_synchronized"]
            .as_bool()
            .context("/status has no clock_synchronized")?;
        let unverified = new_orders(&before, &now)
            .first()
            .map(|o| o.time_unverified)
            .unwrap_or_default();
        let clock_alarm =
            s["alarms"].as_array().map_or(0, Vec::len) > alarms_besides_clock(&s).len();
        if unverified == synced || clock_alarm == synced {
            bail!(
                "the clock: /status clock_synchronized {synced}, alarms {}, but central was told time_unverified {unverified}",
                s["alarms"]
            );
        }
        let clock = if synced {
            "the clock synchronised, the order's time verified".to_string()
        } else {
            "no NTP server reachable: /status raises the clock alarm and central holds the order as time_unverified (dated by its own receipt time)".to_string()
        };
        Ok(format!(
            "touched through {} screens; {delivered}; receipt {} carries {order} and the ID masked; {clock}; /status back at attract, no fault, no other alarm",
            FLOW.len(),
            receipt.display()
        ))
    }

    /// The receipt the printer twin decoded, read back and checked
    /// ([`check_receipt`]) against the card on the reader.
    fn check_printed(&self, receipt: &Path, central_no: Option<&str>) -> anyhow::Result<()> {
        check_receipt(&read_receipt(receipt)?, central_no, &self.card)
            .map_err(|e| anyhow::anyhow!("{}: {e}", receipt.display()))
    }

    fn offline(&mut self, vm: &mut Running) -> anyhow::Result<String> {
        let before = self.submissions()?;
        let t = self.transaction(
            vm,
            "offline",
            Plan {
                before_confirm: BeforeConfirm::StopCentral,
                ..Plan::default()
            },
        );
        let waiting = self.status().map(|s| s["outbox_depth"].clone());
        // Central comes back whatever was seen, for the scenarios after.
        self.central = Some(start_central(&self.central_state, Some(CENTRAL_TOKEN))?);
        let receipt = t?.receipt.context("no receipt")?;
        self.check_printed(&receipt, None)?;
        if waiting.as_ref().and_then(Value::as_u64).unwrap_or(0) == 0 {
            bail!("central was down, yet the kiosk's outbox was {waiting:?}");
        }
        let delivered = self.delivered_once(&before, 1, Duration::from_secs(120))?;
        Ok(format!(
            "central stopped on the review screen; receipt {} says pending sync; outbox {} while central was down; central restarted on the same state: {delivered}, no reboot",
            receipt.display(),
            waiting.unwrap_or_default()
        ))
    }

    fn central_401(&mut self, vm: &mut Running) -> anyhow::Result<String> {
        let before = self.submissions()?;
        let refused = self
            .transaction(
                vm,
                "central-401",
                Plan {
                    before_confirm: BeforeConfirm::RotateToken,
                    ..Plan::default()
                },
            )
            .and_then(|t| {
                let alarm =
                    self.wait_status("an alarm about central", vm, Duration::from_secs(90), |s| {
                        s["alarms"].as_array().is_some_and(|a| {
                            a.iter()
                                .any(|x| x.as_str().is_some_and(|x| x.contains("central")))
                        })
                    })?;
                let kept = new_orders(&before, &self.submissions()?);
                if kept.iter().any(|s| s.order_no.is_some()) {
                    bail!("central stored an order it refused: {kept:?}");
                }
                Ok((t, alarm))
            });
        // The token fixed on central's side, whatever was seen.
        self.central_wants(CENTRAL_TOKEN)?;
        let (t, alarm) = refused?;
        let delivered = self.delivered_once(&before, 1, Duration::from_secs(120))?;
        self.wait_status("the alarm to end", vm, Duration::from_secs(60), |s| {
            alarms_besides_clock(s).is_empty()
        })?;
        Ok(format!(
            "central refused the kiosk's token from the review screen on: receipt {} printed, /status alarm {}; token fixed, no technician: {delivered}; alarm cleared",
            t.receipt.map(|p| p.display().to_string()).unwrap_or_default(),
            alarm["alarms"]
        ))
    }

    /// `/status` shows the boot partition's config was refused (from its
    /// first answer on: the kiosk reads provisioning's verdict first).
    fn refusal_shown(&self, what: &str) -> anyhow::Result<String> {
        let s = self.status().context("no /status")?;
        let alarm = s["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|a| a.contains("boot partition was refused"))
            .with_context(|| {
                format!(
                    "a drop with {what} is not reported in /status: alarms {}",
                    s["alarms"]
                )
            })?;
        Ok(format!("{what}: /status says {alarm:?}"))
    }

    /// `/status` shows the drop was refused for `reason` (and the kiosk
    /// runs on: it answers).
    fn refusal_says(&self, what: &str, reason: &str) -> anyhow::Result<String> {
        let shown = self.refusal_shown(what)?;
        if !shown.contains(reason) {
            bail!("{what} should be refused as \"{reason}\": {shown}");
        }
        Ok(shown)
    }

    /// `enroll-and-scrape` and `scrape-without-cert-refused`, on a board
    /// booted with `enroll.toml` on its boot partition.
    fn enroll_and_scrape(
        &self,
        vm: &mut Running,
    ) -> (anyhow::Result<String>, anyhow::Result<String>) {
        let enrolled = self.enrolled_status(vm);
        let prometheus = match &enrolled {
            Ok(_) => self.prometheus(),
            Err(_) => Err(anyhow::anyhow!("not enrolled")),
        };
        let scraped = prometheus
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|p| p.wait_up(|kiosk, no_cert| kiosk == Some("1") && no_cert == Some("0")));
        let enroll = enrolled.and_then(|(id, until)| {
            let (kiosk, _) = scraped.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            Ok(format!(
                "enroll.toml on the boot partition: kiosk-enroll made the key pair and central signed {id}'s certificate (until {until}); enroll.toml removed; /status over mutual TLS with the fleet scraper's certificate; Prometheus (docs/fleet/prometheus.yml made local) found the kiosk at central's /v1/fleet/targets and scraped it over mutual TLS: {kiosk}"
            ))
        });
        let refused = self.refused_without_cert().and_then(|d| {
            let (_, no_cert) = scraped.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            Ok(format!(
                "{d}; Prometheus' job without the certificate: {no_cert}"
            ))
        });
        (enroll, refused)
    }

    /// Waits for `/status` (mutual TLS) to say enrolled; the device id and
    /// the certificate's expiry.
    fn enrolled_status(&self, vm: &mut Running) -> anyhow::Result<(String, String)> {
        let s = self.wait_status("the kiosk enrolled", vm, Duration::from_secs(180), |s| {
            s["identity"]["enrolled"] == true
        })?;
        let mtls: Value = serde_json::from_str(&self.scraper_get("/status", true)?)
            .context("/status over mutual TLS")?;
        if mtls["identity"]["enrolled"] != true {
            bail!(
                "/status over mutual TLS does not say enrolled: {}",
                mtls["identity"]
            );
        }
        if self.boot_files()?.iter().any(|f| f == "enroll.toml") {
            bail!("enroll.toml is still on the boot partition after the enrollment");
        }
        let id = self.fleet()?["devices"]
            .as_object()
            .and_then(|d| d.keys().next().cloned())
            .context("central holds no enrolled kiosk")?;
        Ok((
            id,
            s["identity"]["not_after"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        ))
    }

    /// Without the scraper's certificate the endpoint answers nothing: the
    /// TLS handshake fails, and plain HTTP with the old token gets no answer.
    fn refused_without_cert(&self) -> anyhow::Result<String> {
        let handshake = match self.scraper_get("/metrics", false) {
            Ok(body) => bail!(
                "/metrics answered without a client certificate: {} bytes",
                body.len()
            ),
            Err(e) => format!("{e:#}")
                .lines()
                .rev()
                .find(|l| l.contains("curl:"))
                .unwrap_or("refused")
                .trim()
                .to_string(),
        };
        if let Some(r) = http_get(self.status, "/status", Some(&self.built.token)) {
            bail!(
                "/status answered plain HTTP with the token: HTTP {}",
                r.code
            );
        }
        Ok(format!(
            "curl without the scraper's certificate: {handshake}; plain HTTP with the former token: no answer"
        ))
    }

    /// A real Prometheus on the host, with the lab config central wrote.
    fn prometheus(&self) -> anyhow::Result<Prometheus> {
        let dir = scraper_dir(&self.central_state);
        let port = free_port()?;
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.tmp.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(
                self.dir.join(format!("{}-prometheus.log", self.prefix)),
            )?)
            .spawn()
            .context("cannot start prometheus (Debian package prometheus)")?;
        Ok(Prometheus {
            child,
            api: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// Neither `kiosk.toml` nor its signature is left on the boot
    /// partition (provisioning removes a drop once applied).
    fn drop_removed(&self, what: &str) -> anyhow::Result<String> {
        let files = self.boot_files()?;
        // Long names, or the 8.3 aliases (`KIOSK~1.TOM`) without them.
        if files
            .iter()
            .any(|f| f.starts_with("kiosk.toml") || f.starts_with("kiosk~"))
        {
            bail!("{what} is still on the boot partition: {files:?}");
        }
        Ok(format!("{what}: taken off the boot partition"))
    }

    /// The applied config back on the boot partition: nothing refused.
    fn refusal_gone(&self) -> anyhow::Result<String> {
        let s = self.status().context("no /status")?;
        let refused = s["alarms"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x.as_str().is_some_and(|x| x.contains("boot partition")))
        });
        if refused {
            bail!(
                "the applied config is back on the boot partition, yet /status says {}",
                s["alarms"]
            );
        }
        Ok("the applied config put back: no alarm".into())
    }

    /// The data partition as the next boot finds it: the file system
    /// repaired by its journal, the store's audit chain, the journal's text
    /// and a scan for personal values in clear.
    fn inspect(&self) -> anyhow::Result<DataCheck> {
        let step = Step::start("look at the data partition");
        let work = self.tmp.path().join("data");
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(&work)?;
        let part = work.join("data.ext4");
        {
            use std::io::{Read as _, Seek as _};
            let mut disk = std::fs::File::open(&self.disk)?;
            disk.seek(std::io::SeekFrom::Start(self.data_offset))?;
            let mut out = std::fs::File::create(&part)?;
            std::io::copy(&mut disk.take(self.data_len), &mut out)?;
        }
        let fsck = Command::new("e2fsck")
            .args(["-fy"])
            .arg(&part)
            .output()
            .context("e2fsck (package e2fsprogs)")?
            .status
            .code()
            .unwrap_or(-1);
        for (from, to) in [("/kiosk", "kiosk"), ("/var/log/journal", "journal")] {
            let dest = work.join(to);
            std::fs::create_dir_all(&dest)?;
            run(Command::new("debugfs")
                .arg("-R")
                .arg(format!("rdump {from} {}", dest.display()))
                .arg(&part))?;
        }
        let audit = Command::new(&self.host_kiosk)
            .args(["audit", "verify", "--data"])
            .arg(work.join("kiosk/kiosk"))
            .output()?;
        // The verdict line (what needs central follows it).
        let audit_text = format!(
            "{}{}",
            String::from_utf8_lossy(&audit.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .trim(),
            String::from_utf8_lossy(&audit.stderr).trim()
        );
        let journalctl = |output: &str, args: &[&str]| {
            run(Command::new("journalctl")
                .arg("-D")
                .arg(work.join("journal/journal"))
                .args(["-o", output, "--no-pager"])
                .args(args))
            .unwrap_or_default()
        };
        let journal = journalctl("cat", &[]);
        let journal_fields = journalctl("verbose", &[]);
        let kiosk_journal = journalctl("cat", &["-u", "kiosk"]);
        let kiosk_warnings = journalctl("cat", &["-u", "kiosk", "-p", "warning"]);
        let bytes = std::fs::read(&part)?;
        let mut in_clear = Vec::new();
        for (label, value) in [
            ("the ID number", self.card.id_number.as_str()),
            ("the name", self.card.name.as_str()),
            ("the phone number", PHONE),
        ] {
            if memchr::memmem::find(&bytes, value.as_bytes()).is_some() {
                in_clear.push(label);
            }
        }
        step.done();
        Ok(DataCheck {
            audit_ok: audit.status.success() && audit_text.starts_with("ok"),
            audit: audit_text,
            fsck,
            journal,
            journal_fields,
            kiosk_journal,
            kiosk_warnings,
            in_clear,
        })
    }

    /// The journal and the disk hold nothing personal of the citizen's.
    fn personal_check(&self, data: &DataCheck) -> anyhow::Result<String> {
        let mut leaks = Vec::new();
        for (label, value) in [
            ("ID number", self.card.id_number.as_str()),
            ("name", self.card.name.as_str()),
            ("phone number", PHONE),
        ] {
            if data.journal_fields.contains(value) {
                leaks.push(format!("the journal holds the {label}"));
            }
        }
        leaks.extend(
            data.in_clear
                .iter()
                .map(|l| format!("the data partition holds {l} in clear")),
        );
        if data.journal.lines().count() < 20 {
            bail!(
                "the journal read back has {} lines: the check would prove nothing",
                data.journal.lines().count()
            );
        }
        if !leaks.is_empty() {
            bail!("{}", leaks.join("; "));
        }
        Ok(format!(
            "the journal ({} lines) and the data partition hold no ID number, name or phone number",
            data.journal.lines().count()
        ))
    }
}

/// The audit chain verified and the file system whole after a cut.
fn check_data(d: &DataCheck) -> anyhow::Result<()> {
    if !d.audit_ok {
        bail!("kiosk audit verify: {}", d.audit);
    }
    // 0: clean; 1: repaired by the journal's replay, as a boot would.
    if d.fsck > 1 {
        bail!(
            "e2fsck -fy left the data partition with errors (exit {})",
            d.fsck
        );
    }
    Ok(())
}

/// The Good drop with one more line: a change the kiosk would apply if it
/// were signed.
fn retuned(base: &str) -> anyhow::Result<String> {
    Ok(format!(
        "{}# retuned by hand on site\n",
        drop_config(base, Drop::Good)?
    ))
}

/// The provisioning's refusals in the journal.
fn journal_refusals(journal: &str) -> anyhow::Result<String> {
    let lines: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("kiosk.toml refused"))
        .collect();
    let unknown = lines.iter().any(|l| l.contains("printer_colour"));
    let sim = lines.iter().any(|l| l.contains("central"));
    if !unknown || !sim {
        bail!("the journal should hold both refusals, with their reasons: {lines:?}");
    }
    let mut distinct = lines.clone();
    distinct.dedup();
    Ok(format!("the journal says: {}", distinct.join(" | ")))
}

/// `journalctl -u kiosk -p warning` shows the warnings central-401
/// provoked ("delivery failed, will retry"), and not the kiosk's
/// information lines ("delivered"), which the unit's full journal has.
fn journal_priorities(d: &DataCheck) -> anyhow::Result<String> {
    let warned: Vec<&str> = d
        .kiosk_warnings
        .lines()
        .filter(|l| l.contains("delivery failed"))
        .collect();
    let Some(first) = warned.first() else {
        bail!(
            "journalctl -u kiosk -p warning shows no delivery failure after central refused the token; it shows {} lines: {:?}",
            d.kiosk_warnings.lines().count(),
            d.kiosk_warnings.lines().take(5).collect::<Vec<_>>()
        );
    };
    let info = d
        .kiosk_journal
        .lines()
        .filter(|l| l.trim() == "delivered")
        .count();
    if info == 0 {
        bail!(
            "journalctl -u kiosk has no information line \"delivered\": the filter proves nothing"
        );
    }
    if d.kiosk_warnings.lines().any(|l| l.trim() == "delivered") {
        bail!(
            "journalctl -u kiosk -p warning shows information lines (\"delivered\"): no priorities"
        );
    }
    Ok(format!(
        "journalctl -u kiosk -p warning: {} lines, {} of them the provoked delivery failures (\"{}\"); the {} \"delivered\" lines of the unit's journal are not among them",
        d.kiosk_warnings.lines().count(),
        warned.len(),
        first.trim(),
        info
    ))
}

/// The console's HARDENING line (printed just before BOOTCHECK), checked.
fn hardening(vm: &Running) -> anyhow::Result<String> {
    let line =
        console_line(&vm.console, "HARDENING ").context("no HARDENING line on the console")?;
    let score = check_hardening(&line, true)?;
    Ok(format!(
        "systemd-analyze security kiosk.service: {score:.1} (at most 2.0); {line}"
    ))
}

/// The BOOTCHECK line on the first boot's console.
fn bootcheck(vm: &Running) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        if let Some(l) = console_line(&vm.console, "BOOTCHECK ") {
            check_bootcheck(&l)?;
            return Ok(l);
        }
        if started.elapsed() > Duration::from_secs(180) {
            bail!("no BOOTCHECK line on the console");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Keys central did not know in `before`.
fn new_orders(before: &[Submission], now: &[Submission]) -> Vec<Submission> {
    now.iter()
        .filter(|s| !before.iter().any(|b| b.key == s.key))
        .cloned()
        .collect()
}

/// `(offset, length)` in bytes of each partition, from `sfdisk -J`.
fn partitions(json: &str) -> anyhow::Result<Vec<(u64, u64)>> {
    let v: Value = serde_json::from_str(json).context("sfdisk -J")?;
    let sector = v["partitiontable"]["sectorsize"].as_u64().unwrap_or(512);
    v["partitiontable"]["partitions"]
        .as_array()
        .context("no partitions")?
        .iter()
        .map(|p| {
            Ok((
                p["start"].as_u64().context("start")? * sector,
                p["size"].as_u64().context("size")? * sector,
            ))
        })
        .collect()
}

fn console_tail(console: &Path) -> String {
    crate::step::tail(&std::fs::read_to_string(console).unwrap_or_default(), 20)
}

/// A receipt the printer twin decoded, read back: its text (scaled up three
/// times, the head's 8 dots/mm being small for OCR, then `tesseract`) and
/// the shape of each printed line ([`glyph_shapes`]).
fn read_receipt(receipt: &Path) -> anyhow::Result<Receipt> {
    let ink = ink_of(receipt)?;
    let (w, h) = (ink.first().map_or(0, Vec::len), ink.len());
    const SCALE: usize = 3;
    let mut big = vec![255u8; w * SCALE * h * SCALE];
    for y in 0..h * SCALE {
        for x in 0..w * SCALE {
            if ink[y / SCALE][x / SCALE] {
                big[y * w * SCALE + x] = 0;
            }
        }
    }
    let scaled = receipt.with_extension("x3.png");
    {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, (w * SCALE) as u32, (h * SCALE) as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&big)?;
        std::fs::write(&scaled, out)?;
    }
    let text = run(Command::new("tesseract")
        .arg(&scaled)
        .arg("stdout")
        .args(["--psm", "6", "-l", "eng"]))
    .context("tesseract (package tesseract-ocr) reads the receipt")?;
    let _ = std::fs::remove_file(&scaled);
    let shapes = glyph_shapes(&ink);
    std::fs::write(
        receipt.with_extension("txt"),
        format!(
            "{text}\n--- glyph shapes per line ---\n{}\n",
            shapes.join("\n")
        ),
    )?;
    Ok(Receipt { text, shapes })
}

/// Which dots of a receipt's picture are black.
fn ink_of(png_file: &Path) -> anyhow::Result<Vec<Vec<bool>>> {
    let decoder = png::Decoder::new(std::fs::File::open(png_file)?);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    let black = |x: usize, y: usize| -> bool {
        match info.bit_depth {
            // 1-bit grey: a set bit is white.
            png::BitDepth::One => buf[y * info.line_size + x / 8] & (0x80 >> (x % 8)) == 0,
            _ => buf[y * info.line_size + x * channels] < 128,
        }
    };
    Ok((0..info.height as usize)
        .map(|y| (0..info.width as usize).map(|x| black(x, y)).collect())
        .collect())
}

/// A receipt read back.
struct Receipt {
    text: String,
    shapes: Vec<String>,
}

/// The shape of each printed line, one letter per glyph: `S` for a glyph
/// whose ink stays in the line's upper part (an asterisk, the mask), `D`
/// for any other. OCR misreads runs of asterisks; their shape is certain.
/// Touching asterisks count by width. Rules (lines under 8 dots) are left
/// out.
pub fn glyph_shapes(ink: &[Vec<bool>]) -> Vec<String> {
    let h = ink.len();
    let w = ink.first().map_or(0, Vec::len);
    let row_inked: Vec<bool> = ink.iter().map(|r| r.iter().any(|&b| b)).collect();
    let mut lines = Vec::new();
    let mut y = 0;
    while y < h {
        if !row_inked[y] {
            y += 1;
            continue;
        }
        let top = y;
        while y < h && row_inked[y] {
            y += 1;
        }
        let bottom = y;
        if bottom - top < 8 {
            continue;
        }
        let col_inked = |x: usize| (top..bottom).any(|r| ink[r][x]);
        // Glyphs: runs of inked columns, with the lowest inked row of each.
        let mut glyphs: Vec<(usize, usize)> = Vec::new();
        let mut x = 0;
        while x < w {
            if !col_inked(x) {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && col_inked(x) {
                x += 1;
            }
            let low = (top..bottom)
                .rev()
                .find(|&r| (start..x).any(|c| ink[r][c]))
                .unwrap_or(top);
            glyphs.push((x - start, low));
        }
        let mut widths: Vec<usize> = glyphs.iter().map(|g| g.0).collect();
        widths.sort_unstable();
        let unit = widths.get(widths.len() / 2).copied().unwrap_or(1).max(1) as f64;
        let upper = top as f64 + (bottom - top) as f64 * 0.65;
        let mut shape = String::new();
        for (width, low) in glyphs {
            if (low as f64) < upper {
                let n = ((width as f64 / unit).round() as usize).max(1);
                shape.push_str(&"S".repeat(n));
            } else {
                shape.push('D');
            }
        }
        lines.push(shape);
    }
    lines
}

/// The receipt carries central's number (or says pending when
/// `central_no` is `None`), and an ID number masked the kiosk's way: four
/// characters, `id_len - 8` asterisks, four characters, ending a line;
/// never the whole number.
fn check_receipt(r: &Receipt, central_no: Option<&str>, card: &CardOnReader) -> Result<(), String> {
    let squeezed: String = r.text.chars().filter(|c| !c.is_whitespace()).collect();
    match central_no {
        Some(n) if !squeezed.contains(n) => {
            return Err(format!(
                "central's number {n} is not on the receipt:\n{}",
                r.text
            ))
        }
        None if !r.text.to_lowercase().contains("pending") => {
            return Err(format!("the receipt does not say pending:\n{}", r.text))
        }
        _ => {}
    }
    if squeezed.contains(card.id_number.as_str()) {
        return Err("the receipt carries the whole ID number".into());
    }
    let masked = format!("DDDD{}DDDD", "S".repeat(card.id_number.chars().count() - 8));
    if !r.shapes.iter().any(|l| l.ends_with(&masked)) {
        return Err(format!(
            "no line ends in an ID number masked as {masked}: lines {:?}",
            r.shapes
        ));
    }
    Ok(())
}

/// A small deterministic generator for the cuts' moments.
fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> CardOnReader {
        CardOnReader {
            id_number: "330106199001010026".into(),
            name: "张伟".into(),
        }
    }

    fn receipt(text: &str, shapes: &[&str]) -> Receipt {
        Receipt {
            text: text.into(),
            shapes: shapes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_receipt_must_carry_the_number_and_only_a_masked_id() {
        // tesseract's reading of a real receipt: the labels' Chinese is
        // garbage to the English model, and so are the asterisks.
        let text = "Hofstes Central no.: 2026120400001\nUEFFS ID: 3301 *RRR*RFERAQOIG\n";
        let id_line = "DDDDDDDDDDSSSSSSSSSSDDDD";
        let ok = receipt(text, &["DDDD", id_line, "DDDDS"]);
        assert_eq!(check_receipt(&ok, Some("2026120400001"), &card()), Ok(()));
        assert!(check_receipt(&ok, Some("2026120400002"), &card()).is_err());
        assert!(check_receipt(&ok, None, &card()).is_err(), "not pending");
        let unmasked = receipt(text, &["DDDD", "DDDDDDDDDDDDDDDDDDDDDDDD"]);
        assert!(check_receipt(&unmasked, Some("2026120400001"), &card())
            .expect_err("no mask")
            .contains("masked"));
        let whole = receipt(
            "Central no.: 2026120400001\nID: 330106199001010026\n",
            &[id_line],
        );
        assert!(check_receipt(&whole, Some("2026120400001"), &card())
            .expect_err("whole id")
            .contains("whole ID"));
        let pending = receipt("Central no.: fala pending\nsync\n", &[id_line]);
        assert_eq!(check_receipt(&pending, None, &card()), Ok(()));
    }

    #[test]
    fn glyph_shapes_tell_asterisks_from_other_glyphs() {
        // A 12-row line: a full-height glyph, two touching asterisks (ink in
        // the top rows only), a gap, one asterisk, a full-height glyph; then
        // a 2-row rule, left out.
        let mut ink = vec![vec![false; 40]; 16];
        for row in ink.iter_mut().take(12) {
            row[0..4].fill(true);
            row[36..40].fill(true);
        }
        for row in ink.iter_mut().take(5) {
            row[6..14].fill(true);
            row[17..21].fill(true);
        }
        for row in ink.iter_mut().skip(14) {
            row.fill(true);
        }
        assert_eq!(glyph_shapes(&ink), vec!["DSSSD".to_string()]);
        assert!(glyph_shapes(&[]).is_empty());
    }

    #[test]
    fn a_printed_receipt_shows_its_id_masked() {
        // A pending receipt the printer twin decoded in an e2e run.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/receipt-pending.png");
        let shapes = glyph_shapes(&ink_of(&path).expect("fixture"));
        let masked = shapes
            .iter()
            .filter(|l| l.ends_with("DDDDSSSSSSSSSSDDDD"))
            .count();
        assert_eq!(masked, 1, "{shapes:?}");
        // The applicant's name: one character and the mask.
        assert!(shapes.iter().any(|l| l.ends_with("DS")), "{shapes:?}");
    }

    #[test]
    fn drops_change_only_what_the_technician_means() {
        let base =
            std::fs::read_to_string(images_dir().join("qemu-virt-kiosk.toml")).expect("base");
        let good: toml::Table =
            toml::from_str(&drop_config(&base, Drop::Good).expect("good")).expect("toml");
        assert!(
            good.get("device_id").is_none(),
            "provisioning puts the id in"
        );
        assert_eq!(good["ui"]["touchscreen"].as_bool(), Some(true));
        assert_eq!(good["central"]["token"].as_str(), Some(CENTRAL_TOKEN));
        assert_eq!(
            good["central"]["url"].as_str(),
            Some("https://10.0.2.2:18443/")
        );
        let unknown: toml::Table =
            toml::from_str(&drop_config(&base, Drop::UnknownField).expect("bad")).expect("toml");
        assert!(unknown.contains_key("printer_colour"));
        let sim: toml::Table =
            toml::from_str(&drop_config(&base, Drop::SimCentral).expect("sim")).expect("toml");
        assert_eq!(sim["central"]["url"].as_str(), Some("sim"));
        assert_eq!(sim["central"]["token"].as_str(), Some(CENTRAL_TOKEN));
    }

    #[test]
    fn keypad_keys_are_where_the_screen_draws_them() {
        assert_eq!(keypad('1'), (968, 216));
        assert_eq!(keypad('6'), (1198, 361));
        assert_eq!(keypad('8'), (1081, 506));
        assert_eq!(keypad('0'), (1081, 650));
    }

    #[test]
    fn partitions_come_from_sfdisk_json() {
        let json = r#"{"partitiontable": {"label": "dos", "sectorsize": 512, "partitions": [
            {"node": "d1", "start": 2048, "size": 524288, "type": "c"},
            {"node": "d4", "start": 4720640, "size": 1048576, "type": "83"}]}}"#;
        assert_eq!(
            partitions(json).expect("parses"),
            vec![(1_048_576, 268_435_456), (2_416_967_680, 536_870_912)]
        );
        assert!(partitions("{}").is_err());
    }

    #[test]
    fn only_keys_central_did_not_know_are_new() {
        let s = |k: &str, n: Option<&str>| Submission {
            key: k.into(),
            count: 1,
            order_no: n.map(Into::into),
            time_unverified: false,
        };
        let before = vec![s("a", Some("1"))];
        let now = vec![s("a", Some("1")), s("b", None)];
        assert_eq!(new_orders(&before, &now), vec![s("b", None)]);
    }

    #[test]
    fn the_journal_must_name_both_refusals() {
        let j = "provision: /boot/firmware/kiosk.toml refused, the previous config stays: unknown field `printer_colour`\nprovision: /boot/firmware/kiosk.toml refused, the previous config stays: refused: central.url: the simulator\n";
        assert!(journal_refusals(j).is_ok());
        assert!(journal_refusals(j.lines().next().expect("line")).is_err());
    }
}
