//! Library side of `kiosk face verify` and `kiosk face eval` (the binary only
//! parses arguments and prints).

use std::path::Path;

use super::config::FaceConfig;
use super::decision::{FaceSession, Outcome, Step};
use super::engine::Pipeline;
use super::{FaceError, FaceImage, Which};

/// Compares the main face of `probe` with that of `reference`: `Ok(true)` for
/// pass, `Ok(false)` for fail, [`FaceError::NoFace`] when either image has no
/// usable face. No liveness (still images): a tool for operators and tests.
pub fn verify(reference: &Path, probe: &Path, cfg: &FaceConfig) -> Result<bool, FaceError> {
    let p = Pipeline::load(cfg)?;
    verify_with(&p, reference, probe)
}

/// [`verify`] with already loaded models.
pub fn verify_with(p: &Pipeline, reference: &Path, probe: &Path) -> Result<bool, FaceError> {
    let r = FaceImage::open(reference)?;
    let (_, rc) = p
        .main_face(r.view())?
        .ok_or(FaceError::NoFace(Which::Reference))?;
    drop(r);
    let q = FaceImage::open(probe)?;
    let (_, qc) = p
        .main_face(q.view())?
        .ok_or(FaceError::NoFace(Which::Probe))?;
    drop(q);
    let (qe, re) = p.embedder.embed_pair(&qc, &rc)?;
    let mut s = FaceSession::new(1, p.config().embedder.match_threshold);
    // Still images: the liveness step does not apply to this tool.
    let _ = s.liveness(Ok(()));
    Ok(matches!(s.compare(&qe, &re), Ok(Step::Done(Outcome::Pass))))
}

/// Runs the accuracy benchmark; see [`super::eval`].
pub fn eval(
    pairs_csv: &Path,
    images: &Path,
    impostors: Option<&Path>,
    cfg: &FaceConfig,
) -> Result<serde_json::Value, FaceError> {
    let p = Pipeline::load(cfg)?;
    super::eval::run(&p, pairs_csv, images, impostors).map(|r| r.to_json())
}
