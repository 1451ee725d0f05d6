//! The demo's scenarios, as data: what the card reader twin will do, what
//! the scripted citizen does on each screen, what goes wrong with central,
//! and the outcome that must happen for the scenario to pass.

use kiosk_drivers::pii::Personal;

use crate::flow::{Event, FormInput, Stroke};
use crate::model::{Business, CertificateKind, IdentityMethod, SupplyRoute};

/// The synthetic citizens of the simulator the demo uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Citizen {
    /// 张伟: everything on record.
    ZhangWei,
    /// 李娜: no property record (property proof missing).
    LiNa,
    /// 王芳: property inside a micro-enterprise park.
    WangFang,
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

fn finish(mut acts: Vec<Act>, after_form: Vec<Act>) -> Vec<Act> {
    acts.extend(after_form);
    acts.push(Act::On("review", Event::Confirm));
    acts.push(Act::AfterReceipt(Event::Continue));
    acts.push(Act::On("rating", Event::Rate(Some(5))));
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
    }
}

/// Every scenario, the default (`new-connection-face`) first.
pub fn all() -> Vec<Scenario> {
    let mut all = face_scenarios();
    all.extend(card_scenarios());
    all
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
