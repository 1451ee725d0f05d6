//! Camera: the frames the local face check looks at.
//!
//! The rest of the system sees only [`FrameSource`], [`Frame`] and [`Error`].
//! Layers, each usable alone:
//! - [`convert`]: pure pixel converters (YUYV 4:2:2 → RGB8, MJPEG → RGB8),
//!   unit-tested with known values.
//! - [`capture`]: the driver core, written against a small device seam
//!   ([`capture::RawDevice`] / [`capture::Opener`]): a capture thread that
//!   keeps only the newest buffer, the async side that waits for a *newer*
//!   one (driver sequence numbers, so a stale buffer is never handed out as
//!   new), unplug detection and reopen on the next call. Tests drive it with
//!   fake buffers and injected errors; no `/dev/video*` is needed.
//! - `v4l2` (Linux only): [`V4l2Camera`], the seam implemented with the `v4l`
//!   crate: MJPEG or YUYV negotiated at the configured size, mmap streaming.
//! - [`sim`]: [`sim::SimCamera`], the twin: replays a still photo at a nominal
//!   frame rate, or a *subject* whose head follows prompts (yaw/pitch warps),
//!   and can go blank, freeze (a replayed photo) or be unplugged on demand
//!   through a [`sim::SimCameraControl`].
//!
//! Face data rules (DOMAIN.md §2): a [`Frame`] lives only in memory. It has
//! no `Serialize` and no `Clone` (copies are explicit, [`Frame::duplicate`]),
//! its `Debug` never prints pixels, and its pixels are zeroized on drop.
//! Nothing in this module writes to disk. A blank (dark) frame is still a
//! frame, not an error: judging the light is the face check's quality gate.

pub mod capture;
pub mod convert;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(target_os = "linux")]
pub mod v4l2;

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use capture::SeqTracker;
pub use convert::{mjpeg_to_rgb, yuyv_to_rgb};
#[cfg(any(test, feature = "sim"))]
pub use sim::{FaceBox, Pose, SimCamera, SimCameraControl, SimOptions};
#[cfg(target_os = "linux")]
pub use v4l2::V4l2Camera;

/// One camera frame: RGB8, row-major, no padding (`rgb.len() == width * height * 3`).
///
/// Face data: zeroized on drop, never printed, never serialized, copied only
/// through [`Frame::duplicate`].
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGB8 pixels, row-major, 3 bytes per pixel, no row padding.
    pub rgb: Vec<u8>,
    /// Sequence number: strictly increasing over the life of the source
    /// (across reopens too); gaps mean frames the source dropped.
    pub seq: u64,
    /// Capture time, monotonic, measured from the start of the source.
    pub captured_at: Duration,
}

impl Frame {
    /// A frame from RGB8 pixels; [`Error::Format`] if the buffer length does
    /// not match the size.
    pub fn new(
        width: u32,
        height: u32,
        rgb: Vec<u8>,
        seq: u64,
        captured_at: Duration,
    ) -> Result<Self, Error> {
        let expected = rgb_len(width, height);
        if expected != Some(rgb.len()) {
            let got = rgb.len();
            // Wipe the pixels we are refusing: they may be a face.
            let mut rgb = rgb;
            rgb.zeroize();
            return Err(Error::Format {
                detail: format!("{width}x{height} RGB8 needs {expected:?} bytes, got {got}"),
            });
        }
        Ok(Frame {
            width,
            height,
            rgb,
            seq,
            captured_at,
        })
    }

    /// An explicit copy (face data is never copied implicitly).
    pub fn duplicate(&self) -> Frame {
        Frame {
            width: self.width,
            height: self.height,
            rgb: self.rgb.clone(),
            seq: self.seq,
            captured_at: self.captured_at,
        }
    }

    /// The pixel at `(x, y)`, or `None` outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        let p = self.rgb.get(i..i + 3)?;
        Some([p[0], p[1], p[2]])
    }

    /// Mean luma (BT.601, 0–255) over the frame; 0 for an empty frame. A
    /// cheap light check (a covered lens or a dark room gives a low value).
    pub fn mean_luma(&self) -> f32 {
        let n = self.rgb.len() / 3;
        if n == 0 {
            return 0.0;
        }
        let sum: u64 = self
            .rgb
            .chunks_exact(3)
            .map(|p| (299 * p[0] as u64 + 587 * p[1] as u64 + 114 * p[2] as u64) / 1000)
            .sum();
        sum as f32 / n as f32
    }

    /// A borrowed `image` view of the pixels (no copy), for code that works
    /// with the `image` crate; `None` if the fields were made inconsistent.
    pub fn view(&self) -> Option<image::ImageBuffer<image::Rgb<u8>, &[u8]>> {
        image::ImageBuffer::from_raw(self.width, self.height, self.rgb.as_slice())
    }
}

/// `width * height * 3`, if it fits in memory.
pub(crate) fn rgb_len(width: u32, height: u32) -> Option<usize> {
    (width as usize)
        .checked_mul(height as usize)?
        .checked_mul(3)
}

impl Zeroize for Frame {
    fn zeroize(&mut self) {
        // Vec::zeroize overwrites every byte (spare capacity included), then
        // clears the vector.
        self.rgb.zeroize();
        self.width = 0;
        self.height = 0;
        self.seq = 0;
        self.captured_at = Duration::ZERO;
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Frame {}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("rgb", &format_args!("<{} bytes>", self.rgb.len()))
            .field("seq", &self.seq)
            .field("captured_at", &self.captured_at)
            .finish()
    }
}

/// A source of camera frames: the real camera or its twin.
pub trait FrameSource: Send {
    /// The next new frame (never a stale one returned again as new).
    ///
    /// After [`Error::Unplugged`] or [`Error::Timeout`] the next call tries
    /// to (re)open the device, so a caller simply keeps calling.
    fn next_frame(&mut self) -> impl Future<Output = Result<Frame, Error>> + Send;

    /// Last known health (no device access).
    fn health(&self) -> crate::Health;

    /// Whether frame time follows the reader (a scripted twin in lockstep)
    /// rather than the wall clock: such a source should be read only when
    /// the frame will be used, since every frame read advances its clock.
    /// A real camera runs on the wall clock.
    fn paced_by_reader(&self) -> bool {
        false
    }
}

/// Errors of the camera.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The camera is not there (unplugged, never plugged, or vanished while
    /// streaming). The next call tries to reopen it.
    #[error("camera {device} unplugged")]
    Unplugged {
        /// The device path.
        device: String,
    },
    /// No new frame arrived in time (camera stalled or starting slowly). The
    /// next call restarts the stream.
    #[error("camera {device}: no frame within {after:?}")]
    Timeout {
        /// The device path.
        device: String,
        /// The time limit.
        after: Duration,
    },
    /// The camera offers no usable pixel format or size, or a buffer does not
    /// match the negotiated format.
    #[error("camera format: {detail}")]
    Format {
        /// What did not fit.
        detail: String,
    },
    /// A compressed frame could not be decoded (corrupt or truncated MJPEG).
    /// Transient: the next frame usually decodes.
    #[error("cannot decode camera frame: {detail}")]
    Decode {
        /// The decoder's complaint.
        detail: String,
    },
    /// Any other I/O error on the device.
    #[error("camera {device} I/O: {source}")]
    Io {
        /// The device path.
        device: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the camera is unplugged.
    pub fn is_unplugged(&self) -> bool {
        matches!(self, Error::Unplugged { .. })
    }

    /// Whether retrying soon may succeed without anyone touching the kiosk.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Decode { .. } => true,
            Error::Unplugged { .. } | Error::Format { .. } | Error::Io { .. } => false,
        }
    }

    /// The device health this error amounts to.
    pub fn health(&self) -> crate::Health {
        match self {
            Error::Unplugged { .. } => crate::Health::Fault("camera unplugged".into()),
            Error::Timeout { .. } => crate::Health::Degraded("camera stalled".into()),
            Error::Decode { .. } => crate::Health::Degraded("corrupt frames".into()),
            Error::Format { detail } => crate::Health::Fault(format!("camera format: {detail}")),
            Error::Io { source, .. } => crate::Health::Fault(format!("camera I/O: {source}")),
        }
    }
}

/// Pixel format asked of the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// MJPEG if offered (less USB bandwidth), else YUYV.
    #[default]
    Auto,
    /// Motion JPEG only.
    Mjpeg,
    /// YUYV 4:2:2 only.
    Yuyv,
}

/// Camera configuration (part of the kiosk configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CameraConfig {
    /// V4L2 device node.
    pub device: PathBuf,
    /// Requested width in pixels (the driver may pick the nearest it has).
    pub width: u32,
    /// Requested height in pixels.
    pub height: u32,
    /// Requested pixel format.
    pub format: PixelFormat,
    /// How long to wait for a new frame before [`Error::Timeout`], in
    /// milliseconds. Cameras may take a second to start streaming.
    pub timeout_ms: u64,
}

impl CameraConfig {
    /// [`CameraConfig::timeout_ms`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The device path as shown in errors and logs.
    pub fn device_name(&self) -> String {
        self.device.display().to_string()
    }
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            device: PathBuf::from("/dev/video0"),
            width: 640,
            height: 480,
            format: PixelFormat::Auto,
            timeout_ms: 2000,
        }
    }
}
