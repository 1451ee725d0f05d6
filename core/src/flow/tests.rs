use chrono::{NaiveDate, TimeZone};
use kiosk_drivers::pii::{IdNumber, Personal};

use super::session::{Problem, Session};
use super::*;
use crate::model::{Certificate, CertificateKind};

mod branches;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("valid time")
}

fn card() -> CardIdentity {
    CardIdentity {
        name: Personal::new("张伟"),
        id_number: IdNumber::unchecked("330106199001010026"),
        number_valid: true,
        valid_to: NaiveDate::from_ymd_opt(2035, 1, 1),
        address: Some(Personal::new("浙江省杭州市西湖区文三路100号")),
    }
}

fn property(address: &str, park: Option<&str>) -> Certificate {
    Certificate {
        kind: CertificateKind::PropertyProof,
        number: "浙(2020)杭州市不动产权第0000001号".into(),
        issuer: "杭州市规划和自然资源局".into(),
        address: Some(Personal::new(address)),
        micro_park: park.map(str::to_string),
    }
}

fn subject() -> Certificate {
    Certificate {
        kind: CertificateKind::SubjectProof,
        number: "SP-0001".into(),
        issuer: "公安部".into(),
        address: None,
        micro_park: None,
    }
}

fn form(kw: f64, address: &str, hv: bool) -> FormInput {
    FormInput {
        address: Personal::new(address),
        capacity_kw: kw,
        residential: true,
        phone: Personal::new("13812345678"),
        wants_high_voltage: hv,
        mailing_address: Personal::default(),
    }
}

const ADDR: &str = "浙江省杭州市西湖区文三路100号";

struct Run {
    flow: Flow,
    state: State,
    effects: Vec<Effect>,
    /// Answer "no pushed orders" on its own when identity is established.
    auto_pushed: bool,
}

impl Run {
    fn new() -> Self {
        Self {
            flow: Flow::default(),
            state: State::new(),
            effects: vec![],
            auto_pushed: true,
        }
    }

    fn send(&mut self, e: Event) -> &mut Self {
        let (s, fx) = self
            .flow
            .step(self.state.clone(), e.clone(), now())
            .unwrap_or_else(|err| panic!("{e:?} refused in {:?}: {err}", self.state.phase));
        self.state = s;
        self.effects = fx;
        if self.auto_pushed && self.state.phase == Phase::FetchingPushed {
            // Identity established: central has no pushed order for this
            // citizen (the branch tests cover the other case).
            assert!(self.effects.contains(&Effect::FetchPushed));
            let before = std::mem::take(&mut self.effects);
            self.send(Event::PushedFetched(vec![]));
            let after = std::mem::replace(&mut self.effects, before);
            self.effects.extend(after);
        }
        self
    }

    /// "Confirm" on the review screen, then the supply contract signed
    /// when the business has one; the effects of both steps.
    fn confirm(&mut self) -> &mut Self {
        self.send(Event::Confirm);
        if self.state.phase == Phase::Contract {
            let before = std::mem::take(&mut self.effects);
            self.send(Event::SignContract {
                strokes: signature(),
            });
            let after = std::mem::replace(&mut self.effects, before);
            self.effects.extend(after);
        }
        self
    }

    fn refuse(&self, e: Event) -> Disallowed {
        match self.flow.step(self.state.clone(), e.clone(), now()) {
            Ok((s, _)) => panic!("{e:?} accepted in {:?} → {:?}", self.state.phase, s.phase),
            Err(d) => d,
        }
    }

    fn phase(&self) -> &Phase {
        &self.state.phase
    }

    fn session(&self) -> &Session {
        self.state.session.as_ref().expect("a session")
    }

    fn goto_reading_card(&mut self) -> &mut Self {
        self.send(Event::Start)
            .send(Event::ChooseBusiness(Business::NewConnection))
            .send(Event::ChooseIdentity(IdentityMethod::IdCard))
    }

    fn goto_review_certs(
        &mut self,
        found: Vec<Certificate>,
        missing: Vec<CertificateKind>,
    ) -> &mut Self {
        self.goto_reading_card()
            .send(Event::CardRead(Ok(card())))
            .send(Event::CertificateConsent(true))
            .send(Event::CertificatesFetched(Ok(Fetched { found, missing })))
    }

    fn goto_form(&mut self) -> &mut Self {
        self.goto_review_certs(vec![subject(), property(ADDR, None)], vec![])
            .send(Event::Continue)
    }

    fn accepted_order(&self) -> Order {
        self.effects
            .iter()
            .find_map(|e| match e {
                Effect::AcceptOrder(o) => Some((**o).clone()),
                _ => None,
            })
            .expect("an AcceptOrder effect")
    }
}

fn signature() -> Vec<Stroke> {
    vec![vec![(10, 10, 0), (20, 15, 16), (30, 12, 33)]]
}

#[test]
fn happy_path_new_connection_with_id_card() {
    let mut r = Run::new();
    r.send(Event::Start);
    assert_eq!(r.phase(), &Phase::ChooseBusiness);
    assert!(matches!(r.effects[..], [Effect::StartTimer { .. }]));
    r.send(Event::ChooseBusiness(Business::NewConnection));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    r.send(Event::ChooseIdentity(IdentityMethod::IdCard));
    assert_eq!(r.phase(), &Phase::ReadingCard);
    assert!(r.effects.contains(&Effect::ReadCard));
    r.send(Event::CardRead(Ok(card())));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    r.send(Event::CertificateConsent(true));
    assert_eq!(r.phase(), &Phase::FetchingCertificates);
    assert!(r.effects.contains(&Effect::FetchCertificates {
        kinds: vec![
            CertificateKind::SubjectProof,
            CertificateKind::PropertyProof
        ]
    }));
    // No timer while the kiosk itself is working.
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::StartTimer { .. })));
    r.send(Event::CertificatesFetched(Ok(Fetched {
        found: vec![subject(), property(ADDR, None)],
        missing: vec![],
    })));
    assert_eq!(r.phase(), &Phase::ReviewCertificates);
    assert_eq!(
        r.session().suggested_address().map(|a| a.expose()),
        Some(ADDR)
    );
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Form, "nothing missing: no commitment");
    r.send(Event::SubmitForm(form(8.0, ADDR, false)));
    assert_eq!(
        r.phase(),
        &Phase::Review,
        "plain low voltage needs no notice"
    );
    r.confirm();
    assert_eq!(r.phase(), &Phase::Submitting);
    let order = r.accepted_order();
    assert_eq!(
        order.accepted_at,
        now(),
        "acceptance time is the moment of confirm"
    );
    assert_eq!(order.application.route, SupplyRoute::LowVoltage);
    assert!(order.missing.is_empty() && order.commitment.is_none());
    assert_eq!(order.personal.id_number.expose(), "330106199001010026");
    assert_eq!(order.certificates.len(), 2);
    r.send(Event::OrderStored {
        local_id: "K1-20261123-0001".into(),
        central_no: Some("2026112300001".into()),
    });
    assert_eq!(r.phase(), &Phase::Receipt);
    assert!(r.effects.contains(&Effect::PrintReceipt {
        local_id: "K1-20261123-0001".into()
    }));
    r.send(Event::ReceiptPrinted(Ok(())));
    assert_eq!(r.phase(), &Phase::Receipt);
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Rating);
    r.send(Event::Rate(Some(5)));
    assert_eq!(r.phase(), &Phase::Attract);
    assert!(r.state.session.is_none(), "session wiped");
    assert!(r.effects.contains(&Effect::SubmitRating {
        subject: crate::flow::RatingSubject::Order("K1-20261123-0001".into()),
        stars: 5,
        comment: None,
    }));
    assert!(r.effects.contains(&Effect::Wipe));
}

#[test]
fn missing_property_proof_needs_a_signed_commitment_with_deadline() {
    let mut r = Run::new();
    r.goto_review_certs(vec![subject()], vec![CertificateKind::PropertyProof]);
    assert_eq!(r.session().missing, vec![CertificateKind::PropertyProof]);
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Commitment);
    assert_eq!(
        r.refuse(Event::SignCommitment {
            strokes: vec![vec![]],
            deadline: None
        }),
        Disallowed::EmptySignature
    );
    let too_late = now().date_naive() + Duration::days(91);
    assert!(matches!(
        r.refuse(Event::SignCommitment {
            strokes: signature(),
            deadline: Some(too_late)
        }),
        Disallowed::DeadlineOutOfRange { .. }
    ));
    assert!(matches!(
        r.refuse(Event::SignCommitment {
            strokes: signature(),
            deadline: Some(now().date_naive())
        }),
        Disallowed::DeadlineOutOfRange { .. }
    ));
    r.send(Event::SignCommitment {
        strokes: signature(),
        deadline: None,
    });
    assert_eq!(r.phase(), &Phase::Form);
    r.send(Event::SubmitForm(form(
        10.0,
        "浙江省杭州市上城区某路1号",
        false,
    )))
    .confirm();
    let order = r.accepted_order();
    let due = now().date_naive() + Duration::days(30);
    assert_eq!(
        order.missing,
        vec![MissingDocument {
            kind: CertificateKind::PropertyProof,
            deadline: due
        }]
    );
    let c = order.commitment.expect("commitment");
    assert_eq!(c.deadline, due);
    assert_eq!(
        c.signature_sha256,
        session::signature_hash(&signature()).expect("hash")
    );
    assert_eq!(c.signature_sha256.len(), 64);
}

/// Regression: the commitment screen computed its deadline from the
/// board's local date and the flow from the UTC date, so between 00:00 and
/// 08:00 in China the citizen signed one date and the order kept the day
/// before. One zone ([`FlowConfig::today`]) now gives both.
#[test]
fn the_signed_deadline_is_the_one_shown_across_midnight_utc() {
    let mut r = Run::new();
    r.goto_review_certs(vec![subject()], vec![CertificateKind::PropertyProof]);
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Commitment);
    // 16:30 UTC on 11-23 is 00:30 on 11-24 in the hall (UTC+8).
    let late = Utc
        .with_ymd_and_hms(2026, 11, 23, 16, 30, 0)
        .single()
        .expect("time");
    let ctx = crate::gui::view::ViewContext {
        flow: r.flow.config.clone(),
        ..Default::default()
    };
    let shown = crate::gui::view::build(&r.state, &Default::default(), &ctx, late).deadline;
    assert_eq!(shown, "2026-12-24");
    let (state, _) = r
        .flow
        .step(
            r.state.clone(),
            Event::SignCommitment {
                strokes: signature(),
                deadline: None,
            },
            late,
        )
        .expect("signed");
    let signed = state
        .session
        .as_ref()
        .and_then(|s| s.commitment.as_ref())
        .map(|c| c.deadline.to_string());
    assert_eq!(signed.as_deref(), Some(shown.as_str()));
    // The review after signing shows the same date.
    let review = crate::gui::view::build(&state, &Default::default(), &ctx, late).deadline;
    assert_eq!(review, shown);
    // A hall configured in UTC dates the same moment a day earlier.
    let mut utc = r.flow.config.clone();
    utc.time_zone = ServiceZone(FixedOffset::east_opt(0).expect("offset"));
    assert_eq!(
        utc.today(late),
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    );
}

#[test]
fn signature_hash_depends_on_every_point() {
    let a = session::signature_hash(&signature());
    let mut other = signature();
    other[0][1].0 += 1;
    assert_ne!(a, session::signature_hash(&other));
    assert_eq!(session::signature_hash(&[]), None);
}

#[test]
fn refusing_certificate_consent_goes_on_with_everything_but_the_card_missing() {
    let mut r = Run::new();
    r.goto_reading_card()
        .send(Event::CardRead(Ok(card())))
        .send(Event::CertificateConsent(false));
    assert_eq!(r.phase(), &Phase::ReviewCertificates);
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::FetchCertificates { .. })));
    assert_eq!(r.session().missing, vec![CertificateKind::PropertyProof]);
}

#[test]
fn central_unreachable_never_blocks_the_citizen() {
    let mut r = Run::new();
    r.goto_reading_card()
        .send(Event::CardRead(Ok(card())))
        .send(Event::CertificateConsent(true))
        .send(Event::CertificatesFetched(Err(FetchProblem::Unavailable)));
    assert_eq!(r.phase(), &Phase::ReviewCertificates);
    assert!(r.session().fetch_failed);
    assert_eq!(r.session().missing, vec![CertificateKind::PropertyProof]);
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Commitment);
}

#[test]
fn capacity_over_the_limit_is_routed_to_high_voltage_with_an_account_manager() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(160.1, ADDR, false)));
    assert_eq!(r.phase(), &Phase::CapacityNotice);
    assert_eq!(r.session().route, Some(SupplyRoute::HighVoltage));
    // Insisting on low voltage above the limit changes nothing.
    r.send(Event::InsistHighVoltage(false));
    assert_eq!(r.phase(), &Phase::Review);
    r.confirm();
    let o = r.accepted_order();
    assert_eq!(o.application.route, SupplyRoute::HighVoltage);
    assert!(o.application.account_manager_booked);
    assert!(!o.application.low_voltage_offered_and_declined);
}

#[test]
fn capacity_at_the_limit_stays_low_voltage() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(160.0, ADDR, false)));
    assert_eq!(r.phase(), &Phase::Review);
    r.confirm();
    assert_eq!(
        r.accepted_order().application.route,
        SupplyRoute::LowVoltage
    );
}

#[test]
fn micro_park_raises_the_limit_to_300_with_an_assessment() {
    let park = "杭州余杭小微企业园";
    let addr = "浙江省杭州市余杭区创业路8号";
    for (kw, expected) in [
        (160.0, SupplyRoute::LowVoltage),
        (160.1, SupplyRoute::LowVoltageParkAssessment),
        (300.0, SupplyRoute::LowVoltageParkAssessment),
        (300.1, SupplyRoute::HighVoltage),
    ] {
        let mut r = Run::new();
        r.goto_review_certs(vec![subject(), property(addr, Some(park))], vec![])
            .send(Event::Continue)
            .send(Event::SubmitForm(form(kw, addr, false)));
        assert_eq!(r.session().route, Some(expected), "{kw} kW");
        if expected != SupplyRoute::LowVoltage {
            assert_eq!(r.phase(), &Phase::CapacityNotice);
            r.send(Event::Continue);
        }
        r.confirm();
        let o = r.accepted_order();
        assert_eq!(o.application.route, expected, "{kw} kW");
        assert_eq!(o.application.micro_park.as_deref(), Some(park));
    }
}

#[test]
fn park_applies_only_to_the_address_registered_in_it() {
    let mut r = Run::new();
    r.goto_review_certs(
        vec![
            subject(),
            property("浙江省杭州市余杭区创业路8号", Some("园区")),
        ],
        vec![],
    )
    .send(Event::Continue)
    .send(Event::SubmitForm(form(200.0, "别处的地址", false)));
    assert_eq!(r.session().route, Some(SupplyRoute::HighVoltage));
}

#[test]
fn insisting_on_high_voltage_under_the_limit_records_the_offer() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(50.0, ADDR, true)));
    assert_eq!(
        r.phase(),
        &Phase::CapacityNotice,
        "the low-voltage option is explained"
    );
    r.send(Event::InsistHighVoltage(true));
    assert_eq!(r.phase(), &Phase::Review);
    r.confirm();
    let o = r.accepted_order();
    assert_eq!(o.application.route, SupplyRoute::HighVoltageByChoice);
    assert!(o.application.low_voltage_offered_and_declined);
    assert!(o.application.account_manager_booked);
}

#[test]
fn taking_the_low_voltage_offer_after_asking_for_high_voltage() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(50.0, ADDR, true)))
        .send(Event::InsistHighVoltage(false))
        .confirm();
    let o = r.accepted_order();
    assert_eq!(o.application.route, SupplyRoute::LowVoltage);
    assert!(!o.application.low_voltage_offered_and_declined);
}

#[test]
fn invalid_form_stays_on_the_form_with_a_problem() {
    for (f, p) in [
        (form(0.0, ADDR, false), FormProblem::CapacityOutOfRange),
        (form(f64::NAN, ADDR, false), FormProblem::CapacityOutOfRange),
        (form(10.0, "  ", false), FormProblem::AddressMissing),
        (
            FormInput {
                phone: Personal::new("12345"),
                ..form(10.0, ADDR, false)
            },
            FormProblem::PhoneInvalid,
        ),
    ] {
        let mut r = Run::new();
        r.goto_form().send(Event::SubmitForm(f));
        assert_eq!(r.phase(), &Phase::Form);
        assert_eq!(r.session().problem, Some(Problem::Form(p)));
    }
    let landline = FormInput {
        phone: Personal::new("0571-87654321"),
        ..form(10.0, ADDR, false)
    };
    assert_eq!(landline.validate(), Ok(()));
}

#[test]
fn card_pulled_mid_read_is_retried_then_gives_up() {
    let mut r = Run::new();
    r.goto_reading_card();
    r.send(Event::CardRead(Err(CardProblem::Removed)));
    assert_eq!(r.phase(), &Phase::ReadingCard);
    assert!(r.effects.contains(&Effect::ReadCard), "reads again");
    assert_eq!(
        r.session().problem,
        Some(Problem::Card(CardProblem::Removed))
    );
    r.send(Event::CardRead(Err(CardProblem::NoCard)));
    assert_eq!(r.phase(), &Phase::ReadingCard);
    r.send(Event::CardRead(Err(CardProblem::Removed)));
    assert_eq!(
        r.phase(),
        &Phase::ChooseIdentity,
        "three attempts, then other methods"
    );
    assert!(!r.effects.contains(&Effect::ReadCard));
}

#[test]
fn card_pulled_then_placed_again_goes_on() {
    let mut r = Run::new();
    r.goto_reading_card()
        .send(Event::CardRead(Err(CardProblem::Removed)))
        .send(Event::CardRead(Ok(card())));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    assert_eq!(r.session().problem, None, "the hint clears");
}

#[test]
fn untrusted_or_expired_card_goes_back_to_the_methods() {
    let mut bad = card();
    bad.number_valid = false;
    let mut r = Run::new();
    r.goto_reading_card().send(Event::CardRead(Ok(bad)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Card(CardProblem::NumberInvalid))
    );
    assert!(r.session().applicant.is_none());

    let mut old = card();
    old.valid_to = NaiveDate::from_ymd_opt(2020, 1, 1);
    let mut r = Run::new();
    r.goto_reading_card().send(Event::CardRead(Ok(old)));
    assert_eq!(
        r.session().problem,
        Some(Problem::Card(CardProblem::Expired))
    );

    let mut long = card();
    long.valid_to = None;
    let mut r = Run::new();
    r.goto_reading_card().send(Event::CardRead(Ok(long)));
    assert_eq!(r.phase(), &Phase::ConsentCertificates, "长期 never expires");
}

#[test]
fn reader_fault_is_not_retried() {
    let mut r = Run::new();
    r.goto_reading_card()
        .send(Event::CardRead(Err(CardProblem::ReaderFault)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
}

#[test]
fn timeout_warns_then_more_time_resumes_the_same_screen() {
    let mut r = Run::new();
    r.goto_form();
    let t = r.state.timer;
    r.send(Event::Timeout { timer: t });
    assert_eq!(r.phase(), &Phase::TimeoutWarning(Box::new(Phase::Form)));
    assert!(r.session().applicant.is_some(), "nothing wiped yet");
    let warn = r.state.timer;
    assert!(r.effects.contains(&Effect::StartTimer {
        timer: warn,
        after_secs: 30
    }));
    r.send(Event::MoreTime);
    assert_eq!(r.phase(), &Phase::Form);
    assert!(r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::StartTimer { after_secs: 90, .. })));
}

#[test]
fn timeout_after_warning_wipes_and_returns_to_attract() {
    let mut r = Run::new();
    r.goto_form();
    r.send(Event::Timeout {
        timer: r.state.timer,
    });
    r.send(Event::Timeout {
        timer: r.state.timer,
    });
    assert_eq!(r.phase(), &Phase::Attract);
    assert!(r.state.session.is_none());
    assert!(r.effects.contains(&Effect::Wipe));
}

#[test]
fn stale_timers_are_ignored() {
    let mut r = Run::new();
    r.goto_reading_card();
    let old = r.state.timer - 1;
    let before = r.state.clone();
    r.send(Event::Timeout { timer: old });
    assert_eq!(r.state, before);
    assert!(r.effects.is_empty());
}

#[test]
fn no_timeout_while_submitting() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm();
    let before = r.state.clone();
    r.send(Event::Timeout {
        timer: r.state.timer,
    });
    assert_eq!(r.state, before, "acceptance is never interrupted");
}

#[test]
fn elderly_mode_doubles_the_time_and_ends_with_the_session() {
    let mut r = Run::new();
    r.send(Event::Start).send(Event::SetElderly(true));
    assert!(r.state.elderly);
    assert!(r.effects.iter().any(|e| matches!(
        e,
        Effect::StartTimer {
            after_secs: 180,
            ..
        }
    )));
    r.send(Event::Cancel);
    assert!(!r.state.elderly);
}

#[test]
fn cancel_wipes_from_any_screen_but_not_while_submitting() {
    let mut r = Run::new();
    r.goto_form().send(Event::Cancel);
    assert_eq!(r.phase(), &Phase::Attract);
    assert!(r.state.session.is_none());
    assert!(r.effects.contains(&Effect::StopCardRead));

    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm();
    assert_eq!(
        r.refuse(Event::Cancel),
        Disallowed::Event {
            phase: "submitting",
            event: "cancel"
        }
    );
}

#[test]
fn store_failure_is_a_fault_and_never_a_receipt() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm()
        .send(Event::OrderFailed("disk full".into()));
    assert_eq!(r.phase(), &Phase::Fault);
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::PrintReceipt { .. })));
    r.send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Attract);
}

#[test]
fn printer_failure_keeps_the_order_and_says_so() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm()
        .send(Event::OrderStored {
            local_id: "L1".into(),
            central_no: None,
        })
        .send(Event::ReceiptPrinted(Err("paper out".into())));
    assert_eq!(r.phase(), &Phase::Receipt);
    let o = r.session().order.as_ref().expect("order");
    assert_eq!(o.printed, Some(false));
    assert_eq!(
        r.session().problem,
        Some(Problem::Printer("paper out".into()))
    );
}

#[test]
fn rating_out_of_range_and_skipping() {
    let mut r = Run::new();
    r.goto_form()
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm()
        .send(Event::OrderStored {
            local_id: "L1".into(),
            central_no: None,
        })
        .send(Event::Continue);
    assert_eq!(
        r.refuse(Event::Rate(Some(0))),
        Disallowed::RatingOutOfRange(0)
    );
    assert_eq!(
        r.refuse(Event::Rate(Some(6))),
        Disallowed::RatingOutOfRange(6)
    );
    r.send(Event::Rate(None));
    assert_eq!(r.phase(), &Phase::Attract);
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::SubmitRating { .. })));
}

#[test]
fn back_moves_one_screen_back() {
    let mut r = Run::new();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::Back);
    assert_eq!(r.phase(), &Phase::ChooseBusiness);
    r.send(Event::Back);
    assert_eq!(r.phase(), &Phase::Attract);

    let mut r = Run::new();
    r.goto_reading_card().send(Event::Back);
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert!(r.effects.contains(&Effect::StopCardRead));

    let mut r = Run::new();
    r.goto_form().send(Event::Back);
    assert_eq!(r.phase(), &Phase::ReviewCertificates);
    r.send(Event::Continue)
        .send(Event::SubmitForm(form(50.0, ADDR, true)))
        .send(Event::Back);
    assert_eq!(r.phase(), &Phase::Form);
    r.send(Event::SubmitForm(form(8.0, ADDR, false)))
        .send(Event::Back);
    assert_eq!(r.phase(), &Phase::Form);
}

#[test]
fn businesses_and_methods_not_offered_are_typed_refusals() {
    let mut r = Run::new();
    r.send(Event::Start);
    assert_eq!(
        r.refuse(Event::ChooseBusiness(Business::Transfer)),
        Disallowed::BusinessNotOffered("transfer")
    );
    r.send(Event::ChooseBusiness(Business::NewConnection));
    for m in [
        IdentityMethod::Face,
        IdentityMethod::Eid,
        IdentityMethod::CallStaff,
    ] {
        assert_eq!(
            r.refuse(Event::ChooseIdentity(m)),
            Disallowed::MethodNotOffered(m)
        );
    }
}

/// Every event that a phase does not list is refused with a typed error and
/// leaves the caller's state as it was.
#[test]
fn every_unlisted_event_is_disallowed_in_every_phase() {
    let events = || {
        vec![
            Event::Start,
            Event::ChooseBusiness(Business::NewConnection),
            Event::ChooseIdentity(IdentityMethod::IdCard),
            Event::CardRead(Ok(card())),
            Event::CardRead(Err(CardProblem::Removed)),
            Event::CertificateConsent(true),
            Event::CertificateConsent(false),
            Event::CertificatesFetched(Err(FetchProblem::Unavailable)),
            Event::Continue,
            Event::SignCommitment {
                strokes: signature(),
                deadline: None,
            },
            Event::SubmitForm(form(8.0, ADDR, false)),
            Event::InsistHighVoltage(true),
            Event::Confirm,
            Event::OrderStored {
                local_id: "L".into(),
                central_no: None,
            },
            Event::OrderFailed("x".into()),
            Event::ReceiptPrinted(Ok(())),
            Event::Rate(Some(3)),
            Event::Back,
            Event::MoreTime,
            Event::FaceConsent(true),
            Event::FaceConsent(false),
            enter("张伟", "330106199001010026"),
            Event::ReferenceFetched(Ok(())),
            Event::ReferenceFetched(Err(ReferenceProblem::NotFound)),
            Event::FaceDecided(Ok(())),
            Event::FaceDecided(Err(FaceFailure::Mismatch)),
        ]
    };
    // The allowed (phase, event) pairs; everything else must be refused.
    let allowed: &[(&str, &str)] = &[
        ("attract", "start"),
        ("choose-business", "choose-business"),
        ("choose-business", "back"),
        ("choose-identity", "choose-identity"),
        ("choose-identity", "back"),
        ("reading-card", "card-read"),
        ("reading-card", "card-problem"),
        ("reading-card", "back"),
        ("consent-certificates", "certificate-consent"),
        ("consent-certificates", "certificate-consent-refused"),
        ("fetching-certificates", "certificates-fetch-failed"),
        ("review-certificates", "continue"),
        ("commitment", "sign-commitment"),
        ("commitment", "back"),
        ("form", "submit-form"),
        ("form", "back"),
        ("capacity-notice", "continue"),
        ("capacity-notice", "insist-high-voltage"),
        ("capacity-notice", "back"),
        ("review", "confirm"),
        ("review", "back"),
        ("submitting", "order-stored"),
        ("submitting", "order-failed"),
        ("receipt", "receipt-printed"),
        ("receipt", "continue"),
        ("rating", "rate"),
        ("fault", "continue"),
        ("timeout-warning", "more-time"),
        ("face-consent", "face-consent"),
        ("face-consent", "face-consent-refused"),
        ("face-consent", "back"),
        ("face-identity", "enter-identity"),
        ("face-identity", "back"),
        ("fetching-reference", "reference-fetched"),
        ("fetching-reference", "reference-problem"),
        ("face-capture", "face-passed"),
        ("face-capture", "face-failed"),
        ("face-capture", "back"),
    ];
    let mut states: Vec<State> = vec![];
    let mut r = Run::new();
    states.push(r.state.clone());
    r.send(Event::Start);
    states.push(r.state.clone());
    r.send(Event::ChooseBusiness(Business::NewConnection));
    states.push(r.state.clone());
    r.send(Event::ChooseIdentity(IdentityMethod::IdCard));
    states.push(r.state.clone());
    r.send(Event::CardRead(Ok(card())));
    states.push(r.state.clone());
    r.send(Event::CertificateConsent(true));
    states.push(r.state.clone());
    r.send(Event::CertificatesFetched(Ok(Fetched {
        found: vec![subject()],
        missing: vec![CertificateKind::PropertyProof],
    })));
    states.push(r.state.clone());
    r.send(Event::Continue);
    states.push(r.state.clone());
    r.send(Event::SignCommitment {
        strokes: signature(),
        deadline: None,
    });
    states.push(r.state.clone());
    r.send(Event::SubmitForm(form(200.0, ADDR, false)));
    states.push(r.state.clone());
    r.send(Event::Continue);
    states.push(r.state.clone());
    r.confirm();
    states.push(r.state.clone());
    let mut fault = r.state.clone();
    fault.phase = Phase::Fault;
    states.push(fault);
    r.send(Event::OrderStored {
        local_id: "L".into(),
        central_no: None,
    });
    states.push(r.state.clone());
    r.send(Event::Continue);
    states.push(r.state.clone());
    let mut warn = r.state.clone();
    warn.phase = Phase::TimeoutWarning(Box::new(Phase::Rating));
    states.push(warn);
    let mut f = Run::with_face();
    f.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::Face));
    states.push(f.state.clone());
    f.send(Event::FaceConsent(true));
    states.push(f.state.clone());
    f.send(enter("张伟", "330106199001010026"));
    states.push(f.state.clone());
    f.send(Event::ReferenceFetched(Ok(())));
    states.push(f.state.clone());
    r.flow = face_flow();

    let mut refused = 0;
    for state in states {
        for e in events() {
            let pair = (state.phase.name(), e.name());
            let result = r.flow.step(state.clone(), e.clone(), now());
            if allowed.contains(&pair) {
                assert!(result.is_ok(), "{pair:?} should be allowed: {result:?}");
            } else {
                refused += 1;
                assert!(
                    matches!(result, Err(Disallowed::Event { phase, event }) if (phase, event) == pair),
                    "{pair:?} should be refused, got {:?}",
                    result.map(|(s, _)| s.phase)
                );
            }
        }
    }
    assert!(
        refused > 200,
        "the table covers the phases ({refused} refusals)"
    );
}

#[test]
fn every_phase_has_a_screen_in_both_languages() {
    let phases = [
        Phase::Attract,
        Phase::ChooseBusiness,
        Phase::ChooseIdentity,
        Phase::ReadingCard,
        Phase::FaceConsent,
        Phase::FaceIdentity,
        Phase::FetchingReference,
        Phase::FaceCapture,
        Phase::ConsentCertificates,
        Phase::FetchingCertificates,
        Phase::ReviewCertificates,
        Phase::Commitment,
        Phase::Form,
        Phase::CapacityNotice,
        Phase::Review,
        Phase::Submitting,
        Phase::Receipt,
        Phase::Rating,
        Phase::Fault,
        Phase::TimeoutWarning(Box::new(Phase::Form)),
    ];
    for p in phases {
        for lang in [kiosk_ui::Lang::Zh, kiosk_ui::Lang::En] {
            assert!(
                kiosk_ui::screen(p.name(), lang).is_some(),
                "{} has no screen",
                p.name()
            );
        }
    }
}

// ---- The face path ----

fn face_flow() -> Flow {
    Flow::new(FlowConfig {
        identity_methods: vec![IdentityMethod::Face, IdentityMethod::IdCard],
        ..FlowConfig::default()
    })
}

impl Run {
    fn with_face() -> Self {
        Self {
            flow: face_flow(),
            ..Self::new()
        }
    }

    fn goto_face_identity(&mut self) -> &mut Self {
        self.send(Event::Start)
            .send(Event::ChooseBusiness(Business::NewConnection))
            .send(Event::ChooseIdentity(IdentityMethod::Face))
            .send(Event::FaceConsent(true))
    }

    fn goto_face_capture(&mut self) -> &mut Self {
        self.goto_face_identity()
            .send(enter("张伟", "330106199001010026"))
            .send(Event::ReferenceFetched(Ok(())))
    }
}

fn enter(name: &str, id: &str) -> Event {
    Event::EnterIdentity {
        name: Personal::new(name),
        id_number: Personal::new(id),
    }
}

#[test]
fn face_path_passes_to_certificate_consent() {
    let mut r = Run::with_face();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::Face));
    assert_eq!(
        r.phase(),
        &Phase::FaceConsent,
        "its own consent screen first"
    );
    r.send(Event::FaceConsent(true));
    assert_eq!(r.phase(), &Phase::FaceIdentity);
    r.send(enter(" 张伟 ", " 11010519491231002x"));
    assert_eq!(r.phase(), &Phase::FetchingReference);
    assert!(r.effects.contains(&Effect::FetchReference));
    r.send(Event::ReferenceFetched(Ok(())));
    assert_eq!(r.phase(), &Phase::FaceCapture);
    assert!(r.effects.contains(&Effect::StartFaceCheck));
    r.send(Event::FaceDecided(Ok(())));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    assert!(
        r.effects.contains(&Effect::StopFaceCheck),
        "camera off at once"
    );
    let s = r.session();
    assert_eq!(
        s.identity_check.as_ref().map(|c| c.method),
        Some(IdentityMethod::Face)
    );
    assert_eq!(s.applicant.as_ref().map(|a| a.name.expose()), Some("张伟"));
    assert!(s.claimed.is_none());
    // A face check is not a certificate: the subject proof must still be fetched.
    r.send(Event::CertificateConsent(false));
    assert_eq!(
        r.session().missing,
        vec![
            CertificateKind::SubjectProof,
            CertificateKind::PropertyProof
        ]
    );
}

#[test]
fn face_path_order_records_the_method_and_never_a_score() {
    let mut r = Run::with_face();
    r.goto_face_capture()
        .send(Event::FaceDecided(Ok(())))
        .send(Event::CertificateConsent(true))
        .send(Event::CertificatesFetched(Ok(Fetched {
            found: vec![subject(), property(ADDR, None)],
            missing: vec![],
        })))
        .send(Event::Continue)
        .send(Event::SubmitForm(form(8.0, ADDR, false)))
        .confirm();
    let o = r.accepted_order();
    assert_eq!(o.identity.method, IdentityMethod::Face);
    let json = serde_json::to_string(&o.identity).expect("json");
    assert!(
        !json.contains("score") && !json.contains("similar"),
        "{json}"
    );
}

#[test]
fn declining_the_face_check_is_never_asked_again() {
    let mut r = Run::with_face();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::Face))
        .send(Event::FaceConsent(false));
    assert_eq!(
        r.phase(),
        &Phase::ChooseIdentity,
        "alternatives on the same screen"
    );
    assert!(r.session().face_closed);
    assert_eq!(
        r.refuse(Event::ChooseIdentity(IdentityMethod::Face)),
        Disallowed::MethodNotOffered(IdentityMethod::Face)
    );
    r.send(Event::ChooseIdentity(IdentityMethod::IdCard));
    assert_eq!(r.phase(), &Phase::ReadingCard, "served another way");
}

#[test]
fn face_path_refuses_under_14_from_the_id_number() {
    // Born 2012-11-24: 13 on 2026-11-23.
    let mut r = Run::with_face();
    r.goto_face_identity()
        .send(enter("小明", "310115201211240033"));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::Under14))
    );
    assert!(r.session().face_closed);
    assert!(
        !r.effects.contains(&Effect::FetchReference),
        "no reference fetched"
    );
    // Born 2012-11-23: 14 today, allowed.
    let mut r = Run::with_face();
    r.goto_face_identity()
        .send(enter("小红", "310115201211230038"));
    assert_eq!(r.phase(), &Phase::FetchingReference);
}

#[test]
fn face_identity_typos_stay_on_the_screen() {
    let mut r = Run::with_face();
    r.goto_face_identity()
        .send(enter("张伟", "330106199001010021"));
    assert_eq!(r.phase(), &Phase::FaceIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::IdNumberInvalid))
    );
    r.send(enter("  ", "330106199001010026"));
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::NameMissing))
    );
}

#[test]
fn three_mismatches_end_the_face_path_and_offer_the_others() {
    let mut r = Run::with_face();
    r.goto_face_capture();
    r.send(Event::FaceDecided(Err(FaceFailure::Mismatch)));
    assert_eq!(r.phase(), &Phase::FaceCapture);
    assert!(
        r.effects.contains(&Effect::StartFaceCheck),
        "a fresh attempt"
    );
    r.send(Event::FaceDecided(Err(FaceFailure::NoFace)));
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::NoFace))
    );
    r.send(Event::FaceDecided(Err(FaceFailure::Mismatch)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::AttemptsUsed))
    );
    assert!(r.effects.contains(&Effect::StopFaceCheck));
    assert!(r.session().claimed.is_none() && r.session().applicant.is_none());
    assert_eq!(
        r.refuse(Event::ChooseIdentity(IdentityMethod::Face)),
        Disallowed::MethodNotOffered(IdentityMethod::Face)
    );
}

#[test]
fn a_mismatch_then_a_pass_goes_on() {
    let mut r = Run::with_face();
    r.goto_face_capture()
        .send(Event::FaceDecided(Err(FaceFailure::Mismatch)))
        .send(Event::FaceDecided(Ok(())));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
}

#[test]
fn a_liveness_failure_ends_the_face_path_at_once() {
    let mut r = Run::with_face();
    r.goto_face_capture()
        .send(Event::FaceDecided(Err(FaceFailure::Liveness)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::Liveness))
    );
    assert!(r.session().face_closed);
}

#[test]
fn a_camera_fault_offers_the_others_but_leaves_face_open() {
    let mut r = Run::with_face();
    r.goto_face_capture()
        .send(Event::FaceDecided(Err(FaceFailure::CameraFault)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::CameraFault))
    );
    assert!(!r.session().face_closed);
    r.send(Event::ChooseIdentity(IdentityMethod::Face));
    assert_eq!(r.phase(), &Phase::FaceConsent);
}

#[test]
fn no_reference_photo_closes_the_face_path_unavailable_does_not() {
    let mut r = Run::with_face();
    r.goto_face_identity()
        .send(enter("张伟", "330106199001010026"))
        .send(Event::ReferenceFetched(Err(ReferenceProblem::NotFound)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert!(r.session().face_closed);
    let mut r = Run::with_face();
    r.goto_face_identity()
        .send(enter("张伟", "330106199001010026"))
        .send(Event::ReferenceFetched(Err(ReferenceProblem::Unavailable)));
    assert_eq!(
        r.session().problem,
        Some(Problem::Face(FaceProblem::ReferenceUnavailable))
    );
    assert!(!r.session().face_closed);
}

#[test]
fn cancel_or_timeout_during_capture_stops_the_camera() {
    let mut r = Run::with_face();
    r.goto_face_capture().send(Event::Cancel);
    assert!(r.effects.contains(&Effect::StopFaceCheck));
    let mut r = Run::with_face();
    r.goto_face_capture();
    r.send(Event::Timeout {
        timer: r.state.timer,
    });
    r.send(Event::Timeout {
        timer: r.state.timer,
    });
    assert_eq!(r.phase(), &Phase::Attract);
    assert!(r.effects.contains(&Effect::StopFaceCheck));
}

#[test]
fn age_is_counted_in_whole_years() {
    let id = IdNumber::unchecked("310115201211240033");
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    assert_eq!(age_on(&id, d(2026, 11, 23)), Some(13));
    assert_eq!(age_on(&id, d(2026, 11, 24)), Some(14));
    assert_eq!(age_on(&IdNumber::unchecked("bogus"), d(2026, 1, 1)), None);
}
