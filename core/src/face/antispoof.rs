//! Passive anti-spoofing with the Silent-Face MiniFASNet pair (V2 at crop
//! scale 2.7, V1SE at 4.0): NCHW 1×3×80×80 BGR 0–255, crops around the face
//! box clamped inside the frame, the two softmax outputs summed, argmax 1 =
//! real. Weak alone (photos sometimes pass), so it is one signal beside the
//! active challenge; when its files are absent the kiosk runs active liveness
//! only.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::config::AntispoofConfig;
use super::detect::{load_onnx, resample_bgr_planar};
use super::{tract_reason, FaceBox, FaceError, FrameView};

/// The loaded pair.
pub struct AntiSpoof {
    models: Vec<(Arc<TypedRunnableModel>, f32)>,
    size: usize,
}

impl std::fmt::Debug for AntiSpoof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AntiSpoof({} models)", self.models.len())
    }
}

impl AntiSpoof {
    /// Loads the pair; `Ok(None)` when disabled or a file is absent.
    pub fn load(
        cfg: &AntispoofConfig,
        resolve: impl Fn(&Path) -> std::path::PathBuf,
    ) -> Result<Option<Self>, FaceError> {
        let (v2, v1) = (resolve(&cfg.model_v2), resolve(&cfg.model_v1se));
        if !cfg.enabled || !v2.is_file() || !v1.is_file() {
            return Ok(None);
        }
        let s = cfg.input_size as usize;
        let fact = || InferenceFact::dt_shape(f32::datum_type(), tvec!(1usize, 3, s, s));
        Ok(Some(Self {
            models: vec![
                (load_onnx(&v2, fact())?, 2.7),
                (load_onnx(&v1, fact())?, 4.0),
            ],
            size: s,
        }))
    }

    /// True when the face in `bbox` looks real (a presentation attack → false).
    pub fn is_real(&self, frame: FrameView<'_>, bbox: &FaceBox) -> Result<bool, FaceError> {
        let err = |e: TractError| FaceError::Inference {
            stage: "antispoof",
            reason: tract_reason(&e),
        };
        let s = self.size;
        let mut sum = [0f32; 3];
        for (plan, scale) in &self.models {
            let (x0, y0, x1, y1) = crop_box(frame.width as f32, frame.height as f32, bbox, *scale);
            let mut input = vec![0f32; 3 * s * s];
            resample_bgr_planar(frame, (x0, y0, x1, y1), (s, s), (s, s), &mut input);
            let t = Tensor::from_shape(&[1, 3, s, s], &input).map_err(err)?;
            input.iter_mut().for_each(|v| *v = 0.0);
            let out = plan.run(tvec!(t.into_tvalue())).map_err(err)?;
            let first = out.first().ok_or(FaceError::Inference {
                stage: "antispoof",
                reason: "no output".into(),
            })?;
            let v: Vec<f32> = first
                .to_plain_array_view::<f32>()
                .map_err(err)?
                .iter()
                .copied()
                .collect();
            if v.len() < 3 {
                return Err(FaceError::Inference {
                    stage: "antispoof",
                    reason: format!("{} outputs", v.len()),
                });
            }
            let p = softmax_if_needed(&v[..3]);
            for k in 0..3 {
                sum[k] += p[k];
            }
        }
        Ok(sum[1] > sum[0] && sum[1] > sum[2])
    }
}

fn softmax_if_needed(v: &[f32]) -> [f32; 3] {
    let total: f32 = v.iter().sum();
    if v.iter().all(|x| (0.0..=1.0).contains(x)) && (total - 1.0).abs() < 1e-3 {
        return [v[0], v[1], v[2]];
    }
    let m = v.iter().cloned().fold(f32::MIN, f32::max);
    let e: Vec<f32> = v.iter().map(|x| (x - m).exp()).collect();
    let z: f32 = e.iter().sum();
    [e[0] / z, e[1] / z, e[2] / z]
}

/// Silent-Face's crop: the box scaled about its centre (scale reduced so it
/// fits), shifted to stay inside the frame. Returns `(x0, y0, x1, y1)` with
/// exclusive right/bottom edges.
pub fn crop_box(src_w: f32, src_h: f32, b: &FaceBox, scale: f32) -> (f32, f32, f32, f32) {
    let (bw, bh) = (b.width().max(1.0), b.height().max(1.0));
    let scale = scale.min((src_h - 1.0) / bh).min((src_w - 1.0) / bw);
    let (nw, nh) = (bw * scale, bh * scale);
    let (cx, cy) = (b.x1 + bw / 2.0, b.y1 + bh / 2.0);
    let (mut x0, mut y0, mut x1, mut y1) =
        (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if x0 < 0.0 {
        x1 -= x0;
        x0 = 0.0;
    }
    if y0 < 0.0 {
        y1 -= y0;
        y0 = 0.0;
    }
    if x1 > src_w - 1.0 {
        x0 -= x1 - src_w + 1.0;
        x1 = src_w - 1.0;
    }
    if y1 > src_h - 1.0 {
        y0 -= y1 - src_h + 1.0;
        y1 = src_h - 1.0;
    }
    (x0.max(0.0), y0.max(0.0), x1 + 1.0, y1 + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_antispoof_crop_stays_inside_frame() {
        let b = FaceBox {
            x1: 10.0,
            y1: 10.0,
            x2: 60.0,
            y2: 70.0,
        };
        let (x0, y0, x1, y1) = crop_box(640.0, 480.0, &b, 2.7);
        assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= 641.0 && y1 <= 481.0);
        assert!(((x1 - x0) - (50.0 * 2.7 + 1.0)).abs() < 1e-3);
        // A box larger than the frame allows shrinks the scale.
        let big = FaceBox {
            x1: 100.0,
            y1: 50.0,
            x2: 400.0,
            y2: 450.0,
        };
        let (_, y0, _, y1) = crop_box(640.0, 480.0, &big, 4.0);
        assert!(y0 >= 0.0 && y1 <= 481.0);
        let p = softmax_if_needed(&[2.0, 1.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5 && p[0] > p[1]);
    }
}
