//! The face actor: owns the camera and the face engine for the face path.
//!
//! On `Start` it begins (or retries) an engine session with the reference
//! photo and a fresh random challenge, then pulls camera frames and offers
//! them to the engine (a frame the busy engine cannot take is dropped and
//! wiped). What the engine says is published on a `watch` for the screen
//! (prompt, hint, progress: codes only, never a score or a pixel) and its
//! outcome goes to the flow as `FaceDecided`. `Stop` ends the session: the
//! engine wipes its frames and embeddings, and the actor drops (zeroizes)
//! its copy of the reference photo.
//!
//! The flow owns the attempt count: a mismatch here is reported as one
//! failed attempt, and the next `Start` retries with a new challenge.
//!
//! While an attempt runs, a small mirrored copy of each frame is published
//! on a second `watch` for the touchscreen's live preview (memory only,
//! zeroized when replaced; cleared when the attempt ends). Only the window
//! shows it: the headless demo's screenshots never include it, so no face
//! reaches the disk.

use std::sync::Arc;

use kiosk_drivers::camera::{Frame as CameraFrame, FrameSource};
use kiosk_drivers::Health;
use rand::SeedableRng;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::warn;
use zeroize::Zeroizing;

use super::devices::DeviceHandle;
use crate::face::decision::{FailReason, Outcome};
use crate::face::engine::{Event as EngineEvent, FaceEngineHandle, Frame, Request};
use crate::face::liveness::Challenge;
use crate::flow::{Event, FaceFailure};

/// Commands to the face actor.
#[derive(Debug)]
pub enum FaceCmd {
    /// The reference photo for this session (from the trusted-identity service).
    Reference(Zeroizing<Vec<u8>>),
    /// Start an attempt (a retry if a session runs).
    Start,
    /// End the session and wipe it.
    Stop,
    /// Decode QR codes from the camera (`true`) or stop: the one camera
    /// serves the e-ID and receipt scans too, never during a face check.
    ScanQr(bool),
}

/// What the face screen shows: codes for the UI's translation tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FacePrompt {
    /// Increases with every change.
    pub seq: u64,
    /// Whether a check is running.
    pub active: bool,
    /// The action asked for (`face.prompt.turn_left`, …).
    pub prompt: Option<&'static str>,
    /// Why the last frame did not count (`face.hint.too_dark`, …).
    pub hint: Option<&'static str>,
    /// Actions done in this attempt.
    pub done: u8,
    /// Actions in this attempt.
    pub total: u8,
}

/// A running face actor.
pub struct FaceActor {
    /// Commands and health.
    pub handle: DeviceHandle<FaceCmd>,
    /// What the face screen shows.
    pub prompt: watch::Receiver<FacePrompt>,
    /// The live preview while an attempt runs (`None` otherwise).
    pub preview: watch::Receiver<Option<Arc<Preview>>>,
}

/// Widest preview published (the screen shows it about 420 px wide).
pub const PREVIEW_MAX_WIDTH: u32 = 320;

/// A small mirrored RGB copy of a camera frame for the screen: the citizen
/// sees themselves as in a mirror. Zeroized when dropped; no pixels in
/// `Debug`.
pub struct Preview {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preview({}x{}, <face data>)", self.width, self.height)
    }
}

impl Preview {
    /// The preview of an RGB frame: shrunk by a whole factor (nearest
    /// pixel) to at most [`PREVIEW_MAX_WIDTH`] wide, mirrored left to right
    /// when `mirror` (a camera that already mirrors is shown as it comes).
    /// `None` for an empty or inconsistent frame.
    pub fn of(width: u32, height: u32, rgb: &[u8], mirror: bool) -> Option<Preview> {
        if width == 0 || height == 0 || rgb.len() != (width as usize) * (height as usize) * 3 {
            return None;
        }
        let step = width.div_ceil(PREVIEW_MAX_WIDTH).max(1);
        let (w, h) = (width / step, height / step);
        if w == 0 || h == 0 {
            return None;
        }
        let mut out = Zeroizing::new(Vec::with_capacity((w * h * 3) as usize));
        for y in 0..h {
            let row = (y * step) as usize * width as usize;
            for x in 0..w {
                let sx = if mirror {
                    (width - 1 - x * step) as usize
                } else {
                    (x * step) as usize
                };
                let i = (row + sx) * 3;
                out.extend_from_slice(&rgb[i..i + 3]);
            }
        }
        Some(Preview {
            width: w,
            height: h,
            rgb: out,
        })
    }
}

fn failure(reason: FailReason) -> Option<FaceFailure> {
    match reason {
        FailReason::Liveness(_) => Some(FaceFailure::Liveness),
        FailReason::NoMatch => Some(FaceFailure::Mismatch),
        FailReason::NoUsableFrame => Some(FaceFailure::NoFace),
        // The trusted photo has no usable face: no attempt here can match.
        FailReason::NoReferenceFace => Some(FaceFailure::Mismatch),
        FailReason::Internal => Some(FaceFailure::CameraFault),
        // We ended it ourselves; nobody is waiting for an answer.
        FailReason::Cancelled => None,
    }
}

/// Spawns the face actor around a camera and a running engine.
/// `actions` is the number of head movements per challenge; `mirrored`: the
/// camera delivers a mirror image (`face.liveness.mirrored`), so the preview
/// is shown as it comes and QR codes are flipped back before decoding.
pub fn spawn_face_actor<C: FrameSource + 'static>(
    camera: C,
    engine: FaceEngineHandle,
    actions: usize,
    mirrored: bool,
) -> FaceActor {
    let (tx, rx) = mpsc::channel(8);
    let (health_tx, health) = watch::channel(camera.health());
    let (prompt_tx, prompt) = watch::channel(FacePrompt::default());
    let (preview_tx, preview) = watch::channel(None);
    let events = Arc::default();
    let handle = DeviceHandle::new(tx, health, Arc::clone(&events));
    let frames = Arc::clone(&handle.frames);
    tokio::spawn(async move {
        let mut actor = Actor {
            camera,
            engine,
            actions,
            mirrored,
            cmds: rx,
            events,
            health: health_tx,
            prompt: prompt_tx,
            preview: preview_tx,
            reference: None,
            engine_session: false,
            capturing: false,
            scanning_qr: false,
            qr: super::qr::QrScan::new(mirrored),
            frames,
            rng: rand::rngs::StdRng::from_entropy(),
        };
        actor.run().await;
    });
    FaceActor {
        handle,
        prompt,
        preview,
    }
}

struct Actor<C> {
    camera: C,
    engine: FaceEngineHandle,
    actions: usize,
    /// The camera delivers a mirror image.
    mirrored: bool,
    cmds: mpsc::Receiver<FaceCmd>,
    events: super::devices::EventSink,
    health: watch::Sender<Health>,
    prompt: watch::Sender<FacePrompt>,
    preview: watch::Sender<Option<Arc<Preview>>>,
    reference: Option<Zeroizing<Vec<u8>>>,
    /// The engine holds a session (reference embedded).
    engine_session: bool,
    /// An attempt is running: frames flow.
    capturing: bool,
    /// A QR scan is running (and no attempt): frames go to the QR decoder.
    scanning_qr: bool,
    /// The codes of the running scan.
    qr: super::qr::QrScan,
    /// Frames received from the camera.
    frames: Arc<std::sync::atomic::AtomicU64>,
    rng: rand::rngs::StdRng,
}

impl<C: FrameSource> Actor<C> {
    async fn run(&mut self) {
        let paced = self.camera.paced_by_reader();
        loop {
            // A camera whose clock follows its reader gives a frame only when
            // the engine has finished the last one (and its events, handled
            // first below, have reached the screen).
            let engine_busy = paced && self.engine.requests.unfinished_frames() > 0;
            let want_frame = if self.capturing {
                !engine_busy
            } else {
                self.scanning_qr
            };
            tokio::select! {
                // Commands and the engine's events come first: they are few,
                // and a prompt must be shown before the next frame is taken.
                biased;
                cmd = self.cmds.recv() => match cmd {
                    Some(FaceCmd::Reference(r)) => {
                        self.end_engine_session();
                        self.reference = Some(r);
                    }
                    Some(FaceCmd::Start) => self.start().await,
                    Some(FaceCmd::Stop) => self.stop(),
                    Some(FaceCmd::ScanQr(on)) => {
                        self.scanning_qr = on;
                        self.qr.restart();
                    }
                    None => {
                        self.stop();
                        return;
                    }
                },
                ev = self.engine.events.recv() => match ev {
                    Some(ev) => self.engine_event(ev).await,
                    None => {
                        warn!("face engine stopped");
                        self.health.send_replace(Health::Fault("face engine stopped".into()));
                        if self.capturing {
                            self.decided(Err(FaceFailure::CameraFault)).await;
                        }
                        return;
                    }
                },
                () = self.engine.requests.wait_frame_finished(), if engine_busy => {}
                frame = self.camera.next_frame(), if want_frame => {
                    self.health.send_replace(self.camera.health());
                    if frame.is_ok() {
                        self.frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    match frame {
                        Ok(frame) if !self.capturing => self.scan_qr(frame).await,
                        Err(e) if !self.capturing => {
                            tracing::debug!("qr scan: camera: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        }
                        Ok(frame) => self.offer(frame),
                        Err(e) => {
                            warn!("camera: {e}");
                            self.end_engine_session();
                            self.decided(Err(FaceFailure::CameraFault)).await;
                        }
                    }
                    // A camera with a frame always ready would otherwise keep
                    // this worker (and a task woken here, such as the screen's
                    // reaction to a prompt) busy for many frames.
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    fn challenge(&mut self) -> Challenge {
        Challenge::random(&mut self.rng, self.actions)
    }

    async fn start(&mut self) {
        let challenge = self.challenge();
        let request = if self.engine_session {
            Request::Retry { challenge }
        } else {
            let Some(r) = &self.reference else {
                warn!("face check started without a reference photo");
                self.decided(Err(FaceFailure::CameraFault)).await;
                return;
            };
            // The engine wipes its copy after decoding; ours stays (zeroized
            // on Stop) so a later attempt can begin a fresh session.
            Request::Begin {
                reference_jpeg: r.to_vec(),
                challenge,
            }
        };
        if self.engine.requests.send(request).is_err() {
            self.health
                .send_replace(Health::Fault("face engine stopped".into()));
            return;
        }
        self.engine_session = true;
        self.capturing = true;
        self.publish(|p| {
            *p = FacePrompt {
                active: true,
                ..FacePrompt::default()
            }
        });
    }

    fn end_engine_session(&mut self) {
        if self.engine_session {
            let _ = self.engine.requests.send(Request::End);
        }
        self.engine_session = false;
        self.capturing = false;
        self.preview.send_replace(None);
    }

    fn stop(&mut self) {
        self.end_engine_session();
        self.reference = None;
        self.publish(|p| *p = FacePrompt::default());
    }

    async fn scan_qr(&mut self, frame: CameraFrame) {
        if let Some(payload) = self.qr.read(frame).await {
            super::devices::emit(&self.events, Event::QrScanned(payload)).await;
        }
    }

    fn offer(&mut self, mut frame: CameraFrame) {
        if let Some(p) = Preview::of(frame.width, frame.height, &frame.rgb, !self.mirrored) {
            self.preview.send_replace(Some(Arc::new(p)));
        }
        let rgb = std::mem::take(&mut frame.rgb);
        let Some(f) = Frame::new(frame.width, frame.height, rgb, frame.captured_at) else {
            return;
        };
        if self.engine.requests.offer_frame(f).is_err() {
            self.capturing = false;
        }
    }

    async fn engine_event(&mut self, ev: EngineEvent) {
        tracing::debug!(?ev, "face engine");
        match ev {
            EngineEvent::Prompt(a) => self.publish(|p| {
                p.prompt = Some(a.code());
                p.hint = None;
            }),
            EngineEvent::FaceTheCamera => {
                self.publish(|p| p.prompt = Some("face.prompt.face_camera"))
            }
            EngineEvent::Hint(h) => self.publish(|p| p.hint = Some(h.code())),
            EngineEvent::Progress { done, total } => self.publish(|p| {
                p.done = done;
                p.total = total;
            }),
            EngineEvent::Retry { .. } => {
                // One failed attempt; the flow decides whether another follows.
                self.capturing = false;
                self.decided(Err(FaceFailure::Mismatch)).await;
            }
            EngineEvent::Decided(Outcome::Pass) => {
                self.end_engine_session();
                self.decided(Ok(())).await;
            }
            EngineEvent::Decided(Outcome::Fail(reason)) => {
                tracing::debug!(reason = reason.code(), "face check failed");
                self.end_engine_session();
                if let Some(f) = failure(reason) {
                    self.decided(Err(f)).await;
                }
            }
        }
    }

    async fn decided(&mut self, result: Result<(), FaceFailure>) {
        self.capturing = false;
        self.preview.send_replace(None);
        self.publish(|p| {
            p.active = false;
            p.prompt = None;
        });
        super::devices::emit(&self.events, Event::FaceDecided(result)).await;
    }

    fn publish(&self, f: impl FnOnce(&mut FacePrompt)) {
        self.prompt.send_modify(|p| {
            f(p);
            p.seq += 1;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_is_small_and_mirrored() {
        // 8x2: the left column red, the rest grey.
        let (w, h) = (8u32, 2u32);
        let mut rgb = vec![100u8; (w * h * 3) as usize];
        for y in 0..h as usize {
            rgb[y * w as usize * 3] = 255;
        }
        let p = Preview::of(w, h, &rgb, true).expect("preview");
        assert_eq!((p.width, p.height), (8, 2), "small frames keep their size");
        assert_eq!(
            p.rgb[(7 * 3) as usize],
            255,
            "the left edge shows on the right"
        );
        assert_eq!(p.rgb[0], 100);
        // A camera that mirrors already is shown as it comes.
        let p = Preview::of(w, h, &rgb, false).expect("preview");
        assert_eq!((p.rgb[0], p.rgb[7 * 3]), (255, 100));

        let (w, h) = (1280u32, 720u32);
        let rgb = vec![7u8; (w * h * 3) as usize];
        let p = Preview::of(w, h, &rgb, true).expect("preview");
        assert!(p.width <= PREVIEW_MAX_WIDTH && p.width * 4 == w && p.height * 4 == h);
        assert_eq!(p.rgb.len(), (p.width * p.height * 3) as usize);
        assert!(!format!("{p:?}").contains('7'), "no pixels in Debug");

        assert!(
            Preview::of(4, 4, &[0; 5], true).is_none(),
            "a wrong buffer is refused"
        );
        assert!(Preview::of(0, 4, &[], true).is_none());
    }
}
