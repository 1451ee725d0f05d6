//! Fuzzes the ID-card reader codec: arbitrary bytes, fed in arbitrary
//! chunks, through the incremental reply and command decoders, and whole
//! into `decode_reply_bytes`. Nothing may panic, every call that returns a
//! frame or an error must consume bytes, and a waiting decoder never holds
//! more than one maximal frame.

#![no_main]

use bytes::BytesMut;
use kiosk_drivers::id_card::frame::{self, HEADER_LEN, MAX_LEN};
use kiosk_drivers::id_card::{decode_reply_bytes, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_reply_bytes(data);
    let _ = text::parse_read_data_any(data);

    // The first byte picks a chunk size, so splits vary with the input.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut replies = BytesMut::new();
    let mut commands = BytesMut::new();
    for part in data.chunks(chunk) {
        replies.extend_from_slice(part);
        commands.extend_from_slice(part);
        loop {
            let before = replies.len();
            match frame::decode(&mut replies) {
                Ok(None) => break,
                Ok(Some(reply)) => {
                    assert!(replies.len() < before);
                    let _ = text::parse_read_data_any(&reply.data);
                }
                Err(_) => assert!(replies.len() < before),
            }
        }
        assert!(replies.len() < HEADER_LEN + usize::from(MAX_LEN));
        loop {
            let before = commands.len();
            match frame::decode_command(&mut commands) {
                Ok(None) => break,
                Ok(Some(_)) | Err(_) => assert!(commands.len() < before),
            }
        }
    }
});
