//! Pure pixel converters from what cameras send to RGB8.
//!
//! - YUYV (a.k.a. YUY2, packed 4:2:2: `Y0 U Y1 V` for two pixels) is
//!   converted with the BT.601 limited-range ("studio swing", Y 16–235,
//!   Cb/Cr 16–240) integer formulas that UVC webcams use, in pure Rust.
//! - MJPEG frames are decoded by the `image` crate's JPEG decoder. UVC MJPEG
//!   often omits the Huffman tables; the decoder (zune-jpeg) fills in the
//!   standard ones.
//!
//! Both take the bytes of one buffer and return a new RGB8 vector; neither
//! keeps anything.

use image::ImageFormat;
use zeroize::Zeroize;

use super::{rgb_len, Error};

/// Converts one YUYV frame to RGB8 (row-major, no padding).
///
/// `stride` is the driver's bytes per line (`bytesperline`, at least
/// `width * 2`). `width` must be even (YUYV carries pixels in pairs).
pub fn yuyv_to_rgb(src: &[u8], width: u32, height: u32, stride: usize) -> Result<Vec<u8>, Error> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || w % 2 != 0 {
        return Err(Error::Format {
            detail: format!("YUYV needs a non-empty size with an even width, got {width}x{height}"),
        });
    }
    let line = w * 2;
    if stride < line {
        return Err(Error::Format {
            detail: format!("YUYV stride {stride} shorter than a {width}-pixel line"),
        });
    }
    let needed = stride
        .checked_mul(h - 1)
        .and_then(|n| n.checked_add(line))
        .ok_or_else(|| Error::Format {
            detail: format!("YUYV size {width}x{height} overflows"),
        })?;
    if src.len() < needed {
        return Err(Error::Format {
            detail: format!(
                "YUYV buffer of {} bytes, {width}x{height} (stride {stride}) needs {needed}",
                src.len()
            ),
        });
    }
    let out_len = rgb_len(width, height).ok_or_else(|| Error::Format {
        detail: format!("RGB size {width}x{height} overflows"),
    })?;
    let mut out = vec![0u8; out_len];
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let start = row * stride;
        let src_row = &src[start..start + line];
        for (quad, px) in src_row.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
            let (y0, u, y1, v) = (quad[0], quad[1], quad[2], quad[3]);
            px[..3].copy_from_slice(&ycbcr_to_rgb(y0, u, v));
            px[3..].copy_from_slice(&ycbcr_to_rgb(y1, u, v));
        }
    }
    Ok(out)
}

/// One BT.601 limited-range Y'CbCr sample to RGB8 (ITU-R BT.601 integer
/// approximation, coefficients × 256).
pub fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(cb) - 128;
    let e = i32::from(cr) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

/// Decodes one MJPEG frame (a JPEG image) to `(width, height, RGB8)`.
pub fn mjpeg_to_rgb(data: &[u8]) -> Result<(u32, u32, Vec<u8>), Error> {
    let img = image::load_from_memory_with_format(data, ImageFormat::Jpeg).map_err(|e| {
        Error::Decode {
            detail: e.to_string(),
        }
    })?;
    let (width, height) = (img.width(), img.height());
    let rgb = match img {
        // The usual case: the decoder's own buffer, no copy.
        image::DynamicImage::ImageRgb8(buf) => buf.into_raw(),
        mut other => {
            let converted = other.to_rgb8().into_raw();
            // Wipe the decoder's buffer (a grey JPEG) before it is freed.
            if let image::DynamicImage::ImageLuma8(ref mut luma) = other {
                let bytes: &mut [u8] = luma;
                bytes.zeroize();
            }
            converted
        }
    };
    Ok((width, height, rgb))
}
