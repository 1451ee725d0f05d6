//! Screens of the kiosk.
//!
//! The touchscreen is Slint: the `.slint` pages under `ui/` (pages, widgets,
//! components) are compiled by `build.rs`. The only seam between them and
//! the rest of the kiosk is the `Kiosk` global adapter: [`Screens`] writes a
//! [`View`] (plain data the kiosk's controller builds from the flow state)
//! into it, and every touch comes back as an [`Action`]. This crate knows
//! nothing of the flow; it does not depend on the `kiosk` crate.
//!
//! The titles and prompts of every screen (also what voice guidance speaks)
//! are kept here in Simplified Chinese (the default) and English, keyed by
//! the flow's phase names; the words on buttons are `@tr()` strings in the
//! `.slint` files with their Chinese in `translations/zh_CN`.

#![warn(missing_docs)]

pub mod headless;
mod screens;
mod view;

pub use screens::{page_for, Action, Screens, UiError, PAGES, SHARED_PAGES};
/// Slint itself, for the controller's event loop and timers.
pub use slint;
pub use view::{Choice, Method, Pushed, Qr, Step, View};

use serde::Serialize;

/// Code generated from the `.slint` files.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::todo,
    unused_qualifications
)]
pub mod generated {
    slint::include_modules!();
}

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Lang {
    /// Simplified Chinese (default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The code the screens use (`zh`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// What a screen says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScreenText {
    /// Heading.
    pub title: &'static str,
    /// The one sentence that tells the citizen what to do (also spoken).
    pub prompt: &'static str,
}

/// Every phase name the flow has, with its texts `(zh, en)`.
const SCREENS: &[(&str, ScreenText, ScreenText)] = &[
    ("attract", t("自助办电", "请点击“开始办理”，刷身份证即可办理用电业务，无需携带纸质材料。"), t("Self-service electricity", "Tap Start. Your ID card is enough: no paper documents needed.")),
    ("choose-business", t("选择业务", "请选择您要办理的业务。"), t("Choose a service", "Choose what you would like to do.")),
    ("choose-identity", t("身份验证方式", "请选择验证身份的方式：身份证、电子身份证或呼叫工作人员。"), t("How to prove who you are", "Choose: ID card, electronic ID, or call a member of staff.")),
    ("reading-card", t("请放置身份证", "请将身份证平放在读卡区，读取完成前请勿移开。"), t("Place your ID card", "Lay your ID card on the reader and leave it there until it is read.")),
    ("face-consent", t("刷脸验证说明", "刷脸仅用于核验您本人身份：拍摄约两秒，照片只在本机比对，不上传、不保存，办理结束即删除。您也可以选择身份证或呼叫工作人员。"), t("About the face check", "The face check only confirms it is you: about two seconds of video, compared on this kiosk only, never uploaded or kept, deleted when you finish. You may use your ID card or call staff instead.")),
    ("face-identity", t("输入姓名和身份证号", "请输入您的姓名和身份证号码。"), t("Your name and ID number", "Enter your name and ID number.")),
    ("fetching-reference", t("正在准备核验", "请稍候。"), t("Preparing the check", "Please wait.")),
    ("face-capture", t("请看摄像头", "请正对摄像头，并按提示转头或点头。"), t("Look at the camera", "Face the camera and turn or nod your head as shown.")),
    ("consent-certificates", t("授权调取电子证照", "为免于提交纸质材料，需要您授权我们从政务数据共享平台调取您的身份和房产证明。"), t("Allow us to fetch your certificates", "To spare you paper, allow us to fetch your identity and property records from the government data-sharing platform.")),
    ("fetching-certificates", t("正在调取证照", "正在调取电子证照，请稍候。"), t("Fetching certificates", "Fetching your certificates, please wait.")),
    ("review-certificates", t("证照核对", "请核对已调取的证照。缺少的材料可以承诺后补。"), t("Check your certificates", "Check what was found. Anything missing can be supplied later against a commitment.")),
    ("commitment", t("缺件承诺", "请阅读承诺书，在下方签名，并确认补交材料的期限。"), t("Commitment for missing documents", "Read the commitment, sign below and confirm the date by which you will supply the documents.")),
    ("form", t("填写申请", "请填写用电地址、申请容量和联系电话。"), t("Your application", "Enter the supply address, the capacity you need and a contact phone.")),
    ("capacity-notice", t("容量说明", "请阅读接入方式说明并确认。"), t("About your capacity", "Read how your supply will be connected and confirm.")),
    ("review", t("确认提交", "请核对申请信息，确认无误后点击“提交”。"), t("Review and submit", "Check your application and tap Submit.")),
    ("submitting", t("正在提交", "正在受理，请稍候。"), t("Submitting", "Accepting your application, please wait.")),
    ("receipt", t("受理成功", "您的申请已受理，请取走回执。"), t("Accepted", "Your application is accepted. Please take your receipt.")),
    ("rating", t("满意度评价", "请为本次服务打分。"), t("Rate this service", "Please rate this service.")),
    ("fault", t("暂时无法受理", "很抱歉，本机暂时无法受理，请联系工作人员。"), t("We could not accept this", "Sorry, this kiosk cannot accept your application right now. Please ask a member of staff.")),
    ("timeout-warning", t("还需要更多时间吗？", "如需继续办理，请点击“需要更多时间”。"), t("Do you need more time?", "Tap More time to carry on.")),
    ("account-entry", t("输入户号", "请输入您的电费户号，户号印在电费单和缴费通知上。"), t("Your account number", "Enter your electricity account number; it is on your bill.")),
    ("fetching-account", t("正在查询户号", "正在查询户号信息，请稍候。"), t("Looking up the account", "Looking up your account, please wait.")),
    ("transfer-parties", t("原户主是否到场", "原户主在场时请其刷身份证；不在场时，依据不动产登记信息办理。"), t("Is the previous holder here?", "If the previous holder is here, they read their ID card; if not, the property register is used.")),
    ("reading-second-card", t("请原户主放置身份证", "请原户主将身份证平放在读卡区，读取完成前请勿移开。"), t("Previous holder's ID card", "The previous holder lays their ID card on the reader until it is read.")),
    ("scanning-eid", t("出示电子身份证", "请打开手机上的电子身份证，将二维码对准摄像头。"), t("Show your electronic ID", "Open the electronic ID on your phone and hold its QR code to the camera.")),
    ("verifying-eid", t("正在核验电子身份证", "正在核验，请稍候。"), t("Checking your electronic ID", "Checking, please wait.")),
    ("waiting-staff", t("工作人员马上就到", "已通知工作人员，请稍候，工作人员将协助您核验身份。"), t("Help is on its way", "A member of staff has been called and will help you prove who you are.")),
    ("fetching-pushed", t("正在查询待办事项", "请稍候。"), t("Checking for pending requests", "Please wait.")),
    ("pushed-orders", t("您有待确认的业务", "以下业务已由其他部门发起，请核对后确认并签名，或稍后办理。"), t("Requests waiting for you", "These were started elsewhere for you. Check, then confirm and sign, or leave them for later.")),
    ("contract", t("签署供用电合同", "请逐页阅读合同，在下方签名后点击“确认签署”。"), t("Sign the supply contract", "Read each page, sign below and tap Confirm.")),
    ("bill-due", t("应缴电费", "请核对应缴金额，点击“缴费”后用手机扫码支付。"), t("Amount due", "Check the amount, tap Pay, then pay with your phone.")),
    ("creating-payment", t("正在生成缴费码", "请稍候。"), t("Preparing the payment code", "Please wait.")),
    ("paying", t("请扫码缴费", "请用手机扫描屏幕上的二维码完成支付，支付成功前请勿离开。"), t("Scan to pay", "Scan the code on the screen with your phone to pay; please stay until it is confirmed.")),
    ("paid", t("缴费成功", "缴费成功，请取走电费发票。"), t("Paid", "Payment received. Please take your invoice.")),
    ("payment-failed", t("未完成缴费", "未收到支付确认，本次未扣款记录。您可以重新缴费或稍后再试。"), t("Not paid", "No payment was confirmed, so nothing is recorded as paid. Try again or come back later.")),
    ("query-entry", t("查询办理进度", "请将回执上的二维码对准摄像头，或输入订单号。"), t("Check progress", "Hold your receipt's QR code to the camera, or type the order number.")),
    ("fetching-progress", t("正在查询进度", "请稍候。"), t("Looking up progress", "Please wait.")),
    ("progress", t("办理进度", "以下是您的业务每个环节的开始和完成时间。"), t("Progress", "Here is each step of your request with when it started and finished.")),
];

/// What the face-capture screen says for the face engine's codes (the
/// action asked for, and why a frame did not count): `(code, zh, en)`.
const FACE: &[(&str, &str, &str)] = &[
    (
        "face.prompt.turn_left",
        "请慢慢向左转头",
        "Slowly turn your head to the left",
    ),
    (
        "face.prompt.turn_right",
        "请慢慢向右转头",
        "Slowly turn your head to the right",
    ),
    ("face.prompt.nod", "请慢慢点头", "Slowly nod your head"),
    (
        "face.prompt.face_camera",
        "请正对摄像头，保持不动",
        "Look straight at the camera and hold still",
    ),
    (
        "face.hint.no_face",
        "没有看到人脸，请站到摄像头前",
        "No face seen: please stand in front of the camera",
    ),
    (
        "face.hint.multiple_faces",
        "请只留一人在摄像头前",
        "Only one person in front of the camera, please",
    ),
    (
        "face.hint.come_closer",
        "请靠近一点",
        "Please come a little closer",
    ),
    (
        "face.hint.face_the_camera",
        "请正对摄像头",
        "Please face the camera",
    ),
    ("face.hint.too_dark", "光线太暗", "It is too dark"),
    ("face.hint.too_bright", "光线太亮", "It is too bright"),
    ("face.hint.hold_still", "请保持不动", "Please hold still"),
];

/// The words for a face-engine code (`face.prompt.turn_left`, …), or `None`
/// for an unknown code.
pub fn face_text(code: &str, lang: Lang) -> Option<&'static str> {
    FACE.iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

const fn t(title: &'static str, prompt: &'static str) -> ScreenText {
    ScreenText { title, prompt }
}

/// The texts of the screen for a flow phase, or `None` for an unknown phase.
pub fn screen(phase: &str, lang: Lang) -> Option<ScreenText> {
    SCREENS
        .iter()
        .find(|(p, ..)| *p == phase)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

/// Every phase that has a screen.
pub fn phases() -> impl Iterator<Item = &'static str> {
    SCREENS.iter().map(|(p, ..)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_has_both_languages_and_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for p in phases() {
            assert!(seen.insert(p), "{p} twice");
            for lang in [Lang::Zh, Lang::En] {
                let s = screen(p, lang).expect("text");
                assert!(!s.title.is_empty() && !s.prompt.is_empty(), "{p} {lang:?}");
            }
            assert_ne!(screen(p, Lang::Zh), screen(p, Lang::En));
        }
        assert_eq!(screen("no-such", Lang::Zh), None);
    }
}

#[cfg(test)]
mod translation_tests {
    /// Every `@tr("…")` string of the `.slint` files.
    fn tr_strings() -> Vec<String> {
        let mut out = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("ui dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "slint") {
                    let text = std::fs::read_to_string(&p).expect("slint file");
                    for part in text.split("@tr(\"").skip(1) {
                        let end = part.find("\")").expect("closed @tr");
                        out.push(part[..end].to_string());
                    }
                }
            }
        }
        out
    }

    /// `msgid` → `msgstr` of the Chinese catalogue.
    fn catalogue() -> std::collections::HashMap<String, String> {
        let po = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/translations/zh_CN/LC_MESSAGES/kiosk-ui.po"
        ))
        .expect("po");
        let mut map = std::collections::HashMap::new();
        let mut id = None;
        for line in po.lines() {
            if let Some(v) = line.strip_prefix("msgid \"") {
                id = Some(v.trim_end_matches('"').to_string());
            } else if let Some(v) = line.strip_prefix("msgstr \"") {
                if let Some(id) = id.take() {
                    map.insert(id, v.trim_end_matches('"').to_string());
                }
            }
        }
        map
    }

    #[test]
    fn every_visible_string_has_a_chinese_translation() {
        let strings = tr_strings();
        assert!(strings.len() > 50, "found only {} strings", strings.len());
        let po = catalogue();
        let missing: Vec<_> = strings
            .iter()
            .filter(|s| po.get(*s).is_none_or(|t| t.is_empty() || t == *s))
            .collect();
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }

    #[test]
    fn no_visible_text_is_left_out_of_tr() {
        // A `text:` given as a bare English literal would never be translated.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("ui dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).expect("file");
                for line in text.lines() {
                    if let Some(rest) = line.trim().strip_prefix("text: \"") {
                        let lit = rest.split('"').next().unwrap_or_default();
                        assert!(
                            !lit.chars().any(|c| c.is_ascii_alphabetic()) || lit.len() <= 1,
                            "{}: untranslatable literal {lit:?}",
                            p.display()
                        );
                    }
                }
            }
        }
    }
}
