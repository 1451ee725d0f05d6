//! The view model: everything a screen shows, as plain data.
//!
//! The kiosk's controller builds a [`View`] from the flow state and what the
//! citizen is typing; [`crate::Screens::show`] writes it into the Slint
//! `Kiosk` global. Personal values arrive here already masked, except what
//! the citizen is typing right now and the supply address, which the
//! citizen must see to check.

use crate::Lang;

/// An identity method on the choose-identity screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Method code (`face`, `id-card`, `eid`, `call-staff`).
    pub code: String,
    /// Whether this kiosk offers it now (the others show "not available").
    pub enabled: bool,
}

/// A QR code as modules, row by row (`true` is dark).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Qr {
    /// Modules per side.
    pub width: usize,
    /// `width * width` modules.
    pub modules: Vec<bool>,
}

/// What the screen shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    /// Flow phase name (`attract`, `choose-business`, ...).
    pub phase: String,
    /// The phase a timeout warning interrupted.
    pub resumes: String,
    /// Elderly mode.
    pub elderly: bool,
    /// Display language.
    pub lang: Lang,
    /// Businesses offered, by code.
    pub businesses: Vec<String>,
    /// Identity methods, all of them, enabled or not.
    pub methods: Vec<Method>,
    /// The chosen business, by code.
    pub business: String,
    /// Masked name of the applicant.
    pub masked_name: String,
    /// Masked ID number of the applicant.
    pub masked_id: String,
    /// Certificate kinds found.
    pub found: Vec<String>,
    /// Certificate kinds missing.
    pub missing: Vec<String>,
    /// Deadline of the missing documents (ISO date).
    pub deadline: String,
    /// Supply route code.
    pub route: String,
    /// Requested capacity, kW.
    pub capacity_kw: String,
    /// Low-voltage limit that applies, kW.
    pub limit_kw: String,
    /// Supply address (shown to the citizen to check).
    pub address: String,
    /// Masked contact phone.
    pub masked_phone: String,
    /// Residential (`true`) or business use.
    pub residential: bool,
    /// Order number shown on the receipt screen (central number, else local id).
    pub order_no: String,
    /// Accepted locally, not yet synced.
    pub pending_sync: bool,
    /// `yes`, `no`, or empty while printing.
    pub printed: String,
    /// Problem code shown, or empty.
    pub problem: String,
    /// The receipt's QR code.
    pub qr: Option<Qr>,
    /// Face capture progress, percent.
    pub face_progress: i32,
    /// The field the keypad types into (`name`, `id`, `capacity`, `phone`).
    pub field: String,
    /// Name being typed.
    pub entry_name: String,
    /// ID number being typed (shown while typing so it can be checked).
    pub entry_id: String,
    /// Capacity being typed.
    pub entry_capacity: String,
    /// Phone being typed.
    pub entry_phone: String,
    /// Pinyin typed so far.
    pub pinyin: String,
    /// Characters matching the pinyin.
    pub candidates: Vec<String>,
    /// The signature drawn so far, as SVG path commands.
    pub signature_path: String,
    /// Whether the signature has any stroke.
    pub signed: bool,
    /// Voice volume, 0–5.
    pub volume: i32,
    /// Voice muted by config.
    pub muted: bool,
    /// The technician PIN pad is open.
    pub technician: bool,
}
