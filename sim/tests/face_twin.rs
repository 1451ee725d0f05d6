//! How the face engine sees the camera twin's simulated head movements:
//! the warp's pose must move the *detected* landmarks past the liveness
//! thresholds, in the right direction, or the demo's subject cannot pass.

use std::path::PathBuf;

use kiosk::face::config::FaceConfig;
use kiosk::face::engine::Pipeline;
use kiosk::face::liveness::{pitch_ratio, yaw_ratio};
use kiosk::face::FrameView;
use kiosk_drivers::camera::sim::{warp_pose, FaceBox, Pose};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).join(rel);
    p.exists().then_some(p)
}

#[test]
fn twin_head_turns_move_the_detected_landmarks_the_right_way() {
    let Some(models) = shared("models") else {
        kiosk_drivers::test_skip::skip("../shared models absent");
        return;
    };
    let cfg = FaceConfig::with_model_dir(&models);
    let p = Pipeline::load(&cfg).expect("models load");
    // The demo's camera photos: the citizen, and the impostor of face-mismatch.
    for name in ["img8.jpg", "img2.jpg"] {
        let Some(photo) = shared(&format!("faces/pairs/{name}")) else {
            kiosk_drivers::test_skip::skip("../shared faces absent");
            return;
        };
        check_photo(&p, &photo);
    }
}

fn check_photo(p: &Pipeline, photo: &std::path::Path) {
    let rgb = kiosk_sim::demo::face::load_photo(photo).expect("photo");
    let (w, h) = (rgb.width(), rgb.height());
    let det = p
        .main_face(FrameView {
            width: w,
            height: h,
            rgb: rgb.as_raw(),
        })
        .expect("detect")
        .expect("a face")
        .0;
    let face = FaceBox {
        x: det.bbox.x1,
        y: det.bbox.y1,
        width: det.bbox.x2 - det.bbox.x1,
        height: det.bbox.y2 - det.bbox.y1,
    };
    let measure = |pose: Pose| {
        let out = warp_pose(w, h, rgb.as_raw(), face, pose);
        let (d, _) = p
            .main_face(FrameView {
                width: w,
                height: h,
                rgb: &out,
            })
            .expect("detect")
            .expect("a face");
        (
            yaw_ratio(&d.landmarks).expect("yaw"),
            pitch_ratio(&d.landmarks).expect("pitch"),
        )
    };
    let (y0, p0) = measure(Pose::FRONTAL);
    if std::env::var_os("SWEEP").is_some() {
        for d in [20.0, 30.0, 40.0, 50.0] {
            let (yl, _) = measure(Pose::new(-d, 0.0));
            let (yr, _) = measure(Pose::new(d, 0.0));
            let (_, pn) = measure(Pose::new(0.0, d));
            let (_, pu) = measure(Pose::new(0.0, -d));
            eprintln!(
                "{d}: left {:+.3} right {:+.3} nod+ {:+.3} nod- {:+.3}",
                yl - y0,
                yr - y0,
                pn - p0,
                pu - p0
            );
        }
    }
    let s = kiosk_sim::demo::face::SUBJECT_TURN_DEG;
    let n = kiosk_sim::demo::face::SUBJECT_NOD_DEG;
    let (yl, _) = measure(Pose::new(-s, 0.0));
    let (yr, _) = measure(Pose::new(s, 0.0));
    let (_, pd) = measure(Pose::new(0.0, n));
    let (_, pu) = measure(Pose::new(0.0, -n));
    // The subject nods down and up; the tracker takes either.
    let pn = if (pd - p0).abs() > (pu - p0).abs() {
        pd
    } else {
        pu
    };
    eprintln!(
        "{}: yaw left {:+.3} right {:+.3}; pitch nod {:+.3}",
        photo.display(),
        yl - y0,
        yr - y0,
        pn - p0
    );
    let lc = kiosk::face::config::LivenessConfig::default();
    // The citizen's own left turn moves the nose to the frame's right.
    assert!(yl - y0 > lc.yaw_threshold, "left turn: {:+.3}", yl - y0);
    assert!(yr - y0 < -lc.yaw_threshold, "right turn: {:+.3}", yr - y0);
    assert!((pn - p0).abs() > lc.pitch_threshold, "nod: {:+.3}", pn - p0);
}

/// A camera twin in lockstep is read only as fast as the engine finishes
/// frames: every frame it serves reaches the engine, so frame time (and the
/// liveness time limits measured on it) follows the engine whatever the
/// machine's load. Without the pacing the face actor reads such a camera as
/// fast as it can and the engine drops most frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockstep_camera_is_read_at_the_engines_pace() {
    use std::time::Duration;

    use kiosk::face::engine::FaceEngine;
    use kiosk::runtime::face::{spawn_face_actor, FaceCmd};
    use kiosk_drivers::camera::sim::{Scene, SimCamera, SimImage, SimOptions};

    let (Some(models), Some(pairs)) = (shared("models"), shared("faces/pairs")) else {
        kiosk_drivers::test_skip::skip("../shared models or faces absent");
        return;
    };
    let cfg = FaceConfig::with_model_dir(&models);
    let photo = kiosk_sim::demo::face::load_photo(&pairs.join("img2.jpg")).expect("photo");
    let image = SimImage::from_rgb(photo.width(), photo.height(), photo.into_raw()).expect("image");
    // Far faster than any engine: unpaced, most of its frames would be dropped.
    let opts = SimOptions {
        fps: 1_000,
        size: None,
        lockstep: true,
        ..SimOptions::default()
    };
    let (camera, control) =
        SimCamera::new(Scene::Subject { image, face: None }, opts).expect("camera");
    let engine = FaceEngine::spawn(cfg.clone()).expect("engine");
    let requests = engine.requests.clone();
    let actor = spawn_face_actor(camera, engine, 2, false);
    let (tx, _rx) = tokio::sync::mpsc::channel(64);
    actor.handle.connect(tx);
    let reference = kiosk_sim::demo::face::reference_jpeg(&pairs.join("img1.jpg")).expect("jpeg");
    let cmds = &actor.handle.commands;
    cmds.send(FaceCmd::Reference(zeroize::Zeroizing::new(reference)))
        .await
        .expect("actor");
    cmds.send(FaceCmd::Start).await.expect("actor");
    tokio::time::timeout(Duration::from_secs(300), async {
        while requests.frames_finished() < 30 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the engine finishes frames");
    // Served first: finished only grows, so at most the frame in flight is
    // served and not yet finished.
    let served = control.frames_served();
    let finished = requests.frames_finished();
    cmds.send(FaceCmd::Stop).await.expect("actor");
    assert!(
        served <= finished + 1,
        "{served} frames served, {finished} finished by the engine"
    );
    assert!(finished >= 30);
}
