//! Decoding one saved read reply from raw bytes (`kiosk card decode FILE`).
//!
//! The driver path never fails a card for its check digit (it reports it
//! with `number_valid = false`). Here, for an operator inspecting a capture,
//! a failed check digit *is* an error ([`CardDecodeError::CheckDigit`], the
//! CLI exits 2 on it), and it carries the card so the CLI can still show it.
//! Every other error is a one-line reason: no frame, truncation, bad
//! checksum, status not success, trailing bytes, malformed text.

use bytes::BytesMut;

use super::frame::{self, FrameError, Status, HEADER_LEN, PREAMBLE};
use super::text::{self, IdCard, TextError};

/// Why a saved reply could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CardDecodeError {
    /// The bytes hold no frame preamble at all.
    #[error("no frame found: the {0} bytes hold no AA AA AA 96 69 preamble")]
    NoFrame(usize),
    /// The frame is cut short.
    #[error("truncated frame: {have} bytes from the preamble, the length field calls for {need}")]
    Truncated {
        /// Bytes from the preamble on.
        have: usize,
        /// Bytes the length field calls for (0 if the length field itself is missing).
        need: usize,
    },
    /// Bad checksum or impossible length.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// The reader reported something other than success.
    #[error("reader status is not success: {0}")]
    Status(Status),
    /// Bytes follow the frame.
    #[error("{0} unexpected bytes after the frame")]
    TrailingBytes(usize),
    /// The frame's data is not a card.
    #[error("malformed card data: {0}")]
    Text(#[from] TextError),
    /// The ID number fails its check digit; the card is attached.
    #[error("ID number {} fails its check digit", .0.id_number.masked())]
    CheckDigit(Box<IdCard>),
}

/// Decodes one whole read reply (`30 01` or `30 10`) from raw bytes.
pub fn decode_reply_bytes(bytes: &[u8]) -> Result<IdCard, CardDecodeError> {
    let Some(start) = bytes.windows(PREAMBLE.len()).position(|w| w == PREAMBLE) else {
        return Err(CardDecodeError::NoFrame(bytes.len()));
    };
    let mut buf = BytesMut::from(bytes);
    let reply = match frame::decode(&mut buf)? {
        Some(r) => r,
        None => {
            let have = bytes.len() - start;
            let need = match bytes.get(start + 5..start + 7) {
                Some([hi, lo]) => HEADER_LEN + usize::from(u16::from_be_bytes([*hi, *lo])),
                _ => 0,
            };
            return Err(CardDecodeError::Truncated { have, need });
        }
    };
    if !buf.is_empty() {
        return Err(CardDecodeError::TrailingBytes(buf.len()));
    }
    if reply.status != Status::Ok {
        return Err(CardDecodeError::Status(reply.status));
    }
    let card = text::parse_read_data_any(&reply.data)?;
    if card.number_valid {
        Ok(card)
    } else {
        Err(CardDecodeError::CheckDigit(Box::new(card)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_card::frame::{encode_reply, Reply};
    use crate::id_card::sim::CardFixture;

    #[test]
    fn a_whole_reply_decodes() {
        let card =
            decode_reply_bytes(&CardFixture::resident_example().reply_frame()).expect("decodes");
        assert_eq!(card.id_number.expose(), "330106199001010026");
        let card =
            decode_reply_bytes(&CardFixture::permit_example().reply_frame_with_fingerprint(1024))
                .expect("decodes");
        assert_eq!(card.id_number.expose(), "810000199408230021");
    }

    #[test]
    fn each_failure_has_its_reason() {
        let good = CardFixture::resident_example().reply_frame();
        assert!(matches!(
            decode_reply_bytes(b"hello"),
            Err(CardDecodeError::NoFrame(5))
        ));
        let e = decode_reply_bytes(&good[..700]).expect_err("truncated");
        assert!(
            matches!(
                e,
                CardDecodeError::Truncated {
                    have: 700,
                    need: 1295
                }
            ),
            "{e}"
        );
        assert!(matches!(
            decode_reply_bytes(&good[..6]),
            Err(CardDecodeError::Truncated { need: 0, .. })
        ));
        let mut bad = good.clone();
        bad[500] ^= 1;
        let e = decode_reply_bytes(&bad).expect_err("checksum");
        assert!(matches!(
            e,
            CardDecodeError::Frame(FrameError::Checksum { .. })
        ));
        assert!(e.to_string().starts_with("bad frame: bad frame checksum"));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode_reply_bytes(&trailing),
            Err(CardDecodeError::TrailingBytes(1))
        ));
        let failed = encode_reply(&Reply::new(Status::ReadFailed, Vec::new()));
        assert!(matches!(
            decode_reply_bytes(&failed),
            Err(CardDecodeError::Status(Status::ReadFailed))
        ));
        let tiny = encode_reply(&Reply::new(Status::Ok, vec![0, 1]));
        assert!(matches!(
            decode_reply_bytes(&tiny),
            Err(CardDecodeError::Text(_))
        ));
    }

    #[test]
    fn a_failed_check_digit_is_an_error_here_with_the_card_attached() {
        let mut fx = CardFixture::resident_example();
        fx.id_number = "330106199001010021".into();
        let e = decode_reply_bytes(&fx.reply_frame()).expect_err("check digit");
        let msg = e.to_string();
        assert!(
            !msg.contains("330106199001010021") && msg.contains("3301**********0021"),
            "{msg}"
        );
        let CardDecodeError::CheckDigit(card) = e else {
            panic!("wrong error {e}");
        };
        assert!(!card.number_valid);
    }
}
