//! The real camera: a UVC webcam through V4L2 (the `v4l` crate).
//!
//! [`V4l2Camera`] is the [`capture::CaptureDriver`] core over
//! [`V4l2Opener`], which implements the device seam with `v4l`:
//! open the node, pick MJPEG or YUYV (as configured; `auto` prefers MJPEG,
//! which needs less USB bandwidth), set the configured size (the driver may
//! answer with the nearest size it has; frames then carry that size), and
//! stream through four mmap buffers. Each dequeued buffer is handed to the
//! capture thread only as far as `bytesused` goes, with the driver's sequence
//! number, timestamp and error flag. Everything about staleness, unplug and
//! reopen lives in [`capture`], where it is tested without hardware.

use std::io;
use std::time::Duration;

use v4l::buffer::{Flags, Type};
use v4l::io::mmap::Stream as MmapStream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, Format, FourCC};

use super::capture::{self, CaptureDriver, Negotiated, Opener, RawDevice, RawLayout, RawMeta};
use super::{CameraConfig, Error, Frame, FrameSource, PixelFormat};

/// How long one blocking read waits before checking whether to stop.
const POLL: Duration = Duration::from_millis(200);

/// Number of mmap buffers queued with the driver.
const BUFFERS: u32 = 4;

const MJPG: &[u8; 4] = b"MJPG";
const YUYV: &[u8; 4] = b"YUYV";

/// A V4L2 camera (see the module docs). Opens the device lazily on the first
/// frame and again after an unplug or a stall.
pub struct V4l2Camera {
    driver: CaptureDriver<V4l2Opener>,
}

impl V4l2Camera {
    /// A camera for `config`. The device is opened lazily, on the first
    /// [`FrameSource::next_frame`] (and again after an unplug or a stall), so
    /// a kiosk that boots without its camera still starts and reports
    /// [`Error::Unplugged`] until one is plugged in. Only the configuration
    /// is checked here ([`Error::Format`] for an empty size).
    pub fn open(config: &CameraConfig) -> Result<Self, Error> {
        if config.width == 0 || config.height == 0 {
            return Err(Error::Format {
                detail: format!("frame size {}x{} is empty", config.width, config.height),
            });
        }
        Ok(V4l2Camera {
            driver: CaptureDriver::new(
                V4l2Opener {
                    config: config.clone(),
                },
                config.timeout(),
            ),
        })
    }

    /// The negotiated format while streaming.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.driver.negotiated()
    }
}

impl FrameSource for V4l2Camera {
    fn next_frame(&mut self) -> impl std::future::Future<Output = Result<Frame, Error>> + Send {
        self.driver.next_frame()
    }

    fn health(&self) -> crate::Health {
        self.driver.health()
    }
}

/// Opens a V4L2 device as configured.
pub struct V4l2Opener {
    config: CameraConfig,
}

/// An open V4L2 device streaming through mmap buffers.
pub struct V4l2Device {
    // Field order matters: the stream (STREAMOFF, unmap) goes before the
    // device handle is closed.
    stream: MmapStream<'static>,
    _device: Device,
}

impl RawDevice for V4l2Device {
    fn next(&mut self) -> io::Result<(&[u8], RawMeta)> {
        let (buf, meta) = CaptureStream::next(&mut self.stream)?;
        let used = (meta.bytesused as usize).min(buf.len());
        let raw = RawMeta {
            sequence: meta.sequence,
            timestamp: Duration::from(meta.timestamp),
            corrupted: meta.flags.contains(Flags::ERROR),
        };
        Ok((&buf[..used], raw))
    }
}

impl Opener for V4l2Opener {
    type Device = V4l2Device;

    fn open(&self) -> Result<(V4l2Device, Negotiated), Error> {
        let name = self.config.device_name();
        let io_err = |e: io::Error| capture::classify_io(&name, e);
        let device = Device::with_path(&self.config.device).map_err(io_err)?;
        let offered: Vec<FourCC> = device
            .enum_formats()
            .map_err(io_err)?
            .into_iter()
            .map(|d| d.fourcc)
            .collect();
        let wanted: &[&[u8; 4]] = match self.config.format {
            PixelFormat::Auto => &[MJPG, YUYV],
            PixelFormat::Mjpeg => &[MJPG],
            PixelFormat::Yuyv => &[YUYV],
        };
        let Some(fourcc) = wanted
            .iter()
            .map(|f| FourCC::new(f))
            .find(|f| offered.contains(f))
        else {
            let offered: Vec<String> = offered.iter().map(ToString::to_string).collect();
            return Err(Error::Format {
                detail: format!(
                    "{name} offers {offered:?}, none of {:?}",
                    self.config.format
                ),
            });
        };
        let asked = Format::new(self.config.width, self.config.height, fourcc);
        let got = device.set_format(&asked).map_err(io_err)?;
        if got.fourcc != fourcc {
            return Err(Error::Format {
                detail: format!("{name} refused {fourcc}, answered {}", got.fourcc),
            });
        }
        if (got.width, got.height) != (self.config.width, self.config.height) {
            tracing::warn!(
                device = %name,
                asked_width = self.config.width,
                asked_height = self.config.height,
                width = got.width,
                height = got.height,
                "camera chose another frame size"
            );
        }
        let layout = if fourcc == FourCC::new(MJPG) {
            RawLayout::Mjpeg
        } else {
            let stride = (got.stride as usize).max(got.width as usize * 2);
            RawLayout::Yuyv { stride }
        };
        let mut stream =
            MmapStream::with_buffers(&device, Type::VideoCapture, BUFFERS).map_err(io_err)?;
        stream.set_timeout(POLL);
        Ok((
            V4l2Device {
                stream,
                _device: device,
            },
            Negotiated {
                width: got.width,
                height: got.height,
                layout,
            },
        ))
    }

    fn device_name(&self) -> String {
        self.config.device_name()
    }
}
