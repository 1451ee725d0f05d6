//! MobileFaceNet embeddings with tract: NHWC N×112×112×3 RGB,
//! `(x − mean) / std`, 192-d output, L2-normalised; compared by cosine.
//! Probe and reference: one batch-2 call on a fixed-batch (TFLite) model,
//! two batch-1 runs on the dynamic-batch ONNX one (faster in tract).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_tflite::internal::DimLike;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::align::AlignedFace;
use super::config::EmbedderConfig;
use super::detect::load_onnx;
use super::{tract_reason, FaceError};

/// An L2-normalised face embedding. Zeroized on drop; `Debug` shows only the
/// dimension; not `Serialize`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Embedding(Vec<f32>);

impl fmt::Debug for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Embedding({}-d, <face data>)", self.0.len())
    }
}

impl Embedding {
    /// Normalises `v` to unit length (a zero vector stays zero).
    pub fn normalised(mut v: Vec<f32>) -> Self {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        Self(v)
    }
    /// Dimension.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True for an empty embedding.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Cosine similarity of two normalised embeddings. Crate-private: only
/// [`crate::face::decision`] and the offline benchmark see scores.
pub(crate) fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.0.iter().zip(b.0.iter()).map(|(x, y)| x * y).sum()
}

/// A loaded embedder with a batch-1 or a batch-2 plan (an ONNX model gets
/// batch 1; a TFLite model has a fixed batch and gets that one).
pub struct Embedder {
    one: Option<Arc<TypedRunnableModel>>,
    two: Option<Arc<TypedRunnableModel>>,
    size: usize,
    mean: f32,
    std: f32,
}

impl fmt::Debug for Embedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Embedder({0}x{0})", self.size)
    }
}

impl Embedder {
    /// Loads the model at `path`: ONNX (dynamic batch, as in `../shared`)
    /// or the registry's TFLite original (`kiosk models fetch`; its batch is
    /// fixed, 2 for MobileFaceNet). When `path` is absent but a `.tflite`
    /// file of the same stem is present, that one is used.
    pub fn load(path: &Path, cfg: &EmbedderConfig) -> Result<Self, FaceError> {
        let tflite = path.with_extension("tflite");
        let path = if !path.is_file() && tflite.is_file() {
            tflite.as_path()
        } else {
            path
        };
        let s = cfg.input_size as usize;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
        {
            let (batch, plan) = load_tflite(path)?;
            let (one, two) = if batch == 1 {
                (Some(plan), None)
            } else {
                (None, Some(plan))
            };
            return Ok(Self {
                one,
                two,
                size: s,
                mean: cfg.mean,
                std: cfg.std,
            });
        }
        // Batch 1 only: a pair is two batch-1 runs, because tract's batch-2
        // plan of MobileFaceNet measured ~4.5x one batch-1 run, not 2x
        // (tests/face-bench, docs/BENCHMARKS.md); same embeddings.
        let fact = InferenceFact::dt_shape(f32::datum_type(), tvec!(1, s, s, 3));
        Ok(Self {
            one: Some(load_onnx(path, fact)?),
            two: None,
            size: s,
            mean: cfg.mean,
            std: cfg.std,
        })
    }

    /// Embeds one aligned crop.
    pub fn embed_one(&self, face: &AlignedFace) -> Result<Embedding, FaceError> {
        let mut v = self.run(&[face])?;
        v.pop().ok_or(FaceError::Inference {
            stage: "embed",
            reason: "empty output".into(),
        })
    }

    /// Embeds two crops (probe and reference): one batch-2 call on a
    /// fixed-batch model, two batch-1 runs on a dynamic-batch one (faster
    /// in tract, same embeddings).
    pub fn embed_pair(
        &self,
        a: &AlignedFace,
        b: &AlignedFace,
    ) -> Result<(Embedding, Embedding), FaceError> {
        let mut v = self.run(&[a, b])?;
        match (v.pop(), v.pop()) {
            (Some(eb), Some(ea)) => Ok((ea, eb)),
            _ => Err(FaceError::Inference {
                stage: "embed",
                reason: "short output".into(),
            }),
        }
    }

    fn run(&self, faces: &[&AlignedFace]) -> Result<Vec<Embedding>, FaceError> {
        match (faces, &self.one, &self.two) {
            ([_], Some(p), _) | ([_, _], _, Some(p)) => self.run_plan(p, faces),
            ([a], None, Some(p)) => {
                // Fixed batch 2: pad with a copy and keep the first result.
                let mut v = self.run_plan(p, &[a, a])?;
                v.truncate(1);
                Ok(v)
            }
            ([a, b], Some(p), None) => {
                let mut v = self.run_plan(p, &[a])?;
                v.extend(self.run_plan(p, &[b])?);
                Ok(v)
            }
            _ => Err(FaceError::Inference {
                stage: "embed",
                reason: format!("batch {} unsupported", faces.len()),
            }),
        }
    }

    fn run_plan(
        &self,
        plan: &Arc<TypedRunnableModel>,
        faces: &[&AlignedFace],
    ) -> Result<Vec<Embedding>, FaceError> {
        let err = |e: TractError| FaceError::Inference {
            stage: "embed",
            reason: tract_reason(&e),
        };
        let s = self.size;
        // One division per byte value, not per pixel: a 256-entry table.
        let mut lut = [0f32; 256];
        for (v, l) in lut.iter_mut().enumerate() {
            *l = (v as f32 - self.mean) / self.std;
        }
        let n = s * s * 3;
        let mut input = vec![0f32; faces.len() * n];
        for (f, dst) in faces.iter().zip(input.chunks_exact_mut(n)) {
            if f.size() as usize != s || f.rgb().len() != n {
                return Err(FaceError::Inference {
                    stage: "embed",
                    reason: format!("crop is {} px, model wants {s}", f.size()),
                });
            }
            for (d, &p) in dst.iter_mut().zip(f.rgb()) {
                *d = lut[p as usize];
            }
        }
        let tensor = Tensor::from_shape(&[faces.len(), s, s, 3], &input).map_err(err)?;
        input.zeroize();
        let out = plan.run(tvec!(tensor.into_tvalue())).map_err(err)?;
        let arr = out.first().ok_or(FaceError::Inference {
            stage: "embed",
            reason: "no output".into(),
        })?;
        let view = arr.to_plain_array_view::<f32>().map_err(err)?;
        let dim = view.len() / faces.len();
        let flat: Vec<f32> = match view.as_slice() {
            Some(sl) => sl.to_vec(),
            None => view.iter().copied().collect(),
        };
        let res = flat
            .chunks(dim)
            .map(|c| Embedding::normalised(c.to_vec()))
            .collect();
        let mut flat = flat;
        flat.zeroize();
        Ok(res)
    }
}

/// Loads a TFLite model with tract-tflite; returns its fixed batch size.
fn load_tflite(path: &Path) -> Result<(usize, Arc<TypedRunnableModel>), FaceError> {
    let err = |e: TractError| FaceError::ModelLoad {
        path: path.to_path_buf(),
        reason: tract_reason(&e),
    };
    let model = tract_tflite::tflite().model_for_path(path).map_err(err)?;
    let fact = model.input_fact(0).map_err(err)?;
    let batch = fact
        .shape
        .first()
        .and_then(|d| d.to_usize().ok())
        .unwrap_or(1);
    Ok((
        batch,
        model
            .into_optimized()
            .map_err(err)?
            .into_runnable()
            .map_err(err)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_embedding_normalises_and_hides_values() {
        let a = Embedding::normalised(vec![3.0, 4.0]);
        let b = Embedding::normalised(vec![3.0, 4.0]);
        let c = Embedding::normalised(vec![-4.0, 3.0]);
        assert!((cosine(&a, &b) - 1.0).abs() < 1e-6);
        assert!(cosine(&a, &c).abs() < 1e-6);
        assert_eq!(format!("{a:?}"), "Embedding(2-d, <face data>)");
        assert_eq!(Embedding::normalised(vec![0.0; 3]).len(), 3);
    }
}
