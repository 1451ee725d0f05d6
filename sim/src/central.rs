//! `kiosk_sim::central`: an implementation of the central API, in-process
//! for the demo and tests, and standalone as `kiosk-central-sim`.
//!
//! The demo and the tests run the kiosk against this simulator instead of
//! the real service. It serves the same `/v1` routes as
//! `docs/api/central.yaml` from seeded, synthetic data:
//!
//! | citizen | ID number | what is on record |
//! |---|---|---|
//! | 张伟 | 330106199001010026 | property 浙江省杭州市西湖区文三路100号, account 3300012345 |
//! | 李娜 | 330106198503121231 | **no property record** (property proof always missing) |
//! | 王芳 | 440305197011204562 | property 浙江省杭州市余杭区创业路8号 in the micro-enterprise park 杭州余杭小微企业园, account 3300012346 |
//! | 赵强 | 110101195805050073 | property 北京市东城区东华门大街1号, account 3300012347 |
//! | 周建华 | 320502196507150019 | account 3300012348 at 江苏省苏州市姑苏区人民路88号 (sold to 陈静) |
//! | 孙丽 | 330105197803220046 | property 浙江省杭州市拱墅区湖墅南路66号; a **pushed** real-estate joint transfer of account 3300012349 (钱进) |
//! | 陈静 | 320502199211118881 | property 江苏省苏州市姑苏区人民路88号 |
//!
//! (赵强 also has a pushed order: a project approval's proactive supply
//! plan), plus citizens generated from the seed up to 25, and two companies
//! (credit codes [`COMPANY_WENSAN`], [`COMPANY_PARK`], valid per GB 32100).
//! Accounts carry their holder's ID number (`holder_matches` in answers),
//! amount due and contracted capacity. An e-ID QR payload is
//! [`eid_payload`] of a known ID number (signed, expiring). Reference photos are a placeholder
//! (JPEG markers around a seeded byte pattern, not a decodable image) unless
//! a test installs a real face with [`SimControl::set_reference_photo`].
//!
//! [`SimControl`] lets tests and the demo inject faults ([`Mode`]) and see
//! what arrived: the orders stored (one per idempotency key) and how many
//! POSTs each key took. The simulator logs order numbers and keys only,
//! never personal data.
//!
//! Use [`router`] with `tower::ServiceExt::oneshot` when no socket is needed,
//! or [`SimCentral::start`] for a real loopback server.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use kiosk_drivers::pii::{gb11643_check_char, IdNumber, Personal};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use kiosk::central::{
    Account, AccountQuery, ApiErrorBody, AssistanceAccepted, AssistanceRequest, Business,
    CapacityPolicy, Catalog, Certificate, CertificateKind, CertificatesRequest,
    CertificatesResponse, ContractText, EidIdentity, EidRequest, Invoice, Notice, OrderAccepted,
    OrderProgress, OrderStep, OrderSubmission, Payment, PaymentRequest, PaymentState, PushedOrder,
    PushedOrders, PushedQuery, RatingAccepted, RatingSubmission, ReferencePhoto, ReferenceRequest,
    StepState,
};

/// Credit code of 杭州文三电子有限公司 (property at 文三路200号).
pub const COMPANY_WENSAN: &str = "91330106MA27XY123U";
/// Credit code of 杭州余杭创智科技有限公司 (inside the micro-enterprise park).
pub const COMPANY_PARK: &str = "91330110MA2H8K5P3Q";
/// Name of the seeded micro-enterprise park.
pub const MICRO_PARK: &str = "杭州余杭小微企业园";

/// A valid e-ID QR payload for an ID number, good for ten minutes.
pub fn eid_payload(id_number: &str) -> String {
    eid_payload_until(id_number, Utc::now() + chrono::Duration::minutes(10))
}

/// The e-ID QR payload for an ID number expiring at `expires`:
/// `SIM-EID2.<number>.<unix seconds>.<mac>`, the MAC a truncated SHA-256
/// keyed with the simulator's issuer secret. Change any part and central
/// refuses it as forged; let it expire and central says so.
pub fn eid_payload_until(id_number: &str, expires: DateTime<Utc>) -> String {
    let ts = expires.timestamp();
    format!("SIM-EID2.{id_number}.{ts}.{}", eid_mac(id_number, ts))
}

fn eid_mac(id_number: &str, ts: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"sim-eid-issuer-secret-v2");
    h.update(id_number.as_bytes());
    h.update(ts.to_be_bytes());
    hex::encode(&h.finalize()[..8])
}

/// How the simulator answers, set through [`SimControl::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answers as documented.
    #[default]
    Normal,
    /// Every request gets 503 (nothing is stored).
    Unavailable,
    /// Every request gets 200 with an HTML body.
    Garbage,
    /// Every request is answered normally after this delay.
    Slow(Duration),
    /// New connections are closed before a request is read (and a request
    /// through [`router`] gets a body that fails mid-stream).
    DropConnection,
    /// Every request gets 200 with a streamed body of this many bytes and
    /// no `Content-Length`.
    Oversized(usize),
    /// A broken central: every `POST /v1/orders` stores a new order, even
    /// a replay of a key already stored (what `kiosk central check` must
    /// catch).
    IgnoreIdempotency,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the loopback port failed.
    #[error("cannot bind the central simulator on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    /// The state folder could not be read or created.
    #[error("central simulator state {0}: {1}")]
    State(std::path::PathBuf, String),
    /// The fleet CA could not be made or could not sign.
    #[error("central simulator's fleet CA: {0}")]
    Fleet(String),
}

/// A synthetic citizen known to the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCitizen {
    /// Name.
    pub name: Personal,
    /// A valid GB 11643 number.
    pub id_number: IdNumber,
    /// Registered property addresses (may be empty).
    pub property_addresses: Vec<Personal>,
}

#[derive(Debug, Clone)]
struct Property {
    address: String,
    cert_no: String,
    micro_park: Option<String>,
}

#[derive(Debug, Clone)]
struct Citizen {
    name: String,
    id_number: String,
    properties: Vec<Property>,
}

#[derive(Debug, Clone)]
struct Company {
    credit_code: String,
    licence_no: String,
    properties: Vec<Property>,
}

#[derive(Debug, Clone)]
struct SimAccount {
    no: String,
    holder: String,
    holder_id: String,
    address: String,
    amount_due_fen: i64,
    contracted_kw: f64,
}

impl SimAccount {
    fn view(&self, holder: Option<&str>) -> Account {
        Account {
            account_no: self.no.clone(),
            holder_masked: Personal::new(self.holder.clone()).masked_name(),
            address: Personal::new(self.address.clone()),
            amount_due_fen: self.amount_due_fen,
            contracted_kw: self.contracted_kw,
            holder_matches: holder.map(|h| h == self.holder_id),
        }
    }
}

#[derive(Debug, Clone)]
struct SimPushed {
    for_id: String,
    order: PushedOrder,
    confirmed: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StoredOrder {
    key: String,
    order_no: String,
    business: Business,
    accepted_at: DateTime<Utc>,
    steps: Vec<OrderStep>,
    /// Central's receipt time (a state file from before it: the acceptance).
    #[serde(default)]
    received_at: Option<DateTime<Utc>>,
    /// The kiosk said its clock was not synchronised.
    #[serde(default)]
    time_unverified: bool,
}

impl StoredOrder {
    fn accepted(&self) -> OrderAccepted {
        OrderAccepted {
            order_no: self.order_no.clone(),
            received_at: Some(self.received_at.unwrap_or(self.accepted_at)),
        }
    }
}

#[derive(Debug, Default)]
struct Data {
    seed: u64,
    mode: Mode,
    token: Option<String>,
    citizens: Vec<Citizen>,
    companies: Vec<Company>,
    accounts: Vec<SimAccount>,
    photos: HashMap<String, Vec<u8>>,
    orders: Vec<StoredOrder>,
    submissions: HashMap<String, usize>,
    ratings: Vec<(String, RatingSubmission, String)>,
    payments: Vec<Payment>,
    order_seq: u32,
    pushed: Vec<SimPushed>,
    assistance: Vec<AssistanceRequest>,
    /// Where the standalone simulator keeps what it received
    /// (`state.json`), so orders survive its restart.
    state_dir: Option<std::path::PathBuf>,
    /// The update offered (`PUT /sim/update`).
    update: Option<crate::updates::SimUpdate>,
    /// Bundle requests answered.
    downloads: Vec<crate::updates::DownloadSeen>,
    /// Enrollment codes and enrolled kiosks.
    fleet: crate::fleet::Fleet,
    /// The fleet CA (made on first use without a state folder).
    fleet_ca: Option<Arc<crate::fleet::FleetCa>>,
    /// Lifetime of the device certificates it signs (90 days by default).
    cert_lifetime: Option<std::time::Duration>,
}

/// What the standalone simulator keeps on disk: what it received, not the
/// seeded data (the same seed makes the same citizens again).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Persisted {
    orders: Vec<StoredOrder>,
    submissions: HashMap<String, usize>,
    ratings: Vec<(String, RatingSubmission, String)>,
    order_seq: u32,
    token: Option<String>,
    #[serde(default)]
    fleet: crate::fleet::Fleet,
}

const STATE_FILE: &str = "state.json";

impl Data {
    fn citizen(&self, id_number: &str) -> Option<&Citizen> {
        self.citizens.iter().find(|c| c.id_number == id_number)
    }

    fn order_by_key(&self, key: &str) -> Option<&StoredOrder> {
        self.orders.iter().find(|o| o.key == key)
    }

    /// The fleet CA's certificate for `device_id`'s request, valid for
    /// the configured lifetime: enrollment's and renewal's answer.
    fn sign_device(
        &mut self,
        csr_pem: &str,
        device_id: &str,
    ) -> Reply<kiosk::central::DeviceCertificate> {
        let ca = self.fleet_ca().map_err(|_| internal())?;
        let lifetime = self.cert_lifetime.unwrap_or(DEFAULT_CERT_LIFETIME);
        let (certificate_pem, not_after) = ca
            .sign_device(csr_pem, device_id, lifetime)
            .map_err(|m| ApiError::invalid("invalid-csr", &m))?;
        Ok(kiosk::central::DeviceCertificate {
            device_id: device_id.to_owned(),
            certificate_pem,
            fleet_ca_pem: ca.pem().to_owned(),
            not_after,
            audit_key: None,
        })
    }

    fn fleet_ca(&mut self) -> Result<Arc<crate::fleet::FleetCa>, SimError> {
        if let Some(ca) = &self.fleet_ca {
            return Ok(ca.clone());
        }
        let ca = Arc::new(
            match &self.state_dir {
                Some(dir) => crate::fleet::FleetCa::load_or_create(dir),
                None => crate::fleet::FleetCa::generate(),
            }
            .map_err(SimError::Fleet)?,
        );
        self.fleet_ca = Some(ca.clone());
        Ok(ca)
    }
}

/// The simulator's state, shared by its handlers and its [`SimControl`].
#[derive(Debug, Clone)]
pub struct SimState {
    data: Arc<Mutex<Data>>,
}

impl SimState {
    /// Seeded synthetic data, [`Mode::Normal`], no token required.
    pub fn new(seed: u64) -> Self {
        Self {
            data: Arc::new(Mutex::new(seed_data(seed))),
        }
    }

    /// Seeded synthetic data, plus what an earlier run with the same
    /// `dir` received (orders, submission counts, ratings, the required
    /// token); everything received from now on is written back to
    /// `dir/state.json` (a temp file, fsync, rename) before it is answered.
    pub fn with_state_dir(seed: u64, dir: &std::path::Path) -> Result<Self, SimError> {
        std::fs::create_dir_all(dir).map_err(|e| SimError::State(dir.to_owned(), e.to_string()))?;
        let mut data = seed_data(seed);
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(raw) => {
                let kept: Persisted = serde_json::from_slice(&raw)
                    .map_err(|e| SimError::State(path.clone(), e.to_string()))?;
                data.orders = kept.orders;
                data.submissions = kept.submissions;
                data.ratings = kept.ratings;
                data.order_seq = kept.order_seq.max(data.order_seq);
                data.token = kept.token;
                data.fleet = kept.fleet;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SimError::State(path, e.to_string())),
        }
        data.state_dir = Some(dir.to_owned());
        data.fleet_ca()?;
        Ok(Self {
            data: Arc::new(Mutex::new(data)),
        })
    }

    /// A handle to inspect and steer this state.
    pub fn control(&self) -> SimControl {
        SimControl {
            data: Arc::clone(&self.data),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }
}

/// Locks the data; a handler that panicked mid-update leaves data that is
/// still consistent enough for a simulator, so poisoning is ignored.
fn lock(data: &Mutex<Data>) -> MutexGuard<'_, Data> {
    data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes what the simulator received to its state folder, if it has one.
/// A failure is logged: the simulator keeps answering from memory.
fn persist(data: &Data) {
    let Some(dir) = &data.state_dir else {
        return;
    };
    let kept = Persisted {
        orders: data.orders.clone(),
        submissions: data.submissions.clone(),
        ratings: data.ratings.clone(),
        order_seq: data.order_seq,
        token: data.token.clone(),
        fleet: data.fleet.clone(),
    };
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&kept).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(STATE_FILE))
    };
    if let Err(e) = write() {
        tracing::warn!(dir = %dir.display(), "central simulator: state not saved: {e}");
    }
}

/// One idempotency key as the simulator saw it ([`SimControl::submissions`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Submissions {
    /// The `Idempotency-Key`.
    pub key: String,
    /// How many `POST /v1/orders` carried it.
    pub count: usize,
    /// The order number stored under it (none if every POST failed).
    pub order_no: Option<String>,
    /// The kiosk said its clock was not synchronised when it accepted it.
    #[serde(default)]
    pub time_unverified: bool,
    /// Central's receipt time.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// Steers a running simulator and reports what it received. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SimControl {
    data: Arc<Mutex<Data>>,
}

impl SimControl {
    /// Sets how the simulator answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        lock(&self.data).mode = mode;
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        lock(&self.data).mode
    }

    /// Requires `Authorization: Bearer <token>` (or nothing with `None`).
    pub fn require_token(&self, token: Option<String>) {
        let mut data = lock(&self.data);
        data.token = token;
        persist(&data);
    }

    /// Every idempotency key `POST /v1/orders` was called with: how many
    /// times, and the order number it stored (if any). Two keys with one
    /// number each are two orders; one key counted twice is a replay.
    pub fn submissions(&self) -> Vec<Submissions> {
        let data = lock(&self.data);
        let mut all: Vec<Submissions> = data
            .submissions
            .iter()
            .map(|(key, n)| {
                let stored = data.order_by_key(key);
                Submissions {
                    key: key.clone(),
                    count: *n,
                    order_no: stored.map(|o| o.order_no.clone()),
                    time_unverified: stored.is_some_and(|o| o.time_unverified),
                    received_at: stored.and_then(|o| o.received_at),
                }
            })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// Orders stored, in arrival order: `(idempotency key, order number)`.
    pub fn orders_received(&self) -> Vec<(String, String)> {
        lock(&self.data)
            .orders
            .iter()
            .map(|o| (o.key.clone(), o.order_no.clone()))
            .collect()
    }

    /// How many `POST /v1/orders` arrived with this key (in any mode except
    /// a dropped connection), whether or not they stored anything.
    pub fn submissions_count(&self, key: &str) -> usize {
        lock(&self.data).submissions.get(key).copied().unwrap_or(0)
    }

    /// Ratings stored: `(idempotency key, rating)`.
    pub fn ratings(&self) -> Vec<(String, RatingSubmission)> {
        lock(&self.data)
            .ratings
            .iter()
            .map(|(k, r, _)| (k.clone(), r.clone()))
            .collect()
    }

    /// The seeded citizens (the five fixed ones first).
    pub fn citizens(&self) -> Vec<SimCitizen> {
        lock(&self.data)
            .citizens
            .iter()
            .map(|c| SimCitizen {
                name: Personal::new(c.name.clone()),
                id_number: IdNumber::unchecked(&c.id_number),
                property_addresses: c
                    .properties
                    .iter()
                    .map(|p| Personal::new(p.address.clone()))
                    .collect(),
            })
            .collect()
    }

    /// Assistance requests received, in order.
    pub fn assistance_requests(&self) -> Vec<AssistanceRequest> {
        lock(&self.data).assistance.clone()
    }

    /// Pushed orders confirmed by an order submitted from a kiosk.
    pub fn pushed_confirmed(&self) -> Vec<String> {
        lock(&self.data)
            .pushed
            .iter()
            .filter(|p| p.confirmed)
            .map(|p| p.order.id.clone())
            .collect()
    }

    /// The payments issued, in order (the scripted phone pays with these).
    pub fn payments(&self) -> Vec<Payment> {
        lock(&self.data).payments.clone()
    }

    /// Adds a one-time enrollment code.
    pub fn add_enrollment_code(&self, code: &str) {
        let mut data = lock(&self.data);
        data.fleet.codes.insert(code.to_owned());
        persist(&data);
    }

    /// Revokes a kiosk: central refuses its certificate from now on and
    /// leaves it out of the scrape targets. False for an unknown kiosk.
    pub fn revoke(&self, device_id: &str) -> bool {
        let mut data = lock(&self.data);
        let known = match data.fleet.devices.get_mut(device_id) {
            Some(d) => {
                d.revoked = true;
                true
            }
            None => false,
        };
        persist(&data);
        known
    }

    /// The enrollment codes left and the enrolled kiosks.
    pub fn fleet(&self) -> crate::fleet::Fleet {
        lock(&self.data).fleet.clone()
    }

    /// Lifetime of the certificates signed from now on.
    pub fn set_certificate_lifetime(&self, lifetime: std::time::Duration) {
        lock(&self.data).cert_lifetime = Some(lifetime);
    }

    /// The fleet CA certificate, PEM.
    pub fn fleet_ca_pem(&self) -> Result<String, SimError> {
        Ok(lock(&self.data).fleet_ca()?.pem().to_owned())
    }

    /// A certificate and key (PEM) for the fleet's scraper, signed by the
    /// fleet CA.
    pub fn issue_scraper_certificate(&self) -> Result<(String, String), SimError> {
        let ca = lock(&self.data).fleet_ca()?;
        ca.issue_client(&format!("{}-1", crate::fleet::SCRAPER_PREFIX))
            .map_err(SimError::Fleet)
    }

    /// Installs the reference photo (JPEG bytes) returned for an ID number.
    pub fn set_reference_photo(&self, id_number: &str, jpeg: Vec<u8>) {
        lock(&self.data).photos.insert(id_number.to_string(), jpeg);
    }

    /// Finishes the next pending step of an order (the in-progress one, and
    /// starts the one after). Returns false for an unknown order or one with
    /// every step done.
    pub fn advance_order(&self, order_no: &str) -> bool {
        let mut data = lock(&self.data);
        let Some(order) = data.orders.iter_mut().find(|o| o.order_no == order_no) else {
            return false;
        };
        advance_steps(&mut order.steps, Utc::now())
    }

    /// Marks a payment paid, issues its invoice and lowers the account's
    /// amount due. Returns false for an unknown or already settled payment.
    pub fn settle_payment(&self, payment_id: &str) -> bool {
        let mut data = lock(&self.data);
        let Some(payment) = data
            .payments
            .iter_mut()
            .find(|p| p.payment_id == payment_id && p.state == PaymentState::Pending)
        else {
            return false;
        };
        payment.state = PaymentState::Paid;
        let (account_no, amount) = (payment.account_no.clone(), payment.amount_fen);
        payment.invoice = Some(Invoice {
            invoice_no: format!("INV{}", payment.payment_id.trim_start_matches("PAY")),
            amount_fen: amount,
            issued_at: Utc::now(),
            title: String::new(),
        });
        let title = data
            .accounts
            .iter_mut()
            .find(|a| a.no == account_no)
            .map(|a| {
                a.amount_due_fen = (a.amount_due_fen - amount).max(0);
                Personal::new(a.holder.clone()).masked_name()
            })
            .unwrap_or_default();
        if let Some(invoice) = data
            .payments
            .iter_mut()
            .find(|p| p.payment_id == payment_id)
            .and_then(|p| p.invoice.as_mut())
        {
            invoice.title = title;
        }
        true
    }
}

/// Finishes the in-progress step and starts the next one.
fn advance_steps(steps: &mut [OrderStep], now: DateTime<Utc>) -> bool {
    let Some(i) = steps.iter().position(|s| s.state != StepState::Done) else {
        return false;
    };
    let step = &mut steps[i];
    step.started_at.get_or_insert(now);
    step.finished_at = Some(now);
    step.state = StepState::Done;
    if let Some(next) = steps.get_mut(i + 1) {
        next.state = StepState::InProgress;
        next.started_at = Some(now);
    }
    true
}

/// The simulator as a loopback server.
#[derive(Debug)]
pub struct SimCentral;

impl SimCentral {
    /// Seeds a simulator and serves it on `127.0.0.1:0`.
    pub async fn start(seed: u64) -> Result<SimHandle, SimError> {
        Self::start_with(SimState::new(seed)).await
    }

    /// Serves an existing state on `127.0.0.1:0`.
    pub async fn start_with(state: SimState) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let control = state.control();
        let listener = DroppingListener {
            inner: listener,
            data: Arc::clone(&state.data),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(state);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender also means "stop".
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "central simulator stopped with an error");
            }
        });
        tracing::debug!(%addr, "central simulator listening");
        Ok(SimHandle {
            addr,
            control,
            shutdown: Some(tx),
            task: Some(task),
            tls: false,
        })
    }
}

impl SimCentral {
    /// Serves an existing state on `127.0.0.1:0` over TLS with
    /// `cert_pem`/`key_pem`, taking client certificates of the fleet CA
    /// (enrolled kiosks, the scraper) beside plain TLS clients, as
    /// `kiosk-central-sim --tls-cert` does. Its URL is `https://`.
    pub async fn start_tls(
        state: SimState,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let acceptor = tls_acceptor(&state, cert_pem, key_pem)?;
        let control = state.control();
        let (tx, rx) = oneshot::channel::<()>();
        let app = router_with_control(state);
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = rx.await;
            };
            if let Err(e) = kiosk::status_tls::serve_router(listener, acceptor, app, stopped).await
            {
                tracing::warn!(error = %e, "central simulator stopped with an error");
            }
        });
        Ok(SimHandle {
            addr,
            control,
            shutdown: Some(tx),
            task: Some(task),
            tls: true,
        })
    }
}

/// The simulator's TLS: its server certificate, and client certificates
/// checked against the fleet CA but not required (enrollment has none).
pub fn tls_acceptor(
    state: &SimState,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<tokio_rustls::TlsAcceptor, SimError> {
    let ca = state.control().fleet_ca_pem()?;
    let served = kiosk::status_tls::ServedCert::from_pem(cert_pem, key_pem)
        .map_err(|e| SimError::Fleet(e.to_string()))?;
    kiosk::status_tls::acceptor_with(
        served,
        Some(ca.as_bytes()),
        kiosk::status_tls::ClientAuth::Optional,
    )
    .map_err(|e| SimError::Fleet(e.to_string()))
}

/// A running loopback simulator. Dropping it stops the server too.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    /// Steers the simulator.
    pub control: SimControl,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    tls: bool,
}

impl SimHandle {
    /// Base URL of the simulator (`http://127.0.0.1:PORT`, `https://` from
    /// [`SimCentral::start_tls`]), to which the client appends `/v1/...`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open connections are answered first; a stuck one (Slow mode)
            // must not hang the caller.
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::debug!("central simulator did not stop in time");
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A TCP listener that closes new connections at once in
/// [`Mode::DropConnection`].
struct DroppingListener {
    inner: TcpListener,
    data: Arc<Mutex<Data>>,
}

impl axum::serve::Listener for DroppingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            let dropping = lock(&self.data).mode == Mode::DropConnection;
            if dropping {
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The simulator's routes, for `oneshot` tests or a server of your own.
pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/v1/catalog", get(catalog))
        .route("/v1/identity/reference", post(reference))
        .route("/v1/identity/eid", post(eid))
        .route("/v1/certificates", post(certificates))
        .route("/v1/accounts/{no}", get(account))
        .route("/v1/accounts/query", post(account_query))
        .route("/v1/pushed-orders/query", post(pushed_query))
        .route("/v1/assistance", post(assistance))
        .route("/v1/orders", post(submit_order))
        .route("/v1/orders/{no}", get(order_progress))
        .route("/v1/payments", post(create_payment))
        .route("/v1/payments/{id}", get(payment))
        .route("/v1/ratings", post(submit_rating))
        .route("/v1/updates", get(updates))
        .route("/v1/bundles/{name}", get(bundle))
        .route("/v1/devices/enroll", post(enroll))
        .route("/v1/devices/renew", post(renew))
        .route("/v1/devices/audit", post(audit_report))
        .route("/v1/fleet/targets", get(fleet_targets))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults_and_auth,
        ))
        .with_state(state)
}

/// [`router`] plus the standalone simulator's control routes, for the test
/// harness and integrators (never called by a kiosk; outside the token
/// check and the fault modes):
/// - `GET /sim/submissions`: [`SimControl::submissions`] as JSON;
/// - `PUT /sim/token` with `{"token": "…"}` or `{"token": null}`: the
///   device token required from now on;
/// - `POST /sim/enroll-codes` with `{"code": "…"}`: one more one-time
///   enrollment code;
/// - `POST /sim/devices/{id}/revoke`: revokes a kiosk's certificate (404
///   for a kiosk that never enrolled);
/// - `GET /sim/fleet`: the codes left and the enrolled kiosks.
pub fn router_with_control(state: SimState) -> Router {
    #[derive(serde::Deserialize)]
    struct TokenBody {
        token: Option<String>,
    }
    let control = Router::new()
        .route(
            "/sim/submissions",
            get(|State(state): State<SimState>| async move { Json(state.control().submissions()) }),
        )
        .route(
            "/sim/token",
            axum::routing::put(
                |State(state): State<SimState>, Json(body): Json<TokenBody>| async move {
                    state.control().require_token(body.token);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/sim/update",
            axum::routing::put(
                |State(state): State<SimState>,
                 Json(body): Json<Option<crate::updates::OfferRequest>>| async move {
                    match body
                        .map(crate::updates::SimUpdate::from_request)
                        .transpose()
                    {
                        Ok(update) => {
                            let mut data = state.lock();
                            data.update = update;
                            data.downloads.clear();
                            StatusCode::NO_CONTENT.into_response()
                        }
                        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                    }
                },
            ),
        )
        .route(
            "/sim/enroll-codes",
            post(
                |State(state): State<SimState>, Json(body): Json<HashMap<String, String>>| async move {
                    match body.get("code") {
                        Some(code) if kiosk::enroll::check_code(code).is_ok() => {
                            state.control().add_enrollment_code(code);
                            StatusCode::NO_CONTENT
                        }
                        _ => StatusCode::BAD_REQUEST,
                    }
                },
            ),
        )
        .route(
            "/sim/devices/{id}/revoke",
            post(
                |State(state): State<SimState>, Path(id): Path<String>| async move {
                    if state.control().revoke(&id) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::NOT_FOUND
                    }
                },
            ),
        )
        .route(
            "/sim/fleet",
            get(|State(state): State<SimState>| async move { Json(state.control().fleet()) }),
        )
        .route(
            "/sim/downloads",
            get(
                |State(state): State<SimState>| async move { Json(state.lock().downloads.clone()) },
            ),
        )
        .with_state(state.clone());
    control.merge(router(state))
}

/// `POST /v1/devices/enroll`: a one-time code buys a certificate.
async fn enroll(State(state): State<SimState>, body: Bytes) -> Reply<Response> {
    let req: kiosk::central::EnrollRequest = parse(&body)?;
    kiosk::enroll::check_code(&req.code).map_err(|m| ApiError::invalid("invalid-code", &m))?;
    kiosk::device_id::check(&req.device_id)
        .map_err(|e| ApiError::invalid("invalid-device-id", &e.to_string()))?;
    if let Some(a) = &req.status_address {
        kiosk::enroll::check_address(a).map_err(|m| ApiError::invalid("invalid-address", &m))?;
    }
    let mut data = state.lock();
    if !data.fleet.codes.contains(&req.code) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "enrollment-code-refused",
            "the enrollment code is unknown or was used",
        ));
    }
    let mut answer = data.sign_device(&req.csr_pem, &req.device_id)?;
    // A new audit key with each enrollment: central keeps it to check the
    // kiosk's audit records.
    let audit_key = kiosk::store::AuditKey::random().to_hex();
    answer.audit_key = Some(audit_key.clone());
    data.fleet.codes.remove(&req.code);
    let now = Utc::now();
    let certificates = data
        .fleet
        .devices
        .get(&req.device_id)
        .map_or(0, |d| d.certificates);
    // Enrolling again (a re-flashed kiosk) replaces the old record,
    // revocation included: a new code is a technician's decision.
    data.fleet.devices.insert(
        req.device_id.clone(),
        crate::fleet::Device {
            status_address: req.status_address,
            enrolled_at: now,
            not_after: answer.not_after,
            certificates: certificates + 1,
            revoked: false,
            audit_key: Some(audit_key),
        },
    );
    Ok(json(StatusCode::CREATED, answer))
}

/// `POST /v1/devices/renew`: over mutual TLS with the current certificate.
async fn renew(
    State(state): State<SimState>,
    caller: Option<axum::Extension<crate::fleet::Caller>>,
    body: Bytes,
) -> Reply<Response> {
    let Some(axum::Extension(crate::fleet::Caller::Device(device_id))) = caller else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "renewal needs the kiosk's current certificate",
        ));
    };
    let req: kiosk::central::RenewRequest = parse(&body)?;
    let mut data = state.lock();
    let mut answer = data.sign_device(&req.csr_pem, &device_id)?;
    if let Some(d) = data.fleet.devices.get_mut(&device_id) {
        d.not_after = answer.not_after;
        d.certificates += 1;
        answer.audit_key = d.audit_key.clone();
    }
    Ok(json(StatusCode::CREATED, answer))
}

/// `POST /v1/devices/audit`: a kiosk's audit chain head, checked against
/// what central saw last ([`crate::fleet::AuditTrail::report`]). A kiosk
/// with a certificate reports for itself only.
async fn audit_report(
    State(state): State<SimState>,
    caller: Option<axum::Extension<crate::fleet::Caller>>,
    body: Bytes,
) -> Reply<Response> {
    let r: kiosk::central::AuditHeadReport = parse(&body)?;
    kiosk::device_id::check(&r.device_id)
        .map_err(|e| ApiError::invalid("invalid-device-id", &e.to_string()))?;
    // The contract's AuditHead: seq an int64 from 0, hash 64 hex digits.
    let well_formed = |h: &kiosk::store::AuditHead| {
        i64::try_from(h.seq).is_ok()
            && h.hash.len() == 64
            && h.hash.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if !well_formed(&r.head) || r.anchor.as_ref().is_some_and(|a| !well_formed(a)) {
        return Err(ApiError::invalid(
            "invalid-audit-head",
            "a record's seq is at most 2^63 - 1 and its hash 64 hex digits",
        ));
    }
    match caller {
        Some(axum::Extension(crate::fleet::Caller::Device(id))) if id != r.device_id => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong-device",
                "the certificate names another kiosk",
            ));
        }
        Some(axum::Extension(crate::fleet::Caller::Scraper)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong-device",
                "the scraper reports no audit chain",
            ));
        }
        _ => {}
    }
    let mut data = state.lock();
    let ack = data
        .fleet
        .audits
        .entry(r.device_id.clone())
        .or_default()
        .report(&r, Utc::now());
    if let Some(gap) = &ack.gap {
        tracing::warn!(device = %r.device_id, "audit gap: {gap}");
    }
    persist(&data);
    Ok(json(StatusCode::OK, ack))
}

/// `GET /v1/fleet/targets`: for the scraper's certificate only.
async fn fleet_targets(
    State(state): State<SimState>,
    caller: Option<axum::Extension<crate::fleet::Caller>>,
) -> Reply<Response> {
    match caller {
        Some(axum::Extension(crate::fleet::Caller::Scraper)) => {
            Ok(json(StatusCode::OK, state.lock().fleet.targets()))
        }
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the fleet's targets need the scraper's certificate",
        )),
    }
}

/// Device certificates' lifetime unless [`SimControl::set_certificate_lifetime`].
pub const DEFAULT_CERT_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(90 * 24 * 3600);

fn internal() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the fleet CA is not available",
    )
}

/// `GET /v1/updates?device=…&version=…`.
async fn updates(
    State(state): State<SimState>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let (Some(device), Some(version)) = (q.get("device"), q.get("version")) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device and version are required",
        )
        .into_response();
    };
    let answer = match &state.lock().update {
        Some(u) => u.answer(device, version),
        None => kiosk::central::UpdateAnswer { update: None },
    };
    Json(answer).into_response()
}

/// `GET /v1/bundles/{name}`: the offered bundle, with `Range`.
async fn bundle(
    State(state): State<SimState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (path, size, cut) = {
        let mut data = state.lock();
        let Some(u) = data.update.as_mut() else {
            return ApiError::not_found().into_response();
        };
        if u.path() != format!("/v1/bundles/{name}") {
            return ApiError::not_found().into_response();
        }
        let cut = match (u.request.cut_after_bytes, u.cut_done) {
            (Some(c), false) => {
                u.cut_done = true;
                Some(c)
            }
            _ => None,
        };
        (u.request.bundle.clone(), u.size, cut)
    };
    let from = match crate::updates::range_start(&headers, size) {
        Ok(f) => f,
        Err(crate::updates::Unsatisfiable) => {
            state.lock().downloads.push(crate::updates::DownloadSeen {
                from: size,
                status: 416,
            });
            return StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        }
    };
    let resp = crate::updates::serve(&path, size, from, cut).await;
    state.lock().downloads.push(crate::updates::DownloadSeen {
        from,
        status: resp.status().as_u16(),
    });
    resp
}

/// Counts order submissions, applies the fault mode, then checks the token.
async fn faults_and_auth(
    State(state): State<SimState>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_changes_state = request.method() == Method::POST;
    // A client certificate the handshake verified against the fleet CA:
    // an enrolled kiosk (no token then) or the fleet's scraper.
    let peer = request
        .extensions()
        .get::<kiosk::status_tls::PeerCertificate>()
        .cloned();
    let caller = peer.map(|p| state.lock().fleet.caller(&p.0));
    let certified = match caller {
        Some(Ok(c)) => {
            request.extensions_mut().insert(c);
            true
        }
        Some(Err(code @ "certificate-revoked")) => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                code,
                "this kiosk's certificate was revoked",
            )
            .into_response();
        }
        Some(Err(why)) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why).into_response();
        }
        None => false,
    };
    // Enrollment's credential is its code; renewal and the targets check
    // the certificate themselves.
    let own_auth = matches!(
        request.uri().path(),
        "/v1/devices/enroll" | "/v1/devices/renew" | "/v1/fleet/targets"
    );
    let (mode, token) = {
        let mut data = state.lock();
        if request.method() == Method::POST && request.uri().path() == "/v1/orders" {
            if let Some(key) = idempotency_key(request.headers()).ok().flatten() {
                *data.submissions.entry(key).or_insert(0) += 1;
            }
        }
        (data.mode, data.token.clone())
    };
    let mut response = match mode {
        Mode::Normal | Mode::IgnoreIdempotency => None,
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Mode::Unavailable => Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(ApiErrorBody {
                    code: "unavailable".into(),
                    message: "central is in maintenance, retry later".into(),
                }),
            )
                .into_response(),
        ),
        Mode::Garbage => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway (proxy)</body></html>",
            )
                .into_response(),
        ),
        Mode::DropConnection => {
            let failing = futures::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("connection dropped by the simulator"))
            });
            Some(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    Body::from_stream(failing),
                )
                    .into_response(),
            )
        }
        Mode::Oversized(n) => {
            const CHUNK: usize = 8 * 1024;
            let chunks = (0..n.div_ceil(CHUNK)).map(move |i| {
                let len = CHUNK.min(n - i * CHUNK);
                Ok::<_, std::io::Error>(Bytes::from(vec![b' '; len]))
            });
            Some(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    Body::from_stream(futures::stream::iter(chunks)),
                )
                    .into_response(),
            )
        }
    };
    if response.is_none() && !certified && !own_auth {
        if let Some(expected) = token {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if presented != Some(expected.as_str()) {
                response = Some(
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "device token missing or wrong",
                    )
                    .into_response(),
                );
            }
        }
    }
    let mut response = match response {
        Some(r) => r,
        None => next.run(request).await,
    };
    // The body limit's own refusal is plain text: give it the contract's
    // `{code, message}` shape like every other 4xx.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the request body is over the limit",
        )
        .into_response();
    }
    // Whatever this request changed is on disk before the kiosk hears of it.
    if request_changes_state {
        persist(&state.lock());
    }
    // One request per connection, so that DropConnection takes effect on
    // the very next request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A 4xx answer with its `{code, message}` body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: ApiErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: &str) -> Self {
        Self {
            status,
            body: ApiErrorBody {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "no such resource")
    }

    fn invalid(code: &str, message: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Reply<T> = Result<T, ApiError>;

/// Parses a JSON body; the error never echoes the body (it may be personal).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Reply<T> {
    serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid("invalid-body", "the body does not match the schema"))
}

/// The `Idempotency-Key` header: `Ok(None)` when absent, `Err` when
/// malformed.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency-key-invalid",
                "Idempotency-Key must be 1-128 printable ASCII characters",
            )
        })?;
    Ok(Some(key.to_string()))
}

fn required_key(headers: &HeaderMap) -> Reply<String> {
    idempotency_key(headers)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency-key-missing",
            "this endpoint requires an Idempotency-Key header",
        )
    })
}

fn json<T: Serialize>(status: StatusCode, value: T) -> Response {
    (status, Json(value)).into_response()
}

async fn catalog(State(state): State<SimState>) -> Json<Catalog> {
    let seed = state.lock().seed;
    Json(Catalog {
        config_version: format!("sim-{seed}"),
        businesses: Business::ALL.to_vec(),
        policy: CapacityPolicy::default(),
        notices: vec![Notice {
            id: "face-recognition".into(),
            title: "本机使用人脸识别".into(),
            text: "刷脸办电仅在本机比对，不上传人脸；也可使用身份证、电子身份证或呼叫工作人员。"
                .into(),
        }],
        service_phone: "95598".into(),
        commitment_text_version: "CL-2026-01".into(),
        default_commitment_days: 30,
        contract: Some(ContractText {
            version: "SC-2026-02".into(),
            title: "低压供用电合同".into(),
            pages: vec![
                "第一条 供电方按国家规定的电能质量标准，向用电方在受理登记的用电地址供电。".into(),
                "第二条 用电方按期交纳电费；电价按政府主管部门批准的电价执行。".into(),
                "第三条 合同变更、过户、销户按《电力供应与使用条例》办理；本合同自电子签署之日起生效。".into(),
            ],
            url: "https://95598.example.invalid/contracts/SC-2026-02".into(),
        }),
    })
}

async fn reference(State(state): State<SimState>, body: Bytes) -> Reply<Json<ReferencePhoto>> {
    let request: ReferenceRequest = parse(&body)?;
    if request.consent_id.trim().is_empty() {
        return Err(ApiError::invalid(
            "consent-required",
            "a face-check consent id is required",
        ));
    }
    let data = state.lock();
    let citizen = data
        .citizen(request.id_number.expose())
        .filter(|c| c.name == request.name.expose())
        .ok_or_else(ApiError::not_found)?;
    let photo = match data.photos.get(&citizen.id_number) {
        Some(jpeg) => ReferencePhoto::from_jpeg(jpeg),
        None => ReferencePhoto::from_jpeg(&placeholder_photo(data.seed, &citizen.id_number)),
    };
    Ok(Json(photo))
}

/// Not an image: JPEG start/end markers around a pattern derived from the
/// seed and the number, so every citizen's placeholder differs.
fn placeholder_photo(seed: u64, id_number: &str) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(
        id_number
            .bytes()
            .fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let mut bytes = vec![0xFF, 0xD8];
    bytes.extend((0..64).map(|_| rng.gen::<u8>() & 0x7F));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

async fn eid(State(state): State<SimState>, body: Bytes) -> Reply<Json<EidIdentity>> {
    let request: EidRequest = parse(&body)?;
    let invalid = || ApiError::invalid("eid-invalid", "the electronic ID could not be verified");
    let parts: Vec<&str> = request.payload.split('.').collect();
    let ["SIM-EID2", number, ts, mac] = parts.as_slice() else {
        return Err(invalid());
    };
    let ts: i64 = ts.parse().map_err(|_| invalid())?;
    if eid_mac(number, ts) != *mac {
        return Err(invalid());
    }
    if ts < Utc::now().timestamp() {
        return Err(ApiError::invalid(
            "eid-expired",
            "the electronic ID code has expired: show a fresh one",
        ));
    }
    let data = state.lock();
    let citizen = data.citizen(number).ok_or_else(invalid)?;
    Ok(Json(EidIdentity {
        name: Personal::new(citizen.name.clone()),
        id_number: IdNumber::unchecked(&citizen.id_number),
        valid_until: NaiveDate::from_ymd_opt(2030, 12, 31),
    }))
}

/// Addresses match when equal ignoring whitespace.
fn same_address(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| !c.is_whitespace())
        .eq(b.chars().filter(|c| !c.is_whitespace()))
}

fn property_certs(properties: &[Property], address: Option<&str>) -> Vec<Certificate> {
    properties
        .iter()
        .filter(|p| address.is_none_or(|a| same_address(a, &p.address)))
        .map(|p| Certificate {
            kind: CertificateKind::PropertyProof,
            number: p.cert_no.clone(),
            issuer: "不动产登记中心".into(),
            address: Some(Personal::new(p.address.clone())),
            micro_park: p.micro_park.clone(),
        })
        .collect()
}

async fn certificates(
    State(state): State<SimState>,
    body: Bytes,
) -> Reply<Json<CertificatesResponse>> {
    let request: CertificatesRequest = parse(&body)?;
    if request.consent_id.trim().is_empty() {
        return Err(ApiError::invalid(
            "consent-required",
            "a certificate-fetch consent id is required",
        ));
    }
    let kinds: BTreeSet<CertificateKind> = request.kinds.iter().copied().collect();
    if kinds.is_empty() {
        return Err(ApiError::invalid(
            "kinds-required",
            "ask for at least one kind",
        ));
    }
    let data = state.lock();
    let subject = request.subject.expose().trim();
    let address = request.address.as_ref().map(|a| a.expose());
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for kind in kinds {
        let certs: Vec<Certificate> = if let Some(c) = data.citizen(subject) {
            match kind {
                CertificateKind::SubjectProof => vec![Certificate {
                    kind,
                    number: format!(
                        "SP{}{}",
                        c.id_number.get(..6).unwrap_or_default(),
                        cert_suffix(data.seed, &c.id_number)
                    ),
                    issuer: "公安部人口信息库".into(),
                    address: None,
                    micro_park: None,
                }],
                CertificateKind::PropertyProof => property_certs(&c.properties, address),
                CertificateKind::BusinessLicence => Vec::new(),
            }
        } else if let Some(co) = data.companies.iter().find(|co| co.credit_code == subject) {
            match kind {
                CertificateKind::SubjectProof | CertificateKind::BusinessLicence => {
                    vec![Certificate {
                        kind,
                        number: co.licence_no.clone(),
                        issuer: "市场监督管理局".into(),
                        address: None,
                        micro_park: None,
                    }]
                }
                CertificateKind::PropertyProof => property_certs(&co.properties, address),
            }
        } else {
            Vec::new()
        };
        if certs.is_empty() {
            missing.push(kind);
        } else {
            found.extend(certs);
        }
    }
    Ok(Json(CertificatesResponse { found, missing }))
}

fn cert_suffix(seed: u64, key: &str) -> String {
    let h = key.bytes().fold(seed ^ 0x9E37_79B9_7F4A_7C15, |h, b| {
        h.rotate_left(5) ^ u64::from(b).wrapping_mul(0x100_0000_01B3)
    });
    format!("{:08}", h % 100_000_000)
}

async fn account(State(state): State<SimState>, Path(no): Path<String>) -> Reply<Json<Account>> {
    let data = state.lock();
    let account = data
        .accounts
        .iter()
        .find(|a| a.no == no)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(account.view(None)))
}

async fn account_query(State(state): State<SimState>, body: Bytes) -> Reply<Json<Account>> {
    let query: AccountQuery = parse(&body)?;
    let holder = query.holder_id_number.as_ref().map(|h| h.expose());
    let data = state.lock();
    let account = match (&query.account_no, holder) {
        (Some(no), _) => data.accounts.iter().find(|a| a.no == *no),
        (None, Some(h)) => data.accounts.iter().find(|a| a.holder_id == h),
        (None, None) => {
            return Err(ApiError::invalid(
                "query-empty",
                "give an account number or a holder",
            ))
        }
    };
    account
        .map(|a| Json(a.view(holder)))
        .ok_or_else(ApiError::not_found)
}

async fn pushed_query(State(state): State<SimState>, body: Bytes) -> Reply<Json<PushedOrders>> {
    let query: PushedQuery = parse(&body)?;
    let data = state.lock();
    let orders = data
        .pushed
        .iter()
        .filter(|p| !p.confirmed && p.for_id == query.id_number.expose())
        .map(|p| p.order.clone())
        .collect();
    Ok(Json(PushedOrders { orders }))
}

async fn assistance(State(state): State<SimState>, body: Bytes) -> Reply<Response> {
    let request: AssistanceRequest = parse(&body)?;
    let mut data = state.lock();
    data.assistance.push(request);
    let request_id = format!("HELP{:04}", data.assistance.len());
    tracing::info!(request_id = %request_id, "assistance requested");
    Ok(json(StatusCode::CREATED, AssistanceAccepted { request_id }))
}

/// The business rules of an order body (422 with a code when broken).
fn validate(order: &OrderSubmission, key: &str) -> Reply<()> {
    if order.idempotency_key != key {
        return Err(ApiError::invalid(
            "idempotency-key-mismatch",
            "idempotency_key in the body differs from the Idempotency-Key header",
        ));
    }
    if !order.applicant.id_number.is_valid() {
        return Err(ApiError::invalid(
            "invalid-id-number",
            "the applicant's ID number fails GB 11643",
        ));
    }
    if order.applicant.name.is_empty() {
        return Err(ApiError::invalid(
            "name-required",
            "the applicant's name is required",
        ));
    }
    let needs_capacity = matches!(
        order.business,
        Business::NewConnection | Business::CapacityIncrease
    );
    let kw = order.application.capacity_kw;
    if needs_capacity && !(kw.is_finite() && kw > 0.0) {
        return Err(ApiError::invalid(
            "invalid-capacity",
            "requested capacity must be a positive number of kW",
        ));
    }
    if !order.missing.is_empty() && order.commitment.is_none() {
        return Err(ApiError::invalid(
            "commitment-required",
            "missing documents need a signed commitment",
        ));
    }
    Ok(())
}

fn initial_steps(
    business: Business,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<OrderStep> {
    let names: &[(&str, &str)] = match business {
        Business::NewConnection | Business::CapacityIncrease => &[
            ("accepted", "受理"),
            ("survey", "勘察"),
            ("supply-plan", "供电方案答复"),
            ("connection", "装表接电"),
        ],
        Business::NameChange | Business::Transfer | Business::Closure => &[
            ("accepted", "受理"),
            ("review", "审核"),
            ("completed", "办结"),
        ],
        Business::PayBill | Business::ProgressQuery => {
            &[("accepted", "受理"), ("completed", "办结")]
        }
    };
    names
        .iter()
        .enumerate()
        .map(|(i, (code, title))| OrderStep {
            code: (*code).into(),
            title: (*title).into(),
            state: if i == 0 {
                StepState::Done
            } else {
                StepState::Pending
            },
            started_at: (i == 0).then_some(accepted_at),
            finished_at: (i == 0).then_some(now),
        })
        .collect()
}

async fn submit_order(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    let key = required_key(&headers)?;
    let honour_key = state.lock().mode != Mode::IgnoreIdempotency;
    if let Some(stored) = state.lock().order_by_key(&key).filter(|_| honour_key) {
        tracing::info!(key = %key, order_no = %stored.order_no, "order replayed");
        return Ok(json(StatusCode::OK, stored.accepted()));
    }
    let order: OrderSubmission = parse(&body)?;
    validate(&order, &key)?;
    let mut data = state.lock();
    // Checked again under the same lock as the insert: two concurrent
    // first submissions of one key must store one order.
    if let Some(stored) = data.order_by_key(&key).filter(|_| honour_key) {
        return Ok(json(StatusCode::OK, stored.accepted()));
    }
    if let Some(id) = &order.pushed_from {
        if let Some(p) = data.pushed.iter_mut().find(|p| p.order.id == *id) {
            p.confirmed = true;
        }
    }
    data.order_seq += 1;
    let now = Utc::now();
    // A kiosk whose clock is unverified may say 1970: central's own time
    // dates the order then.
    let dated = if order.time_unverified {
        now
    } else {
        order.accepted_at
    };
    let order_no = format!("{}{:05}", dated.format("%Y%m%d"), data.order_seq);
    let stored = StoredOrder {
        key: key.clone(),
        order_no: order_no.clone(),
        business: order.business,
        accepted_at: order.accepted_at,
        steps: initial_steps(order.business, dated, now),
        received_at: Some(now),
        time_unverified: order.time_unverified,
    };
    let answer = stored.accepted();
    data.orders.push(stored);
    tracing::info!(
        key = %key,
        order_no = %order_no,
        business = order.business.code(),
        time_unverified = order.time_unverified,
        "order stored"
    );
    Ok(json(StatusCode::CREATED, answer))
}

async fn order_progress(
    State(state): State<SimState>,
    Path(no): Path<String>,
) -> Reply<Json<OrderProgress>> {
    let data = state.lock();
    // A receipt's QR code carries the kiosk's local id, which central
    // knows as the order's idempotency key.
    let order = data
        .orders
        .iter()
        .find(|o| o.order_no == no || o.key == no)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(OrderProgress {
        order_no: order.order_no.clone(),
        business: order.business,
        accepted_at: order.accepted_at,
        steps: order.steps.clone(),
    }))
}

async fn create_payment(State(state): State<SimState>, body: Bytes) -> Reply<Response> {
    let request: PaymentRequest = parse(&body)?;
    if request.amount_fen <= 0 {
        return Err(ApiError::invalid(
            "invalid-amount",
            "the amount must be positive",
        ));
    }
    let mut data = state.lock();
    if !data.accounts.iter().any(|a| a.no == request.account_no) {
        return Err(ApiError::not_found());
    }
    let payment_id = format!("PAY{:06}", data.payments.len() + 1);
    let payment = Payment {
        qr_payload: format!("https://pay.example.invalid/q/{payment_id}"),
        payment_id,
        account_no: request.account_no,
        amount_fen: request.amount_fen,
        state: PaymentState::Pending,
        invoice: None,
    };
    data.payments.push(payment.clone());
    Ok(json(StatusCode::CREATED, payment))
}

async fn payment(State(state): State<SimState>, Path(id): Path<String>) -> Reply<Json<Payment>> {
    let data = state.lock();
    data.payments
        .iter()
        .find(|p| p.payment_id == id)
        .cloned()
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

async fn submit_rating(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    let key = required_key(&headers)?;
    if let Some((_, _, id)) = state.lock().ratings.iter().find(|(k, _, _)| *k == key) {
        return Ok(json(
            StatusCode::OK,
            RatingAccepted {
                rating_id: id.clone(),
            },
        ));
    }
    let rating: RatingSubmission = parse(&body)?;
    if !(1..=5).contains(&rating.stars) {
        return Err(ApiError::invalid("invalid-stars", "stars must be 1 to 5"));
    }
    if rating
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 500)
    {
        return Err(ApiError::invalid(
            "comment-too-long",
            "a comment has at most 500 characters",
        ));
    }
    let mut data = state.lock();
    if let Some((_, _, id)) = data.ratings.iter().find(|(k, _, _)| *k == key) {
        return Ok(json(
            StatusCode::OK,
            RatingAccepted {
                rating_id: id.clone(),
            },
        ));
    }
    let known = data.orders.iter().any(|o| o.order_no == rating.order_no)
        || data
            .payments
            .iter()
            .any(|p| p.payment_id == rating.order_no && p.state == PaymentState::Paid);
    if !known {
        return Err(ApiError::invalid(
            "unknown-order",
            "no order with this number",
        ));
    }
    let rating_id = format!("R{:06}", data.ratings.len() + 1);
    tracing::info!(key = %key, order_no = %rating.order_no, stars = rating.stars, "rating stored");
    data.ratings.push((key, rating, rating_id.clone()));
    Ok(json(StatusCode::CREATED, RatingAccepted { rating_id }))
}

fn property(address: &str, cert_no: &str, micro_park: Option<&str>) -> Property {
    Property {
        address: address.into(),
        cert_no: cert_no.into(),
        micro_park: micro_park.map(Into::into),
    }
}

fn seed_data(seed: u64) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cert = |prefix: &str| format!("{prefix}{:07}", rng.gen_range(0..10_000_000u32));
    let mut citizens = vec![
        Citizen {
            name: "张伟".into(),
            id_number: "330106199001010026".into(),
            properties: vec![property(
                "浙江省杭州市西湖区文三路100号",
                &cert("浙(2019)杭州市不动产权第"),
                None,
            )],
        },
        Citizen {
            name: "李娜".into(),
            id_number: "330106198503121231".into(),
            properties: Vec::new(),
        },
        Citizen {
            name: "王芳".into(),
            id_number: "440305197011204562".into(),
            properties: vec![property(
                "浙江省杭州市余杭区创业路8号",
                &cert("浙(2021)杭州市不动产权第"),
                Some(MICRO_PARK),
            )],
        },
        Citizen {
            name: "赵强".into(),
            id_number: "110101195805050073".into(),
            properties: vec![property(
                "北京市东城区东华门大街1号",
                &cert("京(2015)东城区不动产权第"),
                None,
            )],
        },
        Citizen {
            name: "周建华".into(),
            id_number: "320502196507150019".into(),
            properties: Vec::new(),
        },
        Citizen {
            name: "孙丽".into(),
            id_number: "330105197803220046".into(),
            properties: vec![property(
                "浙江省杭州市拱墅区湖墅南路66号",
                &cert("浙(2026)杭州市不动产权第"),
                None,
            )],
        },
        Citizen {
            name: "陈静".into(),
            id_number: "320502199211118881".into(),
            properties: vec![property(
                "江苏省苏州市姑苏区人民路88号",
                &cert("苏(2020)苏州市不动产权第"),
                None,
            )],
        },
    ];
    let companies = vec![
        Company {
            credit_code: COMPANY_WENSAN.into(),
            licence_no: cert("330106000"),
            properties: vec![property(
                "浙江省杭州市西湖区文三路200号",
                &cert("浙(2018)杭州市不动产权第"),
                None,
            )],
        },
        Company {
            credit_code: COMPANY_PARK.into(),
            licence_no: cert("330110000"),
            properties: vec![property(
                "浙江省杭州市余杭区创业路8号",
                &cert("浙(2022)杭州市不动产权第"),
                Some(MICRO_PARK),
            )],
        },
    ];
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
    const GIVEN: [&str; 14] = [
        "芳", "伟", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "秀英", "桂英", "建华", "晓东",
    ];
    const AREAS: [(&str, &str); 4] = [
        ("330102", "浙江省杭州市上城区"),
        ("330105", "浙江省杭州市拱墅区"),
        ("330106", "浙江省杭州市西湖区"),
        ("330108", "浙江省杭州市滨江区"),
    ];
    const STREETS: [&str; 5] = ["解放路", "湖墅南路", "天目山路", "江南大道", "文一西路"];
    while citizens.len() < 25 {
        let (code, district) = AREAS[rng.gen_range(0..AREAS.len())];
        let body = format!(
            "{code}{:04}{:02}{:02}{:03}",
            rng.gen_range(1950..2004),
            rng.gen_range(1..=12),
            rng.gen_range(1..=28),
            rng.gen_range(1..999),
        );
        let Some(check) = gb11643_check_char(&body) else {
            continue;
        };
        let id_number = format!("{body}{check}");
        if citizens.iter().any(|c| c.id_number == id_number) {
            continue;
        }
        let name = format!(
            "{}{}",
            SURNAMES.choose(&mut rng).copied().unwrap_or("王"),
            GIVEN.choose(&mut rng).copied().unwrap_or("芳")
        );
        let properties = if rng.gen_bool(0.8) {
            let address = format!(
                "{district}{}{}号",
                STREETS.choose(&mut rng).copied().unwrap_or("解放路"),
                rng.gen_range(1..400)
            );
            vec![Property {
                address,
                cert_no: format!(
                    "浙(2020)杭州市不动产权第{:07}",
                    rng.gen_range(0..10_000_000u32)
                ),
                micro_park: None,
            }]
        } else {
            Vec::new()
        };
        citizens.push(Citizen {
            name,
            id_number,
            properties,
        });
    }
    let account =
        |no: &str, holder: &str, holder_id: &str, address: &str, due: i64, kw: f64| SimAccount {
            no: no.into(),
            holder: holder.into(),
            holder_id: holder_id.into(),
            address: address.into(),
            amount_due_fen: due,
            contracted_kw: kw,
        };
    let accounts = vec![
        account(
            "3300012345",
            "张伟",
            "330106199001010026",
            "浙江省杭州市西湖区文三路100号",
            12_850,
            8.0,
        ),
        account(
            "3300012346",
            "王芳",
            "440305197011204562",
            "浙江省杭州市余杭区创业路8号",
            0,
            100.0,
        ),
        account(
            "3300012347",
            "赵强",
            "110101195805050073",
            "北京市东城区东华门大街1号",
            5_630,
            20.0,
        ),
        account(
            "3300012348",
            "周建华",
            "320502196507150019",
            "江苏省苏州市姑苏区人民路88号",
            0,
            8.0,
        ),
        account(
            "3300012349",
            "钱进",
            "330105195609180037",
            "浙江省杭州市拱墅区湖墅南路66号",
            0,
            8.0,
        ),
    ];
    let created = DateTime::parse_from_rfc3339("2026-11-20T09:30:00+08:00")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let pushed = vec![
        SimPushed {
            for_id: "330105197803220046".into(),
            order: PushedOrder {
                id: "PUSH-RE-0001".into(),
                business: Business::Transfer,
                source: "不动产登记联动过户".into(),
                summary: "湖墅南路66号不动产转移登记已办结，户号3300012349的用电户名将过户至您名下，请确认并签名。".into(),
                account_no: Some("3300012349".into()),
                address: Personal::new("浙江省杭州市拱墅区湖墅南路66号"),
                created_at: created,
            },
            confirmed: false,
        },
        SimPushed {
            for_id: "110101195805050073".into(),
            order: PushedOrder {
                id: "PUSH-PJ-0002".into(),
                business: Business::NewConnection,
                source: "项目审批联动主动服务".into(),
                summary: "您的项目已获审批，供电公司已为您编制供电方案（低压，20 kW），请确认并签名后启动接电。".into(),
                account_no: None,
                address: Personal::new("北京市东城区东华门大街1号"),
                created_at: created,
            },
            confirmed: false,
        },
    ];
    Data {
        seed,
        citizens,
        companies,
        accounts,
        pushed,
        ..Data::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn send(app: Router, req: HttpRequest<Body>) -> (StatusCode, serde_json::Value) {
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[test]
    fn seeded_citizens_have_valid_numbers_and_are_deterministic() {
        let a = SimState::new(7).control().citizens();
        let b = SimState::new(7).control().citizens();
        assert_eq!(a, b);
        assert_eq!(a.len(), 25);
        for c in &a {
            assert!(c.id_number.is_valid(), "{}", c.id_number);
        }
        assert!(
            a[1].property_addresses.is_empty(),
            "李娜 has no property on purpose"
        );
        assert_ne!(SimState::new(8).control().citizens(), a);
    }

    #[tokio::test]
    async fn order_without_idempotency_key_is_400() {
        let app = router(SimState::new(1));
        let req = HttpRequest::post("/v1/orders")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = send(app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "idempotency-key-missing");
    }

    #[tokio::test]
    async fn token_is_checked_when_required() {
        let state = SimState::new(1);
        state.control().require_token(Some("t0k".into()));
        let app = router(state);
        let req = HttpRequest::get("/v1/catalog").body(Body::empty()).unwrap();
        let (status, body) = send(app.clone(), req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "unauthorized");
        let req = HttpRequest::get("/v1/catalog")
            .header("authorization", "Bearer t0k")
            .body(Body::empty())
            .unwrap();
        let (status, body) = send(app, req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["policy"]["low_voltage_kw"], 160.0);
    }

    #[tokio::test]
    async fn eid_and_reference_photo() {
        let state = SimState::new(3);
        state
            .control()
            .set_reference_photo("330106199001010026", vec![1, 2, 3]);
        let app = router(state);
        let req = HttpRequest::post("/v1/identity/eid")
            .body(Body::from(
                serde_json::to_vec(&EidRequest {
                    payload: eid_payload("440305197011204562"),
                })
                .unwrap(),
            ))
            .unwrap();
        let (status, body) = send(app.clone(), req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["name"], "王芳");
        let req = HttpRequest::post("/v1/identity/eid")
            .body(Body::from(r#"{"payload":"garbage"}"#))
            .unwrap();
        assert_eq!(
            send(app.clone(), req).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let ask = |name: &str| {
            HttpRequest::post("/v1/identity/reference")
                .body(Body::from(
                    serde_json::json!({"name": name, "id_number": "330106199001010026", "consent_id": "c1"})
                        .to_string(),
                ))
                .unwrap()
        };
        let (status, body) = send(app.clone(), ask("张伟")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["photo_jpeg_base64"], "AQID");
        assert_eq!(send(app, ask("李娜")).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn progress_steps_advance() {
        let state = SimState::new(1);
        let control = state.control();
        let app = router(state);
        let accepted = Utc::now();
        {
            let mut data = control.data.lock().unwrap();
            data.orders.push(StoredOrder {
                key: "k".into(),
                order_no: "2026112300001".into(),
                business: Business::NewConnection,
                accepted_at: accepted,
                steps: initial_steps(Business::NewConnection, accepted, accepted),
                received_at: Some(accepted),
                time_unverified: false,
            });
        }
        assert!(control.advance_order("2026112300001"));
        let req = HttpRequest::get("/v1/orders/2026112300001")
            .body(Body::empty())
            .unwrap();
        let (status, body) = send(app.clone(), req).await;
        assert_eq!(status, StatusCode::OK);
        let progress: OrderProgress = serde_json::from_value(body).unwrap();
        assert_eq!(progress.steps[0].title, "受理");
        assert_eq!(progress.steps[1].state, StepState::Done);
        assert_eq!(progress.steps[2].state, StepState::InProgress);
        assert!(progress.steps[3].started_at.is_none());
        let req = HttpRequest::get("/v1/orders/999")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(app, req).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn payment_settles_into_an_invoice() {
        let state = SimState::new(1);
        let control = state.control();
        let app = router(state);
        let req = HttpRequest::post("/v1/payments")
            .body(Body::from(
                r#"{"account_no":"3300012345","amount_fen":12850}"#,
            ))
            .unwrap();
        let (status, body) = send(app.clone(), req).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["payment_id"].as_str().unwrap().to_string();
        assert!(control.settle_payment(&id));
        assert!(!control.settle_payment(&id));
        let req = HttpRequest::get(format!("/v1/payments/{id}"))
            .body(Body::empty())
            .unwrap();
        let (_, body) = send(app.clone(), req).await;
        assert_eq!(body["state"], "paid");
        assert_eq!(body["invoice"]["title"], "张*");
        let req = HttpRequest::get("/v1/accounts/3300012345")
            .body(Body::empty())
            .unwrap();
        let (_, body) = send(app, req).await;
        assert_eq!(body["amount_due_fen"], 0);
    }
}
