//! The controller: turns touches ([`Action`]) into flow [`Event`]s, and
//! keeps what belongs to the screen only (language, what is being typed,
//! the signature being drawn, voice volume, the technician PIN pad).
//!
//! It decides nothing the flow decides: the flow validates the form, the ID
//! number and the consent; the controller only collects keystrokes.

use kiosk_drivers::pii::Personal;
use kiosk_ui::{Action, Lang};

use super::view::{field_on, mailing_address, supply_address, Local};
use crate::flow::{Event, FormInput, RatingPhrase, StaffAuth, State};
use crate::model::{Business, CompanyRole, IdentityMethod};

/// What a touch leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this event to the flow.
    Event(Event),
    /// Say the current screen again.
    Replay,
    /// The screen changed locally (typing, language, volume): redraw.
    Redraw,
    /// "Exit the kiosk program" on the technician menu: end the window
    /// (systemd starts the kiosk again).
    Technician,
    /// "Install from the USB stick": ask for the install of this bundle.
    Install(std::path::PathBuf),
    /// "Restart now": ask for the reboot into the installed update.
    Restart,
}

/// Taps on the hidden entry that open the PIN pad.
const TECHNICIAN_TAPS: u8 = 5;
/// Longest ID number, name and phone the keypads accept.
const MAX_ID: usize = 18;
const MAX_NAME: usize = 8;
const MAX_PHONE: usize = 12;
const MAX_ACCOUNT: usize = 20;
const MAX_ORDER: usize = 40;
const MAX_PIN: usize = 12;
const MAX_CREDIT_CODE: usize = 18;

/// The screen's controller.
#[derive(Debug, Clone)]
pub struct Controller {
    local: Local,
    taps: u8,
    pin: String,
    stroke_clock: u32,
    last_session: bool,
    last_company: bool,
}

fn parse_code<T: serde::de::DeserializeOwned>(code: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(code.to_string())).ok()
}

impl Controller {
    /// A controller; `pin` opens the technician menu (empty: never).
    pub fn new(pin: impl Into<String>, muted: bool) -> Self {
        let mut local = Local::default();
        (local.residential, local.volume, local.muted) = (true, 3, muted);
        Self {
            local,
            taps: 0,
            pin: pin.into(),
            stroke_clock: 0,
            last_session: false,
            last_company: false,
        }
    }

    /// The screen-only state, for building the view.
    pub fn local(&self) -> &Local {
        &self.local
    }

    /// The display language.
    pub fn lang(&self) -> Lang {
        self.local.lang
    }

    /// Forgets what was typed when a session ends (the flow wiped its data;
    /// the screen's copy goes too). Call with every new state.
    pub fn observe(&mut self, state: &State) {
        let has = state.session.is_some();
        if self.last_session && !has {
            // The old copy is zeroized as it is replaced.
            let mut keep = Local::default();
            (keep.residential, keep.volume, keep.muted) =
                (true, self.local.volume, self.local.muted);
            self.local = keep;
        }
        self.last_session = has;
        // The entry closes when the company is accepted (the person applying
        // then proves who they are) or the screen moves on.
        let company = state.session.as_ref().is_some_and(|s| s.company.is_some());
        if (company && !self.last_company) || state.phase.name() != "choose-identity" {
            self.local.company_entry = false;
        }
        self.last_company = company;
    }

    /// Takes the face check's latest prompt; `true` when the screen should
    /// be redrawn (and the new prompt spoken).
    pub fn face(&mut self, prompt: &crate::runtime::face::FacePrompt) -> bool {
        let changed = self.local.face.prompt != prompt.prompt
            || self.local.face.hint != prompt.hint
            || self.local.face.done != prompt.done
            || self.local.face.active != prompt.active;
        self.local.face = prompt.clone();
        changed
    }

    /// Handles one touch on `state`'s screen.
    pub fn act(&mut self, action: Action, state: &State) -> Vec<Output> {
        let phase = state.phase.name();
        let ev = |e| vec![Output::Event(e)];
        if self.local.technician {
            return self.technician(action);
        }
        if self.local.menu {
            return self.menu(action);
        }
        match action {
            Action::Start => ev(Event::Start),
            Action::Elderly(on) => ev(Event::SetElderly(on)),
            Action::Lang(l) => {
                self.local.lang = l;
                vec![Output::Redraw, Output::Replay]
            }
            Action::Business(code) => match parse_code::<Business>(&code) {
                Some(b) => ev(Event::ChooseBusiness(b)),
                None => Vec::new(),
            },
            Action::Identity(code) => match parse_code::<IdentityMethod>(&code) {
                Some(m) => ev(Event::ChooseIdentity(m)),
                None => Vec::new(),
            },
            Action::FaceConsent(yes) => ev(Event::FaceConsent(yes)),
            Action::CertificateConsent(yes) => ev(Event::CertificateConsent(yes)),
            Action::Continue => ev(Event::Continue),
            Action::Back => ev(Event::Back),
            Action::Cancel => ev(Event::Cancel),
            Action::MoreTime => ev(Event::MoreTime),
            Action::Rate(Some(stars)) if !self.local.phrases.is_empty() => ev(Event::RateWith {
                stars,
                phrases: std::mem::take(&mut self.local.phrases),
            }),
            Action::Rate(stars) => ev(Event::Rate(stars)),
            Action::Phrase(code) => {
                if let Some(p) = RatingPhrase::ALL.into_iter().find(|p| p.code() == code) {
                    if let Some(i) = self.local.phrases.iter().position(|q| *q == p) {
                        self.local.phrases.remove(i);
                    } else {
                        self.local.phrases.push(p);
                    }
                }
                vec![Output::Redraw]
            }
            Action::Company(open) => {
                self.local.company_entry = open;
                vec![Output::Redraw]
            }
            Action::CompanyRole(code) => {
                self.local.company_role = if code == "agent" {
                    CompanyRole::Agent
                } else {
                    CompanyRole::LegalRepresentative
                };
                vec![Output::Redraw]
            }
            Action::ApplyCompany => ev(Event::ApplyAsCompany {
                credit_code: self.local.credit_code.clone(),
                role: self.local.company_role,
            }),
            Action::Confirm => ev(Event::Confirm),
            Action::HighVoltage(yes) => ev(Event::InsistHighVoltage(yes)),
            Action::Sign => {
                let strokes = std::mem::take(&mut self.local.strokes);
                ev(Event::SignCommitment {
                    strokes,
                    deadline: None,
                })
            }
            Action::ClearSignature => {
                self.local.strokes.clear();
                vec![Output::Redraw]
            }
            Action::Stroke { x, y, down } => {
                if down || self.local.strokes.is_empty() {
                    self.local.strokes.push(Vec::new());
                }
                // Points are timed by their order (16 ms apart): the hash
                // of the signature needs an order, not the wall clock.
                self.stroke_clock = self.stroke_clock.saturating_add(16);
                let clamp = |v: f32| v.clamp(0.0, f32::from(u16::MAX)) as u16;
                if let Some(s) = self.local.strokes.last_mut() {
                    s.push((clamp(x), clamp(y), self.stroke_clock));
                }
                vec![Output::Redraw]
            }
            Action::Field(f) => {
                self.local.field = f;
                vec![Output::Redraw]
            }
            Action::Key(k) => {
                let business = state
                    .session
                    .as_ref()
                    .map_or(Business::NewConnection, |s| s.business_or_default());
                self.key(phase, business, &k);
                vec![Output::Redraw]
            }
            Action::Pinyin(k) => {
                if k == "⌫" {
                    if self.local.pinyin.pop().is_none() {
                        self.local.name.pop();
                    }
                } else if self.local.pinyin.len() < 6 {
                    self.local.pinyin.push_str(&k);
                }
                vec![Output::Redraw]
            }
            Action::Candidate(c) => {
                if self.local.name.chars().count() < MAX_NAME {
                    self.local.name.push_str(&c);
                }
                self.local.pinyin.clear();
                vec![Output::Redraw]
            }
            Action::EnterIdentity => ev(Event::EnterIdentity {
                name: Personal::new(self.local.name.clone()),
                id_number: Personal::new(self.local.id.clone()),
            }),
            Action::SubmitForm => {
                let session = state.session.as_ref();
                let address = session
                    .and_then(|s| supply_address(s).cloned())
                    .unwrap_or_default();
                let closure = session.is_some_and(|s| s.business_or_default() == Business::Closure);
                let mailing_address = session
                    .filter(|_| closure)
                    .and_then(|s| mailing_address(s).cloned())
                    .unwrap_or_default();
                ev(Event::SubmitForm(FormInput {
                    address,
                    capacity_kw: self.local.capacity.parse().unwrap_or(0.0),
                    residential: self.local.residential,
                    phone: Personal::new(self.local.phone.clone()),
                    wants_high_voltage: false,
                    mailing_address,
                }))
            }
            Action::EnterAccount => ev(Event::EnterAccount(self.local.account.clone())),
            Action::UseIdentity => ev(Event::UseIdentity),
            Action::HolderPresent(yes) => ev(Event::OldHolderPresent(yes)),
            Action::ChoosePushed(id) => {
                self.local.contract_page = 0;
                ev(Event::ChoosePushed(id))
            }
            Action::ContractPage(d) => {
                self.local.contract_page =
                    self.local.contract_page.saturating_add_signed(d as isize);
                vec![Output::Redraw]
            }
            Action::SignContract => {
                let strokes = std::mem::take(&mut self.local.strokes);
                ev(Event::SignContract { strokes })
            }
            Action::Pay => ev(Event::Pay),
            Action::EnterOrder => ev(Event::EnterOrderNo(self.local.order.clone())),
            Action::StaffConfirm => {
                let pin = std::mem::take(&mut self.local.staff_pin);
                ev(Event::StaffConfirm {
                    auth: StaffAuth::Pin(Personal::new(pin)),
                    name: Personal::new(self.local.name.clone()),
                    id_number: Personal::new(self.local.id.clone()),
                })
            }
            Action::Residential(yes) => {
                self.local.residential = yes;
                vec![Output::Redraw]
            }
            Action::Replay => vec![Output::Replay],
            Action::Volume(d) => {
                self.local.volume = (self.local.volume + d).clamp(0, 5);
                vec![Output::Redraw, Output::Replay]
            }
            Action::TechnicianTap => {
                self.taps += 1;
                if self.taps >= TECHNICIAN_TAPS && !self.pin.is_empty() {
                    self.taps = 0;
                    self.local.technician = true;
                    self.local.pin.clear();
                }
                vec![Output::Redraw]
            }
            Action::Pin(_)
            | Action::TechnicianClose
            | Action::TechnicianInstall
            | Action::TechnicianRestart
            | Action::TechnicianExit => Vec::new(),
        }
    }

    /// The technician menu's state (the window refreshes it while open).
    pub fn set_menu(&mut self, menu: super::technician::Menu) -> bool {
        let changed = self.local.tech != menu;
        self.local.tech = menu;
        changed
    }

    /// Whether the technician menu is open.
    pub fn menu_open(&self) -> bool {
        self.local.menu
    }

    fn menu(&mut self, action: Action) -> Vec<Output> {
        match action {
            Action::TechnicianInstall => match &self.local.tech.bundle {
                Some(b) if self.local.tech.can_install => vec![Output::Install(b.clone())],
                _ => Vec::new(),
            },
            Action::TechnicianRestart if self.local.tech.can_restart => vec![Output::Restart],
            Action::TechnicianExit => {
                self.local.menu = false;
                vec![Output::Redraw, Output::Technician]
            }
            Action::TechnicianClose => {
                self.local.menu = false;
                vec![Output::Redraw]
            }
            // The citizen's screens are not shown while the menu is open.
            _ => Vec::new(),
        }
    }

    fn technician(&mut self, action: Action) -> Vec<Output> {
        match action {
            Action::Pin(k) if k == "delete" => {
                self.local.pin.pop();
                vec![Output::Redraw]
            }
            Action::Pin(k) => {
                self.local.pin.push_str(&k);
                if self.local.pin == self.pin {
                    self.local.technician = false;
                    self.local.pin.clear();
                    self.local.menu = true;
                    vec![Output::Redraw]
                } else {
                    if self.local.pin.len() >= self.pin.len() {
                        self.local.pin.clear();
                    }
                    vec![Output::Redraw]
                }
            }
            Action::TechnicianClose => {
                self.local.technician = false;
                self.local.pin.clear();
                vec![Output::Redraw]
            }
            // Everything else is ignored while the PIN pad is open.
            _ => Vec::new(),
        }
    }

    fn key(&mut self, phase: &str, business: Business, key: &str) {
        let field = field_on(phase, business, &self.local.field);
        // The keys each field takes: digits, the X of an ID number, the
        // letters and hyphen of an order number.
        let (buf, max, takes): (_, _, fn(char) -> bool) = match field.as_str() {
            "id" => (&mut self.local.id, MAX_ID, |c| {
                c.is_ascii_digit() || c == 'X'
            }),
            "capacity" => (&mut self.local.capacity, 6, |c| c.is_ascii_digit()),
            "phone" => (&mut self.local.phone, MAX_PHONE, |c| c.is_ascii_digit()),
            "account" => (&mut self.local.account, MAX_ACCOUNT, |c| c.is_ascii_digit()),
            "order" => (&mut self.local.order, MAX_ORDER, |c| {
                c.is_ascii_alphanumeric() || c == '-'
            }),
            "staff-pin" => (&mut self.local.staff_pin, MAX_PIN, |c| c.is_ascii_digit()),
            "credit-code" => (&mut self.local.credit_code, MAX_CREDIT_CODE, |c| {
                c.is_ascii_digit() || c.is_ascii_uppercase()
            }),
            _ => return,
        };
        match key {
            "delete" => {
                buf.pop();
            }
            k if buf.len() < max && k.chars().count() == 1 && k.chars().all(takes) => {
                buf.push_str(k)
            }
            _ => {}
        }
    }
}
