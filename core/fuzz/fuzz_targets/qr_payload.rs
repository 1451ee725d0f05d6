//! What the camera's QR decoder hands the flow (an e-ID payload, a
//! receipt's progress link, a typed account number or credit code), and
//! the QR decoder itself on arbitrary grey images: never a panic, and
//! what is accepted is well-formed.
#![no_main]

use kiosk::flow::{parse_account_no, parse_progress_reference, plausible_eid_payload};
use kiosk::model::{credit_code_check_char, parse_credit_code};
use libfuzzer_sys::fuzz_target;

/// The QR decoder (`rqrr` 0.8) asserts on some degenerate grids (found
/// here: `geometry.rs:55`, `identify/grid.rs:206`); the kiosk catches any
/// panic of the decoder (`runtime::qr::decode_luma`) and reads the picture
/// as "no code". libFuzzer's panic hook aborts on every panic, caught or
/// not, so panics raised inside the decoder's own source, and only those,
/// are let through to the kiosk's catch: any other panic still aborts and
/// is reported.
fn tolerate_the_decoders_known_assert() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let known = info
                .location()
                .is_some_and(|l| l.file().contains("/rqrr-0.8.0/src/"));
            if !known {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_the_decoders_known_assert();
    let text = String::from_utf8_lossy(data);
    if let Some(r) = parse_progress_reference(&text) {
        assert!((4..=40).contains(&r.len()));
        assert!(r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
    if plausible_eid_payload(&text) {
        assert!(text.len() <= 512 && !text.contains(' '));
    }
    if let Some(no) = parse_account_no(&text) {
        assert!(no.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(code) = parse_credit_code(&text) {
        assert_eq!(code.len(), 18);
        assert_eq!(credit_code_check_char(&code[..17]), code.chars().last());
    }
    // The bytes as a small grey picture for the QR decoder.
    if let Some((&w, rest)) = data.split_first() {
        let w = u32::from(w % 64) + 1;
        let h = (rest.len() as u32 / w).min(64);
        if h > 0 {
            let pixels = rest[..(w * h) as usize].to_vec();
            if let Some(img) = image::GrayImage::from_raw(w, h, pixels) {
                let _ = kiosk::runtime::qr::decode_luma(&img);
            }
        }
    }
});
