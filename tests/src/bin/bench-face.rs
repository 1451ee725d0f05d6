//! `bench-face --images DIR --models DIR [--repeats N] [--limit K] [--det WxH] [--track N] [--frame WxH] [--json]`:
//! speed of the local face check, one thread.
//!
//! Per image (sorted by name; each decoded once, outside timing): one warm-up
//! pass, then N repeats (default 5) of each stage, timed separately:
//! detection (letterbox + CenterFace + decode + NMS), alignment (Umeyama +
//! 112×112 warp of the largest face), embedding of one crop and of a batch of
//! two (probe and reference, as the kiosk does), and the per-frame pipeline
//! (detect + align + embed one crop of the same frame, end to end); then the
//! same with tracking (`detect_tracked`, `frame_tracked`:
//! `Detector::detect_near` in a region around the face box of the previous
//! frame, which for a still image is its own first detection), and
//! `live_frame`: what the engine's live loop does per camera frame, the
//! [`LiveSearch`] (the region around the tracked face on every frame, the
//! whole frame to acquire the face and again every [`FULL_SEARCH_EVERY`]-th
//! frame for the one-face check) plus the alignment of the face found,
//! averaged over a run of [`LIVE_RUN`] frames, about the two seconds of a
//! challenge at 15 fps (no embedding: the live loop embeds once per
//! attempt, `embed_2`).
//! `--frame WxH` first fits each photo into a WxH camera frame (scaled
//! down, centred on grey, outside timing), as the kiosk's camera delivers
//! them. Each
//! image contributes the median of its repeats; the summary gives the median
//! and mean of those over the images. Prints a table, or JSON with `--json`
//! (what `tests/face-bench/compare.py` reads). No face data or scores are
//! printed: times and counts only.
//!
//! `cargo run -p kiosk-testbed --bin bench-face -- --images ../shared/faces/pairs --models ../shared/models`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use kiosk::face::align::align;
use kiosk::face::detect::largest;
use kiosk::face::engine::{LiveSearch, Pipeline, FULL_SEARCH_EVERY};
use kiosk::face::{FaceConfig, FaceImage};

/// Frames in the `live_frame` run: about two seconds at 15 fps, one
/// acquisition and three one-face checks.
const LIVE_RUN: u32 = 4 * FULL_SEARCH_EVERY;

struct Args {
    images: PathBuf,
    models: PathBuf,
    repeats: usize,
    limit: Option<usize>,
    det: Option<(u32, u32)>,
    track: Option<u32>,
    frame: Option<(u32, u32)>,
    json: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        images: PathBuf::new(),
        models: PathBuf::new(),
        repeats: 5,
        limit: None,
        det: None,
        track: None,
        frame: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--images" => a.images = val()?.into(),
            "--models" => a.models = val()?.into(),
            "--repeats" => a.repeats = val()?.parse()?,
            "--limit" => a.limit = Some(val()?.parse()?),
            "--det" => a.det = Some(size(&val()?)?),
            "--track" => a.track = Some(val()?.parse()?),
            "--frame" => a.frame = Some(size(&val()?)?),
            "--json" => a.json = true,
            "-h" | "--help" => {
                println!(
                    "bench-face --images DIR --models DIR [--repeats N] [--limit K] [--det WxH] [--track N] [--frame WxH] [--json]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if a.images.as_os_str().is_empty() || a.models.as_os_str().is_empty() {
        bail!("--images DIR and --models DIR are required");
    }
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    Ok(a)
}

fn size(v: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = v.split_once('x').context("expected WxH")?;
    let (w, h) = (w.parse()?, h.parse()?);
    if w == 0 || h == 0 {
        bail!("{v}: empty size");
    }
    Ok((w, h))
}

/// The photo as a `w`×`h` camera frame: scaled to fit (never enlarged),
/// centred on grey.
fn camera_frame(img: FaceImage, (w, h): (u32, u32)) -> anyhow::Result<FaceImage> {
    let (iw, ih) = (img.width(), img.height());
    let scale = (w as f32 / iw as f32).min(h as f32 / ih as f32).min(1.0);
    let (sw, sh) = (
        ((iw as f32 * scale).round() as u32).clamp(1, w),
        ((ih as f32 * scale).round() as u32).clamp(1, h),
    );
    let view = image::ImageBuffer::<image::Rgb<u8>, &[u8]>::from_raw(iw, ih, img.view().rgb)
        .context("image buffer")?;
    let small = image::imageops::resize(&view, sw, sh, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(w, h, image::Rgb([118, 118, 118]));
    image::imageops::replace(
        &mut canvas,
        &small,
        ((w - sw) / 2).into(),
        ((h - sh) / 2).into(),
    );
    FaceImage::from_rgb(w, h, canvas.into_raw()).context("frame buffer")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

const STAGES: [&str; 8] = [
    "detect",
    "align",
    "embed_1",
    "embed_2",
    "frame",
    "detect_tracked",
    "frame_tracked",
    "live_frame",
];

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let mut cfg = FaceConfig::with_model_dir(&a.models);
    // Anti-spoofing is not part of the compared pipeline.
    cfg.antispoof.enabled = false;
    if let Some((w, h)) = a.det {
        cfg.detector.input_width = w;
        cfg.detector.input_height = h;
    }
    if let Some(n) = a.track {
        cfg.detector.track_input = n;
    }
    cfg.validate()?;
    let t = Instant::now();
    let p = Pipeline::load(&cfg)?;
    let load_ms = ms(t);

    let mut files: Vec<PathBuf> = std::fs::read_dir(&a.images)
        .with_context(|| a.images.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    files.sort();
    if let Some(k) = a.limit {
        files.truncate(k);
    }
    if files.is_empty() {
        bail!("no images in {}", a.images.display());
    }

    // Per stage: the per-image medians.
    let mut per_stage: Vec<Vec<f64>> = vec![Vec::new(); STAGES.len()];
    let mut per_image = Vec::new();
    let mut no_face = 0usize;
    // Region searches that found no face, and live-loop frames the gates
    // turned away (several faces, a face too small), over all repeats.
    let mut track_lost = 0usize;
    let mut gated = 0usize;
    let t_all = Instant::now();
    for f in &files {
        let img = FaceImage::open(f)?;
        let img = match a.frame {
            Some(size) => camera_frame(img, size)?,
            None => img,
        };
        let v = img.view();
        // Warm-up, and the crop the alignment/embedding stages reuse.
        let Some((det, crop)) = p.main_face(v)? else {
            no_face += 1;
            per_image.push(serde_json::json!({
                "file": f.file_name().map(|s| s.to_string_lossy().to_string()),
                "width": img.width(), "height": img.height(), "face": false,
            }));
            continue;
        };
        p.embedder.embed_pair(&crop, &crop)?;
        let mut s: Vec<Vec<f64>> = vec![Vec::with_capacity(a.repeats); STAGES.len()];
        let (lost_before, gated_before) = (track_lost, gated);
        for _ in 0..a.repeats {
            let t = Instant::now();
            let dets = p.detector.detect(v)?;
            s[0].push(ms(t));
            std::hint::black_box(&dets);

            let t = Instant::now();
            let c = align(v, &det.landmarks, cfg.embedder.input_size).context("align")?;
            s[1].push(ms(t));
            std::hint::black_box(&c);

            let t = Instant::now();
            let e = p.embedder.embed_one(&crop)?;
            s[2].push(ms(t));
            std::hint::black_box(&e);

            let t = Instant::now();
            let e = p.embedder.embed_pair(&crop, &crop)?;
            s[3].push(ms(t));
            std::hint::black_box(&e);

            let t = Instant::now();
            let dets = p.detector.detect(v)?;
            let e = match largest(&dets)
                .and_then(|d| align(v, &d.landmarks, cfg.embedder.input_size))
            {
                Some(c) => Some(p.embedder.embed_one(&c)?),
                None => None,
            };
            s[4].push(ms(t));
            std::hint::black_box(&e);

            // Tracking: the previous frame's box (the same still image, as a
            // camera that does not move) gives the region of interest.
            let t = Instant::now();
            let dets = p.detector.detect_near(v, &det.bbox)?;
            s[5].push(ms(t));
            if dets.is_empty() {
                track_lost += 1;
            }

            let t = Instant::now();
            let e = match p.track_face(v, Some(&det.bbox))? {
                Some((_, c)) => Some(p.embedder.embed_one(&c)?),
                None => None,
            };
            s[6].push(ms(t));
            std::hint::black_box(&e);

            // The live loop over a run of frames, per frame.
            let mut live = LiveSearch::default();
            let t = Instant::now();
            for _ in 0..LIVE_RUN {
                let c = match live.next(&p, v)? {
                    Ok(d) => align(v, &d.landmarks, cfg.embedder.input_size),
                    Err(_) => {
                        gated += 1;
                        None
                    }
                };
                std::hint::black_box(&c);
            }
            s[7].push(ms(t) / f64::from(LIVE_RUN));
        }
        let meds: Vec<f64> = s.iter_mut().map(|x| median(x)).collect();
        for (k, m) in meds.iter().enumerate() {
            per_stage[k].push(*m);
        }
        let mut o = serde_json::json!({
            "file": f.file_name().map(|s| s.to_string_lossy().to_string()),
            "width": img.width(), "height": img.height(), "face": true,
            "face_width": det.bbox.width().round(),
            "track_lost": track_lost - lost_before,
            "live_gated": gated - gated_before,
        });
        for (k, name) in STAGES.iter().enumerate() {
            o[format!("{name}_ms")] = serde_json::json!(meds[k]);
        }
        per_image.push(o);
    }
    let wall_s = t_all.elapsed().as_secs_f64();

    let mut summary = serde_json::Map::new();
    for (k, name) in STAGES.iter().enumerate() {
        let v = &mut per_stage[k];
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let med = median(v);
        summary.insert(
            name.to_string(),
            serde_json::json!({ "median_ms": med, "mean_ms": mean }),
        );
    }
    let out = serde_json::json!({
        "impl": "kiosk (tract-onnx)",
        "threads": 1,
        "debug_assertions": cfg!(debug_assertions),
        "track_input": cfg.detector.track_input,
        "full_search_every": FULL_SEARCH_EVERY,
        "live_run": LIVE_RUN,
        "frame": a.frame.map(|(w, h)| [w, h]),
        "track_lost": track_lost,
        "live_gated": gated,
        "detector_input": [cfg.detector.input_width, cfg.detector.input_height],
        "repeats": a.repeats,
        "images": files.len(),
        "no_face": no_face,
        "load_ms": load_ms,
        "wall_s": wall_s,
        "stages": summary,
        "per_image": per_image,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "bench-face: {} images ({} without a face), {} repeats, detector {}x{}, load {:.0} ms, one thread",
            files.len(),
            no_face,
            a.repeats,
            cfg.detector.input_width,
            cfg.detector.input_height,
            load_ms
        );
        println!("{:<16} {:>10} {:>10}", "stage", "median ms", "mean ms");
        for name in STAGES {
            let s = &out["stages"][name];
            println!(
                "{:<16} {:>10.2} {:>10.2}",
                name,
                s["median_ms"].as_f64().unwrap_or(f64::NAN),
                s["mean_ms"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}
