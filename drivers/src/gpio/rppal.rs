//! The Raspberry Pi's GPIO through the `rppal` crate (feature `gpio-rppal`,
//! which the device image enables). Without the feature, or on a board that
//! is not a Raspberry Pi, [`RppalGpio::open`] fails with a message saying so.

use super::{Error, GpioBank, Pull};

#[cfg(feature = "gpio-rppal")]
mod imp {
    use std::collections::BTreeMap;

    use rppal::gpio::{Gpio, InputPin, OutputPin};

    use super::{Error, Pull};

    pub struct Pins {
        gpio: Gpio,
        inputs: BTreeMap<u8, InputPin>,
        outputs: BTreeMap<u8, OutputPin>,
    }

    fn pin_err(pin: u8) -> impl FnOnce(rppal::gpio::Error) -> Error {
        move |e| Error::Pin {
            pin,
            reason: e.to_string(),
        }
    }

    impl Pins {
        pub fn open() -> Result<Self, Error> {
            let gpio = Gpio::new().map_err(|e| {
                Error::Unavailable(format!(
                    "{e} (rppal drives the Raspberry Pi's GPIO only; use backend = \"sim\" elsewhere)"
                ))
            })?;
            Ok(Self {
                gpio,
                inputs: BTreeMap::new(),
                outputs: BTreeMap::new(),
            })
        }

        pub fn input(&mut self, pin: u8, pull: Pull) -> Result<(), Error> {
            let p = self.gpio.get(pin).map_err(pin_err(pin))?;
            let p = match pull {
                Pull::Off => p.into_input(),
                Pull::Up => p.into_input_pullup(),
                Pull::Down => p.into_input_pulldown(),
            };
            self.inputs.insert(pin, p);
            Ok(())
        }

        pub fn output(&mut self, pin: u8) -> Result<(), Error> {
            let p = self.gpio.get(pin).map_err(pin_err(pin))?;
            self.outputs.insert(pin, p.into_output_low());
            Ok(())
        }

        pub fn read(&mut self, pin: u8) -> Result<bool, Error> {
            self.inputs
                .get(&pin)
                .map(|p| p.is_high())
                .ok_or(Error::Pin {
                    pin,
                    reason: "not claimed as an input".into(),
                })
        }

        pub fn write(&mut self, pin: u8, high: bool) -> Result<(), Error> {
            let p = self.outputs.get_mut(&pin).ok_or(Error::Pin {
                pin,
                reason: "not claimed as an output".into(),
            })?;
            if high {
                p.set_high();
            } else {
                p.set_low();
            }
            Ok(())
        }
    }
}

#[cfg(not(feature = "gpio-rppal"))]
mod imp {
    use super::{Error, Pull};

    pub enum Pins {}

    impl Pins {
        pub fn open() -> Result<Self, Error> {
            Err(Error::Unavailable(
                "this kiosk was built without the Raspberry Pi GPIO (cargo feature `device` / `gpio-rppal`); use backend = \"sim\" or the device build".into(),
            ))
        }
        pub fn input(&mut self, _: u8, _: Pull) -> Result<(), Error> {
            match *self {}
        }
        pub fn output(&mut self, _: u8) -> Result<(), Error> {
            match *self {}
        }
        pub fn read(&mut self, _: u8) -> Result<bool, Error> {
            match *self {}
        }
        pub fn write(&mut self, _: u8, _: bool) -> Result<(), Error> {
            match *self {}
        }
    }
}

/// The Raspberry Pi's GPIO lines.
pub struct RppalGpio(imp::Pins);

impl RppalGpio {
    /// Opens the GPIO block; fails clearly off a Raspberry Pi or without the feature.
    pub fn open() -> Result<Self, Error> {
        imp::Pins::open().map(Self)
    }
}

impl GpioBank for RppalGpio {
    fn input(&mut self, pin: u8, pull: Pull) -> Result<(), Error> {
        self.0.input(pin, pull)
    }
    fn output(&mut self, pin: u8) -> Result<(), Error> {
        self.0.output(pin)
    }
    fn read(&mut self, pin: u8) -> Result<bool, Error> {
        self.0.read(pin)
    }
    fn write(&mut self, pin: u8, high: bool) -> Result<(), Error> {
        self.0.write(pin, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build and test machines are not Raspberry Pis: opening must fail
    /// with a message naming the way out, never panic.
    #[test]
    fn opening_off_a_pi_fails_clearly() {
        if std::path::Path::new("/dev/gpiomem").exists() {
            return; // a real Pi: nothing to assert here
        }
        let err = RppalGpio::open().err().expect("no GPIO here");
        let msg = err.to_string();
        assert!(msg.contains("GPIO unavailable"), "{msg}");
        assert!(msg.contains("sim"), "{msg}");
    }
}
