//! Alignment: a least-squares similarity transform (rotation, uniform scale,
//! translation; Umeyama without reflection) from the five detected landmarks
//! to the ArcFace 112×112 template, then a bilinear warp.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::detect::bilinear;
use super::{FrameView, Landmarks, Point};

/// The ArcFace 5-point template for a 112×112 crop.
pub const TEMPLATE_112: [Point; 5] = [
    Point::new(38.2946, 51.6963),
    Point::new(73.5318, 51.5014),
    Point::new(56.0252, 71.7366),
    Point::new(41.5493, 92.3655),
    Point::new(70.7299, 92.2041),
];

/// A similarity transform `p ↦ [a −b; b a]·p + (tx, ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// `scale·cos θ`.
    pub a: f32,
    /// `scale·sin θ`.
    pub b: f32,
    /// Translation x.
    pub tx: f32,
    /// Translation y.
    pub ty: f32,
}

impl Similarity {
    /// Applies the transform to a point.
    pub fn apply(&self, p: Point) -> Point {
        Point::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }

    /// The inverse transform; `None` for a degenerate (zero-scale) one.
    pub fn inverse(&self) -> Option<Similarity> {
        let d = self.a * self.a + self.b * self.b;
        if d <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        Some(Similarity {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }

    /// Uniform scale factor.
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    /// Least-squares similarity mapping `src[i]` onto `dst[i]` (Umeyama
    /// 1991, rotation restricted to proper rotations). `None` when the source
    /// points coincide.
    pub fn estimate(src: &[Point], dst: &[Point]) -> Option<Similarity> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let nf = n as f64;
        let (mut msx, mut msy, mut mdx, mut mdy) = (0f64, 0f64, 0f64, 0f64);
        for i in 0..n {
            msx += src[i].x as f64;
            msy += src[i].y as f64;
            mdx += dst[i].x as f64;
            mdy += dst[i].y as f64;
        }
        (msx, msy, mdx, mdy) = (msx / nf, msy / nf, mdx / nf, mdy / nf);
        let (mut var, mut sa, mut sb) = (0f64, 0f64, 0f64);
        for i in 0..n {
            let (sx, sy) = (src[i].x as f64 - msx, src[i].y as f64 - msy);
            let (dx, dy) = (dst[i].x as f64 - mdx, dst[i].y as f64 - mdy);
            var += sx * sx + sy * sy;
            sa += sx * dx + sy * dy;
            sb += sx * dy - sy * dx;
        }
        if var <= 1e-12 {
            return None;
        }
        let (a, b) = (sa / var, sb / var);
        let tx = mdx - (a * msx - b * msy);
        let ty = mdy - (b * msx + a * msy);
        Some(Similarity {
            a: a as f32,
            b: b as f32,
            tx: tx as f32,
            ty: ty as f32,
        })
    }
}

/// An aligned RGB face crop (`size × size`). Zeroized on drop; `Debug` shows
/// no pixels; not `Serialize`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AlignedFace {
    size: u32,
    rgb: Vec<u8>,
}

impl fmt::Debug for AlignedFace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlignedFace({0}x{0}, <face data>)", self.size)
    }
}

impl AlignedFace {
    /// Side length in pixels.
    pub fn size(&self) -> u32 {
        self.size
    }
    /// RGB bytes, row-major.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }
    /// A view usable by the pipeline helpers.
    pub fn view(&self) -> FrameView<'_> {
        FrameView {
            width: self.size,
            height: self.size,
            rgb: &self.rgb,
        }
    }
    /// Builds a crop from raw bytes (tests and synthetic inputs).
    pub fn from_rgb(size: u32, rgb: Vec<u8>) -> Option<Self> {
        (rgb.len() == (size * size * 3) as usize).then_some(Self { size, rgb })
    }
}

/// Warps `frame` so that `landmarks` land on the template scaled to `size`.
/// `None` when the landmarks are degenerate.
pub fn align(frame: FrameView<'_>, landmarks: &Landmarks, size: u32) -> Option<AlignedFace> {
    let k = size as f32 / 112.0;
    let dst: Vec<Point> = TEMPLATE_112
        .iter()
        .map(|p| Point::new(p.x * k, p.y * k))
        .collect();
    let m = Similarity::estimate(&landmarks.0, &dst)?;
    Some(warp(frame, &m, size))
}

/// `v.round()` (half away from zero) as a byte, for `v` in 0..=255.
fn round_u8(v: f32) -> u8 {
    let t = v as u32;
    let up = v - t as f32 >= 0.5;
    (t + u32::from(up)).min(255) as u8
}

/// Samples `frame` through the inverse of `m` (frame → crop) into a
/// `size × size` crop; pixels outside the frame are black.
pub fn warp(frame: FrameView<'_>, m: &Similarity, size: u32) -> AlignedFace {
    let inv = m.inverse().unwrap_or(Similarity {
        a: 0.0,
        b: 0.0,
        tx: -1e9,
        ty: -1e9,
    });
    let mut rgb = vec![0u8; (size * size * 3) as usize];
    let (w, h) = (frame.width as usize, frame.height as usize);
    for v in 0..size {
        for u in 0..size {
            let s = inv.apply(Point::new(u as f32, v as f32));
            let o = ((v * size + u) * 3) as usize;
            // Inside the frame with its right and lower neighbours: the same
            // sums as `bilinear`, in the same order, without its bounds
            // checks and library calls (floor, round), which dominated.
            let (x, y) = (s.x as usize, s.y as usize);
            if s.x >= 0.0 && s.y >= 0.0 && x + 1 < w && y + 1 < h {
                let (ax, ay) = (s.x - x as f32, s.y - y as f32);
                let weights = [
                    (1.0 - ax) * (1.0 - ay),
                    ax * (1.0 - ay),
                    (1.0 - ax) * ay,
                    ax * ay,
                ];
                let i = (y * w + x) * 3;
                let taps = [i, i + 3, i + w * 3, i + w * 3 + 3];
                for c in 0..3 {
                    let mut acc = 0f32;
                    for (&wgt, &t) in weights.iter().zip(&taps) {
                        acc += wgt * f32::from(frame.rgb[t + c]);
                    }
                    rgb[o + c] = round_u8(acc);
                }
            } else {
                let px = bilinear(frame, s.x, s.y);
                for c in 0..3 {
                    rgb[o + c] = px[c].round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
    AlignedFace { size, rgb }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn face_align_recovers_known_similarity() {
        let (s, th) = (2.3f32, 0.4f32);
        let truth = Similarity {
            a: s * th.cos(),
            b: s * th.sin(),
            tx: 37.0,
            ty: -12.5,
        };
        let src: Vec<Point> = TEMPLATE_112.iter().map(|&p| truth.apply(p)).collect();
        // Estimating template → moved points recovers the transform.
        let est = Similarity::estimate(&TEMPLATE_112, &src).expect("non-degenerate");
        assert!(
            close(est.a, truth.a, 1e-3) && close(est.b, truth.b, 1e-3),
            "{est:?}"
        );
        assert!(
            close(est.tx, truth.tx, 1e-2) && close(est.ty, truth.ty, 1e-2),
            "{est:?}"
        );
        // And the inverse maps the moved points back onto the template.
        let back = Similarity::estimate(&src, &TEMPLATE_112).expect("non-degenerate");
        for (p, t) in src.iter().zip(TEMPLATE_112.iter()) {
            let q = back.apply(*p);
            assert!(close(q.x, t.x, 1e-3) && close(q.y, t.y, 1e-3));
        }
        let inv = truth.inverse().expect("invertible");
        let p = inv.apply(truth.apply(Point::new(5.0, 7.0)));
        assert!(close(p.x, 5.0, 1e-3) && close(p.y, 7.0, 1e-3));
        assert!(close(truth.scale(), s, 1e-5));
    }

    #[test]
    fn face_align_is_least_squares_under_noise() {
        let truth = Similarity {
            a: 1.5,
            b: 0.2,
            tx: 3.0,
            ty: 4.0,
        };
        let noise = [
            (0.3, -0.2),
            (-0.1, 0.4),
            (0.2, 0.1),
            (-0.4, -0.3),
            (0.0, 0.2),
        ];
        let src: Vec<Point> = TEMPLATE_112
            .iter()
            .zip(noise)
            .map(|(&p, (nx, ny))| {
                let q = truth.apply(p);
                Point::new(q.x + nx, q.y + ny)
            })
            .collect();
        let est = Similarity::estimate(&TEMPLATE_112, &src).expect("non-degenerate");
        assert!(close(est.a, 1.5, 0.02) && close(est.b, 0.2, 0.02));
        assert!(Similarity::estimate(&[Point::new(1.0, 1.0); 5], &TEMPLATE_112).is_none());
    }

    /// The warp's fast path for pixels inside the frame gives the same
    /// bytes as sampling every pixel through `bilinear` and rounding, here
    /// on a noisy frame the crop runs off (two edges), rotated and scaled.
    #[test]
    fn face_warp_matches_sampling_every_pixel() {
        let (w, h) = (160u32, 120u32);
        let mut seed = 7u32;
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        let frame = FrameView {
            width: w,
            height: h,
            rgb: &rgb,
        };
        let th = 0.4f32;
        let m = Similarity {
            a: 0.9 * th.cos(),
            b: 0.9 * th.sin(),
            tx: -30.0,
            ty: -12.5,
        };
        let fast = warp(frame, &m, 112);
        let inv = m.inverse().expect("invertible");
        let mut inside = 0;
        for v in 0..112u32 {
            for u in 0..112u32 {
                let s = inv.apply(Point::new(u as f32, v as f32));
                let px = bilinear(frame, s.x, s.y);
                let o = ((v * 112 + u) * 3) as usize;
                for (c, value) in px.iter().enumerate() {
                    let want = value.round().clamp(0.0, 255.0) as u8;
                    assert_eq!(fast.rgb()[o + c], want, "pixel ({u}, {v}) channel {c}");
                }
                if s.x >= 0.0 && s.y >= 0.0 && s.x < (w - 1) as f32 && s.y < (h - 1) as f32 {
                    inside += 1;
                }
            }
        }
        // Both paths were taken.
        assert!(inside > 1000 && inside < 112 * 112, "{inside}");
        for k in 0..=5100u32 {
            let v = k as f32 * 0.05;
            assert_eq!(round_u8(v), v.round() as u8, "{v}");
        }
    }

    #[test]
    fn face_warp_moves_a_dot_to_the_template_position() {
        // A 400x300 black frame with a 3x3 white dot where the nose would be
        // after a rotated, scaled placement of the template.
        let (w, h) = (400u32, 300u32);
        let th = -0.3f32;
        let place = Similarity {
            a: 2.0 * th.cos(),
            b: 2.0 * th.sin(),
            tx: 120.0,
            ty: 60.0,
        };
        let lms = Landmarks(TEMPLATE_112.map(|p| place.apply(p)));
        let nose = lms.nose();
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        let (cx, cy) = (nose.x.round() as i32, nose.y.round() as i32);
        for y in cy - 1..=cy + 1 {
            for x in cx - 1..=cx + 1 {
                let o = ((y as u32 * w + x as u32) * 3) as usize;
                rgb[o..o + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let frame = FrameView {
            width: w,
            height: h,
            rgb: &rgb,
        };
        let crop = align(frame, &lms, 112).expect("aligned");
        // Find the brightest pixel of the crop: must be at the template nose.
        let mut best = (0u32, 0u32, 0u8);
        for v in 0..112u32 {
            for u in 0..112u32 {
                let g = crop.rgb()[((v * 112 + u) * 3) as usize];
                if g > best.2 {
                    best = (u, v, g);
                }
            }
        }
        let t = TEMPLATE_112[2];
        assert!(
            (best.0 as f32 - t.x).abs() <= 1.5 && (best.1 as f32 - t.y).abs() <= 1.5,
            "{best:?}"
        );
        assert!(format!("{crop:?}").contains("<face data>"));
    }
}
