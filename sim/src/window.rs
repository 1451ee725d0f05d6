//! `kiosk demo` with a window: the demo's kiosk (twins, central simulator)
//! runs on a background thread, and a person plays the citizen on the same
//! touchscreen window `kiosk run` opens ([`kiosk::gui::window`]).

use kiosk::flow::{Event, State};
use kiosk::gui::view::ViewContext;
use kiosk::gui::window::{serve, FaceFeed, Touchscreen, WindowError, WindowOptions};
use kiosk::gui::UiConfig;
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

use crate::demo::{DemoError, DemoOptions, Summary};

/// The person at the window, as the demo sees it: instead of a script,
/// hand the window the kiosk and wait until the window closes.
pub struct Human {
    screen: Touchscreen,
    closed: tokio::sync::oneshot::Receiver<()>,
}

impl Human {
    /// Connects the window to the kiosk and waits until it is closed.
    pub async fn play(
        self,
        events: Sender<Event>,
        states: UnboundedReceiver<State>,
        ctx: ViewContext,
        face: Option<FaceFeed>,
    ) {
        // The demo has no updates and no USB stick: no technician menu data.
        if self.screen.attach(events, states, ctx, face, None) {
            let _ = self.closed.await;
        }
    }
}

/// Why the window demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoWindowError {
    /// The demo's kiosk could not start.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// The window failed.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// The demo's kiosk thread could not start or panicked.
    #[error("the demo's kiosk thread failed: {0}")]
    Thread(String),
}

/// The demo window's options: the default `[ui]` with the technician PIN
/// `1234`.
pub fn demo_options() -> WindowOptions {
    WindowOptions {
        ui: UiConfig {
            technician_pin: "1234".into(),
            ..UiConfig::default()
        },
    }
}

/// Runs the demo's kiosk with a person at the window until the technician
/// ends it.
pub fn run(opts: DemoOptions, win: WindowOptions) -> Result<Summary, DemoWindowError> {
    let (screen, attached) = Touchscreen::link();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let human = Human {
        screen,
        closed: closed_rx,
    };
    let kiosk = std::thread::Builder::new()
        .name("kiosk".into())
        .spawn(move || -> Result<Summary, DemoWindowError> {
            let rt = tokio::runtime::Runtime::new()
                .map_err(|e| DemoWindowError::Thread(e.to_string()))?;
            Ok(rt.block_on(crate::demo::run_with(opts, Some(human)))?)
        })
        .map_err(|e| DemoWindowError::Thread(e.to_string()))?;
    let join = |k: std::thread::JoinHandle<Result<Summary, DemoWindowError>>| {
        k.join()
            .map_err(|_| DemoWindowError::Thread("the kiosk thread panicked".into()))?
    };
    let Ok(attached) = attached.recv() else {
        // The kiosk stopped before it was ready: its error says why.
        return join(kiosk);
    };
    let ran = serve(attached, &win);
    let _ = closed_tx.send(());
    ran?;
    join(kiosk)
}
