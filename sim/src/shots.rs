//! The screenshot writer of the headless demo: draws every state the flow
//! enters with Slint's software renderer and writes
//! `screens/NN-<phase>.png` (Chinese, as the kiosk shows by default) and
//! `screens/en/NN-<phase>.png` (English).
//!
//! Slint's platform is per thread and its windows are not `Send`, so the
//! writer runs on its own thread and receives the states from the runner's
//! [`StateFeed`](kiosk::gui::feed::StateFeed).

use std::path::{Path, PathBuf};

use kiosk_ui::headless::Headless;
use kiosk_ui::{Lang, UiError};
use tokio::sync::mpsc::UnboundedReceiver;

use kiosk::flow::State;
use kiosk::gui::controller::Controller;
use kiosk::gui::view::{build, ViewContext};

/// Screens written, by file name (Chinese ones), in order.
pub type Written = Vec<String>;

/// Why screenshots could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ShotError {
    /// The folder could not be made.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Slint failed.
    #[error(transparent)]
    Ui(#[from] UiError),
    /// The writer thread panicked.
    #[error("the screenshot writer stopped unexpectedly")]
    Panicked,
}

/// A running writer.
pub struct Shots {
    thread: std::thread::JoinHandle<Result<Written, ShotError>>,
}

impl Shots {
    /// Starts writing into `out/screens/` every state received, starting
    /// with `first` (the screen before any event).
    pub fn spawn(
        out: &Path,
        ctx: ViewContext,
        first: State,
        states: UnboundedReceiver<State>,
    ) -> Self {
        let out = out.join("screens");
        let thread = std::thread::Builder::new()
            .name("screenshots".into())
            .spawn(move || write_all(&out, &ctx, first, states));
        let thread = match thread {
            Ok(t) => t,
            // Could not start a thread: report it when joined.
            Err(e) => std::thread::spawn(move || {
                Err(ShotError::Dir {
                    path: PathBuf::from("screens"),
                    source: e,
                })
            }),
        };
        Self { thread }
    }

    /// Waits until the feed closed and every screen is written.
    pub fn finish(self) -> Result<Written, ShotError> {
        self.thread.join().map_err(|_| ShotError::Panicked)?
    }
}

fn write_all(
    out: &Path,
    ctx: &ViewContext,
    first: State,
    mut states: UnboundedReceiver<State>,
) -> Result<Written, ShotError> {
    let en = out.join("en");
    for d in [out, en.as_path()] {
        std::fs::create_dir_all(d).map_err(|source| ShotError::Dir {
            path: d.to_owned(),
            source,
        })?;
    }
    let ui = Headless::new()?;
    let mut controller = Controller::new("", false);
    let now = chrono::Utc::now();
    let mut written = Vec::new();
    let mut next = Some(first);
    while let Some(state) = next {
        controller.observe(&state);
        let name = format!("{:02}-{}.png", written.len(), state.phase.name());
        let mut local = controller.local().clone();
        for (lang, dir) in [(Lang::Zh, out), (Lang::En, en.as_path())] {
            local.lang = lang;
            let frame = ui.render(&build(&state, &local, ctx, now));
            frame.save_png(&dir.join(&name))?;
        }
        written.push(name);
        drop(state);
        next = states.blocking_recv();
    }
    Ok(written)
}
