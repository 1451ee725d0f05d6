//! The demo's scenarios, as data: what the card reader twin will do, what
//! the scripted citizen does on each screen, what goes wrong with central,
//! and the outcome that must happen for the scenario to pass.

use kiosk_drivers::pii::Personal;

use kiosk::flow::{Event, FormInput, RatingPhrase, StaffAuth, Stroke};
use kiosk::model::{Business, CertificateKind, CompanyRole, IdentityMethod, SupplyRoute};

/// The synthetic citizens of the simulator the demo uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Citizen {
    /// 张伟: everything on record.
    ZhangWei,
    /// 李娜: no property record (property proof missing).
    LiNa,
    /// 王芳: property inside a micro-enterprise park.
    WangFang,
    /// 赵强: account 3300012347, and a pushed proactive supply plan.
    ZhaoQiang,
    /// 陈静: bought 人民路88号 (account 3300012348, still in 周建华's name).
    ChenJing,
    /// 周建华: old holder of account 3300012348.
    ZhouJianhua,
    /// 孙丽: a real-estate joint transfer is pushed to her.
    SunLi,
}

impl Citizen {
    /// Name, ID number and card address.
    pub fn identity(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Citizen::ZhangWei => (
                "张伟",
                "330106199001010026",
                "浙江省杭州市西湖区文三路100号",
            ),
            Citizen::LiNa => ("李娜", "330106198503121231", "浙江省杭州市上城区解放路25号"),
            Citizen::WangFang => ("王芳", "440305197011204562", "浙江省杭州市余杭区创业路8号"),
            Citizen::ZhaoQiang => ("赵强", "110101195805050073", "北京市东城区东华门大街1号"),
            Citizen::ChenJing => ("陈静", "320502199211118881", "江苏省苏州市姑苏区人民路88号"),
            Citizen::ZhouJianhua => (
                "周建华",
                "320502196507150019",
                "江苏省苏州市姑苏区人民路88号",
            ),
            Citizen::SunLi => (
                "孙丽",
                "330105197803220046",
                "浙江省杭州市拱墅区湖墅南路66号",
            ),
        }
    }
}

/// What the card-reader twin does on each read attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStep {
    /// No card on the reader yet.
    NoCard,
    /// The citizen's card is read.
    Card,
    /// The card is pulled half way through the read.
    PulledMidRead,
    /// Someone else's card (a transfer's old holder).
    CardOf(Citizen),
}

/// A fault of the central service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CentralFault {
    /// Central answers normally.
    Normal,
    /// Central is down (503).
    Down,
}

/// A fault of the receipt printer, set before the session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterFault {
    /// The printer works.
    None,
    /// The paper roll is empty.
    PaperOut,
}

/// The face rig of a face scenario: photos from the test set's `pairs/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceSetup {
    /// The reference photo the central simulator serves for the citizen.
    pub reference: &'static str,
    /// The photo in front of the camera (another photo of the same person,
    /// or of someone else).
    pub camera: &'static str,
    /// The camera shows the photo frozen: a printed photo held up.
    pub frozen: bool,
}

/// One action of the scripted citizen.
#[derive(Debug, Clone)]
pub enum Act {
    /// When this screen shows, send this event.
    On(&'static str, Event),
    /// When the receipt has printed (or failed), send this event.
    AfterReceipt(Event),
    /// Switch central's behaviour now.
    Central(CentralFault),
    /// When this screen shows, pull the camera's cable.
    UnplugCameraOn(&'static str),
    /// When this screen shows, hold this QR code (a phone's e-ID) to the camera.
    ShowQrOn(&'static str, QrShown),
    /// When this screen shows, hold the newest printed receipt to the camera.
    ShowReceiptOn(&'static str),
    /// When the payment code shows, pay it on the phone (central settles it).
    PayOnPhone,
    /// When the paid screen shows and the invoice has printed, send this event.
    AfterInvoice(Event),
}

/// A QR code the citizen shows on their phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrShown {
    /// A fresh electronic ID of this citizen.
    Eid(Citizen),
}

/// What must have happened for the scenario to pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The route of the one accepted order.
    pub route: SupplyRoute,
    /// Missing kinds of the order.
    pub missing: Vec<CertificateKind>,
    /// The receipt said "pending sync" (no central number at print time).
    pub receipt_pending: bool,
    /// The transcript shows a card problem that was overcome.
    pub card_problem: Option<&'static str>,
    /// The low-voltage option was offered and declined.
    pub low_voltage_declined: bool,
    /// The receipt came out of the printer (else the screen said why).
    pub printed: bool,
    /// How identity was established in the end.
    pub method: IdentityMethod,
    /// A problem code the screen must have shown on the way.
    pub problem: Option<&'static str>,
    /// The business of the order.
    pub business: Business,
    /// Orders accepted (0 for a payment or a query).
    pub orders: usize,
    /// The account the order concerns.
    pub account: Option<&'static str>,
    /// The order is a company's (business licence only).
    pub company: bool,
    /// The pushed order the citizen confirmed.
    pub pushed: Option<&'static str>,
    /// A transfer: whether the old holder was present (and verified).
    pub old_holder_present: Option<bool>,
    /// Bill payment: `Some(true)` paid and invoiced, `Some(false)` not paid.
    pub paid: Option<bool>,
    /// A progress query showed the order's steps.
    pub progress: bool,
    /// Staff were called (an assistance request reached central).
    pub assistance: bool,
}

/// A scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name for `--scenario`.
    pub name: &'static str,
    /// One line for `--list-scenarios`.
    pub description: &'static str,
    /// Whose card is on the reader.
    pub citizen: Citizen,
    /// The reader twin's behaviour, attempt by attempt (then no card).
    pub card: Vec<CardStep>,
    /// The citizen's actions.
    pub acts: Vec<Act>,
    /// The printer's state.
    pub printer: PrinterFault,
    /// The face rig, for face scenarios.
    pub face: Option<FaceSetup>,
    /// The outcome.
    pub expect: Expect,
}

fn signature() -> Vec<Stroke> {
    // A short scribble: two strokes, points every 16 ms.
    let a: Stroke = (0..24u16)
        .map(|i| (40 + i * 9, 120 + (i % 5) * 7, u32::from(i) * 16))
        .collect();
    let b: Stroke = (0..12u16)
        .map(|i| (90 + i * 5, 100 + i * 6, 500 + u32::from(i) * 16))
        .collect();
    vec![a, b]
}

fn form_at(address: &str, kw: f64, residential: bool) -> FormInput {
    FormInput {
        address: Personal::new(address),
        capacity_kw: kw,
        residential,
        phone: Personal::new("13812345678"),
        wants_high_voltage: false,
        mailing_address: Personal::default(),
    }
}

fn form(citizen: Citizen, kw: f64, residential: bool, hv: bool) -> FormInput {
    FormInput {
        address: Personal::new(citizen.identity().2),
        capacity_kw: kw,
        residential,
        phone: Personal::new("13812345678"),
        wants_high_voltage: hv,
        mailing_address: Personal::default(),
    }
}

/// The common path up to the form with an ID card; `commitment` when a
/// document is missing.
fn to_form(commitment: bool) -> Vec<Act> {
    let mut acts = start();
    acts.extend(after_identity(card(), commitment));
    acts
}

fn start() -> Vec<Act> {
    vec![
        Act::On("attract", Event::Start),
        Act::On(
            "choose-business",
            Event::ChooseBusiness(Business::NewConnection),
        ),
    ]
}

fn card() -> Vec<Act> {
    vec![Act::On(
        "choose-identity",
        Event::ChooseIdentity(IdentityMethod::IdCard),
    )]
}

/// Choosing the face path, consenting and typing name and number.
fn face(citizen: Citizen) -> Vec<Act> {
    let (name, id, _) = citizen.identity();
    vec![
        Act::On(
            "choose-identity",
            Event::ChooseIdentity(IdentityMethod::Face),
        ),
        Act::On("face-consent", Event::FaceConsent(true)),
        Act::On(
            "face-identity",
            Event::EnterIdentity {
                name: Personal::new(name),
                id_number: Personal::new(id),
            },
        ),
    ]
}

/// From the identity screens to the form.
fn after_identity(identity: Vec<Act>, commitment: bool) -> Vec<Act> {
    let mut acts = identity;
    acts.push(Act::On(
        "consent-certificates",
        Event::CertificateConsent(true),
    ));
    acts.push(Act::On("review-certificates", Event::Continue));
    if commitment {
        acts.push(Act::On(
            "commitment",
            Event::SignCommitment {
                strokes: signature(),
                deadline: None,
            },
        ));
    }
    acts
}

/// A face scenario: `identity` acts (which may end on the ID card), then
/// an 8 kW residential connection.
fn face_scenario(
    name: &'static str,
    description: &'static str,
    setup: FaceSetup,
    identity: Vec<Act>,
    expect: Expect,
) -> Scenario {
    let z = Citizen::ZhangWei;
    let mut acts = start();
    acts.extend(after_identity(identity, false));
    Scenario {
        name,
        description,
        citizen: z,
        card: vec![CardStep::Card],
        acts: finish(
            acts,
            vec![Act::On(
                "form",
                Event::SubmitForm(form(z, 8.0, true, false)),
            )],
        ),
        printer: PrinterFault::None,
        face: Some(setup),
        expect,
    }
}

/// The face scenarios (they need the face models and test photos).
fn face_scenarios() -> Vec<Scenario> {
    let z = Citizen::ZhangWei;
    // img1 and img2 are two photos of one person; img8 is someone else.
    let same = FaceSetup {
        reference: "img1.jpg",
        camera: "img2.jpg",
        frozen: false,
    };
    let then_card = |mut acts: Vec<Act>| {
        acts.extend(card());
        acts
    };
    vec![
        face_scenario(
            "new-connection-face",
            "a resident proves identity with the local face check (刷脸办电), then a new 8 kW connection",
            same,
            face(z),
            Expect {
                method: IdentityMethod::Face,
                ..plain(SupplyRoute::LowVoltage)
            },
        ),
        face_scenario(
            "face-declined",
            "the citizen declines face recognition: served by ID card, never asked again",
            same,
            vec![
                Act::On("choose-identity", Event::ChooseIdentity(IdentityMethod::Face)),
                Act::On("face-consent", Event::FaceConsent(false)),
                Act::On("choose-identity", Event::ChooseIdentity(IdentityMethod::IdCard)),
            ],
            plain(SupplyRoute::LowVoltage),
        ),
        face_scenario(
            "spoof-photo",
            "a printed photo is held up: liveness fails, the face path ends, the ID card is offered",
            FaceSetup { frozen: true, ..same },
            then_card(face(z)),
            Expect {
                problem: Some("face-liveness"),
                ..plain(SupplyRoute::LowVoltage)
            },
        ),
        face_scenario(
            "face-mismatch",
            "someone else faces the camera: three failed attempts, then the ID card",
            FaceSetup {
                camera: "img8.jpg",
                ..same
            },
            then_card(face(z)),
            Expect {
                problem: Some("face-attempts-used"),
                ..plain(SupplyRoute::LowVoltage)
            },
        ),
        face_scenario(
            "camera-unplugged",
            "the camera is unplugged mid-check: a clear message, the ID card is offered",
            same,
            then_card({
                let mut a = face(z);
                a.push(Act::UnplugCameraOn("face-capture"));
                a
            }),
            Expect {
                problem: Some("face-camera-fault"),
                ..plain(SupplyRoute::LowVoltage)
            },
        ),
    ]
}

fn finish(acts: Vec<Act>, after_form: Vec<Act>) -> Vec<Act> {
    finish_with(acts, after_form, true)
}

/// After the form: review, the contract signed when the business has one,
/// the receipt, a rating.
fn finish_with(mut acts: Vec<Act>, after_form: Vec<Act>, contract: bool) -> Vec<Act> {
    acts.extend(after_form);
    acts.push(Act::On("review", Event::Confirm));
    if contract {
        acts.push(Act::On(
            "contract",
            Event::SignContract {
                strokes: signature(),
            },
        ));
    }
    acts.push(Act::AfterReceipt(Event::Continue));
    acts.push(Act::On(
        "rating",
        Event::RateWith {
            stars: 5,
            phrases: vec![RatingPhrase::Quick, RatingPhrase::NoPaperwork],
        },
    ));
    acts
}

fn plain(route: SupplyRoute) -> Expect {
    Expect {
        route,
        missing: vec![],
        receipt_pending: false,
        card_problem: None,
        low_voltage_declined: false,
        printed: true,
        method: IdentityMethod::IdCard,
        problem: None,
        business: Business::NewConnection,
        orders: 1,
        account: None,
        company: false,
        pushed: None,
        old_holder_present: None,
        paid: None,
        progress: false,
        assistance: false,
    }
}

/// Every scenario, the default (`new-connection-face`) first.
pub fn all() -> Vec<Scenario> {
    let mut all = face_scenarios();
    all.extend(card_scenarios());
    all.extend(business_scenarios());
    all
}

/// The staff PIN the demo's config knows (as a hash): staff type it.
pub const DEMO_STAFF_PIN: &str = "2468";

/// Start, choose this business.
fn start_business(b: Business) -> Vec<Act> {
    vec![
        Act::On("attract", Event::Start),
        Act::On("choose-business", Event::ChooseBusiness(b)),
    ]
}

fn certificates(commitment: bool) -> Vec<Act> {
    after_identity(Vec::new(), commitment)
}

fn phone_only() -> FormInput {
    FormInput {
        phone: Personal::new("13812345678"),
        ..FormInput::default()
    }
}

fn scenario(
    name: &'static str,
    description: &'static str,
    citizen: Citizen,
    card: Vec<CardStep>,
    acts: Vec<Act>,
    expect: Expect,
) -> Scenario {
    Scenario {
        name,
        description,
        citizen,
        card,
        acts,
        printer: PrinterFault::None,
        face: None,
        expect,
    }
}

/// Every other business at the counter.
fn business_scenarios() -> Vec<Scenario> {
    let z = Citizen::ZhangWei;
    let (_, z_id, _) = z.identity();
    let mut out = Vec::new();

    // E-ID shown on the phone as a QR code.
    let mut acts = start();
    acts.push(Act::On(
        "choose-identity",
        Event::ChooseIdentity(IdentityMethod::Eid),
    ));
    acts.push(Act::ShowQrOn("scanning-eid", QrShown::Eid(z)));
    acts.extend(certificates(false));
    out.push(scenario(
        "eid-new-connection",
        "identity from the electronic ID shown as a QR code on the phone, then a new 8 kW connection",
        z,
        vec![],
        finish(acts, vec![Act::On("form", Event::SubmitForm(form(z, 8.0, true, false)))]),
        Expect {
            method: IdentityMethod::Eid,
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Call staff: staff confirm the identity with their PIN.
    let mut acts = start();
    acts.push(Act::On(
        "choose-identity",
        Event::ChooseIdentity(IdentityMethod::CallStaff),
    ));
    acts.push(Act::On(
        "waiting-staff",
        Event::StaffConfirm {
            auth: StaffAuth::Pin(Personal::new("1111")),
            name: Personal::new(z.identity().0),
            id_number: Personal::new(z_id),
        },
    ));
    acts.push(Act::On(
        "waiting-staff",
        Event::StaffConfirm {
            auth: StaffAuth::Pin(Personal::new(DEMO_STAFF_PIN)),
            name: Personal::new(z.identity().0),
            id_number: Personal::new(z_id),
        },
    ));
    acts.extend(certificates(false));
    out.push(scenario(
        "call-staff",
        "the citizen calls staff: help is requested (central and /status), a wrong PIN is refused, staff confirm identity with their PIN",
        z,
        vec![],
        finish(acts, vec![Act::On("form", Event::SubmitForm(form(z, 8.0, true, false)))]),
        Expect {
            method: IdentityMethod::CallStaff,
            problem: Some("staff-auth-failed"),
            assistance: true,
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Capacity increase on the holder's own account.
    let mut acts = start_business(Business::CapacityIncrease);
    acts.extend(card());
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300012345".into()),
    ));
    acts.extend(certificates(false));
    out.push(scenario(
        "capacity-increase",
        "the account holder raises 3300012345 from 8 to 20 kW: account checked, one certificate, contract signed",
        z,
        vec![CardStep::Card],
        finish(
            acts,
            vec![Act::On("form", Event::SubmitForm(FormInput {
                capacity_kw: 20.0,
                residential: true,
                ..phone_only()
            }))],
        ),
        Expect {
            business: Business::CapacityIncrease,
            account: Some("3300012345"),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Name change: the new holder has no property record here: commitment.
    let mut acts = start_business(Business::NameChange);
    acts.extend(card());
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300012345".into()),
    ));
    acts.extend(certificates(true));
    out.push(scenario(
        "name-change",
        "李娜 takes the account 3300012345 into her name; the property proof cannot be fetched: commitment with a deadline",
        Citizen::LiNa,
        vec![CardStep::Card],
        finish(acts, vec![Act::On("form", Event::SubmitForm(phone_only()))]),
        Expect {
            business: Business::NameChange,
            account: Some("3300012345"),
            missing: vec![CertificateKind::PropertyProof],
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Transfer with both parties present.
    let mut acts = start_business(Business::Transfer);
    acts.extend(card());
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300012348".into()),
    ));
    acts.push(Act::On("transfer-parties", Event::OldHolderPresent(true)));
    acts.extend(certificates(false));
    out.push(scenario(
        "transfer",
        "陈静 bought 人民路88号: the old holder 周建华 is present and reads his card, the account moves to her name",
        Citizen::ChenJing,
        vec![CardStep::Card, CardStep::CardOf(Citizen::ZhouJianhua)],
        finish(acts, vec![Act::On("form", Event::SubmitForm(phone_only()))]),
        Expect {
            business: Business::Transfer,
            account: Some("3300012348"),
            old_holder_present: Some(true),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Closure; 赵强 also has a pushed order he leaves for later.
    let zq = Citizen::ZhaoQiang;
    let mut acts = start_business(Business::Closure);
    acts.extend(card());
    acts.push(Act::On("pushed-orders", Event::Continue));
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300012347".into()),
    ));
    acts.extend(certificates(false));
    out.push(scenario(
        "closure",
        "赵强 closes account 3300012347 (skipping a pushed order for later): final reading and settlement follow, the certificate is mailed",
        zq,
        vec![CardStep::Card],
        finish_with(
            acts,
            vec![Act::On("form", Event::SubmitForm(FormInput {
                mailing_address: Personal::new("北京市朝阳区建国路1号"),
                ..phone_only()
            }))],
            false,
        ),
        Expect {
            business: Business::Closure,
            account: Some("3300012347"),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // A company, by its legal representative.
    let mut acts = start();
    acts.push(Act::On(
        "choose-identity",
        Event::ApplyAsCompany {
            credit_code: "91330106MA27XY1230".into(),
            role: CompanyRole::LegalRepresentative,
        },
    ));
    acts.push(Act::On(
        "choose-identity",
        Event::ApplyAsCompany {
            credit_code: crate::central::COMPANY_WENSAN.into(),
            role: CompanyRole::LegalRepresentative,
        },
    ));
    acts.extend(card());
    acts.extend(certificates(false));
    out.push(scenario(
        "company-new-connection",
        "a company's legal representative applies for 80 kW: credit code checked (a typo refused), business licence fetched, nothing else",
        z,
        vec![CardStep::Card],
        finish(
            acts,
            vec![Act::On("form", Event::SubmitForm(form_at("浙江省杭州市西湖区文三路200号", 80.0, false)))],
        ),
        Expect {
            company: true,
            problem: Some("company-credit-code-invalid"),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // A pushed real-estate joint transfer, confirmed and signed.
    let mut acts = start_business(Business::Transfer);
    acts.extend(card());
    acts.push(Act::On(
        "pushed-orders",
        Event::ChoosePushed("PUSH-RE-0001".into()),
    ));
    acts.push(Act::On(
        "contract",
        Event::SignContract {
            strokes: signature(),
        },
    ));
    acts.push(Act::AfterReceipt(Event::Continue));
    acts.push(Act::On("rating", Event::Rate(Some(5))));
    out.push(scenario(
        "pushed-joint-transfer",
        "孙丽's real-estate transfer was registered elsewhere: the kiosk shows the pushed transfer, she confirms and signs",
        Citizen::SunLi,
        vec![CardStep::Card],
        acts,
        Expect {
            business: Business::Transfer,
            account: Some("3300012349"),
            pushed: Some("PUSH-RE-0001"),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Bill payment, paid on the phone.
    let mut acts = start_business(Business::PayBill);
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300 0123 45".into()),
    ));
    acts.push(Act::On("bill-due", Event::Pay));
    acts.push(Act::PayOnPhone);
    acts.push(Act::AfterInvoice(Event::Continue));
    acts.push(Act::On("rating", Event::Rate(Some(4))));
    out.push(scenario(
        "pay-bill",
        "pay 128.50 yuan due on account 3300012345 with the QR code shown large; central confirms, the invoice prints",
        z,
        vec![],
        acts,
        Expect {
            orders: 0,
            paid: Some(true),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Bill payment never confirmed: not paid.
    let mut acts = start_business(Business::PayBill);
    acts.push(Act::On(
        "account-entry",
        Event::EnterAccount("3300012347".into()),
    ));
    acts.push(Act::On("bill-due", Event::Pay));
    acts.push(Act::On("payment-failed", Event::Continue));
    acts.push(Act::On("rating", Event::Rate(None)));
    out.push(scenario(
        "pay-timeout",
        "the citizen never pays: after the time limit the screen says not paid, nothing is invoiced or counted",
        zq,
        vec![],
        acts,
        Expect {
            orders: 0,
            paid: Some(false),
            problem: Some("pay-not-paid"),
            ..plain(SupplyRoute::LowVoltage)
        },
    ));

    // Progress query by scanning the receipt of an order made just before.
    let mut acts = to_form(false);
    acts = finish(
        acts,
        vec![Act::On(
            "form",
            Event::SubmitForm(form(z, 8.0, true, false)),
        )],
    );
    acts.extend(start_business(Business::ProgressQuery));
    acts.push(Act::ShowReceiptOn("query-entry"));
    acts.push(Act::On("progress", Event::Continue));
    acts.push(Act::On("rating", Event::Rate(Some(5))));
    out.push(scenario(
        "progress-query",
        "after a new connection, the citizen scans the receipt's QR code with the kiosk camera and sees each step with its times",
        z,
        vec![CardStep::Card],
        acts,
        Expect {
            progress: true,
            ..plain(SupplyRoute::LowVoltage)
        },
    ));
    out
}

/// The scenarios with an ID card.
fn card_scenarios() -> Vec<Scenario> {
    let z = Citizen::ZhangWei;
    vec![
        Scenario {
            name: "new-connection-idcard",
            description: "a resident does a new 8 kW low-voltage connection with an ID card, zero certificates",
            citizen: z,
            card: vec![CardStep::NoCard, CardStep::Card],
            acts: finish(
                to_form(false),
                vec![Act::On("form", Event::SubmitForm(form(z, 8.0, true, false)))],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: plain(SupplyRoute::LowVoltage),
        },
        Scenario {
            name: "missing-documents",
            description: "no property record: accepted against a commitment signed on screen, with a deadline",
            citizen: Citizen::LiNa,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(true),
                vec![Act::On("form", Event::SubmitForm(form(Citizen::LiNa, 10.0, true, false)))],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: Expect {
                missing: vec![CertificateKind::PropertyProof],
                ..plain(SupplyRoute::LowVoltage)
            },
        },
        Scenario {
            name: "over-capacity",
            description: "a shop asks for 200 kW outside a park: routed to high voltage, account manager booked",
            citizen: z,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(false),
                vec![
                    Act::On("form", Event::SubmitForm(form(z, 200.0, false, false))),
                    Act::On("capacity-notice", Event::Continue),
                ],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: plain(SupplyRoute::HighVoltage),
        },
        Scenario {
            name: "insists-high-voltage",
            description: "50 kW but the customer insists on high voltage: the low-voltage offer is recorded",
            citizen: z,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(false),
                vec![
                    Act::On("form", Event::SubmitForm(form(z, 50.0, false, true))),
                    Act::On("capacity-notice", Event::InsistHighVoltage(true)),
                ],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: Expect {
                low_voltage_declined: true,
                ..plain(SupplyRoute::HighVoltageByChoice)
            },
        },
        Scenario {
            name: "micro-park",
            description: "250 kW inside a registered micro-enterprise park: low voltage pending a site check",
            citizen: Citizen::WangFang,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(false),
                vec![
                    Act::On(
                        "form",
                        Event::SubmitForm(form(Citizen::WangFang, 250.0, false, false)),
                    ),
                    Act::On("capacity-notice", Event::Continue),
                ],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: plain(SupplyRoute::LowVoltageParkAssessment),
        },
        Scenario {
            name: "card-pulled",
            description: "the card is pulled half way through the read; placed again, it reads",
            citizen: z,
            card: vec![CardStep::PulledMidRead, CardStep::Card],
            acts: finish(
                to_form(false),
                vec![Act::On("form", Event::SubmitForm(form(z, 8.0, true, false)))],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: Expect {
                card_problem: Some("card-problem"),
                ..plain(SupplyRoute::LowVoltage)
            },
        },
        Scenario {
            name: "offline",
            description: "central goes down mid-transaction: accepted locally, receipt says pending, delivered once later",
            citizen: z,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(false),
                vec![
                    Act::Central(CentralFault::Down),
                    Act::On("form", Event::SubmitForm(form(z, 8.0, true, false))),
                ],
            ),
            printer: PrinterFault::None,
            face: None,
            expect: Expect {
                receipt_pending: true,
                ..plain(SupplyRoute::LowVoltage)
            },
        },
        Scenario {
            name: "printer-out-of-paper",
            description: "the printer has no paper: the order stands, the screen says so, nothing is lost",
            citizen: z,
            card: vec![CardStep::Card],
            acts: finish(
                to_form(false),
                vec![Act::On("form", Event::SubmitForm(form(z, 8.0, true, false)))],
            ),
            printer: PrinterFault::PaperOut,
            face: None,
            expect: Expect {
                printed: false,
                ..plain(SupplyRoute::LowVoltage)
            },
        },
    ]
}

/// The scenario of that name.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}
