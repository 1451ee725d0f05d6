//! The camera driver core, written against a small device seam.
//!
//! [`CaptureDriver`] is a [`FrameSource`] over any [`Opener`]: the real one
//! opens a V4L2 device (`v4l2.rs`), tests open fakes that hand out scripted
//! buffers and errors. The design:
//!
//! - **A capture thread per open device.** It blocks in
//!   [`RawDevice::next`] (which returns at least every few hundred ms so the
//!   thread notices when it should stop), copies each good buffer and keeps
//!   only the newest one in a shared slot, then wakes the async side. The
//!   camera keeps streaming at its own rate; a slow reader gets the newest
//!   frame, never one that sat in the driver's queue.
//! - **Staleness by driver sequence numbers.** [`SeqTracker`] turns the
//!   driver's 32-bit buffer sequence (and timestamp) into the frame's 64-bit
//!   `seq`, dropping any buffer that is not newer than the last one. The slot
//!   is emptied when read, and the async side also refuses a `seq` it has
//!   already returned, so the same frame is never handed out twice. `seq`
//!   keeps increasing across reopens.
//! - **Unplug and reopen.** A read error ends the thread (closing the
//!   device); the caller gets [`Error::Unplugged`] (`ENODEV`, `ENXIO`,
//!   `ENOENT`, `ESHUTDOWN`) or [`Error::Io`], and the *next* call tries to
//!   open the device again. No frame within the time limit gives
//!   [`Error::Timeout`] and also restarts the stream on the next call (the
//!   usual cure for a stalled USB camera).
//! - **Conversion off the runtime.** Pixel conversion (YUYV → RGB or MJPEG
//!   decode) runs in `spawn_blocking` only for the frames actually asked for.
//!
//! Raw buffers are face data too: they are zeroized when replaced or dropped.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use zeroize::Zeroizing;

use super::convert::{mjpeg_to_rgb, yuyv_to_rgb};
use super::{Error, Frame, FrameSource};

/// Metadata of one dequeued buffer, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawMeta {
    /// The driver's frame counter (`v4l2_buffer.sequence`), wrapping at 2³².
    pub sequence: u32,
    /// The driver's capture timestamp (monotonic clock).
    pub timestamp: Duration,
    /// The driver flagged the buffer as corrupted (`V4L2_BUF_FLAG_ERROR`).
    pub corrupted: bool,
}

/// How the buffers of an open device are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawLayout {
    /// One JPEG image per buffer.
    Mjpeg,
    /// Packed YUYV 4:2:2 with `stride` bytes per line.
    Yuyv {
        /// Bytes per line (`bytesperline`).
        stride: usize,
    },
}

/// What was agreed with the device when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Buffer encoding.
    pub layout: RawLayout,
}

/// An open, streaming device, read on the capture thread (blocking).
pub trait RawDevice: Send + 'static {
    /// The next filled buffer. Must return within a short time (a few
    /// hundred ms) with `ErrorKind::TimedOut` (or `WouldBlock`) when no frame
    /// came, so the capture thread can notice that it should stop. Any other
    /// error ends the stream.
    fn next(&mut self) -> io::Result<(&[u8], RawMeta)>;
}

/// Opens the device (blocking; called on a blocking thread).
pub trait Opener: Send + Sync + 'static {
    /// The open device.
    type Device: RawDevice;
    /// Opens, negotiates the format and starts streaming.
    fn open(&self) -> Result<(Self::Device, Negotiated), Error>;
    /// The device name shown in errors.
    fn device_name(&self) -> String;
}

/// Whether an OS error means the device is gone (rather than misbehaving).
pub fn is_unplug_error(e: &io::Error) -> bool {
    match e.raw_os_error() {
        Some(code) => [libc::ENODEV, libc::ENXIO, libc::ENOENT, libc::ESHUTDOWN].contains(&code),
        None => e.kind() == io::ErrorKind::NotFound,
    }
}

/// Maps a device I/O error to [`Error::Unplugged`] or [`Error::Io`].
pub fn classify_io(device: &str, e: io::Error) -> Error {
    if is_unplug_error(&e) {
        Error::Unplugged {
            device: device.to_owned(),
        }
    } else {
        Error::Io {
            device: device.to_owned(),
            source: e,
        }
    }
}

/// Turns driver sequence numbers into strictly increasing frame numbers and
/// recognises stale buffers.
///
/// A buffer is new if its driver sequence is ahead of the last one (modulo
/// 2³², so the counter may wrap), or, for drivers that do not count frames,
/// if its timestamp is later. Anything else is a stale buffer. Gaps in the
/// driver sequence (frames the driver dropped) are kept as gaps.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    next: u64,
    last: Option<(u32, Duration, u64)>,
}

impl SeqTracker {
    /// A tracker whose first accepted buffer gets number `first`.
    pub fn new(first: u64) -> Self {
        SeqTracker {
            next: first,
            last: None,
        }
    }

    /// The frame number for a dequeued buffer, or `None` if it is stale.
    pub fn accept(&mut self, sequence: u32, timestamp: Duration) -> Option<u64> {
        let seq = match self.last {
            None => self.next,
            Some((last_seq, last_ts, last_out)) => {
                let ahead = sequence.wrapping_sub(last_seq);
                if ahead != 0 && ahead < 1 << 31 {
                    last_out.saturating_add(u64::from(ahead))
                } else if timestamp > last_ts {
                    // The driver does not count (or restarted its counter)
                    // but the buffer was filled later: a new frame.
                    last_out.saturating_add(1)
                } else {
                    return None;
                }
            }
        };
        self.last = Some((sequence, timestamp, seq));
        self.next = seq.saturating_add(1);
        Some(seq)
    }

    /// The number the next new buffer would get at least.
    pub fn next_seq(&self) -> u64 {
        self.next
    }
}

/// A copied buffer waiting in the slot.
struct RawFrame {
    bytes: Zeroizing<Vec<u8>>,
    seq: u64,
    captured_at: Duration,
}

#[derive(Default)]
struct Slot {
    latest: Option<RawFrame>,
    /// The error that ended the capture thread.
    failed: Option<io::Error>,
    /// The capture thread has ended (device closed).
    ended: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    notify: Notify,
    stop: AtomicBool,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // Every update is a plain field write: a poisoned slot is still consistent.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The capture thread's body: read, filter, keep the newest, until stopped
/// or the device fails.
fn capture_loop<D: RawDevice>(device: D, shared: &Shared, mut seqs: SeqTracker, epoch: Instant) {
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let mut device = device;
        let mut stale = 0u64;
        let result = loop {
            if shared.stop.load(Ordering::Acquire) {
                break None;
            }
            match device.next() {
                Ok((bytes, meta)) => {
                    if meta.corrupted {
                        tracing::debug!("camera buffer flagged corrupted, skipped");
                        continue;
                    }
                    let Some(seq) = seqs.accept(meta.sequence, meta.timestamp) else {
                        stale += 1;
                        if stale.is_power_of_two() {
                            tracing::warn!(stale, "camera returned a stale buffer, skipped");
                        }
                        continue;
                    };
                    let frame = RawFrame {
                        bytes: Zeroizing::new(bytes.to_vec()),
                        seq,
                        captured_at: epoch.elapsed(),
                    };
                    // The frame replaced here (never read) is zeroized on drop.
                    lock(&shared.slot).latest = Some(frame);
                    shared.notify.notify_one();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => break Some(e),
            }
        };
        // Close the device before reporting the end, so a reopen does not
        // find it busy.
        drop(device);
        result
    }));
    let failed = match outcome {
        Ok(failed) => failed,
        Err(_) => Some(io::Error::other("camera capture thread panicked")),
    };
    let mut slot = lock(&shared.slot);
    slot.failed = failed;
    slot.ended = true;
    drop(slot);
    shared.notify.notify_one();
}

/// A running capture thread.
struct Stream {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    negotiated: Negotiated,
}

impl Stream {
    /// Waits for a frame newer than `after`, or the thread's end.
    async fn wait(&self, after: Option<u64>) -> Result<RawFrame, io::Error> {
        loop {
            {
                let mut slot = lock(&self.shared.slot);
                if let Some(frame) = slot.latest.take() {
                    if after.is_none_or(|a| frame.seq > a) {
                        return Ok(frame);
                    }
                }
                if slot.ended {
                    return Err(slot
                        .failed
                        .take()
                        .unwrap_or_else(|| io::Error::other("camera capture thread stopped")));
                }
            }
            // notify_one stores a permit if nobody waits, so a frame that
            // arrives between the check above and here is not missed.
            self.shared.notify.notified().await;
        }
    }

    /// Asks the thread to stop and returns its handle to join.
    fn stop(mut self) -> Option<JoinHandle<()>> {
        self.shared.stop.store(true, Ordering::Release);
        self.thread.take()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Detached: the thread notices within one read and closes the device.
        self.shared.stop.store(true, Ordering::Release);
    }
}

/// A [`FrameSource`] over any [`Opener`]; see the module docs.
pub struct CaptureDriver<O: Opener> {
    opener: Arc<O>,
    device: String,
    timeout: Duration,
    epoch: Instant,
    stream: Option<Stream>,
    last_returned: Option<u64>,
    next_seq: u64,
    health: crate::Health,
    opens: u64,
}

impl<O: Opener> CaptureDriver<O> {
    /// A driver that opens the device on the first [`FrameSource::next_frame`].
    /// `timeout`: how long to wait for a new frame.
    pub fn new(opener: O, timeout: Duration) -> Self {
        CaptureDriver {
            device: opener.device_name(),
            opener: Arc::new(opener),
            timeout,
            epoch: Instant::now(),
            stream: None,
            last_returned: None,
            next_seq: 0,
            health: crate::Health::Unknown,
            opens: 0,
        }
    }

    /// Whether the device is open and streaming.
    pub fn is_streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// How many times the device was opened successfully.
    pub fn opens(&self) -> u64 {
        self.opens
    }

    /// The negotiated format while streaming.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.stream.as_ref().map(|s| s.negotiated)
    }

    async fn open(&mut self) -> Result<(), Error> {
        let opener = self.opener.clone();
        let (device, negotiated) = tokio::task::spawn_blocking(move || opener.open())
            .await
            .map_err(|e| Error::Io {
                device: self.device.clone(),
                source: io::Error::other(e),
            })??;
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            notify: Notify::new(),
            stop: AtomicBool::new(false),
        });
        let seqs = SeqTracker::new(self.next_seq);
        let epoch = self.epoch;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("camera-capture".into())
            .spawn(move || capture_loop(device, &thread_shared, seqs, epoch))
            .map_err(|e| Error::Io {
                device: self.device.clone(),
                source: e,
            })?;
        self.opens += 1;
        tracing::info!(
            device = %self.device,
            width = negotiated.width,
            height = negotiated.height,
            layout = ?negotiated.layout,
            "camera streaming"
        );
        self.stream = Some(Stream {
            shared,
            thread: Some(thread),
            negotiated,
        });
        Ok(())
    }

    /// Stops the capture thread and waits (off the runtime) until it has
    /// closed the device.
    async fn close(&mut self) {
        if let Some(handle) = self.stream.take().and_then(Stream::stop) {
            // A join error means the thread panicked outside catch_unwind:
            // nothing left to clean up.
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }

    async fn fail(&mut self, e: Error) -> Error {
        self.close().await;
        self.health = e.health();
        tracing::warn!(device = %self.device, error = %e, "camera error");
        e
    }

    async fn next(&mut self) -> Result<Frame, Error> {
        if self.stream.is_none() {
            if let Err(e) = self.open().await {
                self.health = e.health();
                return Err(e);
            }
        }
        let Some(stream) = self.stream.as_ref() else {
            return Err(Error::Unplugged {
                device: self.device.clone(),
            });
        };
        let negotiated = stream.negotiated;
        let waited = tokio::time::timeout(self.timeout, stream.wait(self.last_returned)).await;
        let raw = match waited {
            Ok(Ok(raw)) => raw,
            Ok(Err(io)) => {
                let e = classify_io(&self.device, io);
                return Err(self.fail(e).await);
            }
            Err(_elapsed) => {
                let e = Error::Timeout {
                    device: self.device.clone(),
                    after: self.timeout,
                };
                return Err(self.fail(e).await);
            }
        };
        self.last_returned = Some(raw.seq);
        self.next_seq = raw.seq.saturating_add(1);
        let frame = tokio::task::spawn_blocking(move || to_frame(raw, negotiated))
            .await
            .map_err(|e| Error::Decode {
                detail: format!("conversion task failed: {e}"),
            })?;
        match frame {
            Ok(frame) => {
                self.health = crate::Health::Ok;
                Ok(frame)
            }
            Err(e) => {
                self.health = e.health();
                Err(e)
            }
        }
    }
}

impl<O: Opener> FrameSource for CaptureDriver<O> {
    fn next_frame(&mut self) -> impl std::future::Future<Output = Result<Frame, Error>> + Send {
        self.next()
    }

    fn health(&self) -> crate::Health {
        self.health.clone()
    }
}

/// Converts a copied buffer to an RGB frame.
fn to_frame(raw: RawFrame, negotiated: Negotiated) -> Result<Frame, Error> {
    match negotiated.layout {
        RawLayout::Mjpeg => {
            let (width, height, rgb) = mjpeg_to_rgb(&raw.bytes)?;
            Frame::new(width, height, rgb, raw.seq, raw.captured_at)
        }
        RawLayout::Yuyv { stride } => {
            let rgb = yuyv_to_rgb(&raw.bytes, negotiated.width, negotiated.height, stride)?;
            Frame::new(
                negotiated.width,
                negotiated.height,
                rgb,
                raw.seq,
                raw.captured_at,
            )
        }
    }
}
