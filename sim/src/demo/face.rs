//! The demo's face rig: the camera twin showing a test photo, the face
//! engine on real models, the face actor, and a "subject" that follows the
//! prompts the screen shows, the way a citizen would.
//!
//! Models and photos are test material from the shared folder of the
//! development checkout (`KIOSK_MODELS_DIR` and `KIOSK_DEMO_FACES` override
//! where they are looked for). They are read into memory only; nothing is
//! written. The device never reads them: it has its own model directory
//! (`kiosk models fetch`) and no test photos.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbImage;
use kiosk_drivers::camera::sim::{
    FaceBox, Pose, SimCamera, SimCameraControl, SimImage, SimOptions,
};
use tokio::sync::watch;

use kiosk::face::config::FaceConfig;
use kiosk::face::engine::{FaceEngine, Pipeline};
use kiosk::face::FrameView;
use kiosk::runtime::face::{spawn_face_actor, FaceActor, FacePrompt};

/// How far the subject turns its head (degrees of the twin's warp).
pub const SUBJECT_TURN_DEG: f32 = 40.0;
/// How far the subject nods, down then up (degrees of the twin's warp).
pub const SUBJECT_NOD_DEG: f32 = 45.0;
/// One full nod of the subject, down and up (frame time).
pub const SUBJECT_NOD_PERIOD: Duration = Duration::from_millis(1_500);
/// Width the photos are scaled to before the twin shows them.
const PHOTO_WIDTH: u32 = 640;

/// Why the face rig could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    /// Test material missing.
    #[error("{what} not found (looked in {looked}); set {var}")]
    Missing {
        /// What.
        what: &'static str,
        /// Where.
        looked: String,
        /// The variable that points elsewhere.
        var: &'static str,
    },
    /// A photo could not be read.
    #[error("cannot read photo {path}: {detail}")]
    Photo {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The engine or camera failed.
    #[error("{0}")]
    Face(String),
}

fn find(var: &'static str, what: &'static str, rel: &str) -> Result<PathBuf, RigError> {
    let mut looked = Vec::new();
    let candidates = std::env::var_os(var).map(PathBuf::from).into_iter().chain([
        PathBuf::from("../shared").join(rel),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).join(rel),
    ]);
    for c in candidates {
        if c.is_dir() {
            return Ok(c);
        }
        looked.push(c.display().to_string());
    }
    Err(RigError::Missing {
        what,
        looked: looked.join(", "),
        var,
    })
}

/// The face models' directory for the demo.
pub fn models_dir() -> Result<PathBuf, RigError> {
    find("KIOSK_MODELS_DIR", "face models", "models")
}

/// The test photos' directory for the demo (`pairs/` inside).
pub fn faces_dir() -> Result<PathBuf, RigError> {
    find("KIOSK_DEMO_FACES", "test face photos", "faces")
}

/// Reads a photo and scales it to the twin's working width.
pub fn load_photo(path: &Path) -> Result<RgbImage, RigError> {
    let bad = |detail: String| RigError::Photo {
        path: path.to_owned(),
        detail,
    };
    let img = image::open(path).map_err(|e| bad(e.to_string()))?.to_rgb8();
    if img.width() <= PHOTO_WIDTH {
        return Ok(img);
    }
    let h = (u64::from(img.height()) * u64::from(PHOTO_WIDTH) / u64::from(img.width())) as u32;
    Ok(image::imageops::resize(
        &img,
        PHOTO_WIDTH,
        h.max(1),
        image::imageops::FilterType::Triangle,
    ))
}

/// A photo as the trusted-identity service would hold it: scaled down and
/// re-encoded as a JPEG of a few tens of kilobytes.
pub fn reference_jpeg(path: &Path) -> Result<Vec<u8>, RigError> {
    let img = load_photo(path)?;
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .map_err(|e| RigError::Photo {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(out.into_inner())
}

/// Where the detector finds the face in a photo, for the twin's warp.
fn face_box(p: &Pipeline, img: &RgbImage) -> Option<FaceBox> {
    let view = FrameView {
        width: img.width(),
        height: img.height(),
        rgb: img.as_raw(),
    };
    let (det, _) = p.main_face(view).ok()??;
    Some(FaceBox {
        x: det.bbox.x1,
        y: det.bbox.y1,
        width: det.bbox.x2 - det.bbox.x1,
        height: det.bbox.y2 - det.bbox.y1,
    })
}

/// The running rig.
pub struct FaceRig {
    /// The face actor (for the runner).
    pub actor: FaceActor,
    /// The camera twin's controls (freeze, unplug, pose).
    pub camera: SimCameraControl,
    subject: tokio::task::JoinHandle<()>,
}

impl Drop for FaceRig {
    fn drop(&mut self) {
        self.subject.abort();
    }
}

/// Sets up the rig with `photo` in front of the camera.
pub fn start(cfg: &FaceConfig, photo: &Path) -> Result<FaceRig, RigError> {
    let img = load_photo(photo)?;
    let pipeline = Pipeline::load(cfg).map_err(|e| RigError::Face(e.to_string()))?;
    let face = face_box(&pipeline, &img);
    drop(pipeline);
    let (w, h) = (img.width(), img.height());
    let image =
        SimImage::from_rgb(w, h, img.into_raw()).map_err(|e| RigError::Face(e.to_string()))?;
    // Lockstep: the liveness challenge is timed on frame times, so the
    // scripted citizen keeps up even when the machine is loaded (a slow
    // engine would otherwise see frames skipped and the time limit pass).
    let opts = SimOptions {
        size: None,
        lockstep: true,
        ..SimOptions::default()
    };
    let (camera, control) = SimCamera::new(
        kiosk_drivers::camera::sim::Scene::Subject { image, face },
        opts,
    )
    .map_err(|e| RigError::Face(e.to_string()))?;
    let engine = FaceEngine::spawn(cfg.clone()).map_err(|e| RigError::Face(e.to_string()))?;
    let actor = spawn_face_actor(
        camera,
        engine,
        usize::from(cfg.liveness.actions),
        cfg.liveness.mirrored,
    );
    let subject = tokio::spawn(follow_prompts(actor.prompt.clone(), control.clone()));
    Ok(FaceRig {
        actor,
        camera: control,
        subject,
    })
}

/// The subject: turns or nods as the screen asks, and faces the camera
/// again after. A nod goes chin down and up until the screen asks for
/// something else, as a person nods. Every movement is timed on frame times
/// (the twin's), so a busy machine sees the same movements, only later.
async fn follow_prompts(mut prompt: watch::Receiver<FacePrompt>, camera: SimCameraControl) {
    let over = Duration::from_millis(250);
    loop {
        let asked = prompt.borrow_and_update().prompt;
        tracing::debug!(?asked, "subject follows the prompt");
        match asked {
            // The citizen's own left: the nose moves to the frame's right,
            // which is the twin's negative yaw.
            Some("face.prompt.turn_left") => {
                camera.turn_to(Pose::new(-SUBJECT_TURN_DEG, 0.0), over)
            }
            Some("face.prompt.turn_right") => {
                camera.turn_to(Pose::new(SUBJECT_TURN_DEG, 0.0), over)
            }
            Some("face.prompt.nod") => camera.nod(SUBJECT_NOD_DEG, SUBJECT_NOD_PERIOD),
            _ => camera.turn_to(Pose::FRONTAL, over),
        }
        if prompt.changed().await.is_err() {
            return;
        }
    }
}
