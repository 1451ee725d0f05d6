//! Builds the screen's [`View`] from the flow [`State`] and what the
//! citizen is typing. Personal values leave here masked, except the supply
//! address (the citizen must check it) and what is being typed now.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_ui::{Choice, Lang, Method, Pushed, Qr, Step, View};

use kiosk_drivers::pii::Personal;

use crate::central::StepState;
use crate::flow::{capacity_rule_applies, FlowConfig, Phase, RatingPhrase, Session, State};
use crate::model::{capacity_route, yuan, Business, CompanyRole, IdentityMethod, SupplyRoute};
use crate::runtime::problem_code;

/// What the view needs besides the state: the flow's parameters and the
/// receipt's QR prefix.
#[derive(Debug, Clone, Default)]
pub struct ViewContext {
    /// Businesses, methods, limits, commitment days.
    pub flow: FlowConfig,
    /// Prefix of the progress-query QR code; the order id is appended.
    pub progress_url: String,
}

/// What the controller keeps of the screen itself (not in the flow). What
/// the citizen typed or drew is personal: `Debug` leaves it out, and it is
/// zeroized when the value is dropped (the controller replaces its copy when
/// a session ends).
#[derive(Clone, PartialEq, Default)]
pub struct Local {
    /// Display language.
    pub lang: Lang,
    /// The field the keypad types into.
    pub field: String,
    /// Name typed (face path).
    pub name: String,
    /// ID number typed (face path).
    pub id: String,
    /// Pinyin typed so far.
    pub pinyin: String,
    /// Capacity typed.
    pub capacity: String,
    /// Phone typed.
    pub phone: String,
    /// Residential use.
    pub residential: bool,
    /// Signature strokes: `(x, y, ms)` points.
    pub strokes: Vec<crate::flow::Stroke>,
    /// Voice volume 0–5.
    pub volume: i32,
    /// Voice muted by config.
    pub muted: bool,
    /// The technician PIN pad is open.
    pub technician: bool,
    /// The technician menu is open (after the PIN).
    pub menu: bool,
    /// What the technician menu shows.
    pub tech: super::technician::Menu,
    /// PIN digits typed (never shown).
    pub pin: String,
    /// Account number typed.
    pub account: String,
    /// Order number typed (progress query).
    pub order: String,
    /// Staff PIN typed on the call-staff screen (shown as dots).
    pub staff_pin: String,
    /// Page of the supply contract shown (0-based).
    pub contract_page: usize,
    /// Rating phrases chosen.
    pub phrases: Vec<RatingPhrase>,
    /// The company entry is open on choose-identity.
    pub company_entry: bool,
    /// The credit code typed.
    pub credit_code: String,
    /// Who applies for the company.
    pub company_role: CompanyRole,
    /// The face check's prompt, hint and progress (codes and counts only).
    pub face: crate::runtime::face::FacePrompt,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("lang", &self.lang)
            .field("volume", &self.volume)
            .field("muted", &self.muted)
            .field("technician", &self.technician)
            .field("menu", &self.menu)
            .field("contract_page", &self.contract_page)
            .field("company_entry", &self.company_entry)
            .field("face", &self.face)
            .finish_non_exhaustive()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for s in [
            &mut self.field,
            &mut self.name,
            &mut self.id,
            &mut self.pinyin,
            &mut self.capacity,
            &mut self.phone,
            &mut self.pin,
            &mut self.account,
            &mut self.order,
            &mut self.staff_pin,
            &mut self.credit_code,
        ] {
            s.zeroize();
        }
        for p in self.strokes.iter_mut().flatten() {
            p.0.zeroize();
            p.1.zeroize();
            p.2.zeroize();
        }
    }
}

/// The identity method's code as the screens know it.
pub fn method_code(m: IdentityMethod) -> &'static str {
    match m {
        IdentityMethod::Face => "face",
        IdentityMethod::IdCard => "id-card",
        IdentityMethod::Eid => "eid",
        IdentityMethod::CallStaff => "call-staff",
    }
}

fn route_code(r: SupplyRoute) -> &'static str {
    match r {
        SupplyRoute::LowVoltage => "low-voltage",
        SupplyRoute::LowVoltageParkAssessment => "low-voltage-park-assessment",
        SupplyRoute::HighVoltage => "high-voltage",
        SupplyRoute::HighVoltageByChoice => "high-voltage-by-choice",
    }
}

/// The field the keypad types into on `phase` of `business`, given the one
/// last chosen (the first field of the screen otherwise).
pub fn field_on(phase: &str, business: Business, chosen: &str) -> String {
    let fields: &[&str] = match phase {
        "face-identity" => &["name", "id"],
        "form" if capacity_rule_applies(business) => &["capacity", "phone"],
        "form" => &["phone"],
        "account-entry" => &["account"],
        "query-entry" => &["order"],
        "waiting-staff" => &["staff-pin", "name", "id"],
        "choose-identity" => &["credit-code"],
        _ => return String::new(),
    };
    if fields.contains(&chosen) {
        chosen.to_string()
    } else {
        fields[0].to_string()
    }
}

/// The supply address of the session: the account's for an account
/// business, else the one on the certificates or the ID card.
pub fn supply_address(session: &Session) -> Option<&Personal> {
    session
        .account
        .as_ref()
        .map(|a| &a.address)
        .or_else(|| session.suggested_address())
}

/// Where a closure's certificate is mailed: the address on the applicant's
/// ID card (where they live), else the supply address.
pub fn mailing_address(session: &Session) -> Option<&Personal> {
    session
        .applicant
        .as_ref()
        .and_then(|a| a.address.as_ref())
        .or_else(|| supply_address(session))
}

/// A time as `MM-DD HH:MM` in the service hall's time zone.
fn local_time(t: Option<chrono::DateTime<chrono::Utc>>, zone: crate::flow::ServiceZone) -> String {
    t.map(|t| t.with_timezone(&zone.0).format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn format_kw(kw: f64) -> String {
    if kw.fract() == 0.0 {
        format!("{kw:.0}")
    } else {
        format!("{kw}")
    }
}

/// The deadline shown on the commitment before it is signed: today plus
/// the configured days.
fn default_deadline(ctx: &ViewContext, today: NaiveDate) -> String {
    (today + chrono::Duration::days(ctx.flow.commitment_days)).to_string()
}

fn qr_of(payload: &str) -> Option<Qr> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M).ok()?;
    let width = code.width();
    let modules = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some(Qr { width, modules })
}

/// The view of `state`, with the controller's `local` screen state.
pub fn build(state: &State, local: &Local, ctx: &ViewContext, now: DateTime<Utc>) -> View {
    let today = ctx.flow.today(now);
    let phase = state.phase.name();
    let session = state.session.as_ref();
    let applicant = session.and_then(|s| s.applicant.as_ref().or(s.claimed.as_ref()));
    let form = session.and_then(|s| s.form.as_ref());
    let order = session.and_then(|s| s.order.as_ref());
    let policy = ctx.flow.capacity();
    let park = session.is_some_and(|s| s.micro_park.is_some());
    let route = session.and_then(|s| s.route).or_else(|| {
        form.map(|f| capacity_route(&policy, f.capacity_kw, park, f.wants_high_voltage))
    });
    let limit = if park {
        policy.micro_park_kw
    } else {
        policy.low_voltage_kw
    };
    let business = session.map_or(Business::NewConnection, |s| s.business_or_default());
    let account = session.and_then(|s| s.account.as_ref());
    let payment = session.and_then(|s| s.payment.as_ref());
    let progress = session.and_then(|s| s.progress.as_ref());
    let contract = &ctx.flow.contract;
    // The face check's words, on the face screen while a check runs only.
    let face_words = |code: Option<&str>| {
        code.filter(|_| phase == "face-capture" && local.face.active)
            .and_then(|c| kiosk_ui::face_text(c, local.lang))
            .unwrap_or_default()
            .to_string()
    };
    let contract_page = local
        .contract_page
        .min(contract.pages.len().saturating_sub(1));
    View {
        phase: phase.to_string(),
        resumes: match &state.phase {
            Phase::TimeoutWarning(p) => p.name().to_string(),
            _ => String::new(),
        },
        elderly: state.elderly,
        lang: local.lang,
        businesses: ctx
            .flow
            .businesses
            .iter()
            .map(|b| b.code().to_string())
            .collect(),
        methods: IdentityMethod::ALL
            .iter()
            .map(|m| Method {
                code: method_code(*m).to_string(),
                enabled: ctx.flow.identity_methods.contains(m)
                    && !(*m == IdentityMethod::Face && session.is_some_and(|s| s.face_closed)),
            })
            .collect(),
        business: session
            .map(|s| s.business_or_default().code().to_string())
            .unwrap_or_default(),
        masked_name: applicant.map(|a| a.name.masked_name()).unwrap_or_default(),
        masked_id: applicant.map(|a| a.id_number.masked()).unwrap_or_default(),
        found: session
            .map(|s| {
                s.certificates
                    .iter()
                    .map(|c| c.kind.code().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        missing: session
            .map(|s| s.missing.iter().map(|k| k.code().to_string()).collect())
            .unwrap_or_default(),
        deadline: session
            .and_then(|s| s.commitment.as_ref())
            .map(|c| c.deadline.to_string())
            .unwrap_or_else(|| default_deadline(ctx, today)),
        route: route.map(route_code).unwrap_or_default().to_string(),
        capacity_kw: form.map(|f| format_kw(f.capacity_kw)).unwrap_or_default(),
        limit_kw: format_kw(limit),
        address: form
            .map(|f| f.address.expose())
            .filter(|a| !a.is_empty())
            .or_else(|| session.and_then(supply_address).map(|a| a.expose()))
            .unwrap_or_default()
            .to_string(),
        masked_phone: form.map(|f| f.phone.masked_phone()).unwrap_or_default(),
        residential: local.residential,
        order_no: order
            .map(|o| o.central_no.clone().unwrap_or_else(|| o.local_id.clone()))
            .unwrap_or_default(),
        pending_sync: order.is_some_and(|o| o.central_no.is_none()),
        printed: match order
            .and_then(|o| o.printed)
            .or(session.and_then(|s| s.invoice_printed))
        {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        }
        .to_string(),
        problem: session
            .and_then(|s| s.problem.as_ref())
            .map(problem_code)
            .unwrap_or_default(),
        qr: order.and_then(|o| qr_of(&format!("{}{}", ctx.progress_url, o.local_id))),
        face_progress: match (phase, local.face.total) {
            ("face-capture", total) if total > 0 => {
                i32::from(local.face.done.min(total)) * 100 / i32::from(total)
            }
            _ => 0,
        },
        face_text: face_words(local.face.prompt),
        face_hint: face_words(local.face.hint),
        field: field_on(phase, business, &local.field),
        entry_name: local.name.clone(),
        entry_id: local.id.clone(),
        entry_capacity: local.capacity.clone(),
        entry_phone: local.phone.clone(),
        pinyin: local.pinyin.clone(),
        candidates: super::pinyin::candidates(&local.pinyin)
            .iter()
            .map(|c| c.to_string())
            .collect(),
        signature_path: signature_path(&local.strokes),
        signed: local.strokes.iter().any(|s| !s.is_empty()),
        volume: local.volume,
        muted: local.muted,
        technician: local.technician || local.menu,
        technician_menu: local.menu,
        tech_lines: local.tech.lines.clone(),
        tech_bundle: local.tech.bundle_name.clone(),
        tech_can_install: local.tech.can_install,
        tech_can_restart: local.tech.can_restart,
        tech_message: local.tech.message.clone(),
        entry_account: local.account.clone(),
        entry_order: local.order.clone(),
        entry_pin: "●".repeat(local.staff_pin.chars().count()),
        account_no: account.map(|a| a.account_no.clone()).unwrap_or_default(),
        account_holder: account.map(|a| a.holder_masked.clone()).unwrap_or_default(),
        amount_due: account.map(|a| yuan(a.amount_due_fen)).unwrap_or_default(),
        has_due: account.is_some_and(|a| a.amount_due_fen > 0),
        pushed: session
            .map(|s| {
                s.pushed
                    .iter()
                    .map(|p| Pushed {
                        id: p.id.clone(),
                        business: p.business.code().to_string(),
                        source: p.source.clone(),
                        summary: p.summary.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        pushed_summary: session
            .and_then(|s| s.pushed_choice.as_ref())
            .map(|p| p.summary.clone())
            .unwrap_or_default(),
        contract_title: contract.title.clone(),
        contract_text: contract
            .pages
            .get(contract_page)
            .cloned()
            .unwrap_or_default(),
        contract_page: i32::try_from(contract_page + 1).unwrap_or(i32::MAX),
        contract_pages: i32::try_from(contract.pages.len()).unwrap_or(i32::MAX),
        pay_qr: payment.and_then(|p| qr_of(&p.qr_payload)),
        pay_amount: payment.map(|p| yuan(p.amount_fen)).unwrap_or_default(),
        invoice_no: payment
            .and_then(|p| p.invoice.as_ref())
            .map(|i| i.invoice_no.clone())
            .unwrap_or_default(),
        progress_no: progress.map(|p| p.order_no.clone()).unwrap_or_default(),
        progress_business: progress
            .map(|p| p.business.code().to_string())
            .unwrap_or_default(),
        steps: progress
            .map(|p| {
                p.steps
                    .iter()
                    .map(|st| Step {
                        title: st.title.clone(),
                        state: match st.state {
                            StepState::Done => "done",
                            StepState::InProgress => "in-progress",
                            StepState::Pending => "pending",
                        }
                        .to_string(),
                        started: local_time(st.started_at, ctx.flow.time_zone),
                        finished: local_time(st.finished_at, ctx.flow.time_zone),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        phrases: RatingPhrase::ALL
            .iter()
            .map(|p| Choice {
                code: p.code().to_string(),
                chosen: local.phrases.contains(p),
            })
            .collect(),
        company_entry: local.company_entry,
        entry_credit_code: local.credit_code.clone(),
        company_code: session
            .and_then(|s| s.company.as_ref())
            .map(|c| c.credit_code.clone())
            .unwrap_or_default(),
        company_role: match local.company_role {
            CompanyRole::LegalRepresentative => "legal-representative",
            CompanyRole::Agent => "agent",
        }
        .to_string(),
        mailing_address: session
            .and_then(mailing_address)
            .map(|a| a.expose().to_string())
            .unwrap_or_default(),
    }
}

/// SVG path commands drawing the strokes.
pub fn signature_path(strokes: &[crate::flow::Stroke]) -> String {
    let mut out = String::new();
    for s in strokes {
        for (i, (x, y, _)) in s.iter().enumerate() {
            out.push_str(if i == 0 { "M " } else { " L " });
            out.push_str(&format!("{x} {y}"));
        }
        out.push(' ');
    }
    out.trim_end().to_string()
}
