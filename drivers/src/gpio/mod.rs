//! GPIO: the kiosk's simple signals on the board's header.
//!
//! Four optional lines, each at the pin number the config gives (BCM
//! numbering):
//! - a presence sensor (PIR or radar, input): someone is at the kiosk, so
//!   the attract screen wakes; nobody for a while, so it dims;
//! - a status LED (output): ready / in session / fault / offline, as blink
//!   patterns ([`led_level`]);
//! - a camera light (output): on during face capture;
//! - a tamper switch (input): the cabinet is open, an alarm in `/status`.
//!
//! The rest of the system sees only [`GpioBank`]. Implementations:
//! [`rppal::RppalGpio`] (the Raspberry Pi, feature `gpio-rppal`; elsewhere
//! it fails to open with a clear message) and [`sim::SimGpio`], the twin,
//! whose inputs are set and outputs read through a [`sim::SimGpioControl`],
//! and which can fail on demand. Nothing here is personal data.

pub mod rppal;
#[cfg(any(test, feature = "sim"))]
pub mod sim;

use serde::{Deserialize, Serialize};

/// Why a GPIO operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The GPIO hardware cannot be used here.
    #[error("GPIO unavailable: {0}")]
    Unavailable(String),
    /// A pin could not be claimed or used.
    #[error("GPIO pin {pin}: {reason}")]
    Pin {
        /// BCM pin number.
        pin: u8,
        /// What went wrong.
        reason: String,
    },
}

/// The pull resistor of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Pull {
    /// None (the sensor drives the line).
    #[default]
    Off,
    /// Pull-up (a switch to ground).
    Up,
    /// Pull-down.
    Down,
}

/// A set of GPIO lines: configure, read, write. Reads and writes are
/// register or file operations that return at once.
pub trait GpioBank: Send + 'static {
    /// Claims `pin` as an input.
    fn input(&mut self, pin: u8, pull: Pull) -> Result<(), Error>;
    /// Claims `pin` as an output, initially low.
    fn output(&mut self, pin: u8) -> Result<(), Error>;
    /// The level of an input claimed before (`true` = high).
    fn read(&mut self, pin: u8) -> Result<bool, Error>;
    /// Sets an output claimed before.
    fn write(&mut self, pin: u8, high: bool) -> Result<(), Error>;
}

/// Which implementation drives the pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The Raspberry Pi's GPIO (rppal).
    #[default]
    Rppal,
    /// The twin (tests, the emulated board).
    Sim,
}

/// An input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPin {
    /// BCM pin number.
    pub pin: u8,
    /// The line reads low when active (a switch to ground).
    #[serde(default)]
    pub active_low: bool,
    /// Pull resistor.
    #[serde(default)]
    pub pull: Pull,
}

impl InputPin {
    /// Whether a raw level means "active".
    pub fn active(&self, high: bool) -> bool {
        high != self.active_low
    }
}

/// An output line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputPin {
    /// BCM pin number.
    pub pin: u8,
    /// The light is on when the line is low.
    #[serde(default)]
    pub active_low: bool,
}

impl OutputPin {
    /// The raw level for "on" / "off".
    pub fn level(&self, on: bool) -> bool {
        on != self.active_low
    }
}

/// The presence sensor and what it does to the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceConfig {
    /// The sensor's line.
    #[serde(flatten)]
    pub input: InputPin,
    /// Nobody seen for this long: the screen dims (seconds).
    #[serde(default = "default_absent_secs")]
    pub absent_secs: u64,
    /// The display backlight's `brightness` file in sysfs, if the kiosk dims it.
    #[serde(default)]
    pub backlight: Option<std::path::PathBuf>,
    /// Brightness when someone is there.
    #[serde(default = "default_bright")]
    pub bright: u32,
    /// Brightness when nobody is there.
    #[serde(default = "default_dim")]
    pub dim: u32,
}

fn default_absent_secs() -> u64 {
    60
}
fn default_bright() -> u32 {
    255
}
fn default_dim() -> u32 {
    16
}

/// `[gpio]`: every line optional; none configured means no GPIO at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GpioConfig {
    /// Implementation.
    pub backend: Backend,
    /// Presence sensor.
    pub presence: Option<PresenceConfig>,
    /// Status LED.
    pub status_led: Option<OutputPin>,
    /// Camera light.
    pub camera_light: Option<OutputPin>,
    /// Tamper switch: active means the cabinet is open.
    pub tamper: Option<InputPin>,
}

impl GpioConfig {
    /// Whether any line is configured.
    pub fn any(&self) -> bool {
        self.presence.is_some()
            || self.status_led.is_some()
            || self.camera_light.is_some()
            || self.tamper.is_some()
    }

    /// Every pin number in use, to refuse one pin used twice.
    pub fn check(&self) -> Result<(), String> {
        let mut pins: Vec<u8> = [
            self.presence.as_ref().map(|p| p.input.pin),
            self.status_led.map(|p| p.pin),
            self.camera_light.map(|p| p.pin),
            self.tamper.map(|p| p.pin),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(p) = pins.iter().find(|p| **p > 53) {
            return Err(format!("gpio: pin {p} does not exist (BCM 0..=53)"));
        }
        pins.sort_unstable();
        if let Some(w) = pins.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("gpio: pin {} is configured twice", w[0]));
        }
        Ok(())
    }

    /// Claims every configured line on `bank`.
    pub fn claim(&self, bank: &mut dyn GpioBank) -> Result<(), Error> {
        if let Some(p) = &self.presence {
            bank.input(p.input.pin, p.input.pull)?;
        }
        if let Some(t) = &self.tamper {
            bank.input(t.pin, t.pull)?;
        }
        for o in [self.status_led, self.camera_light].into_iter().flatten() {
            bank.output(o.pin)?;
            bank.write(o.pin, o.level(false))?;
        }
        Ok(())
    }
}

/// What the status LED shows, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedState {
    /// A device fault or an open cabinet: fast blink.
    Fault,
    /// Central unreachable: a short flash every two seconds.
    Offline,
    /// A citizen is being served: slow blink.
    InSession,
    /// Ready: steady on.
    Ready,
}

/// Ticks per second of the LED pattern.
pub const LED_TICKS_PER_SEC: u64 = 4;

/// The LED level at `tick` (4 per second) for `state`: steady for ready,
/// 1 s on / 1 s off in session, 4 Hz for a fault, a 250 ms flash every 2 s
/// offline. Pure, so the patterns are tested without time.
pub fn led_level(state: LedState, tick: u64) -> bool {
    match state {
        LedState::Ready => true,
        LedState::InSession => (tick / LED_TICKS_PER_SEC) % 2 == 0,
        LedState::Fault => tick % 2 == 0,
        LedState::Offline => tick % (2 * LED_TICKS_PER_SEC) == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn led_patterns_are_distinct_over_two_seconds() {
        let pattern = |s| (0..8).map(|t| led_level(s, t)).collect::<Vec<_>>();
        assert_eq!(pattern(LedState::Ready), vec![true; 8]);
        assert_eq!(
            pattern(LedState::InSession),
            vec![true, true, true, true, false, false, false, false]
        );
        assert_eq!(
            pattern(LedState::Fault),
            vec![true, false, true, false, true, false, true, false]
        );
        assert_eq!(
            pattern(LedState::Offline),
            vec![true, false, false, false, false, false, false, false]
        );
    }

    #[test]
    fn active_low_lines_invert() {
        let i = InputPin {
            pin: 4,
            active_low: true,
            pull: Pull::Up,
        };
        assert!(i.active(false));
        assert!(!i.active(true));
        let o = OutputPin {
            pin: 5,
            active_low: true,
        };
        assert!(!o.level(true));
    }

    #[test]
    fn config_parses_and_refuses_a_pin_used_twice() {
        let c: GpioConfig = toml::from_str(
            r#"
            backend = "sim"
            presence = { pin = 17, absent_secs = 30 }
            status_led = { pin = 22 }
            camera_light = { pin = 23 }
            tamper = { pin = 27, active_low = true, pull = "up" }
            "#,
        )
        .expect("parses");
        assert!(c.any());
        assert!(c.check().is_ok());
        assert_eq!(c.presence.as_ref().map(|p| p.absent_secs), Some(30));
        let mut twice = c.clone();
        twice.camera_light = Some(OutputPin {
            pin: 22,
            active_low: false,
        });
        assert!(twice.check().expect_err("twice").contains("22"));
        assert!(!GpioConfig::default().any());
        // (Unknown keys such as `led` are refused by the kiosk's config
        // loader, which knows the file's format: kiosk::config.)
        assert!(toml::from_str::<GpioConfig>("presence = { pin = \"x\" }").is_err());
    }
}
