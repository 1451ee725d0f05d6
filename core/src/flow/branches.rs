//! The business branches beyond the new connection: account businesses
//! (capacity increase, name change, transfer, closure), company customers,
//! the e-ID and "call staff" identity methods, pushed orders, the supply
//! contract, bill payment and the progress query.
//!
//! Same rules as the rest of the flow: pure, every allowed `(phase, event)`
//! pair listed, anything else handed back to [`Flow::step`] to refuse.

use super::session::{
    AccountProblem, CardIdentity, EidProblem, PayProblem, Problem, QueryProblem, Session,
    StaffProblem,
};
use super::{
    Disallowed, Effect, Event, Flow, Holder, PaymentOutcome, Phase, RatingSubject, Transition,
};
use crate::central::ContractText;
use crate::model::{
    parse_credit_code, Business, CertificateKind, CompanyApplicant, ContractSignature,
    IdentityCheck, IdentityMethod,
};

/// Fixed phrases a citizen may add to a rating (no free text: nothing
/// personal can be typed into it, and an elderly citizen needs no keyboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatingPhrase {
    /// 办理快捷.
    Quick,
    /// 指引清楚.
    ClearGuidance,
    /// 无需带材料.
    NoPaperwork,
    /// 等待太久.
    TooSlow,
    /// 操作复杂.
    HardToUse,
    /// 设备故障.
    DeviceProblem,
}

impl RatingPhrase {
    /// Every phrase, in screen order.
    pub const ALL: [RatingPhrase; 6] = [
        RatingPhrase::Quick,
        RatingPhrase::ClearGuidance,
        RatingPhrase::NoPaperwork,
        RatingPhrase::TooSlow,
        RatingPhrase::HardToUse,
        RatingPhrase::DeviceProblem,
    ];

    /// Stable code (what central receives).
    pub fn code(self) -> &'static str {
        match self {
            RatingPhrase::Quick => "quick",
            RatingPhrase::ClearGuidance => "clear-guidance",
            RatingPhrase::NoPaperwork => "no-paperwork",
            RatingPhrase::TooSlow => "too-slow",
            RatingPhrase::HardToUse => "hard-to-use",
            RatingPhrase::DeviceProblem => "device-problem",
        }
    }

    /// The phrase in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            RatingPhrase::Quick => "办理快捷",
            RatingPhrase::ClearGuidance => "指引清楚",
            RatingPhrase::NoPaperwork => "无需带材料",
            RatingPhrase::TooSlow => "等待太久",
            RatingPhrase::HardToUse => "操作复杂",
            RatingPhrase::DeviceProblem => "设备故障",
        }
    }
}

/// The supply contract bundled with the kiosk, used (and its version
/// recorded) until the central catalog provides its own.
pub fn bundled_contract() -> ContractText {
    ContractText {
        version: "supply-contract-bundled-2026.1".into(),
        title: "低压供用电合同（居民/非居民）".into(),
        pages: vec![
            "第一条 供电方按国家规定的电能质量标准向用电方供电，用电地址、用电容量以本次受理登记为准。".into(),
            "第二条 用电方按期交纳电费；电价按政府主管部门批准的电价执行，如遇调整，按调整后的电价执行。".into(),
            "第三条 双方的其他权利义务按《中华人民共和国电力法》《电力供应与使用条例》执行。本合同自签署之日起生效。".into(),
        ],
        url: "https://95598.example.invalid/contract".into(),
    }
}

/// Whether a business ends with signing the supply contract.
pub fn needs_contract(b: Business) -> bool {
    matches!(
        b,
        Business::NewConnection
            | Business::CapacityIncrease
            | Business::NameChange
            | Business::Transfer
    )
}

/// Whether the capacity rule (and the capacity notice) applies.
pub fn capacity_rule_applies(b: Business) -> bool {
    matches!(b, Business::NewConnection | Business::CapacityIncrease)
}

/// Whether a scanned QR payload can be an e-ID code at all (printable
/// ASCII, 8–512 bytes); central decides whether it is genuine.
pub fn plausible_eid_payload(payload: &str) -> bool {
    (8..=512).contains(&payload.len()) && payload.bytes().all(|b| b.is_ascii_graphic())
}

/// The order reference in what was typed or scanned for a progress query:
/// a receipt's QR code ends with the order id after the last `/`, a typed
/// number is taken as is. Letters, digits and `-` only, 4–40 of them.
pub fn parse_progress_reference(input: &str) -> Option<String> {
    let input = input.trim();
    let tail = input.rsplit('/').next().unwrap_or(input);
    let tail = tail.split(['?', '#']).next().unwrap_or(tail);
    let ok = (4..=40).contains(&tail.len())
        && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| tail.to_string())
}

/// An account number as typed: digits only, 6–20 of them (spaces ignored).
pub fn parse_account_no(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    ((6..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// Queues a rating of whatever this session did (an order, a payment, a
/// queried order); a session that did nothing rateable rates nothing.
pub(super) fn rate(
    t: &mut Transition<'_>,
    s: &Session,
    stars: u8,
    phrases: &[RatingPhrase],
) -> Result<(), Disallowed> {
    if !(1..=5).contains(&stars) {
        return Err(Disallowed::RatingOutOfRange(stars));
    }
    let subject = if let Some(o) = &s.order {
        Some(RatingSubject::Order(o.local_id.clone()))
    } else if let Some(p) = s
        .payment
        .as_ref()
        .filter(|p| p.state == crate::central::PaymentState::Paid)
    {
        Some(RatingSubject::Service(p.payment_id.clone()))
    } else {
        s.progress
            .as_ref()
            .map(|p| RatingSubject::Service(p.order_no.clone()))
    };
    let mut codes: Vec<&str> = Vec::new();
    for p in phrases {
        if !codes.contains(&p.code()) {
            codes.push(p.code());
        }
    }
    if let Some(subject) = subject {
        t.effects.push(Effect::SubmitRating {
            subject,
            stars,
            comment: (!codes.is_empty()).then(|| codes.join(",")),
        });
    }
    Ok(())
}

impl Flow {
    /// The certificates this session's business needs: a company needs its
    /// business licence only (一证办电); residents as [`Flow::needed_kinds`].
    pub(super) fn kinds_for(s: &Session) -> Vec<CertificateKind> {
        if s.company.is_some() {
            vec![CertificateKind::BusinessLicence]
        } else {
            Self::needed_kinds(s.business_or_default())
        }
    }

    /// Identity is established (card, face, e-ID or staff): check for
    /// pushed orders first, then the business goes on.
    pub(super) fn identity_established(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        who: CardIdentity,
        method: IdentityMethod,
    ) -> Phase {
        s.identity_check = Some(IdentityCheck {
            method,
            number_valid: who.number_valid,
            verified_at: t.now,
        });
        s.applicant = Some(who);
        t.effects.push(Effect::FetchPushed);
        Phase::FetchingPushed
    }

    /// Where a business starts once identity is known (and pushed orders
    /// were seen or skipped).
    fn business_start(&self, t: &mut Transition<'_>, s: &mut Session) -> Phase {
        match s.business_or_default() {
            Business::NewConnection => Phase::ConsentCertificates,
            Business::CapacityIncrease
            | Business::NameChange
            | Business::Transfer
            | Business::Closure => Phase::AccountEntry,
            Business::PayBill => match &s.account {
                Some(_) => Phase::BillDue,
                None => {
                    t.effects.push(Effect::LookupAccount {
                        account_no: None,
                        holder: Holder::Applicant,
                    });
                    Phase::FetchingAccount
                }
            },
            Business::ProgressQuery => {
                t.effects.push(Effect::StartQrScan);
                Phase::QueryEntry
            }
        }
    }

    /// The branches' transitions: `Ok(Ok(next))` when handled, `Ok(Err(event))`
    /// when this `(phase, event)` pair is not allowed here either.
    pub(super) fn branch(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        phase: &Phase,
        event: Event,
    ) -> Result<Result<Phase, Event>, Disallowed> {
        let next = match (phase, event) {
            // Company customers (new connection only).
            (Phase::ChooseIdentity, Event::ApplyAsCompany { credit_code, role })
                if s.business_or_default() == Business::NewConnection =>
            {
                match parse_credit_code(&credit_code) {
                    Ok(credit_code) => s.company = Some(CompanyApplicant { credit_code, role }),
                    Err(e) => {
                        s.company = None;
                        s.problem = Some(Problem::Company(e));
                    }
                }
                Phase::ChooseIdentity
            }

            // Electronic ID.
            (Phase::ScanningEid, Event::QrScanned(payload)) => {
                if plausible_eid_payload(&payload) {
                    t.effects.push(Effect::StopQrScan);
                    t.effects.push(Effect::VerifyEid { payload });
                    Phase::VerifyingEid
                } else {
                    // Keep scanning: the camera may have caught another code.
                    s.problem = Some(Problem::Eid(EidProblem::Unreadable));
                    Phase::ScanningEid
                }
            }
            (Phase::ScanningEid, Event::Back) => {
                t.effects.push(Effect::StopQrScan);
                Phase::ChooseIdentity
            }
            (Phase::VerifyingEid, Event::EidVerified(Ok(who))) => {
                if who.expired_on(self.config.today(t.now)) {
                    s.problem = Some(Problem::Eid(EidProblem::Expired));
                    Phase::ChooseIdentity
                } else {
                    self.identity_established(t, s, who, IdentityMethod::Eid)
                }
            }
            (Phase::VerifyingEid, Event::EidVerified(Err(p))) => {
                s.problem = Some(Problem::Eid(p));
                Phase::ChooseIdentity
            }

            // Call staff.
            (
                Phase::WaitingStaff,
                Event::StaffChecked {
                    verdict,
                    name,
                    id_number,
                },
            ) => self.staff_confirm(t, s, verdict, name, &id_number),
            (Phase::WaitingStaff, Event::Back) => {
                s.assistance = false;
                t.effects.push(Effect::EndAssistance);
                Phase::ChooseIdentity
            }

            // Pushed orders.
            (Phase::FetchingPushed, Event::PushedFetched(orders)) => {
                s.pushed = orders;
                if s.pushed.is_empty() {
                    self.business_start(t, s)
                } else {
                    Phase::PushedOrders
                }
            }
            (Phase::PushedOrders, Event::ChoosePushed(id)) => {
                let Some(order) = s.pushed.iter().find(|o| o.id == id).cloned() else {
                    return Ok(Err(Event::ChoosePushed(id)));
                };
                s.pushed_choice = Some(order);
                Phase::Contract
            }
            (Phase::PushedOrders, Event::Continue) => self.business_start(t, s),

            // Contract signing (a business's supply contract, or a pushed order).
            (Phase::Contract, Event::SignContract { strokes }) => {
                let hash = super::signature_hash(&strokes).ok_or(Disallowed::EmptySignature)?;
                s.contract = Some(ContractSignature {
                    version: self.config.contract.version.clone(),
                    signature_sha256: hash,
                    signed_at: t.now,
                });
                let order = self.build_order(s, t.now);
                t.effects.push(Effect::AcceptOrder(Box::new(order)));
                Phase::Submitting
            }
            (Phase::Contract, Event::Back) => {
                if s.pushed_choice.take().is_some() {
                    Phase::PushedOrders
                } else {
                    Phase::Review
                }
            }

            // Accounts.
            (Phase::AccountEntry, Event::EnterAccount(typed)) => match parse_account_no(&typed) {
                None => {
                    s.problem = Some(Problem::Account(AccountProblem::Malformed));
                    Phase::AccountEntry
                }
                Some(no) => {
                    let holder = if s.applicant.is_some() {
                        Holder::Applicant
                    } else {
                        Holder::Nobody
                    };
                    t.effects.push(Effect::LookupAccount {
                        account_no: Some(no),
                        holder,
                    });
                    Phase::FetchingAccount
                }
            },
            (Phase::AccountEntry, Event::UseIdentity)
                if s.business_or_default() == Business::PayBill && s.applicant.is_none() =>
            {
                Phase::ChooseIdentity
            }
            (Phase::AccountEntry, Event::Back) if s.applicant.is_none() => {
                s.business = None;
                Phase::ChooseBusiness
            }
            (Phase::FetchingAccount, Event::AccountFetched(result)) => {
                self.account_fetched(s, result)
            }

            // Transfer parties.
            (Phase::TransferParties, Event::OldHolderPresent(true)) => {
                s.card_attempts = 0;
                t.effects.push(Effect::ReadCard);
                Phase::ReadingSecondCard
            }
            (Phase::TransferParties, Event::OldHolderPresent(false)) => {
                s.old_holder_present = Some(false);
                s.old_holder = None;
                s.old_holder_verified = false;
                Phase::ConsentCertificates
            }
            (Phase::ReadingSecondCard, Event::CardRead(result)) => self.second_card(t, s, result),
            (Phase::ReadingSecondCard, Event::Back) => {
                t.effects.push(Effect::StopCardRead);
                Phase::TransferParties
            }

            // Bill payment.
            (Phase::BillDue, Event::Pay) => match &s.account {
                Some(a) if a.amount_due_fen > 0 => {
                    t.effects.push(Effect::CreatePayment {
                        account_no: a.account_no.clone(),
                        amount_fen: a.amount_due_fen,
                    });
                    Phase::CreatingPayment
                }
                _ => {
                    s.problem = Some(Problem::Pay(PayProblem::NothingDue));
                    Phase::BillDue
                }
            },
            (Phase::BillDue, Event::Continue) => Phase::Rating,
            (Phase::CreatingPayment, Event::PaymentCreated(Ok(payment))) => {
                t.effects.push(Effect::WatchPayment {
                    payment_id: payment.payment_id.clone(),
                });
                s.payment = Some(payment);
                Phase::Paying
            }
            (Phase::CreatingPayment, Event::PaymentCreated(Err(p))) => {
                s.problem = Some(Problem::Pay(p));
                Phase::BillDue
            }
            (Phase::Paying, Event::PaymentFinished(PaymentOutcome::Paid(invoice))) => {
                let Some(mut payment) = s.payment.clone() else {
                    return Ok(Err(Event::PaymentFinished(PaymentOutcome::Paid(invoice))));
                };
                payment.state = crate::central::PaymentState::Paid;
                payment.invoice = Some(invoice);
                if let Some(a) = s.account.as_mut() {
                    a.amount_due_fen = (a.amount_due_fen - payment.amount_fen).max(0);
                }
                t.effects
                    .push(Effect::PrintInvoice(Box::new(payment.clone())));
                s.payment = Some(payment);
                s.invoice_printed = None;
                Phase::Paid
            }
            (Phase::Paying, Event::PaymentFinished(PaymentOutcome::NotPaid)) => {
                if let Some(p) = s.payment.as_mut() {
                    p.state = crate::central::PaymentState::Expired;
                }
                s.problem = Some(Problem::Pay(PayProblem::NotPaid));
                Phase::PaymentFailed
            }
            (Phase::Paying, Event::Back) => {
                // The code stays valid at central for a while; the kiosk
                // stops watching and never counts it as paid.
                t.effects.push(Effect::StopPaymentWatch);
                s.payment = None;
                Phase::BillDue
            }
            (Phase::Paid, Event::ReceiptPrinted(result)) => {
                s.invoice_printed = Some(result.is_ok());
                if let Err(reason) = result {
                    s.problem = Some(Problem::Printer(reason));
                }
                Phase::Paid
            }
            (Phase::Paid, Event::Continue) => Phase::Rating,
            (Phase::PaymentFailed, Event::Back) => {
                s.payment = None;
                Phase::BillDue
            }
            (Phase::PaymentFailed, Event::Continue) => Phase::Rating,

            // Progress query.
            (Phase::QueryEntry, Event::EnterOrderNo(typed) | Event::QrScanned(typed)) => {
                match parse_progress_reference(&typed) {
                    Some(reference) => {
                        t.effects.push(Effect::StopQrScan);
                        t.effects.push(Effect::FetchProgress { reference });
                        Phase::FetchingProgress
                    }
                    None => {
                        s.problem = Some(Problem::Query(QueryProblem::Unreadable));
                        Phase::QueryEntry
                    }
                }
            }
            (Phase::QueryEntry, Event::Back) => {
                t.effects.push(Effect::StopQrScan);
                s.business = None;
                Phase::ChooseBusiness
            }
            (Phase::FetchingProgress, Event::ProgressFetched(Ok(progress))) => {
                s.progress = Some(progress);
                Phase::Progress
            }
            (Phase::FetchingProgress, Event::ProgressFetched(Err(p))) => {
                s.problem = Some(Problem::Query(p));
                t.effects.push(Effect::StartQrScan);
                Phase::QueryEntry
            }
            (Phase::Progress, Event::Continue) => Phase::Rating,
            (Phase::Progress, Event::Back) => {
                s.progress = None;
                t.effects.push(Effect::StartQrScan);
                Phase::QueryEntry
            }

            (_, event) => return Ok(Err(event)),
        };
        Ok(Ok(next))
    }

    fn staff_confirm(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        verdict: crate::staff::StaffVerdict,
        name: kiosk_drivers::pii::Personal,
        typed: &kiosk_drivers::pii::Personal,
    ) -> Phase {
        match verdict {
            crate::staff::StaffVerdict::Accepted(_) => {}
            crate::staff::StaffVerdict::Refused => {
                s.problem = Some(Problem::Staff(StaffProblem::AuthFailed));
                return Phase::WaitingStaff;
            }
            crate::staff::StaffVerdict::LockedOut { .. } => {
                s.problem = Some(Problem::Staff(StaffProblem::LockedOut));
                return Phase::WaitingStaff;
            }
        }
        let name = kiosk_drivers::pii::Personal::new(name.expose().trim());
        if name.is_empty() {
            s.problem = Some(Problem::Staff(StaffProblem::NameMissing));
            return Phase::WaitingStaff;
        }
        let Ok(id_number) = kiosk_drivers::pii::IdNumber::parse(typed.expose()) else {
            s.problem = Some(Problem::Staff(StaffProblem::IdNumberInvalid));
            return Phase::WaitingStaff;
        };
        s.assistance = false;
        t.effects.push(Effect::EndAssistance);
        let who = CardIdentity {
            name,
            id_number,
            number_valid: true,
            valid_to: None,
            address: None,
        };
        self.identity_established(t, s, who, IdentityMethod::CallStaff)
    }

    fn account_fetched(
        &self,
        s: &mut Session,
        result: Result<crate::central::Account, AccountProblem>,
    ) -> Phase {
        let checking_old_holder = s.old_holder.is_some() && !s.old_holder_verified;
        let account = match result {
            Ok(a) => a,
            Err(p) => {
                s.problem = Some(Problem::Account(p));
                if checking_old_holder {
                    s.old_holder = None;
                    return Phase::TransferParties;
                }
                return Phase::AccountEntry;
            }
        };
        if checking_old_holder {
            if account.holder_matches == Some(true) {
                s.old_holder_verified = true;
                s.old_holder_present = Some(true);
                return Phase::ConsentCertificates;
            }
            s.old_holder = None;
            s.problem = Some(Problem::Account(AccountProblem::OldHolderMismatch));
            return Phase::TransferParties;
        }
        let business = s.business_or_default();
        let must_hold = matches!(business, Business::CapacityIncrease | Business::Closure)
            || (business == Business::PayBill && s.applicant.is_some());
        if must_hold && account.holder_matches != Some(true) {
            s.problem = Some(Problem::Account(AccountProblem::NotHolder));
            return Phase::AccountEntry;
        }
        s.account = Some(account);
        match business {
            Business::Transfer => Phase::TransferParties,
            Business::PayBill => Phase::BillDue,
            _ => Phase::ConsentCertificates,
        }
    }

    fn second_card(
        &self,
        t: &mut Transition<'_>,
        s: &mut Session,
        result: Result<CardIdentity, super::CardProblem>,
    ) -> Phase {
        let card = match result {
            Ok(card) => card,
            Err(problem) => {
                s.card_attempts = s.card_attempts.saturating_add(1);
                let retry = problem.retryable() && s.card_attempts < self.config.card_attempts;
                s.problem = Some(Problem::Card(problem));
                if retry {
                    t.effects.push(Effect::ReadCard);
                    return Phase::ReadingSecondCard;
                }
                return Phase::TransferParties;
            }
        };
        if !card.number_valid {
            s.problem = Some(Problem::Card(super::CardProblem::NumberInvalid));
            return Phase::TransferParties;
        }
        if card.expired_on(self.config.today(t.now)) {
            s.problem = Some(Problem::Card(super::CardProblem::Expired));
            return Phase::TransferParties;
        }
        let same_person = s
            .applicant
            .as_ref()
            .is_some_and(|a| a.id_number.expose() == card.id_number.expose());
        if same_person {
            // The new holder's own card again: not the old holder.
            s.problem = Some(Problem::Account(AccountProblem::OldHolderMismatch));
            return Phase::TransferParties;
        }
        let account_no = s.account.as_ref().map(|a| a.account_no.clone());
        s.old_holder = Some(card);
        s.old_holder_verified = false;
        t.effects.push(Effect::LookupAccount {
            account_no,
            holder: Holder::OldHolder,
        });
        Phase::FetchingAccount
    }
}
