//! Voice guidance: speaks each screen's title and prompt when the screen
//! changes, again on "replay", in the screen's language, at the chosen
//! volume; silent when muted by config. Only screen text is spoken, never
//! what the citizen typed.

use kiosk_drivers::speaker::{Speaker, Voice};
use kiosk_ui::{Lang, View};

/// The voice for a display language.
pub fn voice_of(lang: Lang) -> Voice {
    match lang {
        Lang::Zh => Voice::Mandarin,
        Lang::En => Voice::English,
    }
}

/// What a screen says aloud: its title, then its prompt.
pub fn spoken(phase: &str, lang: Lang) -> Option<String> {
    let t = kiosk_ui::screen(phase, lang)?;
    let sep = match lang {
        Lang::Zh => "。",
        Lang::En => ". ",
    };
    Some(format!("{}{sep}{}", t.title, t.prompt))
}

/// Speaks screens as they change.
pub struct Guide<S: Speaker> {
    speaker: S,
    muted: bool,
    last: Option<(String, Lang)>,
    last_face: String,
}

impl<S: Speaker> Guide<S> {
    /// A guide speaking through `speaker`; `muted` by config.
    pub fn new(speaker: S, muted: bool) -> Self {
        Self {
            speaker,
            muted,
            last: None,
            last_face: String::new(),
        }
    }

    /// Speaks `view`'s screen if it is new (another phase or language),
    /// and the face check's action when it changes (turn left, nod, …).
    pub fn show(&mut self, view: &View) {
        let key = (view.phase.clone(), view.lang);
        if self.last.as_ref() != Some(&key) {
            self.last = Some(key);
            self.replay(view);
        }
        if view.face_text != self.last_face {
            self.last_face = view.face_text.clone();
            if !view.face_text.is_empty() {
                self.say(&view.face_text, view);
            }
        }
    }

    fn say(&mut self, text: &str, view: &View) {
        if self.muted {
            return;
        }
        let volume = u8::try_from(view.volume.max(0)).unwrap_or(0);
        if let Err(e) = self.speaker.say(text, voice_of(view.lang), volume) {
            // The screen still shows everything: log and carry on.
            tracing::warn!("voice guidance failed: {e}");
        }
    }

    /// Speaks `view`'s screen again.
    pub fn replay(&mut self, view: &View) {
        if self.muted {
            return;
        }
        let Some(text) = spoken(&view.phase, view.lang) else {
            return;
        };
        self.say(&text, view);
        if !view.face_text.is_empty() {
            self.say(&view.face_text, view);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_drivers::speaker::sim::SimSpeaker;

    fn view(phase: &str, lang: Lang) -> View {
        View {
            phase: phase.into(),
            lang,
            volume: 3,
            ..View::default()
        }
    }

    #[test]
    fn the_face_checks_action_is_spoken_once_when_it_changes() {
        let (speaker, said) = SimSpeaker::new();
        let mut guide = Guide::new(speaker, false);
        let mut v = view("face-capture", Lang::Zh);
        guide.show(&v);
        v.face_text = "请慢慢向左转头".into();
        guide.show(&v);
        guide.show(&v);
        v.face_text = "请慢慢点头".into();
        guide.show(&v);
        let said: Vec<String> = said.said().into_iter().map(|u| u.text).collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said[0].contains("请看摄像头"));
        assert_eq!(said[1], "请慢慢向左转头");
        assert_eq!(said[2], "请慢慢点头");
    }

    #[test]
    fn no_screen_is_silent_in_either_language() {
        for lang in [Lang::Zh, Lang::En] {
            let (speaker, said) = SimSpeaker::new();
            let mut guide = Guide::new(speaker, false);
            for phase in super::super::PHASES {
                guide.show(&view(phase, lang));
            }
            let said = said.said();
            assert_eq!(said.len(), super::super::PHASES.len(), "{lang:?}");
            for (u, phase) in said.iter().zip(super::super::PHASES) {
                assert_eq!(u.voice, voice_of(lang));
                let t = kiosk_ui::screen(phase, lang).expect("text");
                assert!(u.text.contains(t.prompt), "{phase} {lang:?}");
                let cjk = u
                    .text
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                assert_eq!(
                    cjk,
                    lang == Lang::Zh,
                    "{phase} spoken in the wrong language"
                );
            }
        }
    }

    #[test]
    fn a_screen_is_spoken_once_until_replay_or_language_change_and_never_when_muted() {
        let (speaker, said) = SimSpeaker::new();
        let mut guide = Guide::new(speaker, false);
        let v = view("form", Lang::Zh);
        guide.show(&v);
        guide.show(&v);
        assert_eq!(said.said().len(), 1);
        guide.replay(&v);
        guide.show(&view("form", Lang::En));
        assert_eq!(said.said().len(), 3);
        assert_eq!(said.said()[2].voice, Voice::English);

        let (speaker, said) = SimSpeaker::new();
        let mut muted = Guide::new(speaker, true);
        muted.show(&v);
        muted.replay(&v);
        assert!(said.said().is_empty());
    }

    #[test]
    fn a_speaker_fault_does_not_stop_the_screens() {
        let (speaker, control) = SimSpeaker::new();
        let mut guide = Guide::new(speaker, false);
        control.fail_next("unplugged");
        guide.show(&view("attract", Lang::Zh));
        guide.show(&view("choose-business", Lang::Zh));
        assert_eq!(control.said().len(), 1);
    }
}
