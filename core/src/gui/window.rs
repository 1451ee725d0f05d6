//! The touchscreen window of `kiosk run` (`linuxkms` on the device, winit on
//! a desktop); `kiosk demo` (in `kiosk-sim`) opens the same window on the
//! demo's kiosk, with a person playing the citizen.
//!
//! Slint runs on the main thread. Touches go to the controller, which sends
//! flow events to the runner; the runner's states come back through the
//! [`StateFeed`](super::feed::StateFeed) and a timer on the UI thread
//! draws them and speaks them.
//!
//! The kiosk cannot be escaped: the window has no frame, a close request
//! is refused, and only the technician PIN (five taps on the title) ends
//! the program.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kiosk_drivers::speaker::espeak::EspeakSpeaker;
use kiosk_ui::slint::{self, ComponentHandle};
use kiosk_ui::{Screens, UiError};
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

use super::controller::{Controller, Output};
use super::view::{build, ViewContext};
use super::voice::Guide;
use crate::flow::{Event, State};

/// What the kiosk thread hands the window once it runs.
pub struct Attached {
    events: Sender<Event>,
    states: UnboundedReceiver<State>,
    ctx: ViewContext,
    face: Option<FaceFeed>,
    tech: Option<TechLink>,
}

/// What the technician menu reads and writes: the update state and
/// requests in the data folder, and the USB stick's mount point.
#[derive(Debug, Clone)]
pub struct TechLink {
    /// `[update]` (release file, USB mount point).
    pub update: crate::update::UpdateConfig,
    /// The kiosk's data folder.
    pub data_dir: std::path::PathBuf,
}

/// What the face actor publishes for the screen: its prompts and the live
/// preview.
pub struct FaceFeed {
    /// Prompt, hint, progress.
    pub prompts: tokio::sync::watch::Receiver<crate::runtime::face::FacePrompt>,
    /// The mirrored preview while an attempt runs.
    pub preview:
        tokio::sync::watch::Receiver<Option<std::sync::Arc<crate::runtime::face::Preview>>>,
}

impl FaceFeed {
    /// The screen's subscription to `actor`.
    pub fn of(actor: &crate::runtime::face::FaceActor) -> Self {
        Self {
            prompts: actor.prompt.clone(),
            preview: actor.preview.clone(),
        }
    }
}

/// Why the window failed.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The window could not open.
    #[error(transparent)]
    Ui(#[from] UiError),
    /// Slint's event loop failed.
    #[error("the touchscreen stopped: {0}")]
    EventLoop(#[from] slint::PlatformError),
    /// A thread could not start or stopped unexpectedly.
    #[error("the kiosk thread failed: {0}")]
    Thread(String),
}

/// Window options: the `[ui]` config.
#[derive(Debug, Clone)]
pub struct WindowOptions {
    /// PIN, voice.
    pub ui: super::UiConfig,
}

struct App {
    state: State,
    controller: Controller,
    guide: Guide<EspeakSpeaker>,
    ctx: ViewContext,
    events: Sender<Event>,
    tech: Option<TechLink>,
}

impl App {
    /// Refreshes the technician menu from the update state and the stick;
    /// true when it changed.
    fn refresh_menu(&mut self) -> bool {
        let Some(link) = &self.tech else {
            return false;
        };
        let report = crate::update::SystemReport::read(&link.update, &link.data_dir);
        let bundles = crate::update::usb_bundles(&link.update.usb_dir);
        let idle = self.state.phase.name() == "attract" && self.state.session.is_none();
        let lang = self.controller.lang();
        self.controller
            .set_menu(super::technician::menu(&report, &bundles, idle, lang))
    }

    fn view(&self) -> kiosk_ui::View {
        build(
            &self.state,
            self.controller.local(),
            &self.ctx,
            chrono::Utc::now(),
        )
    }
}

/// The touchscreen of `kiosk run`: hand it to [`crate::app::run`], which
/// attaches the running kiosk to it.
pub struct Touchscreen {
    ready: std::sync::mpsc::Sender<Attached>,
}

impl Touchscreen {
    /// A touchscreen link and the window's end of it, for [`run_device`].
    pub fn link() -> (Touchscreen, std::sync::mpsc::Receiver<Attached>) {
        let (ready, rx) = std::sync::mpsc::channel();
        (Touchscreen { ready }, rx)
    }

    /// Attaches the running kiosk to the window; false when the window
    /// is gone.
    pub fn attach(
        self,
        events: Sender<Event>,
        states: UnboundedReceiver<State>,
        ctx: ViewContext,
        face: Option<FaceFeed>,
        tech: Option<TechLink>,
    ) -> bool {
        self.ready
            .send(Attached {
                events,
                states,
                ctx,
                face,
                tech,
            })
            .is_ok()
    }
}

/// `kiosk run` with its touchscreen: the window on this (main) thread until
/// `kiosk_done` says the kiosk stopped (or the technician PIN ends it).
/// Returns an error when the window cannot open (no display): the caller
/// carries on without a screen.
pub fn run_device(
    attached: std::sync::mpsc::Receiver<Attached>,
    win: &WindowOptions,
    kiosk_done: std::sync::mpsc::Receiver<()>,
) -> Result<(), WindowError> {
    let Ok(attached) = attached.recv() else {
        // The kiosk stopped before it was ready: nothing to show.
        return Ok(());
    };
    // End the event loop when the kiosk ends (SIGTERM, a fatal error).
    std::thread::Builder::new()
        .name("screen-watch".into())
        .spawn(move || {
            let _ = kiosk_done.recv();
            let _ = slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            });
        })
        .map_err(|e| WindowError::Thread(e.to_string()))?;
    serve(attached, win)
}

/// The window, attached to a running kiosk, until the event loop ends
/// (the technician PIN, or [`slint::quit_event_loop`]).
pub fn serve(attached: Attached, win: &WindowOptions) -> Result<(), WindowError> {
    let screens = Rc::new(Screens::new()?);
    screens
        .window()
        .window()
        .on_close_requested(|| slint::CloseRequestResponse::KeepWindowShown);
    let app = Rc::new(RefCell::new(App {
        state: State::new(),
        controller: Controller::new(win.ui.technician_pin.clone(), win.ui.muted),
        guide: Guide::new(
            EspeakSpeaker::new(win.ui.espeak.clone()).with_rate(win.ui.speech_rate),
            win.ui.muted,
        ),
        ctx: attached.ctx,
        events: attached.events,
        tech: attached.tech,
    }));
    let draw = {
        let screens = Rc::downgrade(&screens);
        let app = app.clone();
        move |speak: bool| {
            let (Some(screens), Ok(mut a)) = (screens.upgrade(), app.try_borrow_mut()) else {
                return;
            };
            let view = a.view();
            screens.show(&view);
            if speak {
                a.guide.show(&view);
            }
        }
    };
    draw(true);
    {
        let app = app.clone();
        let draw = draw.clone();
        screens.on_action(move |action| {
            let outputs = {
                let Ok(mut a) = app.try_borrow_mut() else {
                    return;
                };
                let state = a.state.clone();
                a.controller.act(action, &state)
            };
            for out in outputs {
                match out {
                    Output::Event(e) => {
                        if let Ok(a) = app.try_borrow() {
                            if a.events.try_send(e).is_err() {
                                tracing::warn!("the kiosk is busy: a touch was dropped");
                            }
                        }
                    }
                    Output::Redraw => draw(false),
                    Output::Replay => {
                        if let Ok(mut a) = app.try_borrow_mut() {
                            let view = a.view();
                            a.guide.replay(&view);
                        }
                    }
                    Output::Technician => {
                        let _ = slint::quit_event_loop();
                    }
                    Output::Install(bundle) => {
                        if let Ok(mut a) = app.try_borrow_mut() {
                            if let Some(link) = &a.tech {
                                match crate::update::request_usb_install(&link.data_dir, &bundle) {
                                    Ok(()) => tracing::info!(
                                        "technician: install of {} from the USB stick asked for",
                                        bundle.display()
                                    ),
                                    Err(e) => tracing::warn!(
                                        "technician: cannot ask for the install: {e}"
                                    ),
                                }
                            }
                            a.refresh_menu();
                        }
                        draw(false);
                    }
                    Output::Restart => {
                        if let Ok(a) = app.try_borrow() {
                            if let Some(link) = &a.tech {
                                match crate::update::request_reboot(&link.data_dir) {
                                    Ok(()) => tracing::info!(
                                        "technician: restart into the installed update"
                                    ),
                                    Err(e) => {
                                        tracing::warn!(
                                            "technician: cannot ask for the restart: {e}"
                                        )
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
    }
    // The runner's states, drawn as they come (every 40 ms at most), and
    // the face check's prompts.
    let mut states = attached.states;
    let mut face = attached.face;
    let timer = slint::Timer::default();
    let mut menu_refreshed: Option<std::time::Instant> = None;
    {
        let app = app.clone();
        let preview_screens = Rc::downgrade(&screens);
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(40),
            move || {
                let mut changed = false;
                while let Ok(s) = states.try_recv() {
                    if let Ok(mut a) = app.try_borrow_mut() {
                        a.controller.observe(&s);
                        a.state = s;
                        changed = true;
                    }
                }
                if let Some(f) = face.as_mut() {
                    if f.prompts.has_changed().unwrap_or(false) {
                        let prompt = f.prompts.borrow_and_update().clone();
                        if let Ok(mut a) = app.try_borrow_mut() {
                            changed |= a.controller.face(&prompt);
                        }
                    }
                    if f.preview.has_changed().unwrap_or(false) {
                        let preview = f.preview.borrow_and_update().clone();
                        if let Some(screens) = preview_screens.upgrade() {
                            screens.show_preview(
                                preview.as_deref().map(|p| (p.width, p.height, &p.rgb[..])),
                            );
                        }
                    }
                }
                // The technician menu follows the install about once a
                // second while it is open.
                if let Ok(mut a) = app.try_borrow_mut() {
                    if a.controller.menu_open() {
                        if menu_refreshed.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            menu_refreshed = Some(std::time::Instant::now());
                            if a.refresh_menu() {
                                drop(a);
                                draw(false);
                            }
                        }
                    } else {
                        menu_refreshed = None;
                    }
                }
                if changed {
                    draw(true);
                }
            },
        );
    }
    screens.window().show()?;
    let ran = slint::run_event_loop_until_quit();
    drop(timer);
    Ok(ran?)
}
