//! The face engine: owns the models on its own thread and runs one citizen
//! session at a time. Requests arrive over a std channel (frames are dropped,
//! not queued, while the engine is busy); events go out on a tokio mpsc.
//!
//! Per frame: find the face ([`LiveSearch`]: the region around the tracked
//! face, the whole frame every [`FULL_SEARCH_EVERY`] frames) → quality gates
//! (hints) → liveness tracker (prompts) →
//! the sharpest frontal frame of the attempt is kept as the probe (and checked
//! by the passive anti-spoofing pair when present). When the challenge
//! passes, probe and reference are embedded together (`Embedder::embed_pair`) and the
//! [`FaceSession`] policy decides. Frames, crops and embeddings are zeroized
//! when dropped, and everything of a session is dropped when it ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::align::{align, AlignedFace};
use super::antispoof::AntiSpoof;
use super::config::FaceConfig;
use super::decision::{FaceSession, FailReason, Outcome, Step};
use super::detect::{largest, Detector};
use super::embed::Embedder;
use super::liveness::{Action, Challenge, LivenessFailure, Status, Tracker};
use super::quality::{self, Hint};
use super::{Detection, FaceBox, FaceError, FaceImage, FrameView};

/// The loaded models and the single-image pipeline (detect → align).
#[derive(Debug)]
pub struct Pipeline {
    /// CenterFace.
    pub detector: Detector,
    /// MobileFaceNet.
    pub embedder: Embedder,
    /// Passive anti-spoofing pair, when its files are present.
    pub antispoof: Option<AntiSpoof>,
    cfg: FaceConfig,
}

impl Pipeline {
    /// Loads every configured model.
    pub fn load(cfg: &FaceConfig) -> Result<Self, FaceError> {
        let detector = Detector::load(&cfg.model_path(&cfg.detector.model), &cfg.detector)?;
        let embedder = Embedder::load(&cfg.model_path(&cfg.embedder.model), &cfg.embedder)?;
        let antispoof = AntiSpoof::load(&cfg.antispoof, |p| cfg.model_path(p))?;
        Ok(Self {
            detector,
            embedder,
            antispoof,
            cfg: cfg.clone(),
        })
    }

    /// The configuration the models were loaded with.
    pub fn config(&self) -> &FaceConfig {
        &self.cfg
    }

    /// The largest face of a still image, aligned; `None` when none is found.
    pub fn main_face(
        &self,
        img: FrameView<'_>,
    ) -> Result<Option<(Detection, AlignedFace)>, FaceError> {
        let dets = self.detector.detect(img)?;
        Ok(largest(&dets)
            .and_then(|d| align(img, &d.landmarks, self.cfg.embedder.input_size).map(|c| (*d, c))))
    }
}

impl Pipeline {
    /// Per-frame tracking: the largest face in the region around `prev` (the
    /// previous frame's face box, see [`Detector::detect_near`]), aligned;
    /// falls back to the full frame when there is no previous box or the
    /// face left the region. Only the region is searched, so a second person
    /// entering elsewhere is seen at the next full-frame detection.
    pub fn track_face(
        &self,
        img: FrameView<'_>,
        prev: Option<&FaceBox>,
    ) -> Result<Option<(Detection, AlignedFace)>, FaceError> {
        if let Some(b) = prev {
            let dets = self.detector.detect_near(img, b)?;
            if let Some(d) = largest(&dets) {
                if let Some(c) = align(img, &d.landmarks, self.cfg.embedder.input_size) {
                    return Ok(Some((*d, c)));
                }
            }
        }
        self.main_face(img)
    }
}

/// Frames between whole-frame searches in the live loop: every frame is
/// searched in the region around the tracked face, and every
/// `FULL_SEARCH_EVERY`-th frame (about twice a second at 15 fps) also
/// whole, for the one-face gate.
pub const FULL_SEARCH_EVERY: u32 = 8;

/// How the live loop finds the citizen's face frame after frame.
///
/// The landmarks that liveness follows always come from the same estimator,
/// the region search ([`Detector::detect_near`]): a whole-frame search puts
/// the landmarks of the same face a few pixels elsewhere (its yaw and pitch
/// ratios differ by ~0.02–0.05), and mixing the two keeps the challenge from
/// ever settling. The whole frame is searched only to (re)acquire the face,
/// for the one-face gate every [`FULL_SEARCH_EVERY`] frames (at a lower
/// resolution when it still sees a face half the citizen's size,
/// [`Detector::detect_faces_of`]), and at full resolution to confirm the
/// citizen is alone before a decision ([`LiveSearch::confirm_alone`]).
/// The region gets the same gates (one face, size) as the whole frame, so a
/// second face beside the citizen is seen at once. A face lost from the
/// region (a strong turn can defeat the smaller search) is taken from the
/// whole frame for that frame. Where the region sits is a [`Region`].
#[derive(Debug, Default)]
pub struct LiveSearch {
    region: Option<Region>,
    since_full: u32,
    /// The gate's verdict on the current frame from a full-resolution
    /// whole-frame search, when there was one.
    whole_this_frame: Option<Result<(), Hint>>,
}

impl LiveSearch {
    /// The citizen's face in this frame, gated (one face, size), or the hint
    /// saying why there is none.
    pub fn next(
        &mut self,
        p: &Pipeline,
        img: FrameView<'_>,
    ) -> Result<Result<Detection, Hint>, FaceError> {
        self.whole_this_frame = None;
        let mut whole = None;
        if self.region.is_none() || self.since_full + 1 >= FULL_SEARCH_EVERY {
            match self.search_whole(p, img, self.background_below(p))? {
                Ok(d) => {
                    // Keep following the tracked face unless the whole frame's
                    // face is elsewhere.
                    if self.region.is_none_or(|r| r.area().iou(&d.bbox) < 0.3) {
                        self.region = Some(Region::at(d.bbox));
                    }
                    whole = Some(d);
                }
                Err(h) => {
                    self.region = None;
                    return Ok(Err(h));
                }
            }
        } else {
            self.since_full += 1;
        }
        let Some(region) = self.region.as_mut() else {
            return Ok(Err(Hint::NoFace));
        };
        let near = p.detector.detect_near(img, &region.area())?;
        if near.is_empty() {
            // The whole frame's face for this frame, from a full-resolution
            // search (a periodic check's landmarks are coarser).
            let d = match whole {
                Some(d) if self.whole_this_frame.is_some() => Ok(d),
                _ => self.search_whole(p, img, 0.0)?,
            };
            self.region = d.as_ref().ok().map(|d| Region::at(d.bbox));
            return Ok(d);
        }
        let d = quality::gate_detections(&near, &p.config().quality).copied();
        if let Ok(d) = &d {
            region.follow(&d.bbox);
        }
        Ok(d)
    }

    /// Before a decision: the whole frame shows one face, searched at full
    /// resolution (this frame's acquisition search when there was one, else
    /// a search now).
    pub fn confirm_alone(
        &mut self,
        p: &Pipeline,
        img: FrameView<'_>,
    ) -> Result<Result<(), Hint>, FaceError> {
        if let Some(r) = self.whole_this_frame {
            return Ok(r);
        }
        Ok(self.search_whole(p, img, 0.0)?.map(|_| ()))
    }

    /// The width under which a face is background (not a second person) to
    /// the one-face gate, from the tracked face's size where the region was
    /// anchored (it may since have shrunk by up to a fifth before the region
    /// re-anchors: the periodic check may then miss a borderline second
    /// face, which the full-size check before a decision still sees); 0
    /// when no face is tracked.
    fn background_below(&self, p: &Pipeline) -> f32 {
        self.region.map_or(0.0, |r| {
            r.area().width() * p.config().quality.background_face_ratio
        })
    }

    /// Searches the whole frame for faces at least `min_side` wide (0: any,
    /// at full resolution, to acquire the face or before a decision; more:
    /// the periodic check, at a lower resolution when that still sees them)
    /// and gates them.
    fn search_whole(
        &mut self,
        p: &Pipeline,
        img: FrameView<'_>,
        min_side: f32,
    ) -> Result<Result<Detection, Hint>, FaceError> {
        let dets = p.detector.detect_faces_of(img, min_side)?;
        self.since_full = 0;
        let d = quality::gate_detections(&dets, &p.config().quality).copied();
        if min_side <= 0.0 {
            self.whole_this_frame = Some(d.map(|_| ()));
        }
        Ok(d)
    }
}

/// Where the tracking region sits: on a grid anchored at the face box where
/// the face was acquired, in steps of [`REGION_STEP`] × the face's size. The
/// landmarks of the same face move by ~0.03 in yaw when the region shifts by
/// a few pixels, so the region must not wobble with the face box: it stays
/// in its cell while the face stays within ¾ of a step of it, moves by whole
/// steps when the face moves further, and so comes back to exactly where it
/// was when the face does (a nod, then back to centre, is measured against
/// the same baseline from the same placement). A face that grew or shrank
/// by a quarter re-anchors the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    anchor: FaceBox,
    cell: (i32, i32),
}

/// Grid step of the tracking region, as a share of the face's size.
pub const REGION_STEP: f32 = 0.2;

impl Region {
    /// A region centred on `face`.
    pub fn at(face: FaceBox) -> Self {
        Self {
            anchor: face,
            cell: (0, 0),
        }
    }

    fn step(&self) -> f32 {
        REGION_STEP * self.anchor.width().max(self.anchor.height()).max(1.0)
    }

    /// The face box the region search is centred on.
    pub fn area(&self) -> FaceBox {
        let s = self.step();
        let (dx, dy) = (self.cell.0 as f32 * s, self.cell.1 as f32 * s);
        FaceBox {
            x1: self.anchor.x1 + dx,
            y1: self.anchor.y1 + dy,
            x2: self.anchor.x2 + dx,
            y2: self.anchor.y2 + dy,
        }
    }

    /// Follows the face found in this frame.
    pub fn follow(&mut self, face: &FaceBox) {
        let side = self.anchor.width().max(self.anchor.height()).max(1.0);
        if !(0.8..=1.25).contains(&(face.width().max(face.height()) / side)) {
            *self = Self::at(*face);
            return;
        }
        let s = self.step();
        let fx = ((face.x1 + face.x2) - (self.anchor.x1 + self.anchor.x2)) / 2.0 / s;
        let fy = ((face.y1 + face.y2) - (self.anchor.y1 + self.anchor.y2)) / 2.0 / s;
        if (fx - self.cell.0 as f32).abs() > 0.75 || (fy - self.cell.1 as f32).abs() > 0.75 {
            self.cell = (fx.round() as i32, fy.round() as i32);
        }
    }
}

/// A camera frame handed to the engine. Zeroized on drop; no pixel data in
/// `Debug`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Frame {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    #[zeroize(skip)]
    t: Duration,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame({}x{} at {:?}, <face data>)",
            self.width, self.height, self.t
        )
    }
}

impl Frame {
    /// An RGB frame captured at `t` (any monotonic origin, same for all
    /// frames of a session). `None` when the buffer size is wrong.
    pub fn new(width: u32, height: u32, rgb: Vec<u8>, t: Duration) -> Option<Self> {
        if rgb.len() == width as usize * height as usize * 3 && width > 0 && height > 0 {
            Some(Self {
                width,
                height,
                rgb,
                t,
            })
        } else {
            let mut rgb = rgb;
            rgb.zeroize();
            None
        }
    }

    /// Takes over a camera frame's pixels (no copy; the camera frame is left
    /// empty). `None` when its buffer size is inconsistent.
    pub fn from_camera(mut f: kiosk_drivers::camera::Frame) -> Option<Self> {
        let rgb = std::mem::take(&mut f.rgb);
        Self::new(f.width, f.height, rgb, f.captured_at)
    }

    fn view(&self) -> FrameView<'_> {
        FrameView {
            width: self.width,
            height: self.height,
            rgb: &self.rgb,
        }
    }

    /// A copy (face data as well: zeroized on drop).
    fn copy(&self) -> Frame {
        Frame {
            width: self.width,
            height: self.height,
            rgb: self.rgb.clone(),
            t: self.t,
        }
    }
}

/// The probe of an attempt so far: the sharpest frontal crop, the frame it
/// was cut from and where the tracker saw the face in it.
struct Probe {
    sharpness: f32,
    crop: AlignedFace,
    frame: Frame,
    face: FaceBox,
}

impl Probe {
    /// The crop to compare: cut again from landmarks found on the whole
    /// frame at the detector's full input size, which are finer than the
    /// tracked region's (a face fills more of the region's smaller input,
    /// but its landmarks come from fewer pixels); the tracked crop when the
    /// whole frame shows no face where the tracker had it.
    fn into_crop(self, p: &Pipeline) -> Result<AlignedFace, FaceError> {
        Ok(match p.main_face(self.frame.view())? {
            Some((d, crop)) if d.bbox.iou(&self.face) >= SAME_FACE_IOU => crop,
            _ => self.crop,
        })
    }
}

/// Overlap above which a whole-frame detection is the tracked face.
const SAME_FACE_IOU: f32 = 0.5;

/// What the UI/flow asks the engine. `Debug` shows no face data.
pub enum Request {
    /// Start a session: the reference photo (from the central service or the
    /// ID card) and the first challenge.
    Begin {
        /// JPEG/PNG bytes of the reference photo (wiped after decoding).
        reference_jpeg: Vec<u8>,
        /// The first attempt's challenge.
        challenge: Challenge,
    },
    /// Start the next attempt after [`Event::Retry`], with a new challenge.
    Retry {
        /// The new challenge.
        challenge: Challenge,
    },
    /// A camera frame.
    Frame(Frame),
    /// End the session and wipe its data.
    End,
    /// Stop the engine thread (wipes any session).
    Shutdown,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Begin { challenge, .. } => write!(
                f,
                "Begin {{ reference: <face data>, challenge: {challenge:?} }}"
            ),
            Request::Retry { challenge } => write!(f, "Retry {{ challenge: {challenge:?} }}"),
            Request::Frame(fr) => write!(f, "Frame({fr:?})"),
            Request::End => f.write_str("End"),
            Request::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// What the engine tells the UI/flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Ask the citizen to perform this action.
    Prompt(Action),
    /// Ask the citizen to face the camera again.
    FaceTheCamera,
    /// A frame did not count; show/speak this.
    Hint(Hint),
    /// Actions completed so far in this attempt.
    Progress {
        /// Completed.
        done: u8,
        /// Total.
        total: u8,
    },
    /// No match; a new attempt may start with [`Request::Retry`].
    Retry {
        /// Attempts left.
        remaining: u8,
    },
    /// Final: pass or fail, nothing else.
    Decided(Outcome),
}

/// Frames allowed to wait for the engine; newer ones are dropped meanwhile.
const MAX_PENDING_FRAMES: usize = 2;

/// Frames between the camera and the engine.
#[derive(Debug, Default)]
struct FrameCounts {
    /// Sent, not yet started.
    queued: AtomicUsize,
    /// Sent, not yet finished (finished: processed and its events sent).
    unfinished: AtomicUsize,
    /// Finished since the engine started.
    finished_total: std::sync::atomic::AtomicU64,
    /// Signalled each time a frame is finished.
    finished: tokio::sync::Notify,
}

/// Sends requests to the engine; cheap to clone. Never blocks, so it is safe
/// to call from async code.
#[derive(Debug, Clone)]
pub struct RequestSender {
    tx: std_mpsc::Sender<Request>,
    frames: Arc<FrameCounts>,
}

impl RequestSender {
    /// Sends a request. Frames sent this way always queue; live camera
    /// frames should go through [`RequestSender::offer_frame`].
    pub fn send(&self, r: Request) -> Result<(), FaceError> {
        if matches!(r, Request::Frame(_)) {
            self.frames.queued.fetch_add(1, Ordering::SeqCst);
            self.frames.unfinished.fetch_add(1, Ordering::SeqCst);
        }
        self.tx.send(r).map_err(|_| FaceError::EngineStopped)
    }

    /// Frames sent and not yet finished (their events not yet sent).
    pub fn unfinished_frames(&self) -> usize {
        self.frames.unfinished.load(Ordering::SeqCst)
    }

    /// Frames finished since the engine started.
    pub fn frames_finished(&self) -> u64 {
        self.frames.finished_total.load(Ordering::SeqCst)
    }

    /// Resolves when the engine finishes a frame (at once if one finished
    /// since the last call): a reader pacing its camera on the engine waits
    /// on this before it takes the next frame.
    pub async fn wait_frame_finished(&self) {
        self.frames.finished.notified().await;
    }

    /// Offers a frame; returns false when the engine is busy and the frame
    /// was dropped (and wiped).
    pub fn offer_frame(&self, f: Frame) -> Result<bool, FaceError> {
        if self.frames.queued.load(Ordering::SeqCst) >= MAX_PENDING_FRAMES {
            return Ok(false);
        }
        self.send(Request::Frame(f)).map(|()| true)
    }
}

/// The running engine: send requests, receive events.
#[derive(Debug)]
pub struct FaceEngineHandle {
    /// Request side.
    pub requests: RequestSender,
    /// Event side.
    pub events: mpsc::Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl FaceEngineHandle {
    /// Waits up to `timeout` for the next event (for sync callers and tests;
    /// async callers use `events.recv().await`).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.events.try_recv() {
                Ok(e) => return Some(e),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() >= deadline => return None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
            }
        }
    }

    /// Stops the engine thread and waits for it (any session is wiped).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.requests.tx.send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FaceEngineHandle {
    /// Asks the thread to stop (without waiting): the session is wiped and
    /// the models are freed even if request senders were cloned.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.requests.tx.send(Request::Shutdown);
        }
    }
}

/// Spawns the engine.
#[derive(Debug)]
pub struct FaceEngine;

impl FaceEngine {
    /// Loads the models on a new thread; returns once they are loaded (or
    /// the load failed).
    pub fn spawn(cfg: FaceConfig) -> Result<FaceEngineHandle, FaceError> {
        let (req_tx, req_rx) = std_mpsc::channel::<Request>();
        let frames = Arc::new(FrameCounts::default());
        let frames_engine = Arc::clone(&frames);
        let (ev_tx, ev_rx) = mpsc::channel::<Event>(64);
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), FaceError>>();
        let thread = std::thread::Builder::new()
            .name("face-engine".into())
            .spawn(move || {
                let pipeline = match Pipeline::load(&cfg) {
                    Ok(p) => {
                        let _ = ready_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if pipeline.antispoof.is_none() {
                    tracing::info!(
                        "face engine: anti-spoofing models absent, active liveness only"
                    );
                }
                run(pipeline, req_rx, ev_tx, &frames_engine);
            })
            .map_err(|e| FaceError::Inference {
                stage: "spawn",
                reason: e.to_string(),
            })?;
        ready_rx.recv().map_err(|_| FaceError::EngineStopped)??;
        Ok(FaceEngineHandle {
            requests: RequestSender { tx: req_tx, frames },
            events: ev_rx,
            thread: Some(thread),
        })
    }
}

/// Takes one off a frame count (never below zero).
fn decrement(count: &AtomicUsize) {
    let _ = count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
        Some(n.saturating_sub(1))
    });
}

/// Engine loop: one session at a time until the request channel closes.
fn run(
    p: Pipeline,
    rx: std_mpsc::Receiver<Request>,
    tx: mpsc::Sender<Event>,
    frames: &FrameCounts,
) {
    let mut session: Option<Session> = None;
    while let Ok(req) = rx.recv() {
        let is_frame = matches!(req, Request::Frame(_));
        let events = match req {
            Request::Begin {
                mut reference_jpeg,
                challenge,
            } => {
                let (s, ev) = Session::begin(&p, &reference_jpeg, challenge);
                reference_jpeg.zeroize();
                session = s;
                ev
            }
            Request::Retry { challenge } => match session.as_mut() {
                Some(s) => s.retry(&p, challenge),
                None => Vec::new(),
            },
            Request::Frame(f) => {
                decrement(&frames.queued);
                match session.as_mut() {
                    Some(s) => s.frame(&p, &f),
                    None => Vec::new(),
                }
            }
            Request::End => {
                session = None;
                Vec::new()
            }
            Request::Shutdown => return,
        };
        if session
            .as_ref()
            .is_some_and(|s| s.decision.outcome().is_some())
        {
            session = None; // decided: wipe now
        }
        for e in events {
            if tx.blocking_send(e).is_err() {
                return; // nobody listens any more
            }
        }
        if is_frame {
            decrement(&frames.unfinished);
            frames.finished_total.fetch_add(1, Ordering::SeqCst);
            frames.finished.notify_one();
        }
    }
}

/// Per-attempt frames allowed through the passive check.
const MAX_ANTISPOOF_RUNS: u8 = 5;

struct Session {
    reference: AlignedFace,
    decision: FaceSession,
    tracker: Tracker,
    total: u8,
    last_status: Option<Status>,
    last_hint: Option<Hint>,
    /// Sharpest frontal crop of this attempt, with its frame.
    best: Option<Probe>,
    spoof_votes: (u8, u8),
    awaiting_retry: bool,
    attempt_started: Option<Duration>,
    search: LiveSearch,
}

impl Session {
    fn begin(p: &Pipeline, reference: &[u8], challenge: Challenge) -> (Option<Self>, Vec<Event>) {
        let cfg = p.config();
        let mut decision = FaceSession::new(cfg.max_attempts, cfg.embedder.match_threshold);
        let face = FaceImage::decode(reference)
            .ok()
            .and_then(|img| p.main_face(img.view()).ok().flatten());
        let Some((_, reference)) = face else {
            let o = decision.abort(FailReason::NoReferenceFace);
            return (None, vec![Event::Decided(o)]);
        };
        let mut s = Self {
            reference,
            decision,
            tracker: Tracker::new(&challenge, &cfg.liveness),
            total: challenge.actions().len() as u8,
            last_status: None,
            last_hint: None,
            best: None,
            spoof_votes: (0, 0),
            awaiting_retry: false,
            attempt_started: None,
            search: LiveSearch::default(),
        };
        let ev = s.status_events(s.tracker.status());
        (Some(s), ev)
    }

    fn retry(&mut self, p: &Pipeline, challenge: Challenge) -> Vec<Event> {
        if !self.awaiting_retry {
            return Vec::new();
        }
        self.awaiting_retry = false;
        self.tracker = Tracker::after(&self.tracker, &challenge, &p.config().liveness);
        self.total = challenge.actions().len() as u8;
        self.best = None;
        self.spoof_votes = (0, 0);
        self.last_status = None;
        self.attempt_started = None;
        // The tracked region (and its grid) carries over: the same face in
        // the same place gives the same landmarks, which the new baseline is
        // checked against (`Tracker::after`).
        self.status_events(self.tracker.status())
    }

    fn fail(&mut self, reason: FailReason) -> Vec<Event> {
        vec![Event::Decided(self.decision.abort(reason))]
    }

    fn frame(&mut self, p: &Pipeline, f: &Frame) -> Vec<Event> {
        if self.awaiting_retry || self.decision.outcome().is_some() {
            return Vec::new();
        }
        let cfg = p.config();
        let start = *self.attempt_started.get_or_insert(f.t);
        let main = match self.search.next(p, f.view()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "face engine: detection failed");
                return self.fail(FailReason::Internal);
            }
        };
        let mut events = Vec::new();
        let status = self
            .tracker
            .feed(f.t, main.as_ref().ok().map(|d| &d.landmarks));
        // The probe must show the face at rest: never mid-action nor on its
        // way back (a turned or nodding face, even one passing the pose
        // gate, is a poor match, and may be the sharpest frame).
        let neutral = self.tracker.at_rest();
        let mut hint = main.as_ref().err().copied();
        if let Ok(d) = &main {
            if neutral && quality::gate_pose(d, &cfg.quality).is_ok() {
                match align(f.view(), &d.landmarks, cfg.embedder.input_size) {
                    Some(crop) => match quality::gate_crop(&crop, &cfg.quality) {
                        Ok(()) => self.consider_probe(p, f, d, crop),
                        Err(h) => hint = Some(h),
                    },
                    None => hint = Some(Hint::FaceTheCamera),
                }
            } else if matches!(status, Status::Settling)
                || (matches!(status, Status::Passed) && self.best.is_none())
            {
                hint = Some(Hint::FaceTheCamera);
            }
        }
        // Decide only with the citizen alone in the whole frame.
        let mut alone = false;
        if matches!(status, Status::Passed) && self.best.is_some() {
            match self.search.confirm_alone(p, f.view()) {
                Ok(Ok(())) => alone = true,
                Ok(Err(h)) => hint = Some(h),
                Err(e) => {
                    tracing::error!(error = %e, "face engine: detection failed");
                    return self.fail(FailReason::Internal);
                }
            }
        }
        if hint != self.last_hint {
            if let Some(h) = hint {
                events.push(Event::Hint(h));
            }
            self.last_hint = hint;
        }
        events.extend(self.status_events(status));
        match status {
            Status::Failed(f) => events.extend(self.liveness_result(p, Err(f))),
            Status::Passed => {
                if alone {
                    let spoof = self.spoof_votes.1 > self.spoof_votes.0;
                    let r = if spoof {
                        Err(LivenessFailure::Spoof)
                    } else {
                        Ok(())
                    };
                    events.extend(self.liveness_result(p, r));
                } else if f.t.saturating_sub(start)
                    > Duration::from_millis(cfg.liveness.total_timeout_ms)
                {
                    events.extend(self.fail(FailReason::NoUsableFrame));
                }
            }
            Status::Settling | Status::Perform(_) | Status::ReturnToCentre => {}
        }
        events
    }

    fn consider_probe(&mut self, p: &Pipeline, f: &Frame, d: &Detection, crop: AlignedFace) {
        if let Some(a) = &p.antispoof {
            if self.spoof_votes.0 + self.spoof_votes.1 < MAX_ANTISPOOF_RUNS {
                match a.is_real(f.view(), &d.bbox) {
                    Ok(true) => self.spoof_votes.0 += 1,
                    Ok(false) => self.spoof_votes.1 += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "face engine: anti-spoofing failed on a frame")
                    }
                }
            }
        }
        let sharp = quality::sharpness(&crop);
        if self.best.as_ref().is_none_or(|b| sharp > b.sharpness) {
            self.best = Some(Probe {
                sharpness: sharp,
                crop,
                frame: f.copy(),
                face: d.bbox,
            });
        }
    }

    fn liveness_result(&mut self, p: &Pipeline, r: Result<(), LivenessFailure>) -> Vec<Event> {
        match self.decision.liveness(r) {
            Ok(Step::Compare) => self.compare(p),
            Ok(Step::Done(o)) => vec![Event::Decided(o)],
            Ok(Step::Retry { remaining }) => vec![Event::Retry { remaining }],
            Err(e) => {
                tracing::error!(error = %e, "face engine: policy violation");
                self.fail(FailReason::Internal)
            }
        }
    }

    fn compare(&mut self, p: &Pipeline) -> Vec<Event> {
        let Some(best) = self.best.take() else {
            return self.fail(FailReason::NoUsableFrame);
        };
        let t0 = Instant::now();
        let probe = match best.into_crop(p) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "face engine: detection failed");
                return self.fail(FailReason::Internal);
            }
        };
        let (pe, re) = match p.embedder.embed_pair(&probe, &self.reference) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "face engine: embedding failed");
                return self.fail(FailReason::Internal);
            }
        };
        tracing::debug!(
            ms = t0.elapsed().as_millis() as u64,
            "face engine: embedded probe and reference"
        );
        match self.decision.compare(&pe, &re) {
            Ok(Step::Done(o)) => vec![Event::Decided(o)],
            Ok(Step::Retry { remaining }) => {
                self.awaiting_retry = true;
                vec![Event::Retry { remaining }]
            }
            Ok(Step::Compare) | Err(_) => self.fail(FailReason::Internal),
        }
    }

    fn status_events(&mut self, status: Status) -> Vec<Event> {
        if self.last_status == Some(status) {
            return Vec::new();
        }
        self.last_status = Some(status);
        match status {
            Status::Perform(a) => {
                let done = self.tracker.completed() as u8;
                vec![
                    Event::Progress {
                        done,
                        total: self.total,
                    },
                    Event::Prompt(a),
                ]
            }
            Status::ReturnToCentre | Status::Settling => vec![Event::FaceTheCamera],
            Status::Passed => vec![Event::Progress {
                done: self.total,
                total: self.total,
            }],
            Status::Failed(_) => Vec::new(),
        }
    }
}

/// Availability of one model in the self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelState {
    /// Loaded and ran one inference.
    Ok,
    /// File absent.
    Missing,
    /// Present but failed to load or run (reason).
    Failed(String),
}

/// Self-test result; `summary` is the line for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfTest {
    /// Detector.
    pub detector: ModelState,
    /// Embedder.
    pub embedder: ModelState,
    /// Anti-spoofing pair.
    pub antispoof: ModelState,
    /// Human-readable summary.
    pub summary: String,
}

impl SelfTest {
    /// True when the face check can run (detector and embedder work).
    pub fn usable(&self) -> bool {
        self.detector == ModelState::Ok && self.embedder == ModelState::Ok
    }
}

/// Loads every model and runs one inference on a blank frame.
pub fn self_test(cfg: &FaceConfig) -> SelfTest {
    let state = |path: &std::path::Path, r: Result<(), FaceError>| match r {
        Ok(()) => ModelState::Ok,
        Err(_) if !path.is_file() => ModelState::Missing,
        Err(e) => ModelState::Failed(e.to_string()),
    };
    let blank = vec![128u8; 64 * 64 * 3];
    let view = FrameView {
        width: 64,
        height: 64,
        rgb: &blank,
    };
    let dpath = cfg.model_path(&cfg.detector.model);
    let detector = state(
        &dpath,
        Detector::load(&dpath, &cfg.detector).and_then(|d| d.detect(view).map(|_| ())),
    );
    let epath = cfg.model_path(&cfg.embedder.model);
    let crop = AlignedFace::from_rgb(
        cfg.embedder.input_size,
        vec![128u8; (cfg.embedder.input_size.pow(2) * 3) as usize],
    );
    let embedder = state(
        &epath,
        Embedder::load(&epath, &cfg.embedder).and_then(|e| match &crop {
            Some(c) => e.embed_pair(c, c).map(|_| ()),
            None => Ok(()),
        }),
    );
    let box_ = FaceBox {
        x1: 16.0,
        y1: 16.0,
        x2: 48.0,
        y2: 48.0,
    };
    let antispoof = match AntiSpoof::load(&cfg.antispoof, |p| cfg.model_path(p)) {
        Ok(Some(a)) => match a.is_real(view, &box_) {
            Ok(_) => ModelState::Ok,
            Err(e) => ModelState::Failed(e.to_string()),
        },
        Ok(None) => ModelState::Missing,
        Err(e) => ModelState::Failed(e.to_string()),
    };
    let mut parts = Vec::new();
    parts.push(match &detector {
        ModelState::Ok => "detector ok".to_string(),
        ModelState::Missing => format!("detector missing ({})", dpath.display()),
        ModelState::Failed(r) => format!("detector failed: {r}"),
    });
    parts.push(match &embedder {
        ModelState::Ok => "embedder ok".to_string(),
        ModelState::Missing => format!("embedder missing ({})", epath.display()),
        ModelState::Failed(r) => format!("embedder failed: {r}"),
    });
    parts.push(match &antispoof {
        ModelState::Ok => "passive anti-spoofing ok".to_string(),
        ModelState::Missing => "anti-spoofing absent: active liveness only".to_string(),
        ModelState::Failed(r) => format!("anti-spoofing failed ({r}): active liveness only"),
    });
    SelfTest {
        detector,
        embedder,
        antispoof,
        summary: parts.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_engine_types_print_no_face_data() {
        let f = Frame::new(2, 1, vec![1, 2, 3, 4, 5, 6], Duration::from_millis(5)).expect("size");
        assert!(!format!("{f:?}").contains("4, 5"));
        let r = Request::Begin {
            reference_jpeg: vec![0xff, 0xd8, 0x42],
            challenge: Challenge::new(vec![Action::Nod]),
        };
        let s = format!("{r:?}");
        assert!(
            s.contains("<face data>") && !s.contains("255") && !s.contains("66"),
            "{s}"
        );
        assert!(Frame::new(2, 2, vec![0; 3], Duration::ZERO).is_none());
    }

    /// The probe is cut again from a whole-frame search of its frame when
    /// that search finds the tracked face, and keeps its tracked crop when
    /// the whole frame shows no face, or a face elsewhere.
    #[test]
    fn face_probe_recut_from_the_whole_frame_or_kept() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
        let photo = dir.join("faces/pairs/img38.jpg");
        if !dir.join("models/centerface.onnx").is_file() || !photo.is_file() {
            kiosk_drivers::test_skip::skip("../shared models or faces absent");
            return;
        }
        let p = Pipeline::load(&FaceConfig::with_model_dir(dir.join("models"))).expect("models");
        let img = FaceImage::open(&photo).expect("decode");
        let v = img.view();
        let (d, whole) = p.main_face(v).expect("detect").expect("a face");
        let size = p.config().embedder.input_size;
        // A crop no alignment would produce, to tell the two apart.
        let marker = || AlignedFace::from_rgb(size, vec![7; (size * size * 3) as usize]);
        let probe = |rgb: Vec<u8>, face: FaceBox| Probe {
            sharpness: 1.0,
            crop: marker().expect("crop"),
            frame: Frame::new(v.width, v.height, rgb, Duration::ZERO).expect("frame"),
            face,
        };
        let recut = probe(v.rgb.to_vec(), d.bbox).into_crop(&p).expect("runs");
        assert_eq!(recut.rgb(), whole.rgb(), "the tracked face is cut again");
        let elsewhere = FaceBox {
            x1: d.bbox.x1 + d.bbox.width(),
            x2: d.bbox.x2 + d.bbox.width(),
            ..d.bbox
        };
        let kept = probe(v.rgb.to_vec(), elsewhere)
            .into_crop(&p)
            .expect("runs");
        assert_eq!(
            kept.rgb(),
            marker().expect("crop").rgb(),
            "a face elsewhere"
        );
        let blank = vec![118; v.rgb.len()];
        let kept = probe(blank, d.bbox).into_crop(&p).expect("runs");
        assert_eq!(kept.rgb(), marker().expect("crop").rgb(), "no face at all");
    }

    #[test]
    fn face_tracking_region_moves_in_whole_steps_and_comes_back() {
        let b = |x1: f32, y1: f32, side: f32| FaceBox {
            x1,
            y1,
            x2: x1 + side,
            y2: y1 + side,
        };
        let start = b(100.0, 100.0, 200.0); // steps of 40 px
        let mut r = Region::at(start);
        // Landmark-level wobble of a still face: the region stays put.
        for f in [b(110.0, 95.0, 204.0), b(92.0, 104.0, 198.0), start] {
            r.follow(&f);
            assert_eq!(r.area(), start);
        }
        // A nod moves the face down by 1.5 steps: the region follows by
        // whole steps (two here), not to the face box itself.
        r.follow(&b(100.0, 160.0, 200.0));
        assert_eq!(r.area(), b(100.0, 180.0, 200.0));
        // Back to centre: exactly where it started.
        r.follow(&b(102.0, 101.0, 200.0));
        assert_eq!(r.area(), start);
        // Sideways by a little more than ¾ of a step.
        r.follow(&b(132.0, 100.0, 200.0));
        assert_eq!(r.area(), b(140.0, 100.0, 200.0));
        // Came closer: the grid re-anchors on the new face.
        let near = b(60.0, 60.0, 280.0);
        r.follow(&near);
        assert_eq!(r.area(), near);
    }

    #[test]
    fn face_engine_spawn_reports_missing_models() {
        let err = FaceEngine::spawn(FaceConfig::with_model_dir("/nonexistent")).err();
        assert!(matches!(err, Some(FaceError::ModelLoad { .. })), "{err:?}");
    }
}
