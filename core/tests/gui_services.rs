//! Paying a bill and asking how an order is progressing, done by touch:
//! the account number on the keypad, the amount due, the payment code, the
//! invoice; then the order number on the keyboard and its steps (see
//! `gui_rig` for how the screen is driven).

mod gui_rig;

use gui_rig::Rig;
use kiosk::central::Invoice;
use kiosk::flow::{Effect, Event, FlowConfig, PaymentOutcome};
use kiosk::model::Business;
use kiosk_ui::slint::ComponentHandle;

#[test]
fn a_citizen_pays_a_bill_then_looks_up_an_order_by_touch() {
    let mut rig = Rig::new(FlowConfig {
        businesses: Business::ALL.to_vec(),
        ..FlowConfig::default()
    });
    rig.tap("开始办理");
    rig.tap("缴纳电费");
    rig.expect(
        "account-entry",
        "输入户号",
        &["户号", "忘记户号：按我的身份查询"],
    );
    // "Continue" waits for a number; the keypad types it.
    assert!(rig.shows("下一步"));
    rig.type_keys("3300123456");
    assert!(rig.shows("3300123456"));
    rig.tap("删除");
    rig.tap("6");
    rig.tap("下一步");
    rig.expect(
        "bill-due",
        "应缴电费",
        &[
            "3300123456",
            "张*",
            "文三路100号",
            "应缴金额: ¥123.45",
            "缴费",
        ],
    );

    rig.tap("缴费");
    rig.expect(
        "paying",
        "请扫码缴费",
        &["¥123.45", "缴费二维码", "正在等待支付确认"],
    );
    // The payment code shown is central's, drawn as a QR image.
    let qr = rig
        .screens
        .window()
        .global::<kiosk_ui::generated::Kiosk>()
        .get_pay_qr();
    assert!(qr.size().width > 100, "the payment QR code is drawn");

    // Central confirms with the invoice; the invoice prints.
    rig.step(Event::PaymentFinished(PaymentOutcome::Paid(Invoice {
        invoice_no: "INV-0001".into(),
        amount_fen: 12_345,
        issued_at: chrono::Utc::now(),
        title: "张*".into(),
    })));
    rig.show();
    rig.expect(
        "paid",
        "缴费成功",
        &["已缴费 ¥123.45", "INV-0001", "✔ 请取走发票。"],
    );
    rig.tap("完成");
    rig.expect("rating", "满意度评价", &["5 ★", "办理快捷", "无需带材料"]);
    // Fixed phrases only: tapped on, one tapped off again, then the score.
    rig.tap("办理快捷");
    rig.tap("设备故障");
    assert!(rig.is_checked("办理快捷") && rig.is_checked("设备故障"));
    rig.tap("设备故障");
    assert!(!rig.is_checked("设备故障"), "tapped again, it is off");
    rig.tap("4 ★");
    let rated = rig.effects.iter().find_map(|e| match e {
        Effect::SubmitRating { stars, comment, .. } => Some((*stars, comment.clone())),
        _ => None,
    });
    assert_eq!(rated, Some((4, Some("quick".to_string()))));
    rig.expect("attract", "自助办电", &["开始办理"]);
    assert!(rig.state.session.is_none());
    assert!(
        rig.controller.local().account.is_empty(),
        "the account typed is forgotten"
    );

    // A progress query: the order number typed on the keyboard.
    rig.tap("开始办理");
    rig.tap("进度查询");
    rig.expect("query-entry", "查询办理进度", &["受理编号", "查询"]);
    rig.type_keys("GD-2026");
    assert!(rig.shows("GD-2026"));
    rig.tap("查询");
    rig.expect(
        "progress",
        "办理进度",
        &[
            "GD-2026",
            "✔ 受理",
            "▶ 现场勘查",
            "○ 装表接电",
            "办理中",
            "未开始",
        ],
    );
    rig.tap("完成");
    rig.expect("rating", "满意度评价", &["跳过"]);

    rig.tap("跳过");

    // A company's new connection: the credit code on the keyboard, a typo
    // refused with the reason, then accepted; the person then proves who
    // they are.
    rig.tap("开始办理");
    rig.tap("低压新装");
    rig.tap("为企业办理？");
    rig.expect(
        "choose-identity",
        "身份验证方式",
        &["统一社会信用代码", "法定代表人", "经办人"],
    );
    rig.type_keys("91330106MA27XY123V");
    rig.tap("经办人");
    assert!(rig.is_checked("经办人") && !rig.is_checked("法定代表人"));
    rig.tap("下一步");
    assert!(
        rig.shows("统一社会信用代码有误"),
        "a typo is refused with the reason"
    );
    rig.tap("删除");
    rig.tap("U");
    rig.tap("下一步");
    let company = rig
        .state
        .session
        .as_ref()
        .and_then(|s| s.company.clone())
        .expect("the company is accepted");
    assert_eq!(company.credit_code, "91330106MA27XY123U");
    assert_eq!(company.role, kiosk::model::CompanyRole::Agent);
    rig.expect(
        "choose-identity",
        "身份验证方式",
        &["91330106MA27XY123U", "身份证"],
    );
    assert!(!rig.shows("法定代表人"), "the entry closed");
}
