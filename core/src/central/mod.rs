//! The central service API: wire types and the client.
//!
//! `docs/api/central.yaml` (OpenAPI 3) is the contract; the types here are its
//! serde mirror and reuse the domain model where it fits ([`Business`],
//! [`Certificate`], [`CertificateKind`], [`CapacityPolicy`]). Personal values
//! travel in [`Personal`] and [`IdNumber`], which mask themselves in `Debug`
//! and `Display` but serialise in clear: they are sent inside TLS, in bodies
//! only, never in URLs, logs or error messages.
//!
//! [`client::CentralClient`] calls the API with reqwest (rustls), with a size
//! limit on every body and errors that say whether to retry
//! ([`CentralError::retry_later`]): 5xx, timeouts and garbage are "retry
//! later", never "rejected". `kiosk_sim::central` implements the same API
//! with seeded synthetic citizens, for tests, the demo and integrators.

pub mod check;
pub mod client;

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_drivers::pii::{IdNumber, Personal};
use serde::{Deserialize, Serialize};

use crate::model::{
    Application, Commitment, CompanyApplicant, ContractSignature, IdentityCheck, MissingDocument,
    Order, OrderPersonal, TransferParties,
};
pub use crate::model::{Business, CapacityPolicy, Certificate, CertificateKind};

/// Result of a call to the central service.
pub type Result<T, E = CentralError> = std::result::Result<T, E>;

/// Why a call to the central service did not give the expected answer.
///
/// Messages name the URL (whose path holds at most an account or order
/// number, which are not personal) and never a request or response body.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    /// The service could not be reached (connection refused or dropped, DNS,
    /// TLS).
    #[error("central service unreachable at {url}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// No complete answer within the client's timeout.
    #[error("central service timed out at {url}")]
    Timeout {
        /// The URL called.
        url: String,
    },
    /// The service answered with a transient failure (5xx, 408 or 429).
    #[error("central service failed at {url} with HTTP {status}")]
    Server {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer could not be used: not the documented JSON, or larger than
    /// the client accepts.
    #[error("central service answered garbage at {url}: {detail}")]
    Garbage {
        /// The URL called.
        url: String,
        /// What was wrong with it (never the body itself).
        detail: String,
    },
    /// The service refused the request (4xx with an error code).
    #[error("central service rejected the request at {url}: HTTP {status}, {code}")]
    Rejected {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The stable error code from the body (`http-<status>` when the
        /// body had none).
        code: String,
        /// The service's explanation (not personal by contract).
        message: String,
    },
    /// The resource does not exist (404).
    #[error("not found (HTTP 404) at {url}")]
    NotFound {
        /// The URL called.
        url: String,
    },
}

impl CentralError {
    /// Whether the caller should try again later rather than treat the
    /// request as refused. Only a definite answer from the service (a
    /// rejection or "not found") is final.
    pub fn retry_later(&self) -> bool {
        match self {
            CentralError::Unreachable { .. }
            | CentralError::Timeout { .. }
            | CentralError::Server { .. }
            | CentralError::Garbage { .. } => true,
            CentralError::Rejected { .. } | CentralError::NotFound { .. } => false,
        }
    }

    /// The reason code when central explicitly rejected the request on
    /// business grounds: HTTP 422 with a `{code, message}` body. This is
    /// the only answer that parks an outbox entry; every other failure
    /// (401, 403, 404, other 4xx, 5xx, garbage, timeouts) may be mended on
    /// central's side or the kiosk's, so the entry is kept and retried.
    pub fn business_rejection(&self) -> Option<&str> {
        match self {
            CentralError::Rejected {
                status: 422, code, ..
            } if !code.starts_with("http-") => Some(code),
            CentralError::Rejected { .. }
            | CentralError::Unreachable { .. }
            | CentralError::Timeout { .. }
            | CentralError::Server { .. }
            | CentralError::Garbage { .. }
            | CentralError::NotFound { .. } => None,
        }
    }

    /// The URL of the failed call.
    pub fn url(&self) -> &str {
        match self {
            CentralError::Unreachable { url, .. }
            | CentralError::Timeout { url }
            | CentralError::Server { url, .. }
            | CentralError::Garbage { url, .. }
            | CentralError::Rejected { url, .. }
            | CentralError::NotFound { url } => url,
        }
    }
}

/// The body of every 4xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable, machine-readable code (`invalid-capacity`, `not-found`, …).
    pub code: String,
    /// Explanation for people; never personal data.
    pub message: String,
}

/// A notice shown on the attract screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Body text.
    pub text: String,
}

/// `GET /v1/catalog`: what the kiosk offers and the parameters of its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Version of this configuration (recorded with orders and in `/status`).
    pub config_version: String,
    /// Businesses enabled on this kiosk.
    pub businesses: Vec<Business>,
    /// Capacity limits (160/300 kW).
    pub policy: CapacityPolicy,
    /// Notices for the attract screen.
    pub notices: Vec<Notice>,
    /// Service phone printed on receipts.
    pub service_phone: String,
    /// Version of the commitment-letter text.
    pub commitment_text_version: String,
    /// Default days until a missing document is due.
    pub default_commitment_days: u32,
    /// The supply contract the kiosk shows for signing (absent: the
    /// kiosk's bundled text is used and its version recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractText>,
}

/// A supply contract text, shown in pages and signed on the touchscreen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractText {
    /// Version recorded in the order with the signature.
    pub version: String,
    /// Title.
    pub title: String,
    /// The text, one entry per screen page.
    pub pages: Vec<String>,
    /// Where the citizen can read it again (printed on the receipt).
    pub url: String,
}

/// `POST /v1/identity/reference` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRequest {
    /// Claimed name.
    pub name: Personal,
    /// Claimed ID number.
    pub id_number: IdNumber,
    /// Id of the face-check consent the citizen gave.
    pub consent_id: String,
}

/// `POST /v1/identity/reference` answer: the trusted reference photo.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePhoto {
    /// JPEG bytes, standard base64.
    pub photo_jpeg_base64: String,
}

impl ReferencePhoto {
    /// Wraps JPEG bytes.
    pub fn from_jpeg(jpeg: &[u8]) -> Self {
        Self {
            photo_jpeg_base64: base64_encode(jpeg),
        }
    }

    /// The JPEG bytes, or `None` when the base64 is malformed.
    pub fn jpeg(&self) -> Option<Vec<u8>> {
        base64_decode(&self.photo_jpeg_base64)
    }
}

impl std::fmt::Debug for ReferencePhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A face is personal data: never print it.
        write!(
            f,
            "ReferencePhoto(<{} base64 chars>)",
            self.photo_jpeg_base64.len()
        )
    }
}

/// `POST /v1/identity/eid` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EidRequest {
    /// The QR code's text as scanned.
    pub payload: String,
}

/// `POST /v1/identity/eid` answer: the verified identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EidIdentity {
    /// Verified name.
    pub name: Personal,
    /// Verified ID number.
    pub id_number: IdNumber,
    /// Last day the electronic ID is valid, if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

/// `POST /v1/certificates` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificatesRequest {
    /// ID number or unified social credit code.
    pub subject: Personal,
    /// Supply address to match property records against, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Personal>,
    /// The kinds wanted.
    pub kinds: Vec<CertificateKind>,
    /// Id of the certificate-fetch consent the citizen gave.
    pub consent_id: String,
}

/// `POST /v1/certificates` answer: every requested kind is found or missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificatesResponse {
    /// Certificates found.
    pub found: Vec<Certificate>,
    /// Kinds that could not be fetched.
    pub missing: Vec<CertificateKind>,
}

/// `GET /v1/accounts/{no}` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Account number.
    pub account_no: String,
    /// Holder's name, already masked by central (`张*`).
    pub holder_masked: String,
    /// Supply address.
    pub address: Personal,
    /// Amount due, in fen.
    pub amount_due_fen: i64,
    /// Contracted capacity, kW (a capacity increase must exceed it).
    #[serde(default)]
    pub contracted_kw: f64,
    /// Whether the holder asked about in an [`AccountQuery`] holds this
    /// account (`None` when no holder was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_matches: Option<bool>,
}

/// `POST /v1/accounts/query`: an account by number, or the first account
/// of a holder; the holder's ID number travels in the body, never the URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountQuery {
    /// The account number typed or scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_no: Option<String>,
    /// The person to check as holder (or to look the account up by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_id_number: Option<IdNumber>,
}

/// `POST /v1/pushed-orders/query`: orders started elsewhere for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedQuery {
    /// The verified person.
    pub id_number: IdNumber,
}

/// An order started elsewhere, waiting for the citizen's confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedOrder {
    /// Central id of the pushed order.
    pub id: String,
    /// The business it becomes.
    pub business: Business,
    /// Where it came from (e.g. 不动产登记联动过户).
    pub source: String,
    /// What the citizen confirms, in one sentence.
    pub summary: String,
    /// The account concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_no: Option<String>,
    /// The supply address (personal).
    pub address: Personal,
    /// When central created it.
    pub created_at: DateTime<Utc>,
}

/// The answer to a [`PushedQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedOrders {
    /// Pending pushed orders, oldest first.
    pub orders: Vec<PushedOrder>,
}

/// `POST /v1/assistance`: a citizen asked for a member of staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistanceRequest {
    /// The kiosk asking.
    pub device_id: String,
    /// Why (`call-staff`, a problem code): never personal data.
    pub reason: String,
}

/// Central's acknowledgement of an [`AssistanceRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistanceAccepted {
    /// Central's id of the request.
    pub request_id: String,
}

/// Personal fields of a submitted order (the `applicant` object).
pub type Applicant = OrderPersonal;

/// `POST /v1/orders` body: the order as accepted at the kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSubmission {
    /// The kiosk's local order id; must equal the `Idempotency-Key` header.
    pub idempotency_key: String,
    /// The business.
    pub business: Business,
    /// The moment of acceptance at the kiosk.
    pub accepted_at: DateTime<Utc>,
    /// The account concerned (account businesses), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_no: Option<String>,
    /// How identity was established.
    pub identity: IdentityCheck,
    /// What was applied for.
    pub application: Application,
    /// Numbers of the certificates fetched.
    pub certificates: Vec<String>,
    /// Documents still missing, with deadlines.
    pub missing: Vec<MissingDocument>,
    /// The signed commitment for the missing documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
    /// Personal fields.
    pub applicant: Applicant,
    /// The company, when the applicant acts for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyApplicant>,
    /// The supply contract signed at the kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractSignature>,
    /// The pushed order this confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_from: Option<String>,
    /// Parties of a transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferParties>,
    /// The kiosk's clock had not been synchronised when it accepted the
    /// order: `accepted_at` is unverified, and central's receipt time
    /// (`received_at` in the answer) is the one to trust.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub time_unverified: bool,
}

impl OrderSubmission {
    /// The submission of a locally accepted order; its `local_id` is the
    /// idempotency key.
    pub fn from_order(order: &Order) -> Self {
        Self {
            idempotency_key: order.local_id.clone(),
            business: order.business,
            accepted_at: order.accepted_at,
            account_no: order.account_no.clone(),
            identity: order.identity.clone(),
            application: order.application.clone(),
            certificates: order.certificates.clone(),
            missing: order.missing.clone(),
            commitment: order.commitment.clone(),
            applicant: order.personal.clone(),
            company: order.company.clone(),
            contract: order.contract.clone(),
            pushed_from: order.pushed_from.clone(),
            transfer: order.transfer,
            time_unverified: order.time_unverified,
        }
    }
}

/// `POST /v1/orders` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAccepted {
    /// Central order number (`2026112300001`).
    pub order_no: String,
    /// When central first received the order, by central's clock (the
    /// same on a repeated submission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// State of one step of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Finished.
    Done,
    /// Started, not finished.
    InProgress,
    /// Not started.
    Pending,
}

/// One step of an order (受理, 勘察, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStep {
    /// Stable code (`accepted`, `survey`, …).
    pub code: String,
    /// Title shown to the citizen (受理).
    pub title: String,
    /// Where the step is.
    pub state: StepState,
    /// When the step started.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When the step finished.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /v1/orders/{no}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderProgress {
    /// Central order number.
    pub order_no: String,
    /// The business.
    pub business: Business,
    /// The moment of acceptance.
    pub accepted_at: DateTime<Utc>,
    /// Every step, in order.
    pub steps: Vec<OrderStep>,
}

/// `POST /v1/payments` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// The account paid for.
    pub account_no: String,
    /// Amount, in fen.
    pub amount_fen: i64,
}

/// State of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentState {
    /// QR code issued, not paid yet.
    Pending,
    /// Paid; the invoice is available.
    Paid,
    /// The QR code expired unpaid.
    Expired,
}

/// Invoice data of a paid payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice number.
    pub invoice_no: String,
    /// Amount, in fen.
    pub amount_fen: i64,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Invoice title (the holder, masked).
    pub title: String,
}

/// `POST /v1/payments` and `GET /v1/payments/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Payment id.
    pub payment_id: String,
    /// The account paid for.
    pub account_no: String,
    /// Amount, in fen.
    pub amount_fen: i64,
    /// Text to render as the payment QR code.
    pub qr_payload: String,
    /// Where the payment is.
    pub state: PaymentState,
    /// Invoice data once paid.
    #[serde(default)]
    pub invoice: Option<Invoice>,
}

/// `POST /v1/ratings` body (sent with an `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingSubmission {
    /// The order rated.
    pub order_no: String,
    /// 1–5 stars.
    pub stars: u8,
    /// Optional comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `POST /v1/ratings` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingAccepted {
    /// Central id of the stored rating.
    pub rating_id: String,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional, no whitespace).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
        assert_eq!(base64_encode(b"M"), "TQ==");
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
        }
        assert_eq!(base64_decode("a b"), None);
    }

    #[test]
    fn only_a_422_with_a_reason_code_is_a_business_rejection() {
        let url = "http://x/v1/orders".to_string();
        let rejected = |status: u16, code: &str| CentralError::Rejected {
            url: url.clone(),
            status,
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(
            rejected(422, "invalid-capacity").business_rejection(),
            Some("invalid-capacity")
        );
        // A 422 without central's body (a proxy's page) says nothing.
        assert_eq!(rejected(422, "http-422").business_rejection(), None);
        for status in [400, 401, 403, 409, 413] {
            assert_eq!(rejected(status, "unauthorized").business_rejection(), None);
        }
        assert_eq!(
            CentralError::NotFound { url: url.clone() }.business_rejection(),
            None
        );
        assert_eq!(
            CentralError::Server {
                url: url.clone(),
                status: 503
            }
            .business_rejection(),
            None
        );
    }

    #[test]
    fn only_definite_answers_are_final() {
        let url = "http://x/v1/orders".to_string();
        assert!(CentralError::Timeout { url: url.clone() }.retry_later());
        assert!(CentralError::Server {
            url: url.clone(),
            status: 503
        }
        .retry_later());
        assert!(CentralError::Garbage {
            url: url.clone(),
            detail: "x".into()
        }
        .retry_later());
        assert!(!CentralError::NotFound { url: url.clone() }.retry_later());
        let rejected = CentralError::Rejected {
            url,
            status: 422,
            code: "invalid-capacity".into(),
            message: "m".into(),
        };
        assert!(!rejected.retry_later());
        assert!(rejected.to_string().contains("invalid-capacity"));
    }

    #[test]
    fn reference_photo_debug_hides_the_face() {
        let p = ReferencePhoto::from_jpeg(&[0xFF, 0xD8, 0xFF, 0xD9]);
        assert_eq!(p.jpeg(), Some(vec![0xFF, 0xD8, 0xFF, 0xD9]));
        assert!(!format!("{p:?}").contains(&p.photo_jpeg_base64));
    }
}

/// `GET /v1/updates`: central's answer for one kiosk at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateAnswer {
    /// The update offered, if any.
    pub update: Option<UpdateOffer>,
}

/// An update central offers: a signed RAUC bundle and whether this kiosk
/// takes it now (a staged rollout: canary kiosks first, then a share of
/// the fleet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOffer {
    /// Release version of the bundle.
    pub version: String,
    /// Where to download it: absolute, or a path on central.
    pub bundle_url: String,
    /// SHA-256 of the bundle, hex.
    pub sha256: String,
    /// Size of the bundle, bytes.
    pub size: u64,
    /// This kiosk's rollout decision.
    pub rollout: Rollout,
}

/// Whether a kiosk installs an offered update now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// `install` now, or `wait` (not this kiosk's turn yet).
    pub decision: RolloutDecision,
    /// Which stage decided (`canary`, `percentage`, `all`, `paused`).
    pub stage: String,
}

/// A rollout decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutDecision {
    /// Download and install now.
    Install,
    /// Not yet: ask again later.
    Wait,
}

/// `POST /v1/devices/enroll`: a kiosk asks for its own certificate with a
/// one-time enrollment code. The key the request is for never leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code a technician was given for this kiosk.
    pub code: String,
    /// The kiosk's device id (the request's common name).
    pub device_id: String,
    /// PKCS#10 certificate signing request, PEM.
    pub csr_pem: String,
    /// `host:port` where the kiosk's status endpoint answers, for the
    /// fleet's scrape targets (`GET /v1/fleet/targets`).
    pub status_address: Option<String>,
}

/// `POST /v1/devices/renew` (over mutual TLS with the current
/// certificate): a new certificate for a new key, before the old expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    /// PKCS#10 certificate signing request, PEM, for the new key.
    pub csr_pem: String,
}

/// Central's answer to an enrollment or a renewal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    /// The device id the certificate names.
    pub device_id: String,
    /// The kiosk's certificate, PEM, signed by the fleet CA.
    pub certificate_pem: String,
    /// The fleet CA, PEM: it signs central's view of every kiosk and the
    /// fleet scraper's client certificate.
    pub fleet_ca_pem: String,
    /// When the certificate expires.
    pub not_after: DateTime<Utc>,
    /// The audit chain's key (64 hex digits), made by central at
    /// enrollment and kept by both: the kiosk keys its audit records with
    /// it. A renewal may leave it out (the kiosk keeps the one it has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
}

/// `POST /v1/devices/audit`: the kiosk's audit chain head, and the proof
/// that the chain still holds the record central saw last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeadReport {
    /// The reporting kiosk (its certificate's name, when it has one).
    pub device_id: String,
    /// The chain's last record (seq 0 for an empty chain).
    pub head: crate::store::AuditHead,
    /// The kiosk's record at the seq central acknowledged last, if it
    /// still holds one (`None` before the first report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<crate::store::AuditHead>,
}

/// Central's answer to an [`AuditHeadReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAck {
    /// The report was checked against what central saw (false: central
    /// needs the proof of record `seen.seq` first; report again with it).
    pub accepted: bool,
    /// What central holds for this kiosk now.
    pub seen: crate::store::AuditHead,
    /// The chain does not continue what central saw: cut short, deleted or
    /// rewritten. Central keeps the gap for this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
}

/// One group of `GET /v1/fleet/targets` (Prometheus' HTTP service
/// discovery format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    /// `host:port` of each kiosk's status endpoint.
    pub targets: Vec<String>,
    /// Labels of every target in the group (`kiosk_id`).
    pub labels: std::collections::BTreeMap<String, String>,
}
