//! The touchscreen driven like a person would: Slint's testing backend finds
//! each control by its accessible label (in Chinese, the default language),
//! taps it, and the test checks what the screen shows next. Underneath is
//! the real flow and the real controller; the devices' answers (card read,
//! certificates fetched, order stored, receipt printed) are given as the
//! runtime would give them.
//!
//! One test per binary: Slint's testing backend can be set up once per process.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::Utc;
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use kiosk::flow::{CardIdentity, Effect, Event, Fetched, Flow, FlowConfig, State};
use kiosk::gui::controller::{Controller, Output};
use kiosk::gui::view::{build, ViewContext};
use kiosk::model::{Certificate, CertificateKind};
use kiosk_drivers::pii::{IdNumber, Personal};
use kiosk_ui::generated::Kiosk;
use kiosk_ui::slint::ComponentHandle;
use kiosk_ui::{Action, Screens};

struct Rig {
    screens: Screens,
    actions: Rc<RefCell<Vec<Action>>>,
    flow: Flow,
    state: State,
    controller: Controller,
    ctx: ViewContext,
}

impl Rig {
    fn show(&self) {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        self.screens.show(&build(
            &self.state,
            self.controller.local(),
            &self.ctx,
            today,
        ));
    }

    fn step(&mut self, event: Event) {
        let (next, effects) = self
            .flow
            .step(self.state.clone(), event, Utc::now())
            .expect("the screen sent an event the flow allows");
        self.state = next;
        self.controller.observe(&self.state);
        // What the runtime's devices would answer.
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
                _ => None,
            };
            if let Some(e) = answer {
                self.step(e);
            }
        }
    }

    /// Taps the control labelled `label` and carries out what it did.
    fn tap(&mut self, label: &str) {
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

    fn phase(&self) -> String {
        self.screens
            .window()
            .global::<Kiosk>()
            .get_phase()
            .to_string()
    }

    fn title(&self) -> String {
        self.screens
            .window()
            .global::<Kiosk>()
            .get_title()
            .to_string()
    }

    /// Whether some element's accessible label (a control, or a text's own
    /// words) contains `text`.
    fn shows(&self, text: &str) -> bool {
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

    fn expect(&self, phase: &str, title: &str, shows: &[&str]) {
        assert_eq!(self.phase(), phase);
        assert_eq!(self.title(), title, "title on {phase}");
        for s in shows {
            assert!(self.shows(s), "screen `{phase}` does not show {s:?}");
        }
    }
}

#[test]
fn a_citizen_does_a_new_connection_with_missing_documents_by_touch() {
    i_slint_backend_testing::init_no_event_loop();
    let screens = Screens::new().expect("window");
    let actions = Rc::new(RefCell::new(Vec::new()));
    {
        let actions = actions.clone();
        screens.on_action(move |a| actions.borrow_mut().push(a));
    }
    let config = FlowConfig {
        identity_methods: vec![kiosk::model::IdentityMethod::IdCard],
        ..FlowConfig::default()
    };
    let mut rig = Rig {
        screens,
        actions,
        flow: Flow::new(config.clone()),
        state: State::new(),
        controller: Controller::new("", true),
        ctx: ViewContext {
            flow: config,
            progress_url: "kiosk://progress/".into(),
        },
    };
    rig.show();
    rig.expect(
        "attract",
        "自助办电",
        &["开始办理", "长辈模式（大字）", "人脸识别"],
    );

    // Elderly mode from the start screen: the same screen, larger.
    rig.tap("长辈模式（大字）");
    assert!(rig.state.elderly);
    rig.expect("attract", "自助办电", &["标准模式"]);

    rig.tap("开始办理");
    rig.expect("choose-business", "选择业务", &["低压新装"]);

    rig.tap("低压新装");
    rig.expect(
        "choose-identity",
        "身份验证方式",
        &["身份证", "刷脸验证", "呼叫工作人员", "本机暂不提供"],
    );

    // The card is read as soon as the method is chosen.
    rig.tap("身份证");
    rig.expect(
        "consent-certificates",
        "授权调取电子证照",
        &["同意", "不同意"],
    );

    rig.tap("同意");
    rig.expect(
        "review-certificates",
        "证照核对",
        &[
            "张*",
            "3301**********0026",
            "主体资格证明",
            "缺少，可承诺后补",
        ],
    );

    rig.tap("下一步");
    rig.expect(
        "commitment",
        "缺件承诺",
        &["产权证明", "2026-12-23", "签名板"],
    );
    // Signing needs a stroke: the pad's points go through the controller.
    for (i, (x, y)) in [(20.0, 30.0), (60.0, 80.0), (120.0, 40.0)]
        .iter()
        .enumerate()
    {
        let state = rig.state.clone();
        rig.controller.act(
            Action::Stroke {
                x: *x,
                y: *y,
                down: i == 0,
            },
            &state,
        );
    }
    rig.show();
    rig.tap("签名确认");
    rig.expect(
        "form",
        "填写申请",
        &[
            "浙江省杭州市西湖区文三路100号",
            "申请容量（千瓦）",
            "联系电话",
        ],
    );

    // Capacity 8 kW, then the phone, all on the on-screen keypad.
    rig.tap("8");
    rig.tap("联系电话");
    for d in "13812345678".chars() {
        rig.tap(&d.to_string());
    }
    assert!(rig.shows("13812345678"));
    rig.tap("下一步");
    rig.expect(
        "review",
        "确认提交",
        &[
            "低压新装",
            "138****5678",
            "低压接入，您无需投资",
            "补交期限",
        ],
    );

    rig.tap("确认提交");
    // The supply contract has no page of its own yet (issue 5 is open for
    // it): it shows on the generic page, and the signature is given here
    // as the flow event the contract page will send.
    assert_eq!(rig.phase(), "contract");
    assert!(
        rig.shows("签署供用电合同"),
        "the contract screen says what it is"
    );
    rig.step(Event::SignContract {
        strokes: vec![vec![(10, 10, 0), (40, 30, 16), (80, 20, 32)]],
    });
    rig.show();
    rig.expect(
        "receipt",
        "受理成功",
        &[
            "GD2026112300042",
            "已由供电服务中心受理。",
            "✔ 请取走回执。",
            "进度查询二维码",
        ],
    );

    rig.tap("完成");
    rig.expect("rating", "满意度评价", &["5 ★", "跳过"]);

    rig.tap("5 ★");
    rig.expect("attract", "自助办电", &["开始办理"]);
    // The session is gone, and so is what was typed on screen.
    assert!(rig.state.session.is_none());
    assert!(rig.controller.local().phone.is_empty());
    assert!(!rig.shows("13812345678"));
}
