//! Offline accuracy benchmark (`kiosk face eval`): genuine/impostor pairs
//! from the labelled CSVs, plus every pair of an impostor directory; TAR at
//! FAR 1e-3 and 1e-4, EER, and median per-face stage timings. Only
//! aggregates are reported; per-pair scores stay in memory.
//!
//! CSV formats read: `file_x,file_y,decision,...` (deepface pivot, paths with
//! a `deepface/tests/dataset/` prefix) and `file_x,file_y,Decision` (master);
//! the file name of `file_x`/`file_y` is looked up in the images directory.
//! `--pairs` may also be a directory: every `*.csv` in it is read, and
//! duplicate (unordered) pairs count once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::align::align;
use super::detect::largest;
use super::embed::{cosine, Embedding};
use super::engine::Pipeline;
use super::{FaceError, FaceImage};

/// One labelled pair of image file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledPair {
    /// First image file name.
    pub a: String,
    /// Second image file name.
    pub b: String,
    /// Same person.
    pub genuine: bool,
}

/// Reads one pairs CSV (either format).
pub fn read_pairs_csv(path: &Path) -> Result<Vec<LabelledPair>, FaceError> {
    let text = std::fs::read_to_string(path).map_err(|source| FaceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_pairs(&text).map_err(|reason| FaceError::Pairs {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses pairs CSV text.
pub fn parse_pairs(text: &str) -> Result<Vec<LabelledPair>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("empty file")?
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("no '{name}' column"))
    };
    let (cx, cy, cd) = (col("file_x")?, col("file_y")?, col("decision")?);
    let base = |s: &str| {
        s.trim()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("")
            .to_string()
    };
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let get = |c: usize| {
            f.get(c)
                .copied()
                .ok_or(format!("line {}: too few fields", i + 2))
        };
        let genuine = match get(cd)?.trim().to_ascii_lowercase().as_str() {
            "yes" | "1" | "true" | "same" => true,
            "no" | "0" | "false" | "different" => false,
            other => return Err(format!("line {}: unknown decision '{other}'", i + 2)),
        };
        out.push(LabelledPair {
            a: base(get(cx)?),
            b: base(get(cy)?),
            genuine,
        });
    }
    Ok(out)
}

/// TAR at a target FAR: the threshold is the smallest value (accept when
/// `score >= threshold`) whose false accepts on `impostor` are at most
/// `far × n`. Returns `(tar, threshold)`.
pub fn tar_at_far(genuine: &[f32], impostor: &[f32], far: f64) -> (f64, f32) {
    let mut imp = impostor.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    let k = (far * imp.len() as f64).floor() as usize;
    let thr = match imp.get(k) {
        Some(&v) => next_up(v),
        None => f32::MIN,
    };
    let tar = genuine.iter().filter(|&&g| g >= thr).count() as f64 / genuine.len().max(1) as f64;
    (tar, thr)
}

fn next_up(v: f32) -> f32 {
    if v.is_nan() || v == f32::INFINITY {
        return v;
    }
    if v == 0.0 {
        return f32::from_bits(1);
    }
    let b = v.to_bits();
    f32::from_bits(if v > 0.0 { b + 1 } else { b - 1 })
}

/// Equal error rate: the point where FAR (impostor ≥ t) and FRR
/// (genuine < t) are closest, averaged.
pub fn eer(genuine: &[f32], impostor: &[f32]) -> f64 {
    let mut g = genuine.to_vec();
    let mut i = impostor.to_vec();
    g.sort_by(f32::total_cmp);
    i.sort_by(f32::total_cmp);
    let (ng, ni) = (g.len().max(1) as f64, i.len().max(1) as f64);
    let mut best = (f64::MAX, 1.0);
    for &t in g.iter().chain(i.iter()) {
        let frr = g.partition_point(|&x| x < t) as f64 / ng;
        let far = (i.len() - i.partition_point(|&x| x < t)) as f64 / ni;
        let gap = (far - frr).abs();
        if gap < best.0 {
            best = (gap, (far + frr) / 2.0);
        }
    }
    best.1
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Benchmark result (aggregates only).
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// Genuine pairs scored (pairs with a missing face count as rejects).
    pub n_genuine: usize,
    /// Impostor pairs scored.
    pub n_impostor: usize,
    /// Configured match threshold.
    pub threshold: f32,
    /// (TAR, threshold) at FAR 1e-3.
    pub at_1e3: (f64, f32),
    /// (TAR, threshold) at FAR 1e-4.
    pub at_1e4: (f64, f32),
    /// Equal error rate.
    pub eer: f64,
    /// TAR at the configured threshold.
    pub tar_at_threshold: f64,
    /// FAR at the configured threshold.
    pub far_at_threshold: f64,
    /// Images in which no face was found (unreadable ones included).
    pub images_without_face: usize,
    /// Images that could not be decoded.
    pub images_unreadable: usize,
    /// Images read.
    pub images: usize,
    /// Median ms per face: detection, alignment, embedding.
    pub median_ms: (f64, f64, f64),
}

impl EvalReport {
    /// The JSON printed by `kiosk face eval`.
    pub fn to_json(&self) -> serde_json::Value {
        let r4 = |x: f64| (x * 1e4).round() / 1e4;
        let r3 = |x: f32| ((x as f64) * 1e4).round() / 1e4;
        json!({
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "threshold": r3(self.threshold),
            "tar_at_far": { "1e-3": r4(self.at_1e3.0), "1e-4": r4(self.at_1e4.0) },
            "threshold_at_far": { "1e-3": r3(self.at_1e3.1), "1e-4": r3(self.at_1e4.1) },
            "eer": r4(self.eer),
            "tar_at_threshold": r4(self.tar_at_threshold),
            "far_at_threshold": self.far_at_threshold,
            "images": self.images,
            "images_without_face": self.images_without_face,
            "images_unreadable": self.images_unreadable,
            "median_ms": {
                "detection": (self.median_ms.0 * 10.0).round() / 10.0,
                "alignment": (self.median_ms.1 * 10.0).round() / 10.0,
                "embedding": (self.median_ms.2 * 10.0).round() / 10.0,
            },
        })
    }
}

struct Timings {
    det: Vec<f64>,
    align: Vec<f64>,
    embed: Vec<f64>,
    unreadable: usize,
}

/// Embeds every image (by file name) once; `None` for images without a face.
fn embed_all(
    p: &Pipeline,
    files: &[(String, PathBuf)],
    t: &mut Timings,
) -> Result<HashMap<String, Option<Embedding>>, FaceError> {
    let mut crops = Vec::new();
    let mut out = HashMap::new();
    for (name, path) in files {
        let img = match FaceImage::open(path) {
            Ok(i) => i,
            Err(e @ FaceError::Image { .. }) => {
                tracing::warn!(error = %e, "eval: image skipped");
                t.unreadable += 1;
                out.insert(name.clone(), None);
                continue;
            }
            Err(e) => return Err(e),
        };
        let t0 = Instant::now();
        let dets = p.detector.detect(img.view())?;
        t.det.push(t0.elapsed().as_secs_f64() * 1e3);
        let t1 = Instant::now();
        let crop = largest(&dets)
            .and_then(|d| align(img.view(), &d.landmarks, p.config().embedder.input_size));
        match crop {
            Some(c) => {
                t.align.push(t1.elapsed().as_secs_f64() * 1e3);
                crops.push((name.clone(), c));
            }
            None => {
                out.insert(name.clone(), None);
            }
        }
    }
    for chunk in crops.chunks(2) {
        let t0 = Instant::now();
        match chunk {
            [(na, a), (nb, b)] => {
                let (ea, eb) = p.embedder.embed_pair(a, b)?;
                let ms = t0.elapsed().as_secs_f64() * 1e3 / 2.0;
                t.embed.extend([ms, ms]);
                out.insert(na.clone(), Some(ea));
                out.insert(nb.clone(), Some(eb));
            }
            [(na, a)] => {
                let ea = p.embedder.embed_one(a)?;
                t.embed.push(t0.elapsed().as_secs_f64() * 1e3);
                out.insert(na.clone(), Some(ea));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn csv_files(pairs: &Path) -> Result<Vec<PathBuf>, FaceError> {
    if pairs.is_dir() {
        let rd = std::fs::read_dir(pairs).map_err(|source| FaceError::Io {
            path: pairs.to_path_buf(),
            source,
        })?;
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect();
        v.sort();
        Ok(v)
    } else {
        Ok(vec![pairs.to_path_buf()])
    }
}

/// Runs the benchmark with loaded models.
pub fn run(
    p: &Pipeline,
    pairs: &Path,
    images: &Path,
    impostors: Option<&Path>,
) -> Result<EvalReport, FaceError> {
    let mut labelled = Vec::new();
    let mut seen = HashSet::new();
    for csv in csv_files(pairs)? {
        for lp in read_pairs_csv(&csv)? {
            let key = if lp.a <= lp.b {
                (lp.a.clone(), lp.b.clone())
            } else {
                (lp.b.clone(), lp.a.clone())
            };
            if lp.a != lp.b && seen.insert(key) {
                labelled.push(lp);
            }
        }
    }
    let mut names: Vec<String> = labelled
        .iter()
        .flat_map(|l| [l.a.clone(), l.b.clone()])
        .collect();
    names.sort();
    names.dedup();
    let files: Vec<(String, PathBuf)> = names.iter().map(|n| (n.clone(), images.join(n))).collect();
    let mut t = Timings {
        det: Vec::new(),
        align: Vec::new(),
        embed: Vec::new(),
        unreadable: 0,
    };
    let emb = embed_all(p, &files, &mut t)?;
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for l in &labelled {
        let s = match (emb.get(&l.a), emb.get(&l.b)) {
            (Some(Some(a)), Some(Some(b))) => Some(cosine(a, b)),
            _ => None,
        };
        match (l.genuine, s) {
            (true, Some(s)) => genuine.push(s),
            (true, None) => genuine.push(-1.0), // no face: a false reject
            (false, Some(s)) => impostor.push(s),
            (false, None) => {}
        }
    }
    let mut n_images = files.len();
    let mut no_face = emb.values().filter(|e| e.is_none()).count();
    if let Some(dir) = impostors {
        let rd = std::fs::read_dir(dir).map_err(|source| FaceError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut imp_files: Vec<(String, PathBuf)> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    ["jpg", "jpeg", "png"]
                        .contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                })
            })
            .map(|p| {
                (
                    p.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    p,
                )
            })
            .collect();
        imp_files.sort();
        let e = embed_all(p, &imp_files, &mut t)?;
        n_images += imp_files.len();
        no_face += e.values().filter(|e| e.is_none()).count();
        let v: Vec<&Embedding> = imp_files
            .iter()
            .filter_map(|(n, _)| e.get(n).and_then(|x| x.as_ref()))
            .collect();
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                impostor.push(cosine(v[i], v[j]));
            }
        }
    }
    let thr = p.config().embedder.match_threshold;
    let report = EvalReport {
        n_genuine: genuine.len(),
        n_impostor: impostor.len(),
        threshold: thr,
        at_1e3: tar_at_far(&genuine, &impostor, 1e-3),
        at_1e4: tar_at_far(&genuine, &impostor, 1e-4),
        eer: eer(&genuine, &impostor),
        tar_at_threshold: genuine.iter().filter(|&&g| g >= thr).count() as f64
            / genuine.len().max(1) as f64,
        far_at_threshold: impostor.iter().filter(|&&i| i >= thr).count() as f64
            / impostor.len().max(1) as f64,
        images_without_face: no_face,
        images_unreadable: t.unreadable,
        images: n_images,
        median_ms: (
            median(&mut t.det),
            median(&mut t.align),
            median(&mut t.embed),
        ),
    };
    genuine.iter_mut().for_each(|x| *x = 0.0);
    impostor.iter_mut().for_each(|x| *x = 0.0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_eval_parses_both_csv_formats() {
        let pivot = "file_x,file_y,decision,VGG-Face_cosine\n\
                     deepface/tests/dataset/img38.jpg,deepface/tests/dataset/img39.jpg,Yes,0.2\n\
                     deepface/tests/dataset/img38.jpg,deepface/tests/dataset/img1.jpg,No,0.7\n";
        let v = parse_pairs(pivot).expect("pivot");
        assert_eq!(
            v[0],
            LabelledPair {
                a: "img38.jpg".into(),
                b: "img39.jpg".into(),
                genuine: true
            }
        );
        assert!(!v[1].genuine);
        let master =
            "file_x,file_y,Decision\r\nimg20.jpg,img21.jpg,Yes\r\nimg1.jpg,img2.jpg,No\r\n";
        let v = parse_pairs(master).expect("master");
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[1],
            LabelledPair {
                a: "img1.jpg".into(),
                b: "img2.jpg".into(),
                genuine: false
            }
        );
        assert!(parse_pairs("a,b\n1,2").is_err());
        assert!(parse_pairs("file_x,file_y,decision\na,b,maybe").is_err());
    }

    #[test]
    fn face_eval_metrics_on_known_scores() {
        // 1000 impostors at 0.000..0.999, genuine spread above and below.
        let imp: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let gen = vec![0.9995, 0.9985, 0.9975, 0.5];
        let (tar, thr) = tar_at_far(&gen, &imp, 1e-3);
        // One false accept allowed: threshold just above 0.998.
        assert!(thr > 0.998 && thr < 0.9981, "{thr}");
        assert_eq!(imp.iter().filter(|&&i| i >= thr).count(), 1);
        assert!((tar - 0.5).abs() < 1e-9);
        let (tar0, thr0) = tar_at_far(&gen, &imp, 1e-4);
        assert!(thr0 > 0.999 && (tar0 - 0.25).abs() < 1e-9);
        // Perfectly separated → EER 0; identical distributions → ~0.5.
        assert_eq!(eer(&[0.9, 0.95], &[0.1, 0.2]), 0.0);
        let e = eer(&imp, &imp);
        assert!((e - 0.5).abs() < 0.01, "{e}");
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
