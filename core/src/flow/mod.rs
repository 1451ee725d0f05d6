//! The business flow as a pure state machine.
//!
//! [`Flow::step`] takes the current [`State`], an [`Event`] (a touch on the
//! screen, a device result, a timer) and the time the runtime stamped on it,
//! and returns the next state and the [`Effect`]s the runtime must carry out
//! (read the card, fetch certificates, accept the order, print, arm a timer,
//! wipe). It never touches a device, a clock or the network, so every
//! transition is tested without them.
//!
//! Any event that the current phase does not expect is a typed
//! [`Disallowed`] error, never a panic, and leaves the state unchanged
//! (the caller keeps its copy). Matches over `(phase, event)` list every
//! allowed pair; the fall-through arm is the one place that refuses.
//!
//! A session's personal data lives in [`Session`]; it is dropped (and its
//! personal fields zeroized) when the session ends, whichever way it ends.

mod session;
#[cfg(test)]
mod tests;

mod branches;

pub use crate::staff::staff_secret_sha256;
pub use branches::{
    capacity_rule_applies, needs_contract as needs_contract_for, parse_account_no,
    parse_progress_reference, plausible_eid_payload, RatingPhrase,
};
pub use session::{
    signature_hash, Accepted, AccountProblem, CardIdentity, CardProblem, EidProblem, FaceFailure,
    FaceProblem, FetchProblem, FormInput, FormProblem, PayProblem, Problem, QueryProblem,
    ReferenceProblem, Session, StaffProblem, Stroke,
};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use crate::model::{
    capacity_route, Application, Business, CapacityPolicy, Certificate, CertificateKind,
    Commitment, IdentityCheck, IdentityMethod, MissingDocument, Order, OrderPersonal, OrderStatus,
    SupplyRoute,
};

/// Policy and timing parameters of the flow: the `[flow]` section of the
/// config; the central catalog overrides the capacity limits when reachable.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct FlowConfig {
    /// Businesses this kiosk offers now.
    pub businesses: Vec<Business>,
    /// Identity methods this kiosk offers now (the others are shown but disabled).
    pub identity_methods: Vec<IdentityMethod>,
    /// Low-voltage limit, kW (160).
    pub low_voltage_kw: f64,
    /// Limit inside a registered micro-enterprise park, kW (300).
    pub micro_park_kw: f64,
    /// Seconds a citizen may stay idle on a screen before the warning.
    pub idle_secs: i64,
    /// Seconds the timeout warning stays before the session is wiped.
    pub warn_secs: i64,
    /// Factor applied to both in elderly mode (more time).
    pub elderly_factor: i64,
    /// Card read attempts before the citizen is sent back to choose a method.
    pub card_attempts: u8,
    /// Face check attempts per session (a liveness failure ends the path at once).
    pub face_attempts: u8,
    /// Youngest age allowed on the face path.
    pub face_min_age: u32,
    /// Default days until a missing document is due.
    pub commitment_days: i64,
    /// Latest deadline a citizen may choose, in days.
    pub commitment_max_days: i64,
    /// The service hall's civil time zone as a fixed UTC offset
    /// (`"+08:00"`, China Standard Time, which keeps no summer time). Every
    /// calendar date the kiosk shows, signs or stores (the commitment's
    /// deadline, card expiry, age, the day in a local order id) is the date
    /// in this zone ([`FlowConfig::today`]), whatever zone the board's
    /// clock is set to: one clock, one date on every screen and receipt.
    pub time_zone: ServiceZone,
    /// Version of the commitment letter text shown.
    pub commitment_text_version: String,
    /// The supply contract shown for e-signing (the central catalog's
    /// replaces this bundled one when reachable).
    pub contract: crate::central::ContractText,
    /// The staff PIN that confirms a citizen's identity after "call
    /// staff", as an argon2id hash (`kiosk staff hash-pin`); `None`: no
    /// PIN. Checked by the runtime, not the flow (see [`crate::staff`]).
    pub staff_pin_argon2: Option<String>,
    /// The former unsalted SHA-256 of the PIN: still read, never used; the
    /// kiosk shows an alarm until it is replaced by `staff_pin_argon2`.
    pub staff_pin_sha256: Option<String>,
    /// SHA-256 (hex, see [`staff_secret_sha256`]) of the ID numbers of
    /// staff cards that may confirm a citizen's identity.
    pub staff_card_sha256: Vec<String>,
}

impl FlowConfig {
    /// The capacity limits.
    pub fn capacity(&self) -> CapacityPolicy {
        CapacityPolicy {
            low_voltage_kw: self.low_voltage_kw,
            micro_park_kw: self.micro_park_kw,
        }
    }

    /// The calendar date at `now` in the service hall's time zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone.0).date_naive()
    }

    /// Takes the capacity limits of the central catalog.
    pub fn set_capacity(&mut self, policy: CapacityPolicy) {
        self.low_voltage_kw = policy.low_voltage_kw;
        self.micro_park_kw = policy.micro_park_kw;
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            businesses: vec![Business::NewConnection],
            identity_methods: vec![IdentityMethod::IdCard],
            low_voltage_kw: CapacityPolicy::default().low_voltage_kw,
            micro_park_kw: CapacityPolicy::default().micro_park_kw,
            idle_secs: 90,
            warn_secs: 30,
            elderly_factor: 2,
            card_attempts: 3,
            face_attempts: 3,
            face_min_age: 14,
            commitment_days: 30,
            commitment_max_days: 90,
            time_zone: ServiceZone::default(),
            commitment_text_version: "commitment-2026.1".into(),
            contract: branches::bundled_contract(),
            staff_pin_argon2: None,
            staff_pin_sha256: None,
            staff_card_sha256: Vec::new(),
        }
    }
}

/// A fixed UTC offset written `"+08:00"` (see [`FlowConfig::time_zone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ServiceZone(pub FixedOffset);

impl Default for ServiceZone {
    /// China Standard Time, UTC+8.
    fn default() -> Self {
        Self(FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"))
    }
}

impl TryFrom<String> for ServiceZone {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse::<FixedOffset>()
            .map(Self)
            .map_err(|_| format!("time_zone {text:?} is not a UTC offset like \"+08:00\""))
    }
}

/// Where the citizen is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Start screen: what the kiosk does, a big "start".
    Attract,
    /// Choose the business.
    ChooseBusiness,
    /// Choose how to prove identity (face, ID card, e-ID, call staff).
    ChooseIdentity,
    /// Waiting for the ID card on the reader.
    ReadingCard,
    /// Separate consent for the face check: purpose, what is captured, that it stays here.
    FaceConsent,
    /// Name and ID number typed for the face check.
    FaceIdentity,
    /// The reference photo being fetched from the trusted-identity service.
    FetchingReference,
    /// Looking at the camera, following the prompts.
    FaceCapture,
    /// Consent to fetch certificates from the data-sharing platform.
    ConsentCertificates,
    /// Certificates being fetched.
    FetchingCertificates,
    /// What was found and what is missing.
    ReviewCertificates,
    /// Missing documents: commitment letter signed on screen with a deadline.
    Commitment,
    /// The business form.
    Form,
    /// The capacity rule's outcome, and the high-voltage question.
    CapacityNotice,
    /// Review everything and confirm.
    Review,
    /// The order is being written (not cancellable).
    Submitting,
    /// Order accepted: receipt on screen and on paper.
    Receipt,
    /// Satisfaction rating.
    Rating,
    /// Something failed that the citizen cannot fix here (store failed).
    Fault,
    /// The electricity account number (account businesses, bill payment).
    AccountEntry,
    /// The account being looked up (and its holder checked) at central.
    FetchingAccount,
    /// Transfer: is the old holder here, or is the real-estate record enough?
    TransferParties,
    /// Transfer: the old holder's ID card on the reader.
    ReadingSecondCard,
    /// E-ID: the citizen shows the QR code of their electronic ID to the camera.
    ScanningEid,
    /// E-ID: central verifying the scanned code.
    VerifyingEid,
    /// "Call staff": help is coming; staff confirm the identity here.
    WaitingStaff,
    /// Checking central for orders started elsewhere.
    FetchingPushed,
    /// Orders started elsewhere, for confirmation.
    PushedOrders,
    /// The supply contract (or a pushed order) in pages, signed on screen.
    Contract,
    /// The amount due on the account, and "pay".
    BillDue,
    /// Central issuing a payment code.
    CreatingPayment,
    /// The payment QR code shown large, waiting for central's confirmation.
    Paying,
    /// Paid: central confirmed; the invoice prints.
    Paid,
    /// Not paid (timed out or expired): nothing was charged as far as the kiosk knows.
    PaymentFailed,
    /// Progress query: scan the receipt's QR code or type the order number.
    QueryEntry,
    /// The progress being fetched.
    FetchingProgress,
    /// Each step of the order with its start and finish time.
    Progress,
    /// "Do you need more time?"; resumes the phase it interrupted.
    TimeoutWarning(Box<Phase>),
}

impl Phase {
    /// Stable name for transcripts, status and screens.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Attract => "attract",
            Phase::ChooseBusiness => "choose-business",
            Phase::ChooseIdentity => "choose-identity",
            Phase::ReadingCard => "reading-card",
            Phase::FaceConsent => "face-consent",
            Phase::FaceIdentity => "face-identity",
            Phase::FetchingReference => "fetching-reference",
            Phase::FaceCapture => "face-capture",
            Phase::ConsentCertificates => "consent-certificates",
            Phase::FetchingCertificates => "fetching-certificates",
            Phase::ReviewCertificates => "review-certificates",
            Phase::Commitment => "commitment",
            Phase::Form => "form",
            Phase::CapacityNotice => "capacity-notice",
            Phase::Review => "review",
            Phase::Submitting => "submitting",
            Phase::Receipt => "receipt",
            Phase::Rating => "rating",
            Phase::Fault => "fault",
            Phase::AccountEntry => "account-entry",
            Phase::FetchingAccount => "fetching-account",
            Phase::TransferParties => "transfer-parties",
            Phase::ReadingSecondCard => "reading-second-card",
            Phase::ScanningEid => "scanning-eid",
            Phase::VerifyingEid => "verifying-eid",
            Phase::WaitingStaff => "waiting-staff",
            Phase::FetchingPushed => "fetching-pushed",
            Phase::PushedOrders => "pushed-orders",
            Phase::Contract => "contract",
            Phase::BillDue => "bill-due",
            Phase::CreatingPayment => "creating-payment",
            Phase::Paying => "paying",
            Phase::Paid => "paid",
            Phase::PaymentFailed => "payment-failed",
            Phase::QueryEntry => "query-entry",
            Phase::FetchingProgress => "fetching-progress",
            Phase::Progress => "progress",
            Phase::TimeoutWarning(_) => "timeout-warning",
        }
    }

    /// Whether the kiosk is waiting for the citizen here (so a timer runs).
    fn waits_for_citizen(&self) -> bool {
        match self {
            Phase::Attract
            | Phase::FetchingCertificates
            | Phase::FetchingReference
            | Phase::Submitting
            | Phase::FetchingAccount
            | Phase::VerifyingEid
            | Phase::FetchingPushed
            | Phase::CreatingPayment
            | Phase::Paying
            | Phase::FetchingProgress => false,
            Phase::FaceConsent | Phase::FaceIdentity | Phase::FaceCapture => true,
            Phase::ChooseBusiness
            | Phase::ChooseIdentity
            | Phase::ReadingCard
            | Phase::ConsentCertificates
            | Phase::ReviewCertificates
            | Phase::Commitment
            | Phase::Form
            | Phase::CapacityNotice
            | Phase::Review
            | Phase::Receipt
            | Phase::Rating
            | Phase::Fault
            | Phase::AccountEntry
            | Phase::TransferParties
            | Phase::ReadingSecondCard
            | Phase::ScanningEid
            | Phase::WaitingStaff
            | Phase::PushedOrders
            | Phase::Contract
            | Phase::BillDue
            | Phase::Paid
            | Phase::PaymentFailed
            | Phase::QueryEntry
            | Phase::Progress
            | Phase::TimeoutWarning(_) => true,
        }
    }
}

/// The whole state: the phase, the session's data, the armed timer.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Where the citizen is.
    pub phase: Phase,
    /// The session's data; `None` on the attract screen.
    pub session: Option<Session>,
    /// Generation of the timer armed last; older timers are ignored.
    pub timer: u64,
    /// Elderly mode (larger UI, more time). Kept across the session only.
    pub elderly: bool,
}

impl State {
    /// The attract screen, nothing armed.
    pub fn new() -> Self {
        Self {
            phase: Phase::Attract,
            session: None,
            timer: 0,
            elderly: false,
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// Something that happened: a touch, a device result, a timer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// "Start" on the attract screen.
    Start,
    /// Elderly mode switched on or off (any screen).
    SetElderly(bool),
    /// A business was chosen.
    ChooseBusiness(Business),
    /// An identity method was chosen.
    ChooseIdentity(IdentityMethod),
    /// The card reader finished an attempt.
    CardRead(Result<CardIdentity, CardProblem>),
    /// Consent to the face check given (`true`) or refused.
    FaceConsent(bool),
    /// Name and ID number typed for the face path.
    EnterIdentity {
        /// Name as typed.
        name: kiosk_drivers::pii::Personal,
        /// ID number as typed.
        id_number: kiosk_drivers::pii::Personal,
    },
    /// The reference photo was fetched (it goes to the face engine, never into the flow).
    ReferenceFetched(Result<(), ReferenceProblem>),
    /// The face engine decided: pass, or why not.
    FaceDecided(Result<(), FaceFailure>),
    /// Consent to fetch certificates given (`true`) or refused.
    CertificateConsent(bool),
    /// The certificate fetch finished.
    CertificatesFetched(Result<Fetched, FetchProblem>),
    /// "Continue" on an informational screen.
    Continue,
    /// The commitment letter was signed.
    SignCommitment {
        /// The signature as touch strokes (only its hash is kept).
        strokes: Vec<Stroke>,
        /// The deadline chosen, or the default.
        deadline: Option<NaiveDate>,
    },
    /// The business form was submitted.
    SubmitForm(FormInput),
    /// On the capacity notice: insist on high voltage (`true`) or take low voltage.
    InsistHighVoltage(bool),
    /// "Confirm and submit" on the review screen.
    Confirm,
    /// The order was written and flushed.
    OrderStored {
        /// Local order id.
        local_id: String,
        /// Central number if the immediate sync succeeded.
        central_no: Option<String>,
    },
    /// The store could not write the order.
    OrderFailed(String),
    /// The receipt printer finished (or failed: the order stands anyway).
    ReceiptPrinted(Result<(), String>),
    /// A rating (1–5) or `None` to skip.
    Rate(Option<u8>),
    /// "Back".
    Back,
    /// "Cancel" / "finish": end the session now.
    Cancel,
    /// "More time" on the timeout warning.
    MoreTime,
    /// A timer fired.
    Timeout {
        /// Generation of the timer.
        timer: u64,
    },
    /// On choose-identity (new connection): "I apply for a company".
    ApplyAsCompany {
        /// Unified social credit code as typed.
        credit_code: String,
        /// Legal representative or agent.
        role: crate::model::CompanyRole,
    },
    /// An account number typed.
    EnterAccount(String),
    /// "I don't know my account number": find it by my identity (bill payment).
    UseIdentity,
    /// The account lookup finished.
    AccountFetched(Result<crate::central::Account, AccountProblem>),
    /// Transfer: the old holder is here (`true`) or not.
    OldHolderPresent(bool),
    /// The camera decoded a QR code (e-ID, or a receipt for a progress query).
    QrScanned(String),
    /// Central verified (or refused) an electronic ID.
    EidVerified(Result<CardIdentity, EidProblem>),
    /// A member of staff confirms the citizen's identity (from the
    /// touchscreen). The runtime checks the credential (slow hashes, the
    /// lockout, the audit record) and steps [`Event::StaffChecked`]
    /// instead: the flow itself refuses this event.
    StaffConfirm {
        /// How the staff member proved who they are.
        auth: StaffAuth,
        /// The citizen's name, as staff typed it.
        name: kiosk_drivers::pii::Personal,
        /// The citizen's ID number, as staff typed it.
        id_number: kiosk_drivers::pii::Personal,
    },
    /// A member of staff's confirmation, its credential checked.
    StaffChecked {
        /// What the credential check said.
        verdict: crate::staff::StaffVerdict,
        /// The citizen's name, as staff typed it.
        name: kiosk_drivers::pii::Personal,
        /// The citizen's ID number, as staff typed it.
        id_number: kiosk_drivers::pii::Personal,
    },
    /// Central's pending pushed orders for the verified person (empty when
    /// none or unreachable: pushed orders never block a visit).
    PushedFetched(Vec<crate::central::PushedOrder>),
    /// A pushed order chosen for confirmation.
    ChoosePushed(String),
    /// The contract (or pushed order) signed.
    SignContract {
        /// The signature as touch strokes (only its hash is kept).
        strokes: Vec<Stroke>,
    },
    /// "Pay" on the bill.
    Pay,
    /// Central issued (or could not issue) the payment code.
    PaymentCreated(Result<crate::central::Payment, PayProblem>),
    /// The payment ended: paid (central confirmed, with the invoice) or not.
    PaymentFinished(PaymentOutcome),
    /// An order number typed for a progress query.
    EnterOrderNo(String),
    /// The progress query finished.
    ProgressFetched(Result<crate::central::OrderProgress, QueryProblem>),
    /// A rating with fixed-phrase comments.
    RateWith {
        /// 1–5.
        stars: u8,
        /// Comments picked from the fixed phrases.
        phrases: Vec<RatingPhrase>,
    },
}

/// How a member of staff proves who they are.
#[derive(Clone, PartialEq)]
pub enum StaffAuth {
    /// The staff PIN from the config.
    Pin(kiosk_drivers::pii::Personal),
    /// A staff card read on the reader: its ID number.
    Card(kiosk_drivers::pii::IdNumber),
}

impl std::fmt::Debug for StaffAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaffAuth::Pin(_) => f.write_str("StaffAuth::Pin(<hidden>)"),
            StaffAuth::Card(_) => f.write_str("StaffAuth::Card(<hidden>)"),
        }
    }
}

/// How a payment ended, as far as the kiosk can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    /// Central confirmed the payment and issued this invoice. The runtime
    /// sends this only on central's own `paid` answer.
    Paid(crate::central::Invoice),
    /// Not confirmed before the time limit, or expired: not paid.
    NotPaid,
}

impl Event {
    /// Stable name for transcripts: never carries the event's data.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::SetElderly(_) => "set-elderly",
            Event::ChooseBusiness(_) => "choose-business",
            Event::ChooseIdentity(_) => "choose-identity",
            Event::CardRead(Ok(_)) => "card-read",
            Event::CardRead(Err(_)) => "card-problem",
            Event::FaceConsent(true) => "face-consent",
            Event::FaceConsent(false) => "face-consent-refused",
            Event::EnterIdentity { .. } => "enter-identity",
            Event::ReferenceFetched(Ok(())) => "reference-fetched",
            Event::ReferenceFetched(Err(_)) => "reference-problem",
            Event::FaceDecided(Ok(())) => "face-passed",
            Event::FaceDecided(Err(_)) => "face-failed",
            Event::CertificateConsent(true) => "certificate-consent",
            Event::CertificateConsent(false) => "certificate-consent-refused",
            Event::CertificatesFetched(Ok(_)) => "certificates-fetched",
            Event::CertificatesFetched(Err(_)) => "certificates-fetch-failed",
            Event::Continue => "continue",
            Event::SignCommitment { .. } => "sign-commitment",
            Event::SubmitForm(_) => "submit-form",
            Event::InsistHighVoltage(_) => "insist-high-voltage",
            Event::Confirm => "confirm",
            Event::OrderStored { .. } => "order-stored",
            Event::OrderFailed(_) => "order-failed",
            Event::ReceiptPrinted(Ok(())) => "receipt-printed",
            Event::ReceiptPrinted(Err(_)) => "receipt-print-failed",
            Event::Rate(_) => "rate",
            Event::Back => "back",
            Event::Cancel => "cancel",
            Event::MoreTime => "more-time",
            Event::Timeout { .. } => "timeout",
            Event::ApplyAsCompany { .. } => "apply-as-company",
            Event::EnterAccount(_) => "enter-account",
            Event::UseIdentity => "use-identity",
            Event::AccountFetched(Ok(_)) => "account-fetched",
            Event::AccountFetched(Err(_)) => "account-problem",
            Event::OldHolderPresent(true) => "old-holder-present",
            Event::OldHolderPresent(false) => "old-holder-absent",
            Event::QrScanned(_) => "qr-scanned",
            Event::EidVerified(Ok(_)) => "eid-verified",
            Event::EidVerified(Err(_)) => "eid-refused",
            Event::StaffConfirm { .. } => "staff-confirm",
            Event::StaffChecked { .. } => "staff-checked",
            Event::PushedFetched(_) => "pushed-fetched",
            Event::ChoosePushed(_) => "choose-pushed",
            Event::SignContract { .. } => "sign-contract",
            Event::Pay => "pay",
            Event::PaymentCreated(Ok(_)) => "payment-created",
            Event::PaymentCreated(Err(_)) => "payment-problem",
            Event::PaymentFinished(PaymentOutcome::Paid(_)) => "payment-paid",
            Event::PaymentFinished(PaymentOutcome::NotPaid) => "payment-not-paid",
            Event::EnterOrderNo(_) => "enter-order-no",
            Event::ProgressFetched(Ok(_)) => "progress-fetched",
            Event::ProgressFetched(Err(_)) => "progress-problem",
            Event::RateWith { .. } => "rate",
        }
    }
}

/// Certificates the central service found, and the kinds it could not find.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// Found certificates.
    pub found: Vec<Certificate>,
    /// Kinds not found.
    pub missing: Vec<CertificateKind>,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Arm a timer; when it fires, send `Event::Timeout { timer }`.
    StartTimer {
        /// Generation.
        timer: u64,
        /// Seconds from now.
        after_secs: i64,
    },
    /// Start reading the ID card (poll until a card or a problem).
    ReadCard,
    /// Stop reading the card.
    StopCardRead,
    /// Fetch the reference photo for the claimed identity (kept by the runtime, transient).
    FetchReference,
    /// Start (or restart) a face check: camera on, a fresh random challenge.
    StartFaceCheck,
    /// Stop the face check: camera light off, frames and reference wiped.
    StopFaceCheck,
    /// Fetch certificates for the subject, with the consent given at `consent_at`.
    FetchCertificates {
        /// The kinds this business needs.
        kinds: Vec<CertificateKind>,
    },
    /// Write and flush the order, then answer `OrderStored` or `OrderFailed`.
    AcceptOrder(Box<Order>),
    /// Print the receipt of this order, then answer `ReceiptPrinted`.
    PrintReceipt {
        /// Local order id.
        local_id: String,
    },
    /// Store and sync a rating.
    SubmitRating {
        /// What is rated.
        subject: RatingSubject,
        /// 1–5.
        stars: u8,
        /// Fixed-phrase comment codes, comma-separated, if any.
        comment: Option<String>,
    },
    /// Look the account up at central (by number, or by the person's
    /// identity when `account_no` is `None`) and check `holder` holds it.
    LookupAccount {
        /// The account number, if typed.
        account_no: Option<String>,
        /// Whose holding to check.
        holder: Holder,
    },
    /// Start decoding QR codes from the camera; answer `QrScanned`.
    StartQrScan,
    /// Stop decoding QR codes.
    StopQrScan,
    /// Ask central to verify an e-ID payload; answer `EidVerified`.
    VerifyEid {
        /// The scanned payload.
        payload: String,
    },
    /// Ask central for a member of staff, and show it in `/status`.
    RequestAssistance,
    /// The assistance request is over (staff confirmed, or the citizen left).
    EndAssistance,
    /// Ask central for pushed orders for the verified person; answer `PushedFetched`.
    FetchPushed,
    /// Ask central for a payment code; answer `PaymentCreated`.
    CreatePayment {
        /// The account.
        account_no: String,
        /// Amount, fen.
        amount_fen: i64,
    },
    /// Poll central for the payment's state until paid, expired or the
    /// time limit; answer `PaymentFinished`.
    WatchPayment {
        /// Central's payment id.
        payment_id: String,
    },
    /// Stop polling the payment.
    StopPaymentWatch,
    /// Print the invoice of a paid payment; answer `ReceiptPrinted`.
    PrintInvoice(Box<crate::central::Payment>),
    /// Fetch an order's progress (a local id or a central number); answer `ProgressFetched`.
    FetchProgress {
        /// What was typed or scanned.
        reference: String,
    },
    /// The session ended: its personal data has been dropped; clear devices too.
    Wipe,
}

/// What a rating is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingSubject {
    /// An order accepted here (its local id).
    Order(String),
    /// A service without a local order: a payment id or a queried order number.
    Service(String),
}

/// Whose holding of an account to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Nobody: just look the account up.
    Nobody,
    /// The verified applicant.
    Applicant,
    /// A transfer's old holder.
    OldHolder,
}

/// An event the current phase does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disallowed {
    /// The event makes no sense in this phase.
    #[error("event `{event}` is not allowed on screen `{phase}`")]
    Event {
        /// Phase name.
        phase: &'static str,
        /// Event name.
        event: &'static str,
    },
    /// The business is not offered by this kiosk.
    #[error("business `{0}` is not offered here")]
    BusinessNotOffered(&'static str),
    /// The identity method is not offered by this kiosk (yet).
    #[error("identity method {0:?} is not offered here")]
    MethodNotOffered(IdentityMethod),
    /// A rating outside 1–5.
    #[error("a rating is 1 to 5 stars, not {0}")]
    RatingOutOfRange(u8),
    /// A commitment needs a signature.
    #[error("the commitment has no signature")]
    EmptySignature,
    /// The chosen deadline is in the past or too far.
    #[error("the deadline must be between tomorrow and {max}")]
    DeadlineOutOfRange {
        /// The latest allowed deadline.
        max: NaiveDate,
    },
}

/// The flow with its configuration.
#[derive(Debug, Clone, Default)]
pub struct Flow {
    /// Parameters.
    pub config: FlowConfig,
}

type Step = Result<(State, Vec<Effect>), Disallowed>;

impl Flow {
    /// A flow with these parameters.
    pub fn new(config: FlowConfig) -> Self {
        Self { config }
    }

    /// The documents a business needs (for a resident).
    pub fn needed_kinds(business: Business) -> Vec<CertificateKind> {
        match business {
            Business::NewConnection
            | Business::NameChange
            | Business::Transfer
            | Business::Closure => {
                vec![
                    CertificateKind::SubjectProof,
                    CertificateKind::PropertyProof,
                ]
            }
            Business::CapacityIncrease => vec![CertificateKind::SubjectProof],
            Business::PayBill | Business::ProgressQuery => vec![],
        }
    }

    /// One step. On `Err` the caller keeps the state it had.
    pub fn step(&self, state: State, event: Event, now: DateTime<Utc>) -> Step {
        let State {
            phase,
            session,
            timer,
            elderly,
        } = state;
        let mut t = Transition {
            flow: self,
            now,
            timer,
            elderly,
            effects: Vec::new(),
        };
        // Events allowed everywhere.
        match (&phase, &event) {
            (_, Event::SetElderly(on)) => {
                t.elderly = *on;
                let rearm = phase.waits_for_citizen();
                return Ok(t.finish(phase, session, rearm));
            }
            (_, Event::Timeout { timer: fired }) => {
                if *fired != timer || !phase.waits_for_citizen() {
                    // A timer from an earlier screen: ignore it.
                    return Ok(t.finish(phase, session, false));
                }
                return Ok(match phase {
                    Phase::TimeoutWarning(_) => t.wipe(),
                    other => {
                        let warn = Phase::TimeoutWarning(Box::new(other));
                        t.arm(self.scaled(self.config.warn_secs, elderly));
                        t.finish(warn, session, false)
                    }
                });
            }
            (Phase::TimeoutWarning(_), Event::MoreTime) => {
                let Phase::TimeoutWarning(resume) = phase else {
                    unreachable!("matched above")
                };
                return Ok(t.finish(*resume, session, true));
            }
            (Phase::Submitting, Event::Cancel) => {
                return Err(disallowed(&phase, &event));
            }
            (Phase::Attract, Event::Cancel) => {}
            (_, Event::Cancel) => return Ok(t.wipe()),
            _ => {}
        }
        let Some(mut s) = session else {
            // Only the attract screen has no session.
            return match (&phase, &event) {
                (Phase::Attract, Event::Start) => {
                    Ok(t.finish(Phase::ChooseBusiness, Some(Session::default()), true))
                }
                _ => Err(disallowed(&phase, &event)),
            };
        };
        s.problem = None;
        let next = match (&phase, event) {
            (Phase::ChooseBusiness, Event::ChooseBusiness(b)) => {
                if !self.config.businesses.contains(&b) {
                    return Err(Disallowed::BusinessNotOffered(b.code()));
                }
                s.business = Some(b);
                match b {
                    Business::PayBill => Phase::AccountEntry,
                    Business::ProgressQuery => {
                        t.effects.push(Effect::StartQrScan);
                        Phase::QueryEntry
                    }
                    _ => Phase::ChooseIdentity,
                }
            }
            (Phase::ChooseBusiness, Event::Back) => return Ok(t.wipe()),
            (Phase::ChooseIdentity, Event::ChooseIdentity(m)) => {
                if !self.config.identity_methods.contains(&m) {
                    return Err(Disallowed::MethodNotOffered(m));
                }
                match m {
                    IdentityMethod::IdCard => {
                        s.card_attempts = 0;
                        t.effects.push(Effect::ReadCard);
                        Phase::ReadingCard
                    }
                    IdentityMethod::Face if s.face_closed => {
                        // Declined or ended once: never asked again this session.
                        return Err(Disallowed::MethodNotOffered(m));
                    }
                    IdentityMethod::Face => Phase::FaceConsent,
                    IdentityMethod::Eid => {
                        t.effects.push(Effect::StartQrScan);
                        Phase::ScanningEid
                    }
                    IdentityMethod::CallStaff => {
                        s.assistance = true;
                        t.effects.push(Effect::RequestAssistance);
                        Phase::WaitingStaff
                    }
                }
            }
            (Phase::ChooseIdentity, Event::Back) => {
                s.business = None;
                s.company = None;
                Phase::ChooseBusiness
            }
            (Phase::ReadingCard, Event::CardRead(result)) => self.card_read(&mut t, &mut s, result),
            (Phase::FaceConsent, Event::FaceConsent(true)) => Phase::FaceIdentity,
            (Phase::FaceConsent, Event::FaceConsent(false)) => {
                s.face_closed = true;
                Phase::ChooseIdentity
            }
            (Phase::FaceConsent | Phase::FaceIdentity, Event::Back) => Phase::ChooseIdentity,
            (Phase::FaceIdentity, Event::EnterIdentity { name, id_number }) => {
                self.enter_identity(&mut t, &mut s, name, &id_number)
            }
            (Phase::FetchingReference, Event::ReferenceFetched(result)) => match result {
                Ok(()) => {
                    s.face_attempts = 0;
                    t.effects.push(Effect::StartFaceCheck);
                    Phase::FaceCapture
                }
                Err(p) => {
                    s.claimed = None;
                    if p == ReferenceProblem::NotFound {
                        s.face_closed = true;
                    }
                    s.problem = Some(Problem::Face(match p {
                        ReferenceProblem::NotFound => FaceProblem::NoReference,
                        ReferenceProblem::Unavailable => FaceProblem::ReferenceUnavailable,
                    }));
                    Phase::ChooseIdentity
                }
            },
            (Phase::FaceCapture, Event::FaceDecided(result)) => {
                self.face_decided(&mut t, &mut s, result)
            }
            (Phase::FaceCapture, Event::Back) => {
                t.effects.push(Effect::StopFaceCheck);
                s.claimed = None;
                Phase::ChooseIdentity
            }
            (Phase::ReadingCard, Event::Back) => {
                t.effects.push(Effect::StopCardRead);
                Phase::ChooseIdentity
            }
            (Phase::ConsentCertificates, Event::CertificateConsent(true)) => {
                s.certificate_consent_at = Some(t.now);
                let kinds = Self::kinds_for(&s);
                t.effects.push(Effect::FetchCertificates { kinds });
                Phase::FetchingCertificates
            }
            (Phase::ConsentCertificates, Event::CertificateConsent(false)) => {
                // Without consent nothing is fetched: what the card proves
                // stands, the rest is supplied later against a commitment.
                s.certificates.clear();
                s.missing = self.missing_after_fetch(&s, &[]);
                s.fetch_failed = false;
                Phase::ReviewCertificates
            }
            (Phase::FetchingCertificates, Event::CertificatesFetched(result)) => {
                match result {
                    Ok(f) => {
                        s.missing = self.missing_after_fetch(&s, &f.found);
                        s.certificates = f.found;
                        s.fetch_failed = false;
                    }
                    Err(p) => {
                        // Central unreachable never blocks the citizen: go on
                        // as if nothing was found, against a commitment.
                        s.certificates.clear();
                        s.missing = self.missing_after_fetch(&s, &[]);
                        s.fetch_failed = true;
                        s.problem = Some(session::Problem::Fetch(p));
                    }
                }
                Phase::ReviewCertificates
            }
            (Phase::ReviewCertificates, Event::Continue) => {
                if s.missing.is_empty() {
                    Phase::Form
                } else {
                    Phase::Commitment
                }
            }
            (Phase::Commitment, Event::SignCommitment { strokes, deadline }) => {
                let today = self.config.today(t.now);
                let max = today + Duration::days(self.config.commitment_max_days);
                let deadline =
                    deadline.unwrap_or(today + Duration::days(self.config.commitment_days));
                if deadline <= today || deadline > max {
                    return Err(Disallowed::DeadlineOutOfRange { max });
                }
                let hash = session::signature_hash(&strokes).ok_or(Disallowed::EmptySignature)?;
                s.commitment = Some(Commitment {
                    signature_sha256: hash,
                    deadline,
                    text_version: self.config.commitment_text_version.clone(),
                });
                Phase::Form
            }
            (Phase::Commitment, Event::Back) => Phase::ReviewCertificates,
            (Phase::Form, Event::SubmitForm(mut form)) => {
                match form.validate_for(s.business_or_default(), s.account.as_ref()) {
                    Err(p) => {
                        s.problem = Some(session::Problem::Form(p));
                        Phase::Form
                    }
                    Ok(()) if !branches::capacity_rule_applies(s.business_or_default()) => {
                        if let Some(a) = &s.account {
                            form.address = a.address.clone();
                        }
                        s.form = Some(form);
                        s.route = None;
                        Phase::Review
                    }
                    Ok(()) => {
                        if let Some(a) = &s.account {
                            // The supply address of an account is the account's.
                            form.address = a.address.clone();
                        }
                        let park = s.park_of(&form.address);
                        let route = capacity_route(
                            &self.config.capacity(),
                            form.capacity_kw,
                            park.is_some(),
                            false,
                        );
                        let wants_hv = form.wants_high_voltage;
                        s.form = Some(form);
                        s.micro_park = park;
                        s.route = Some(route);
                        s.low_voltage_declined = false;
                        if route == SupplyRoute::LowVoltage && !wants_hv {
                            Phase::Review
                        } else {
                            Phase::CapacityNotice
                        }
                    }
                }
            }
            (Phase::Form, Event::Back) => Phase::ReviewCertificates,
            (Phase::CapacityNotice, Event::Continue) => Phase::Review,
            (Phase::CapacityNotice, Event::InsistHighVoltage(insist)) => {
                match s.route {
                    Some(SupplyRoute::HighVoltage) => {
                        // Above the limit there is no low-voltage option to decline.
                    }
                    Some(_) if insist => {
                        s.route = Some(SupplyRoute::HighVoltageByChoice);
                        s.low_voltage_declined = true;
                    }
                    Some(_) => {
                        let park = s.micro_park.is_some();
                        let kw = s.form.as_ref().map_or(0.0, |f| f.capacity_kw);
                        s.route = Some(capacity_route(&self.config.capacity(), kw, park, false));
                        s.low_voltage_declined = false;
                        if let Some(f) = s.form.as_mut() {
                            f.wants_high_voltage = false;
                        }
                    }
                    None => return Err(disallowed(&phase, &Event::InsistHighVoltage(insist))),
                }
                Phase::Review
            }
            (Phase::CapacityNotice, Event::Back) => Phase::Form,
            (Phase::Review, Event::Confirm) => {
                if branches::needs_contract(s.business_or_default()) {
                    Phase::Contract
                } else {
                    let order = self.build_order(&s, t.now);
                    t.effects.push(Effect::AcceptOrder(Box::new(order)));
                    Phase::Submitting
                }
            }
            (Phase::Review, Event::Back) => Phase::Form,
            (
                Phase::Submitting,
                Event::OrderStored {
                    local_id,
                    central_no,
                },
            ) => {
                t.effects.push(Effect::PrintReceipt {
                    local_id: local_id.clone(),
                });
                s.order = Some(session::Accepted {
                    local_id,
                    central_no,
                    printed: None,
                });
                Phase::Receipt
            }
            (Phase::Submitting, Event::OrderFailed(reason)) => {
                s.problem = Some(session::Problem::Store(reason));
                Phase::Fault
            }
            (Phase::Receipt, Event::ReceiptPrinted(result)) => {
                if let Some(o) = s.order.as_mut() {
                    o.printed = Some(result.is_ok());
                }
                if let Err(reason) = result {
                    s.problem = Some(session::Problem::Printer(reason));
                }
                Phase::Receipt
            }
            (Phase::Receipt, Event::Continue) => Phase::Rating,
            (Phase::Rating, Event::Rate(stars)) => {
                if let Some(n) = stars {
                    branches::rate(&mut t, &s, n, &[])?;
                }
                return Ok(t.wipe());
            }
            (Phase::Rating, Event::RateWith { stars, phrases }) => {
                branches::rate(&mut t, &s, stars, &phrases)?;
                return Ok(t.wipe());
            }
            (Phase::Fault, Event::Continue) => return Ok(t.wipe()),
            (phase, event) => {
                let event = match self.branch(&mut t, &mut s, phase, event)? {
                    Ok(next) => {
                        let rearm = next.waits_for_citizen();
                        return Ok(t.finish(next, Some(s), rearm));
                    }
                    Err(event) => event,
                };
                return Err(disallowed(phase, &event));
            }
        };
        let rearm = next.waits_for_citizen();
        Ok(t.finish(next, Some(s), rearm))
    }

    fn enter_identity(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        name: kiosk_drivers::pii::Personal,
        typed: &kiosk_drivers::pii::Personal,
    ) -> Phase {
        let name = kiosk_drivers::pii::Personal::new(name.expose().trim());
        if name.is_empty() {
            s.problem = Some(Problem::Face(FaceProblem::NameMissing));
            return Phase::FaceIdentity;
        }
        let Ok(id_number) = kiosk_drivers::pii::IdNumber::parse(typed.expose()) else {
            s.problem = Some(Problem::Face(FaceProblem::IdNumberInvalid));
            return Phase::FaceIdentity;
        };
        if age_on(&id_number, self.config.today(t.now)).is_none_or(|a| a < self.config.face_min_age)
        {
            s.face_closed = true;
            s.problem = Some(Problem::Face(FaceProblem::Under14));
            return Phase::ChooseIdentity;
        }
        s.claimed = Some(CardIdentity {
            name,
            id_number,
            number_valid: true,
            valid_to: None,
            address: None,
        });
        t.effects.push(Effect::FetchReference);
        Phase::FetchingReference
    }

    fn face_decided(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        result: Result<(), FaceFailure>,
    ) -> Phase {
        let fail = match result {
            Ok(()) => {
                t.effects.push(Effect::StopFaceCheck);
                let Some(claimed) = s.claimed.take() else {
                    // A pass without a claimed identity cannot happen; never
                    // let it establish an identity.
                    s.problem = Some(Problem::Face(FaceProblem::AttemptsUsed));
                    return Phase::ChooseIdentity;
                };
                return self.identity_established(t, s, claimed, IdentityMethod::Face);
            }
            Err(f) => f,
        };
        s.face_attempts = s.face_attempts.saturating_add(1);
        let retry = matches!(fail, FaceFailure::Mismatch | FaceFailure::NoFace)
            && s.face_attempts < self.config.face_attempts;
        if retry {
            s.problem = Some(Problem::Face(match fail {
                FaceFailure::NoFace => FaceProblem::NoFace,
                FaceFailure::Mismatch | FaceFailure::Liveness | FaceFailure::CameraFault => {
                    FaceProblem::Mismatch
                }
            }));
            t.effects.push(Effect::StartFaceCheck);
            return Phase::FaceCapture;
        }
        t.effects.push(Effect::StopFaceCheck);
        s.claimed = None;
        let problem = match fail {
            FaceFailure::Liveness => FaceProblem::Liveness,
            FaceFailure::CameraFault => FaceProblem::CameraFault,
            FaceFailure::Mismatch | FaceFailure::NoFace => FaceProblem::AttemptsUsed,
        };
        // A camera fault leaves the face path open (the camera may come back);
        // anything else ends it for this session.
        s.face_closed = fail != FaceFailure::CameraFault;
        s.problem = Some(Problem::Face(problem));
        Phase::ChooseIdentity
    }

    fn card_read(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        result: Result<CardIdentity, CardProblem>,
    ) -> Phase {
        match result {
            Ok(card) => {
                if !card.number_valid {
                    // Reported, not trusted: this card cannot establish identity.
                    s.problem = Some(session::Problem::Card(CardProblem::NumberInvalid));
                    return Phase::ChooseIdentity;
                }
                if card.expired_on(self.config.today(t.now)) {
                    s.problem = Some(session::Problem::Card(CardProblem::Expired));
                    return Phase::ChooseIdentity;
                }
                self.identity_established(t, s, card, IdentityMethod::IdCard)
            }
            Err(problem) => {
                s.card_attempts = s.card_attempts.saturating_add(1);
                let retry = problem.retryable() && s.card_attempts < self.config.card_attempts;
                s.problem = Some(session::Problem::Card(problem));
                if retry {
                    t.effects.push(Effect::ReadCard);
                    Phase::ReadingCard
                } else {
                    Phase::ChooseIdentity
                }
            }
        }
    }

    fn missing_after_fetch(&self, s: &Session, found: &[Certificate]) -> Vec<CertificateKind> {
        Self::kinds_for(s)
            .into_iter()
            .filter(|k| !found.iter().any(|c| c.kind == *k))
            // The chip of an ID card read on this kiosk, or an e-ID central
            // verified, is itself a subject proof.
            .filter(|k| {
                !(*k == CertificateKind::SubjectProof
                    && matches!(
                        s.identity_check.as_ref().map(|c| c.method),
                        Some(IdentityMethod::IdCard | IdentityMethod::Eid)
                    ))
            })
            .collect()
    }

    fn build_order(&self, s: &Session, now: DateTime<Utc>) -> Order {
        let form = s.form.clone().unwrap_or_default();
        let card = s.applicant.clone();
        let route = s.route.unwrap_or(SupplyRoute::LowVoltage);
        let deadline = s.commitment.as_ref().map(|c| c.deadline);
        let pushed = s.pushed_choice.as_ref();
        let address = if let Some(p) = pushed {
            p.address.clone()
        } else if let Some(a) = &s.account {
            a.address.clone()
        } else {
            form.address.clone()
        };
        Order {
            local_id: String::new(),
            central_no: None,
            business: pushed.map_or(s.business_or_default(), |p| p.business),
            accepted_at: now,
            identity: s.identity_check.clone().unwrap_or(IdentityCheck {
                method: IdentityMethod::IdCard,
                number_valid: false,
                verified_at: now,
            }),
            application: Application {
                capacity_kw: form.capacity_kw,
                residential: form.residential,
                route,
                low_voltage_offered_and_declined: s.low_voltage_declined,
                account_manager_booked: route.needs_account_manager(),
                micro_park: s.micro_park.clone(),
            },
            certificates: s.certificates.iter().map(|c| c.number.clone()).collect(),
            missing: s
                .missing
                .iter()
                .filter_map(|k| {
                    deadline.map(|d| MissingDocument {
                        kind: *k,
                        deadline: d,
                    })
                })
                .collect(),
            commitment: s.commitment.clone(),
            rating: None,
            rating_comment: None,
            status: OrderStatus::PendingSync,
            personal: OrderPersonal {
                name: card.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                id_number: card
                    .as_ref()
                    .map(|c| c.id_number.clone())
                    .unwrap_or_else(|| kiosk_drivers::pii::IdNumber::unchecked("")),
                address,
                phone: form.phone.clone(),
                mailing_address: form.mailing_address.clone(),
                old_holder_name: s
                    .old_holder
                    .as_ref()
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                old_holder_id: s.old_holder.as_ref().map(|c| c.id_number.clone()),
            },
            account_no: pushed
                .and_then(|p| p.account_no.clone())
                .or_else(|| s.account.as_ref().map(|a| a.account_no.clone())),
            company: s.company.clone(),
            contract: s.contract.clone(),
            pushed_from: pushed.map(|p| p.id.clone()),
            transfer: (s.business == Some(Business::Transfer) && pushed.is_none()).then_some(
                crate::model::TransferParties {
                    old_holder_present: s.old_holder_present == Some(true),
                    old_holder_verified: s.old_holder_verified,
                },
            ),
            personal_purged_at: None,
            time_unverified: false,
            central_received_at: None,
        }
    }

    fn scaled(&self, secs: i64, elderly: bool) -> i64 {
        if elderly {
            secs * self.config.elderly_factor
        } else {
            secs
        }
    }
}

/// Age in whole years on `today` from the birth date in an 18-digit number.
pub fn age_on(id: &kiosk_drivers::pii::IdNumber, today: NaiveDate) -> Option<u32> {
    let born = NaiveDate::parse_from_str(id.birth_date()?, "%Y%m%d").ok()?;
    today.years_since(born)
}

fn disallowed(phase: &Phase, event: &Event) -> Disallowed {
    Disallowed::Event {
        phase: phase.name(),
        event: event.name(),
    }
}

/// The pieces of a transition being built.
struct Transition<'a> {
    flow: &'a Flow,
    now: DateTime<Utc>,
    timer: u64,
    elderly: bool,
    effects: Vec<Effect>,
}

impl Transition<'_> {
    fn arm(&mut self, after_secs: i64) {
        self.timer += 1;
        self.effects.push(Effect::StartTimer {
            timer: self.timer,
            after_secs,
        });
    }

    fn finish(
        mut self,
        phase: Phase,
        session: Option<Session>,
        rearm: bool,
    ) -> (State, Vec<Effect>) {
        if rearm {
            let idle = self.flow.scaled(self.flow.config.idle_secs, self.elderly);
            self.arm(idle);
        }
        (
            State {
                phase,
                session,
                timer: self.timer,
                elderly: self.elderly,
            },
            self.effects,
        )
    }

    /// Ends the session: personal data dropped (zeroized), back to attract.
    fn wipe(mut self) -> (State, Vec<Effect>) {
        self.effects.push(Effect::StopCardRead);
        self.effects.push(Effect::StopFaceCheck);
        self.effects.push(Effect::StopQrScan);
        self.effects.push(Effect::StopPaymentWatch);
        self.effects.push(Effect::EndAssistance);
        self.effects.push(Effect::Wipe);
        // Bump the generation so any armed timer is stale.
        self.timer += 1;
        (
            State {
                phase: Phase::Attract,
                session: None,
                timer: self.timer,
                elderly: false,
            },
            self.effects,
        )
    }
}
