//! The QR actor: decodes QR codes from camera frames, for the electronic ID
//! shown on a citizen's phone and for a receipt held up for a progress query.
//!
//! On `Start` it pulls frames and looks for QR codes in each (pure Rust,
//! `rqrr`, on the frame's luma); the first payload it decodes goes to the
//! flow as `QrScanned`, and the same payload is not sent twice in one scan.
//! `Stop` ends the scan and drops the frame. Frames are never stored: a
//! frame lives for one decode and its buffer is zeroized when dropped.
//!
//! The camera is opened only while a scan runs on the device, and the flow
//! never asks for a face check and a QR scan at the same time, so the face
//! actor and this one take turns on the one camera.

use std::sync::Arc;

use kiosk_drivers::camera::{Frame, FrameSource};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::devices::DeviceHandle;
use crate::flow::Event;

/// Commands to the QR actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrCmd {
    /// Start looking for QR codes.
    Start,
    /// Stop looking.
    Stop,
}

/// Decodes every QR code in an RGB frame (`None` for a malformed frame).
/// `mirrored`: the camera delivers a mirror image (`face.liveness.mirrored`);
/// the decoder reads no mirrored code, so the frame is flipped back first.
pub fn decode_frame(frame: &Frame, mirrored: bool) -> Option<Vec<String>> {
    let view = frame.view()?;
    let mut luma = image::imageops::grayscale(&view);
    if mirrored {
        image::imageops::flip_horizontal_in_place(&mut luma);
    }
    Some(decode_luma(&luma))
}

/// Decodes every QR code in a grey image. The decoder (`rqrr`) asserts on
/// some degenerate grids (found by fuzzing: a perspective transform out of
/// `i32` range); whatever is held up to the camera, that is caught here and
/// the picture counts as having no code.
pub fn decode_luma(img: &image::GrayImage) -> Vec<String> {
    let decode = || {
        let mut prepared = rqrr::PreparedImage::prepare(img.clone());
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, text)| text))
            .collect()
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        tracing::warn!("qr: the decoder failed on a frame; no code read from it");
        Vec::new()
    })
}

/// The codes of one scan: decodes frames off the async threads and hands
/// out each new payload once (the same code held up stays one event).
#[derive(Debug, Default)]
pub struct QrScan {
    mirrored: bool,
    sent: Option<String>,
}

impl QrScan {
    /// A scan through a camera that mirrors or not (see [`decode_frame`]).
    pub fn new(mirrored: bool) -> Self {
        Self {
            mirrored,
            sent: None,
        }
    }

    /// A new scan: the last payload may be read again.
    pub fn restart(&mut self) {
        self.sent = None;
    }

    /// The payload of `frame` not handed out last, if any. The frame is
    /// dropped (and zeroized) after the decode.
    pub async fn read(&mut self, frame: Frame) -> Option<String> {
        let mirrored = self.mirrored;
        let found = tokio::task::spawn_blocking(move || decode_frame(&frame, mirrored))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let payload = found
            .into_iter()
            .find(|p| self.sent.as_deref() != Some(p))?;
        self.sent = Some(payload.clone());
        Some(payload)
    }
}

/// Spawns the QR actor around a camera (`mirrored` as for [`decode_frame`]).
pub fn spawn_qr_actor<C: FrameSource + 'static>(camera: C, mirrored: bool) -> DeviceHandle<QrCmd> {
    let (tx, mut rx) = mpsc::channel(8);
    let (health_tx, health) = watch::channel(camera.health());
    let events: super::devices::EventSink = Arc::default();
    let handle = DeviceHandle::new(tx, health, Arc::clone(&events));
    let frames = Arc::clone(&handle.frames);
    tokio::spawn(async move {
        let mut camera = camera;
        let mut scanning = false;
        let mut scan = QrScan::new(mirrored);
        loop {
            if !scanning {
                match rx.recv().await {
                    Some(QrCmd::Start) => {
                        scanning = true;
                        scan.restart();
                    }
                    Some(QrCmd::Stop) => {}
                    None => break,
                }
                continue;
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(QrCmd::Start) => scan.restart(),
                    Some(QrCmd::Stop) => scanning = false,
                    None => break,
                },
                frame = camera.next_frame() => {
                    health_tx.send_if_modified(|h| {
                        let now = camera.health();
                        let changed = *h != now;
                        *h = now;
                        changed
                    });
                    let frame = match frame {
                        Ok(f) => {
                            frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            f
                        }
                        Err(e) => {
                            debug!("qr scan: camera: {e}");
                            // Unplugged or stalled: the driver reopens; don't spin.
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            continue;
                        }
                    };
                    let Some(payload) = scan.read(frame).await else {
                        continue;
                    };
                    let Some(tx) = events.get() else { continue };
                    if tx.send(Event::QrScanned(payload)).await.is_err() {
                        warn!("qr scan: the flow stopped taking events");
                        break;
                    }
                }
            }
        }
    });
    handle
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn qr_image(payload: &str, scale: u32) -> image::GrayImage {
        let code = qrcode::QrCode::new(payload.as_bytes()).unwrap();
        let modules = code.to_colors();
        let n = code.width() as u32;
        let quiet = 4;
        let side = (n + 2 * quiet) * scale;
        image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < n + quiet
                && my < n + quiet
                && modules[((my - quiet) * n + (mx - quiet)) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        })
    }

    /// The fuzzer's crashes (`kiosk/fuzz/regressions/`): bytes the
    /// `qr_payload` target turns into a small grey picture on which the
    /// decoder asserts. They now read as "no code".
    #[test]
    fn pictures_the_decoder_asserts_on_read_as_no_code() {
        for data in [
            &include_bytes!("../../fuzz/regressions/qr_payload-rqrr-geometry-assert.bin")[..],
            &include_bytes!("../../fuzz/regressions/qr_payload-rqrr-geometry-assert-2.bin")[..],
            &include_bytes!("../../fuzz/regressions/qr_payload-rqrr-grid-assert.bin")[..],
        ] {
            let (&w, rest) = data.split_first().unwrap();
            let w = u32::from(w % 64) + 1;
            let h = (rest.len() as u32 / w).min(64);
            let img = image::GrayImage::from_raw(w, h, rest[..(w * h) as usize].to_vec()).unwrap();
            assert!(decode_luma(&img).is_empty());
        }
    }

    #[test]
    fn decodes_the_qr_code_of_a_rendered_receipt() {
        use kiosk_drivers::printer::{PrinterConfig, ReceiptRenderer};
        let cfg = crate::config::ReceiptConfig::default();
        let mut order = crate::store::testing::sample_order("K001-20261123-0042");
        order.central_no = Some("2026112300042".into());
        let receipt = crate::runtime::receipt_for(&order, &cfg, Default::default());
        for width in [384, 576] {
            let renderer = ReceiptRenderer::new(&PrinterConfig {
                width_dots: width,
                ..PrinterConfig::default()
            })
            .expect("a CJK font (fonts-wqy-microhei)");
            let bmp = renderer.render(&receipt).unwrap();
            // The paper as the camera sees it: black dots on white.
            let img = image::GrayImage::from_fn(bmp.width, bmp.height, |x, y| {
                image::Luma([if bmp.get(x, y) { 0 } else { 255 }])
            });
            let found = decode_luma(&img);
            assert_eq!(
                found,
                vec![format!("{}K001-20261123-0042", cfg.progress_url)]
            );
            // What the progress query takes from it is the order id.
            assert_eq!(
                crate::flow::parse_progress_reference(&found[0]).as_deref(),
                Some("K001-20261123-0042")
            );
        }
    }

    /// A mirrored camera (selfie view) sees every code mirrored, which the
    /// decoder does not read; the frame is flipped back when the camera is
    /// configured as mirrored.
    #[test]
    fn reads_codes_through_a_mirrored_camera() {
        let text = "SIM-EID2.330106199001010026.1700000000.0011223344556677";
        let seen = image::imageops::flip_horizontal(&qr_image(text, 4));
        assert!(
            decode_luma(&seen).is_empty(),
            "the decoder reads no mirror image"
        );
        let rgb: Vec<u8> = seen.pixels().flat_map(|p| [p.0[0]; 3]).collect();
        let frame = Frame {
            width: seen.width(),
            height: seen.height(),
            rgb,
            seq: 1,
            captured_at: std::time::Duration::ZERO,
        };
        assert_eq!(decode_frame(&frame, true), Some(vec![text.to_string()]));
        assert_eq!(decode_frame(&frame, false), Some(vec![]));
    }

    #[tokio::test]
    async fn a_scan_hands_out_each_code_once_until_restarted() {
        let img = qr_image("RECEIPT-1", 4);
        let frame = || Frame {
            width: img.width(),
            height: img.height(),
            rgb: img.pixels().flat_map(|p| [p.0[0]; 3]).collect(),
            seq: 1,
            captured_at: std::time::Duration::ZERO,
        };
        let mut scan = QrScan::new(false);
        assert_eq!(scan.read(frame()).await.as_deref(), Some("RECEIPT-1"));
        assert_eq!(scan.read(frame()).await, None, "held up still: one event");
        scan.restart();
        assert_eq!(scan.read(frame()).await.as_deref(), Some("RECEIPT-1"));
    }

    #[test]
    fn decodes_a_rendered_code_and_nothing_from_a_blank() {
        let img = qr_image("SIM-EID2.330106199001010026.1700000000.0011223344556677", 4);
        assert_eq!(
            decode_luma(&img),
            vec!["SIM-EID2.330106199001010026.1700000000.0011223344556677".to_string()]
        );
        let blank = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
        assert!(decode_luma(&blank).is_empty());
    }
}
