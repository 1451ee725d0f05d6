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

/// An order started elsewhere (e.g. by the property register) that waits
/// for the citizen's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pushed {
    /// Central id (what "confirm" sends back).
    pub id: String,
    /// Business code.
    pub business: String,
    /// Where it came from, as central words it.
    pub source: String,
    /// What the citizen confirms, in one sentence.
    pub summary: String,
}

/// One step of an order's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// Title as central words it (受理, 现场勘查, …).
    pub title: String,
    /// `done`, `in-progress` or `pending`.
    pub state: String,
    /// Local start time (`MM-DD HH:MM`), empty when not started.
    pub started: String,
    /// Local finish time, empty when not finished.
    pub finished: String,
}

/// Something the citizen can toggle (a rating phrase).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Choice {
    /// Its code.
    pub code: String,
    /// Whether it is chosen.
    pub chosen: bool,
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
    /// The technician PIN pad or menu is open (the citizen's pages are not
    /// shown).
    pub technician: bool,
    /// The technician menu is open (after the PIN).
    pub technician_menu: bool,
    /// The menu's lines: release, slots, last update.
    pub tech_lines: Vec<String>,
    /// The update bundle on the USB stick (file name), or a hint.
    pub tech_bundle: String,
    /// "Install from the USB stick" is enabled.
    pub tech_can_install: bool,
    /// "Restart now" is enabled (an installed update waits).
    pub tech_can_restart: bool,
    /// Where the install stands, or its result.
    pub tech_message: String,
    /// Account number typed (account entry).
    pub entry_account: String,
    /// Order number typed (progress query).
    pub entry_order: String,
    /// The staff PIN typed, as one dot a digit (never the digits).
    pub entry_pin: String,
    /// The account the business concerns.
    pub account_no: String,
    /// Its holder, masked by central.
    pub account_holder: String,
    /// Amount due (`¥123.45`); empty when no account.
    pub amount_due: String,
    /// Whether anything is due.
    pub has_due: bool,
    /// Orders started elsewhere, waiting for confirmation.
    pub pushed: Vec<Pushed>,
    /// The summary of the pushed order being signed, if any.
    pub pushed_summary: String,
    /// Supply contract: title.
    pub contract_title: String,
    /// Supply contract: the page shown.
    pub contract_text: String,
    /// Supply contract: page shown (1-based) and how many.
    pub contract_page: i32,
    /// Supply contract: number of pages.
    pub contract_pages: i32,
    /// The payment code to scan.
    pub pay_qr: Option<Qr>,
    /// Amount of the payment (`¥123.45`).
    pub pay_amount: String,
    /// Invoice number once paid.
    pub invoice_no: String,
    /// The progress query's order number and steps.
    pub progress_no: String,
    /// The business of the order queried.
    pub progress_business: String,
    /// Each step of the order queried.
    pub steps: Vec<Step>,
    /// Where the closure certificate is mailed (closure form).
    pub mailing_address: String,
    /// The rating's fixed phrases, each chosen or not.
    pub phrases: Vec<Choice>,
    /// The company entry is open on choose-identity.
    pub company_entry: bool,
    /// The credit code typed.
    pub entry_credit_code: String,
    /// The company applied for (its credit code, a public identifier).
    pub company_code: String,
    /// Who applies for the company: `legal-representative` or `agent`.
    pub company_role: String,
    /// Face capture: the action asked for now, in the screen's language
    /// (also spoken); empty when none.
    pub face_text: String,
    /// Face capture: why the last frame did not count; empty when it did.
    pub face_hint: String,
}
