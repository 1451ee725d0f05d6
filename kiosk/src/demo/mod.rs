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
//! `status.json` (what `/status` answered at the end) and `screens/`
//! (a PNG of every screen visited, Chinese and English; see `gui::shots`).

pub mod face;
pub mod scenarios;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::central::client::{CentralClient, ClientConfig};
use crate::central::sim::{Mode, SimCentral};
use crate::config::Config;
use crate::flow::Event;
use crate::model::{CertificateKind, Order, OrderStatus, SupplyRoute};
use crate::runtime::sync::Backoff;
use crate::runtime::{devices, Screen};
use crate::store::Store;
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
    human: Option<crate::gui::window::Human>,
) -> Result<Summary, DemoError> {
    let scenario = crate::gui::scenarios::by_name(&opts.scenario)
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
            let cfg = crate::face::config::FaceConfig::with_model_dir(
                face::models_dir().map_err(start_err)?,
            );
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
            crate::model::IdentityMethod::Face,
            crate::model::IdentityMethod::IdCard,
        ];
    }
    if let Ok(catalog) = central.catalog().await {
        flow_cfg.set_capacity(catalog.policy);
    }

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

    let view_ctx = crate::gui::view::ViewContext {
        flow: flow_cfg.clone(),
        progress_url: config.receipt.progress_url.clone(),
    };
    // The status endpoint answers on loopback, as a central server would poll it.
    let token = format!("demo-{}", rand::random::<u64>());
    let kiosk = crate::app::start(
        crate::app::Parts {
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
    let shots = crate::gui::shots::Shots::spawn(
        &opts.out,
        view_ctx,
        crate::flow::State::new(),
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
        &sim,
        camera,
        &mut receipt_seen,
    );
    let outcome = match human {
        Some(h) => {
            drop(script);
            h.play(events.clone(), kiosk.states.subscribe(), view_ctx_window)
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
    let mut status_json = crate::app::fetch_status(kiosk.status_addr, &token).await;
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
        status_json = crate::app::fetch_status(kiosk.status_addr, &token).await;
    }
    match &status_json {
        Ok(body) => {
            let path = opts.out.join("status.json");
            std::fs::write(&path, body).map_err(io("cannot write", &path))?;
        }
        Err(e) => failures.push(format!("/status did not answer: {e}")),
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

/// Plays the citizen's script against the screen.
async fn play(
    scenario: &Scenario,
    events: &tokio::sync::mpsc::Sender<Event>,
    screen: &mut watch::Receiver<Screen>,
    sim: &crate::central::sim::SimHandle,
    camera: Option<kiosk_drivers::camera::sim::SimCameraControl>,
    receipt_seen: &mut Option<Screen>,
) -> Result<(), String> {
    let mut acted_at = None;
    for act in &scenario.acts {
        let event = match act {
            Act::UnplugCameraOn(phase) => {
                wait(screen, acted_at, |s| s.phase == *phase).await?;
                if let Some(c) = &camera {
                    c.unplug();
                }
                continue;
            }
            Act::Central(fault) => {
                sim.control.set_mode(match fault {
                    CentralFault::Normal => Mode::Normal,
                    CentralFault::Down => Mode::Unavailable,
                });
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

fn check(
    scenario: &Scenario,
    orders: &[Order],
    received: &[(String, String)],
    receipt: Option<Screen>,
    transcript: &Path,
    failures: &mut Vec<String>,
) {
    let e = &scenario.expect;
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
    let text = std::fs::read_to_string(transcript).unwrap_or_default();
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
    if let Some(p) = e.problem {
        if !text.contains(&format!("\"problem\":\"{p}\"")) {
            failures.push(format!("the screen never showed `{p}`"));
        }
    }
    if text.contains("\"refused\"") {
        failures.push("an event was refused during the scenario (see transcript)".into());
    }
}
