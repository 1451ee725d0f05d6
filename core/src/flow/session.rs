//! A session's data: what the citizen told the kiosk and what it found.
//!
//! Personal values are held in `kiosk_drivers::pii` types, which mask
//! themselves in `Debug` and zeroize on drop: dropping the `Session` is the
//! wipe. Problems are kept as typed values the screen turns into hints.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_drivers::pii::{IdNumber, Personal};
use sha2::{Digest, Sha256};

use crate::central::{Account, OrderProgress, Payment, PushedOrder};
use crate::model::{
    Business, Certificate, CertificateKind, Commitment, CompanyApplicant, ContractSignature,
    CreditCodeError, IdentityCheck, SupplyRoute,
};

/// What the flow needs from a card the reader returned.
#[derive(Debug, Clone, PartialEq)]
pub struct CardIdentity {
    /// Name on the card.
    pub name: Personal,
    /// Number on the card.
    pub id_number: IdNumber,
    /// Whether the number passed GB 11643.
    pub number_valid: bool,
    /// Last day of validity; `None` for 长期 (no expiry).
    pub valid_to: Option<NaiveDate>,
    /// Address on the card (prefills the form).
    pub address: Option<Personal>,
}

impl CardIdentity {
    /// Whether the card has expired by `today`.
    pub fn expired_on(&self, today: NaiveDate) -> bool {
        self.valid_to.is_some_and(|d| d < today)
    }
}

/// Why a card read gave no usable card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardProblem {
    /// No card was placed in time.
    NoCard,
    /// The card was pulled while it was being read.
    Removed,
    /// The reader answered garbage or nothing.
    ReaderFault,
    /// The card's number fails the GB 11643 check: not trusted.
    NumberInvalid,
    /// The card has expired.
    Expired,
}

impl CardProblem {
    /// Whether reading again may help.
    pub fn retryable(&self) -> bool {
        match self {
            CardProblem::NoCard | CardProblem::Removed => true,
            CardProblem::ReaderFault | CardProblem::NumberInvalid | CardProblem::Expired => false,
        }
    }
}

/// Why the face path could not establish identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceFailure {
    /// The face did not match the reference photo.
    Mismatch,
    /// No usable face was seen in time (quality gates never passed).
    NoFace,
    /// The liveness check failed: ends the face path.
    Liveness,
    /// The camera failed during the check.
    CameraFault,
}

/// Why the reference photo could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceProblem {
    /// The trusted-identity service has no photo for this name and number.
    NotFound,
    /// Central unreachable.
    Unavailable,
}

/// What the face screens tell the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceProblem {
    /// The ID number typed fails the check digit or has the wrong form.
    IdNumberInvalid,
    /// No name typed.
    NameMissing,
    /// Under 14: the face path is not allowed.
    Under14,
    /// No reference photo for this identity.
    NoReference,
    /// The reference photo could not be fetched now.
    ReferenceUnavailable,
    /// Not matched; another attempt follows.
    Mismatch,
    /// No usable face was seen; another attempt follows.
    NoFace,
    /// Attempts used up.
    AttemptsUsed,
    /// Liveness failed.
    Liveness,
    /// The camera failed.
    CameraFault,
}

/// Why certificates could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchProblem {
    /// Central unreachable or failing: try later, go on with a commitment.
    Unavailable,
    /// Central refused the request.
    Refused(String),
}

/// Why a submitted form was sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormProblem {
    /// No address.
    AddressMissing,
    /// Capacity not a positive number in range.
    CapacityOutOfRange,
    /// Phone not a plausible Chinese mobile or landline number.
    PhoneInvalid,
    /// A capacity increase asks for no more than the contracted capacity.
    CapacityNotIncreased,
    /// Account closure: no address to mail the closure certificate to.
    MailingAddressMissing,
}

/// Why an account could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountProblem {
    /// The number typed is not an account number (digits only, 6–20).
    Malformed,
    /// Central has no such account (or none for this person).
    NotFound,
    /// The verified person does not hold this account.
    NotHolder,
    /// The person presented as old holder does not hold the account.
    OldHolderMismatch,
    /// Central could not be reached: the account cannot be checked now.
    Unavailable,
}

/// Why an electronic ID was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EidProblem {
    /// The QR code is not an electronic-ID code.
    Unreadable,
    /// Central says the code is forged or unknown.
    Invalid,
    /// The code has expired (they last a few minutes): show a fresh one.
    Expired,
    /// Central could not be reached.
    Unavailable,
}

/// Why a member of staff's confirmation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffProblem {
    /// Wrong PIN or a card not on the staff list.
    AuthFailed,
    /// Too many wrong tries: the override is locked for a while (an alarm
    /// in `/status` calls a supervisor).
    LockedOut,
    /// The citizen's ID number typed by staff fails GB 11643.
    IdNumberInvalid,
    /// No name typed.
    NameMissing,
}

/// Why a bill could not be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayProblem {
    /// Nothing is due on the account.
    NothingDue,
    /// Central could not issue a payment code.
    Unavailable,
    /// The payment was not confirmed in time (or expired): not paid.
    NotPaid,
}

/// Why a progress query found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryProblem {
    /// Not an order number, and not a receipt's QR code.
    Unreadable,
    /// No order with this number.
    NotFound,
    /// Central could not be reached (and the order is not on this kiosk).
    Unavailable,
}

/// The problem the current screen shows, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// From the card reader.
    Card(CardProblem),
    /// From the certificate fetch.
    Fetch(FetchProblem),
    /// From the form.
    Form(FormProblem),
    /// From the face path.
    Face(FaceProblem),
    /// The store failed to accept the order.
    Store(String),
    /// The printer failed: the order stands, the receipt can be reprinted.
    Printer(String),
    /// The account typed or looked up.
    Account(AccountProblem),
    /// The electronic ID.
    Eid(EidProblem),
    /// Staff confirmation.
    Staff(StaffProblem),
    /// The company's credit code.
    Company(CreditCodeError),
    /// Bill payment.
    Pay(PayProblem),
    /// Progress query.
    Query(QueryProblem),
}

/// One touch stroke of a signature: points `(x, y, t_ms)`.
pub type Stroke = Vec<(u16, u16, u32)>;

/// SHA-256 (hex) over a canonical encoding of the strokes; `None` if the
/// signature has no point at all.
pub fn signature_hash(strokes: &[Stroke]) -> Option<String> {
    if strokes.iter().all(|s| s.is_empty()) {
        return None;
    }
    let mut h = Sha256::new();
    h.update(b"kiosk-signature-v1");
    for stroke in strokes {
        h.update((stroke.len() as u32).to_be_bytes());
        for (x, y, t) in stroke {
            h.update(x.to_be_bytes());
            h.update(y.to_be_bytes());
            h.update(t.to_be_bytes());
        }
    }
    Some(hex::encode(h.finalize()))
}

/// The business form for a new connection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormInput {
    /// Supply address.
    pub address: Personal,
    /// Requested capacity, kW.
    pub capacity_kw: f64,
    /// Residential or not.
    pub residential: bool,
    /// Contact phone.
    pub phone: Personal,
    /// The customer asks for high-voltage supply.
    pub wants_high_voltage: bool,
    /// Where to mail the closure certificate (account closure).
    pub mailing_address: Personal,
}

impl FormInput {
    /// Checks the fields a person typed for a new connection.
    pub fn validate(&self) -> Result<(), FormProblem> {
        self.validate_for(Business::NewConnection, None)
    }

    /// Checks the fields a business needs; `account` is the account the
    /// business concerns (its address stands in for the form's, its
    /// contracted capacity bounds an increase).
    pub fn validate_for(
        &self,
        business: Business,
        account: Option<&Account>,
    ) -> Result<(), FormProblem> {
        let capacity = matches!(
            business,
            Business::NewConnection | Business::CapacityIncrease
        );
        if account.is_none() && self.address.expose().trim().is_empty() {
            return Err(FormProblem::AddressMissing);
        }
        if capacity
            && !(self.capacity_kw.is_finite()
                && self.capacity_kw > 0.0
                && self.capacity_kw <= 100_000.0)
        {
            return Err(FormProblem::CapacityOutOfRange);
        }
        if business == Business::CapacityIncrease
            && account.is_some_and(|a| self.capacity_kw <= a.contracted_kw)
        {
            return Err(FormProblem::CapacityNotIncreased);
        }
        if business == Business::Closure && self.mailing_address.expose().trim().is_empty() {
            return Err(FormProblem::MailingAddressMissing);
        }
        let phone: String = self
            .phone
            .expose()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect();
        let mobile = phone.len() == 11 && phone.starts_with('1');
        let landline = (10..=12).contains(&phone.len()) && phone.starts_with('0');
        if !phone.bytes().all(|b| b.is_ascii_digit()) || !(mobile || landline) {
            return Err(FormProblem::PhoneInvalid);
        }
        Ok(())
    }
}

/// The order once accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Local id.
    pub local_id: String,
    /// Central number if already synced.
    pub central_no: Option<String>,
    /// Whether the receipt printed (`None` while printing).
    pub printed: Option<bool>,
}

/// Everything a session collected. Dropping it wipes the personal fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    /// The business chosen.
    pub business: Option<Business>,
    /// The applicant whose identity was verified (by card or face).
    pub applicant: Option<CardIdentity>,
    /// The identity typed for the face path, until the face check passes.
    pub claimed: Option<CardIdentity>,
    /// The citizen declined the face check, or the face path ended
    /// (liveness failed, attempts used up, under 14): never offered again
    /// in this session.
    pub face_closed: bool,
    /// Face check attempts so far.
    pub face_attempts: u8,
    /// How identity was established.
    pub identity_check: Option<IdentityCheck>,
    /// Card read attempts so far.
    pub card_attempts: u8,
    /// When the citizen consented to the certificate fetch.
    pub certificate_consent_at: Option<DateTime<Utc>>,
    /// Certificates found.
    pub certificates: Vec<Certificate>,
    /// Kinds still missing.
    pub missing: Vec<CertificateKind>,
    /// The fetch failed (central unavailable).
    pub fetch_failed: bool,
    /// The signed commitment for the missing kinds.
    pub commitment: Option<Commitment>,
    /// The form.
    pub form: Option<FormInput>,
    /// The park of the supply address, if any.
    pub micro_park: Option<String>,
    /// The route decided.
    pub route: Option<SupplyRoute>,
    /// The customer declined the low-voltage option.
    pub low_voltage_declined: bool,
    /// The accepted order.
    pub order: Option<Accepted>,
    /// The problem the current screen shows.
    pub problem: Option<Problem>,
    /// The company the applicant acts for, if any.
    pub company: Option<CompanyApplicant>,
    /// The account the business concerns, as central described it.
    pub account: Option<Account>,
    /// A transfer's old holder, read from their card here.
    pub old_holder: Option<CardIdentity>,
    /// Whether the old holder of a transfer is here (`None`: not asked yet).
    pub old_holder_present: Option<bool>,
    /// Central confirmed the old holder holds the account.
    pub old_holder_verified: bool,
    /// Orders started elsewhere, waiting for this citizen.
    pub pushed: Vec<PushedOrder>,
    /// The pushed order being confirmed.
    pub pushed_choice: Option<PushedOrder>,
    /// The supply contract signed here.
    pub contract: Option<ContractSignature>,
    /// A staff member has been called and not yet dismissed.
    pub assistance: bool,
    /// The bill payment under way or done (central's view of it).
    pub payment: Option<Payment>,
    /// Whether the invoice printed (`None` while printing or before).
    pub invoice_printed: Option<bool>,
    /// The progress of the order queried.
    pub progress: Option<OrderProgress>,
}

impl Session {
    /// The business chosen (new connection until one is chosen).
    pub fn business_or_default(&self) -> Business {
        self.business.unwrap_or(Business::NewConnection)
    }

    /// The micro-enterprise park of the supply address, from the property
    /// certificate registered for exactly that address.
    pub fn park_of(&self, address: &Personal) -> Option<String> {
        self.certificates
            .iter()
            .filter(|c| c.kind == CertificateKind::PropertyProof)
            .find(|c| {
                c.address
                    .as_ref()
                    .is_some_and(|a| a.expose().trim() == address.expose().trim())
            })
            .and_then(|c| c.micro_park.clone())
    }

    /// The address to prefill the form with: the property certificate's,
    /// else the card's.
    pub fn suggested_address(&self) -> Option<&Personal> {
        self.certificates
            .iter()
            .find_map(|c| c.address.as_ref())
            .or_else(|| self.applicant.as_ref().and_then(|c| c.address.as_ref()))
    }
}
