//! `espeak-ng` speaking to the default sound card.
//!
//! Each utterance is one `espeak-ng` process; a new utterance kills the
//! previous one, so a citizen who taps on quickly is not talked over.
//! [`EspeakSpeaker::synthesize`] writes the same speech as WAV bytes,
//! which is how tests (and `kiosk self-test`) check the voice without a
//! sound card.

use std::process::{Child, Command, Stdio};

use super::{Error, Speaker, Voice, MAX_VOLUME};
use crate::Health;

/// `espeak-ng` as a [`Speaker`].
#[derive(Debug)]
pub struct EspeakSpeaker {
    program: String,
    /// Words per minute (slow for elderly citizens: 140 by default).
    rate: u32,
    current: Option<Child>,
    health: Health,
}

impl EspeakSpeaker {
    /// A speaker running `program` (usually `espeak-ng`).
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            rate: 140,
            current: None,
            health: Health::Unknown,
        }
    }

    /// Sets the speaking rate in words per minute.
    pub fn with_rate(mut self, rate: u32) -> Self {
        self.rate = rate.clamp(80, 300);
        self
    }

    /// The command saying `text`; with `stdout`, the WAV goes to stdout
    /// instead of the sound card.
    fn command(&self, text: &str, voice: Voice, volume: u8, stdout: bool) -> Command {
        // espeak-ng's amplitude runs 0–200; 100 is its default loudness.
        let amplitude = u32::from(volume.min(MAX_VOLUME)) * 200 / u32::from(MAX_VOLUME);
        let mut c = Command::new(&self.program);
        if stdout {
            c.arg("--stdout");
        }
        c.arg("-v")
            .arg(voice.espeak_name())
            .arg("-s")
            .arg(self.rate.to_string())
            .arg("-a")
            .arg(amplitude.to_string())
            // The text comes after `--` so a text starting with `-` is not an option.
            .arg("--")
            .arg(text)
            .stdin(Stdio::null());
        c
    }

    /// The speech as a WAV file's bytes (no sound card needed).
    pub fn synthesize(&self, text: &str, voice: Voice, volume: u8) -> Result<Vec<u8>, Error> {
        let out = self
            .command(text, voice, volume, true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| Error::Spawn {
                program: self.program.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::Failed {
                program: self.program.clone(),
                detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
            });
        }
        Ok(out.stdout)
    }
}

impl Speaker for EspeakSpeaker {
    fn say(&mut self, text: &str, voice: Voice, volume: u8) -> Result<(), Error> {
        self.stop()?;
        if volume == 0 || text.trim().is_empty() {
            return Ok(());
        }
        let spawned = self
            .command(text, voice, volume, false)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                self.current = Some(child);
                self.health = Health::Ok;
                Ok(())
            }
            Err(source) => {
                self.health = Health::Fault(format!("cannot start {}", self.program));
                Err(Error::Spawn {
                    program: self.program.clone(),
                    source,
                })
            }
        }
    }

    fn stop(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.current.take() {
            // Already finished is fine; reap it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
        Ok(())
    }

    fn health(&self) -> Health {
        self.health.clone()
    }
}

impl Drop for EspeakSpeaker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
