//! Tests of the camera module: converters, the `Frame` type, the driver core
//! through its device seam (staleness, unplug, reopen), and the twin.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::capture::{
    CaptureDriver, Negotiated, Opener, RawDevice, RawLayout, RawMeta, SeqTracker,
};
use super::sim::{warp_pose, FaceBox, Pose, Scene, SimAction, SimImage, SimStep};
use super::*;

// ---- helpers ---------------------------------------------------------------

fn jpeg(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .unwrap();
    out
}

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Centroid of the pixels matching `pred`.
fn centroid(width: u32, rgb: &[u8], pred: impl Fn(&[u8]) -> bool) -> (f32, f32) {
    let (mut sx, mut sy, mut n) = (0f32, 0f32, 0f32);
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        if pred(p) {
            sx += (i as u32 % width) as f32;
            sy += (i as u32 / width) as f32;
            n += 1.0;
        }
    }
    assert!(n > 0.0, "no pixel matched");
    (sx / n, sy / n)
}

fn is_red(p: &[u8]) -> bool {
    p[0] > 150 && p[1] < 100
}

fn is_green(p: &[u8]) -> bool {
    p[1] > 150 && p[0] < 100
}

const W: u32 = 160;
const H: u32 = 120;

fn face_box() -> FaceBox {
    FaceBox {
        x: 40.0,
        y: 10.0,
        width: 80.0,
        height: 100.0,
    }
}

/// A dark "face" with a red nose blob and two green eye blobs.
fn pattern() -> image::RgbImage {
    let mut img = image::RgbImage::from_pixel(W, H, image::Rgb([20, 20, 20]));
    let disc = |img: &mut image::RgbImage, cx: i32, cy: i32, r: i32, c: [u8; 3]| {
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                    img.put_pixel(x as u32, y as u32, image::Rgb(c));
                }
            }
        }
    };
    disc(&mut img, 80, 64, 5, [255, 0, 0]);
    disc(&mut img, 62, 48, 4, [0, 255, 0]);
    disc(&mut img, 98, 48, 4, [0, 255, 0]);
    img
}

fn quiet() -> SimOptions {
    SimOptions {
        fps: 10,
        size: None,
        noise: 0,
        lockstep: false,
    }
}

fn subject() -> (SimCamera, SimCameraControl) {
    subject_with(quiet())
}

/// The test pattern as a subject, with these options.
fn subject_with(opts: SimOptions) -> (SimCamera, SimCameraControl) {
    let image = SimImage::from_bytes(&png(&pattern())).unwrap();
    SimCamera::new(
        Scene::Subject {
            image,
            face: Some(face_box()),
        },
        opts,
    )
    .unwrap()
}

// ---- converters ------------------------------------------------------------

#[test]
fn camera_ycbcr_known_values() {
    assert_eq!(convert::ycbcr_to_rgb(16, 128, 128), [0, 0, 0]);
    assert_eq!(convert::ycbcr_to_rgb(235, 128, 128), [255, 255, 255]);
    assert_eq!(convert::ycbcr_to_rgb(126, 128, 128), [128, 128, 128]);
    // BT.601 limited-range primaries.
    assert_eq!(convert::ycbcr_to_rgb(81, 90, 240), [255, 0, 0]);
    let g = convert::ycbcr_to_rgb(145, 54, 34);
    assert!(g[0] < 3 && g[1] > 252 && g[2] < 3, "{g:?}");
    let b = convert::ycbcr_to_rgb(41, 240, 110);
    assert!(b[0] < 3 && b[1] < 3 && b[2] > 252, "{b:?}");
    // Out-of-range inputs clamp instead of wrapping.
    assert_eq!(convert::ycbcr_to_rgb(0, 128, 128), [0, 0, 0]);
    assert_eq!(convert::ycbcr_to_rgb(255, 128, 128), [255, 255, 255]);
}

#[test]
fn camera_yuyv_frame_with_padded_stride() {
    // 2x2 frame, stride 6 (2 bytes of padding per line).
    let src = [
        16, 128, 235, 128, 0xEE, 0xEE, // black, white
        81, 90, 81, 240, 0xEE, 0xEE, // pair sharing U=90, V=240: red twice
    ];
    let rgb = yuyv_to_rgb(&src, 2, 2, 6).unwrap();
    assert_eq!(
        rgb,
        vec![0, 0, 0, 255, 255, 255, 255, 0, 0, 255, 0, 0],
        "padding must be skipped"
    );
}

#[test]
fn camera_yuyv_rejects_bad_geometry() {
    assert!(matches!(
        yuyv_to_rgb(&[0; 12], 3, 1, 6),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        yuyv_to_rgb(&[0; 8], 2, 2, 2),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        yuyv_to_rgb(&[0; 7], 2, 2, 4),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        yuyv_to_rgb(&[], 0, 0, 0),
        Err(Error::Format { .. })
    ));
    // The last line may end without padding.
    assert!(yuyv_to_rgb(&[16, 128, 16, 128, 0, 0, 16, 128, 16, 128], 2, 2, 6).is_ok());
}

#[test]
fn camera_mjpeg_decodes_a_jpeg_made_in_test() {
    let data = jpeg(16, 8, [200, 40, 60]);
    let (w, h, rgb) = mjpeg_to_rgb(&data).unwrap();
    assert_eq!((w, h), (16, 8));
    assert_eq!(rgb.len(), 16 * 8 * 3);
    for p in rgb.chunks_exact(3) {
        for (got, want) in p.iter().zip([200u8, 40, 60]) {
            assert!(got.abs_diff(want) <= 6, "{p:?}");
        }
    }
}

#[test]
fn camera_mjpeg_garbage_is_a_decode_error() {
    assert!(matches!(
        mjpeg_to_rgb(b"not a jpeg"),
        Err(Error::Decode { .. })
    ));
    let mut truncated = jpeg(16, 16, [1, 2, 3]);
    truncated.truncate(20);
    assert!(matches!(
        mjpeg_to_rgb(&truncated),
        Err(Error::Decode { .. })
    ));
}

// ---- Frame -----------------------------------------------------------------

#[test]
fn camera_frame_debug_prints_no_pixels() {
    let frame = Frame::new(2, 1, vec![171; 6], 7, Duration::from_millis(5)).unwrap();
    let dbg = format!("{frame:?}");
    assert!(dbg.contains("<6 bytes>"), "{dbg}");
    assert!(!dbg.contains("171"), "{dbg}");
    let dup = frame.duplicate();
    assert_eq!(dup.rgb, frame.rgb);
    assert_eq!(dup.seq, 7);
}

#[test]
fn camera_frame_zeroizes() {
    fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
    zeroize_on_drop::<Frame>();

    let mut frame = Frame::new(4, 4, vec![0xA5; 48], 3, Duration::from_secs(1)).unwrap();
    let cap = frame.rgb.capacity();
    frame.zeroize();
    assert!(frame.rgb.is_empty());
    // The allocation is kept (wiped in place), not freed with the pixels in it.
    assert_eq!(frame.rgb.capacity(), cap);
    assert_eq!((frame.width, frame.height, frame.seq), (0, 0, 0));

    // Zeroize on the buffer itself wipes every byte in place.
    let mut px = vec![0xA5u8; 12];
    px.as_mut_slice().zeroize();
    assert!(px.iter().all(|&b| b == 0));
}

#[test]
fn camera_frame_checks_its_size_and_helpers() {
    assert!(matches!(
        Frame::new(2, 2, vec![0; 11], 0, Duration::ZERO),
        Err(Error::Format { .. })
    ));
    let frame = Frame::new(2, 1, vec![10, 20, 30, 255, 255, 255], 0, Duration::ZERO).unwrap();
    assert_eq!(frame.pixel(1, 0), Some([255, 255, 255]));
    assert_eq!(frame.pixel(2, 0), None);
    assert!(frame.mean_luma() > 100.0);
    assert_eq!(frame.view().unwrap().dimensions(), (2, 1));
}

#[test]
fn camera_config_defaults_and_bad_values() {
    let c: CameraConfig =
        serde_json::from_str(r#"{"device":"/dev/video2","format":"yuyv"}"#).unwrap();
    assert_eq!(c.device, std::path::PathBuf::from("/dev/video2"));
    assert_eq!(c.format, PixelFormat::Yuyv);
    assert_eq!((c.width, c.height), (640, 480));
    assert_eq!(c.timeout(), Duration::from_millis(2000));
    let d: CameraConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(d, CameraConfig::default());
    assert_eq!(d.device, std::path::PathBuf::from("/dev/video0"));
    // Unknown keys (`fps`) are the kiosk config loader's to refuse: it
    // knows the file's format (kiosk::config::Config::parse).
    assert!(serde_json::from_str::<CameraConfig>(r#"{"format":"h264"}"#).is_err());
}

// ---- driver core through the seam --------------------------------------------

enum FakeRead {
    Buffer(Vec<u8>, RawMeta),
    Fail(i32),
}

struct World {
    plugged: bool,
    queue: VecDeque<FakeRead>,
    opens: u32,
}

#[derive(Clone)]
struct FakeOpener {
    world: Arc<Mutex<World>>,
    layout: RawLayout,
}

struct FakeDevice {
    world: Arc<Mutex<World>>,
    buf: Vec<u8>,
}

impl RawDevice for FakeDevice {
    fn next(&mut self) -> io::Result<(&[u8], RawMeta)> {
        let item = {
            let mut w = self.world.lock().unwrap();
            if !w.plugged {
                return Err(io::Error::from_raw_os_error(libc::ENODEV));
            }
            w.queue.pop_front()
        };
        match item {
            Some(FakeRead::Buffer(bytes, meta)) => {
                self.buf = bytes;
                Ok((&self.buf, meta))
            }
            Some(FakeRead::Fail(code)) => Err(io::Error::from_raw_os_error(code)),
            None => {
                std::thread::sleep(Duration::from_millis(2));
                Err(io::Error::new(io::ErrorKind::TimedOut, "no frame"))
            }
        }
    }
}

impl Opener for FakeOpener {
    type Device = FakeDevice;

    fn open(&self) -> Result<(FakeDevice, Negotiated), Error> {
        let mut w = self.world.lock().unwrap();
        if !w.plugged {
            return Err(capture::classify_io(
                "fake",
                io::Error::from_raw_os_error(libc::ENOENT),
            ));
        }
        w.opens += 1;
        Ok((
            FakeDevice {
                world: self.world.clone(),
                buf: Vec::new(),
            },
            Negotiated {
                width: 2,
                height: 1,
                layout: self.layout,
            },
        ))
    }

    fn device_name(&self) -> String {
        "fake".into()
    }
}

fn fake(layout: RawLayout) -> (CaptureDriver<FakeOpener>, Arc<Mutex<World>>) {
    let world = Arc::new(Mutex::new(World {
        plugged: true,
        queue: VecDeque::new(),
        opens: 0,
    }));
    let opener = FakeOpener {
        world: world.clone(),
        layout,
    };
    (
        CaptureDriver::new(opener, Duration::from_millis(300)),
        world,
    )
}

/// A 2x1 YUYV buffer whose grey level tells buffers apart.
fn yuyv_buffer(y: u8) -> Vec<u8> {
    vec![y, 128, y, 128]
}

fn meta(sequence: u32, ts_ms: u64) -> RawMeta {
    RawMeta {
        sequence,
        timestamp: Duration::from_millis(ts_ms),
        corrupted: false,
    }
}

fn push(world: &Mutex<World>, read: FakeRead) {
    world.lock().unwrap().queue.push_back(read);
}

#[test]
fn camera_seq_tracker_drops_stale_and_handles_wrap() {
    let mut t = SeqTracker::new(10);
    assert_eq!(t.accept(100, Duration::from_millis(1)), Some(10));
    assert_eq!(
        t.accept(100, Duration::from_millis(1)),
        None,
        "same buffer again"
    );
    assert_eq!(t.accept(99, Duration::from_millis(0)), None, "older buffer");
    assert_eq!(
        t.accept(103, Duration::from_millis(4)),
        Some(13),
        "gap kept"
    );
    let mut w = SeqTracker::new(0);
    assert_eq!(w.accept(u32::MAX, Duration::from_millis(1)), Some(0));
    assert_eq!(w.accept(0, Duration::from_millis(2)), Some(1), "wrap");
    // A driver that never counts: the timestamp decides.
    let mut z = SeqTracker::new(5);
    assert_eq!(z.accept(0, Duration::from_millis(1)), Some(5));
    assert_eq!(z.accept(0, Duration::from_millis(2)), Some(6));
    assert_eq!(z.accept(0, Duration::from_millis(2)), None);
    assert_eq!(z.next_seq(), 7);
}

#[tokio::test]
async fn camera_driver_never_returns_a_stale_buffer_as_new() {
    let (mut cam, world) = fake(RawLayout::Yuyv { stride: 4 });
    assert_eq!(cam.health(), crate::Health::Unknown);
    push(&world, FakeRead::Buffer(yuyv_buffer(16), meta(40, 1000)));
    let a = cam.next_frame().await.unwrap();
    assert_eq!(a.seq, 0);
    assert_eq!(a.pixel(0, 0), Some([0, 0, 0]));
    assert_eq!(cam.health(), crate::Health::Ok);

    // The driver hands the same buffer back (stale), then a corrupted one,
    // then a new one two frames later.
    push(&world, FakeRead::Buffer(yuyv_buffer(16), meta(40, 1000)));
    push(
        &world,
        FakeRead::Buffer(
            yuyv_buffer(126),
            RawMeta {
                corrupted: true,
                ..meta(41, 1033)
            },
        ),
    );
    push(&world, FakeRead::Buffer(yuyv_buffer(235), meta(42, 1066)));
    let b = cam.next_frame().await.unwrap();
    assert_eq!(b.seq, 2, "driver gap kept, stale and corrupted skipped");
    assert_eq!(b.pixel(0, 0), Some([255, 255, 255]));
    assert!(b.captured_at >= a.captured_at);

    // Nothing new: the last frame is not handed out again.
    let e = cam.next_frame().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert_eq!(
        cam.health(),
        crate::Health::Degraded("camera stalled".into())
    );
    assert!(!cam.is_streaming(), "a stall restarts the stream");

    // The next call reopens; the new stream's numbers continue.
    push(&world, FakeRead::Buffer(yuyv_buffer(126), meta(0, 5)));
    let c = cam.next_frame().await.unwrap();
    assert!(c.seq > b.seq);
    assert_eq!(cam.opens(), 2);
}

#[tokio::test]
async fn camera_driver_reports_unplug_and_reopens_after_replug() {
    let (mut cam, world) = fake(RawLayout::Yuyv { stride: 4 });
    push(&world, FakeRead::Buffer(yuyv_buffer(126), meta(7, 10)));
    let first = cam.next_frame().await.unwrap();

    // Unplugged while streaming: the read fails with ENODEV.
    push(&world, FakeRead::Fail(libc::ENODEV));
    let e = cam.next_frame().await.unwrap_err();
    assert!(e.is_unplugged(), "{e}");
    assert!(matches!(cam.health(), crate::Health::Fault(_)));
    assert!(!cam.is_streaming());

    // Still unplugged: the reopen fails the same way, at once.
    world.lock().unwrap().plugged = false;
    let e = cam.next_frame().await.unwrap_err();
    assert!(e.is_unplugged(), "{e}");
    assert_eq!(cam.opens(), 1);

    // Plugged back: frames again, numbers still increasing.
    {
        let mut w = world.lock().unwrap();
        w.plugged = true;
        w.queue
            .push_back(FakeRead::Buffer(yuyv_buffer(235), meta(0, 1)));
    }
    let again = cam.next_frame().await.unwrap();
    assert!(again.seq > first.seq);
    assert_eq!(cam.opens(), 2);
    assert_eq!(cam.health(), crate::Health::Ok);
}

#[tokio::test]
async fn camera_driver_other_read_errors_are_io_and_reopen() {
    let (mut cam, world) = fake(RawLayout::Yuyv { stride: 4 });
    push(&world, FakeRead::Fail(libc::EIO));
    let e = cam.next_frame().await.unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    push(&world, FakeRead::Buffer(yuyv_buffer(16), meta(1, 1)));
    assert!(cam.next_frame().await.is_ok());
    assert_eq!(cam.opens(), 2);
}

#[tokio::test]
async fn camera_driver_decodes_mjpeg_and_survives_a_corrupt_one() {
    let (mut cam, world) = fake(RawLayout::Mjpeg);
    push(&world, FakeRead::Buffer(b"garbage".to_vec(), meta(1, 1)));
    let e = cam.next_frame().await.unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    assert!(
        cam.is_streaming(),
        "a corrupt frame does not restart the stream"
    );
    push(
        &world,
        FakeRead::Buffer(jpeg(8, 8, [10, 200, 10]), meta(2, 2)),
    );
    let f = cam.next_frame().await.unwrap();
    assert_eq!((f.width, f.height), (8, 8));
    let p = f.pixel(4, 4).unwrap();
    assert!(p[1] > 180 && p[0] < 40, "{p:?}");
    assert_eq!(cam.opens(), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn camera_v4l2_missing_device_is_unplugged() {
    let config = CameraConfig {
        device: "/dev/video-does-not-exist".into(),
        ..CameraConfig::default()
    };
    let mut cam = V4l2Camera::open(&config).unwrap();
    let e = cam.next_frame().await.unwrap_err();
    assert!(e.is_unplugged(), "{e}");
    assert!(matches!(cam.health(), crate::Health::Fault(_)));
}

// ---- the twin ------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn camera_sim_frames_have_increasing_seq_and_time() {
    let bytes = png(&image::RgbImage::from_pixel(
        32,
        24,
        image::Rgb([90, 120, 150]),
    ));
    let (mut cam, ctl) = SimCamera::still(&bytes, quiet()).unwrap();
    let mut last: Option<Frame> = None;
    for i in 0..5u64 {
        let f = cam.next_frame().await.unwrap();
        assert_eq!((f.width, f.height), (32, 24));
        assert_eq!(f.seq, i);
        assert_eq!(f.captured_at, Duration::from_millis(100 * i));
        assert_eq!(f.pixel(3, 3), Some([90, 120, 150]));
        if let Some(l) = &last {
            assert!(f.seq > l.seq && f.captured_at > l.captured_at);
        }
        last = Some(f);
    }
    assert_eq!(ctl.frames_served(), 5);

    // A slow reader skips frames, as with a real camera.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let f = cam.next_frame().await.unwrap();
    assert_eq!(f.seq, 8);
    assert_eq!(f.captured_at, Duration::from_millis(800));
    assert_eq!(cam.health(), crate::Health::Ok);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_in_lockstep_skips_nothing_and_frame_time_follows_the_reader() {
    let bytes = png(&image::RgbImage::from_pixel(
        32,
        24,
        image::Rgb([90, 120, 150]),
    ));
    let opts = SimOptions {
        lockstep: true,
        ..quiet()
    };
    let (mut cam, _ctl) = SimCamera::still(&bytes, opts).unwrap();
    let t0 = tokio::time::Instant::now();
    for i in 0..4u64 {
        let f = cam.next_frame().await.unwrap();
        assert_eq!(f.seq, i, "no frame skipped");
        assert_eq!(f.captured_at, Duration::from_millis(100 * i));
        // A reader ten times slower than the camera.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(t0.elapsed() >= Duration::from_secs(4));
    // Frame time is 400 ms though 4 s went by on the clock.
    let f = cam.next_frame().await.unwrap();
    assert_eq!((f.seq, f.captured_at), (4, Duration::from_millis(400)));
    // Behind the wall clock, the next frames come at once.
    let before = tokio::time::Instant::now();
    let _ = cam.next_frame().await.unwrap();
    let _ = cam.next_frame().await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_scales_to_the_configured_size() {
    let bytes = png(&image::RgbImage::from_pixel(
        200,
        100,
        image::Rgb([50, 60, 70]),
    ));
    let opts = SimOptions {
        size: Some((64, 48)),
        ..quiet()
    };
    let (mut cam, _ctl) = SimCamera::still(&bytes, opts).unwrap();
    let f = cam.next_frame().await.unwrap();
    assert_eq!((f.width, f.height), (64, 48));
    assert_eq!(f.pixel(10, 10), Some([50, 60, 70]));
}

#[tokio::test(start_paused = true)]
async fn camera_sim_unplug_and_replug() {
    let (mut cam, ctl) = subject();
    let a = cam.next_frame().await.unwrap();
    ctl.unplug();
    assert!(ctl.is_unplugged());
    for _ in 0..2 {
        let e = cam.next_frame().await.unwrap_err();
        assert!(e.is_unplugged(), "{e}");
    }
    assert_eq!(
        cam.health(),
        crate::Health::Fault("camera unplugged".into())
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    ctl.replug();
    let b = cam.next_frame().await.unwrap();
    assert!(b.seq > a.seq && b.captured_at > a.captured_at);
    assert_eq!(ctl.frames_served(), 2);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_blank_frames_are_frames() {
    let (mut cam, ctl) = SimCamera::new(
        Scene::Still(SimImage::from_rgb(8, 8, vec![200; 192]).unwrap()),
        SimOptions {
            noise: 2,
            ..quiet()
        },
    )
    .unwrap();
    assert!(cam.next_frame().await.unwrap().mean_luma() > 190.0);
    ctl.set_blank(true);
    let dark = cam.next_frame().await.unwrap();
    assert!(dark.mean_luma() < 10.0);
    assert_eq!(dark.rgb.len(), 192);
    ctl.set_blank(false);
    assert!(cam.next_frame().await.unwrap().mean_luma() > 190.0);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_freeze_serves_identical_pixels_as_new_frames() {
    let (mut cam, ctl) = subject_with(SimOptions {
        noise: 3,
        ..quiet()
    });
    let live1 = cam.next_frame().await.unwrap();
    let live2 = cam.next_frame().await.unwrap();
    assert_ne!(live1.rgb, live2.rgb, "live frames carry sensor noise");

    ctl.freeze();
    let f1 = cam.next_frame().await.unwrap();
    ctl.set_pose(Pose::new(20.0, 0.0)); // a photo does not follow prompts
    let f2 = cam.next_frame().await.unwrap();
    let f3 = cam.next_frame().await.unwrap();
    assert_eq!(f1.rgb, f2.rgb);
    assert_eq!(f2.rgb, f3.rgb);
    assert!(f1.seq < f2.seq && f2.seq < f3.seq);
    assert!(f1.captured_at < f2.captured_at);

    ctl.unfreeze();
    let moved = cam.next_frame().await.unwrap();
    let (nx, _) = centroid(W, &moved.rgb, is_red);
    assert!(nx < 75.0, "after unfreeze the pose applies: {nx}");
}

#[test]
fn camera_warp_moves_the_nose_more_than_the_eyes() {
    let img = pattern();
    let rgb = img.as_raw();
    let nose0 = centroid(W, rgb, is_red);
    let eyes0 = centroid(W, rgb, is_green);

    assert_eq!(&warp_pose(W, H, rgb, face_box(), Pose::FRONTAL), rgb);

    // Turn: nose towards the left of the frame, further than the eyes.
    let left = warp_pose(W, H, rgb, face_box(), Pose::new(20.0, 0.0));
    let nose = centroid(W, &left, is_red);
    let eyes = centroid(W, &left, is_green);
    let (dn, de) = (nose.0 - nose0.0, eyes.0 - eyes0.0);
    assert!(dn < -12.0, "nose moved {dn}");
    assert!(de < -1.0, "eyes moved {de}");
    assert!(dn < de - 5.0, "nose {dn} vs eyes {de}");
    assert!((nose.1 - nose0.1).abs() < 2.0);

    // The other way.
    let right = warp_pose(W, H, rgb, face_box(), Pose::new(-20.0, 0.0));
    let nose_r = centroid(W, &right, is_red);
    let eyes_r = centroid(W, &right, is_green);
    assert!(nose_r.0 - nose0.0 > 12.0);
    assert!(nose_r.0 - nose0.0 > eyes_r.0 - eyes0.0 + 5.0);

    // Nod down: the nose goes down, more than the eyes.
    let down = warp_pose(W, H, rgb, face_box(), Pose::new(0.0, 20.0));
    let nose_d = centroid(W, &down, is_red);
    let eyes_d = centroid(W, &down, is_green);
    let (dn, de) = (nose_d.1 - nose0.1, eyes_d.1 - eyes0.1);
    assert!(dn > 8.0, "nose moved {dn}");
    assert!(dn > de + 3.0, "nose {dn} vs eyes {de}");
    assert!((nose_d.0 - nose0.0).abs() < 2.0);

    // The background far from the face stays put.
    assert_eq!(left[..3], rgb[..3]);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_subject_follows_a_turn_over_time() {
    let (mut cam, ctl) = subject();
    let f0 = cam.next_frame().await.unwrap();
    let x0 = centroid(W, &f0.rgb, is_red).0;
    ctl.turn_over(
        Pose::FRONTAL,
        Pose::new(25.0, 0.0),
        Duration::from_millis(400),
    );
    let mut xs = Vec::new();
    for _ in 0..6 {
        let f = cam.next_frame().await.unwrap();
        xs.push(centroid(W, &f.rgb, is_red).0);
    }
    assert!((xs[0] - x0).abs() < 0.5, "the turn starts from frontal");
    for pair in xs.windows(2).take(4) {
        assert!(pair[1] < pair[0] - 1.0, "nose moves left steadily: {xs:?}");
    }
    assert!(!ctl.is_moving());
    assert_eq!(ctl.pose(), Pose::new(25.0, 0.0));
    assert!((xs[5] - xs[4]).abs() < 0.01, "holds the final pose");
}

/// A nod swings the pitch down and up on frame times: a lockstep reader
/// that is slow (here 0.5 s between reads) sees exactly the same nod as a
/// prompt one, and the nod goes on until another pose is asked for.
#[tokio::test(start_paused = true)]
async fn camera_sim_nod_follows_frame_time() {
    let pitches = |delay: Duration| async move {
        let (mut cam, ctl) = subject_with(SimOptions {
            fps: 15,
            lockstep: true,
            ..quiet()
        });
        cam.next_frame().await.unwrap();
        // 15 fps: a 400 ms nod is sampled every 66.7 ms of frame time.
        ctl.nod(20.0, Duration::from_millis(400));
        let mut noses = Vec::new();
        let mut pitches = Vec::new();
        for _ in 0..7 {
            tokio::time::sleep(delay).await;
            let f = cam.next_frame().await.unwrap();
            noses.push(centroid(W, &f.rgb, is_red).1);
            pitches.push(ctl.pose().pitch_deg);
        }
        assert!(ctl.is_moving(), "still nodding");
        ctl.set_pose(Pose::FRONTAL);
        assert!(!ctl.is_moving());
        (pitches, noses)
    };
    let (prompt, noses) = pitches(Duration::ZERO).await;
    let (slow, _) = pitches(Duration::from_millis(500)).await;
    assert_eq!(prompt, slow, "the same nod whatever the reader's pace");
    let peak = 20.0 * (std::f32::consts::TAU / 6.0).sin();
    let expected = [0.0, peak, peak, 0.0, -peak, -peak, 0.0];
    for (got, want) in prompt.iter().zip(expected) {
        assert!((got - want).abs() < 0.5, "{prompt:?}");
    }
    // Chin down first: the nose goes down the frame, then up past the start.
    assert!(noses[1] > noses[0] + 1.0, "{noses:?}");
    assert!(noses[4] < noses[0] - 1.0, "{noses:?}");
}

#[tokio::test(start_paused = true)]
async fn camera_sim_script_drives_the_camera() {
    let (cam, ctl) = subject();
    let mut cam = cam.with_script([
        SimStep {
            at: Duration::from_millis(200),
            action: SimAction::Unplug,
        },
        SimStep {
            at: Duration::from_millis(100),
            action: SimAction::Pose(Pose::new(0.0, 20.0)),
        },
        SimStep {
            at: Duration::from_millis(450),
            action: SimAction::Replug,
        },
    ]);
    let f0 = cam.next_frame().await.unwrap();
    let f1 = cam.next_frame().await.unwrap();
    let (y0, y1) = (
        centroid(W, &f0.rgb, is_red).1,
        centroid(W, &f1.rgb, is_red).1,
    );
    assert!(y1 > y0 + 5.0, "nod applied at 100 ms: {y0} -> {y1}");
    assert!(cam.next_frame().await.unwrap_err().is_unplugged());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let f = cam.next_frame().await.unwrap();
    assert!(f.captured_at >= Duration::from_millis(500));
    assert!(!ctl.is_unplugged());
}

#[tokio::test(start_paused = true)]
async fn camera_sim_empty_scene_and_scene_change() {
    let (mut cam, ctl) = SimCamera::new(Scene::Empty, SimOptions::default()).unwrap();
    let f = cam.next_frame().await.unwrap();
    assert_eq!((f.width, f.height), (640, 480));
    ctl.set_scene(Scene::Still(
        SimImage::from_rgb(4, 4, vec![250; 48]).unwrap(),
    ))
    .unwrap();
    let g = cam.next_frame().await.unwrap();
    assert_eq!((g.width, g.height), (640, 480), "scaled to the camera size");
    assert!(g.mean_luma() > 240.0);
}

#[tokio::test(start_paused = true)]
async fn camera_sim_real_photo_turns() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/faces/pairs/img1.jpg");
    if !path.exists() {
        crate::test_skip::skip(&format!("{} not present", path.display()));
        return;
    }
    let image = SimImage::from_file(&path).unwrap();
    let opts = SimOptions {
        size: Some((320, 240)),
        ..quiet()
    };
    let (mut cam, ctl) = SimCamera::new(Scene::Subject { image, face: None }, opts).unwrap();
    let front = cam.next_frame().await.unwrap();
    assert_eq!((front.width, front.height), (320, 240));
    ctl.set_pose(Pose::new(20.0, 0.0));
    let turned = cam.next_frame().await.unwrap();
    let changed = front
        .rgb
        .iter()
        .zip(&turned.rgb)
        .filter(|(a, b)| a.abs_diff(**b) > 10)
        .count();
    assert!(changed > 1000, "only {changed} bytes changed");
    // Corners (background) unchanged.
    assert_eq!(front.pixel(0, 0), turned.pixel(0, 0));
}
