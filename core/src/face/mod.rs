//! The local face check: detection, alignment, embedding, quality gates,
//! liveness and the pass/fail decision, all on the device.
//!
//! Pipeline: [`detect`] (CenterFace, box + 5 landmarks) → [`align`] (similarity
//! transform to the 112×112 ArcFace template) → [`embed`] (MobileFaceNet:
//! probe and reference as two batch-1 runs on ONNX, one batch-2 call on the
//! fixed-batch TFLite model; cosine) → [`decision`] (pass or fail
//! only). [`quality`] gates every live frame and maps each failure to a
//! [`quality::Hint`] for the UI; [`liveness`] runs a random active challenge
//! on the landmarks; [`antispoof`] adds the optional passive signal.
//! [`engine`] owns the models on its own thread and talks over channels.
//!
//! Face data rules (DOMAIN.md §2) hold by construction: [`FaceImage`],
//! [`align::AlignedFace`] and [`embed::Embedding`] zeroize on drop, print no
//! data in `Debug`, and are not `Serialize`; similarity scores stay inside
//! [`decision`] (and the offline [`eval`] benchmark, which prints aggregates
//! only). Nothing here writes face data to disk.

pub mod align;
pub mod antispoof;
pub mod cli;
pub mod config;
pub mod decision;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod eval;
pub mod liveness;
pub mod models_fetch;
pub mod quality;

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::{Zeroize, ZeroizeOnDrop};

pub use config::FaceConfig;

/// A point in image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Column, pixels from the left edge.
    pub x: f32,
    /// Row, pixels from the top edge.
    pub y: f32,
}

impl Point {
    /// A point at `(x, y)`.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
}

/// The five facial landmarks in image coordinates, in the order of the
/// ArcFace template: image-left eye, image-right eye, nose tip, image-left
/// mouth corner, image-right mouth corner.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Landmarks(pub [Point; 5]);

impl Landmarks {
    /// Image-left eye.
    pub fn left_eye(&self) -> Point {
        self.0[0]
    }
    /// Image-right eye.
    pub fn right_eye(&self) -> Point {
        self.0[1]
    }
    /// Nose tip.
    pub fn nose(&self) -> Point {
        self.0[2]
    }
    /// Image-left mouth corner.
    pub fn left_mouth(&self) -> Point {
        self.0[3]
    }
    /// Image-right mouth corner.
    pub fn right_mouth(&self) -> Point {
        self.0[4]
    }
    /// Distance between the eyes, pixels.
    pub fn inter_ocular(&self) -> f32 {
        let (a, b) = (self.left_eye(), self.right_eye());
        ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
    }
}

/// A detected face box in image coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl FaceBox {
    /// Width in pixels.
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    /// Height in pixels.
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    /// Intersection over union with `other`.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// One detected face: box, landmarks and the detector's confidence (a
/// detection confidence, not a match score).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Face box in frame coordinates.
    pub bbox: FaceBox,
    /// Five landmarks in frame coordinates.
    pub landmarks: Landmarks,
    /// Detector confidence in 0..1.
    pub confidence: f32,
}

/// A borrowed RGB frame (8-bit, row-major, 3 bytes per pixel, no padding).
#[derive(Clone, Copy)]
pub struct FrameView<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: &'a [u8],
}

impl fmt::Debug for FrameView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FrameView({}x{}, <face data>)", self.width, self.height)
    }
}

impl FrameView<'_> {
    /// The pixel at `(x, y)`; callers keep inside the frame.
    #[inline]
    pub(crate) fn px(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// An owned RGB image that may show a face (a camera frame or a reference
/// photo). Zeroized on drop; `Debug` shows only the size; not `Serialize`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FaceImage {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaceImage({}x{}, <face data>)", self.width, self.height)
    }
}

impl FaceImage {
    /// Wraps an RGB buffer; `None` when its length is not `width*height*3`.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<Self> {
        if rgb.len() == width as usize * height as usize * 3 && width > 0 && height > 0 {
            Some(Self { width, height, rgb })
        } else {
            let mut rgb = rgb;
            rgb.zeroize();
            None
        }
    }

    /// Decodes a JPEG/PNG held in memory (EXIF orientation applied).
    pub fn decode(bytes: &[u8]) -> Result<Self, FaceError> {
        use image::ImageDecoder;
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| FaceError::Image {
                what: "in-memory image".into(),
                reason: e.to_string(),
            })?;
        let mut decoder = reader.into_decoder().map_err(|e| FaceError::Image {
            what: "in-memory image".into(),
            reason: e.to_string(),
        })?;
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| FaceError::Image {
            what: "in-memory image".into(),
            reason: e.to_string(),
        })?;
        img.apply_orientation(orientation);
        let rgb = img.into_rgb8();
        let (w, h) = rgb.dimensions();
        Ok(Self {
            width: w,
            height: h,
            rgb: rgb.into_raw(),
        })
    }

    /// Reads and decodes an image file (tools and tests only; the kiosk gets
    /// frames from the camera and the reference from the central service).
    pub fn open(path: &Path) -> Result<Self, FaceError> {
        let mut bytes = std::fs::read(path).map_err(|source| FaceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let img = Self::decode(&bytes).map_err(|e| match e {
            FaceError::Image { reason, .. } => FaceError::Image {
                what: path.display().to_string(),
                reason,
            },
            other => other,
        });
        bytes.zeroize();
        img
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// A borrowed view for the pipeline.
    pub fn view(&self) -> FrameView<'_> {
        FrameView {
            width: self.width,
            height: self.height,
            rgb: &self.rgb,
        }
    }
}

/// Which image of a comparison had a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The enrolled/reference photo.
    Reference,
    /// The live or probe image.
    Probe,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::Reference => "reference",
            Which::Probe => "probe",
        })
    }
}

/// Errors of the face module. Messages carry paths and stages, never face
/// data or scores.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// A model file could not be loaded or prepared by tract.
    #[error("cannot load model {path}: {reason}")]
    ModelLoad {
        /// Model file.
        path: PathBuf,
        /// tract's explanation.
        reason: String,
    },
    /// Inference failed at run time.
    #[error("inference failed in {stage}: {reason}")]
    Inference {
        /// Pipeline stage (detect, embed, antispoof).
        stage: &'static str,
        /// tract's explanation.
        reason: String,
    },
    /// An image could not be decoded.
    #[error("cannot decode image {what}: {reason}")]
    Image {
        /// File name or "in-memory image".
        what: String,
        /// Decoder explanation.
        reason: String,
    },
    /// File I/O failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// No usable face was found in an image.
    #[error("no usable face found in the {0} image")]
    NoFace(Which),
    /// A pairs CSV could not be understood.
    #[error("cannot read pairs file {path}: {reason}")]
    Pairs {
        /// CSV file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The engine thread is gone.
    #[error("the face engine thread has stopped")]
    EngineStopped,
}

/// Formats a tract error with its chain.
pub(crate) fn tract_reason(e: &tract_onnx::prelude::TractError) -> String {
    format!("{e:#}")
}
