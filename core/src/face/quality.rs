//! Quality gates a live frame must pass before it counts for matching, in
//! order: one face, size, pose, brightness, sharpness. Each failure is a
//! [`Hint`] the UI speaks and shows; its [`Hint::code`] is the stable key.

use super::align::AlignedFace;
use super::config::QualityConfig;
use super::liveness::yaw_ratio;
use super::Detection;

/// Why a frame did not count, as guidance for the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    /// No face in view.
    NoFace,
    /// More than one face in view.
    MultipleFaces,
    /// The face is too small: come closer.
    ComeCloser,
    /// The head is turned: face the camera.
    FaceTheCamera,
    /// Too dark.
    TooDark,
    /// Too bright (glare, backlight).
    TooBright,
    /// Blurred: hold still.
    HoldStill,
}

impl Hint {
    /// Stable code for the UI's translation tables and speech.
    pub fn code(self) -> &'static str {
        match self {
            Hint::NoFace => "face.hint.no_face",
            Hint::MultipleFaces => "face.hint.multiple_faces",
            Hint::ComeCloser => "face.hint.come_closer",
            Hint::FaceTheCamera => "face.hint.face_the_camera",
            Hint::TooDark => "face.hint.too_dark",
            Hint::TooBright => "face.hint.too_bright",
            Hint::HoldStill => "face.hint.hold_still",
        }
    }
}

/// Gate 1–2: exactly one (foreground) face, large enough. Returns it.
/// Faces smaller than `background_face_ratio` of the largest are ignored, so
/// a passer-by far behind does not block the citizen.
pub fn gate_detections<'a>(
    dets: &'a [Detection],
    cfg: &QualityConfig,
) -> Result<&'a Detection, Hint> {
    let main = super::detect::largest(dets).ok_or(Hint::NoFace)?;
    let others = dets
        .iter()
        .filter(|d| !std::ptr::eq(*d, main))
        .filter(|d| d.bbox.width() >= cfg.background_face_ratio * main.bbox.width())
        .count();
    if others > 0 {
        return Err(Hint::MultipleFaces);
    }
    if main.bbox.width() < cfg.min_face_px {
        return Err(Hint::ComeCloser);
    }
    Ok(main)
}

/// Gate 3: frontal pose.
pub fn gate_pose(det: &Detection, cfg: &QualityConfig) -> Result<(), Hint> {
    match yaw_ratio(&det.landmarks) {
        Some(y) if y.abs() <= cfg.max_abs_yaw => Ok(()),
        _ => Err(Hint::FaceTheCamera),
    }
}

/// Gates 4–5 on the aligned crop: brightness, then sharpness.
pub fn gate_crop(crop: &AlignedFace, cfg: &QualityConfig) -> Result<(), Hint> {
    let grey = grey(crop);
    let mean = grey.iter().sum::<f32>() / grey.len().max(1) as f32;
    if mean < cfg.min_brightness {
        return Err(Hint::TooDark);
    }
    if mean > cfg.max_brightness {
        return Err(Hint::TooBright);
    }
    if laplacian_variance(&grey, crop.size() as usize) < cfg.min_sharpness {
        return Err(Hint::HoldStill);
    }
    Ok(())
}

/// All gates for one frame, in order.
pub fn check<'a>(
    dets: &'a [Detection],
    crop: Option<&AlignedFace>,
    cfg: &QualityConfig,
) -> Result<&'a Detection, Hint> {
    let d = gate_detections(dets, cfg)?;
    gate_pose(d, cfg)?;
    if let Some(c) = crop {
        gate_crop(c, cfg)?;
    }
    Ok(d)
}

/// Sharpness of an aligned crop: variance of the 4-neighbour Laplacian of its
/// grey image (higher is sharper).
pub fn sharpness(crop: &AlignedFace) -> f32 {
    laplacian_variance(&grey(crop), crop.size() as usize)
}

fn grey(crop: &AlignedFace) -> Vec<f32> {
    crop.rgb()
        .chunks_exact(3)
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect()
}

fn laplacian_variance(g: &[f32], n: usize) -> f32 {
    if n < 3 {
        return 0.0;
    }
    let mut vals = Vec::with_capacity((n - 2) * (n - 2));
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let c = g[y * n + x];
            vals.push(
                g[(y - 1) * n + x] + g[(y + 1) * n + x] + g[y * n + x - 1] + g[y * n + x + 1]
                    - 4.0 * c,
            );
        }
    }
    let m = vals.iter().sum::<f32>() / vals.len() as f32;
    vals.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / vals.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::align::TEMPLATE_112;
    use crate::face::{FaceBox, Landmarks, Point};

    fn det_at(x: f32, w: f32, nose_dx: f32) -> Detection {
        let k = w / 112.0;
        let mut pts = TEMPLATE_112.map(|p| Point::new(x + p.x * k, 100.0 + p.y * k));
        let iod = pts[1].x - pts[0].x;
        pts[2].x = (pts[0].x + pts[1].x) / 2.0 + nose_dx * iod;
        Detection {
            bbox: FaceBox {
                x1: x,
                y1: 100.0,
                x2: x + w,
                y2: 100.0 + w,
            },
            landmarks: Landmarks(pts),
            confidence: 0.9,
        }
    }

    fn crop_with(f: impl Fn(usize, usize) -> u8) -> AlignedFace {
        let mut rgb = Vec::new();
        for y in 0..112 {
            for x in 0..112 {
                let v = f(x, y);
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        AlignedFace::from_rgb(112, rgb).expect("size")
    }

    #[test]
    fn face_quality_gates_in_order() {
        let cfg = QualityConfig::default();
        assert_eq!(check(&[], None, &cfg).err(), Some(Hint::NoFace));
        assert_eq!(
            check(
                &[det_at(0.0, 200.0, 0.0), det_at(300.0, 150.0, 0.0)],
                None,
                &cfg
            )
            .err(),
            Some(Hint::MultipleFaces)
        );
        // A small background face is not a second face.
        assert!(check(
            &[det_at(0.0, 200.0, 0.0), det_at(300.0, 40.0, 0.0)],
            None,
            &cfg
        )
        .is_ok());
        assert_eq!(
            check(&[det_at(0.0, 50.0, 0.0)], None, &cfg).err(),
            Some(Hint::ComeCloser)
        );
        assert_eq!(
            check(&[det_at(0.0, 200.0, 0.3)], None, &cfg).err(),
            Some(Hint::FaceTheCamera)
        );
        let checker = crop_with(|x, y| if (x / 4 + y / 4) % 2 == 0 { 60 } else { 190 });
        let dark = crop_with(|x, y| if (x / 4 + y / 4) % 2 == 0 { 5 } else { 30 });
        let bright = crop_with(|_, _| 250);
        let flat = crop_with(|_, _| 128);
        let d = [det_at(0.0, 200.0, 0.0)];
        assert!(check(&d, Some(&checker), &cfg).is_ok());
        assert_eq!(check(&d, Some(&dark), &cfg).err(), Some(Hint::TooDark));
        assert_eq!(check(&d, Some(&bright), &cfg).err(), Some(Hint::TooBright));
        assert_eq!(check(&d, Some(&flat), &cfg).err(), Some(Hint::HoldStill));
        assert!(sharpness(&checker) > sharpness(&flat));
    }

    #[test]
    fn face_hint_codes_are_stable_and_distinct() {
        let all = [
            Hint::NoFace,
            Hint::MultipleFaces,
            Hint::ComeCloser,
            Hint::FaceTheCamera,
            Hint::TooDark,
            Hint::TooBright,
            Hint::HoldStill,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|h| h.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Hint::ComeCloser.code(), "face.hint.come_closer");
    }
}
