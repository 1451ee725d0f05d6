//! `kiosk demo`: the kiosk's main job on simulated devices and the
//! in-process central simulator, with a scripted citizen.
//!
//! Everything below the citizen is the real thing: the card-reader driver
//! talks GA/T 467 over a pseudo-terminal to the reader twin, the printer
//! driver sends ESC/POS to the printer twin (which decodes it back into an
//! image), the central client speaks HTTP to the simulator on a loopback
//! port, the store is sled on disk, the status endpoint answers on loopback.
//! The scripted citizen only sends the events a touchscreen would send.
//!
//! Outputs in `--out`: `transcript.jsonl` (one line per flow step, no
//! personal data), `receipts/<order>.escpos` and `<order>.png`,
//! `summary.json` (one entry per order, no personal data),
//! `status.json` and `metrics.txt` (what `/status` and `/metrics`
//! answered at the end) and `screens/`
//! (a PNG of every screen visited, Chinese and English; see `gui::shots`).

pub mod face;
pub mod gui_scenarios;
pub mod scenarios;
pub mod soak;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::central::{Mode, SimCentral};
use crate::devices;
use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::config::Config;
use kiosk::flow::Event;
use kiosk::model::{CertificateKind, Order, OrderStatus, SupplyRoute};
use kiosk::runtime::sync::Backoff;
use kiosk::runtime::Screen;
use kiosk::store::Store;
use kiosk_drivers::camera::sim::{Scene, SimCamera, SimCameraControl, SimImage, SimOptions};
pub use scenarios::{Act, CentralFault, PrinterFault, Scenario};

/// Options of `kiosk demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Scenario name.
    pub scenario: String,
    /// Output folder.
    pub out: PathBuf,
    /// Data folder (store, keys); a fresh temporary folder when `None`.
    pub data: Option<PathBuf>,
}

/// Why the demo could not run (as opposed to running and failing its check).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// No scenario of that name.
    #[error("no scenario named `{0}` (see --list-scenarios)")]
    UnknownScenario(String),
    /// Output or data folder problem.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A part failed to start.
    #[error("cannot start {what}: {detail}")]
    Start {
        /// Which part.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// One order in `summary.json`: no personal data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryOrder {
    /// Local id.
    pub local_id: String,
    /// Central number, or null while pending.
    pub central_no: Option<String>,
    /// Business code.
    pub business: &'static str,
    /// Status.
    pub status: OrderStatus,
    /// Route of the capacity rule.
    pub route: SupplyRoute,
    /// Missing documents.
    pub missing: Vec<CertificateKind>,
    /// Deadline of the missing documents.
    pub deadline: Option<chrono::NaiveDate>,
    /// The low-voltage option was offered and declined.
    pub low_voltage_offered_and_declined: bool,
    /// Acceptance time.
    pub accepted_at: chrono::DateTime<chrono::Utc>,
    /// Rating given.
    pub rating: Option<u8>,
}

impl SummaryOrder {
    fn of(o: &Order) -> Self {
        Self {
            local_id: o.local_id.clone(),
            central_no: o.central_no.clone(),
            business: o.business.code(),
            status: o.status,
            route: o.application.route,
            missing: o.missing.iter().map(|m| m.kind).collect(),
            deadline: o.missing.first().map(|m| m.deadline),
            low_voltage_offered_and_declined: o.application.low_voltage_offered_and_declined,
            accepted_at: o.accepted_at,
            rating: o.rating,
        }
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Whether the expected outcome happened.
    pub passed: bool,
    /// What did not happen as expected.
    pub failures: Vec<String>,
    /// Orders in the store.
    pub orders: Vec<SummaryOrder>,
    /// How many orders central holds for each key (exactly-once check).
    pub central_orders: usize,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DemoError + 'a {
    move |source| DemoError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Runs one scenario; `Ok(summary)` says whether its outcome happened.
pub async fn run(opts: DemoOptions) -> Result<Summary, DemoError> {
    run_with(opts, None).await
}

/// Runs the demo's kiosk; with `human`, a person at the touchscreen window
/// plays instead of the scenario's script (see `gui::window`).
pub async fn run_with(
    opts: DemoOptions,
    human: Option<crate::window::Human>,
) -> Result<Summary, DemoError> {
    let scenario = crate::demo::gui_scenarios::by_name(&opts.scenario)
        .ok_or_else(|| DemoError::UnknownScenario(opts.scenario.clone()))?;
    let receipts = opts.out.join("receipts");
    std::fs::create_dir_all(&receipts).map_err(io("cannot create", &receipts))?;
    let transcript = opts.out.join("transcript.jsonl");
    // A fresh transcript per run.
    let _ = std::fs::remove_file(&transcript);
    let tmp;
    let data = match &opts.data {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()
                .map_err(io("cannot create a temp dir in", &std::env::temp_dir()))?;
            tmp.path().to_owned()
        }
    };
    std::fs::create_dir_all(&data).map_err(io("cannot create", &data))?;

    let config = Config::default();
    let sim = SimCentral::start(7).await.map_err(|e| DemoError::Start {
        what: "the central simulator",
        detail: e.to_string(),
    })?;
    let mut client_cfg = ClientConfig::new(sim.url());
    client_cfg.timeout = Duration::from_millis(1_500);
    let central = Arc::new(
        CentralClient::new(client_cfg).map_err(|e| DemoError::Start {
            what: "the central client",
            detail: e.to_string(),
        })?,
    );
    let store = Arc::new(Store::open(&data).map_err(|e| DemoError::Start {
        what: "the store",
        detail: e.to_string(),
    })?);

    // The face rig: real models, the camera twin showing a test photo, and
    // the simulator serving another photo of the same person as reference.
    let rig = match scenario.face {
        None => None,
        Some(setup) => {
            let start_err = |e: face::RigError| DemoError::Start {
                what: "the face rig",
                detail: e.to_string(),
            };
            let pairs = face::faces_dir().map_err(start_err)?.join("pairs");
            let mut cfg = kiosk::face::config::FaceConfig::with_model_dir(
                face::models_dir().map_err(start_err)?,
            );
            // The scripted subject moves on the clock whatever the machine's
            // load; on a busy shared machine (or beside the other scenario
            // tests and the screenshot writer) frames come slowly, so the
            // demo gives each action more time than a kiosk's default.
            cfg.liveness.action_timeout_ms *= 2;
            cfg.liveness.total_timeout_ms *= 2;
            let reference = pairs.join(setup.reference);
            let bytes = face::reference_jpeg(&reference).map_err(start_err)?;
            sim.control
                .set_reference_photo(scenario.citizen.identity().1, bytes);
            let rig = face::start(&cfg, &pairs.join(setup.camera)).map_err(start_err)?;
            if setup.frozen {
                rig.camera.freeze();
            }
            Some(rig)
        }
    };

    let mut flow_cfg = config.flow.clone();
    if rig.is_some() {
        flow_cfg.identity_methods = vec![
            kiosk::model::IdentityMethod::Face,
            kiosk::model::IdentityMethod::IdCard,
        ];
    }
    // The demo kiosk offers every business and every identity method.
    flow_cfg.businesses = kiosk::model::Business::ALL.to_vec();
    flow_cfg.identity_methods.extend([
        kiosk::model::IdentityMethod::Eid,
        kiosk::model::IdentityMethod::CallStaff,
    ]);
    flow_cfg.staff_pin_argon2 = Some(
        kiosk::staff::PinHash::new(scenarios::DEMO_STAFF_PIN)
            .as_str()
            .to_owned(),
    );
    if let Ok(catalog) = central.catalog().await {
        flow_cfg.set_capacity(catalog.policy);
        if let Some(contract) = catalog.contract {
            flow_cfg.contract = contract;
        }
    }

    // The QR camera twin: shows whatever the citizen holds up (a phone's
    // e-ID, a receipt), decoded by the real QR actor.
    let (qr_camera, qr_control) = SimCamera::new(
        Scene::Empty,
        SimOptions {
            fps: 5,
            size: None,
            noise: 0,
            lockstep: false,
        },
    )
    .map_err(|e| DemoError::Start {
        what: "the QR camera twin",
        detail: e.to_string(),
    })?;
    let qr = kiosk::runtime::qr::spawn_qr_actor(qr_camera, false);

    let (name, id, address) = scenario.citizen.identity();
    let reader = devices::spawn_sim_reader(name, id, address, &scenario.card)
        .await
        .map_err(|e| DemoError::Start {
            what: "the card reader twin",
            detail: e.to_string(),
        })?;
    let (printer, printer_controls) =
        devices::spawn_sim_printer(&config.devices.printer, Some(receipts.clone())).map_err(
            |e| DemoError::Start {
                what: "the printer twin",
                detail: e.to_string(),
            },
        )?;
    if scenario.printer == PrinterFault::PaperOut {
        printer_controls.set_paper(kiosk_drivers::printer::sim::PaperState::Out);
    }

    let view_ctx = kiosk::gui::view::ViewContext {
        flow: flow_cfg.clone(),
        progress_url: config.receipt.progress_url.clone(),
    };
    // The status endpoint answers on loopback, as a central server would poll it.
    let token = format!("demo-{}", rand::random::<u64>());
    let kiosk = kiosk::app::start(
        kiosk::app::Parts {
            flow: flow_cfg,
            store: store.clone(),
            central: central.clone(),
            device_id: config.device_id.clone(),
            receipt: config.receipt.clone(),
            immediate_sync: Duration::from_millis(config.sync.immediate_timeout_ms),
            // Short delays so the offline scenario drains quickly once central is back.
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(2),
            },
            transcript: Some(transcript.clone()),
            status_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            status_token: Some(token.clone()),
            status_rate_limit: None,
            status_tls: None,
            face_self_test_ok: rig.as_ref().map(|_| true),
            qr: Some(qr),
            // A short limit so that `pay-timeout` ends in seconds.
            payment: kiosk::runtime::PaymentTiming {
                poll: Duration::from_millis(250),
                timeout: Duration::from_secs(4),
            },
            retention_days: config.sync.retention_days,
            drop_refused: None,
            system: None,
            identity: None,
            // The host's clock: the twins run on a workstation or CI machine.
            clock: std::sync::Arc::new(kiosk::clock::Trusted),
        },
        &reader,
        &printer,
        rig.as_ref().map(|r| &r.actor.handle),
    )
    .await
    .map_err(|e| DemoError::Start {
        what: "the status endpoint",
        detail: e.to_string(),
    })?;
    let view_ctx_window = view_ctx.clone();
    let shots = crate::shots::Shots::spawn(
        &opts.out,
        view_ctx,
        kiosk::flow::State::new(),
        kiosk.states.subscribe(),
    );
    let events = kiosk.events.clone();
    let mut screen = kiosk.screen.clone();
    let sync_wake = kiosk.sync_wake.clone();

    let mut failures = Vec::new();
    let mut receipt_seen = None;
    let camera = rig.as_ref().map(|r| r.camera.clone());
    let script = play(
        &scenario,
        &events,
        &mut screen,
        Some(&sim.control),
        Cameras {
            face: camera,
            qr: qr_control,
            receipts: receipts.clone(),
        },
        &mut receipt_seen,
    );
    let outcome = match human {
        Some(h) => {
            drop(script);
            let face = rig
                .as_ref()
                .map(|r| kiosk::gui::window::FaceFeed::of(&r.actor));
            h.play(
                events.clone(),
                kiosk.states.subscribe(),
                view_ctx_window,
                face,
            )
            .await;
            Ok(Ok(()))
        }
        // Generous: the face scenarios run real models in the host profile.
        None => tokio::time::timeout(Duration::from_secs(240), script).await,
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failures.push(e),
        Err(_) => failures.push(format!(
            "the scripted citizen got stuck on screen `{}`",
            screen.borrow().phase
        )),
    }

    // Central is back (if it was down): the outbox must drain, exactly once.
    sim.control.set_mode(Mode::Normal);
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            sync_wake.notify_one();
            if store.outbox_depth().unwrap_or(1) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if drained.is_err() {
        failures.push("the outbox did not drain after central came back".into());
    }

    // The endpoint serves a snapshot refreshed twice a second: poll until it
    // shows the drained outbox (or give the last answer after ~5 s).
    let mut status_json = kiosk::app::fetch_status(kiosk.status_addr, &token).await;
    for _ in 0..50 {
        let drained = status_json
            .as_ref()
            .ok()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .is_some_and(|v| v["outbox_depth"] == 0);
        if drained {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status_json = kiosk::app::fetch_status(kiosk.status_addr, &token).await;
    }
    match &status_json {
        Ok(body) => {
            let path = opts.out.join("status.json");
            std::fs::write(&path, body).map_err(io("cannot write", &path))?;
        }
        Err(e) => failures.push(format!("/status did not answer: {e}")),
    }
    // What a fleet's Prometheus would have scraped at the end.
    match kiosk::app::fetch(kiosk.status_addr, "/metrics", &token).await {
        Ok(body) => {
            let path = opts.out.join("metrics.txt");
            std::fs::write(&path, body).map_err(io("cannot write", &path))?;
        }
        Err(e) => failures.push(format!("/metrics did not answer: {e}")),
    }

    kiosk.stop().await;
    match tokio::task::spawn_blocking(move || shots.finish()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => failures.push(format!("screenshots: {e}")),
        Err(_) => failures.push("the screenshot writer stopped unexpectedly".into()),
    }

    let orders = store.orders().map_err(|e| DemoError::Start {
        what: "reading the store",
        detail: e.to_string(),
    })?;
    let received = sim.control.orders_received();
    check(
        &scenario,
        &orders,
        &received,
        receipt_seen,
        &transcript,
        &mut failures,
    );
    check_business(
        &scenario,
        &orders,
        &store,
        &sim.control,
        &receipts,
        &mut failures,
    );

    let summary = Summary {
        scenario: scenario.name.to_string(),
        passed: failures.is_empty(),
        failures,
        orders: orders.iter().map(SummaryOrder::of).collect(),
        central_orders: received.len(),
    };
    let path = opts.out.join("summary.json");
    let body = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    std::fs::write(&path, body).map_err(io("cannot write", &path))?;
    sim.shutdown().await;
    Ok(summary)
}

/// The cameras of the demo kiosk, as the scripted citizen sees them.
pub(crate) struct Cameras {
    /// The face camera twin, in face scenarios.
    pub(crate) face: Option<SimCameraControl>,
    /// The QR camera twin.
    pub(crate) qr: SimCameraControl,
    /// Where the printer twin writes receipts (one can be held up).
    pub(crate) receipts: PathBuf,
}

/// A QR code as a phone shows it: black modules on a white screen.
fn qr_picture(payload: &str) -> Result<SimImage, String> {
    let code = qrcode::QrCode::new(payload.as_bytes()).map_err(|e| e.to_string())?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let scale = 6;
    let side = (n + 8) * scale;
    let (w, h) = (side + 80, side + 160);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    for y in 0..n {
        for x in 0..n {
            if colors[(y * n + x) as usize] != qrcode::Color::Dark {
                continue;
            }
            for dy in 0..scale {
                for dx in 0..scale {
                    let px = 40 + (x + 4) * scale + dx;
                    let py = 80 + (y + 4) * scale + dy;
                    let i = ((py * w + px) * 3) as usize;
                    rgb[i..i + 3].copy_from_slice(&[0, 0, 0]);
                }
            }
        }
    }
    SimImage::from_rgb(w, h, rgb).map_err(|e| e.to_string())
}

/// The newest receipt image the printer twin wrote.
fn newest_receipt(dir: &Path) -> Result<SimImage, String> {
    let newest = std::fs::read_dir(dir)
        .map_err(|e| format!("no receipts in {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| "no receipt has been printed".to_string())?;
    SimImage::from_file(&newest).map_err(|e| e.to_string())
}

/// Plays the citizen's script against the screen.
pub(crate) async fn play(
    scenario: &Scenario,
    events: &tokio::sync::mpsc::Sender<Event>,
    screen: &mut watch::Receiver<Screen>,
    sim: Option<&crate::central::SimControl>,
    cameras: Cameras,
    receipt_seen: &mut Option<Screen>,
) -> Result<(), String> {
    let mut acted_at = None;
    for act in &scenario.acts {
        let event = match act {
            Act::UnplugCameraOn(phase) => {
                wait(screen, acted_at, |s| s.phase == *phase).await?;
                if let Some(c) = &cameras.face {
                    c.unplug();
                }
                continue;
            }
            Act::ShowQrOn(phase, shown) => {
                let s = wait(screen, acted_at, |s| s.phase == *phase).await?;
                acted_at = Some(s.seq);
                let scenarios::QrShown::Eid(c) = shown;
                let picture = qr_picture(&crate::central::eid_payload(c.identity().1))?;
                cameras
                    .qr
                    .set_scene(Scene::Still(picture))
                    .map_err(|e| e.to_string())?;
                continue;
            }
            Act::ShowReceiptOn(phase) => {
                let s = wait(screen, acted_at, |s| s.phase == *phase).await?;
                acted_at = Some(s.seq);
                let picture = newest_receipt(&cameras.receipts)?;
                cameras
                    .qr
                    .set_scene(Scene::Still(picture))
                    .map_err(|e| e.to_string())?;
                continue;
            }
            Act::PayOnPhone => {
                let s = wait(screen, acted_at, |s| s.phase == "paying").await?;
                acted_at = Some(s.seq);
                let paid = sim.is_some_and(|sim| {
                    sim.payments()
                        .last()
                        .is_some_and(|p| sim.settle_payment(&p.payment_id))
                });
                if !paid {
                    return Err("no payment to pay on the phone".into());
                }
                continue;
            }
            Act::AfterInvoice(event) => {
                let s = wait(screen, acted_at, |s| {
                    s.phase == "paid" && s.printed.is_some()
                })
                .await?;
                acted_at = Some(s.seq);
                event.clone()
            }
            Act::Central(fault) => {
                if let Some(sim) = sim {
                    sim.set_mode(match fault {
                        CentralFault::Normal => Mode::Normal,
                        CentralFault::Down => Mode::Unavailable,
                    });
                }
                continue;
            }
            Act::On(phase, event) => {
                let s = wait(screen, acted_at, |s| s.phase == *phase).await?;
                acted_at = Some(s.seq);
                event.clone()
            }
            Act::AfterReceipt(event) => {
                let s = wait(screen, acted_at, |s| {
                    s.phase == "receipt" && s.printed.is_some()
                })
                .await?;
                *receipt_seen = Some(s.clone());
                acted_at = Some(s.seq);
                event.clone()
            }
        };
        events
            .send(event)
            .await
            .map_err(|_| "the kiosk stopped taking events".to_string())?;
    }
    wait(screen, acted_at, |s| s.phase == "attract").await?;
    Ok(())
}

/// Waits for a screen newer than `after` that satisfies `pred`.
async fn wait(
    screen: &mut watch::Receiver<Screen>,
    after: Option<u64>,
    pred: impl Fn(&Screen) -> bool,
) -> Result<Screen, String> {
    let s = screen
        .wait_for(|s| after.is_none_or(|a| s.seq > a) && pred(s))
        .await
        .map_err(|_| "the kiosk stopped".to_string())?;
    Ok(s.clone())
}

/// The business-specific outcome: account, company, pushed order, transfer
/// parties, contract, assistance, payment and progress.
fn check_business(
    scenario: &Scenario,
    orders: &[Order],
    store: &Store,
    sim: &crate::central::SimControl,
    receipts: &Path,
    failures: &mut Vec<String>,
) {
    let e = &scenario.expect;
    if let Some(order) = orders.first() {
        if order.business != e.business {
            failures.push(format!(
                "business {:?}, expected {:?}",
                order.business, e.business
            ));
        }
        if order.account_no.as_deref() != e.account {
            failures.push(format!(
                "account {:?}, expected {:?}",
                order.account_no, e.account
            ));
        }
        if order.company.is_some() != e.company {
            failures.push(format!(
                "company {:?}, expected {}",
                order.company, e.company
            ));
        }
        if order.pushed_from.as_deref() != e.pushed {
            failures.push(format!(
                "pushed from {:?}, expected {:?}",
                order.pushed_from, e.pushed
            ));
        }
        if let Some(p) = e.pushed {
            if !sim.pushed_confirmed().iter().any(|c| c == p) {
                failures.push(format!("central never saw pushed order {p} confirmed"));
            }
        }
        let want_contract = e.pushed.is_some() || kiosk::flow::needs_contract_for(order.business);
        if order.contract.is_some() != want_contract {
            failures.push(format!(
                "contract signed: {}, expected {want_contract}",
                order.contract.is_some()
            ));
        }
        let present = order.transfer.map(|t| t.old_holder_present);
        if present != e.old_holder_present {
            failures.push(format!(
                "old holder present {present:?}, expected {:?}",
                e.old_holder_present
            ));
        }
        if e.old_holder_present == Some(true)
            && !order.transfer.is_some_and(|t| t.old_holder_verified)
        {
            failures.push("the old holder was not verified as the account's holder".into());
        }
    }
    if e.assistance && sim.assistance_requests().is_empty() {
        failures.push("no assistance request reached central".into());
    }
    let audit = store.audit_records().unwrap_or_default();
    let confirmed = audit
        .iter()
        .filter(|r| r.event == "payment-confirmed")
        .count();
    let invoices = std::fs::read_dir(receipts)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|f| f.file_name().to_string_lossy().starts_with("INV"))
                .filter(|f| f.path().extension().is_some_and(|x| x == "png"))
                .count()
        })
        .unwrap_or(0);
    match e.paid {
        Some(true) if confirmed != 1 || invoices != 1 => failures.push(format!(
            "paid: {confirmed} confirmations and {invoices} invoices, expected 1 and 1"
        )),
        Some(false) if confirmed != 0 || invoices != 0 => failures.push(format!(
            "not paid, yet {confirmed} confirmations and {invoices} invoices"
        )),
        Some(false)
            if sim
                .payments()
                .iter()
                .any(|p| p.state == kiosk::central::PaymentState::Paid) =>
        {
            failures.push("central shows a paid payment".into())
        }
        _ => {}
    }
}

fn check(
    scenario: &Scenario,
    orders: &[Order],
    received: &[(String, String)],
    receipt: Option<Screen>,
    transcript: &Path,
    failures: &mut Vec<String>,
) {
    let e = &scenario.expect;
    let text = std::fs::read_to_string(transcript).unwrap_or_default();
    if text.contains("\"refused\"") {
        failures.push("an event was refused during the scenario (see transcript)".into());
    }
    if let Some(p) = e.problem {
        if !text.contains(&format!("\"problem\":\"{p}\"")) {
            let shown: Vec<&str> = text
                .split("\"problem\":\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .collect();
            failures.push(format!(
                "the screen never showed `{p}` (it showed {shown:?})"
            ));
        }
    }
    if e.progress && !text.contains("\"event\":\"progress-fetched\"") {
        failures.push("the progress of the order was never shown".into());
    }
    if e.orders == 0 {
        if !orders.is_empty() {
            failures.push(format!("expected no order, the store has {}", orders.len()));
        }
        return;
    }
    let [order] = orders else {
        failures.push(format!(
            "expected one accepted order, the store has {}",
            orders.len()
        ));
        return;
    };
    if order.application.route != e.route {
        failures.push(format!(
            "route {:?}, expected {:?}",
            order.application.route, e.route
        ));
    }
    let missing: Vec<_> = order.missing.iter().map(|m| m.kind).collect();
    if missing != e.missing {
        failures.push(format!("missing {missing:?}, expected {:?}", e.missing));
    }
    if !e.missing.is_empty() && order.commitment.is_none() {
        failures.push("documents missing but no signed commitment".into());
    }
    if order.application.low_voltage_offered_and_declined != e.low_voltage_declined {
        failures.push("the low-voltage offer was not recorded as expected".into());
    }
    if order.status != OrderStatus::Synced || order.central_no.is_none() {
        failures.push(format!("order not synced in the end ({:?})", order.status));
    }
    let copies = received
        .iter()
        .filter(|(k, _)| *k == order.local_id)
        .count();
    if copies != 1 {
        failures.push(format!(
            "central holds {copies} copies of the order, expected exactly 1"
        ));
    }
    match receipt {
        None => failures.push("the receipt screen never showed".into()),
        Some(r) => {
            let pending = r.central_no.is_none();
            if pending != e.receipt_pending {
                let say = |p: bool| {
                    if p {
                        "pending sync"
                    } else {
                        "a central number"
                    }
                };
                failures.push(format!(
                    "receipt said {}, expected {}",
                    say(pending),
                    say(e.receipt_pending)
                ));
            }
            if r.printed != Some(e.printed) {
                failures.push(format!("printed {:?}, expected {}", r.printed, e.printed));
            }
            if !e.printed && r.problem.as_deref() != Some("printer-failed") {
                failures.push("the screen did not say the printer failed".into());
            }
        }
    }
    if order.rating != Some(5) {
        failures.push("the rating was not stored".into());
    }
    if let Some(ev) = e.card_problem {
        if !text.contains(&format!("\"event\":\"{ev}\"")) {
            failures.push(format!("the transcript shows no `{ev}`"));
        }
    }
    if order.identity.method != e.method {
        failures.push(format!(
            "identity by {:?}, expected {:?}",
            order.identity.method, e.method
        ));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// On the device the face actor owns the one camera: between face
    /// checks it decodes QR codes for the e-ID and the progress query.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_face_camera_scans_qr_codes_between_checks() {
        let (Ok(models), Ok(faces)) = (face::models_dir(), face::faces_dir()) else {
            kiosk_drivers::test_skip::skip("face models or photos absent");
            return;
        };
        let cfg = kiosk::face::config::FaceConfig::with_model_dir(models);
        let rig = face::start(&cfg, &faces.join("pairs").join("img2.jpg")).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        rig.actor.handle.connect(tx);
        let payload = crate::central::eid_payload("330106199001010026");
        rig.camera
            .set_scene(Scene::Still(qr_picture(&payload).unwrap()))
            .unwrap();
        let face_cmd = &rig.actor.handle.commands;
        face_cmd
            .send(kiosk::runtime::face::FaceCmd::ScanQr(true))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("a QR code within 30 s");
        assert_eq!(got, Some(Event::QrScanned(payload.clone())));
        let counted = rig
            .actor
            .handle
            .frames
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(counted >= 1, "frames are counted for /metrics");
        // Stopped, nothing more comes, even with the code still in view.
        face_cmd
            .send(kiosk::runtime::face::FaceCmd::ScanQr(false))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        while let Ok(e) = rx.try_recv() {
            assert_ne!(e, Event::QrScanned(payload.clone()), "sent once only");
        }
    }
}
