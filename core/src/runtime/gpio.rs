//! The GPIO actor: reads the presence sensor and the tamper switch, drives
//! the status LED and the camera light, four times a second.
//!
//! - Presence wakes the screen at once and dims it after `absent_secs` with
//!   nobody seen: published on a `watch` channel (`awake`) for the UI, and
//!   written to the backlight's sysfs `brightness` file when one is set.
//! - The tamper switch becomes a device health (`tamper`), so an open
//!   cabinet is an alarm in `/status`; an unreadable switch is an alarm too.
//! - The LED shows the most urgent of fault (a device in fault, tamper),
//!   offline (the last sync with central failed), in session (not on the
//!   attract screen) and ready, with [`led_level`]'s patterns.
//! - The camera light is on while the screen is `face-capture`.
//!
//! The kiosk runs without any of it configured, and keeps running when the
//! GPIO block cannot be opened (the tamper health then says why).

use std::time::Duration;

use kiosk_drivers::gpio::{self, led_level, GpioBank, GpioConfig, LedState};
use kiosk_drivers::Health;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::sync::SyncStatus;
use super::Screen;

/// What the actor watches.
pub struct GpioInputs {
    /// The flow's screen.
    pub screen: watch::Receiver<Screen>,
    /// The sync task (offline when its last attempt failed).
    pub sync: watch::Receiver<SyncStatus>,
    /// Device health (fault shows on the LED).
    pub devices: Vec<watch::Receiver<Health>>,
}

/// The running actor.
pub struct GpioActor {
    /// Someone is at the kiosk (or was, less than `absent_secs` ago).
    pub awake: watch::Receiver<bool>,
    /// The task.
    pub task: tokio::task::JoinHandle<()>,
}

/// Opens the configured backend.
pub fn open_bank(cfg: &GpioConfig) -> Result<Box<dyn GpioBank>, gpio::Error> {
    match cfg.backend {
        gpio::Backend::Rppal => Ok(Box::new(gpio::rppal::RppalGpio::open()?)),
        #[cfg(feature = "sim")]
        gpio::Backend::Sim => Ok(Box::new(gpio::sim::SimGpio::new().0)),
        #[cfg(not(feature = "sim"))]
        gpio::Backend::Sim => Err(gpio::Error::Unavailable(
            "backend = \"sim\" is the twin, which is not part of the kiosk".into(),
        )),
    }
}

/// The LED state from what the kiosk knows now.
pub fn led_state(screen: &Screen, offline: bool, fault: bool) -> LedState {
    if fault {
        LedState::Fault
    } else if offline {
        LedState::Offline
    } else if screen.phase != "attract" {
        LedState::InSession
    } else {
        LedState::Ready
    }
}

/// Logs an I/O problem once, not four times a second.
#[derive(Default)]
struct Once(bool);

impl Once {
    fn warn(&mut self, what: &str, e: &dyn std::fmt::Display) {
        if !self.0 {
            warn!("{what}: {e}");
            self.0 = true;
        }
    }
}

/// Claims the lines and spawns the actor. `tamper` receives the tamper
/// switch's health (also when claiming fails).
pub fn spawn(
    cfg: GpioConfig,
    mut bank: Box<dyn GpioBank>,
    inputs: GpioInputs,
    tamper: watch::Sender<Health>,
) -> Result<GpioActor, gpio::Error> {
    if let Err(e) = cfg.claim(bank.as_mut()) {
        tamper.send_replace(Health::Fault(format!("tamper switch unusable: {e}")));
        return Err(e);
    }
    let (awake_tx, awake) = watch::channel(true);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / gpio::LED_TICKS_PER_SEC));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        let mut last_seen = Instant::now();
        let mut backlight_err = Once::default();
        let mut io_err = Once::default();
        if let Some(p) = &cfg.presence {
            set_backlight(p, true, &mut backlight_err);
        }
        loop {
            tick.tick().await;
            let mut fault = false;
            if let Some(p) = &cfg.presence {
                match bank.read(p.input.pin) {
                    Ok(level) if p.input.active(level) => last_seen = Instant::now(),
                    Ok(_) => {}
                    Err(e) => io_err.warn("presence sensor", &e),
                }
                let now_awake = last_seen.elapsed() < Duration::from_secs(p.absent_secs);
                if *awake_tx.borrow() != now_awake {
                    info!(awake = now_awake, "presence");
                    awake_tx.send_replace(now_awake);
                    set_backlight(p, now_awake, &mut backlight_err);
                }
            }
            if let Some(t) = &cfg.tamper {
                let h = match bank.read(t.pin) {
                    Ok(level) if t.active(level) => {
                        Health::Fault("tamper switch: cabinet open".into())
                    }
                    Ok(_) => Health::Ok,
                    Err(e) => Health::Fault(format!("tamper switch unreadable: {e}")),
                };
                fault |= matches!(h, Health::Fault(_));
                tamper.send_if_modified(|old| {
                    let changed = *old != h;
                    if changed {
                        *old = h;
                    }
                    changed
                });
            }
            fault |= inputs
                .devices
                .iter()
                .any(|h| matches!(*h.borrow(), Health::Fault(_)));
            let screen = inputs.screen.borrow().clone();
            let offline = inputs.sync.borrow().last_error.is_some();
            if let Some(led) = cfg.status_led {
                let on = led_level(led_state(&screen, offline, fault), n);
                if let Err(e) = bank.write(led.pin, led.level(on)) {
                    io_err.warn("status LED", &e);
                }
            }
            if let Some(light) = cfg.camera_light {
                let on = screen.phase == "face-capture";
                if let Err(e) = bank.write(light.pin, light.level(on)) {
                    io_err.warn("camera light", &e);
                }
            }
            n = n.wrapping_add(1);
        }
    });
    Ok(GpioActor { awake, task })
}

fn set_backlight(p: &gpio::PresenceConfig, awake: bool, err: &mut Once) {
    if let Some(path) = &p.backlight {
        let value = if awake { p.bright } else { p.dim };
        if let Err(e) = std::fs::write(path, format!("{value}\n")) {
            err.warn(&format!("backlight {}", path.display()), &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_drivers::gpio::sim::{SimGpio, SimGpioControl};
    use kiosk_drivers::gpio::{InputPin, OutputPin, PresenceConfig, Pull};

    const PRESENCE: u8 = 17;
    const LED: u8 = 22;
    const LIGHT: u8 = 23;
    const TAMPER: u8 = 27;

    fn screen(phase: &'static str) -> Screen {
        Screen {
            phase,
            ..Screen::attract()
        }
    }

    struct Rig {
        ctl: SimGpioControl,
        actor: GpioActor,
        screen: watch::Sender<Screen>,
        _sync: watch::Sender<SyncStatus>,
        tamper: watch::Receiver<Health>,
        backlight: std::path::PathBuf,
        _dir: tempfile::TempDir,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let backlight = dir.path().join("brightness");
        let cfg = GpioConfig {
            backend: gpio::Backend::Sim,
            presence: Some(PresenceConfig {
                input: InputPin {
                    pin: PRESENCE,
                    active_low: false,
                    pull: Pull::Down,
                },
                absent_secs: 30,
                backlight: Some(backlight.clone()),
                bright: 200,
                dim: 10,
            }),
            status_led: Some(OutputPin {
                pin: LED,
                active_low: false,
            }),
            camera_light: Some(OutputPin {
                pin: LIGHT,
                active_low: false,
            }),
            tamper: Some(InputPin {
                pin: TAMPER,
                active_low: true,
                pull: Pull::Up,
            }),
        };
        let (bank, ctl) = SimGpio::new();
        let (screen, screen_rx) = watch::channel(screen("attract"));
        let (sync, sync_rx) = watch::channel(SyncStatus::default());
        let (tamper_tx, tamper) = watch::channel(Health::Unknown);
        let actor = spawn(
            cfg,
            Box::new(bank),
            GpioInputs {
                screen: screen_rx,
                sync: sync_rx,
                devices: vec![],
            },
            tamper_tx,
        )
        .expect("claims");
        Rig {
            ctl,
            actor,
            screen,
            _sync: sync,
            tamper,
            backlight,
            _dir: dir,
        }
    }

    /// Lets the actor run for `ms` of paused time.
    async fn run_for(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_dims_the_screen_and_someone_wakes_it() {
        let r = rig();
        run_for(1_000).await;
        assert!(*r.actor.awake.borrow(), "awake at start");
        assert_eq!(std::fs::read_to_string(&r.backlight).expect("bl"), "200\n");
        run_for(30_000).await;
        assert!(!*r.actor.awake.borrow(), "dimmed after 30 s with nobody");
        assert_eq!(std::fs::read_to_string(&r.backlight).expect("bl"), "10\n");
        r.ctl.set_input(PRESENCE, true);
        run_for(500).await;
        assert!(*r.actor.awake.borrow(), "woken");
        assert_eq!(std::fs::read_to_string(&r.backlight).expect("bl"), "200\n");
        r.actor.task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_cabinet_is_a_fault_and_the_led_blinks_fast() {
        let r = rig();
        run_for(1_000).await;
        assert_eq!(*r.tamper.borrow(), Health::Ok, "pulled up: closed cabinet");
        assert_eq!(r.ctl.output(LED), Some(true), "ready: steady on");
        let before = r.ctl.changes(LED);
        r.ctl.set_input(TAMPER, false);
        run_for(2_000).await;
        assert!(matches!(&*r.tamper.borrow(), Health::Fault(w) if w.contains("cabinet open")));
        assert!(
            r.ctl.changes(LED) >= before + 6,
            "fast blink toggles every tick"
        );
        r.ctl.set_input(TAMPER, true);
        run_for(500).await;
        assert_eq!(*r.tamper.borrow(), Health::Ok, "closed again");
        r.actor.task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn the_camera_light_is_on_only_during_face_capture() {
        let r = rig();
        run_for(500).await;
        assert_eq!(r.ctl.output(LIGHT), Some(false));
        r.screen.send_replace(screen("face-capture"));
        run_for(500).await;
        assert_eq!(r.ctl.output(LIGHT), Some(true));
        r.screen.send_replace(screen("form"));
        run_for(500).await;
        assert_eq!(r.ctl.output(LIGHT), Some(false));
        r.actor.task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_gpio_block_makes_the_tamper_switch_an_alarm() {
        let r = rig();
        run_for(500).await;
        r.ctl.set_failing(true);
        run_for(500).await;
        assert!(matches!(&*r.tamper.borrow(), Health::Fault(w) if w.contains("unreadable")));
        r.actor.task.abort();
    }

    #[test]
    fn led_state_priorities() {
        assert_eq!(led_state(&screen("attract"), false, false), LedState::Ready);
        assert_eq!(
            led_state(&screen("form"), false, false),
            LedState::InSession
        );
        assert_eq!(led_state(&screen("form"), true, false), LedState::Offline);
        assert_eq!(led_state(&screen("attract"), true, true), LedState::Fault);
    }

    #[test]
    fn the_sim_backend_opens_and_claiming_a_pin_twice_fails() {
        let cfg = GpioConfig {
            backend: gpio::Backend::Sim,
            status_led: Some(OutputPin {
                pin: 5,
                active_low: false,
            }),
            tamper: Some(InputPin {
                pin: 5,
                active_low: false,
                pull: Pull::Off,
            }),
            ..GpioConfig::default()
        };
        let mut bank = open_bank(&cfg).expect("sim opens");
        assert!(cfg.claim(bank.as_mut()).is_err());
    }
}
