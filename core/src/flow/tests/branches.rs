//! The business branches: each one's transitions, its refusals, and what
//! its order records.

use super::*;
use crate::central::{Account, Invoice, OrderProgress, Payment, PaymentState, PushedOrder};
use crate::model::CompanyRole;

fn account(no: &str, holder_matches: Option<bool>, due: i64) -> Account {
    Account {
        account_no: no.into(),
        holder_masked: "张*".into(),
        address: Personal::new(ADDR),
        amount_due_fen: due,
        contracted_kw: 8.0,
        holder_matches,
    }
}

fn other_card() -> CardIdentity {
    CardIdentity {
        name: Personal::new("周建华"),
        id_number: IdNumber::unchecked("320502196507150019"),
        ..card()
    }
}

fn phone_form() -> FormInput {
    FormInput {
        phone: Personal::new("13812345678"),
        ..FormInput::default()
    }
}

fn full() -> Run {
    let mut r = Run::new();
    r.flow.config.businesses = Business::ALL.to_vec();
    r.flow.config.identity_methods = IdentityMethod::ALL.to_vec();
    r
}

fn problem(r: &Run) -> Option<&Problem> {
    r.session().problem.as_ref()
}

/// Start, choose `b`, prove identity with the card (no pushed orders).
fn with_card(b: Business) -> Run {
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(b))
        .send(Event::ChooseIdentity(IdentityMethod::IdCard))
        .send(Event::CardRead(Ok(card())));
    r
}

fn fetched(kinds: Vec<Certificate>) -> Event {
    Event::CertificatesFetched(Ok(Fetched {
        found: kinds,
        missing: vec![],
    }))
}

#[test]
fn capacity_increase_needs_the_holder_and_more_than_the_contract() {
    let mut r = with_card(Business::CapacityIncrease);
    assert_eq!(r.phase(), &Phase::AccountEntry);
    r.send(Event::EnterAccount("33-00".into()));
    assert_eq!(
        problem(&r),
        Some(&Problem::Account(AccountProblem::Malformed))
    );
    r.send(Event::EnterAccount("3300 0123 45".into()));
    assert_eq!(r.phase(), &Phase::FetchingAccount);
    assert!(r.effects.contains(&Effect::LookupAccount {
        account_no: Some("3300012345".into()),
        holder: Holder::Applicant,
    }));
    r.send(Event::AccountFetched(Ok(account(
        "3300012345",
        Some(false),
        0,
    ))));
    assert_eq!(r.phase(), &Phase::AccountEntry, "not the holder");
    assert_eq!(
        problem(&r),
        Some(&Problem::Account(AccountProblem::NotHolder))
    );
    r.send(Event::EnterAccount("3300012345".into()))
        .send(Event::AccountFetched(Ok(account(
            "3300012345",
            Some(true),
            0,
        ))));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    r.send(Event::CertificateConsent(true));
    assert!(r.effects.contains(&Effect::FetchCertificates {
        kinds: vec![CertificateKind::SubjectProof]
    }));
    r.send(fetched(vec![subject()])).send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Form);
    let increase = |kw| FormInput {
        capacity_kw: kw,
        residential: true,
        ..phone_form()
    };
    r.send(Event::SubmitForm(increase(8.0)));
    assert_eq!(
        problem(&r),
        Some(&Problem::Form(FormProblem::CapacityNotIncreased))
    );
    r.send(Event::SubmitForm(increase(200.0)));
    assert_eq!(
        r.phase(),
        &Phase::CapacityNotice,
        "the capacity rule applies"
    );
    r.send(Event::Continue).send(Event::Confirm);
    assert_eq!(r.phase(), &Phase::Contract);
    assert_eq!(
        r.refuse(Event::SignContract { strokes: vec![] }),
        Disallowed::EmptySignature
    );
    r.send(Event::SignContract {
        strokes: signature(),
    });
    let order = r.accepted_order();
    assert_eq!(order.business, Business::CapacityIncrease);
    assert_eq!(order.account_no.as_deref(), Some("3300012345"));
    assert_eq!(order.application.route, SupplyRoute::HighVoltage);
    assert_eq!(
        order.personal.address.expose(),
        ADDR,
        "the account's address"
    );
    let contract = order.contract.expect("signed");
    assert_eq!(contract.version, r.flow.config.contract.version);
    assert_eq!(contract.signed_at, now());
    assert_eq!(
        Some(contract.signature_sha256),
        signature_hash(&signature())
    );
}

#[test]
fn name_change_takes_any_account_and_asks_only_a_phone() {
    let mut r = with_card(Business::NameChange);
    r.send(Event::EnterAccount("3300012347".into()))
        .send(Event::AccountFetched(Ok(account(
            "3300012347",
            Some(false),
            0,
        ))))
        .send(Event::CertificateConsent(true));
    assert_eq!(r.phase(), &Phase::FetchingCertificates);
    r.send(Event::CertificatesFetched(Ok(Fetched {
        found: vec![subject()],
        missing: vec![CertificateKind::PropertyProof],
    })))
    .send(Event::Continue);
    assert_eq!(
        r.phase(),
        &Phase::Commitment,
        "no property proof: commitment"
    );
    r.send(Event::SignCommitment {
        strokes: signature(),
        deadline: None,
    })
    .send(Event::SubmitForm(phone_form()));
    assert_eq!(r.phase(), &Phase::Review, "no capacity notice");
    r.confirm();
    let order = r.accepted_order();
    assert_eq!(order.business, Business::NameChange);
    assert_eq!(order.missing.len(), 1);
    assert!(order.contract.is_some() && order.transfer.is_none());
}

#[test]
fn transfer_with_the_old_holder_present_checks_their_card_against_the_account() {
    let mut r = with_card(Business::Transfer);
    r.send(Event::EnterAccount("3300012348".into()))
        .send(Event::AccountFetched(Ok(account(
            "3300012348",
            Some(false),
            0,
        ))));
    assert_eq!(r.phase(), &Phase::TransferParties);
    r.send(Event::OldHolderPresent(true));
    assert_eq!(r.phase(), &Phase::ReadingSecondCard);
    assert!(r.effects.contains(&Effect::ReadCard));
    // The new holder's own card again is not the old holder.
    r.send(Event::CardRead(Ok(card())));
    assert_eq!(r.phase(), &Phase::TransferParties);
    assert_eq!(
        problem(&r),
        Some(&Problem::Account(AccountProblem::OldHolderMismatch))
    );
    // Someone who does not hold the account.
    r.send(Event::OldHolderPresent(true))
        .send(Event::CardRead(Ok(other_card())));
    assert!(r.effects.contains(&Effect::LookupAccount {
        account_no: Some("3300012348".into()),
        holder: Holder::OldHolder,
    }));
    r.send(Event::AccountFetched(Ok(account(
        "3300012348",
        Some(false),
        0,
    ))));
    assert_eq!(r.phase(), &Phase::TransferParties);
    assert!(r.session().old_holder.is_none(), "forgotten at once");
    // The real old holder.
    r.send(Event::OldHolderPresent(true))
        .send(Event::CardRead(Ok(other_card())))
        .send(Event::AccountFetched(Ok(account(
            "3300012348",
            Some(true),
            0,
        ))));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    r.send(Event::CertificateConsent(true))
        .send(fetched(vec![subject(), property(ADDR, None)]))
        .send(Event::Continue)
        .send(Event::SubmitForm(phone_form()))
        .confirm();
    let order = r.accepted_order();
    let parties = order.transfer.expect("transfer parties");
    assert!(parties.old_holder_present && parties.old_holder_verified);
    assert_eq!(order.personal.old_holder_name.expose(), "周建华");
    assert_eq!(
        order.personal.old_holder_id.as_ref().map(|i| i.expose()),
        Some("320502196507150019")
    );
}

#[test]
fn transfer_without_the_old_holder_relies_on_the_property_record() {
    let mut r = with_card(Business::Transfer);
    r.send(Event::EnterAccount("3300012348".into()))
        .send(Event::AccountFetched(Ok(account("3300012348", None, 0))))
        .send(Event::OldHolderPresent(false));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    r.send(Event::CertificateConsent(true));
    assert!(r.effects.contains(&Effect::FetchCertificates {
        kinds: vec![
            CertificateKind::SubjectProof,
            CertificateKind::PropertyProof
        ]
    }));
    r.send(fetched(vec![subject(), property(ADDR, None)]))
        .send(Event::Continue)
        .send(Event::SubmitForm(phone_form()))
        .confirm();
    let parties = r.accepted_order().transfer.expect("parties");
    assert!(!parties.old_holder_present && !parties.old_holder_verified);
}

#[test]
fn closure_needs_a_mailing_address_and_signs_no_contract() {
    let mut r = with_card(Business::Closure);
    r.send(Event::EnterAccount("3300012345".into()))
        .send(Event::AccountFetched(Ok(account(
            "3300012345",
            Some(true),
            0,
        ))))
        .send(Event::CertificateConsent(true))
        .send(fetched(vec![subject(), property(ADDR, None)]))
        .send(Event::Continue)
        .send(Event::SubmitForm(phone_form()));
    assert_eq!(
        problem(&r),
        Some(&Problem::Form(FormProblem::MailingAddressMissing))
    );
    r.send(Event::SubmitForm(FormInput {
        mailing_address: Personal::new("北京市朝阳区建国路1号"),
        ..phone_form()
    }))
    .send(Event::Confirm);
    assert_eq!(r.phase(), &Phase::Submitting, "no contract for a closure");
    let order = r.accepted_order();
    assert!(order.contract.is_none());
    assert_eq!(
        order.personal.mailing_address.expose(),
        "北京市朝阳区建国路1号"
    );
}

#[test]
fn a_company_is_checked_by_credit_code_and_needs_its_licence_only() {
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ApplyAsCompany {
            credit_code: "91330106MA27XY1230".into(),
            role: CompanyRole::Agent,
        });
    assert!(matches!(
        problem(&r),
        Some(Problem::Company(crate::model::CreditCodeError::Check {
            expected: 'U'
        }))
    ));
    assert!(r.session().company.is_none());
    r.send(Event::ApplyAsCompany {
        credit_code: " 91330106ma27xy123u ".into(),
        role: CompanyRole::Agent,
    })
    .send(Event::ChooseIdentity(IdentityMethod::IdCard))
    .send(Event::CardRead(Ok(card())))
    .send(Event::CertificateConsent(true));
    assert!(r.effects.contains(&Effect::FetchCertificates {
        kinds: vec![CertificateKind::BusinessLicence]
    }));
    r.send(Event::CertificatesFetched(Ok(Fetched {
        found: vec![Certificate {
            kind: CertificateKind::BusinessLicence,
            number: "330106000123".into(),
            issuer: "市场监督管理局".into(),
            address: None,
            micro_park: None,
        }],
        missing: vec![],
    })))
    .send(Event::Continue);
    assert_eq!(r.phase(), &Phase::Form, "one certificate, nothing missing");
    r.send(Event::SubmitForm(form(80.0, ADDR, false))).confirm();
    let company = r.accepted_order().company.expect("company");
    assert_eq!(company.credit_code, "91330106MA27XY123U");
    assert_eq!(company.role, CompanyRole::Agent);

    // Only a new connection may be applied for as a company here.
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::Closure));
    assert!(matches!(
        r.refuse(Event::ApplyAsCompany {
            credit_code: "91330106MA27XY123U".into(),
            role: CompanyRole::Agent,
        }),
        Disallowed::Event { .. }
    ));
}

fn pushed(id: &str) -> PushedOrder {
    PushedOrder {
        id: id.into(),
        business: Business::Transfer,
        source: "不动产登记联动过户".into(),
        summary: "请确认过户".into(),
        account_no: Some("3300012349".into()),
        address: Personal::new("浙江省杭州市拱墅区湖墅南路66号"),
        created_at: now(),
    }
}

#[test]
fn pushed_orders_are_shown_after_identity_and_confirmed_with_a_signature() {
    let mut r = full();
    r.auto_pushed = false;
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::IdCard))
        .send(Event::CardRead(Ok(card())));
    assert_eq!(r.phase(), &Phase::FetchingPushed);
    assert!(r.effects.contains(&Effect::FetchPushed));
    r.send(Event::PushedFetched(vec![pushed("PUSH-1")]));
    assert_eq!(r.phase(), &Phase::PushedOrders);
    assert!(matches!(
        r.refuse(Event::ChoosePushed("PUSH-9".into())),
        Disallowed::Event { .. }
    ));
    r.send(Event::ChoosePushed("PUSH-1".into()));
    assert_eq!(r.phase(), &Phase::Contract);
    r.send(Event::Back);
    assert_eq!(r.phase(), &Phase::PushedOrders);
    r.send(Event::ChoosePushed("PUSH-1".into()))
        .send(Event::SignContract {
            strokes: signature(),
        });
    assert_eq!(r.phase(), &Phase::Submitting);
    let order = r.accepted_order();
    assert_eq!(order.business, Business::Transfer, "the pushed business");
    assert_eq!(order.pushed_from.as_deref(), Some("PUSH-1"));
    assert_eq!(order.account_no.as_deref(), Some("3300012349"));
    assert!(order.contract.is_some());

    // Skipping goes on with the business chosen.
    let mut r = full();
    r.auto_pushed = false;
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::IdCard))
        .send(Event::CardRead(Ok(card())))
        .send(Event::PushedFetched(vec![pushed("PUSH-1")]))
        .send(Event::Continue);
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
}

#[test]
fn eid_scans_verifies_and_refuses_expired_or_forged_codes() {
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::Eid));
    assert_eq!(r.phase(), &Phase::ScanningEid);
    assert!(r.effects.contains(&Effect::StartQrScan));
    r.send(Event::QrScanned("short".into()));
    assert_eq!(r.phase(), &Phase::ScanningEid, "keeps scanning");
    assert_eq!(problem(&r), Some(&Problem::Eid(EidProblem::Unreadable)));
    r.send(Event::QrScanned("SIM-EID2.330106199001010026.1.ab".into()));
    assert_eq!(r.phase(), &Phase::VerifyingEid);
    assert!(r.effects.contains(&Effect::StopQrScan));
    r.send(Event::EidVerified(Err(EidProblem::Expired)));
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert_eq!(problem(&r), Some(&Problem::Eid(EidProblem::Expired)));
    // An identity central vouches for but whose validity has ended.
    r.send(Event::ChooseIdentity(IdentityMethod::Eid))
        .send(Event::QrScanned("SIM-EID2.330106199001010026.1.ab".into()))
        .send(Event::EidVerified(Ok(CardIdentity {
            valid_to: NaiveDate::from_ymd_opt(2020, 1, 1),
            ..card()
        })));
    assert_eq!(problem(&r), Some(&Problem::Eid(EidProblem::Expired)));
    r.send(Event::ChooseIdentity(IdentityMethod::Eid))
        .send(Event::QrScanned("SIM-EID2.330106199001010026.1.ab".into()))
        .send(Event::EidVerified(Ok(card())));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    r.send(Event::CertificateConsent(true))
        .send(fetched(vec![property(ADDR, None)]))
        .send(Event::Continue);
    assert_eq!(
        r.phase(),
        &Phase::Form,
        "the verified e-ID is the subject proof"
    );
    r.send(Event::SubmitForm(form(8.0, ADDR, false))).confirm();
    assert_eq!(r.accepted_order().identity.method, IdentityMethod::Eid);
}

#[test]
fn call_staff_raises_assistance_and_only_a_checked_credential_confirms() {
    use crate::staff::{StaffCredential, StaffVerdict};
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::CallStaff));
    assert_eq!(r.phase(), &Phase::WaitingStaff);
    assert!(r.effects.contains(&Effect::RequestAssistance));
    assert!(r.session().assistance);
    let checked = |verdict, id: &str| Event::StaffChecked {
        verdict,
        name: Personal::new("张伟"),
        id_number: Personal::new(id),
    };
    // The flow never checks a raw credential: the runtime does.
    r.refuse(Event::StaffConfirm {
        auth: StaffAuth::Pin(Personal::new("2468")),
        name: Personal::new("张伟"),
        id_number: Personal::new("330106199001010026"),
    });
    r.send(checked(StaffVerdict::Refused, "330106199001010026"));
    assert_eq!(problem(&r), Some(&Problem::Staff(StaffProblem::AuthFailed)));
    let until = now() + chrono::Duration::minutes(15);
    r.send(checked(
        StaffVerdict::LockedOut { until },
        "330106199001010026",
    ));
    assert_eq!(problem(&r), Some(&Problem::Staff(StaffProblem::LockedOut)));
    assert_eq!(r.phase(), &Phase::WaitingStaff);
    r.send(checked(
        StaffVerdict::Accepted(StaffCredential::Pin),
        "330106199001010027",
    ));
    assert_eq!(
        problem(&r),
        Some(&Problem::Staff(StaffProblem::IdNumberInvalid))
    );
    r.send(checked(
        StaffVerdict::Accepted(StaffCredential::Card),
        "330106199001010026",
    ));
    assert_eq!(r.phase(), &Phase::ConsentCertificates);
    assert!(r.effects.contains(&Effect::EndAssistance));
    assert!(!r.session().assistance);
    assert_eq!(
        r.session().identity_check.as_ref().map(|c| c.method),
        Some(IdentityMethod::CallStaff)
    );

    // Leaving ends the request.
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::CallStaff))
        .send(checked(StaffVerdict::Refused, "330106199001010026"));
    assert_eq!(problem(&r), Some(&Problem::Staff(StaffProblem::AuthFailed)));
    r.send(Event::Back);
    assert_eq!(r.phase(), &Phase::ChooseIdentity);
    assert!(r.effects.contains(&Effect::EndAssistance));
}

fn invoice() -> Invoice {
    Invoice {
        invoice_no: "INV1".into(),
        amount_fen: 12_850,
        issued_at: now(),
        title: "张*".into(),
    }
}

fn payment() -> Payment {
    Payment {
        payment_id: "PAY1".into(),
        account_no: "3300012345".into(),
        amount_fen: 12_850,
        qr_payload: "https://pay.example.invalid/q/PAY1".into(),
        state: PaymentState::Pending,
        invoice: None,
    }
}

fn at_bill(due: i64) -> Run {
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::PayBill));
    assert_eq!(r.phase(), &Phase::AccountEntry, "no identity needed");
    r.send(Event::EnterAccount("3300012345".into()));
    assert!(r.effects.contains(&Effect::LookupAccount {
        account_no: Some("3300012345".into()),
        holder: Holder::Nobody,
    }));
    r.send(Event::AccountFetched(Ok(account("3300012345", None, due))));
    assert_eq!(r.phase(), &Phase::BillDue);
    r
}

#[test]
fn a_bill_is_paid_only_on_centrals_confirmation() {
    let mut r = at_bill(12_850);
    r.send(Event::Pay);
    assert!(r.effects.contains(&Effect::CreatePayment {
        account_no: "3300012345".into(),
        amount_fen: 12_850,
    }));
    r.send(Event::PaymentCreated(Err(PayProblem::Unavailable)));
    assert_eq!(r.phase(), &Phase::BillDue);
    r.send(Event::Pay)
        .send(Event::PaymentCreated(Ok(payment())));
    assert_eq!(r.phase(), &Phase::Paying);
    assert!(r.effects.contains(&Effect::WatchPayment {
        payment_id: "PAY1".into()
    }));
    assert!(
        !r.effects
            .iter()
            .any(|e| matches!(e, Effect::StartTimer { .. })),
        "the payment watch has its own limit; no idle timer"
    );
    // Nothing the citizen does on the kiosk makes it paid.
    for e in [Event::Pay, Event::Continue, Event::Confirm] {
        assert!(matches!(r.refuse(e), Disallowed::Event { .. }));
    }
    r.send(Event::PaymentFinished(PaymentOutcome::Paid(invoice())));
    assert_eq!(r.phase(), &Phase::Paid);
    let printed = r.effects.iter().find_map(|e| match e {
        Effect::PrintInvoice(p) => Some(p.clone()),
        _ => None,
    });
    let printed = printed.expect("the invoice prints");
    assert_eq!(printed.state, PaymentState::Paid);
    assert_eq!(printed.invoice, Some(invoice()));
    r.send(Event::ReceiptPrinted(Ok(())));
    assert_eq!(r.session().invoice_printed, Some(true));
    r.send(Event::Continue).send(Event::Rate(Some(4)));
    assert!(r.effects.contains(&Effect::SubmitRating {
        subject: RatingSubject::Service("PAY1".into()),
        stars: 4,
        comment: None,
    }));
}

#[test]
fn a_payment_not_confirmed_in_time_is_not_paid() {
    let mut r = at_bill(12_850);
    r.send(Event::Pay)
        .send(Event::PaymentCreated(Ok(payment())))
        .send(Event::PaymentFinished(PaymentOutcome::NotPaid));
    assert_eq!(r.phase(), &Phase::PaymentFailed);
    assert_eq!(problem(&r), Some(&Problem::Pay(PayProblem::NotPaid)));
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::PrintInvoice(_))));
    assert_ne!(
        r.session().payment.as_ref().map(|p| p.state),
        Some(PaymentState::Paid)
    );
    // A rating then is about nothing paid: nothing is queued.
    r.send(Event::Continue).send(Event::Rate(Some(1)));
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::SubmitRating { .. })));

    // Leaving while the code is shown stops the watch.
    let mut r = at_bill(12_850);
    r.send(Event::Pay)
        .send(Event::PaymentCreated(Ok(payment())))
        .send(Event::Cancel);
    assert!(r.effects.contains(&Effect::StopPaymentWatch));
    assert_eq!(r.phase(), &Phase::Attract);
}

#[test]
fn nothing_due_nothing_to_pay_and_identity_finds_the_account() {
    let mut r = at_bill(0);
    r.send(Event::Pay);
    assert_eq!(problem(&r), Some(&Problem::Pay(PayProblem::NothingDue)));
    assert!(!r
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CreatePayment { .. })));

    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::PayBill))
        .send(Event::UseIdentity)
        .send(Event::ChooseIdentity(IdentityMethod::IdCard))
        .send(Event::CardRead(Ok(card())));
    assert_eq!(r.phase(), &Phase::FetchingAccount);
    assert!(r.effects.contains(&Effect::LookupAccount {
        account_no: None,
        holder: Holder::Applicant,
    }));
    r.send(Event::AccountFetched(Ok(account(
        "3300012345",
        Some(true),
        500,
    ))));
    assert_eq!(r.phase(), &Phase::BillDue);
    assert!(matches!(
        r.refuse(Event::UseIdentity),
        Disallowed::Event { .. }
    ));
}

#[test]
fn progress_query_by_qr_or_number() {
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::ProgressQuery));
    assert_eq!(r.phase(), &Phase::QueryEntry);
    assert!(r.effects.contains(&Effect::StartQrScan));
    r.send(Event::QrScanned("这不是回执".into()));
    assert_eq!(problem(&r), Some(&Problem::Query(QueryProblem::Unreadable)));
    r.send(Event::QrScanned(
        "kiosk://progress/K001-20261123-0001".into(),
    ));
    assert_eq!(r.phase(), &Phase::FetchingProgress);
    assert!(r.effects.contains(&Effect::FetchProgress {
        reference: "K001-20261123-0001".into()
    }));
    r.send(Event::ProgressFetched(Err(QueryProblem::NotFound)));
    assert_eq!(r.phase(), &Phase::QueryEntry);
    assert!(r.effects.contains(&Effect::StartQrScan), "scanning again");
    r.send(Event::EnterOrderNo(" 2026112300001 ".into()))
        .send(Event::ProgressFetched(Ok(OrderProgress {
            order_no: "2026112300001".into(),
            business: Business::NewConnection,
            accepted_at: now(),
            steps: vec![],
        })));
    assert_eq!(r.phase(), &Phase::Progress);
    r.send(Event::Continue).send(Event::RateWith {
        stars: 5,
        phrases: vec![
            RatingPhrase::ClearGuidance,
            RatingPhrase::Quick,
            RatingPhrase::ClearGuidance,
        ],
    });
    assert!(r.effects.contains(&Effect::SubmitRating {
        subject: RatingSubject::Service("2026112300001".into()),
        stars: 5,
        comment: Some("clear-guidance,quick".into()),
    }));
}

#[test]
fn references_and_payloads_are_checked_before_anything_is_asked() {
    assert_eq!(
        parse_progress_reference("kiosk://progress/K1-20261123-0001?x=1").as_deref(),
        Some("K1-20261123-0001")
    );
    assert_eq!(parse_progress_reference("12"), None);
    assert_eq!(parse_progress_reference("a b c d e"), None);
    assert_eq!(parse_progress_reference(""), None);
    assert!(plausible_eid_payload("SIM-EID2.x.1.ab"));
    assert!(!plausible_eid_payload("with space inside"));
    assert!(!plausible_eid_payload(&"A".repeat(600)));
    assert_ne!(staff_secret_sha256("2468"), staff_secret_sha256("2469"));
    assert_eq!(staff_secret_sha256(" 2468 "), staff_secret_sha256("2468"));
}

#[test]
fn new_phases_refuse_what_they_do_not_expect() {
    let foreign = || {
        vec![
            Event::Start,
            Event::Confirm,
            Event::Pay,
            Event::UseIdentity,
            Event::CertificateConsent(true),
            Event::OldHolderPresent(true),
            Event::ChoosePushed("X".into()),
            Event::SignContract {
                strokes: signature(),
            },
            Event::EnterAccount("3300012345".into()),
            Event::EnterOrderNo("2026112300001".into()),
            Event::PaymentFinished(PaymentOutcome::Paid(invoice())),
            Event::AccountFetched(Ok(account("1234567", Some(true), 0))),
        ]
    };
    let mut phases: Vec<Run> = Vec::new();
    phases.push(with_card(Business::CapacityIncrease)); // account-entry
    let mut r = with_card(Business::Transfer);
    r.send(Event::EnterAccount("3300012348".into()));
    phases.push(r); // fetching-account
    let mut r = with_card(Business::Transfer);
    r.send(Event::EnterAccount("3300012348".into()))
        .send(Event::AccountFetched(Ok(account("3300012348", None, 0))));
    phases.push(r); // transfer-parties
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::CallStaff));
    phases.push(r); // waiting-staff
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::NewConnection))
        .send(Event::ChooseIdentity(IdentityMethod::Eid));
    phases.push(r); // scanning-eid
    let mut r = at_bill(100);
    r.send(Event::Pay)
        .send(Event::PaymentCreated(Ok(payment())));
    phases.push(r); // paying
    let mut r = full();
    r.send(Event::Start)
        .send(Event::ChooseBusiness(Business::ProgressQuery));
    phases.push(r); // query-entry
    for r in &phases {
        for e in foreign() {
            let allowed = matches!(
                (r.phase(), &e),
                (Phase::AccountEntry, Event::EnterAccount(_))
                    | (Phase::FetchingAccount, Event::AccountFetched(_))
                    | (Phase::TransferParties, Event::OldHolderPresent(_))
                    | (Phase::QueryEntry, Event::EnterOrderNo(_))
                    | (Phase::Paying, Event::PaymentFinished(_))
            );
            if allowed {
                continue;
            }
            match r.flow.step(r.state.clone(), e.clone(), now()) {
                Err(Disallowed::Event { phase, .. }) => assert_eq!(phase, r.phase().name()),
                other => panic!("{e:?} on {:?}: {other:?}", r.phase()),
            }
        }
    }
}
