//! Fuzzes the receipt printer's ESC/POS codecs: the real-time status parser
//! on every `(n, byte)` pair of the input, the whole-stream decoder, and the
//! twin's incremental decoder fed in input-chosen chunks, which must agree
//! with the whole-stream decoder (same jobs, same first error). Nothing may
//! panic.

#![no_main]

use kiosk_drivers::printer::escpos::parse_status;
use kiosk_drivers::printer::sim::{decode_stream, DecodeError, SimSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for pair in data.chunks_exact(2) {
        let (n, byte) = (pair[0], pair[1]);
        let parsed = parse_status(n, byte);
        assert_eq!(
            parsed.is_ok(),
            (1..=4).contains(&n) && byte & 0x93 == 0x12,
            "n={n} byte={byte:#04x}"
        );
    }

    let whole = decode_stream(data);

    // The first byte picks a chunk size, so splits vary with the input.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let (sink, controls) = SimSink::new();
    let mut chunked = Ok(());
    for part in data.chunks(chunk) {
        chunked = sink.receive(part);
        if chunked.is_err() {
            break;
        }
    }
    match whole {
        Ok(jobs) => {
            assert_eq!(chunked, Ok(()));
            let cut: Vec<_> = jobs.into_iter().filter(|j| j.cut).collect();
            assert_eq!(controls.decoded_jobs(), cut);
        }
        Err(DecodeError::Truncated { .. }) => assert_eq!(chunked, Ok(())),
        Err(e) => assert_eq!(chunked, Err(e)),
    }
});
