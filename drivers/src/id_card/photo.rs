//! The seam for decoding the chip photo.
//!
//! The card holds a 1024-byte WLT image that only the reader vendor's
//! native library can unpack (to 102×126 RGB); no open decoder exists. The
//! rest of the system therefore treats the chip photo as optional and takes
//! the reference face from the central trusted-identity lookup. A site that
//! licenses a vendor decoder implements [`PhotoDecoder`] around it; the
//! shipped implementation, [`NoPhotoDecoder`], always declines.

/// Width of a decoded chip photo.
pub const PHOTO_WIDTH: u32 = 102;
/// Height of a decoded chip photo.
pub const PHOTO_HEIGHT: u32 = 126;

/// Why a chip photo could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// No WLT decoder is installed.
    #[error("no WLT photo decoder available")]
    Unavailable,
    /// The decoder rejected the data.
    #[error("WLT photo of {len} bytes could not be decoded: {reason}")]
    Invalid {
        /// Size of the WLT data.
        len: usize,
        /// The decoder's reason.
        reason: String,
    },
}

/// A decoded photo: `width × height` pixels, RGB, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbPhoto {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for RgbPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RgbPhoto({}x{}, <{} bytes>)",
            self.width,
            self.height,
            self.rgb.len()
        )
    }
}

/// Decodes a WLT chip photo.
pub trait PhotoDecoder: Send + Sync {
    /// Decodes the 1024-byte WLT data.
    fn decode(&self, wlt: &[u8]) -> Result<RgbPhoto, PhotoError>;
}

/// The only decoder we ship: there is none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPhotoDecoder;

impl PhotoDecoder for NoPhotoDecoder {
    fn decode(&self, _wlt: &[u8]) -> Result<RgbPhoto, PhotoError> {
        Err(PhotoError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_decoder_declines() {
        let d: Box<dyn PhotoDecoder> = Box::new(NoPhotoDecoder);
        assert_eq!(d.decode(&[0; 1024]), Err(PhotoError::Unavailable));
    }
}
