//! The domain model: businesses, identity methods, certificates, the capacity
//! rule and the order the kiosk accepts.
//!
//! An [`Order`] is split in two on purpose: [`OrderPersonal`] holds every
//! personal field (name, ID number, address, phone) and is the only part the
//! store encrypts and the central client sends; everything else is
//! non-personal and may appear in summaries, transcripts and `/status`.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_drivers::pii::{IdNumber, Personal};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The electricity businesses a citizen can do at the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Business {
    /// New low-voltage connection (低压新装).
    NewConnection,
    /// Capacity increase (增容).
    CapacityIncrease,
    /// Name change (更名).
    NameChange,
    /// Ownership transfer (过户).
    Transfer,
    /// Account closure (销户).
    Closure,
    /// Bill payment and invoice (缴费).
    PayBill,
    /// Progress query (进度查询).
    ProgressQuery,
}

impl Business {
    /// Every business, in the order the choose-business screen lists them.
    pub const ALL: [Business; 7] = [
        Business::NewConnection,
        Business::CapacityIncrease,
        Business::NameChange,
        Business::Transfer,
        Business::Closure,
        Business::PayBill,
        Business::ProgressQuery,
    ];

    /// Stable machine name (also the wire name).
    pub fn code(self) -> &'static str {
        match self {
            Business::NewConnection => "new-connection",
            Business::CapacityIncrease => "capacity-increase",
            Business::NameChange => "name-change",
            Business::Transfer => "transfer",
            Business::Closure => "closure",
            Business::PayBill => "pay-bill",
            Business::ProgressQuery => "progress-query",
        }
    }

    /// Chinese title printed on receipts.
    pub fn title_zh(self) -> &'static str {
        match self {
            Business::NewConnection => "低压新装",
            Business::CapacityIncrease => "增容",
            Business::NameChange => "更名",
            Business::Transfer => "过户",
            Business::Closure => "销户",
            Business::PayBill => "缴费",
            Business::ProgressQuery => "进度查询",
        }
    }
}

/// How the citizen proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityMethod {
    /// Local face check against the trusted reference photo (its own issue).
    Face,
    /// Resident ID card (or foreign PR card / residence permit) on the reader.
    IdCard,
    /// Electronic ID shown as a QR code on the citizen's phone.
    Eid,
    /// A member of staff confirms the identity.
    CallStaff,
}

impl IdentityMethod {
    /// Every method, as the choose-identity screen shows them side by side.
    pub const ALL: [IdentityMethod; 4] = [
        IdentityMethod::Face,
        IdentityMethod::IdCard,
        IdentityMethod::Eid,
        IdentityMethod::CallStaff,
    ];
}

/// Kinds of electronic certificate fetched from the data-sharing platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateKind {
    /// Proof of identity of the subject (resident identity record).
    SubjectProof,
    /// Real-estate registration of the supply address.
    PropertyProof,
    /// Business licence by unified social credit code (companies).
    BusinessLicence,
}

impl CertificateKind {
    /// Chinese name printed on receipts.
    pub fn title_zh(self) -> &'static str {
        match self {
            CertificateKind::SubjectProof => "主体资格证明",
            CertificateKind::PropertyProof => "产权证明",
            CertificateKind::BusinessLicence => "营业执照",
        }
    }

    /// Stable machine name (also the wire name).
    pub fn code(self) -> &'static str {
        match self {
            CertificateKind::SubjectProof => "subject-proof",
            CertificateKind::PropertyProof => "property-proof",
            CertificateKind::BusinessLicence => "business-licence",
        }
    }
}

/// An electronic certificate as the central service returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// What it proves.
    pub kind: CertificateKind,
    /// Certificate number on the data-sharing platform (not personal).
    pub number: String,
    /// Issuing authority.
    pub issuer: String,
    /// For a property proof: the registered address (personal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Personal>,
    /// For a property proof: the registered micro-enterprise park the
    /// address lies in, if any (raises the low-voltage limit to 300 kW).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_park: Option<String>,
}

/// Low-voltage capacity limits, from the central catalog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapacityPolicy {
    /// Up to this, low voltage with zero customer investment (160 kW).
    pub low_voltage_kw: f64,
    /// Inside a registered micro-enterprise park, up to this after a site
    /// check (300 kW).
    pub micro_park_kw: f64,
}

impl Default for CapacityPolicy {
    fn default() -> Self {
        Self {
            low_voltage_kw: 160.0,
            micro_park_kw: 300.0,
        }
    }
}

/// How the requested supply is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SupplyRoute {
    /// Low voltage, zero investment.
    LowVoltage,
    /// Low voltage inside a micro-enterprise park above the 160 kW limit:
    /// accepted, marked for a site check and technical-economic comparison.
    LowVoltageParkAssessment,
    /// Above the limit: high voltage, an account manager is booked.
    HighVoltage,
    /// Under the limit but the customer chose high voltage after being told
    /// of the low-voltage option (evidence kept in the order).
    HighVoltageByChoice,
}

impl SupplyRoute {
    /// Whether an account manager must be booked for this route.
    pub fn needs_account_manager(self) -> bool {
        matches!(
            self,
            SupplyRoute::HighVoltage | SupplyRoute::HighVoltageByChoice
        )
    }
}

/// The capacity rule (DOMAIN.md §1).
///
/// `in_micro_park` is whether the supply address lies in a registered
/// micro-enterprise park; `wants_high_voltage` whether the customer insists
/// on high voltage although low voltage is available to them.
pub fn capacity_route(
    policy: &CapacityPolicy,
    capacity_kw: f64,
    in_micro_park: bool,
    wants_high_voltage: bool,
) -> SupplyRoute {
    let limit = if in_micro_park {
        policy.micro_park_kw
    } else {
        policy.low_voltage_kw
    };
    if capacity_kw > limit {
        SupplyRoute::HighVoltage
    } else if wants_high_voltage {
        SupplyRoute::HighVoltageByChoice
    } else if capacity_kw > policy.low_voltage_kw {
        SupplyRoute::LowVoltageParkAssessment
    } else {
        SupplyRoute::LowVoltage
    }
}

/// Who the applicant is for a company customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompanyRole {
    /// The legal representative (法定代表人) in person.
    #[default]
    LegalRepresentative,
    /// An agent (经办人) acting for the company.
    Agent,
}

/// A company customer: identified by its unified social credit code (a
/// public registry identifier, not personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyApplicant {
    /// Unified social credit code (GB 32100), check character verified.
    pub credit_code: String,
    /// Whether the person at the kiosk is the legal representative or an agent.
    pub role: CompanyRole,
}

/// Why a unified social credit code is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not 18 characters.
    #[error("a unified social credit code has 18 characters, not {0}")]
    Length(usize),
    /// A character outside the GB 32100 alphabet (no I, O, S, V, Z).
    #[error("character {0:?} is not allowed in a unified social credit code")]
    Character(char),
    /// The 18th character does not match the check computed over the first 17.
    #[error("the check character is wrong (expected {expected:?})")]
    Check {
        /// What the check character should be.
        expected: char,
    },
}

/// The GB 32100-2015 alphabet: digits and capitals without I, O, S, V, Z.
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17 (3^(i) mod 31).
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The check character of the first 17 characters of a credit code, or
/// `None` if one of them is outside the alphabet or there are not 17.
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in bytes.iter().zip(CREDIT_WEIGHTS) {
        let v = CREDIT_ALPHABET.iter().position(|c| c == b)? as u32;
        sum += v * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(CREDIT_ALPHABET[check as usize]))
}

/// Parses a unified social credit code typed or scanned: trims, upper-cases
/// and checks length, alphabet and check character (GB 32100-2015).
pub fn parse_credit_code(input: &str) -> Result<String, CreditCodeError> {
    let code: String = input.trim().to_ascii_uppercase();
    let n = code.chars().count();
    if n != 18 {
        return Err(CreditCodeError::Length(n));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !c.is_ascii() || !CREDIT_ALPHABET.contains(&(*c as u8)))
    {
        return Err(CreditCodeError::Character(bad));
    }
    let expected = credit_code_check_char(&code[..17]).ok_or(CreditCodeError::Length(n))?;
    if code.as_bytes()[17] != expected as u8 {
        return Err(CreditCodeError::Check { expected });
    }
    Ok(code)
}

/// The supply contract signed on the touchscreen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractSignature {
    /// Version of the contract text shown (from the central catalog).
    pub version: String,
    /// SHA-256 (hex) of the signature's touch strokes.
    pub signature_sha256: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
}

/// The parties of an ownership transfer (non-personal part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferParties {
    /// The old holder was present and proved their identity here.
    pub old_holder_present: bool,
    /// Central confirmed the old holder is the account's holder.
    pub old_holder_verified: bool,
}

/// A document that could not be fetched and must be supplied later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingDocument {
    /// Which certificate is missing.
    pub kind: CertificateKind,
    /// The date by which the citizen promised to supply it.
    pub deadline: NaiveDate,
}

/// The signed commitment letter (承诺书) for missing documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// SHA-256 (hex) of the signature's touch strokes.
    pub signature_sha256: String,
    /// The deadline the citizen committed to.
    pub deadline: NaiveDate,
    /// Version of the commitment text shown.
    pub text_version: String,
}

/// Non-personal outcome of the identity check stored with the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityCheck {
    /// The method used.
    pub method: IdentityMethod,
    /// Whether the ID number passed GB 11643 (an untrusted number is
    /// reported, never silently accepted as verified).
    pub number_valid: bool,
    /// When the identity was established.
    pub verified_at: DateTime<Utc>,
}

/// Personal fields of an order: encrypted at rest, wiped on drop.
#[derive(Clone, PartialEq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop, Debug)]
pub struct OrderPersonal {
    /// Applicant's name.
    pub name: Personal,
    /// Applicant's ID number.
    pub id_number: IdNumber,
    /// Supply address.
    pub address: Personal,
    /// Contact phone.
    pub phone: Personal,
    /// Where to mail a document (the closure certificate), if asked for.
    #[serde(default)]
    pub mailing_address: Personal,
    /// The old holder of a transfer, when present and identified here.
    #[serde(default)]
    pub old_holder_name: Personal,
    /// The old holder's ID number (transfer with both parties present).
    #[serde(default)]
    pub old_holder_id: Option<IdNumber>,
}

/// What the citizen asked for on the business form (non-personal part).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Requested capacity in kW.
    pub capacity_kw: f64,
    /// Residential (居民) or not.
    pub residential: bool,
    /// Route decided by the capacity rule.
    pub route: SupplyRoute,
    /// The low-voltage option was explained and the customer chose high
    /// voltage anyway (evidence retention).
    pub low_voltage_offered_and_declined: bool,
    /// An account manager visit was booked (high-voltage routes).
    pub account_manager_booked: bool,
    /// The micro-enterprise park of the address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_park: Option<String>,
}

/// Where an order is in its life on this kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    /// Accepted here, not yet confirmed by central.
    PendingSync,
    /// Central confirmed it and gave it a number.
    Synced,
    /// Central refused it as invalid (parked, alarmed, needs staff).
    Rejected,
}

/// An order accepted at the kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Local id, unique per device; also the idempotency key towards central.
    pub local_id: String,
    /// Central order number once synced.
    pub central_no: Option<String>,
    /// The business.
    pub business: Business,
    /// When it was accepted: recorded at the moment the citizen submitted.
    pub accepted_at: DateTime<Utc>,
    /// How identity was established.
    pub identity: IdentityCheck,
    /// What was applied for.
    pub application: Application,
    /// Certificates fetched (numbers only).
    pub certificates: Vec<String>,
    /// Documents still missing, with deadlines.
    pub missing: Vec<MissingDocument>,
    /// Signed commitment for the missing documents.
    pub commitment: Option<Commitment>,
    /// Satisfaction rating 1–5, if given.
    pub rating: Option<u8>,
    /// The rating's fixed-phrase comment codes, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_comment: Option<String>,
    /// Life-cycle status.
    pub status: OrderStatus,
    /// Personal fields (encrypted at rest).
    pub personal: OrderPersonal,
    /// The electricity account concerned (all but new connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_no: Option<String>,
    /// A company customer, when the applicant acts for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyApplicant>,
    /// The supply contract signed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractSignature>,
    /// The pushed order (started elsewhere) this order confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_from: Option<String>,
    /// Parties of a transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferParties>,
    /// When the retention job deleted the personal fields (they are empty
    /// from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_purged_at: Option<DateTime<Utc>>,
    /// The clock had not been synchronised since boot when the order was
    /// accepted (no NTP yet): `accepted_at` is only what the clock said.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub time_unverified: bool,
    /// When central received the order, by central's clock (from its
    /// answer; absent until synced, and from centrals that do not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_received_at: Option<DateTime<Utc>>,
}

/// An amount in fen as yuan (`¥123.45`), as screens, receipts and
/// invoices show it.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes_are_checked_per_gb32100() {
        // Two published codes and the simulator's synthetic one.
        for good in [
            "91350100M000100Y43",
            "91110000600037341L",
            "91330106MA27XY123U",
        ] {
            let first = &good[..17];
            let check = credit_code_check_char(first).expect("alphabet");
            let fixed = format!("{first}{check}");
            assert_eq!(parse_credit_code(&fixed.to_lowercase()), Ok(fixed.clone()));
            // Any other last character fails with the expected one named.
            let other = if check == '0' { '1' } else { '0' };
            assert_eq!(
                parse_credit_code(&format!("{first}{other}")),
                Err(CreditCodeError::Check { expected: check })
            );
        }
        assert_eq!(credit_code_check_char("91350100M000100Y4"), Some('3'));
        assert_eq!(credit_code_check_char("91110000600037341"), Some('L'));
        assert_eq!(
            parse_credit_code("9135010"),
            Err(CreditCodeError::Length(7))
        );
        assert_eq!(
            parse_credit_code("91350100M000100I43"),
            Err(CreditCodeError::Character('I'))
        );
        assert_eq!(
            parse_credit_code("91350100M000100Y4中"),
            Err(CreditCodeError::Character('中'))
        );
    }

    #[test]
    fn capacity_rule_boundaries() {
        let p = CapacityPolicy::default();
        use SupplyRoute::*;
        assert_eq!(capacity_route(&p, 160.0, false, false), LowVoltage);
        assert_eq!(capacity_route(&p, 160.1, false, false), HighVoltage);
        assert_eq!(capacity_route(&p, 160.0, true, false), LowVoltage);
        assert_eq!(
            capacity_route(&p, 160.1, true, false),
            LowVoltageParkAssessment
        );
        assert_eq!(
            capacity_route(&p, 300.0, true, false),
            LowVoltageParkAssessment
        );
        assert_eq!(capacity_route(&p, 300.1, true, false), HighVoltage);
        assert_eq!(capacity_route(&p, 300.0, false, false), HighVoltage);
        assert_eq!(capacity_route(&p, 8.0, false, true), HighVoltageByChoice);
        assert_eq!(capacity_route(&p, 250.0, true, true), HighVoltageByChoice);
        assert_eq!(capacity_route(&p, 400.0, true, true), HighVoltage);
    }

    #[test]
    fn yuan_has_two_decimals() {
        assert_eq!(yuan(12_345), "¥123.45");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(-100), "-¥1.00");
    }
}
