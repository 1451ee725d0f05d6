//! The GPIO twin: inputs set and outputs read through a [`SimGpioControl`],
//! faults injected on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Error, GpioBank, Pull};

#[derive(Debug, Default)]
struct State {
    inputs: BTreeMap<u8, bool>,
    outputs: BTreeMap<u8, bool>,
    /// How many times each output changed level.
    changes: BTreeMap<u8, u64>,
    failing: bool,
}

/// The twin's pins.
#[derive(Debug, Clone, Default)]
pub struct SimGpio {
    state: Arc<Mutex<State>>,
}

/// The test's side of the twin.
#[derive(Debug, Clone)]
pub struct SimGpioControl {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic elsewhere cannot leave pin levels inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimGpio {
    /// A twin and its control.
    pub fn new() -> (Self, SimGpioControl) {
        let s = Self::default();
        let c = SimGpioControl {
            state: s.state.clone(),
        };
        (s, c)
    }
}

impl SimGpioControl {
    /// Drives an input line.
    pub fn set_input(&self, pin: u8, high: bool) {
        lock(&self.state).inputs.insert(pin, high);
    }

    /// An output's level (`None` when not claimed).
    pub fn output(&self, pin: u8) -> Option<bool> {
        lock(&self.state).outputs.get(&pin).copied()
    }

    /// How many times an output changed level.
    pub fn changes(&self, pin: u8) -> u64 {
        lock(&self.state).changes.get(&pin).copied().unwrap_or(0)
    }

    /// Makes every operation fail (a dead GPIO block) or work again.
    pub fn set_failing(&self, failing: bool) {
        lock(&self.state).failing = failing;
    }
}

impl SimGpio {
    /// Claims `pin` as an input idling at `Some(level)`, or as an output (`None`).
    fn claim(&mut self, pin: u8, input_idle: Option<bool>) -> Result<(), Error> {
        let mut s = lock(&self.state);
        if s.failing {
            return Err(Error::Unavailable("simulated fault".into()));
        }
        let (taken, reason) = match input_idle {
            Some(_) => (s.outputs.contains_key(&pin), "already an output"),
            None => (s.inputs.contains_key(&pin), "already an input"),
        };
        if taken {
            return Err(Error::Pin {
                pin,
                reason: reason.into(),
            });
        }
        match input_idle {
            Some(idle) => {
                s.inputs.entry(pin).or_insert(idle);
            }
            None => {
                s.outputs.insert(pin, false);
            }
        }
        Ok(())
    }
}

impl GpioBank for SimGpio {
    fn input(&mut self, pin: u8, pull: Pull) -> Result<(), Error> {
        self.claim(pin, Some(pull == Pull::Up))
    }

    fn output(&mut self, pin: u8) -> Result<(), Error> {
        self.claim(pin, None)
    }

    fn read(&mut self, pin: u8) -> Result<bool, Error> {
        let s = lock(&self.state);
        if s.failing {
            return Err(Error::Pin {
                pin,
                reason: "simulated read fault".into(),
            });
        }
        s.inputs.get(&pin).copied().ok_or(Error::Pin {
            pin,
            reason: "not claimed as an input".into(),
        })
    }

    fn write(&mut self, pin: u8, high: bool) -> Result<(), Error> {
        let mut s = lock(&self.state);
        if s.failing {
            return Err(Error::Pin {
                pin,
                reason: "simulated write fault".into(),
            });
        }
        let Some(level) = s.outputs.get_mut(&pin) else {
            return Err(Error::Pin {
                pin,
                reason: "not claimed as an output".into(),
            });
        };
        let changed = *level != high;
        *level = high;
        if changed {
            *s.changes.entry(pin).or_default() += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_follow_the_control_and_outputs_are_visible() {
        let (mut g, c) = SimGpio::new();
        g.input(17, Pull::Up).expect("input");
        assert_eq!(g.read(17), Ok(true), "pulled up while idle");
        c.set_input(17, false);
        assert_eq!(g.read(17), Ok(false));
        g.output(22).expect("output");
        assert_eq!(c.output(22), Some(false));
        g.write(22, true).expect("write");
        g.write(22, true).expect("write");
        assert_eq!(c.output(22), Some(true));
        assert_eq!(c.changes(22), 1);
    }

    #[test]
    fn misuse_and_injected_faults_are_errors() {
        let (mut g, c) = SimGpio::new();
        assert!(g.read(3).is_err(), "unclaimed");
        assert!(g.write(3, true).is_err(), "unclaimed");
        g.output(4).expect("output");
        assert!(g.input(4, Pull::Off).is_err(), "pin used twice");
        c.set_failing(true);
        assert!(matches!(g.write(4, true), Err(Error::Pin { pin: 4, .. })));
        assert!(g.output(5).is_err());
        c.set_failing(false);
        assert!(g.write(4, true).is_ok());
    }
}
