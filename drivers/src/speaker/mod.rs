//! Voice guidance: a [`Speaker`] reads each screen's essential text aloud.
//!
//! Two implementations side by side, as for every device:
//! [`espeak::EspeakSpeaker`] runs `espeak-ng` (Mandarin or English) to the
//! sound card, and [`sim::SimSpeaker`] records what it was asked to say and
//! can be told to fail. Speaking never blocks the screen: `say` starts the
//! utterance and returns, and a new `say` cuts the previous one short.
//!
//! What is spoken is screen text (titles, prompts), never personal data.

pub mod espeak;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod tests;

/// The voice's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Voice {
    /// Mandarin Chinese (`cmn`).
    Mandarin,
    /// English.
    English,
}

impl Voice {
    /// The `espeak-ng` voice name.
    pub fn espeak_name(self) -> &'static str {
        match self {
            Voice::Mandarin => "cmn",
            Voice::English => "en",
        }
    }
}

/// Loudness steps the screen offers (0 is silent).
pub const MAX_VOLUME: u8 = 5;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The speech program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The speech program ran and failed.
    #[error("`{program}` failed: {detail}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status and error output.
        detail: String,
    },
    /// The twin was told to fail.
    #[error("speaker fault injected: {0}")]
    Injected(String),
}

/// Something that speaks.
pub trait Speaker: Send {
    /// Starts saying `text` in `voice` at `volume` (0–[`MAX_VOLUME`]),
    /// cutting short what was being said. Returns once speaking started.
    fn say(&mut self, text: &str, voice: Voice, volume: u8) -> Result<(), Error>;

    /// Stops speaking now.
    fn stop(&mut self) -> Result<(), Error>;

    /// Health from the last attempt (no device access).
    fn health(&self) -> crate::Health;
}
