//! Renders a [`Receipt`] into a 1-bit [`Bitmap`] as wide as the print head.
//!
//! Text is rasterised with `ab_glyph` from a TrueType font loaded at run time
//! (never embedded): CJK and Latin alike, so rare name characters print even
//! when the printer's ROM font lacks them. Lines, boxes and the QR code are
//! drawn through `embedded-graphics` ([`Bitmap`] is a `DrawTarget`). The layout
//! is a single column, drawn top to bottom into a bitmap that grows as it goes.

use std::path::{Path, PathBuf};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};

use super::{PrinterConfig, Receipt};

/// Fonts searched, in order, when no font path is configured.
pub const DEFAULT_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
];

/// Continuation lines of a "label：value" field start this far in.
const FIELD_HANG: &str = "    ";

/// Coverage above which a text pixel is black.
const COVERAGE_THRESHOLD: f32 = 0.5;

/// Errors while rendering a receipt.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No configured font and none of the default fonts exist.
    #[error("no receipt font found (searched {searched:?}); install fonts-wqy-microhei or set printer.font_path")]
    FontNotFound {
        /// Paths that were tried.
        searched: Vec<PathBuf>,
    },
    /// The font file could not be read.
    #[error("cannot read font {path:?}: {source}")]
    FontRead {
        /// The font file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The font file is not a TrueType/OpenType font or collection.
    #[error("{path:?} is not a usable TrueType/OpenType font")]
    FontInvalid {
        /// The font file.
        path: PathBuf,
    },
    /// Head widths other than 384 and 576 dots are not supported.
    #[error("unsupported print width {0} dots (use 384 or 576)")]
    BadWidth(u32),
    /// The QR payload cannot be encoded (too long).
    #[error("cannot encode QR payload: {0}")]
    Qr(#[from] qrcode::types::QrError),
}

/// A 1-bit image: rows packed MSB-first (leftmost dot = bit 7), 1 = black.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    /// Width in dots.
    pub width: u32,
    /// Height in dots (rows).
    pub height: u32,
    /// `height` rows of [`Bitmap::stride`] bytes each.
    pub bits: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bitmap")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("black_dots", &self.black_dots())
            .finish()
    }
}

impl Bitmap {
    /// A white bitmap.
    pub fn new(width: u32, height: u32) -> Self {
        let stride = (width as usize).div_ceil(8);
        Bitmap {
            width,
            height,
            bits: vec![0; stride * height as usize],
        }
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        (self.width as usize).div_ceil(8)
    }

    /// Whether the dot at `(x, y)` is black (false outside the bitmap).
    pub fn get(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let i = y as usize * self.stride() + x as usize / 8;
        self.bits[i] & (0x80 >> (x % 8)) != 0
    }

    /// Sets the dot at `(x, y)`; ignored outside the bitmap.
    pub fn set(&mut self, x: u32, y: u32, black: bool) {
        if x >= self.width || y >= self.height {
            return;
        }
        let i = y as usize * self.stride() + x as usize / 8;
        let mask = 0x80 >> (x % 8);
        if black {
            self.bits[i] |= mask;
        } else {
            self.bits[i] &= !mask;
        }
    }

    /// Number of black dots.
    pub fn black_dots(&self) -> u64 {
        self.bits.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// Grows the bitmap with white rows so it is at least `height` rows tall.
    pub fn ensure_height(&mut self, height: u32) {
        if height > self.height {
            self.height = height;
            self.bits.resize(self.stride() * height as usize, 0);
        }
    }

    /// Encodes as a PNG (1-bit grayscale, black = 0 as PNG expects).
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width.max(1), self.height.max(1));
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        // PNG grayscale: 1 = white, ours: 1 = black.
        let mut data: Vec<u8> = self.bits.iter().map(|b| !b).collect();
        if self.width == 0 || self.height == 0 {
            data = vec![0xFF];
        }
        // Writing to a Vec cannot fail for I/O reasons and the header matches
        // the data length, so errors here are bugs: fall back to an empty PNG.
        let written = encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&data));
        if written.is_err() {
            return Vec::new();
        }
        out
    }
}

impl OriginDimensions for Bitmap {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Bitmap {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 {
                self.set(p.x as u32, p.y as u32, c.is_on());
            }
        }
        Ok(())
    }
}

/// Loads the configured font, or the first default font that exists.
///
/// A configured path is authoritative: if it is missing, that is an error,
/// not a silent fallback. Returns the font and the path it came from.
pub fn load_font(configured: Option<&Path>) -> Result<(FontVec, PathBuf), RenderError> {
    let path = match configured {
        Some(p) => p.to_path_buf(),
        None => DEFAULT_FONT_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| RenderError::FontNotFound {
                searched: DEFAULT_FONT_PATHS.iter().map(PathBuf::from).collect(),
            })?,
    };
    let bytes = std::fs::read(&path).map_err(|source| RenderError::FontRead {
        path: path.clone(),
        source,
    })?;
    let font = FontVec::try_from_vec_and_index(bytes, 0)
        .map_err(|_| RenderError::FontInvalid { path: path.clone() })?;
    Ok((font, path))
}

/// Where the QR code landed (for tests that check it is really there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QrPlacement {
    /// Left edge of the first module (quiet zone excluded).
    pub x: u32,
    /// Top edge of the first module.
    pub y: u32,
    /// Dots per module.
    pub module: u32,
    /// Modules per side.
    pub modules: u32,
}

/// Horizontal alignment of a paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
}

/// The fixed labels of a slip, in Chinese and English.
struct Labels {
    number: &'static str,
    central: &'static str,
    time: &'static str,
    person: &'static str,
    accepted: &'static str,
    scan: &'static str,
}

impl Labels {
    fn of(kind: super::ReceiptKind) -> Self {
        match kind {
            super::ReceiptKind::Acceptance => Labels {
                number: "受理编号 Order：",
                central: "中心编号 Central no.：",
                time: "受理时间 Accepted：",
                person: "申请人 Applicant：",
                accepted: "已受理 Accepted",
                scan: "扫码查询进度 Scan to track",
            },
            super::ReceiptKind::Invoice => Labels {
                number: "发票号码 Invoice：",
                central: "支付单号 Payment：",
                time: "开具时间 Issued：",
                person: "户名 Holder：",
                accepted: "已缴费 Paid",
                scan: "扫码查验发票 Scan to verify",
            },
        }
    }
}

/// Renders receipts with one loaded font at one head width.
pub struct ReceiptRenderer {
    font: FontVec,
    width: u32,
}

impl std::fmt::Debug for ReceiptRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptRenderer")
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

impl ReceiptRenderer {
    /// Loads the font named by the configuration (or a default one).
    pub fn new(config: &PrinterConfig) -> Result<Self, RenderError> {
        let (font, _path) = load_font(config.font_path.as_deref())?;
        Self::with_font(font, config.width_dots)
    }

    /// Uses an already loaded font.
    pub fn with_font(font: FontVec, width_dots: u32) -> Result<Self, RenderError> {
        if width_dots != 384 && width_dots != 576 {
            return Err(RenderError::BadWidth(width_dots));
        }
        Ok(ReceiptRenderer {
            font,
            width: width_dots,
        })
    }

    /// Head width in dots.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Renders a receipt.
    pub fn render(&self, receipt: &Receipt) -> Result<Bitmap, RenderError> {
        self.render_with_layout(receipt).map(|(b, _)| b)
    }

    pub(crate) fn render_with_layout(
        &self,
        receipt: &Receipt,
    ) -> Result<(Bitmap, QrPlacement), RenderError> {
        let w = self.width;
        // Sizes are given for 384 dots and scaled for 576.
        let s = |px: u32| px * w / 384;
        let title = s(32) as f32;
        let body = s(24) as f32;
        let small = s(20) as f32;
        let margin = s(8);
        let mut c = Canvas {
            font: &self.font,
            bmp: Bitmap::new(w, s(16)),
            y: s(8),
            margin,
        };

        let labels = Labels::of(receipt.kind);
        c.paragraph(&receipt.title, title, Align::Center, true);
        c.gap(s(6));
        c.rule(s(2));
        c.gap(s(8));

        c.paragraph_hanging(
            &format!("业务 Business：{}", receipt.business),
            body,
            Align::Left,
            true,
            FIELD_HANG,
        );
        c.paragraph_hanging(
            &format!("{}{}", labels.number, receipt.local_id),
            body,
            Align::Left,
            false,
            FIELD_HANG,
        );
        let central = receipt
            .central_no
            .clone()
            .unwrap_or_else(|| "待同步 pending sync".to_string());
        c.paragraph_hanging(
            &format!("{}{central}", labels.central),
            body,
            Align::Left,
            false,
            FIELD_HANG,
        );
        c.paragraph_hanging(
            &format!("{}{}", labels.time, receipt.accepted_at),
            body,
            Align::Left,
            false,
            FIELD_HANG,
        );
        c.paragraph_hanging(
            &format!("{}{}", labels.person, receipt.masked_name),
            body,
            Align::Left,
            false,
            FIELD_HANG,
        );
        if !receipt.masked_id.is_empty() {
            c.paragraph_hanging(
                &format!("证件号 ID：{}", receipt.masked_id),
                body,
                Align::Left,
                false,
                FIELD_HANG,
            );
        }

        if !receipt.accepted.is_empty() {
            c.gap(s(6));
            c.rule(s(1));
            c.gap(s(6));
            c.paragraph(labels.accepted, body, Align::Left, true);
            for line in &receipt.accepted {
                c.paragraph_hanging(&format!("· {line}"), body, Align::Left, false, "· ");
            }
        }

        if !receipt.missing.is_empty() {
            c.gap(s(10));
            let top = c.y;
            c.gap(s(6));
            let inner = s(8);
            c.margin = margin + inner;
            c.paragraph("缺件 Missing — 请按期补交", body, Align::Left, true);
            for (doc, deadline) in &receipt.missing {
                c.paragraph_hanging(&format!("· {doc}"), body, Align::Left, false, "· ");
                c.paragraph_hanging(
                    &format!("  截止 Deadline：{deadline}"),
                    body,
                    Align::Left,
                    true,
                    "  截止 ",
                );
            }
            c.margin = margin;
            c.gap(s(6));
            let bottom = c.y;
            c.bmp.ensure_height(bottom + 1);
            let rect = Rectangle::new(
                Point::new(margin as i32, top as i32),
                Size::new(w - 2 * margin, bottom - top),
            );
            // Drawing on a Bitmap is infallible (Error = Infallible).
            let _ = rect
                .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, s(2)))
                .draw(&mut c.bmp);
        }

        c.gap(s(12));
        let qr = c.qr(&receipt.qr_payload)?;
        c.paragraph(labels.scan, body, Align::Center, false);
        c.gap(s(6));
        c.paragraph(
            &format!("服务热线 Service：{}", receipt.service_phone),
            body,
            Align::Center,
            true,
        );
        if !receipt.footer.is_empty() {
            c.gap(s(6));
            c.rule(s(1));
            c.gap(s(4));
            for line in &receipt.footer {
                c.paragraph(line, small, Align::Center, false);
            }
        }
        c.gap(s(8));
        c.bmp.ensure_height(c.y);
        Ok((c.bmp, qr))
    }
}

/// Drawing state: the growing bitmap and the pen's vertical position.
struct Canvas<'f> {
    font: &'f FontVec,
    bmp: Bitmap,
    y: u32,
    margin: u32,
}

impl Canvas<'_> {
    fn gap(&mut self, dots: u32) {
        self.y += dots;
    }

    /// A horizontal rule `thickness` dots thick across the text width.
    fn rule(&mut self, thickness: u32) {
        let w = self.bmp.width;
        self.bmp.ensure_height(self.y + thickness);
        let y = (self.y + thickness / 2) as i32;
        let line = Line::new(
            Point::new(self.margin as i32, y),
            Point::new((w - self.margin) as i32 - 1, y),
        );
        // Infallible draw target.
        let _ = line
            .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, thickness))
            .draw(&mut self.bmp);
        self.y += thickness;
    }

    fn text_width(&self, text: &str, px: f32) -> f32 {
        let sf = self.font.as_scaled(PxScale::from(px));
        let mut wsum = 0.0;
        let mut prev = None;
        for ch in text.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                wsum += sf.kern(p, id);
            }
            wsum += sf.h_advance(id);
            prev = Some(id);
        }
        wsum
    }

    /// Wraps `text` to the text width: CJK characters break anywhere, Latin
    /// words at spaces, and words longer than a line character by character.
    /// Lines after the first are `hang` dots narrower (hanging indent).
    fn wrap(&self, text: &str, px: f32, hang: f32) -> Vec<String> {
        let full = (self.bmp.width - 2 * self.margin) as f32;
        let mut lines: Vec<String> = Vec::new();
        let max_for = |lines: &Vec<String>| if lines.is_empty() { full } else { full - hang };
        let mut line = String::new();
        for unit in units(text) {
            let candidate = format!("{line}{unit}");
            if self.text_width(&candidate, px) <= max_for(&lines) {
                line = candidate;
                continue;
            }
            if !line.trim().is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.clear();
            let unit = if unit.trim().is_empty() {
                ""
            } else {
                unit.as_str()
            };
            if self.text_width(unit, px) <= max_for(&lines) {
                line.push_str(unit);
            } else {
                for ch in unit.chars() {
                    let mut next = line.clone();
                    next.push(ch);
                    if self.text_width(&next, px) > max_for(&lines) && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line.push(ch);
                    } else {
                        line = next;
                    }
                }
            }
        }
        if !line.trim().is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Draws a wrapped paragraph and advances the pen.
    fn paragraph(&mut self, text: &str, px: f32, align: Align, bold: bool) {
        self.paragraph_hanging(text, px, align, bold, "");
    }

    /// Draws a wrapped paragraph whose continuation lines start after the
    /// width of `hang` (a bullet, a label), and advances the pen.
    fn paragraph_hanging(&mut self, text: &str, px: f32, align: Align, bold: bool, hang: &str) {
        let hang = match align {
            Align::Left => self.text_width(hang, px),
            Align::Center => 0.0,
        };
        let sf = self.font.as_scaled(PxScale::from(px));
        let line_height = (sf.ascent() - sf.descent() + sf.line_gap()).ceil().max(px) as u32 + 2;
        let ascent = sf.ascent();
        for (i, line) in self.wrap(text, px, hang).into_iter().enumerate() {
            let width = self.text_width(&line, px);
            let x0 = match align {
                Align::Left if i > 0 => self.margin as f32 + hang,
                Align::Left => self.margin as f32,
                Align::Center => ((self.bmp.width as f32 - width) / 2.0).max(0.0),
            };
            self.bmp.ensure_height(self.y + line_height);
            let baseline = self.y as f32 + ascent;
            self.draw_line(&line, px, x0, baseline, bold);
            self.y += line_height;
        }
    }

    fn draw_line(&mut self, text: &str, px: f32, x0: f32, baseline: f32, bold: bool) {
        let scale = PxScale::from(px);
        let sf = self.font.as_scaled(scale);
        let mut x = x0;
        let mut prev = None;
        for ch in text.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                x += sf.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(x, baseline));
            x += sf.h_advance(id);
            prev = Some(id);
            let Some(outlined) = self.font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outlined.px_bounds();
            let bmp = &mut self.bmp;
            outlined.draw(|gx, gy, cov| {
                if cov >= COVERAGE_THRESHOLD {
                    let px_x = bounds.min.x as i64 + i64::from(gx);
                    let px_y = bounds.min.y as i64 + i64::from(gy);
                    if px_x >= 0 && px_y >= 0 {
                        bmp.set(px_x as u32, px_y as u32, true);
                        if bold {
                            bmp.set(px_x as u32 + 1, px_y as u32, true);
                        }
                    }
                }
            });
        }
    }

    /// Draws the QR code (model 2, level M) centred, about half the width,
    /// with a 4-module quiet zone, and advances the pen.
    fn qr(&mut self, payload: &str) -> Result<QrPlacement, RenderError> {
        let code =
            qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)?;
        let modules = code.width() as u32;
        let with_quiet = modules + 8;
        let module = ((self.bmp.width / 2 + with_quiet / 2) / with_quiet).max(2);
        let side = with_quiet * module;
        let left = self.bmp.width.saturating_sub(side) / 2;
        let x = left + 4 * module;
        let y = self.y + 4 * module;
        self.bmp.ensure_height(self.y + side);
        let colors = code.to_colors();
        for (i, color) in colors.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let mx = (i as u32) % modules;
                let my = (i as u32) / modules;
                let r = Rectangle::new(
                    Point::new((x + mx * module) as i32, (y + my * module) as i32),
                    Size::new(module, module),
                );
                // Infallible draw target.
                let _ = r
                    .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
                    .draw(&mut self.bmp);
            }
        }
        self.y += side;
        Ok(QrPlacement {
            x,
            y,
            module,
            modules,
        })
    }
}

/// Splits text into wrapping units: runs of Latin (non-space, non-CJK)
/// characters, single CJK characters, and single spaces.
fn units(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() || is_wide(ch) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(ch.to_string());
        } else {
            word.push(ch);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// CJK ideographs, kana, hangul, full-width forms and CJK punctuation: a
/// line may break before or after any of them.
fn is_wide(ch: char) -> bool {
    matches!(ch as u32,
        0x1100..=0x11FF
        | 0x2E80..=0x303F
        | 0x3040..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF)
}
