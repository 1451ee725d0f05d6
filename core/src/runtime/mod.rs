//! The runtime: carries out the flow's effects.
//!
//! [`Runner`] owns the flow state. Events arrive on one channel from the
//! touchscreen (or a scripted citizen), the device actors, the central
//! client and the timers; each is stamped with the time it arrived, stepped
//! through [`Flow::step`], written to the transcript (names only, never
//! data), and the resulting effects are sent to whoever carries them out.
//! Device actors own their devices ([`devices`]); the runner only talks to
//! them over channels. The screen state is published on a `watch` channel
//! for the UI and the status snapshot.

mod business;
pub mod devices;
pub mod face;
pub mod gpio;
pub mod qr;
pub mod retention;
pub mod sync;

pub use business::{invoice_receipt, watch as watch_payment, PaymentTiming};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{info, warn};

use crate::central::client::CentralClient;
use crate::central::CertificatesRequest;
use crate::flow::{Effect, Event, FetchProblem, Flow, Phase, Problem, State};
use crate::model::Order;
use crate::store::Store;

/// Commands to the card-reader actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderCmd {
    /// Poll for a card until one is read or the attempt fails.
    Read,
    /// Stop polling.
    Stop,
}

/// Commands to the printer actor.
#[derive(Debug)]
pub enum PrinterCmd {
    /// Print this receipt for this order.
    Print {
        /// Local order id.
        local_id: String,
        /// The receipt (already masked).
        receipt: Box<kiosk_drivers::printer::Receipt>,
    },
}

/// What the screen shows now, without any personal data: enough for a UI
/// controller or a scripted citizen to act on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screen {
    /// Increases with every step.
    pub seq: u64,
    /// Phase name.
    pub phase: &'static str,
    /// The phase a timeout warning interrupted.
    pub resumes: Option<&'static str>,
    /// Problem shown, as a stable code.
    pub problem: Option<String>,
    /// The accepted order's local id (receipt screen).
    pub order: Option<String>,
    /// Central number, if synced at acceptance.
    pub central_no: Option<String>,
    /// Whether the receipt printed (`None` while printing or before).
    pub printed: Option<bool>,
    /// Elderly mode.
    pub elderly: bool,
}

impl Screen {
    /// The attract screen before any step (tests and twins start from it).
    pub fn attract() -> Self {
        Self::of(0, &State::new())
    }

    fn of(seq: u64, s: &State) -> Self {
        let session = s.session.as_ref();
        let order = session.and_then(|x| x.order.as_ref());
        Self {
            seq,
            phase: s.phase.name(),
            resumes: match &s.phase {
                Phase::TimeoutWarning(p) => Some(p.name()),
                _ => None,
            },
            problem: session.and_then(|x| x.problem.as_ref()).map(problem_code),
            order: order.map(|o| o.local_id.clone()),
            central_no: order.and_then(|o| o.central_no.clone()),
            // The receipt of an order, or the invoice of a paid bill.
            printed: order
                .and_then(|o| o.printed)
                .or(session.and_then(|x| x.invoice_printed)),
            elderly: s.elderly,
        }
    }
}

/// A stable, non-personal code for a problem.
pub fn problem_code(p: &Problem) -> String {
    use crate::flow::{CardProblem as C, FetchProblem as F, FormProblem as P};
    let s = match p {
        Problem::Card(C::NoCard) => "card-none",
        Problem::Card(C::Removed) => "card-removed",
        Problem::Card(C::ReaderFault) => "card-reader-fault",
        Problem::Card(C::NumberInvalid) => "card-number-invalid",
        Problem::Card(C::Expired) => "card-expired",
        Problem::Fetch(F::Unavailable) => "central-unavailable",
        Problem::Fetch(F::Refused(_)) => "central-refused",
        Problem::Form(P::AddressMissing) => "form-address-missing",
        Problem::Form(P::CapacityOutOfRange) => "form-capacity-out-of-range",
        Problem::Form(P::PhoneInvalid) => "form-phone-invalid",
        Problem::Face(f) => match f {
            crate::flow::FaceProblem::IdNumberInvalid => "face-id-number-invalid",
            crate::flow::FaceProblem::NameMissing => "face-name-missing",
            crate::flow::FaceProblem::Under14 => "face-under-14",
            crate::flow::FaceProblem::NoReference => "face-no-reference",
            crate::flow::FaceProblem::ReferenceUnavailable => "face-reference-unavailable",
            crate::flow::FaceProblem::Mismatch => "face-mismatch",
            crate::flow::FaceProblem::NoFace => "face-no-face",
            crate::flow::FaceProblem::AttemptsUsed => "face-attempts-used",
            crate::flow::FaceProblem::Liveness => "face-liveness",
            crate::flow::FaceProblem::CameraFault => "face-camera-fault",
        },
        Problem::Store(_) => "store-failed",
        Problem::Printer(_) => "printer-failed",
        Problem::Form(P::CapacityNotIncreased) => "form-capacity-not-increased",
        Problem::Form(P::MailingAddressMissing) => "form-mailing-address-missing",
        Problem::Account(a) => match a {
            crate::flow::AccountProblem::Malformed => "account-malformed",
            crate::flow::AccountProblem::NotFound => "account-not-found",
            crate::flow::AccountProblem::NotHolder => "account-not-holder",
            crate::flow::AccountProblem::OldHolderMismatch => "account-old-holder-mismatch",
            crate::flow::AccountProblem::Unavailable => "account-unavailable",
        },
        Problem::Eid(e) => match e {
            crate::flow::EidProblem::Unreadable => "eid-unreadable",
            crate::flow::EidProblem::Invalid => "eid-invalid",
            crate::flow::EidProblem::Expired => "eid-expired",
            crate::flow::EidProblem::Unavailable => "eid-unavailable",
        },
        Problem::Staff(st) => match st {
            crate::flow::StaffProblem::AuthFailed => "staff-auth-failed",
            crate::flow::StaffProblem::LockedOut => "staff-locked-out",
            crate::flow::StaffProblem::IdNumberInvalid => "staff-id-number-invalid",
            crate::flow::StaffProblem::NameMissing => "staff-name-missing",
        },
        Problem::Company(_) => "company-credit-code-invalid",
        Problem::Pay(pp) => match pp {
            crate::flow::PayProblem::NothingDue => "pay-nothing-due",
            crate::flow::PayProblem::Unavailable => "pay-unavailable",
            crate::flow::PayProblem::NotPaid => "pay-not-paid",
        },
        Problem::Query(q) => match q {
            crate::flow::QueryProblem::Unreadable => "query-unreadable",
            crate::flow::QueryProblem::NotFound => "query-not-found",
            crate::flow::QueryProblem::Unavailable => "query-unavailable",
        },
    };
    s.to_string()
}

/// One line of the transcript: time, event, the state before and after.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptLine {
    /// When the event arrived.
    pub t: DateTime<Utc>,
    /// Event name.
    pub event: &'static str,
    /// Phase before.
    pub from: &'static str,
    /// Phase after.
    pub state: &'static str,
    /// Why the event was refused, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The problem the screen shows after the step (a code, never data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What the runner needs around it.
pub struct Services {
    /// The flow.
    pub flow: Flow,
    /// The store.
    pub store: Arc<Store>,
    /// The central client.
    pub central: Arc<CentralClient>,
    /// Device id (prefix of local order ids).
    pub device_id: String,
    /// Receipt texts.
    pub receipt: crate::config::ReceiptConfig,
    /// How long to wait for central right after acceptance.
    pub immediate_sync: Duration,
    /// Wakes the sync task when something new is in the outbox.
    pub sync_wake: Arc<Notify>,
    /// Card reader actor.
    pub reader: mpsc::Sender<ReaderCmd>,
    /// Printer actor.
    pub printer: mpsc::Sender<PrinterCmd>,
    /// Face actor (camera + engine), if this kiosk has one.
    pub face: Option<mpsc::Sender<face::FaceCmd>>,
    /// QR actor (camera), if this kiosk has one.
    pub qr: Option<mpsc::Sender<qr::QrCmd>>,
    /// How bill payments are watched.
    pub payment: PaymentTiming,
    /// Transcript file (JSON lines), if one is kept.
    pub transcript: Option<PathBuf>,
    /// Whether the system clock is synchronised: an order accepted while it
    /// is not records its time as unverified.
    pub clock: Arc<dyn crate::clock::ClockSync>,
}

/// Counters the status snapshot reads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sessions started.
    pub sessions: std::sync::atomic::AtomicU64,
    /// Orders accepted.
    pub orders: std::sync::atomic::AtomicU64,
    /// A citizen asked for staff and is waiting (shown in `/status`).
    pub assistance: std::sync::atomic::AtomicBool,
    /// Bill payments central confirmed.
    pub payments: std::sync::atomic::AtomicU64,
    /// Orders the store could not save (the citizen was told so): each is
    /// an alarm in `/status` until the kiosk restarts.
    pub accept_failures: std::sync::atomic::AtomicU64,
    /// Why provisioning refused the `kiosk.toml` left on the boot
    /// partition (`drop-refused.txt` in the data folder), shown in
    /// `/status` until a good one is applied.
    pub drop_refused: std::sync::OnceLock<String>,
    /// The staff override is locked until then (Unix seconds; 0: never
    /// locked since start): an alarm in `/status` while it lasts.
    pub staff_locked_until: std::sync::atomic::AtomicI64,
    /// The config holds the staff PIN only as the former unsalted hash
    /// (not accepted any more): an alarm.
    pub staff_pin_unsalted: std::sync::atomic::AtomicBool,
}

/// Runs the flow: owns the state, steps events, carries out effects.
pub struct Runner {
    services: Services,
    state: State,
    seq: u64,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    screen: watch::Sender<Screen>,
    /// Every state entered, for the touchscreen (see `gui::feed`).
    feed: crate::gui::feed::StateFeed,
    transcript: Option<tokio::fs::File>,
    /// The armed timer: only the newest generation matters to the flow.
    timer: Option<tokio::task::JoinHandle<()>>,
    /// The task polling a bill payment, if one runs.
    payment_watch: Option<tokio::task::JoinHandle<()>>,
    counters: Arc<Counters>,
    /// The staff credentials the config accepts.
    staff: Arc<crate::staff::StaffGate>,
}

/// Why the runner stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The transcript could not be written.
    #[error("cannot write the transcript {path}: {source}")]
    Transcript {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Runner {
    /// A runner on the attract screen.
    pub fn new(services: Services) -> Self {
        let (events_tx, events_rx) = mpsc::channel(64);
        let state = State::new();
        let (screen, _) = watch::channel(Screen::of(0, &state));
        let cfg = &services.flow.config;
        let staff = Arc::new(crate::staff::StaffGate::new(
            cfg.staff_pin_argon2.as_deref(),
            &cfg.staff_card_sha256,
        ));
        let counters = Counters::default();
        // A lockout from before a restart still holds.
        if let Ok(l) = services.store.staff_lockout() {
            if let Some(until) = l.locked(Utc::now()) {
                counters
                    .staff_locked_until
                    .store(until.timestamp(), std::sync::atomic::Ordering::Relaxed);
            }
        }
        Self {
            services,
            state,
            seq: 0,
            events_tx,
            events_rx,
            screen,
            feed: crate::gui::feed::StateFeed::default(),
            transcript: None,
            timer: None,
            payment_watch: None,
            counters: Arc::new(counters),
            staff,
        }
    }

    /// Where the UI, devices and timers send events.
    pub fn events(&self) -> mpsc::Sender<Event> {
        self.events_tx.clone()
    }

    /// The screen state, for a UI or a scripted citizen.
    pub fn screen(&self) -> watch::Receiver<Screen> {
        self.screen.subscribe()
    }

    /// Every state the flow enters, for the touchscreen.
    pub fn state_feed(&self) -> crate::gui::feed::StateFeed {
        self.feed.clone()
    }

    /// Session and order counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Steps events until `shutdown` resolves.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), RunError> {
        if let Some(path) = &self.services.transcript {
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .map_err(|source| RunError::Transcript {
                    path: path.clone(),
                    source,
                })?;
            self.transcript = Some(file);
        }
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                _ = &mut shutdown => break,
                e = self.events_rx.recv() => match e {
                    Some(e) => e,
                    None => break,
                },
            };
            self.handle(event).await?;
        }
        self.disarm();
        self.feed.close();
        if let Some(f) = self.transcript.as_mut() {
            let _ = f.flush().await;
        }
        Ok(())
    }

    /// Steps one event and carries out its effects.
    pub async fn handle(&mut self, event: Event) -> Result<(), RunError> {
        // A member of staff's credential is checked here, never by the
        // flow: slow hashes off the async workers, the lockout and its
        // audit record in the store.
        let event = match event {
            Event::StaffConfirm {
                auth,
                name,
                id_number,
            } if self.state.phase == Phase::WaitingStaff => Event::StaffChecked {
                verdict: self.check_staff(auth).await,
                name,
                id_number,
            },
            e => e,
        };
        let now = Utc::now();
        let from = self.state.phase.name();
        let name = event.name();
        let starts = matches!(event, Event::Start);
        let line = match self.services.flow.step(self.state.clone(), event, now) {
            Ok((next, effects)) => {
                if starts {
                    self.counters
                        .sessions
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                self.state = next;
                self.seq += 1;
                self.screen.send_replace(Screen::of(self.seq, &self.state));
                self.feed.publish(&self.state);
                for fx in effects {
                    self.execute(fx).await;
                }
                TranscriptLine {
                    t: now,
                    event: name,
                    from,
                    state: self.state.phase.name(),
                    refused: None,
                    problem: self
                        .state
                        .session
                        .as_ref()
                        .and_then(|s| s.problem.as_ref())
                        .map(problem_code),
                }
            }
            Err(d) => {
                warn!(event = name, screen = from, "event refused: {d}");
                TranscriptLine {
                    t: now,
                    event: name,
                    from,
                    state: from,
                    refused: Some(d.to_string()),
                    problem: None,
                }
            }
        };
        self.write_transcript(&line).await
    }

    /// Checks a member of staff's credential against the config, under the
    /// lockout (see [`crate::staff`]). A store that cannot record the try
    /// refuses it.
    async fn check_staff(&self, auth: crate::flow::StaffAuth) -> crate::staff::StaffVerdict {
        use crate::staff::StaffVerdict;
        let store = self.services.store.clone();
        let gate = self.staff.clone();
        let device = self.services.device_id.clone();
        let verdict =
            tokio::task::spawn_blocking(move || store.staff_try(&device, || gate.check(&auth)))
                .await;
        match verdict {
            Ok(Ok(v)) => {
                match v {
                    StaffVerdict::LockedOut { until } => {
                        warn!(%until, "staff override locked after {} wrong tries", crate::staff::MAX_FAILURES);
                        self.counters
                            .staff_locked_until
                            .store(until.timestamp(), std::sync::atomic::Ordering::Relaxed);
                    }
                    StaffVerdict::Refused => warn!("staff credential refused"),
                    StaffVerdict::Accepted(c) => {
                        info!(credential = c.as_str(), "staff credential accepted")
                    }
                }
                v
            }
            Ok(Err(e)) => {
                tracing::error!("the staff try could not be recorded, refused: {e}");
                StaffVerdict::Refused
            }
            Err(e) => {
                tracing::error!("the staff check stopped: {e}");
                StaffVerdict::Refused
            }
        }
    }

    async fn write_transcript(&mut self, line: &TranscriptLine) -> Result<(), RunError> {
        let (Some(f), Some(path)) = (self.transcript.as_mut(), &self.services.transcript) else {
            return Ok(());
        };
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        let written = match f.write_all(&bytes).await {
            // tokio's File hands writes to a blocking thread: flush so each
            // line is on disk before the next step, even if we are killed.
            Ok(()) => f.flush().await,
            Err(e) => Err(e),
        };
        written.map_err(|source| RunError::Transcript {
            path: path.clone(),
            source,
        })
    }

    async fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::StartTimer { timer, after_secs } => {
                let tx = self.events_tx.clone();
                let secs = u64::try_from(after_secs).unwrap_or(0);
                // Only the newest timer matters: the flow ignores older
                // generations, so don't let them fire at all.
                self.disarm();
                self.timer = Some(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    let _ = tx.send(Event::Timeout { timer }).await;
                }));
            }
            Effect::FetchReference => self.fetch_reference(),
            Effect::StartFaceCheck => {
                let sent = match &self.services.face {
                    Some(face) => face.send(face::FaceCmd::Start).await.is_ok(),
                    None => false,
                };
                if !sent {
                    let _ = self
                        .events_tx
                        .send(Event::FaceDecided(Err(
                            crate::flow::FaceFailure::CameraFault,
                        )))
                        .await;
                }
            }
            Effect::StopFaceCheck => {
                if let Some(face) = &self.services.face {
                    let _ = face.send(face::FaceCmd::Stop).await;
                }
            }
            Effect::ReadCard => self.send_reader(ReaderCmd::Read).await,
            Effect::StopCardRead => self.send_reader(ReaderCmd::Stop).await,
            Effect::FetchCertificates { kinds } => {
                let session = self.state.session.as_ref();
                // A company's certificates are fetched by its credit code,
                // a resident's by their ID number.
                let subject = session.and_then(|s| match &s.company {
                    Some(c) => Some(kiosk_drivers::pii::Personal::new(c.credit_code.clone())),
                    None => s
                        .applicant
                        .as_ref()
                        .map(|c| kiosk_drivers::pii::Personal::new(c.id_number.expose())),
                });
                let address = session.and_then(|s| s.account.as_ref().map(|a| a.address.clone()));
                let tx = self.events_tx.clone();
                let central = self.services.central.clone();
                let consent_id = consent_id("consent", &self.services.device_id);
                tokio::spawn(async move {
                    let result = match subject {
                        None => Err(FetchProblem::Refused("no subject".into())),
                        Some(subject) => {
                            let req = CertificatesRequest {
                                subject,
                                address,
                                kinds,
                                consent_id,
                            };
                            central
                                .certificates(&req)
                                .await
                                .map_err(|e| {
                                    if e.retry_later() {
                                        FetchProblem::Unavailable
                                    } else {
                                        FetchProblem::Refused(e.to_string())
                                    }
                                })
                                .map(|r| crate::flow::Fetched {
                                    found: r.found,
                                    missing: r.missing,
                                })
                        }
                    };
                    let _ = tx.send(Event::CertificatesFetched(result)).await;
                });
            }
            Effect::AcceptOrder(order) => self.accept(*order).await,
            Effect::PrintReceipt { local_id } => {
                let receipt = match self.services.store.order(&local_id) {
                    Ok(Some(order)) => Box::new(receipt_for(
                        &order,
                        &self.services.receipt,
                        self.services.flow.config.time_zone,
                    )),
                    Ok(None) | Err(_) => {
                        let _ = self
                            .events_tx
                            .send(Event::ReceiptPrinted(
                                Err("order not found in store".into()),
                            ))
                            .await;
                        return;
                    }
                };
                if self
                    .services
                    .printer
                    .send(PrinterCmd::Print { local_id, receipt })
                    .await
                    .is_err()
                {
                    let _ = self
                        .events_tx
                        .send(Event::ReceiptPrinted(Err("printer actor stopped".into())))
                        .await;
                }
            }
            Effect::SubmitRating {
                subject,
                stars,
                comment,
            } => {
                let store = self.services.store.clone();
                let res = tokio::task::spawn_blocking(move || match subject {
                    crate::flow::RatingSubject::Order(local_id) => {
                        store.enqueue_rating(&local_id, stars, comment.as_deref())
                    }
                    crate::flow::RatingSubject::Service(subject) => {
                        store.enqueue_service_rating(crate::store::ServiceRating {
                            subject,
                            stars,
                            comment,
                        })
                    }
                })
                .await;
                match res {
                    Ok(Ok(())) => self.services.sync_wake.notify_one(),
                    Ok(Err(e)) => warn!("rating not stored: {e}"),
                    Err(e) => warn!("rating task failed: {e}"),
                }
            }
            Effect::LookupAccount { account_no, holder } => self.lookup_account(account_no, holder),
            Effect::StartQrScan => self.send_qr(qr::QrCmd::Start).await,
            Effect::StopQrScan => self.send_qr(qr::QrCmd::Stop).await,
            Effect::VerifyEid { payload } => self.verify_eid(payload),
            Effect::RequestAssistance => self.request_assistance(),
            Effect::EndAssistance => self
                .counters
                .assistance
                .store(false, std::sync::atomic::Ordering::Relaxed),
            Effect::FetchPushed => self.fetch_pushed(),
            Effect::CreatePayment {
                account_no,
                amount_fen,
            } => self.create_payment(account_no, amount_fen),
            Effect::WatchPayment { payment_id } => self.watch_payment(payment_id),
            Effect::StopPaymentWatch => {
                if let Some(t) = self.payment_watch.take() {
                    t.abort();
                }
            }
            Effect::PrintInvoice(payment) => self.print_invoice(*payment).await,
            Effect::FetchProgress { reference } => self.fetch_progress(reference),
            Effect::Wipe => {
                // The flow dropped the session (its personal fields zeroize
                // on drop); nothing else in the runner holds personal data
                // (the face actor wiped its frames and reference on
                // StopFaceCheck, which the flow sends with every wipe).
                self.disarm();
                info!("session ended and wiped");
            }
        }
    }

    /// Fetches the reference photo for the claimed identity in a task that
    /// hands it straight to the face actor: the runner never holds it.
    fn fetch_reference(&self) {
        use crate::flow::ReferenceProblem;
        let claimed = self.state.session.as_ref().and_then(|s| s.claimed.as_ref());
        let request = claimed.map(|c| crate::central::ReferenceRequest {
            name: c.name.clone(),
            id_number: c.id_number.clone(),
            consent_id: consent_id("face-consent", &self.services.device_id),
        });
        let central = self.services.central.clone();
        let face = self.services.face.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let result = match (request, face) {
                (None, _) => Err(ReferenceProblem::NotFound),
                (Some(_), None) => Err(ReferenceProblem::Unavailable),
                (Some(req), Some(face)) => match central.reference_photo(&req).await {
                    Ok(photo) => match photo.jpeg() {
                        Some(bytes) => face
                            .send(face::FaceCmd::Reference(zeroize::Zeroizing::new(bytes)))
                            .await
                            .map_err(|_| ReferenceProblem::Unavailable),
                        None => Err(ReferenceProblem::Unavailable),
                    },
                    Err(crate::central::CentralError::NotFound { .. }) => {
                        Err(ReferenceProblem::NotFound)
                    }
                    Err(e) => {
                        warn!("reference photo: {e}");
                        Err(ReferenceProblem::Unavailable)
                    }
                },
            };
            let _ = tx.send(Event::ReferenceFetched(result)).await;
        });
    }

    /// Aborts the armed timer, if any.
    fn disarm(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }

    async fn send_reader(&self, cmd: ReaderCmd) {
        if self.services.reader.send(cmd).await.is_err() && cmd == ReaderCmd::Read {
            let _ = self
                .events_tx
                .send(Event::CardRead(Err(crate::flow::CardProblem::ReaderFault)))
                .await;
        }
    }

    /// Writes and flushes the order, tries central once briefly, then tells
    /// the flow. The citizen hears "accepted" only after the flush.
    async fn accept(&mut self, mut order: Order) {
        let store = self.services.store.clone();
        let device = self.services.device_id.clone();
        let today = self.services.flow.config.today(Utc::now());
        order.time_unverified = !self.services.clock.synchronized();
        if order.time_unverified {
            warn!("order accepted while the clock is not synchronised: its time is unverified");
        }
        let written = tokio::task::spawn_blocking(move || {
            let id = store.next_local_id(&device, today)?;
            order.local_id = id;
            store.accept(&order)?;
            Ok::<Order, crate::store::StoreError>(order)
        })
        .await;
        let order = match written {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                warn!("order not accepted: {e}");
                self.counters
                    .accept_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = self.events_tx.send(Event::OrderFailed(e.to_string())).await;
                return;
            }
            Err(e) => {
                warn!("order not accepted: the store task failed: {e}");
                self.counters
                    .accept_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = self.events_tx.send(Event::OrderFailed(e.to_string())).await;
                return;
            }
        };
        self.counters
            .orders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let local_id = order.local_id.clone();
        let central_no = tokio::time::timeout(
            self.services.immediate_sync,
            sync::deliver_order(&self.services.store, &self.services.central, &order),
        )
        .await
        .ok()
        .and_then(|r| r.ok());
        // Whatever happened, the sync task owns delivery from here on.
        self.services.sync_wake.notify_one();
        let _ = self
            .events_tx
            .send(Event::OrderStored {
                local_id,
                central_no,
            })
            .await;
    }
}

/// A consent's id as central receives it: the kind, the device, and 96
/// random bits. The runner's step counter restarts with the process, so an
/// id made from it named two different consents after a restart.
pub fn consent_id(kind: &str, device_id: &str) -> String {
    format!("{kind}-{device_id}-{:024x}", rand::random::<u128>() >> 32)
}

/// The receipt of an order: every personal value masked.
pub fn receipt_for(
    order: &Order,
    cfg: &crate::config::ReceiptConfig,
    zone: crate::flow::ServiceZone,
) -> kiosk_drivers::printer::Receipt {
    let local = order.accepted_at.with_timezone(&zone.0);
    let accepted = business::receipt_lines(order, cfg);
    let mut accepted_at = local.format("%Y-%m-%d %H:%M:%S").to_string();
    let footer = if order.time_unverified {
        accepted_at.push_str("（时钟未校准）");
        vec![match order.central_received_at {
            Some(at) => format!(
                "本机时钟未校准，以供电服务中心收单时间为准：{}",
                at.with_timezone(&zone.0).format("%Y-%m-%d %H:%M:%S")
            ),
            None => "本机时钟未校准，受理时间以供电服务中心收单时间为准".to_string(),
        }]
    } else {
        vec!["订单受理时间以本回执为准".to_string()]
    };
    kiosk_drivers::printer::Receipt {
        title: cfg.title.clone(),
        business: order.business.title_zh().to_string(),
        local_id: order.local_id.clone(),
        central_no: order.central_no.clone(),
        accepted_at,
        masked_name: order.personal.name.masked_name(),
        masked_id: order.personal.id_number.masked(),
        accepted,
        missing: order
            .missing
            .iter()
            .map(|m| {
                (
                    m.kind.title_zh().to_string(),
                    m.deadline.format("%Y-%m-%d").to_string(),
                )
            })
            .collect(),
        qr_payload: format!("{}{}", cfg.progress_url, order.local_id),
        service_phone: cfg.service_phone.clone(),
        footer,
        kind: kiosk_drivers::printer::ReceiptKind::Acceptance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::central::client::ClientConfig;
    use crate::model::Business;

    /// A runner whose devices are bare channels and whose central service
    /// is a closed port: enough for everything that needs no device.
    fn runner(dir: &std::path::Path) -> (Runner, mpsc::Receiver<ReaderCmd>) {
        runner_on(Arc::new(Store::open(dir).expect("store")), Flow::default())
    }

    /// [`runner`] on a store already open, with a flow config.
    fn runner_on(store: Arc<Store>, flow: Flow) -> (Runner, mpsc::Receiver<ReaderCmd>) {
        let (reader, reader_rx) = mpsc::channel(8);
        let (printer, _printer_rx) = mpsc::channel(8);
        let central =
            Arc::new(CentralClient::new(ClientConfig::new("http://127.0.0.1:9")).expect("client"));
        let services = Services {
            flow,
            store,
            central,
            device_id: "T1".into(),
            receipt: crate::config::ReceiptConfig::default(),
            immediate_sync: Duration::from_millis(100),
            sync_wake: Arc::new(Notify::new()),
            reader,
            printer,
            face: None,
            qr: None,
            payment: PaymentTiming::default(),
            transcript: None,
            clock: Arc::new(crate::clock::Trusted),
        };
        (Runner::new(services), reader_rx)
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_screen_warns_then_wipes_back_to_attract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (runner, mut reader) = runner(dir.path());
        let events = runner.events();
        let screen = runner.screen();
        let task = tokio::spawn(runner.run(std::future::pending()));
        events.send(Event::Start).await.expect("send");
        events
            .send(Event::ChooseBusiness(Business::NewConnection))
            .await
            .expect("send");
        events
            .send(Event::ChooseIdentity(crate::model::IdentityMethod::IdCard))
            .await
            .expect("send");
        settle().await;
        assert_eq!(screen.borrow().phase, "reading-card");
        assert_eq!(reader.recv().await, Some(ReaderCmd::Read));

        tokio::time::sleep(Duration::from_secs(89)).await;
        settle().await;
        assert_eq!(screen.borrow().phase, "reading-card", "not yet");
        tokio::time::sleep(Duration::from_secs(2)).await;
        settle().await;
        assert_eq!(screen.borrow().phase, "timeout-warning");
        assert_eq!(screen.borrow().resumes, Some("reading-card"));

        events.send(Event::MoreTime).await.expect("send");
        settle().await;
        assert_eq!(screen.borrow().phase, "reading-card", "more time resumes");

        tokio::time::sleep(Duration::from_secs(91)).await;
        settle().await;
        assert_eq!(screen.borrow().phase, "timeout-warning");
        tokio::time::sleep(Duration::from_secs(31)).await;
        settle().await;
        assert_eq!(screen.borrow().phase, "attract", "wiped");
        assert_eq!(reader.recv().await, Some(ReaderCmd::Stop), "reader stopped");
        task.abort();
    }

    /// A store in `dir` and a flow offering every method, with the staff
    /// PIN 2468.
    fn staff_setup(dir: &std::path::Path) -> (Arc<Store>, Flow) {
        let store = Arc::new(Store::open(dir).expect("store"));
        let mut flow = Flow::default();
        flow.config.identity_methods = crate::model::IdentityMethod::ALL.to_vec();
        flow.config.staff_pin_argon2 = Some(crate::staff::PinHash::new("2468").as_str().into());
        (store, flow)
    }

    /// Five wrong PINs lock the override: the fifth and every try after it
    /// (the right PIN too) are refused as locked, `/status`'s counter holds
    /// the end of the lock, each try is an audit record that names no PIN,
    /// and a restart on the same store is still locked.
    #[tokio::test]
    async fn five_wrong_staff_pins_lock_the_override_even_across_a_restart() {
        use crate::flow::StaffAuth;
        use kiosk_drivers::pii::Personal;
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, flow) = staff_setup(dir.path());
        let (mut r, _reader) = runner_on(store.clone(), flow.clone());
        for e in [
            Event::Start,
            Event::ChooseBusiness(Business::NewConnection),
            Event::ChooseIdentity(crate::model::IdentityMethod::CallStaff),
        ] {
            r.handle(e).await.expect("step");
        }
        let confirm = |pin: &str| Event::StaffConfirm {
            auth: StaffAuth::Pin(Personal::new(pin)),
            name: Personal::new("张伟"),
            id_number: Personal::new("330106199001010026"),
        };
        let problem = |r: &Runner| r.screen.borrow().problem.clone();
        for wrong in ["1111", "1234", "0000", "2469"] {
            r.handle(confirm(wrong)).await.expect("step");
            assert_eq!(problem(&r).as_deref(), Some("staff-auth-failed"), "{wrong}");
        }
        assert_eq!(r.counters.staff_locked_until.load(Ordering::Relaxed), 0);
        r.handle(confirm("8642")).await.expect("step");
        assert_eq!(problem(&r).as_deref(), Some("staff-locked-out"));
        let until = r.counters.staff_locked_until.load(Ordering::Relaxed);
        assert!(until > Utc::now().timestamp() + 14 * 60, "{until}");
        r.handle(confirm("2468")).await.expect("step");
        assert_eq!(
            problem(&r).as_deref(),
            Some("staff-locked-out"),
            "the right PIN, locked"
        );
        assert_eq!(r.screen.borrow().phase, "waiting-staff");

        let tries: Vec<_> = store
            .audit_records()
            .expect("audit")
            .into_iter()
            .filter(|a| a.event == "staff-auth")
            .collect();
        let results: Vec<&str> = tries
            .iter()
            .map(|a| a.detail["result"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            results,
            [
                "refused",
                "refused",
                "refused",
                "refused",
                "locked",
                "refused-locked"
            ]
        );
        let text = serde_json::to_string(&tries).expect("json");
        for pin in ["1111", "2468", "8642"] {
            assert!(!text.contains(pin), "a PIN in the audit log: {text}");
        }
        assert!(store.audit_verify().expect("verify").is_ok());

        // A restart: the same store, a new runner, still locked.
        drop(r);
        let (r, _reader) = runner_on(store, flow);
        assert_eq!(r.counters.staff_locked_until.load(Ordering::Relaxed), until);
    }

    #[test]
    fn consent_ids_do_not_repeat_across_restarts() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| consent_id("consent", "K-1A2B3C4D"))
            .collect();
        assert_eq!(ids.len(), 1000);
        let one = consent_id("face-consent", "K-1A2B3C4D");
        let (prefix, random) = one.rsplit_once('-').expect("a dash");
        assert_eq!(prefix, "face-consent-K-1A2B3C4D");
        assert_eq!(random.len(), 24);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    /// An order accepted while the clock is not synchronised says so, and
    /// so does its receipt: first that central's receipt time counts, then,
    /// once central answered, that time.
    #[tokio::test]
    async fn an_order_accepted_on_an_unsynchronised_clock_is_marked_unverified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let (mut r, _reader) = runner_on(store.clone(), Flow::default());
        let clock = Arc::new(crate::clock::Manual::new(false));
        r.services.clock = clock.clone();
        r.accept(crate::store::testing::sample_order("")).await;
        clock.set(true);
        r.accept(crate::store::testing::sample_order("")).await;
        let mut orders = store.orders().expect("orders");
        orders.sort_by(|a, b| a.local_id.cmp(&b.local_id));
        let flags: Vec<bool> = orders.iter().map(|o| o.time_unverified).collect();
        assert_eq!(flags, [true, false]);
        let zone = crate::flow::ServiceZone::default();
        let cfg = crate::config::ReceiptConfig::default();
        let unverified = receipt_for(&orders[0], &cfg, zone);
        assert!(
            unverified.accepted_at.ends_with("（时钟未校准）"),
            "{}",
            unverified.accepted_at
        );
        assert_eq!(
            unverified.footer,
            ["本机时钟未校准，受理时间以供电服务中心收单时间为准"]
        );
        assert!(
            crate::central::OrderSubmission::from_order(&orders[0]).time_unverified,
            "central is told"
        );
        let verified = receipt_for(&orders[1], &cfg, zone);
        assert_eq!(verified.footer, ["订单受理时间以本回执为准"]);
        assert!(!verified.accepted_at.contains("未校准"));

        // Central answered with its receipt time: the receipt gives it.
        let received = chrono::DateTime::parse_from_rfc3339("2026-12-05T02:03:04Z")
            .expect("time")
            .with_timezone(&Utc);
        store
            .mark_synced_at(&orders[0].local_id, "2026120500001", Some(received))
            .expect("synced");
        let synced = store
            .order(&orders[0].local_id)
            .expect("read")
            .expect("order");
        assert_eq!(synced.central_received_at, Some(received));
        assert!(synced.time_unverified);
        assert_eq!(
            receipt_for(&synced, &cfg, zone).footer,
            ["本机时钟未校准，以供电服务中心收单时间为准：2026-12-05 10:03:04"]
        );
    }

    /// The right PIN confirms, and the audit record says which credential.
    #[tokio::test]
    async fn the_right_staff_pin_confirms_and_is_audited() {
        use crate::flow::StaffAuth;
        use kiosk_drivers::pii::Personal;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, flow) = staff_setup(dir.path());
        let (mut r, _reader) = runner_on(store.clone(), flow);
        for e in [
            Event::Start,
            Event::ChooseBusiness(Business::NewConnection),
            Event::ChooseIdentity(crate::model::IdentityMethod::CallStaff),
            Event::StaffConfirm {
                auth: StaffAuth::Pin(Personal::new("2468")),
                name: Personal::new("张伟"),
                id_number: Personal::new("330106199001010026"),
            },
        ] {
            r.handle(e).await.expect("step");
        }
        assert_ne!(r.screen.borrow().phase, "waiting-staff");
        let last = store
            .audit_records()
            .expect("audit")
            .into_iter()
            .rfind(|a| a.event == "staff-auth")
            .expect("a staff-auth record");
        assert_eq!(last.detail["result"], "accepted");
        assert_eq!(last.detail["credential"], "pin");
    }

    #[tokio::test(start_paused = true)]
    async fn calling_staff_raises_the_assistance_flag_until_the_citizen_leaves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut runner, _reader) = runner(dir.path());
        runner.services.flow.config.identity_methods = crate::model::IdentityMethod::ALL.to_vec();
        let counters = runner.counters();
        let events = runner.events();
        let screen = runner.screen();
        let task = tokio::spawn(runner.run(std::future::pending()));
        let flag = || {
            counters
                .assistance
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        for e in [
            Event::Start,
            Event::ChooseBusiness(Business::NewConnection),
            Event::ChooseIdentity(crate::model::IdentityMethod::CallStaff),
        ] {
            events.send(e).await.expect("send");
        }
        settle().await;
        assert_eq!(screen.borrow().phase, "waiting-staff");
        assert!(flag(), "raised while the citizen waits");
        events.send(Event::Cancel).await.expect("send");
        settle().await;
        assert_eq!(screen.borrow().phase, "attract");
        assert!(!flag(), "lowered when the session ends");
        task.abort();
    }

    #[tokio::test]
    async fn a_refused_event_is_reported_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path().join("t.jsonl");
        let (mut runner, _reader) = runner(dir.path());
        runner.services.transcript = Some(t.clone());
        let events = runner.events();
        let screen = runner.screen();
        let task = tokio::spawn(runner.run(std::future::pending()));
        events.send(Event::Confirm).await.expect("send");
        events.send(Event::Start).await.expect("send");
        for _ in 0..100 {
            if screen.borrow().phase == "choose-business" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        let text = std::fs::read_to_string(&t).expect("transcript");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"refused\""), "{}", lines[0]);
        assert!(lines[0].contains("\"state\":\"attract\""));
        assert!(lines[1].contains("\"state\":\"choose-business\""));
    }
}
