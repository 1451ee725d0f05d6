//! The simulated camera: [`SimCamera`], the twin of the V4L2 camera.
//!
//! It serves frames at a nominal rate on tokio's clock (so tests run with
//! paused time): frame `n` is due at `n / fps` after the first call, carries
//! `seq = n` and `captured_at = n / fps`. A slow reader skips frames, as with
//! a real camera: the next frame is the next one due, and `seq` shows the gap
//! (unless [`SimOptions::lockstep`]: then no frame is skipped and frame time
//! follows the reader).
//!
//! What it shows is a [`Scene`]:
//! - [`Scene::Still`]: a photo replayed as is;
//! - [`Scene::Subject`]: a face photo that *follows prompts*: the pose set
//!   through [`SimCameraControl::set_pose`] / [`SimCameraControl::turn_over`]
//!   warps the photo with [`warp_pose`] so that the nose moves relative to the
//!   eyes as when a head turns or nods;
//! - [`Scene::Empty`]: nobody in front of the kiosk (a flat grey frame).
//!
//! Faults and behaviours are switched through a [`SimCameraControl`] (cheap
//! to clone, kept by the scripted citizen or a test while the camera itself
//! has moved into its task) or by a timed script ([`SimStep`]): dark frames
//! ([`SimCameraControl::set_blank`]), an unplugged camera
//! ([`SimCameraControl::unplug`]), and a frozen picture
//! ([`SimCameraControl::freeze`]): exactly the same pixels served as new
//! frames, which is what a replayed static photo looks like. Live frames get
//! a little deterministic sensor noise (unless [`SimOptions::noise`] is 0),
//! so a frozen stream is told apart from a live one as on a real camera.
//!
//! The twin never writes anything to disk; every pixel buffer it holds is
//! zeroized when dropped.
//!
//! **Pose convention** (frame coordinates, what the camera sees):
//! `yaw_deg > 0` moves the nose towards the *left of the frame* (smaller x);
//! `pitch_deg > 0` moves it *down* (nodding down, larger y). In an unmirrored
//! camera frame a nose moving to the frame's left is the citizen turning to
//! their own right; a mirrored preview shows it as a turn to the left.

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use image::imageops::{self, FilterType};
use tokio::time::Instant;
use zeroize::{Zeroize, Zeroizing};

use super::{rgb_len, Error, Frame, FrameSource};

/// The device name the twin reports in errors.
pub const SIM_DEVICE: &str = "sim-camera";

/// Level of every channel in a blank (dark) frame, before noise.
pub const BLANK_LEVEL: u8 = 6;

/// Level of every channel in an empty scene (nobody there).
pub const EMPTY_LEVEL: u8 = 118;

/// Head pose, in degrees (see the module docs for the signs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    /// Turn: positive moves the nose towards the left of the frame.
    pub yaw_deg: f32,
    /// Nod: positive moves the nose down the frame.
    pub pitch_deg: f32,
}

impl Pose {
    /// Looking straight at the camera.
    pub const FRONTAL: Pose = Pose {
        yaw_deg: 0.0,
        pitch_deg: 0.0,
    };

    /// A pose.
    pub fn new(yaw_deg: f32, pitch_deg: f32) -> Self {
        Pose { yaw_deg, pitch_deg }
    }

    /// The pose a fraction `t` (0–1) of the way from `self` to `to`.
    pub fn lerp(self, to: Pose, t: f32) -> Pose {
        let t = t.clamp(0.0, 1.0);
        Pose {
            yaw_deg: self.yaw_deg + (to.yaw_deg - self.yaw_deg) * t,
            pitch_deg: self.pitch_deg + (to.pitch_deg - self.pitch_deg) * t,
        }
    }
}

/// Where the face is in an image, in pixels (top-left corner and size),
/// roughly ear to ear and forehead to chin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

impl FaceBox {
    /// A guess for a head-and-shoulders photo, used when the caller gives no
    /// box: centred horizontally, a little above the middle, 40 % of the
    /// width and 50 % of the height. Photos framed otherwise warp the wrong
    /// region: pass the box a face detector found on the photo.
    pub fn centred_guess(width: u32, height: u32) -> Self {
        let (w, h) = (width as f32, height as f32);
        FaceBox {
            x: w * 0.3,
            y: h * 0.15,
            width: w * 0.4,
            height: h * 0.5,
        }
    }

    /// The centre of the box.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }
}

/// An RGB8 picture for the twin, decoded from a JPEG/PNG file or bytes.
/// Face data: zeroized on drop, `Debug` shows only the size.
pub struct SimImage {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl SimImage {
    /// Decodes a JPEG or PNG image.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let img = image::load_from_memory(bytes).map_err(|e| Error::Decode {
            detail: e.to_string(),
        })?;
        let (width, height) = (img.width(), img.height());
        let rgb = img.into_rgb8().into_raw();
        Self::from_rgb(width, height, rgb)
    }

    /// Reads and decodes a JPEG or PNG file (read only; nothing is written).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| Error::Io {
            device: path.display().to_string(),
            source,
        })?);
        Self::from_bytes(&bytes)
    }

    /// Wraps RGB8 pixels (row-major, no padding).
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Self, Error> {
        if width == 0 || height == 0 || rgb_len(width, height) != Some(rgb.len()) {
            let mut rgb = rgb;
            let got = rgb.len();
            rgb.zeroize();
            return Err(Error::Format {
                detail: format!("{width}x{height} RGB8 image with {got} bytes"),
            });
        }
        Ok(SimImage { width, height, rgb })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Scales to cover `width` × `height` and crops the centre (as a camera
    /// framing the citizen would), moving `face` along.
    fn fit(self, width: u32, height: u32, face: FaceBox) -> Result<(SimImage, FaceBox), Error> {
        if (self.width, self.height) == (width, height) {
            return Ok((self, face));
        }
        let scale = (width as f32 / self.width as f32).max(height as f32 / self.height as f32);
        let sw = ((self.width as f32 * scale).round() as u32).max(width);
        let sh = ((self.height as f32 * scale).round() as u32).max(height);
        let view = image::ImageBuffer::<image::Rgb<u8>, &[u8]>::from_raw(
            self.width,
            self.height,
            &self.rgb,
        )
        .ok_or_else(|| Error::Format {
            detail: "inconsistent image buffer".into(),
        })?;
        let mut scaled = imageops::resize(&view, sw, sh, FilterType::Triangle);
        let (ox, oy) = ((sw - width) / 2, (sh - height) / 2);
        let cropped = imageops::crop_imm(&scaled, ox, oy, width, height)
            .to_image()
            .into_raw();
        let scaled_bytes: &mut [u8] = &mut scaled;
        scaled_bytes.zeroize();
        let face = FaceBox {
            x: face.x * scale - ox as f32,
            y: face.y * scale - oy as f32,
            width: face.width * scale,
            height: face.height * scale,
        };
        Ok((SimImage::from_rgb(width, height, cropped)?, face))
    }
}

impl Drop for SimImage {
    fn drop(&mut self) {
        self.rgb.zeroize();
    }
}

impl fmt::Debug for SimImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SimImage({}x{}, <{} bytes>)",
            self.width,
            self.height,
            self.rgb.len()
        )
    }
}

/// What is in front of the twin.
#[derive(Debug)]
pub enum Scene {
    /// Nobody: a flat grey frame.
    Empty,
    /// A photo replayed as is (the pose is ignored).
    Still(SimImage),
    /// A face photo that follows the pose.
    Subject {
        /// The photo.
        image: SimImage,
        /// Where the face is; `None`: [`FaceBox::centred_guess`].
        face: Option<FaceBox>,
    },
}

/// Options of the twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Nominal frame rate (frames per second, at least 1).
    pub fps: u32,
    /// Frame size; images are scaled to cover it and cropped. `None`: the
    /// image's own size (640×480 for an empty scene).
    pub size: Option<(u32, u32)>,
    /// Amplitude of the sensor noise added to live frames (0: none).
    pub noise: u8,
    /// Lockstep: a slow reader skips no frame; frame `n` still carries
    /// `captured_at = n / fps`, so frame time runs slower than the wall
    /// clock when the reader is slow. Whatever is timed on frame times (the
    /// liveness challenge's time limits, a head movement) then behaves the
    /// same on a loaded machine as on an idle one: for scripted demos and
    /// tests. A reader faster than `fps` is still paced at `fps`. The
    /// reader should take a frame only when it will use it (see
    /// [`FrameSource::paced_by_reader`]): a frame read and dropped still
    /// advances the clock.
    pub lockstep: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fps: 15,
            size: Some((640, 480)),
            noise: 2,
            lockstep: false,
        }
    }
}

/// A timed action of a script, applied to the first frame due at or after
/// `at` (measured from the first frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimStep {
    /// When, from the first frame.
    pub at: Duration,
    /// What.
    pub action: SimAction,
}

/// What a script step does (the same as the [`SimCameraControl`] calls).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimAction {
    /// [`SimCameraControl::set_pose`].
    Pose(Pose),
    /// [`SimCameraControl::turn_to`].
    TurnTo {
        /// Final pose.
        to: Pose,
        /// Duration of the movement.
        over: Duration,
    },
    /// [`SimCameraControl::nod`].
    Nod {
        /// Largest pitch either way.
        amplitude_deg: f32,
        /// One full nod, down and up.
        period: Duration,
    },
    /// [`SimCameraControl::set_blank`].
    Blank(bool),
    /// [`SimCameraControl::unplug`].
    Unplug,
    /// [`SimCameraControl::replug`].
    Replug,
    /// [`SimCameraControl::freeze`].
    Freeze,
    /// [`SimCameraControl::unfreeze`].
    Unfreeze,
}

/// A prepared scene, scaled to the frame size.
enum Prepared {
    Empty { width: u32, height: u32 },
    Still(Arc<SimImage>),
    Subject { image: Arc<SimImage>, face: FaceBox },
}

impl Prepared {
    fn size(&self) -> (u32, u32) {
        match self {
            Prepared::Empty { width, height } => (*width, *height),
            Prepared::Still(img) | Prepared::Subject { image: img, .. } => (img.width, img.height),
        }
    }
}

struct Motion {
    from: Pose,
    to: Pose,
    over: Duration,
    /// Frame time of the first frame of the movement (set by that frame).
    start: Option<Duration>,
}

/// A nod that goes on until the next pose or movement: the pitch swings
/// `amplitude_deg` either way of `base`, chin down first.
struct Nodding {
    base: Pose,
    amplitude_deg: f32,
    period: Duration,
    /// Frame time of the first frame of the nod (set by that frame).
    start: Option<Duration>,
}

struct State {
    scene: Arc<Prepared>,
    /// Bumped on every scene change (invalidates the render cache).
    scene_gen: u64,
    size: Option<(u32, u32)>,
    pose: Pose,
    motion: Option<Motion>,
    nodding: Option<Nodding>,
    blank: bool,
    unplugged: bool,
    frozen: bool,
    served: u64,
}

impl State {
    fn apply(&mut self, action: SimAction) {
        match action {
            SimAction::Pose(p) => {
                self.motion = None;
                self.nodding = None;
                self.pose = p;
            }
            SimAction::Nod {
                amplitude_deg,
                period,
            } => {
                self.motion = None;
                self.nodding = Some(Nodding {
                    base: self.pose,
                    amplitude_deg,
                    period,
                    start: None,
                });
            }
            SimAction::TurnTo { to, over } => {
                self.nodding = None;
                self.motion = Some(Motion {
                    from: self.pose,
                    to,
                    over,
                    start: None,
                });
            }
            SimAction::Blank(b) => self.blank = b,
            SimAction::Unplug => self.unplugged = true,
            SimAction::Replug => self.unplugged = false,
            SimAction::Freeze => self.frozen = true,
            SimAction::Unfreeze => self.frozen = false,
        }
    }

    /// The pose for a frame due at `t`, advancing any movement.
    fn pose_at(&mut self, t: Duration) -> Pose {
        if let Some(n) = &mut self.nodding {
            let start = *n.start.get_or_insert(t);
            let turns = t.saturating_sub(start).as_secs_f32() / n.period.as_secs_f32().max(1e-3);
            let swing = n.amplitude_deg * (std::f32::consts::TAU * turns).sin();
            self.pose = Pose::new(n.base.yaw_deg, n.base.pitch_deg + swing);
        }
        if let Some(m) = &mut self.motion {
            let start = *m.start.get_or_insert(t);
            let done = t.saturating_sub(start);
            if done >= m.over {
                self.pose = m.to;
                self.motion = None;
            } else {
                self.pose = m.from.lerp(m.to, done.as_secs_f32() / m.over.as_secs_f32());
            }
        }
        self.pose
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update is a plain field write: a poisoned lock is still consistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn prepare(scene: Scene, size: Option<(u32, u32)>) -> Result<Prepared, Error> {
    let (w, h) = size.unwrap_or((640, 480));
    Ok(match scene {
        Scene::Empty => Prepared::Empty {
            width: w,
            height: h,
        },
        Scene::Still(img) => {
            let face = FaceBox::centred_guess(img.width, img.height);
            let img = match size {
                Some((w, h)) => img.fit(w, h, face)?.0,
                None => img,
            };
            Prepared::Still(Arc::new(img))
        }
        Scene::Subject { image, face } => {
            let face = face.unwrap_or_else(|| FaceBox::centred_guess(image.width, image.height));
            let (image, face) = match size {
                Some((w, h)) => image.fit(w, h, face)?,
                None => (image, face),
            };
            Prepared::Subject {
                image: Arc::new(image),
                face,
            }
        }
    })
}

/// The control handle of a [`SimCamera`]: cheap to clone, usable from any
/// task while the camera runs.
#[derive(Clone)]
pub struct SimCameraControl {
    state: Arc<Mutex<State>>,
}

impl SimCameraControl {
    /// Shows another scene from the next frame on (another citizen, nobody).
    pub fn set_scene(&self, scene: Scene) -> Result<(), Error> {
        let size = lock(&self.state).size;
        let prepared = Arc::new(prepare(scene, size)?);
        let mut s = lock(&self.state);
        s.scene = prepared;
        s.scene_gen += 1;
        Ok(())
    }

    /// Sets the head pose at once (cancels a movement).
    pub fn set_pose(&self, pose: Pose) {
        lock(&self.state).apply(SimAction::Pose(pose));
    }

    /// The current head pose.
    pub fn pose(&self) -> Pose {
        lock(&self.state).pose
    }

    /// Moves the head from `from` to `to` over `over`, starting with the next
    /// frame (frame times, so it follows tokio's clock).
    pub fn turn_over(&self, from: Pose, to: Pose, over: Duration) {
        let mut s = lock(&self.state);
        s.pose = from;
        s.apply(SimAction::TurnTo { to, over });
    }

    /// Moves the head from where it is to `to` over `over`.
    pub fn turn_to(&self, to: Pose, over: Duration) {
        lock(&self.state).apply(SimAction::TurnTo { to, over });
    }

    /// Nods from the current pose, chin down first, one full nod every
    /// `period` of frame time, until the next pose or movement (frame
    /// times, so a loaded machine sees the same nod, only later).
    pub fn nod(&self, amplitude_deg: f32, period: Duration) {
        lock(&self.state).apply(SimAction::Nod {
            amplitude_deg,
            period,
        });
    }

    /// Whether a movement (or a nod) is still under way.
    pub fn is_moving(&self) -> bool {
        let s = lock(&self.state);
        s.motion.is_some() || s.nodding.is_some()
    }

    /// Dark frames (lens covered, light off) on or off.
    pub fn set_blank(&self, blank: bool) {
        lock(&self.state).apply(SimAction::Blank(blank));
    }

    /// Unplugs the camera: `next_frame` fails with [`Error::Unplugged`] until
    /// [`SimCameraControl::replug`].
    pub fn unplug(&self) {
        lock(&self.state).apply(SimAction::Unplug);
    }

    /// Plugs the camera back in.
    pub fn replug(&self) {
        lock(&self.state).apply(SimAction::Replug);
    }

    /// Whether the camera is unplugged.
    pub fn is_unplugged(&self) -> bool {
        lock(&self.state).unplugged
    }

    /// Freezes the picture: every following frame (new `seq`, new time) has
    /// exactly the same pixels, like a replayed static photo.
    pub fn freeze(&self) {
        lock(&self.state).apply(SimAction::Freeze);
    }

    /// Ends a freeze.
    pub fn unfreeze(&self) {
        lock(&self.state).apply(SimAction::Unfreeze);
    }

    /// Frames served so far.
    pub fn frames_served(&self) -> u64 {
        lock(&self.state).served
    }
}

impl fmt::Debug for SimCameraControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("SimCameraControl")
            .field("pose", &s.pose)
            .field("blank", &s.blank)
            .field("unplugged", &s.unplugged)
            .field("frozen", &s.frozen)
            .field("served", &s.served)
            .finish()
    }
}

/// A clean (noise-free) render and what it was rendered from.
struct Rendered {
    scene_gen: u64,
    pose: Pose,
    width: u32,
    height: u32,
    rgb: Arc<Zeroizing<Vec<u8>>>,
}

/// The simulated camera (see the module docs).
pub struct SimCamera {
    state: Arc<Mutex<State>>,
    opts: SimOptions,
    period: Duration,
    script: VecDeque<SimStep>,
    /// Time of frame 0, set by the first call.
    start: Option<Instant>,
    next_index: u64,
    cache: Option<Rendered>,
    /// The pixels served while frozen.
    frozen: Option<Rendered>,
    noise_seed: u64,
}

impl SimCamera {
    /// A twin showing `scene`, with its control handle.
    pub fn new(scene: Scene, opts: SimOptions) -> Result<(SimCamera, SimCameraControl), Error> {
        let size = opts.size;
        if let Some((w, h)) = size {
            if rgb_len(w, h).is_none() || w == 0 || h == 0 {
                return Err(Error::Format {
                    detail: format!("frame size {w}x{h}"),
                });
            }
        }
        let state = Arc::new(Mutex::new(State {
            scene: Arc::new(prepare(scene, size)?),
            scene_gen: 0,
            size,
            pose: Pose::FRONTAL,
            motion: None,
            nodding: None,
            blank: false,
            unplugged: false,
            frozen: false,
            served: 0,
        }));
        let period = Duration::from_secs(1) / opts.fps.max(1);
        Ok((
            SimCamera {
                state: state.clone(),
                opts,
                period,
                script: VecDeque::new(),
                start: None,
                next_index: 0,
                cache: None,
                frozen: None,
                noise_seed: 0x9E37_79B9_7F4A_7C15,
            },
            SimCameraControl { state },
        ))
    }

    /// A twin replaying a still photo (JPEG/PNG bytes).
    pub fn still(bytes: &[u8], opts: SimOptions) -> Result<(SimCamera, SimCameraControl), Error> {
        Self::new(Scene::Still(SimImage::from_bytes(bytes)?), opts)
    }

    /// A twin showing a subject who follows prompts (JPEG/PNG bytes).
    pub fn subject(
        bytes: &[u8],
        face: Option<FaceBox>,
        opts: SimOptions,
    ) -> Result<(SimCamera, SimCameraControl), Error> {
        let image = SimImage::from_bytes(bytes)?;
        Self::new(Scene::Subject { image, face }, opts)
    }

    /// Adds a timed script (steps in any order).
    pub fn with_script(mut self, steps: impl IntoIterator<Item = SimStep>) -> Self {
        let mut all: Vec<SimStep> = self.script.drain(..).chain(steps).collect();
        all.sort_by_key(|s| s.at);
        self.script = all.into();
        self
    }

    /// A control handle (the same as the one returned by the constructor).
    pub fn control(&self) -> SimCameraControl {
        SimCameraControl {
            state: self.state.clone(),
        }
    }

    fn apply_script(&mut self, state: &mut State, t: Duration) {
        while self.script.front().is_some_and(|s| s.at <= t) {
            if let Some(step) = self.script.pop_front() {
                state.apply(step.action);
            }
        }
    }

    /// The clean render of the scene in `pose`, from the cache if possible.
    async fn render(
        &mut self,
        scene: Arc<Prepared>,
        scene_gen: u64,
        pose: Pose,
    ) -> Result<(u32, u32, Arc<Zeroizing<Vec<u8>>>), Error> {
        let pose_matters = matches!(*scene, Prepared::Subject { .. });
        if let Some(c) = &self.cache {
            if c.scene_gen == scene_gen && (!pose_matters || c.pose == pose) {
                return Ok((c.width, c.height, c.rgb.clone()));
            }
        }
        let (width, height) = scene.size();
        let rgb = tokio::task::spawn_blocking(move || match &*scene {
            Prepared::Empty { width, height } => {
                vec![EMPTY_LEVEL; rgb_len(*width, *height).unwrap_or(0)]
            }
            Prepared::Still(img) => img.rgb.clone(),
            Prepared::Subject { image, face } => {
                warp_pose(image.width, image.height, &image.rgb, *face, pose)
            }
        })
        .await
        .map_err(|e| Error::Decode {
            detail: format!("render task failed: {e}"),
        })?;
        let rgb = Arc::new(Zeroizing::new(rgb));
        self.cache = Some(Rendered {
            scene_gen,
            pose,
            width,
            height,
            rgb: rgb.clone(),
        });
        Ok((width, height, rgb))
    }

    async fn next(&mut self) -> Result<Frame, Error> {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let period_ns = self.period.as_nanos().max(1);
        let elapsed = now.duration_since(start).as_nanos();
        // The next frame due: not before the last one + 1, not in the past
        // (in lockstep, simply the next one).
        let due_index = u64::try_from(elapsed.div_ceil(period_ns)).unwrap_or(u64::MAX);
        let index = if self.opts.lockstep {
            self.next_index
        } else {
            self.next_index.max(due_index)
        };
        let t =
            Duration::from_nanos(u64::try_from(u128::from(index) * period_ns).unwrap_or(u64::MAX));

        // Apply what is due now, then fail at once when unplugged (a real
        // camera's open fails immediately).
        {
            let state = self.state.clone();
            let mut s = lock(&state);
            let now_t = now.duration_since(start);
            self.apply_script(&mut s, now_t);
            if s.unplugged {
                return Err(Error::Unplugged {
                    device: SIM_DEVICE.into(),
                });
            }
        }
        tokio::time::sleep_until(start + t).await;

        let (scene, scene_gen, pose, blank, frozen, unplugged) = {
            let state = self.state.clone();
            let mut s = lock(&state);
            self.apply_script(&mut s, t);
            let pose = s.pose_at(t);
            (
                s.scene.clone(),
                s.scene_gen,
                pose,
                s.blank,
                s.frozen,
                s.unplugged,
            )
        };
        if unplugged {
            return Err(Error::Unplugged {
                device: SIM_DEVICE.into(),
            });
        }
        self.next_index = index.saturating_add(1);

        let rgb: Vec<u8>;
        let (width, height);
        if frozen {
            if self.frozen.is_none() {
                let (w, h, px) = self.render(scene, scene_gen, pose).await?;
                self.frozen = Some(Rendered {
                    scene_gen,
                    pose,
                    width: w,
                    height: h,
                    rgb: px,
                });
            }
            let Some(f) = &self.frozen else {
                return Err(Error::Decode {
                    detail: "frozen picture missing".into(),
                });
            };
            (width, height) = (f.width, f.height);
            rgb = f.rgb.to_vec();
        } else {
            self.frozen = None;
            let (w, h) = scene.size();
            (width, height) = (w, h);
            let clean = if blank {
                None
            } else {
                Some(self.render(scene, scene_gen, pose).await?.2)
            };
            rgb = self.noisy(clean, rgb_len(w, h).unwrap_or(0)).await?;
        }
        let frame = Frame::new(width, height, rgb, index, t)?;
        lock(&self.state).served += 1;
        Ok(frame)
    }

    /// A copy of `clean` (a blank frame of `len` bytes when `None`) with the
    /// sensor noise added, made on the blocking pool: a whole frame is too
    /// much work for an async worker, whose other tasks would wait.
    async fn noisy(
        &mut self,
        clean: Option<Arc<Zeroizing<Vec<u8>>>>,
        len: usize,
    ) -> Result<Vec<u8>, Error> {
        let (amp, seed) = (self.opts.noise, self.noise_seed);
        let (px, seed) = tokio::task::spawn_blocking(move || {
            let mut px = match clean {
                Some(c) => c.to_vec(),
                None => vec![BLANK_LEVEL; len],
            };
            let seed = add_noise(&mut px, amp, seed);
            (px, seed)
        })
        .await
        .map_err(|e| Error::Decode {
            detail: format!("noise task failed: {e}"),
        })?;
        self.noise_seed = seed;
        Ok(px)
    }
}

/// Adds deterministic noise in `[-amp, +amp]` (xorshift64 from `seed`);
/// returns the next seed.
fn add_noise(px: &mut [u8], amp: u8, seed: u64) -> u64 {
    let amp = i16::from(amp);
    if amp == 0 {
        return seed;
    }
    let span = (2 * amp + 1) as u64;
    let mut x = seed;
    for p in px.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delta = (x % span) as i16 - amp;
        *p = (i16::from(*p) + delta).clamp(0, 255) as u8;
    }
    x
}

impl FrameSource for SimCamera {
    fn next_frame(&mut self) -> impl std::future::Future<Output = Result<Frame, Error>> + Send {
        self.next()
    }

    fn health(&self) -> crate::Health {
        if lock(&self.state).unplugged {
            crate::Health::Fault("camera unplugged".into())
        } else {
            crate::Health::Ok
        }
    }
    fn paced_by_reader(&self) -> bool {
        self.opts.lockstep
    }
}

/// Height of the nose bump over the head's surface (in face half-widths).
const NOSE_DEPTH: f32 = 0.45;
/// Horizontal spread of the nose (fraction of the face half-width).
const NOSE_SIGMA_X: f32 = 0.2;
/// Vertical spread of the nose (fraction of the face half-height).
const NOSE_SIGMA_Y: f32 = 0.28;
/// Vertical position of the nose centre (fraction of the half-height, below the box centre).
const NOSE_Y: f32 = 0.08;
/// Depth of the head at the face centre (in face half-widths). Below 1 so
/// the warp stays invertible near the rim (no fold-over).
const HEAD_DEPTH: f32 = 0.7;
/// Where the displacement has faded out, in face radii.
const FADE_END: f32 = 1.6;
/// Fixed-point iterations (damped) inverting the displacement.
const INVERT_STEPS: usize = 8;
/// Damping of the inversion.
const INVERT_DAMPING: f32 = 0.75;
/// Spacing in pixels of the nodes where the inverse map is solved exactly.
const GRID: usize = 4;

/// Warps a face photo to mimic the head in `pose` (see the module docs for
/// the signs). Returns RGB8 of the same size.
///
/// The head is modelled as a paraboloid (depth `HEAD_DEPTH · (1 − r²)` over
/// the face ellipse, in face half-widths) plus a nose bump. A rotation moves each surface point sideways by
/// `depth · sin(angle)` and foreshortens it by `cos(angle)`: the nose moves
/// most, the eyes less, the cheeks least, and the side turning away is
/// compressed. Outside the face the displacement fades smoothly to zero, so
/// the background stays put. The map is inverted by damped fixed-point
/// iteration on a 4-pixel grid, interpolated in between, and the photo is
/// sampled bilinearly.
pub fn warp_pose(width: u32, height: u32, rgb: &[u8], face: FaceBox, pose: Pose) -> Vec<u8> {
    let mut out = rgb.to_vec();
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || rgb.len() < w * h * 3 || pose == Pose::FRONTAL {
        return out;
    }
    let (cx, cy) = face.centre();
    let rx = (face.width / 2.0).max(1.0);
    let ry = (face.height / 2.0).max(1.0);
    let (sy, cyaw) = pose.yaw_deg.to_radians().sin_cos();
    let (sp, cp) = pose.pitch_deg.to_radians().sin_cos();

    // Forward displacement (pixels) of the surface point at source (x, y).
    let displacement = |x: f32, y: f32| -> (f32, f32) {
        let u = (x - cx) / rx;
        let v = (y - cy) / ry;
        let r = (u * u + v * v).sqrt();
        if r >= FADE_END {
            return (0.0, 0.0);
        }
        let head = HEAD_DEPTH * (1.0 - r * r).max(0.0);
        let nu = u / NOSE_SIGMA_X;
        let nv = (v - NOSE_Y) / NOSE_SIGMA_Y;
        let nose = NOSE_DEPTH * (-0.5 * (nu * nu + nv * nv)).exp();
        let z = head + nose;
        let fade = if r <= 1.0 {
            1.0
        } else {
            let t = (r - 1.0) / (FADE_END - 1.0);
            1.0 - t * t * (3.0 - 2.0 * t)
        };
        // Depth is measured in half-widths for both axes (a head is about
        // as deep as it is wide).
        let dx = u * (cyaw - 1.0) * rx - z * sy * rx;
        let dy = v * (cp - 1.0) * ry + z * sp * rx;
        (dx * fade, dy * fade)
    };

    // Only the region within FADE_END radii moves, plus the largest
    // displacement.
    let reach = (HEAD_DEPTH + NOSE_DEPTH + 0.5) * rx;
    let (mx, my) = (FADE_END * rx + reach, FADE_END * ry + reach);
    let x0 = (cx - mx).floor().max(0.0) as usize;
    let x1 = ((cx + mx).ceil().max(0.0) as usize).min(w);
    let y0 = (cy - my).floor().max(0.0) as usize;
    let y1 = ((cy + my).ceil().max(0.0) as usize).min(h);

    if x0 >= x1 || y0 >= y1 {
        return out;
    }

    // The inverse map is smooth: solve it on a coarse grid of nodes and
    // interpolate between them (an order of magnitude less work).
    let invert = |px: f32, py: f32| -> (f32, f32) {
        // Find the source point s with s + d(s) = p (damped fixed point).
        let (mut sx, mut sy) = (px, py);
        for _ in 0..INVERT_STEPS {
            let (dx, dy) = displacement(sx, sy);
            sx += INVERT_DAMPING * (px - dx - sx);
            sy += INVERT_DAMPING * (py - dy - sy);
        }
        (sx, sy)
    };
    let nodes_x = (x1 - x0).div_ceil(GRID) + 1;
    let nodes_y = (y1 - y0).div_ceil(GRID) + 1;
    let mut map = Vec::with_capacity(nodes_x * nodes_y);
    for j in 0..nodes_y {
        for i in 0..nodes_x {
            map.push(invert((x0 + i * GRID) as f32, (y0 + j * GRID) as f32));
        }
    }
    let node = |i: usize, j: usize| map[j * nodes_x + i];
    let step = GRID as f32;
    for y in y0..y1 {
        let (j, fy) = ((y - y0) / GRID, ((y - y0) % GRID) as f32 / step);
        for x in x0..x1 {
            let (i, fx) = ((x - x0) / GRID, ((x - x0) % GRID) as f32 / step);
            let (a, b, c, d) = (
                node(i, j),
                node(i + 1, j),
                node(i, j + 1),
                node(i + 1, j + 1),
            );
            let lerp = |p: f32, q: f32, t: f32| p + (q - p) * t;
            let sx = lerp(lerp(a.0, b.0, fx), lerp(c.0, d.0, fx), fy);
            let sy = lerp(lerp(a.1, b.1, fx), lerp(c.1, d.1, fx), fy);
            if (sx - x as f32).abs() < 0.02 && (sy - y as f32).abs() < 0.02 {
                continue; // not moved: the copy is already right
            }
            let rgb_px = sample(rgb, w, h, sx, sy);
            let i = (y * w + x) * 3;
            out[i..i + 3].copy_from_slice(&rgb_px);
        }
    }
    out
}

/// Bilinear sample at `(x, y)`, clamped to the image.
fn sample(rgb: &[u8], w: usize, h: usize, x: f32, y: f32) -> [u8; 3] {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (xa, ya) = (x.floor() as usize, y.floor() as usize);
    let (xb, yb) = ((xa + 1).min(w - 1), (ya + 1).min(h - 1));
    let (fx, fy) = (x - xa as f32, y - ya as f32);
    let (ia, ib) = ((ya * w + xa) * 3, (ya * w + xb) * 3);
    let (ic, id) = ((yb * w + xa) * 3, (yb * w + xb) * 3);
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = f32::from(rgb[ia + c]) * (1.0 - fx) + f32::from(rgb[ib + c]) * fx;
        let bottom = f32::from(rgb[ic + c]) * (1.0 - fx) + f32::from(rgb[id + c]) * fx;
        *o = (top * (1.0 - fy) + bottom * fy + 0.5).clamp(0.0, 255.0) as u8;
    }
    out
}
