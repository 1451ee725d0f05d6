//! Wiring: builds the parts from the config and runs them together.
//!
//! `kiosk run` calls [`run`]; the demo reuses [`spawn_status`]. The status
//! endpoint reads a snapshot assembled here once a second from the store,
//! the sync task, the device actors' health and the runner's counters; it
//! never touches a device.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kiosk_drivers::Health;
use tokio::sync::{mpsc, watch, Notify};
use tracing::info;

use crate::central::client::{CentralClient, ClientConfig};
use crate::config::Config;
use crate::flow::Flow;
use crate::runtime::devices::{self, DeviceHandle};
use crate::runtime::sync::{self, Backoff, SyncStatus};
use crate::runtime::{Counters, PrinterCmd, ReaderCmd, Runner, Screen, Services};
use crate::status::Snapshot;
use crate::store::Store;

/// Where the status snapshot comes from.
pub struct StatusSources {
    /// The store (outbox, size).
    pub store: Arc<Store>,
    /// The sync task.
    pub sync: watch::Receiver<SyncStatus>,
    /// The flow's screen (state name only).
    pub screen: watch::Receiver<Screen>,
    /// Session and order counters.
    pub counters: Arc<Counters>,
    /// Device health, by device name.
    pub devices: Vec<(String, watch::Receiver<Health>)>,
    /// The face models' self-test at start.
    pub face_self_test_ok: Option<bool>,
    /// Frame counters of the cameras, by device name.
    pub frames: Vec<(String, Arc<std::sync::atomic::AtomicU64>)>,
    /// The central client (its view of central's clock).
    pub central: Option<Arc<CentralClient>>,
    /// Release, slots and updates (the update task keeps it fresh).
    pub system: Option<watch::Receiver<crate::update::SystemReport>>,
    /// The kiosk's certificate (the renewal task keeps it fresh).
    pub identity: Option<watch::Receiver<crate::enroll::IdentityReport>>,
    /// Whether the system clock is synchronised.
    pub clock: Arc<dyn crate::clock::ClockSync>,
}

/// The alarm while the config keeps the staff PIN as the former unsalted
/// SHA-256 only (that PIN is not accepted any more).
pub const STAFF_PIN_UNSALTED_ALARM: &str = "the staff PIN is disabled: flow.staff_pin_sha256 is an unsalted hash; set flow.staff_pin_argon2 from `kiosk staff hash-pin`";

/// The alarm `/status` shows while a citizen waits for a member of staff.
pub const ASSISTANCE_ALARM: &str = "assistance requested: a citizen is waiting for staff";

impl StatusSources {
    fn snapshot(&self, started_at: chrono::DateTime<Utc>) -> Snapshot {
        let now = Utc::now();
        let sync = self.sync.borrow().clone();
        let mut alarms = Vec::new();
        if self.counters.assistance.load(Ordering::Relaxed) {
            alarms.push(ASSISTANCE_ALARM.to_string());
        }
        if let Some(gap) = &sync.audit_gap {
            alarms.push(format!(
                "central found a gap in this kiosk's audit chain (records removed or rewritten on the card): {gap}"
            ));
        }
        let audit = {
            let head = self.store.audit_head().ok();
            crate::status::AuditStatus {
                seq: head.as_ref().map_or(0, |h| h.seq),
                hash: head.map(|h| h.hash).unwrap_or_default(),
                keyed: self.store.audit_keyed(),
                central_seq: sync.audit_central_seq,
                central_gap: sync.audit_gap.clone(),
            }
        };
        let clock_synchronized = self.clock.synchronized();
        if !clock_synchronized {
            alarms.push(crate::clock::UNSYNCHRONIZED_ALARM.to_string());
        }
        let quarantined = self.store.quarantined_count();
        if quarantined > 0 {
            alarms.push(format!(
                "{quarantined} outbox entries unreadable and quarantined: staff must check"
            ));
        }
        let locked = self.counters.staff_locked_until.load(Ordering::Relaxed);
        if now.timestamp() < locked {
            let until = chrono::DateTime::<Utc>::from_timestamp(locked, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            alarms.push(format!(
                "staff override locked after {} wrong tries, until {until}: a supervisor must check",
                crate::staff::MAX_FAILURES
            ));
        }
        if self.counters.staff_pin_unsalted.load(Ordering::Relaxed) {
            alarms.push(STAFF_PIN_UNSALTED_ALARM.to_string());
        }
        if let Some(why) = self.counters.drop_refused.get() {
            alarms.push(format!(
                "the kiosk.toml on the boot partition was refused, the previous config stays: {why}"
            ));
        }
        let refused = self.counters.accept_failures.load(Ordering::Relaxed);
        if refused > 0 {
            alarms.push(format!(
                "{refused} orders could not be saved (store fault): staff must check the journal"
            ));
        }
        let identity = self
            .identity
            .as_ref()
            .map(|r| r.borrow().clone())
            .unwrap_or_default();
        alarms.extend(identity.alarms(now));
        let depth = self.store.outbox_depth().unwrap_or(0);
        if let (Some(why), true) = (&sync.last_error, depth > 0) {
            alarms.push(format!(
                "central: {depth} outbox entries waiting, kept and retried; last failure: {why}"
            ));
        }
        let parked = self.store.parked_count().unwrap_or(0);
        if parked > 0 {
            alarms.push(format!(
                "{parked} outbox entries rejected by central and parked"
            ));
        }
        let devices: BTreeMap<String, Health> = self
            .devices
            .iter()
            .map(|(n, h)| (n.clone(), h.borrow().clone()))
            .collect();
        for (n, h) in &devices {
            if let Health::Fault(why) = h {
                alarms.push(format!("{n}: {why}"));
            }
        }
        // "cabinet open" from the GPIO actor; an unusable switch is a
        // device fault, not an opening.
        let tamper_open = match devices.get("tamper") {
            Some(Health::Ok) => Some(false),
            Some(Health::Fault(w)) if w.contains("open") => Some(true),
            _ => None,
        };
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            uptime_s: 0,
            devices,
            outbox_depth: depth as u64,
            outbox_oldest_age_s: self
                .store
                .oldest_pending_age(now)
                .ok()
                .flatten()
                .map(|d| d.num_seconds().max(0) as u64),
            parked: parked as u64,
            last_sync_ok: sync.last_ok,
            store_bytes: self.store.size_on_disk().unwrap_or(0),
            orders_accepted_total: self.counters.orders.load(Ordering::Relaxed),
            sessions_total: self.counters.sessions.load(Ordering::Relaxed),
            flow_state: self.screen.borrow().phase.to_string(),
            alarms,
            assistance_requested: self.counters.assistance.load(Ordering::Relaxed),
            quarantined: quarantined as u64,
            face_self_test_ok: self.face_self_test_ok,
            payments_confirmed_total: self.counters.payments.load(Ordering::Relaxed),
            tamper_open,
            frames_total: self
                .frames
                .iter()
                .map(|(n, c)| (n.clone(), c.load(Ordering::Relaxed)))
                .collect(),
            clock_offset_s: self
                .central
                .as_ref()
                .and_then(|c| c.clock_offset())
                .map(|d| d.num_milliseconds() as f64 / 1000.0),
            clock_synchronized: Some(clock_synchronized),
            system: self
                .system
                .as_ref()
                .map(|r| r.borrow().clone())
                .unwrap_or_default(),
            identity,
            audit,
        }
    }
}

/// A running status endpoint.
pub struct StatusServer {
    /// The address it listens on.
    pub addr: SocketAddr,
}

/// Binds the status endpoint and keeps its snapshot fresh until `shutdown`.
pub async fn spawn_status(
    addr: SocketAddr,
    token: Option<String>,
    limit: Option<crate::status::RateLimit>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    sources: StatusSources,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<StatusServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let started_at = Utc::now();
    let (tx, rx) = watch::channel(sources.snapshot(started_at));
    let mut stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tx.send_replace(sources.snapshot(started_at));
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let served = match tls {
            Some(acceptor) => {
                crate::status_tls::serve(listener, acceptor, rx, token, limit, stopped).await
            }
            None => crate::status::serve(listener, rx, token, limit, stopped).await,
        };
        if let Err(e) = served {
            tracing::warn!("status endpoint stopped: {e}");
        }
    });
    Ok(StatusServer { addr })
}

/// The face path on the device: the engine on the configured models and the
/// V4L2 camera. When either cannot start, the face method is withdrawn (the
/// other methods serve everyone) and the reason is logged.
/// QR scanning on the device: through the face actor when it owns the
/// camera (it alternates between face checks and scans), else a QR actor
/// on the camera alone; `None` without a camera (typed numbers still work,
/// the e-ID needs the camera).
fn start_qr(
    config: &Config,
    face: Option<&crate::runtime::face::FaceActor>,
) -> Option<DeviceHandle<crate::runtime::qr::QrCmd>> {
    use crate::runtime::face::FaceCmd;
    use crate::runtime::qr::QrCmd;
    if let Some(face) = face {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<QrCmd>(8);
        let to_face = face.handle.commands.clone();
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let on = cmd == QrCmd::Start;
                if to_face.send(FaceCmd::ScanQr(on)).await.is_err() {
                    break;
                }
            }
        });
        // The face actor's own handle carries the events and the health.
        return Some(
            DeviceHandle::new(tx, face.handle.health.clone(), Arc::default())
                .with_frames(face.handle.frames.clone()),
        );
    }
    let camera_cfg = config.devices.camera.as_ref()?;
    match kiosk_drivers::camera::v4l2::V4l2Camera::open(camera_cfg) {
        Ok(camera) => Some(crate::runtime::qr::spawn_qr_actor(
            camera,
            config.face.liveness.mirrored,
        )),
        Err(e) => {
            tracing::error!("camera unavailable for QR scanning: {e}");
            None
        }
    }
}

fn start_face(
    config: &Config,
    flow: &mut crate::flow::FlowConfig,
) -> Option<crate::runtime::face::FaceActor> {
    use crate::model::IdentityMethod;
    if !flow.identity_methods.contains(&IdentityMethod::Face) {
        return None;
    }
    let started = (|| {
        let camera_cfg = config
            .devices
            .camera
            .as_ref()
            .ok_or("no [devices.camera] configured")?;
        let camera =
            kiosk_drivers::camera::v4l2::V4l2Camera::open(camera_cfg).map_err(|e| e.to_string())?;
        let engine = crate::face::engine::FaceEngine::spawn(config.face.clone())
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(crate::runtime::face::spawn_face_actor(
            camera,
            engine,
            usize::from(config.face.liveness.actions),
            config.face.liveness.mirrored,
        ))
    })();
    match started {
        Ok(actor) => Some(actor),
        Err(why) => {
            tracing::error!("face check unavailable, offering the other methods: {why}");
            flow.identity_methods.retain(|m| *m != IdentityMethod::Face);
            None
        }
    }
}

/// The GPIO actor when `[gpio]` names any line. The kiosk runs on without
/// it when the GPIO block cannot be opened; the tamper health says why.
fn start_gpio(
    config: &Config,
    kiosk: &Started,
    reader: &DeviceHandle<ReaderCmd>,
    printer: &DeviceHandle<PrinterCmd>,
    tamper: watch::Sender<Health>,
) -> Option<crate::runtime::gpio::GpioActor> {
    use crate::runtime::gpio;
    if !config.gpio.any() {
        return None;
    }
    let inputs = gpio::GpioInputs {
        screen: kiosk.screen.clone(),
        sync: kiosk.sync_status.clone(),
        devices: vec![reader.health.clone(), printer.health.clone()],
    };
    let started = gpio::open_bank(&config.gpio)
        .and_then(|bank| gpio::spawn(config.gpio.clone(), bank, inputs, tamper.clone()));
    match started {
        Ok(actor) => Some(actor),
        Err(e) => {
            tracing::error!("GPIO unavailable, running without it: {e}");
            tamper.send_replace(Health::Fault(format!("GPIO unavailable: {e}")));
            None
        }
    }
}

/// `GET /status` with the token, as a central server would poll it.
pub async fn fetch_status(addr: SocketAddr, token: &str) -> Result<String, reqwest::Error> {
    fetch(addr, "/status", token).await
}

/// `GET path` (`/status`, `/metrics`) with the token, the body back.
pub async fn fetch(addr: SocketAddr, path: &str, token: &str) -> Result<String, reqwest::Error> {
    reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

/// What a running kiosk is made of, besides its devices.
pub struct Parts {
    /// Flow parameters.
    pub flow: crate::flow::FlowConfig,
    /// The store.
    pub store: Arc<Store>,
    /// The central client.
    pub central: Arc<CentralClient>,
    /// Device id.
    pub device_id: String,
    /// Receipt texts.
    pub receipt: crate::config::ReceiptConfig,
    /// How long acceptance waits for central.
    pub immediate_sync: Duration,
    /// Sync retry delays.
    pub backoff: Backoff,
    /// Transcript file, if one is kept.
    pub transcript: Option<std::path::PathBuf>,
    /// Status endpoint address.
    pub status_addr: SocketAddr,
    /// Status endpoint token.
    pub status_token: Option<String>,
    /// Status endpoint rate limit.
    pub status_rate_limit: Option<crate::status::RateLimit>,
    /// Status endpoint over TLS (with client certificates when configured).
    pub status_tls: Option<tokio_rustls::TlsAcceptor>,
    /// The face models' self-test at start (`None`: no face check here).
    pub face_self_test_ok: Option<bool>,
    /// The QR actor (e-ID and receipt scanning), if this kiosk has a camera for it.
    pub qr: Option<DeviceHandle<crate::runtime::qr::QrCmd>>,
    /// How bill payments are watched.
    pub payment: crate::runtime::PaymentTiming,
    /// Days a synced order keeps its personal fields (0: forever).
    pub retention_days: u32,
    /// Provisioning refused the config left on the boot partition, and why
    /// (an alarm from the first `/status` answer on).
    pub drop_refused: Option<String>,
    /// Release, slots and updates for `/status` (`None`: not reported).
    pub system: Option<watch::Receiver<crate::update::SystemReport>>,
    /// The kiosk's certificate for `/status` (`None`: not enrolled here).
    pub identity: Option<watch::Receiver<crate::enroll::IdentityReport>>,
    /// Whether the system clock is synchronised (orders, `/status`).
    pub clock: Arc<dyn crate::clock::ClockSync>,
}

/// A running kiosk: the runner, the sync task and the status endpoint.
pub struct Started {
    /// Where the touchscreen (or a scripted citizen) sends events.
    pub events: mpsc::Sender<crate::flow::Event>,
    /// What the screen shows.
    pub screen: watch::Receiver<Screen>,
    /// Every state entered, for the touchscreen and its screenshots.
    pub states: crate::gui::feed::StateFeed,
    /// Wakes the sync task.
    pub sync_wake: Arc<Notify>,
    /// The status endpoint's address.
    pub status_addr: SocketAddr,
    /// The sync task's last result.
    pub sync_status: watch::Receiver<SyncStatus>,
    /// The runner's counters (also what `/status` reads).
    pub counters: Arc<Counters>,
    shutdown: watch::Sender<bool>,
    runner: tokio::task::JoinHandle<Result<(), crate::runtime::RunError>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Started {
    /// Stops the runner, the sync task and the status endpoint, and waits for them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Ok(Err(e)) = self.runner.await {
            tracing::warn!("runner stopped: {e}");
        }
        let _ = self.sync.await;
    }
}

/// Starts the runner, the sync task and the status endpoint around devices
/// already spawned, and connects the devices to the runner.
pub async fn start(
    parts: Parts,
    reader: &DeviceHandle<ReaderCmd>,
    printer: &DeviceHandle<PrinterCmd>,
    face: Option<&DeviceHandle<crate::runtime::face::FaceCmd>>,
) -> std::io::Result<Started> {
    start_with(parts, reader, printer, face, Vec::new()).await
}

/// [`start`] with more health sources in the status snapshot (the tamper switch).
pub async fn start_with(
    parts: Parts,
    reader: &DeviceHandle<ReaderCmd>,
    printer: &DeviceHandle<PrinterCmd>,
    face: Option<&DeviceHandle<crate::runtime::face::FaceCmd>>,
    extra_devices: Vec<(String, watch::Receiver<Health>)>,
) -> std::io::Result<Started> {
    let sync_wake = Arc::new(Notify::new());
    let unsalted_pin =
        parts.flow.staff_pin_sha256.is_some() && parts.flow.staff_pin_argon2.is_none();
    let runner = Runner::new(Services {
        flow: Flow::new(parts.flow),
        store: parts.store.clone(),
        central: parts.central.clone(),
        device_id: parts.device_id.clone(),
        receipt: parts.receipt,
        immediate_sync: parts.immediate_sync,
        sync_wake: sync_wake.clone(),
        reader: reader.commands.clone(),
        printer: printer.commands.clone(),
        face: face.map(|f| f.commands.clone()),
        qr: parts.qr.as_ref().map(|q| q.commands.clone()),
        payment: parts.payment,
        transcript: parts.transcript,
        clock: parts.clock.clone(),
    });
    reader.connect(runner.events());
    printer.connect(runner.events());
    if let Some(f) = face {
        f.connect(runner.events());
    }
    if let Some(q) = &parts.qr {
        q.connect(runner.events());
    }
    let mut devices = vec![
        ("card_reader".to_string(), reader.health.clone()),
        ("printer".to_string(), printer.health.clone()),
    ];
    let mut frames = Vec::new();
    if let Some(f) = face {
        devices.push(("camera".to_string(), f.health.clone()));
        frames.push(("camera".to_string(), f.frames.clone()));
    }
    if let Some(q) = &parts.qr {
        // Through the face actor it is the same camera: counted once.
        if !frames.iter().any(|(_, c)| Arc::ptr_eq(c, &q.frames)) {
            devices.push(("qr_camera".to_string(), q.health.clone()));
            frames.push(("qr_camera".to_string(), q.frames.clone()));
        }
    }
    devices.extend(extra_devices);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (sync_tx, sync_rx) = watch::channel(SyncStatus::default());
    if unsalted_pin {
        tracing::warn!("{STAFF_PIN_UNSALTED_ALARM}");
        runner
            .counters()
            .staff_pin_unsalted
            .store(true, Ordering::Relaxed);
    }
    if let Some(why) = &parts.drop_refused {
        tracing::warn!("the kiosk.toml on the boot partition was refused: {why}");
        let _ = runner.counters().drop_refused.set(why.clone());
    }
    let status = spawn_status(
        parts.status_addr,
        parts.status_token,
        parts.status_rate_limit,
        parts.status_tls,
        StatusSources {
            store: parts.store.clone(),
            sync: sync_rx,
            screen: runner.screen(),
            counters: runner.counters(),
            devices,
            face_self_test_ok: parts.face_self_test_ok,
            frames,
            central: Some(parts.central.clone()),
            system: parts.system,
            identity: parts.identity,
            clock: parts.clock,
        },
        shutdown_rx.clone(),
    )
    .await?;
    tokio::spawn(crate::runtime::retention::run(
        parts.store.clone(),
        parts.retention_days,
        shutdown_rx.clone(),
    ));
    let sync_status = sync_tx.subscribe();
    let sync = tokio::spawn(sync::run(
        parts.store,
        parts.central,
        parts.device_id,
        parts.backoff,
        sync_wake.clone(),
        sync_tx,
        shutdown_rx.clone(),
    ));
    let events = runner.events();
    let screen = runner.screen();
    let states = runner.state_feed();
    let counters = runner.counters();
    let mut stop = shutdown_rx;
    let runner = tokio::spawn(runner.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(Started {
        events,
        screen,
        states,
        sync_wake,
        status_addr: status.addr,
        sync_status,
        counters,
        shutdown,
        runner,
        sync,
    })
}

/// Why `kiosk run` stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Config problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A config that cannot serve citizens (a twin, the simulator, clear
    /// text, an open status endpoint).
    #[error(transparent)]
    Refused(#[from] crate::config::Refusal),
    /// A part failed to start.
    #[error("cannot start {what}: {detail}")]
    Start {
        /// Which part.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

fn start_err(what: &'static str) -> impl FnOnce(String) -> AppError {
    move |detail| AppError::Start { what, detail }
}

/// How the status endpoint knows its clients.
pub struct StatusSecurity {
    /// The bearer token it asks for, if any.
    pub token: Option<String>,
    /// Its TLS, if any.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The certificate it serves when enrolled (renewal replaces it).
    pub served: Option<Arc<crate::status_tls::ServedCert>>,
}

/// The status endpoint's security: enrolled, its own certificate and
/// only clients whose certificate the fleet CA signed (the scraper), so
/// no token; otherwise `[status.tls]` if configured, and the token.
pub fn status_security(
    config: &Config,
    identity: Option<&crate::enroll::Identity>,
    token: Option<String>,
) -> Result<StatusSecurity, crate::status_tls::TlsSetupError> {
    Ok(match identity {
        Some(id) => {
            let served = crate::status_tls::ServedCert::from_pem(
                id.certificate_pem.as_bytes(),
                id.key_pem().as_bytes(),
            )?;
            let acceptor = crate::status_tls::acceptor_with(
                served.clone(),
                Some(id.fleet_ca_pem.as_bytes()),
                crate::status_tls::ClientAuth::Required,
            )?;
            StatusSecurity {
                token: None,
                tls: Some(acceptor),
                served: Some(served),
            }
        }
        None => StatusSecurity {
            tls: match &config.status.tls {
                Some(tls) => Some(crate::status_tls::acceptor(tls)?),
                None => None,
            },
            token,
            served: None,
        },
    })
}

/// How `kiosk run` (and `kiosk enroll`) reach central: the config's URL,
/// token, time limit, body limit and pinned CA.
pub fn central_client_config(config: &Config) -> ClientConfig {
    let mut cc = ClientConfig::new(config.central.url.clone());
    cc.token = config.central.token.clone();
    cc.timeout = Duration::from_millis(config.central.timeout_ms);
    cc.max_response_bytes = config.central.max_response_bytes;
    cc.ca_cert_pem = config.central.ca_cert.clone();
    cc
}

/// `kiosk run`: the kiosk on the devices and central service the config names,
/// until `shutdown` resolves.
pub async fn run(
    config: Config,
    status_addr: Option<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send,
    touchscreen: Option<crate::gui::window::Touchscreen>,
) -> Result<(), AppError> {
    config.validate()?;
    config.check_deployable()?;
    let token = config.status_token()?;
    // Enrolled: central and the fleet's scraper know this kiosk by its
    // certificate, and no token is sent or asked for. A damaged identity
    // is an alarm, and the kiosk falls back to its tokens if it has them.
    let (identity, identity_damaged) = match crate::enroll::Identity::load(&config.data_dir) {
        Ok(id) => (id, None),
        Err(e) => {
            tracing::warn!("{e}");
            // Without the identity, only a token or client certificates
            // may guard `/status`: never serve it open.
            let mutual_tls = config
                .status
                .tls
                .as_ref()
                .is_some_and(|t| t.client_ca.is_some());
            if token.is_none() && !mutual_tls {
                return Err(start_err("the kiosk's identity")(e.to_string()));
            }
            (None, Some(e.to_string()))
        }
    };
    let store =
        Arc::new(Store::open(&config.data_dir).map_err(|e| start_err("the store")(e.to_string()))?);
    // From enrollment on, the audit chain is keyed with central's key.
    store.set_audit_key(identity.as_ref().and_then(|i| i.audit_key()));

    let mut cc = central_client_config(&config);
    if let Some(id) = &identity {
        cc.identity_pem = Some(id.client_pem());
        cc.token = None;
    }
    let central = Arc::new(
        CentralClient::new(cc).map_err(|e| start_err("the central client")(e.to_string()))?,
    );

    let mut flow_cfg = config.flow.clone();
    if let Ok(catalog) = central.catalog().await {
        flow_cfg.set_capacity(catalog.policy);
        if let Some(contract) = catalog.contract {
            flow_cfg.contract = contract;
        }
    }

    let reader = devices::spawn_reader(&config.devices.card_reader)
        .await
        .map_err(|e| start_err("the card reader")(e.to_string()))?;
    let printer = devices::spawn_printer(&config.devices.printer)
        .await
        .map_err(|e| start_err("the printer")(e.to_string()))?;

    let face_configured = flow_cfg
        .identity_methods
        .contains(&crate::model::IdentityMethod::Face);
    let face = start_face(&config, &mut flow_cfg);
    let face_self_test_ok = face_configured.then_some(face.is_some());
    let qr = start_qr(&config, face.as_ref());
    let StatusSecurity {
        token: token_status,
        tls: status_tls,
        served,
    } = status_security(&config, identity.as_ref(), token)
        .map_err(|e| start_err("the status endpoint's TLS")(e.to_string()))?;
    let mut identity_report = crate::enroll::IdentityReport::of(identity.as_ref());
    identity_report.damaged = identity_damaged;
    if identity.is_none() {
        identity_report.enroll_refused =
            std::fs::read_to_string(config.data_dir.join(crate::enroll::REFUSED_FILE))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
    }
    let (identity_tx, identity_rx) = watch::channel(identity_report);
    let (tamper_tx, tamper_rx) = watch::channel(Health::Unknown);
    let extra = match config.gpio.tamper {
        Some(_) => vec![("tamper".to_string(), tamper_rx)],
        None => Vec::new(),
    };
    let kiosk_flow_config = flow_cfg.clone();
    let update_central = central.clone();
    let renewal_central = central.clone();
    let (system_tx, system_rx) = watch::channel(crate::update::SystemReport::read(
        &config.update,
        &config.data_dir,
    ));
    let kiosk = start_with(
        Parts {
            flow: flow_cfg,
            store,
            central,
            device_id: config.device_id.clone(),
            receipt: config.receipt.clone(),
            immediate_sync: Duration::from_millis(config.sync.immediate_timeout_ms),
            backoff: Backoff {
                base: Duration::from_millis(config.sync.backoff_base_ms),
                max: Duration::from_secs(config.sync.backoff_max_secs),
            },
            transcript: None,
            status_addr: status_addr.unwrap_or(config.status.addr),
            status_token: token_status,
            status_rate_limit: config.status.rate_limit,
            status_tls,
            face_self_test_ok,
            qr,
            payment: crate::runtime::PaymentTiming::default(),
            retention_days: config.sync.retention_days,
            // Provisioning's verdict on a config left on the boot partition.
            drop_refused: crate::config_drop::refusal(&config.data_dir),
            system: Some(system_rx),
            identity: Some(identity_rx),
            clock: config.clock.source(),
        },
        &reader,
        &printer,
        face.as_ref().map(|f| &f.handle),
        extra,
    )
    .await
    .map_err(|e| start_err("the status endpoint")(e.to_string()))?;
    let gpio = start_gpio(&config, &kiosk, &reader, &printer, tamper_tx);
    if let Some(id) = identity {
        let renewal = crate::enroll::Renewal {
            central: renewal_central,
            data_dir: config.data_dir.clone(),
            status_address: config.identity.status_address.clone(),
            served,
            every: Duration::from_secs(config.identity.renew_check_secs),
            report: identity_tx,
        };
        tokio::spawn(renewal.run(id, kiosk.shutdown.subscribe()));
    }
    if config.update.enabled {
        let screen = kiosk.screen.clone();
        let task = crate::update::task::UpdateTask {
            config: config.update.clone(),
            data_dir: config.data_dir.clone(),
            device_id: config.device_id.clone(),
            central: update_central,
            idle: Arc::new(move || screen.borrow().phase == "attract"),
            zone: kiosk_flow_config.time_zone,
            report: system_tx,
        };
        tokio::spawn(task.run(kiosk.shutdown.subscribe()));
    }
    info!(addr = %kiosk.status_addr, "status endpoint listening");
    if let Some(screen) = touchscreen {
        let _shown = screen.attach(
            kiosk.events.clone(),
            kiosk.states.subscribe(),
            crate::gui::view::ViewContext {
                flow: kiosk_flow_config,
                progress_url: config.receipt.progress_url.clone(),
            },
            face.as_ref().map(crate::gui::window::FaceFeed::of),
            Some(crate::gui::window::TechLink {
                update: config.update.clone(),
                data_dir: config.data_dir.clone(),
            }),
        );
    }
    // Under systemd (Type=notify): ready now, then watchdog pings.
    let watchdog = crate::notify::Notifier::from_env().and_then(|n| n.ready_and_watchdog());
    shutdown.await;
    if let Some(w) = watchdog {
        w.abort();
    }
    if let Some(g) = gpio {
        g.task.abort();
    }
    info!("shutting down");
    kiosk.stop().await;
    Ok(())
}
