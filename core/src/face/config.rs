//! Face-check configuration: model paths, input sizes, normalisation and
//! thresholds. Defaults come from `MODELS.md` and our own measurement
//! (`docs/BENCHMARKS.md`), so an operator can drop in licensed replacements
//! without a rebuild.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// All face-check settings. Every section has defaults; unknown keys are an
/// error so a typo never silently falls back to a default.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct FaceConfig {
    /// Directory holding the model files; relative model paths resolve here.
    pub model_dir: PathBuf,
    /// Face detector (CenterFace).
    pub detector: DetectorConfig,
    /// Face embedder (MobileFaceNet) and the match threshold.
    pub embedder: EmbedderConfig,
    /// Quality gates a live frame must pass before it counts.
    pub quality: QualityConfig,
    /// Active liveness challenge.
    pub liveness: LivenessConfig,
    /// Passive anti-spoofing pair (optional files).
    pub antispoof: AntispoofConfig,
    /// Match attempts per session before the face path ends (DOMAIN.md §2).
    pub max_attempts: u8,
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from("/usr/share/kiosk/models"),
            detector: DetectorConfig::default(),
            embedder: EmbedderConfig::default(),
            quality: QualityConfig::default(),
            liveness: LivenessConfig::default(),
            antispoof: AntispoofConfig::default(),
            max_attempts: 3,
        }
    }
}

/// CenterFace settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct DetectorConfig {
    /// Model file (relative to `model_dir` unless absolute).
    pub model: PathBuf,
    /// Network input width, a multiple of 32.
    pub input_width: u32,
    /// Network input height, a multiple of 32.
    pub input_height: u32,
    /// Side of the square network input of the live loop's region search
    /// (the face tracked from frame to frame), a multiple of 32. The region
    /// is 1.5 × the face ([`crate::face::detect::TRACK_ROI_SCALE`]), so the
    /// face spans about two thirds of it: 64 pixels at the default 96, what
    /// the liveness thresholds were tuned on.
    pub track_input: u32,
    /// Heatmap score a cell needs to become a face.
    pub score_threshold: f32,
    /// IoU above which overlapping boxes are merged by NMS.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            model: PathBuf::from("centerface.onnx"),
            input_width: 320,
            input_height: 256,
            track_input: 96,
            score_threshold: 0.5,
            nms_iou: 0.3,
        }
    }
}

/// MobileFaceNet settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct EmbedderConfig {
    /// Model file (relative to `model_dir` unless absolute).
    pub model: PathBuf,
    /// Square input side (the template is defined for 112).
    pub input_size: u32,
    /// Subtracted from each 0–255 channel value.
    pub mean: f32,
    /// The centred value is divided by this.
    pub std: f32,
    /// Cosine similarity at or above which two faces match. Default measured
    /// with this pipeline on `faces/` for FAR ≤ 1e-4 (docs/BENCHMARKS.md).
    pub match_threshold: f32,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        Self {
            model: PathBuf::from("mobilefacenet.onnx"),
            input_size: 112,
            mean: 127.5,
            std: 128.0,
            match_threshold: DEFAULT_MATCH_THRESHOLD,
        }
    }
}

/// Cosine threshold measured by `kiosk face eval` on `faces/` with this
/// pipeline: the 1e-4 FAR point is 0.5314 (80,180 impostor pairs), rounded up.
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.532;

/// Quality gates, checked in this order: one face, size, pose, brightness,
/// sharpness.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct QualityConfig {
    /// Minimum face box width in frame pixels ("come closer").
    pub min_face_px: f32,
    /// Faces smaller than this fraction of the main face are background and
    /// do not count as a second face.
    pub background_face_ratio: f32,
    /// Maximum |yaw| (nose offset / inter-ocular distance) for a frontal
    /// frame ("face the camera").
    pub max_abs_yaw: f32,
    /// Mean luma (0–255) of the aligned crop below this is "too dark".
    pub min_brightness: f32,
    /// Mean luma above this is "too bright".
    pub max_brightness: f32,
    /// Minimum variance of the Laplacian of the aligned 112×112 grey crop
    /// ("hold still").
    pub min_sharpness: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            min_face_px: 80.0,
            background_face_ratio: 0.5,
            max_abs_yaw: 0.12,
            min_brightness: 50.0,
            max_brightness: 210.0,
            min_sharpness: 20.0,
        }
    }
}

/// Active liveness challenge. Yaw and pitch are ratios of landmark geometry
/// (see [`crate::face::liveness`]), so moderate head motion (and a moderate
/// geometric warp in the camera twin) reaches them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct LivenessConfig {
    /// Actions per challenge, 2 or 3.
    pub actions: u8,
    /// Time allowed for each action, milliseconds.
    pub action_timeout_ms: u64,
    /// Time allowed for the whole challenge, milliseconds.
    pub total_timeout_ms: u64,
    /// Yaw change from the neutral baseline a turn must reach (nose offset
    /// from the eye midpoint / inter-ocular distance).
    pub yaw_threshold: f32,
    /// Change of the pitch ratio from the neutral baseline a nod must reach.
    pub pitch_threshold: f32,
    /// Yaw change below which the head counts as back to neutral.
    pub neutral_yaw: f32,
    /// Pitch change below which the head counts as back to neutral.
    pub neutral_pitch: f32,
    /// Set when the camera image is mirrored (selfie view): swaps left/right
    /// for the challenge; the face and QR actors then show the preview as it
    /// comes and flip frames back before decoding QR codes.
    pub mirrored: bool,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            actions: 2,
            action_timeout_ms: 5_000,
            total_timeout_ms: 15_000,
            yaw_threshold: 0.12,
            pitch_threshold: 0.08,
            neutral_yaw: 0.06,
            neutral_pitch: 0.04,
            mirrored: false,
        }
    }
}

/// Passive anti-spoofing pair (Silent-Face MiniFASNet). When either file is
/// absent the kiosk runs active liveness only and says so in its self-test.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct AntispoofConfig {
    /// Set to false to ignore the files even when present.
    pub enabled: bool,
    /// MiniFASNetV2, crop scale 2.7.
    pub model_v2: PathBuf,
    /// MiniFASNetV1SE, crop scale 4.0.
    pub model_v1se: PathBuf,
    /// Side of the square network input.
    pub input_size: u32,
}

impl Default for AntispoofConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            model_v2: PathBuf::from("minifasnet_v2_scale2.7.onnx"),
            model_v1se: PathBuf::from("minifasnet_v1se_scale4.0.onnx"),
            input_size: 80,
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// TOML did not parse or had unknown keys.
    #[error("face config: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("face config: {field} {reason}")]
    Invalid {
        /// Offending key.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl FaceConfig {
    /// Parses and validates a `[face]` TOML table.
    pub fn from_toml_str(s: &str) -> Result<Self, ConfigError> {
        let (cfg, unknown): (Self, Vec<String>) = crate::config::from_toml_noting_unknown(s)
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        if let Some(field) = unknown.first() {
            return Err(ConfigError::Parse(format!("unknown field `{field}`")));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// The defaults with another model directory (tests, tools).
    pub fn with_model_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: dir.into(),
            ..Self::default()
        }
    }

    /// Resolves a model path against `model_dir`.
    pub fn model_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.model_dir.join(p)
        }
    }

    /// Checks ranges that would make the pipeline misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.detector;
        if d.input_width == 0
            || d.input_width % 32 != 0
            || d.input_height == 0
            || d.input_height % 32 != 0
        {
            return Err(ConfigError::Invalid {
                field: "detector.input_width/height",
                reason: "must be positive multiples of 32",
            });
        }
        if d.track_input == 0 || d.track_input % 32 != 0 {
            return Err(ConfigError::Invalid {
                field: "detector.track_input",
                reason: "must be a positive multiple of 32",
            });
        }
        if !(0.0..1.0).contains(&d.score_threshold) {
            return Err(ConfigError::Invalid {
                field: "detector.score_threshold",
                reason: "must be in 0..1",
            });
        }
        if !(-1.0..=1.0).contains(&self.embedder.match_threshold) {
            return Err(ConfigError::Invalid {
                field: "embedder.match_threshold",
                reason: "must be a cosine in -1..1",
            });
        }
        if self.embedder.std == 0.0 || self.embedder.input_size == 0 {
            return Err(ConfigError::Invalid {
                field: "embedder",
                reason: "std and input_size must be non-zero",
            });
        }
        if !(2..=3).contains(&self.liveness.actions) {
            return Err(ConfigError::Invalid {
                field: "liveness.actions",
                reason: "must be 2 or 3",
            });
        }
        if self.liveness.neutral_yaw >= self.liveness.yaw_threshold
            || self.liveness.neutral_pitch >= self.liveness.pitch_threshold
        {
            return Err(ConfigError::Invalid {
                field: "liveness.neutral_*",
                reason: "must be below the action thresholds",
            });
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                field: "max_attempts",
                reason: "must be at least 1",
            });
        }
        if self.quality.min_brightness >= self.quality.max_brightness {
            return Err(ConfigError::Invalid {
                field: "quality.min_brightness",
                reason: "must be below max_brightness",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_config_defaults_validate() {
        assert_eq!(FaceConfig::default().validate(), Ok(()));
        assert_eq!(FaceConfig::default().max_attempts, 3);
    }

    #[test]
    fn face_config_parses_inline_toml() {
        let cfg = FaceConfig::from_toml_str(
            r#"
            model_dir = "/opt/models"
            max_attempts = 2
            [detector]
            input_width = 320
            input_height = 320
            [liveness]
            actions = 3
            [antispoof]
            enabled = false
            "#,
        )
        .expect("valid");
        assert_eq!(cfg.model_dir, PathBuf::from("/opt/models"));
        assert_eq!(cfg.detector.input_height, 320);
        assert_eq!(cfg.liveness.actions, 3);
        assert!(!cfg.antispoof.enabled);
        assert_eq!(
            cfg.model_path(Path::new("x.onnx")),
            PathBuf::from("/opt/models/x.onnx")
        );
    }

    #[test]
    fn face_config_rejects_unknown_keys_and_bad_values() {
        assert!(matches!(
            FaceConfig::from_toml_str("treshold = 1"),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            FaceConfig::from_toml_str("[detector]\ninput_width = 300"),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            FaceConfig::from_toml_str("[liveness]\nactions = 5"),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
