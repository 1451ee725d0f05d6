//! A new connection with missing documents, done by touch from the attract
//! screen to the rating (see `gui_rig` for how the screen is driven).

mod gui_rig;

use gui_rig::Rig;
use kiosk::flow::FlowConfig;

#[test]
fn a_citizen_does_a_new_connection_with_missing_documents_by_touch() {
    let mut rig = Rig::new(FlowConfig {
        identity_methods: vec![kiosk::model::IdentityMethod::IdCard],
        ..FlowConfig::default()
    });
    rig.expect("attract", "自助办电", &["开始办理", "长辈模式（大字）"]);
    // This kiosk offers no face check: it must not say it can check faces.
    assert!(
        !rig.shows("人脸识别"),
        "the face-check notice on a kiosk without it"
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
    rig.sign();
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
    // The supply contract, page by page, then signed on its pad.
    rig.expect(
        "contract",
        "签署供用电合同",
        &["低压供用电合同", "第一条", "1 / 3", "签名板"],
    );
    rig.tap("下一页");
    assert!(
        rig.shows("第二条"),
        "the next page shows the second article"
    );
    assert!(rig.shows("2 / 3"));
    rig.tap("上一页");
    assert!(rig.shows("第一条"));
    rig.sign();
    rig.tap("确认签署");
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
