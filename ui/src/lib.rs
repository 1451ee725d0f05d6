//! Screens of the kiosk.
//!
//! The touchscreen (Slint) arrives in its own issue; this crate already holds
//! what every screen says, in Simplified Chinese (the default) and English,
//! keyed by the flow's phase names. The headless demo prints these lines, and
//! voice guidance will speak the `prompt`. Keeping the words here, not in the
//! flow, lets the UI change without touching business rules.

#![warn(missing_docs)]

use serde::Serialize;

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Lang {
    /// Simplified Chinese (default).
    #[default]
    Zh,
    /// English.
    En,
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
];

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
