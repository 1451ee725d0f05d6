//! The touchscreen driven like a person would: Slint's testing backend finds
//! each control by its accessible label (in Chinese, the default language),
//! taps it, and the test checks what the screen shows next. Underneath is
//! the real flow and the real controller; the devices' and central's
//! answers (card read, certificates fetched, account found, payment code,
//! order stored, receipt printed) are given as the runtime would give them.
//!
//! Shared by the GUI test binaries (one test per binary: Slint's testing
//! backend can be set up once per process).

#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use chrono::Utc;
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use kiosk::central::{Account, OrderProgress, OrderStep, Payment, PaymentState, StepState};
use kiosk::flow::{CardIdentity, Effect, Event, Fetched, Flow, FlowConfig, State};
use kiosk::gui::controller::{Controller, Output};
use kiosk::gui::view::{build, ViewContext};
use kiosk::model::{Business, Certificate, CertificateKind};
use kiosk_drivers::pii::{IdNumber, Personal};
use kiosk_ui::generated::Kiosk;
use kiosk_ui::slint::ComponentHandle;
use kiosk_ui::{Action, Screens};

pub struct Rig {
    pub screens: Screens,
    pub actions: Rc<RefCell<Vec<Action>>>,
    pub flow: Flow,
    pub state: State,
    pub controller: Controller,
    pub ctx: ViewContext,
    /// Every effect the flow asked for, in order.
    pub effects: Vec<Effect>,
}

impl Rig {
    /// The window on Slint's testing backend, the real flow with `config`
    /// and the real controller. Once per test process.
    pub fn new(config: FlowConfig) -> Self {
        i_slint_backend_testing::init_no_event_loop();
        let screens = Screens::new().expect("window");
        let actions = Rc::new(RefCell::new(Vec::new()));
        {
            let actions = actions.clone();
            screens.on_action(move |a| actions.borrow_mut().push(a));
        }
        let rig = Rig {
            screens,
            actions,
            flow: Flow::new(config.clone()),
            state: State::new(),
            controller: Controller::new("", true),
            ctx: ViewContext {
                flow: config,
                progress_url: "kiosk://progress/".into(),
            },
            effects: Vec::new(),
        };
        rig.show();
        rig
    }

    /// Types `text` key by key on the on-screen keypad or keyboard.
    pub fn type_keys(&mut self, text: &str) {
        for c in text.chars() {
            self.tap(&c.to_string());
        }
    }

    pub fn show(&self) {
        // 2026-11-23 in the hall (UTC+8).
        let today = chrono::DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
            .expect("time")
            .to_utc();
        self.screens.show(&build(
            &self.state,
            self.controller.local(),
            &self.ctx,
            today,
        ));
    }

    pub fn step(&mut self, event: Event) {
        let (next, effects) = self
            .flow
            .step(self.state.clone(), event, Utc::now())
            .expect("the screen sent an event the flow allows");
        self.state = next;
        self.controller.observe(&self.state);
        // What the runtime's devices would answer.
        self.effects.extend(effects.iter().cloned());
        for fx in effects {
            let answer = match fx {
                Effect::ReadCard => Some(Event::CardRead(Ok(CardIdentity {
                    name: Personal::new("张伟"),
                    id_number: IdNumber::parse("330106199001010026").expect("valid"),
                    number_valid: true,
                    valid_to: None,
                    address: Some(Personal::new("浙江省杭州市西湖区文三路100号")),
                }))),
                Effect::FetchCertificates { .. } => Some(Event::CertificatesFetched(Ok(Fetched {
                    found: vec![Certificate {
                        kind: CertificateKind::SubjectProof,
                        number: "SP-1".into(),
                        issuer: "公安".into(),
                        address: None,
                        micro_park: None,
                    }],
                    missing: vec![CertificateKind::PropertyProof],
                }))),
                Effect::AcceptOrder(order) => Some(Event::OrderStored {
                    local_id: order.local_id.clone(),
                    central_no: Some("GD2026112300042".into()),
                }),
                Effect::PrintReceipt { .. } => Some(Event::ReceiptPrinted(Ok(()))),
                // Central holds no order started elsewhere for this citizen.
                Effect::FetchPushed => Some(Event::PushedFetched(Vec::new())),
                Effect::LookupAccount { account_no, .. } => {
                    Some(Event::AccountFetched(Ok(Account {
                        account_no: account_no.unwrap_or_else(|| "3300123456".into()),
                        holder_masked: "张*".into(),
                        address: Personal::new("浙江省杭州市西湖区文三路100号"),
                        amount_due_fen: 12_345,
                        contracted_kw: 8.0,
                        holder_matches: None,
                    })))
                }
                Effect::CreatePayment {
                    account_no,
                    amount_fen,
                } => Some(Event::PaymentCreated(Ok(Payment {
                    payment_id: "PAY-1".into(),
                    account_no,
                    amount_fen,
                    qr_payload: "https://pay.example.invalid/PAY-1".into(),
                    state: PaymentState::Pending,
                    invoice: None,
                }))),
                Effect::PrintInvoice(_) => Some(Event::ReceiptPrinted(Ok(()))),
                Effect::FetchProgress { reference } => {
                    Some(Event::ProgressFetched(Ok(OrderProgress {
                        order_no: reference,
                        business: Business::NewConnection,
                        accepted_at: Utc::now(),
                        steps: vec![
                            OrderStep {
                                code: "accepted".into(),
                                title: "受理".into(),
                                state: StepState::Done,
                                started_at: Some(Utc::now()),
                                finished_at: Some(Utc::now()),
                            },
                            OrderStep {
                                code: "survey".into(),
                                title: "现场勘查".into(),
                                state: StepState::InProgress,
                                started_at: Some(Utc::now()),
                                finished_at: None,
                            },
                            OrderStep {
                                code: "connect".into(),
                                title: "装表接电".into(),
                                state: StepState::Pending,
                                started_at: None,
                                finished_at: None,
                            },
                        ],
                    })))
                }
                _ => None,
            };
            if let Some(e) = answer {
                self.step(e);
            }
        }
    }

    /// Taps the control labelled `label` and carries out what it did.
    pub fn tap(&mut self, label: &str) {
        // Controls only: a button's own text carries the same label.
        let found: Vec<_> = ElementHandle::find_by_accessible_label(self.screens.window(), label)
            .filter(|e| {
                matches!(
                    e.accessible_role(),
                    Some(AccessibleRole::Button | AccessibleRole::TextInput)
                )
            })
            .collect();
        assert!(
            !found.is_empty(),
            "no control labelled {label:?} on screen `{}`",
            self.phase()
        );
        found[0].invoke_accessible_default_action();
        let actions: Vec<_> = self.actions.borrow_mut().drain(..).collect();
        assert!(!actions.is_empty(), "tapping {label:?} did nothing");
        for a in actions {
            let state = self.state.clone();
            for out in self.controller.act(a, &state) {
                if let Output::Event(e) = out {
                    self.step(e);
                }
            }
        }
        self.show();
    }

    /// Draws a stroke on the signature pad: the pad's points go through the
    /// controller, as the pad's touch area sends them.
    pub fn sign(&mut self) {
        for (i, (x, y)) in [(20.0, 30.0), (60.0, 80.0), (120.0, 40.0)]
            .iter()
            .enumerate()
        {
            let state = self.state.clone();
            self.controller.act(
                Action::Stroke {
                    x: *x,
                    y: *y,
                    down: i == 0,
                },
                &state,
            );
        }
        self.show();
    }

    /// Whether the control labelled `label` is ticked (a toggle chosen).
    pub fn is_checked(&self, label: &str) -> bool {
        ElementHandle::find_by_accessible_label(self.screens.window(), label)
            .any(|e| e.accessible_checked() == Some(true))
    }

    pub fn phase(&self) -> String {
        self.screens
            .window()
            .global::<Kiosk>()
            .get_phase()
            .to_string()
    }

    pub fn title(&self) -> String {
        self.screens
            .window()
            .global::<Kiosk>()
            .get_title()
            .to_string()
    }

    /// Whether some element's accessible label (a control, or a text's own
    /// words) contains `text`.
    pub fn shows(&self, text: &str) -> bool {
        self.screens
            .window()
            .root_element()
            .query_descendants()
            .match_predicate({
                let text = text.to_string();
                move |e| e.accessible_label().is_some_and(|l| l.contains(&text))
            })
            .find_first()
            .is_some()
    }

    pub fn expect(&self, phase: &str, title: &str, shows: &[&str]) {
        assert_eq!(self.phase(), phase);
        assert_eq!(self.title(), title, "title on {phase}");
        for s in shows {
            assert!(self.shows(s), "screen `{phase}` does not show {s:?}");
        }
    }
}
