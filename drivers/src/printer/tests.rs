//! Tests of the printer module: encoder, status codec, stream decoder,
//! receipt rendering and the simulated twin (which runs the real driver).

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::escpos::{
    combine, encode_job, parse_status, OfflineCause, PaperSensor, StatusBits, StatusError,
    BAND_ROWS,
};
use super::receipt::{load_font, ReceiptRenderer, RenderError};
use super::sim::{decode_stream, DecodeError, PaperState, SimPrinter, SimSink};
use super::*;

fn renderer(width: u32) -> ReceiptRenderer {
    ReceiptRenderer::new(&PrinterConfig {
        width_dots: width,
        ..PrinterConfig::default()
    })
    .expect("a CJK font (fonts-wqy-microhei) must be installed for these tests")
}

fn sim() -> SimPrinter {
    SimPrinter::with_renderer(renderer(384))
}

fn bitmap_strategy() -> impl Strategy<Value = Bitmap> {
    (1u32..=8, 1u32..=600).prop_flat_map(|(wb, h)| {
        proptest::collection::vec(any::<u8>(), (wb * h) as usize).prop_map(move |bits| Bitmap {
            width: wb * 8,
            height: h,
            bits,
        })
    })
}

// ---- encoder -------------------------------------------------------------

#[test]
fn encoder_starts_with_init_has_raster_header_and_ends_with_cut() {
    let mut b = Bitmap::new(384, 100);
    b.set(0, 0, true);
    b.set(383, 99, true);
    let job = encode_job(&b);
    assert_eq!(&job[..2], &[0x1B, 0x40]);
    // GS v 0 m xL xH yL yH: 48 bytes per row, 100 rows.
    assert_eq!(&job[2..10], &[0x1D, 0x76, 0x30, 0x00, 48, 0, 100, 0]);
    assert_eq!(job[10], 0x80, "leftmost dot is the MSB");
    assert_eq!(job[10 + 48 * 100 - 1], 0x01);
    assert_eq!(&job[job.len() - 7..job.len() - 4], &[0x1B, 0x64, 4]);
    assert_eq!(&job[job.len() - 4..job.len() - 1], &[0x1D, 0x56, 0x41]);
    assert_eq!(job.len(), 2 + 8 + 48 * 100 + 3 + 4);
}

#[test]
fn encoder_splits_tall_images_into_bands() {
    let b = Bitmap::new(576, 600);
    let job = encode_job(&b);
    let headers: Vec<usize> = job
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x1D, 0x76, 0x30, 0x00])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(headers.len(), 3);
    assert_eq!(&job[headers[0] + 4..headers[0] + 8], &[72, 0, 0x00, 0x01]); // 256 rows
    assert_eq!(&job[headers[2] + 4..headers[2] + 8], &[72, 0, 88, 0]); // 600 - 512
    assert_eq!(BAND_ROWS, 256);
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(b in bitmap_strategy()) {
        let jobs = decode_stream(&encode_job(&b)).unwrap();
        prop_assert_eq!(jobs.len(), 1);
        prop_assert!(jobs[0].cut);
        prop_assert_eq!(jobs[0].feed_lines, 4);
        prop_assert_eq!(jobs[0].bitmap.as_ref(), Some(&b));
    }

    #[test]
    fn status_parse_accepts_exactly_the_fixed_pattern(n in 1u8..=4, byte in any::<u8>()) {
        let ok = byte & 0x93 == 0x12;
        prop_assert_eq!(parse_status(n, byte).is_ok(), ok);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_stream(&bytes);
    }

    #[test]
    fn random_bytes_after_a_raster_header_never_panic(
        head in proptest::collection::vec(any::<u8>(), 0..6),
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut s = vec![0x1D, 0x76, 0x30];
        s.extend(head);
        s.extend(tail);
        let _ = decode_stream(&s);
    }

    #[test]
    fn chunked_twin_decoding_agrees_with_whole_stream_decoding(
        b in bitmap_strategy(),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        noise_at in any::<prop::sample::Index>(),
        chunk in 1usize..97,
    ) {
        let mut stream = encode_job(&b);
        let at = noise_at.index(stream.len() + 1);
        stream.splice(at..at, noise);
        stream.extend(encode_job(&b));
        assert_chunked_agrees(&stream, chunk)?;
    }

    #[test]
    fn chunked_twin_decoding_agrees_on_random_bytes(
        stream in proptest::collection::vec(any::<u8>(), 0..1024),
        chunk in 1usize..33,
    ) {
        assert_chunked_agrees(&stream, chunk)?;
    }

    #[test]
    fn every_truncation_of_a_job_is_ok_or_truncated(b in bitmap_strategy(), cut in any::<prop::sample::Index>()) {
        let job = encode_job(&b);
        let at = cut.index(job.len());
        match decode_stream(&job[..at]) {
            Ok(_) | Err(DecodeError::Truncated { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }
}

/// The twin's incremental decoder, fed in chunks, sees the same jobs and the
/// same first error as `decode_stream` on the whole stream.
fn assert_chunked_agrees(stream: &[u8], chunk: usize) -> Result<(), TestCaseError> {
    let (sink, controls) = SimSink::new();
    let mut chunked = Ok(());
    for part in stream.chunks(chunk) {
        chunked = sink.receive(part);
        if chunked.is_err() {
            break;
        }
    }
    match decode_stream(stream) {
        Ok(jobs) => {
            prop_assert_eq!(chunked, Ok(()));
            let cut: Vec<_> = jobs.into_iter().filter(|j| j.cut).collect();
            prop_assert_eq!(controls.decoded_jobs(), cut);
        }
        Err(DecodeError::Truncated { .. }) => prop_assert_eq!(chunked, Ok(())),
        Err(e) => prop_assert_eq!(chunked, Err(e)),
    }
    Ok(())
}

// ---- status --------------------------------------------------------------

#[test]
fn status_bytes_from_the_manual() {
    assert_eq!(
        parse_status(4, 0x12).unwrap(),
        StatusBits::Paper(PaperSensor {
            near_end: false,
            end: false
        })
    );
    assert_eq!(
        parse_status(4, 0x1E).unwrap(),
        StatusBits::Paper(PaperSensor {
            near_end: true,
            end: false
        })
    );
    assert_eq!(
        parse_status(4, 0x7E).unwrap(),
        StatusBits::Paper(PaperSensor {
            near_end: true,
            end: true
        })
    );
    let StatusBits::OfflineCause(c) = parse_status(2, 0x16).unwrap() else {
        panic!("n=2 gives an offline cause");
    };
    assert!(c.cover_open && !c.stopped_by_paper_end && !c.error);
    let StatusBits::OfflineCause(c) = parse_status(2, 0x32).unwrap() else {
        panic!("n=2 gives an offline cause");
    };
    assert!(!c.cover_open && c.stopped_by_paper_end);
}

#[test]
fn invalid_status_bytes_are_rejected() {
    for byte in [0x00, 0xFF, 0x13, 0x10, 0x02, 0x92, 0x80] {
        assert_eq!(
            parse_status(4, byte),
            Err(StatusError::BadPattern { n: 4, byte }),
            "{byte:#04x}"
        );
    }
    assert_eq!(parse_status(0, 0x12), Err(StatusError::UnknownRequest(0)));
    assert_eq!(parse_status(5, 0x12), Err(StatusError::UnknownRequest(5)));
}

#[test]
fn combined_status_puts_the_most_serious_first() {
    let cause = |cover_open, stopped, error| OfflineCause {
        cover_open,
        feed_button: false,
        stopped_by_paper_end: stopped,
        error,
    };
    let paper = |near_end, end| PaperSensor { near_end, end };
    assert_eq!(
        combine(&cause(false, false, false), &paper(false, false)),
        PrinterStatus::Ready
    );
    assert_eq!(
        combine(&cause(false, false, false), &paper(true, false)),
        PrinterStatus::PaperNearEnd
    );
    assert_eq!(
        combine(&cause(false, false, false), &paper(true, true)),
        PrinterStatus::PaperOut
    );
    assert_eq!(
        combine(&cause(false, true, false), &paper(false, false)),
        PrinterStatus::PaperOut
    );
    assert_eq!(
        combine(&cause(true, true, true), &paper(true, true)),
        PrinterStatus::CoverOpen
    );
    assert!(matches!(
        combine(&cause(false, false, true), &paper(false, false)),
        PrinterStatus::Error(_)
    ));
    assert!(PrinterStatus::PaperNearEnd.is_printable());
    assert!(!PrinterStatus::Offline.is_printable());
}

// ---- decoder -------------------------------------------------------------

#[test]
fn truncated_raster_header_is_an_error() {
    let e = decode_stream(&[0x1B, 0x40, 0x1D, 0x76, 0x30, 0x00, 0x30, 0x00]).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Truncated {
            offset: 2,
            command: "GS v 0 (raster)"
        }
    );
}

#[test]
fn raster_length_overflow_is_an_error() {
    // 65535 × 65535 bytes announced: refused as too wide, nothing allocated.
    let e = decode_stream(&[0x1D, 0x76, 0x30, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]).unwrap_err();
    assert!(
        matches!(e, DecodeError::BadParameter { offset: 0, .. }),
        "{e}"
    );
    // 512 × 65535 announced, 3 bytes given.
    let e = decode_stream(&[0x1D, 0x76, 0x30, 0x00, 0x00, 0x02, 0xFF, 0xFF, 1, 2, 3]).unwrap_err();
    assert!(matches!(e, DecodeError::Truncated { offset: 0, .. }), "{e}");
}

#[test]
fn unknown_command_names_its_offset() {
    let e = decode_stream(&[0x1B, 0x40, 0x1B, 0x99, 0x00]).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Unknown {
            offset: 2,
            bytes: vec![0x1B, 0x99]
        }
    );
    assert!(e.to_string().contains("byte 2"));
    let e = decode_stream(&[0x1B, 0x40, 0x07]).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Unknown {
            offset: 2,
            bytes: vec![0x07]
        }
    );
}

#[test]
fn text_and_qr_commands_are_understood() {
    let (text, _, _) = encoding_rs::GB18030.encode("受理回执 95598\n");
    let payload = b"https://example.invalid/q?o=1";
    let mut s = vec![0x1B, 0x40, 0x1C, 0x26, 0x1B, 0x61, 0x01];
    s.extend_from_slice(&text);
    s.extend_from_slice(&[0x1C, 0x2E]);
    // QR: model 2, size 6, level M, store, print.
    s.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
    s.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06]);
    s.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]);
    let len = (payload.len() + 3) as u16;
    s.extend_from_slice(&[0x1D, 0x28, 0x6B]);
    s.extend_from_slice(&len.to_le_bytes());
    s.extend_from_slice(&[0x31, 0x50, 0x30]);
    s.extend_from_slice(payload);
    s.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
    s.extend_from_slice(&[0x10, 0x04, 0x04, 0x1B, 0x64, 0x03, 0x1D, 0x56, 0x00]);
    s.extend_from_slice(b"tail");
    let jobs = decode_stream(&s).unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].text, "受理回执 95598\n");
    assert_eq!(jobs[0].qr_codes, vec![payload.to_vec()]);
    assert_eq!(jobs[0].feed_lines, 3);
    assert!(jobs[0].bitmap.is_none());
    assert!(jobs[0].cut);
    assert_eq!(jobs[1].text, "tail");
    assert!(!jobs[1].cut);
}

#[test]
fn bands_of_different_widths_in_one_job_are_an_error() {
    let mut s = encode_job(&Bitmap::new(16, 2));
    s.truncate(s.len() - 7); // drop feed and cut
    s.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00, 0x03, 0x00, 0x01, 0x00, 0, 0, 0]);
    assert!(matches!(
        decode_stream(&s),
        Err(DecodeError::BadParameter { offset: 14, .. })
    ));
}

// ---- rendering -----------------------------------------------------------

#[test]
fn sample_receipt_renders_at_both_widths_with_its_qr() {
    for width in [384, 576] {
        let r = renderer(width);
        let receipt = sample_receipt();
        let (bmp, qr) = r.render_with_layout(&receipt).unwrap();
        assert_eq!(bmp.width, width);
        assert!(bmp.height > 400, "height {}", bmp.height);
        assert!(bmp.black_dots() > 5_000);
        // The QR code is where the layout says, module for module.
        let code =
            qrcode::QrCode::with_error_correction_level(&receipt.qr_payload, qrcode::EcLevel::M)
                .unwrap();
        assert_eq!(qr.modules as usize, code.width());
        for my in 0..qr.modules {
            for mx in 0..qr.modules {
                let dark = code[(mx as usize, my as usize)] == qrcode::Color::Dark;
                let (cx, cy) = (
                    qr.x + mx * qr.module + qr.module / 2,
                    qr.y + my * qr.module + qr.module / 2,
                );
                assert_eq!(bmp.get(cx, cy), dark, "module {mx},{my} at width {width}");
            }
        }
        // About half the width, centred, with a white quiet zone.
        let side = qr.modules * qr.module;
        assert!(
            side * 10 >= width * 4 && side * 10 <= width * 6,
            "QR side {side}"
        );
        let centre = qr.x + side / 2;
        assert!(centre.abs_diff(width / 2) <= qr.module);
        for d in 1..=4 * qr.module {
            assert!(!bmp.get(qr.x - d, qr.y + side / 2));
            assert!(!bmp.get(qr.x + side / 2, qr.y - d));
        }
    }
}

#[test]
fn pending_sync_and_missing_section_change_the_receipt() {
    let r = renderer(384);
    let pending = sample_receipt();
    let synced = Receipt {
        central_no: Some("2026112300001234".into()),
        ..sample_receipt()
    };
    let complete = Receipt {
        missing: Vec::new(),
        ..sample_receipt()
    };
    let a = r.render(&pending).unwrap();
    assert_ne!(a, r.render(&synced).unwrap());
    assert!(r.render(&complete).unwrap().height < a.height);
}

#[test]
fn long_words_and_cjk_wrap_inside_the_width() {
    let r = renderer(384);
    let receipt = Receipt {
        accepted: vec![
            "无空格的很长很长很长很长很长很长很长很长很长很长很长很长很长的一行".into(),
            "Averyveryveryveryveryveryveryveryverylongwordwithoutanyspace".into(),
        ],
        ..sample_receipt()
    };
    let b = r.render(&receipt).unwrap();
    // Nothing is drawn in the rightmost 2 dots (margins hold).
    for y in 0..b.height {
        assert!(!b.get(382, y) && !b.get(383, y), "row {y}");
    }
}

#[test]
fn sample_receipt_png_is_written() {
    let r = renderer(384);
    let bmp = r.render(&sample_receipt()).unwrap();
    let png = bmp.to_png();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample-receipt.png");
    std::fs::write(&path, &png).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let reader = decoder.read_info().unwrap();
    assert_eq!(reader.info().width, 384);
    assert_eq!(reader.info().height, bmp.height);
    // For people to look at: KIOSK_SAMPLE_PNG_DIR=/tmp cargo test …
    if let Some(out) = std::env::var_os("KIOSK_SAMPLE_PNG_DIR") {
        let out = std::path::PathBuf::from(out);
        std::fs::write(out.join("sample-receipt.png"), &png).unwrap();
        let wide = renderer(576).render(&sample_receipt()).unwrap();
        std::fs::write(out.join("sample-receipt-576.png"), wide.to_png()).unwrap();
    }
}

#[test]
fn font_errors_are_clear() {
    let missing = load_font(Some(std::path::Path::new("/nonexistent/font.ttc")));
    assert!(matches!(missing, Err(RenderError::FontRead { .. })));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.ttf");
    std::fs::write(&junk, b"not a font").unwrap();
    let e = load_font(Some(&junk)).err().unwrap();
    assert!(matches!(e, RenderError::FontInvalid { .. }));
    assert!(e.to_string().contains("junk.ttf"));
    let (font, _) = load_font(None).unwrap();
    assert!(matches!(
        ReceiptRenderer::with_font(font, 500),
        Err(RenderError::BadWidth(500))
    ));
    let e = SimPrinter::new(&PrinterConfig {
        font_path: Some("/nonexistent/font.ttc".into()),
        ..PrinterConfig::default()
    })
    .unwrap_err();
    assert!(matches!(e, Error::Render(RenderError::FontRead { .. })));
}

// ---- the twin ------------------------------------------------------------

#[tokio::test]
async fn twin_prints_and_records_exactly_the_encoded_job() {
    let mut p = sim();
    assert_eq!(p.health(), crate::Health::Unknown);
    let out = p.print(&sample_receipt()).await.unwrap();
    assert_eq!(out.status_after, PrinterStatus::Ready);
    assert_eq!(out.warning(), None);
    let printed = p.printed();
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0], renderer(384).render(&sample_receipt()).unwrap());
    let raw = p.jobs_raw();
    assert_eq!(raw, vec![encode_job(&printed[0])]);
    assert_eq!(out.bytes_sent, raw[0].len());
    assert_eq!(p.health(), crate::Health::Ok);
    assert_eq!(p.controls().decode_error(), None);
}

#[tokio::test]
async fn twin_refuses_with_paper_out_or_cover_open() {
    let mut p = sim();
    p.set_paper(PaperState::Out);
    assert_eq!(p.status().await.unwrap(), PrinterStatus::PaperOut);
    let e = p.print(&sample_receipt()).await.unwrap_err();
    assert!(matches!(e, Error::NotReady(PrinterStatus::PaperOut)), "{e}");
    assert!(matches!(p.health(), crate::Health::Fault(_)));

    p.set_paper(PaperState::Ok);
    p.set_cover_open(true);
    let e = p.print(&sample_receipt()).await.unwrap_err();
    assert!(
        matches!(e, Error::NotReady(PrinterStatus::CoverOpen)),
        "{e}"
    );
    assert!(
        p.jobs_raw().is_empty(),
        "nothing is sent to a printer that is not ready"
    );

    p.set_cover_open(false);
    p.print(&sample_receipt()).await.unwrap();
    assert_eq!(p.printed().len(), 1);
}

#[tokio::test]
async fn twin_reports_near_end_as_a_warning() {
    let mut p = sim();
    p.set_paper(PaperState::NearEnd);
    let out = p.print(&sample_receipt()).await.unwrap();
    assert_eq!(out.status_after, PrinterStatus::PaperNearEnd);
    assert_eq!(out.warning(), Some("paper near end"));
    assert!(matches!(p.health(), crate::Health::Degraded(_)));
    assert_eq!(p.printed().len(), 1);
}

#[tokio::test]
async fn paper_running_out_during_a_job_is_an_error_and_not_printed() {
    let mut p = sim();
    p.paper_runs_out_during_next_job();
    let e = p.print(&sample_receipt()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Interrupted {
                status: PrinterStatus::PaperOut
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("reprinted"));
    assert!(p.printed().is_empty());
    assert_eq!(p.jobs_raw().len(), 1);
    // New roll: the receipt can be reprinted.
    p.set_paper(PaperState::Ok);
    p.print(&sample_receipt()).await.unwrap();
    assert_eq!(p.printed().len(), 1);
}

#[tokio::test]
async fn io_failure_and_offline_are_reported() {
    let mut p = sim();
    p.fail_next();
    let e = p.print(&sample_receipt()).await.unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(matches!(p.health(), crate::Health::Fault(_)));
    assert_eq!(p.status().await.unwrap(), PrinterStatus::Ready);
    assert_eq!(p.health(), crate::Health::Ok);

    let controls = p.controls();
    controls.set_offline(true);
    assert_eq!(p.status().await.unwrap(), PrinterStatus::Offline);
    let e = p.print(&sample_receipt()).await.unwrap_err();
    assert!(matches!(e, Error::NotReady(PrinterStatus::Offline)), "{e}");
    controls.set_offline(false);
    assert_eq!(p.status().await.unwrap(), PrinterStatus::Ready);
}

#[tokio::test]
async fn twin_rejects_a_garbled_stream_and_names_the_offset() {
    use super::sink::Sink;
    let mut p = sim();
    let controls = p.controls();
    let mut sink = p.driver().sink().clone();
    let e = sink
        .write_all(&[0x1B, 0x40, 0x1B, 0x40, 0x05])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        controls.decode_error(),
        Some(DecodeError::Unknown {
            offset: 4,
            bytes: vec![0x05]
        })
    );
}

#[tokio::test]
async fn twin_reassembles_a_job_sent_in_small_pieces() {
    use super::sink::Sink;
    let p = sim();
    let mut b = Bitmap::new(64, 300);
    for i in 0..300 {
        b.set(i % 64, i, true);
    }
    let job = encode_job(&b);
    let mut p = p;
    let controls = p.controls();
    let mut sink = p.driver().sink().clone();
    for chunk in job.chunks(7) {
        sink.write_all(chunk).await.unwrap();
    }
    assert_eq!(controls.printed(), vec![b.clone()]);
    assert_eq!(controls.jobs_raw(), vec![job.clone()]);
    // A status request between jobs is answered and not part of any job.
    sink.write_all(&super::escpos::STATUS_PAPER).await.unwrap();
    assert_eq!(
        sink.read_byte(std::time::Duration::ZERO).await.unwrap(),
        Some(0x12)
    );
}
