//! The controller-facing side of the Slint screens: [`Screens`] writes a
//! [`View`] into the `Kiosk` global and turns its `act(name, arg)` callback
//! into typed [`Action`]s.

use std::rc::Rc;

use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};

use crate::generated::{
    Choice as SlintChoice, Kiosk, KioskWindow, Method as SlintMethod, Pushed as SlintPushed,
    Step as SlintStep,
};
use crate::{Lang, Qr, View};

/// Pages that exist, by the phase name they show; [`page_for`] sends every
/// other phase to the generic `wait` page.
pub const PAGES: &[&str] = &[
    "attract",
    "choose-business",
    "choose-identity",
    "reading-card",
    "face-consent",
    "face-identity",
    "face-capture",
    "consent-certificates",
    "review-certificates",
    "commitment",
    "form",
    "capacity-notice",
    "review",
    "receipt",
    "rating",
    "fault",
    "timeout-warning",
    "account-entry",
    "transfer-parties",
    "scanning-eid",
    "waiting-staff",
    "pushed-orders",
    "contract",
    "bill-due",
    "paying",
    "paid",
    "payment-failed",
    "query-entry",
    "progress",
];

/// Phases shown by another phase's page (with their own title and prompt).
pub const SHARED_PAGES: &[(&str, &str)] = &[("reading-second-card", "reading-card")];

/// The page that shows `phase`: its own page, a page it shares, or the
/// generic waiting page for phases where the kiosk works and the citizen
/// waits (and for phases this build does not know yet).
pub fn page_for(phase: &str) -> &str {
    if PAGES.contains(&phase) {
        phase
    } else if let Some((_, page)) = SHARED_PAGES.iter().find(|(p, _)| *p == phase) {
        page
    } else {
        "wait"
    }
}

/// Why the screens could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Slint could not create the window or the platform.
    #[error("cannot create the touchscreen window: {0}")]
    Platform(#[from] slint::PlatformError),
    /// The headless platform was already set on this thread.
    #[error("the Slint platform is already set on this thread")]
    PlatformAlreadySet,
    /// A screenshot could not be written.
    #[error("cannot write the screenshot {path}: {source}")]
    Png {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A touch on the screen, as the controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// "Start" on the attract screen.
    Start,
    /// Elderly mode on or off.
    Elderly(bool),
    /// Switch the language.
    Lang(Lang),
    /// A business, by code.
    Business(String),
    /// An identity method, by code.
    Identity(String),
    /// Face consent given or refused.
    FaceConsent(bool),
    /// Certificate consent given or refused.
    CertificateConsent(bool),
    /// "Continue" / "Finish" on an informational screen.
    Continue,
    /// "Back".
    Back,
    /// "Cancel" / "End now".
    Cancel,
    /// "More time".
    MoreTime,
    /// A rating, or skip.
    Rate(Option<u8>),
    /// "Confirm and submit".
    Confirm,
    /// On the capacity notice: insist on high voltage (`true`) or not.
    HighVoltage(bool),
    /// "Sign and continue" on the commitment.
    Sign,
    /// Clear the signature pad.
    ClearSignature,
    /// A keypad key (`0`–`9`, `X`, `delete`).
    Key(String),
    /// Select the field the keypad types into.
    Field(String),
    /// A pinyin letter (or `⌫`).
    Pinyin(String),
    /// A character chosen among the pinyin candidates.
    Candidate(String),
    /// Name and ID number entered.
    EnterIdentity,
    /// The form is filled in.
    SubmitForm,
    /// Residential (`true`) or business use.
    Residential(bool),
    /// Say the screen again.
    Replay,
    /// Volume up (`+1`) or down (`-1`).
    Volume(i32),
    /// A tap on the hidden technician entry.
    TechnicianTap,
    /// A key of the technician PIN pad.
    Pin(String),
    /// Close the technician PIN pad or menu.
    TechnicianClose,
    /// Technician menu: install the USB stick's update bundle.
    TechnicianInstall,
    /// Technician menu: restart into the installed update.
    TechnicianRestart,
    /// Technician menu: end the kiosk program (systemd starts it again).
    TechnicianExit,
    /// The account number typed is complete.
    EnterAccount,
    /// "Find my account by my identity" (bill payment).
    UseIdentity,
    /// Transfer: the previous holder is here (`true`) or not.
    HolderPresent(bool),
    /// A pushed order chosen for confirmation, by id.
    ChoosePushed(String),
    /// Turn the contract's page: `+1` next, `-1` previous.
    ContractPage(i32),
    /// "Confirm signing" on the contract.
    SignContract,
    /// "Pay" on the bill.
    Pay,
    /// The order number typed for a progress query is complete.
    EnterOrder,
    /// Staff confirm the citizen's identity with their PIN.
    StaffConfirm,
    /// Toggle a rating phrase, by code.
    Phrase(String),
    /// Open (`true`) or close the company entry on choose-identity.
    Company(bool),
    /// Who applies for the company (`legal-representative`, `agent`).
    CompanyRole(String),
    /// The credit code typed is complete.
    ApplyCompany,
    /// A point of a signature stroke; `down` starts a stroke.
    Stroke {
        /// Logical x in the pad.
        x: f32,
        /// Logical y in the pad.
        y: f32,
        /// First point of a stroke.
        down: bool,
    },
}

impl Action {
    /// Parses the `Kiosk.act(name, arg)` callback; `None` for an unknown
    /// action (a `.slint` typo), which the controller logs and ignores.
    pub fn parse(name: &str, arg: &str) -> Option<Action> {
        let yes = arg == "yes" || arg == "on";
        Some(match name {
            "start" => Action::Start,
            "elderly" => Action::Elderly(yes),
            "lang" => Action::Lang(if arg == "en" { Lang::En } else { Lang::Zh }),
            "business" => Action::Business(arg.into()),
            "identity" => Action::Identity(arg.into()),
            "face-consent" => Action::FaceConsent(yes),
            "cert-consent" => Action::CertificateConsent(yes),
            "continue" => Action::Continue,
            "back" => Action::Back,
            "cancel" => Action::Cancel,
            "more-time" => Action::MoreTime,
            "rate" => Action::Rate(arg.parse().ok()),
            "confirm" => Action::Confirm,
            "high-voltage" => Action::HighVoltage(yes),
            "sign" => Action::Sign,
            "clear-signature" => Action::ClearSignature,
            "key" => Action::Key(arg.into()),
            "field" => Action::Field(arg.into()),
            "pinyin" => Action::Pinyin(arg.into()),
            "candidate" => Action::Candidate(arg.into()),
            "enter-identity" => Action::EnterIdentity,
            "submit-form" => Action::SubmitForm,
            "residential" => Action::Residential(yes),
            "replay" => Action::Replay,
            "volume" => Action::Volume(if arg == "up" { 1 } else { -1 }),
            "technician-tap" => Action::TechnicianTap,
            "pin" => Action::Pin(arg.into()),
            "technician-close" => Action::TechnicianClose,
            "technician-install" => Action::TechnicianInstall,
            "technician-restart" => Action::TechnicianRestart,
            "technician-exit" => Action::TechnicianExit,
            "enter-account" => Action::EnterAccount,
            "use-identity" => Action::UseIdentity,
            "holder-present" => Action::HolderPresent(yes),
            "choose-pushed" => Action::ChoosePushed(arg.into()),
            "contract-page" => Action::ContractPage(if arg == "previous" { -1 } else { 1 }),
            "sign-contract" => Action::SignContract,
            "pay" => Action::Pay,
            "enter-order" => Action::EnterOrder,
            "staff-confirm" => Action::StaffConfirm,
            "phrase" => Action::Phrase(arg.into()),
            "company" => Action::Company(yes),
            "company-role" => Action::CompanyRole(arg.into()),
            "apply-company" => Action::ApplyCompany,
            _ => return None,
        })
    }
}

/// The kiosk window and its adapter.
pub struct Screens {
    window: KioskWindow,
    lang: std::cell::Cell<Option<Lang>>,
}

/// A Slint list model of `v`, each item mapped by `f`.
fn model<T, U: Clone + 'static>(v: &[T], f: impl Fn(&T) -> U) -> ModelRc<U> {
    ModelRc::from(Rc::new(VecModel::from(v.iter().map(f).collect::<Vec<_>>())))
}

fn strings(v: &[String]) -> ModelRc<SharedString> {
    model(v, |s| SharedString::from(s))
}

/// Renders a QR code as an image, 8 pixels a module with a quiet zone.
fn qr_image(qr: &Qr) -> slint::Image {
    const SCALE: usize = 8;
    let side = (qr.width + 8) * SCALE;
    let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(side as u32, side as u32);
    let pixels = buf.make_mut_slice();
    for (i, px) in pixels.iter_mut().enumerate() {
        let (x, y) = ((i % side) / SCALE, (i / side) / SCALE);
        let dark = x >= 4
            && y >= 4
            && x < qr.width + 4
            && y < qr.width + 4
            && qr.modules.get((y - 4) * qr.width + (x - 4)) == Some(&true);
        let v = if dark { 0 } else { 255 };
        *px = slint::Rgb8Pixel { r: v, g: v, b: v };
    }
    slint::Image::from_rgb8(buf)
}

impl Screens {
    /// Creates the window on the current thread's Slint platform.
    pub fn new() -> Result<Self, UiError> {
        let window = KioskWindow::new()?;
        Ok(Self {
            window,
            lang: std::cell::Cell::new(None),
        })
    }

    /// The Slint component, for showing it, running its event loop, or
    /// finding controls in tests.
    pub fn window(&self) -> &KioskWindow {
        &self.window
    }

    /// Calls `f` with every touch. `f` runs on the UI thread.
    pub fn on_action(&self, f: impl Fn(Action) + 'static) {
        let f = Rc::new(f);
        let g = f.clone();
        let k = self.window.global::<Kiosk>();
        k.on_act(move |name, arg| match Action::parse(&name, &arg) {
            Some(a) => f(a),
            None => tracing::warn!(action = %name, "unknown action from the screen ignored"),
        });
        k.on_stroke(move |x, y, down| g(Action::Stroke { x, y, down }));
    }

    /// Writes `view` into the adapter.
    pub fn show(&self, view: &View) {
        if self.lang.get() != Some(view.lang) {
            // Only Chinese is bundled; English is the source language.
            let code = match view.lang {
                Lang::Zh => "zh_CN",
                Lang::En => "en",
            };
            if slint::select_bundled_translation(code).is_ok() {
                self.lang.set(Some(view.lang));
            }
        }
        let k = self.window.global::<Kiosk>();
        let text = crate::screen(&view.phase, view.lang);
        k.set_phase(view.phase.as_str().into());
        k.set_page(page_for(&view.phase).into());
        k.set_resumes(view.resumes.as_str().into());
        k.set_elderly(view.elderly);
        k.set_lang(view.lang.code().into());
        k.set_title(text.map(|t| t.title).unwrap_or_default().into());
        k.set_prompt(text.map(|t| t.prompt).unwrap_or_default().into());
        k.set_businesses(strings(&view.businesses));
        // The face-check notice is shown only where the face check is offered.
        k.set_face_offered(view.methods.iter().any(|m| m.code == "face" && m.enabled));
        k.set_methods(model(&view.methods, |m| SlintMethod {
            code: m.code.as_str().into(),
            enabled: m.enabled,
        }));
        k.set_business(view.business.as_str().into());
        k.set_masked_name(view.masked_name.as_str().into());
        k.set_masked_id(view.masked_id.as_str().into());
        k.set_found(strings(&view.found));
        k.set_missing(strings(&view.missing));
        k.set_deadline(view.deadline.as_str().into());
        k.set_route(view.route.as_str().into());
        k.set_capacity_kw(view.capacity_kw.as_str().into());
        k.set_limit_kw(view.limit_kw.as_str().into());
        k.set_address(view.address.as_str().into());
        k.set_masked_phone(view.masked_phone.as_str().into());
        k.set_residential(view.residential);
        k.set_order_no(view.order_no.as_str().into());
        k.set_pending_sync(view.pending_sync);
        k.set_printed(view.printed.as_str().into());
        k.set_problem(view.problem.as_str().into());
        k.set_qr(view.qr.as_ref().map(qr_image).unwrap_or_default());
        k.set_face_progress(view.face_progress);
        k.set_face_text(view.face_text.as_str().into());
        k.set_face_hint(view.face_hint.as_str().into());
        k.set_field(view.field.as_str().into());
        k.set_entry_name(view.entry_name.as_str().into());
        k.set_entry_id(view.entry_id.as_str().into());
        k.set_entry_capacity(view.entry_capacity.as_str().into());
        k.set_entry_phone(view.entry_phone.as_str().into());
        k.set_pinyin(view.pinyin.as_str().into());
        k.set_candidates(strings(&view.candidates));
        k.set_signature_path(view.signature_path.as_str().into());
        k.set_signed(view.signed);
        k.set_volume(view.volume);
        k.set_muted(view.muted);
        k.set_technician(view.technician);
        k.set_technician_menu(view.technician_menu);
        k.set_tech_lines(strings(&view.tech_lines));
        k.set_tech_bundle(view.tech_bundle.as_str().into());
        k.set_tech_can_install(view.tech_can_install);
        k.set_tech_can_restart(view.tech_can_restart);
        k.set_tech_message(view.tech_message.as_str().into());
        k.set_entry_account(view.entry_account.as_str().into());
        k.set_entry_order(view.entry_order.as_str().into());
        k.set_entry_pin(view.entry_pin.as_str().into());
        k.set_account_no(view.account_no.as_str().into());
        k.set_account_holder(view.account_holder.as_str().into());
        k.set_amount_due(view.amount_due.as_str().into());
        k.set_has_due(view.has_due);
        k.set_mailing_address(view.mailing_address.as_str().into());
        k.set_pushed(model(&view.pushed, |p| SlintPushed {
            id: p.id.as_str().into(),
            business: p.business.as_str().into(),
            source: p.source.as_str().into(),
            summary: p.summary.as_str().into(),
        }));
        k.set_pushed_summary(view.pushed_summary.as_str().into());
        k.set_contract_title(view.contract_title.as_str().into());
        k.set_contract_text(view.contract_text.as_str().into());
        k.set_contract_page(view.contract_page);
        k.set_contract_pages(view.contract_pages);
        k.set_pay_qr(view.pay_qr.as_ref().map(qr_image).unwrap_or_default());
        k.set_pay_amount(view.pay_amount.as_str().into());
        k.set_invoice_no(view.invoice_no.as_str().into());
        k.set_phrases(model(&view.phrases, |c| SlintChoice {
            code: c.code.as_str().into(),
            chosen: c.chosen,
        }));
        k.set_company_entry(view.company_entry);
        k.set_company_code(view.company_code.as_str().into());
        k.set_entry_credit_code(view.entry_credit_code.as_str().into());
        k.set_company_role(view.company_role.as_str().into());
        k.set_progress_no(view.progress_no.as_str().into());
        k.set_progress_business(view.progress_business.as_str().into());
        k.set_steps(model(&view.steps, |s| SlintStep {
            title: s.title.as_str().into(),
            state: s.state.as_str().into(),
            started: s.started.as_str().into(),
            finished: s.finished.as_str().into(),
        }));
    }

    /// Shows a live camera preview (`width × height` RGB) on the face
    /// screen, or clears it with `None`. The preview is never part of a
    /// [`View`]: screenshots of views cannot contain a face.
    pub fn show_preview(&self, frame: Option<(u32, u32, &[u8])>) {
        let k = self.window.global::<Kiosk>();
        let image = frame
            .filter(|(w, h, rgb)| rgb.len() == (*w as usize) * (*h as usize) * 3)
            .map(|(w, h, rgb)| {
                slint::Image::from_rgb8(
                    slint::SharedPixelBuffer::<slint::Rgb8Pixel>::clone_from_slice(rgb, w, h),
                )
            })
            .unwrap_or_default();
        k.set_preview(image);
    }

    /// The businesses the adapter holds now (for tests).
    pub fn businesses(&self) -> Vec<String> {
        let k = self.window.global::<Kiosk>();
        k.get_businesses().iter().map(|s| s.to_string()).collect()
    }
}
