//! The speaker's twin: records every utterance, can be told to fail.

use std::sync::{Arc, Mutex};

use super::{Error, Speaker, Voice};
use crate::Health;

/// One recorded utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    /// What was said.
    pub text: String,
    /// In which voice.
    pub voice: Voice,
    /// How loud (0–5).
    pub volume: u8,
}

#[derive(Debug, Default)]
struct Shared {
    said: Vec<Utterance>,
    fail_next: Option<String>,
    stops: usize,
}

/// Controls and records of a [`SimSpeaker`], usable from a test while the
/// speaker is owned elsewhere.
#[derive(Debug, Clone, Default)]
pub struct SimSpeakerControl {
    shared: Arc<Mutex<Shared>>,
}

impl SimSpeakerControl {
    /// Everything said so far, in order.
    pub fn said(&self) -> Vec<Utterance> {
        self.shared
            .lock()
            .map(|s| s.said.clone())
            .unwrap_or_default()
    }

    /// Makes the next `say` fail with `why`.
    pub fn fail_next(&self, why: impl Into<String>) {
        if let Ok(mut s) = self.shared.lock() {
            s.fail_next = Some(why.into());
        }
    }

    /// How often speaking was stopped.
    pub fn stops(&self) -> usize {
        self.shared.lock().map(|s| s.stops).unwrap_or_default()
    }
}

/// A speaker that records instead of speaking.
#[derive(Debug)]
pub struct SimSpeaker {
    control: SimSpeakerControl,
    health: Health,
}

impl SimSpeaker {
    /// A twin and its controls.
    pub fn new() -> (Self, SimSpeakerControl) {
        let control = SimSpeakerControl::default();
        (
            Self {
                control: control.clone(),
                health: Health::Unknown,
            },
            control,
        )
    }
}

impl Speaker for SimSpeaker {
    fn say(&mut self, text: &str, voice: Voice, volume: u8) -> Result<(), Error> {
        let mut s = self
            .control
            .shared
            .lock()
            .map_err(|_| Error::Injected("twin poisoned".into()))?;
        if let Some(why) = s.fail_next.take() {
            self.health = Health::Fault(why.clone());
            return Err(Error::Injected(why));
        }
        if volume > 0 && !text.trim().is_empty() {
            s.said.push(Utterance {
                text: text.to_string(),
                voice,
                volume,
            });
        }
        self.health = Health::Ok;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), Error> {
        if let Ok(mut s) = self.control.shared.lock() {
            s.stops += 1;
        }
        Ok(())
    }

    fn health(&self) -> Health {
        self.health.clone()
    }
}
