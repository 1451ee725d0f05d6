//! The touchscreen's controller: the seam between the flow and the Slint
//! screens of `kiosk-ui`.
//!
//! - [`view`] builds the screen's view model from the flow state;
//! - [`controller`] maps touches to flow events and keeps what is only the
//!   screen's (language, typing, the signature being drawn);
//! - [`feed`] hands every state the runner enters to the screens;
//! - [`window`] is the touchscreen window of `kiosk run`.
//!
//! Nothing here decides a business rule: the flow does.

pub mod controller;
pub mod feed;
pub mod pinyin;
pub mod technician;
pub mod view;
pub mod voice;
pub mod window;

/// The `[ui]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct UiConfig {
    /// `kiosk run` opens the touchscreen (KMS on the device, a window on a
    /// desktop). Without a display the kiosk logs it and runs without one
    /// (the status endpoint, sync and devices still work).
    pub touchscreen: bool,
    /// PIN of the hidden technician entry (five taps on the title); empty
    /// disables the entry.
    pub technician_pin: String,
    /// No voice guidance.
    pub muted: bool,
    /// The speech program.
    pub espeak: String,
    /// Speaking rate, words per minute (slow for elderly citizens).
    pub speech_rate: u32,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            touchscreen: false,
            technician_pin: String::new(),
            muted: false,
            espeak: "espeak-ng".into(),
            speech_rate: 140,
        }
    }
}

/// Every phase name the flow has today. The lead reconciles this list when
/// a new phase lands; a test checks each one has a screen (its own page or
/// the generic waiting page) and spoken text in both languages.
pub const PHASES: &[&str] = &[
    "attract",
    "choose-business",
    "choose-identity",
    "reading-card",
    "face-consent",
    "face-identity",
    "fetching-reference",
    "face-capture",
    "consent-certificates",
    "fetching-certificates",
    "review-certificates",
    "commitment",
    "form",
    "capacity-notice",
    "review",
    "submitting",
    "receipt",
    "rating",
    "fault",
    "timeout-warning",
    "account-entry",
    "fetching-account",
    "transfer-parties",
    "reading-second-card",
    "scanning-eid",
    "verifying-eid",
    "waiting-staff",
    "fetching-pushed",
    "pushed-orders",
    "contract",
    "bill-due",
    "creating-payment",
    "paying",
    "paid",
    "payment-failed",
    "query-entry",
    "fetching-progress",
    "progress",
];

/// Phases where the citizen only waits: the generic waiting page shows them.
pub const WAITING: &[&str] = &[
    "fetching-reference",
    "fetching-certificates",
    "submitting",
    "fetching-account",
    "verifying-eid",
    "fetching-pushed",
    "creating-payment",
    "fetching-progress",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_a_page_and_words_in_both_languages() {
        for phase in PHASES {
            let page = kiosk_ui::page_for(phase);
            let shared = kiosk_ui::SHARED_PAGES.contains(&(*phase, page));
            assert!(
                page == *phase || shared || (page == "wait" && WAITING.contains(phase)),
                "phase `{phase}` has no page of its own and is not a waiting phase"
            );
            assert_eq!(
                page == "wait",
                WAITING.contains(phase),
                "phase `{phase}`: only the waiting phases show the waiting page"
            );
            for lang in [kiosk_ui::Lang::Zh, kiosk_ui::Lang::En] {
                let t = kiosk_ui::screen(phase, lang);
                assert!(
                    t.is_some_and(|t| !t.title.is_empty() && !t.prompt.is_empty()),
                    "phase `{phase}` says nothing in {lang:?}"
                );
            }
        }
    }

    /// What the citizen typed or drew on the screen never shows in `Debug`.
    #[test]
    fn typed_personal_fields_stay_out_of_debug() {
        let mut l = view::Local::default();
        l.name = "张三丰".into();
        l.id = "330106199001010022".into();
        l.pin = "9137".into();
        l.staff_pin = "5820".into();
        l.phone = "13800138000".into();
        l.account = "6100123456".into();
        l.credit_code = "91330106MA2H3K4L5P".into();
        l.strokes = vec![vec![(101, 202, 303)]];
        l.volume = 4;
        let s = format!("{l:?}");
        for secret in [
            "张三", "0022", "9137", "5820", "138001", "6100123", "MA2H3", "202",
        ] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert!(s.contains("volume: 4"), "{s}");
    }

    #[test]
    fn the_face_screen_shows_the_action_asked_for_in_the_chosen_language() {
        use crate::flow::{Phase, State};
        use crate::runtime::face::FacePrompt;
        let mut c = controller::Controller::new("", true);
        let mut state = State::new();
        state.phase = Phase::FaceCapture;
        let prompt = FacePrompt {
            seq: 3,
            active: true,
            prompt: Some("face.prompt.turn_left"),
            hint: Some("face.hint.too_dark"),
            done: 1,
            total: 2,
        };
        assert!(c.face(&prompt), "a new prompt redraws");
        assert!(!c.face(&prompt), "the same prompt does not");
        let ctx = view::ViewContext::default();
        let today = chrono::DateTime::parse_from_rfc3339("2026-11-24T02:00:00Z")
            .expect("time")
            .to_utc();
        let v = view::build(&state, c.local(), &ctx, today);
        assert_eq!(v.face_text, "请慢慢向左转头");
        assert_eq!(v.face_hint, "光线太暗");
        assert_eq!(v.face_progress, 50);
        let _ = c.act(kiosk_ui::Action::Lang(kiosk_ui::Lang::En), &state);
        let v = view::build(&state, c.local(), &ctx, today);
        assert_eq!(v.face_text, "Slowly turn your head to the left");
        // Only on the face screen, and only while a check runs.
        state.phase = Phase::ChooseIdentity;
        assert_eq!(view::build(&state, c.local(), &ctx, today).face_text, "");
        state.phase = Phase::FaceCapture;
        c.face(&FacePrompt {
            active: false,
            ..prompt
        });
        assert_eq!(view::build(&state, c.local(), &ctx, today).face_text, "");
    }

    /// The PIN opens the menu; its buttons ask for the stick's install and
    /// the restart only when the menu allows them; the citizen's screen
    /// takes no touch while it is open.
    #[test]
    fn the_technician_menu_installs_from_the_stick_and_restarts() {
        use crate::flow::State;
        use controller::Output;
        use kiosk_ui::Action;
        let state = State::new();
        let mut c = controller::Controller::new("2468", true);
        for _ in 0..5 {
            let _ = c.act(Action::TechnicianTap, &state);
        }
        for k in ["2", "4", "6"] {
            let _ = c.act(Action::Pin(k.into()), &state);
        }
        assert!(!c.menu_open());
        assert_eq!(c.act(Action::Pin("8".into()), &state), vec![Output::Redraw]);
        assert!(c.menu_open());
        let ctx = view::ViewContext::default();
        let now = chrono::Utc::now();
        let v = view::build(&state, c.local(), &ctx, now);
        assert!(v.technician && v.technician_menu);
        // Nothing on the stick yet: the button does nothing.
        assert!(c.act(Action::TechnicianInstall, &state).is_empty());
        assert!(
            c.act(Action::Start, &state).is_empty(),
            "the citizen's screen is covered"
        );
        let bundle = std::path::PathBuf::from("/media/kiosk-usb/kiosk-0.2.0-rpi4.raucb");
        let report = crate::update::SystemReport {
            release: "0.1.0".into(),
            ..Default::default()
        };
        assert!(c.set_menu(technician::menu(
            &report,
            std::slice::from_ref(&bundle),
            true,
            kiosk_ui::Lang::Zh
        )));
        let v = view::build(&state, c.local(), &ctx, now);
        assert!(v.tech_can_install && !v.tech_can_restart);
        assert_eq!(v.tech_bundle, "kiosk-0.2.0-rpi4.raucb");
        assert_eq!(
            c.act(Action::TechnicianInstall, &state),
            vec![Output::Install(bundle)]
        );
        assert!(c.act(Action::TechnicianRestart, &state).is_empty());
        let installed = crate::update::SystemReport {
            last_update: Some(crate::update::LastUpdate {
                version: "0.2.0".into(),
                outcome: crate::update::Outcome::Installed,
                detail: "installed into slot B from the USB stick".into(),
                at: now,
            }),
            ..report
        };
        c.set_menu(technician::menu(&installed, &[], true, kiosk_ui::Lang::Zh));
        assert_eq!(
            c.act(Action::TechnicianRestart, &state),
            vec![Output::Restart]
        );
        assert_eq!(c.act(Action::TechnicianClose, &state), vec![Output::Redraw]);
        assert!(!c.menu_open());
        assert!(!view::build(&state, c.local(), &ctx, now).technician);
    }
}
