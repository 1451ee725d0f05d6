//! The GA/T 467 frame codec: pure functions over bytes, no I/O.
//!
//! Every frame in either direction is
//!
//! ```text
//! AA AA AA 96 69 | LEN_HI LEN_LO | payload … | XOR
//! ```
//!
//! where `LEN` (big-endian) counts everything after itself, checksum
//! included, and `XOR` is the exclusive-or of every byte from `LEN_HI` to the
//! end of the payload. A host→reader payload is `CMD PARA [DATA]`
//! ([`Command`]), a reader→host payload is `SW1 SW2 SW3 [DATA]` ([`Reply`],
//! with `SW3` typed as [`Status`]).
//!
//! The decoders are incremental and written for a hostile line: they skip
//! any garbage before a preamble (resync), return `Ok(None)` while a frame is
//! incomplete, consume exactly one frame per call, and on a bad frame (wrong
//! checksum, impossible length) return an error *after* consuming it, so the
//! caller can simply call again and the stream continues. They never panic and
//! never keep more than `MAX_LEN + 7` bytes waiting for one frame: a length
//! field above [`MAX_LEN`] is rejected at once instead of stalling the line.
//!
//! [`ReplyCodec`] and [`CommandCodec`] wrap the same functions as
//! `tokio_util` codecs for callers who prefer `Framed`.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// The 5-byte preamble that opens every frame.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// Bytes of a frame before the payload: preamble and length.
pub const HEADER_LEN: usize = PREAMBLE.len() + 2;

/// Largest length field accepted. The largest real reply (30 10: text,
/// photo and a 1024-byte fingerprint) has a length field of 2314; anything
/// far beyond is line noise, and waiting for it would stall the link.
pub const MAX_LEN: u16 = 4096;

/// Smallest length field of a reply: SW1 SW2 SW3 and the checksum.
pub const MIN_REPLY_LEN: u16 = 4;

/// Smallest length field of a command: CMD PARA and the checksum.
pub const MIN_COMMAND_LEN: u16 = 3;

/// Why a frame was rejected. The bad frame has been consumed already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The checksum byte does not match the XOR of the frame.
    #[error("bad frame checksum: computed {computed:#04x}, frame carries {received:#04x} (length field {len})")]
    Checksum {
        /// XOR computed over length and payload.
        computed: u8,
        /// The checksum byte the frame carries.
        received: u8,
        /// The frame's length field.
        len: u16,
    },
    /// The length field is too small to hold a payload, or implausibly large.
    #[error("impossible frame length {len} (a {what} frame has a length field of {min}..={max})")]
    Length {
        /// The length field read.
        len: u16,
        /// Which kind of frame was expected ("reply" or "command").
        what: &'static str,
        /// Smallest accepted length field.
        min: u16,
        /// Largest accepted length field.
        max: u16,
    },
    /// A well-formed command frame whose CMD PARA pair this codec does not know.
    #[error("unknown command {cmd:02X} {para:02X}")]
    UnknownCommand {
        /// The CMD byte.
        cmd: u8,
        /// The PARA byte.
        para: u8,
    },
}

/// A host→reader command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Reset the SAM module (`10 FF`).
    ResetSam,
    /// Ask the SAM for its status (`11 FF`).
    SamStatus,
    /// Read the SAM's serial number (`12 FF`).
    ReadSamId,
    /// Look for a card in the field (`20 01`).
    FindCard,
    /// Select the card found (`20 02`).
    SelectCard,
    /// Read text and photo (`30 01`).
    ReadText,
    /// Read text, photo and fingerprint (`30 10`).
    ReadTextFingerprint,
    /// Read the appended (changed) address (`30 03`, one vendor source only).
    ReadAppendedAddress,
    /// Set the line speed (`60 nn`, `nn` = 00..04 selects the vendor's baud table).
    SetBaud(u8),
    /// Set the largest RF frame (`61 FF nn`).
    SetMaxRfFrame(u8),
}

impl Command {
    /// The CMD and PARA bytes.
    pub fn cmd_para(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::ReadSamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadText => (0x30, 0x01),
            Command::ReadTextFingerprint => (0x30, 0x10),
            Command::ReadAppendedAddress => (0x30, 0x03),
            Command::SetBaud(code) => (0x60, code),
            Command::SetMaxRfFrame(_) => (0x61, 0xFF),
        }
    }

    /// The payload after CMD PARA, if any.
    fn data(self) -> Option<u8> {
        match self {
            Command::SetMaxRfFrame(n) => Some(n),
            Command::ResetSam
            | Command::SamStatus
            | Command::ReadSamId
            | Command::FindCard
            | Command::SelectCard
            | Command::ReadText
            | Command::ReadTextFingerprint
            | Command::ReadAppendedAddress
            | Command::SetBaud(_) => None,
        }
    }

    /// Parses CMD PARA DATA back into a command (the twin's side).
    pub fn from_payload(payload: &[u8]) -> Result<Self, FrameError> {
        let (cmd, para) = match payload {
            [cmd, para, ..] => (*cmd, *para),
            _ => {
                return Err(FrameError::Length {
                    len: payload.len() as u16 + 1,
                    what: "command",
                    min: MIN_COMMAND_LEN,
                    max: MAX_LEN,
                })
            }
        };
        let data = &payload[2..];
        Ok(match (cmd, para, data) {
            (0x10, 0xFF, []) => Command::ResetSam,
            (0x11, 0xFF, []) => Command::SamStatus,
            (0x12, 0xFF, []) => Command::ReadSamId,
            (0x20, 0x01, []) => Command::FindCard,
            (0x20, 0x02, []) => Command::SelectCard,
            (0x30, 0x01, []) => Command::ReadText,
            (0x30, 0x10, []) => Command::ReadTextFingerprint,
            (0x30, 0x03, []) => Command::ReadAppendedAddress,
            (0x60, code, []) => Command::SetBaud(code),
            (0x61, 0xFF, [n]) => Command::SetMaxRfFrame(*n),
            (cmd, para, _) => return Err(FrameError::UnknownCommand { cmd, para }),
        })
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Command::ResetSam => "reset SAM",
            Command::SamStatus => "SAM status",
            Command::ReadSamId => "read SAM ID",
            Command::FindCard => "find card",
            Command::SelectCard => "select card",
            Command::ReadText => "read text",
            Command::ReadTextFingerprint => "read text+fingerprint",
            Command::ReadAppendedAddress => "read appended address",
            Command::SetBaud(_) => "set baud",
            Command::SetMaxRfFrame(_) => "set max RF frame",
        };
        let (cmd, para) = self.cmd_para();
        write!(f, "{name} ({cmd:02X} {para:02X})")
    }
}

/// The reader's status byte SW3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `90`: operation succeeded.
    Ok,
    /// `9F`: find card succeeded, a card is in the field.
    CardFound,
    /// `91`: the requested field is empty (e.g. no appended address).
    FieldEmpty,
    /// `10`: the reader received a frame with a bad checksum.
    ChecksumError,
    /// `11`: the reader received a frame with a bad length.
    LengthError,
    /// `21`: the command is not known or malformed.
    BadCommand,
    /// `23`: the operation is not authorised.
    NotAuthorised,
    /// `24`: unrecognised error.
    Unknown,
    /// `31`: the card failed to authenticate the SAM.
    CardAuthFailed,
    /// `32`: the SAM failed to authenticate the card.
    SamAuthFailed,
    /// `33`: the data read failed its integrity check.
    DataCheckError,
    /// `40`: the card in the field is not a known card type.
    UnknownCardType,
    /// `41`: reading the card failed.
    ReadFailed,
    /// `47`: getting a random number from the card failed.
    RandomNumberFailed,
    /// `60`: the SAM module's self-test failed.
    SamSelfTestFailed,
    /// `66`: the SAM module is not authorised.
    SamNotAuthorised,
    /// `80`: find card failed: no card in the field.
    FindFailed,
    /// `81`: select card failed.
    SelectFailed,
    /// Any other code (vendor-specific).
    Other(u8),
}

impl Status {
    /// Every named status, for tests and tables.
    pub const ALL: [Status; 18] = [
        Status::Ok,
        Status::CardFound,
        Status::FieldEmpty,
        Status::ChecksumError,
        Status::LengthError,
        Status::BadCommand,
        Status::NotAuthorised,
        Status::Unknown,
        Status::CardAuthFailed,
        Status::SamAuthFailed,
        Status::DataCheckError,
        Status::UnknownCardType,
        Status::ReadFailed,
        Status::RandomNumberFailed,
        Status::SamSelfTestFailed,
        Status::SamNotAuthorised,
        Status::FindFailed,
        Status::SelectFailed,
    ];

    /// The status for a SW3 byte.
    pub fn from_u8(b: u8) -> Self {
        match b {
            0x90 => Status::Ok,
            0x9F => Status::CardFound,
            0x91 => Status::FieldEmpty,
            0x10 => Status::ChecksumError,
            0x11 => Status::LengthError,
            0x21 => Status::BadCommand,
            0x23 => Status::NotAuthorised,
            0x24 => Status::Unknown,
            0x31 => Status::CardAuthFailed,
            0x32 => Status::SamAuthFailed,
            0x33 => Status::DataCheckError,
            0x40 => Status::UnknownCardType,
            0x41 => Status::ReadFailed,
            0x47 => Status::RandomNumberFailed,
            0x60 => Status::SamSelfTestFailed,
            0x66 => Status::SamNotAuthorised,
            0x80 => Status::FindFailed,
            0x81 => Status::SelectFailed,
            other => Status::Other(other),
        }
    }

    /// The SW3 byte. `Other(b)` gives `b` back even if `b` is a named code.
    pub fn as_u8(self) -> u8 {
        match self {
            Status::Ok => 0x90,
            Status::CardFound => 0x9F,
            Status::FieldEmpty => 0x91,
            Status::ChecksumError => 0x10,
            Status::LengthError => 0x11,
            Status::BadCommand => 0x21,
            Status::NotAuthorised => 0x23,
            Status::Unknown => 0x24,
            Status::CardAuthFailed => 0x31,
            Status::SamAuthFailed => 0x32,
            Status::DataCheckError => 0x33,
            Status::UnknownCardType => 0x40,
            Status::ReadFailed => 0x41,
            Status::RandomNumberFailed => 0x47,
            Status::SamSelfTestFailed => 0x60,
            Status::SamNotAuthorised => 0x66,
            Status::FindFailed => 0x80,
            Status::SelectFailed => 0x81,
            Status::Other(b) => b,
        }
    }

    /// Whether the status reports a fault of the SAM module itself (the
    /// reader cannot read any card until serviced).
    pub fn is_sam_fault(self) -> bool {
        matches!(self, Status::SamSelfTestFailed | Status::SamNotAuthorised)
    }

    fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::CardFound => "card found",
            Status::FieldEmpty => "field empty",
            Status::ChecksumError => "reader saw a checksum error",
            Status::LengthError => "reader saw a length error",
            Status::BadCommand => "bad command",
            Status::NotAuthorised => "not authorised",
            Status::Unknown => "unrecognised error",
            Status::CardAuthFailed => "card authentication of SAM failed",
            Status::SamAuthFailed => "SAM authentication of card failed",
            Status::DataCheckError => "data check error",
            Status::UnknownCardType => "unknown card type",
            Status::ReadFailed => "card read failed",
            Status::RandomNumberFailed => "random number failed",
            Status::SamSelfTestFailed => "SAM self-test failed",
            Status::SamNotAuthorised => "SAM not authorised",
            Status::FindFailed => "no card found",
            Status::SelectFailed => "select card failed",
            Status::Other(_) => "vendor status",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:02X})", self.describe(), self.as_u8())
    }
}

/// A reader→host frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// SW1, `00` in every reply seen.
    pub sw1: u8,
    /// SW2, `00` in every reply seen.
    pub sw2: u8,
    /// SW3, the status.
    pub status: Status,
    /// The data after SW3 (without the checksum).
    pub data: Bytes,
}

impl Reply {
    /// A reply with `SW1 SW2 = 00 00`.
    pub fn new(status: Status, data: impl Into<Bytes>) -> Self {
        Self {
            sw1: 0,
            sw2: 0,
            status,
            data: data.into(),
        }
    }
}

/// XOR of all bytes.
pub fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Frames a payload: preamble, length, payload, checksum. Payloads longer
/// than `u16::MAX - 1` cannot be framed; callers only pass short ones, and the
/// length saturates rather than wrapping.
fn frame(payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 1).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    let sum = xor(&out[PREAMBLE.len()..]);
    out.push(sum);
    out
}

/// Encodes a command frame.
pub fn encode(cmd: Command) -> Vec<u8> {
    let (c, p) = cmd.cmd_para();
    let mut payload = vec![c, p];
    payload.extend(cmd.data());
    frame(&payload)
}

/// Encodes a reply frame (the twin's side, and tests).
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut payload = Vec::with_capacity(3 + reply.data.len());
    payload.extend_from_slice(&[reply.sw1, reply.sw2, reply.status.as_u8()]);
    payload.extend_from_slice(&reply.data);
    frame(&payload)
}

/// Finds the next complete frame in `buf` and returns its payload (without
/// checksum), consuming it. Garbage before the preamble is dropped; when no
/// preamble is present, all but the last 4 bytes (a possible partial
/// preamble) are dropped.
fn decode_payload(
    buf: &mut BytesMut,
    min: u16,
    what: &'static str,
) -> Result<Option<Bytes>, FrameError> {
    match buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE) {
        Some(start) => buf.advance(start),
        None => {
            let keep = buf.len().min(PREAMBLE.len() - 1);
            buf.advance(buf.len() - keep);
            return Ok(None);
        }
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u16::from_be_bytes([buf[5], buf[6]]);
    if !(min..=MAX_LEN).contains(&len) {
        // We cannot know where this frame ends: drop its header and resync.
        buf.advance(HEADER_LEN);
        return Err(FrameError::Length {
            len,
            what,
            min,
            max: MAX_LEN,
        });
    }
    let total = HEADER_LEN + usize::from(len);
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    let received = frame[total - 1];
    let computed = xor(&frame[PREAMBLE.len()..total - 1]);
    if computed != received {
        return Err(FrameError::Checksum {
            computed,
            received,
            len,
        });
    }
    frame.advance(HEADER_LEN);
    frame.truncate(frame.len() - 1);
    Ok(Some(frame.freeze()))
}

/// Decodes one reply frame from `buf`, consuming it.
///
/// `Ok(None)`: more bytes are needed (garbage seen so far has been dropped).
/// `Err`: a bad frame was consumed; call again to continue with the stream.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
    let Some(payload) = decode_payload(buf, MIN_REPLY_LEN, "reply")? else {
        return Ok(None);
    };
    // The length check guarantees at least three payload bytes.
    match payload.as_ref() {
        [sw1, sw2, sw3, ..] => Ok(Some(Reply {
            sw1: *sw1,
            sw2: *sw2,
            status: Status::from_u8(*sw3),
            data: payload.slice(3..),
        })),
        _ => Err(FrameError::Length {
            len: payload.len() as u16 + 1,
            what: "reply",
            min: MIN_REPLY_LEN,
            max: MAX_LEN,
        }),
    }
}

/// Decodes one command frame from `buf`, consuming it (the twin's side).
/// Same contract as [`decode`].
pub fn decode_command(buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
    match decode_payload(buf, MIN_COMMAND_LEN, "command")? {
        Some(payload) => Command::from_payload(&payload).map(Some),
        None => Ok(None),
    }
}

/// Host-side `tokio_util` codec: decodes [`Reply`], encodes [`Command`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplyCodec;

impl tokio_util::codec::Decoder for ReplyCodec {
    type Item = Reply;
    type Error = super::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Reply>, super::Error> {
        Ok(decode(src)?)
    }
}

impl tokio_util::codec::Encoder<Command> for ReplyCodec {
    type Error = super::Error;

    fn encode(&mut self, cmd: Command, dst: &mut BytesMut) -> Result<(), super::Error> {
        dst.extend_from_slice(&encode(cmd));
        Ok(())
    }
}

/// Reader-side `tokio_util` codec: decodes [`Command`], encodes [`Reply`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandCodec;

impl tokio_util::codec::Decoder for CommandCodec {
    type Item = Command;
    type Error = super::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, super::Error> {
        Ok(decode_command(src)?)
    }
}

impl tokio_util::codec::Encoder<Reply> for CommandCodec {
    type Error = super::Error;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), super::Error> {
        dst.extend_from_slice(&encode_reply(&reply));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn buf(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn find_card_command_matches_the_published_bytes() {
        assert_eq!(
            encode(Command::FindCard),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22]
        );
    }

    #[test]
    fn published_find_ok_reply_decodes() {
        let mut b = buf(&[
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0x00, 0x00, 0x00, 0x00,
            0x97,
        ]);
        let r = decode(&mut b).expect("valid").expect("complete");
        assert_eq!(r.status, Status::CardFound);
        assert_eq!(r.data.as_ref(), [0, 0, 0, 0]);
        assert!(b.is_empty());
        assert_eq!(
            encode_reply(&Reply::new(Status::CardFound, vec![0u8; 4]))[14],
            0x97
        );
    }

    #[test]
    fn published_find_failed_reply_decodes() {
        let bytes = [
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
        ];
        let r = decode(&mut buf(&bytes)).expect("valid").expect("complete");
        assert_eq!(r, Reply::new(Status::FindFailed, Bytes::new()));
        assert_eq!(encode_reply(&r), bytes);
    }

    #[test]
    fn every_command_round_trips() {
        let all = [
            Command::ResetSam,
            Command::SamStatus,
            Command::ReadSamId,
            Command::FindCard,
            Command::SelectCard,
            Command::ReadText,
            Command::ReadTextFingerprint,
            Command::ReadAppendedAddress,
            Command::SetBaud(3),
            Command::SetMaxRfFrame(0x50),
        ];
        for cmd in all {
            let mut b = buf(&encode(cmd));
            assert_eq!(decode_command(&mut b), Ok(Some(cmd)), "{cmd}");
            assert!(b.is_empty());
        }
        assert_eq!(encode(Command::ReadText)[7..9], [0x30, 0x01]);
        assert_eq!(encode(Command::ReadTextFingerprint)[7..9], [0x30, 0x10]);
        assert_eq!(
            encode(Command::SetMaxRfFrame(0x50))[5..10],
            [0x00, 0x04, 0x61, 0xFF, 0x50]
        );
    }

    #[test]
    fn every_status_code_round_trips() {
        let codes = [
            0x90, 0x9F, 0x91, 0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32, 0x33, 0x40, 0x41, 0x47,
            0x60, 0x66, 0x80, 0x81,
        ];
        for (status, code) in Status::ALL.iter().zip(codes) {
            assert_eq!(Status::from_u8(code), *status);
            assert_eq!(status.as_u8(), code);
            let mut b = buf(&encode_reply(&Reply::new(*status, vec![1, 2, 3])));
            assert_eq!(
                decode(&mut b).expect("valid").expect("complete").status,
                *status
            );
        }
        for b in 0..=255u8 {
            assert_eq!(Status::from_u8(b).as_u8(), b);
            if !codes.contains(&b) {
                assert_eq!(Status::from_u8(b), Status::Other(b));
            }
        }
    }

    #[test]
    fn truncated_frames_wait_for_more_bytes() {
        let full = encode_reply(&Reply::new(Status::Ok, vec![7; 20]));
        for cut in 0..full.len() {
            let mut b = buf(&full[..cut]);
            assert_eq!(decode(&mut b), Ok(None), "cut at {cut}");
            b.extend_from_slice(&full[cut..]);
            assert!(decode(&mut b).expect("valid").is_some());
            assert!(b.is_empty());
        }
    }

    #[test]
    fn bad_checksum_is_an_error_and_the_stream_continues() {
        let mut bad = encode_reply(&Reply::new(Status::Ok, vec![1, 2, 3]));
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        let good = encode_reply(&Reply::new(Status::CardFound, vec![0; 4]));
        let mut b = buf(&[bad, good].concat());
        assert!(matches!(decode(&mut b), Err(FrameError::Checksum { .. })));
        assert_eq!(
            decode(&mut b).expect("valid").expect("complete").status,
            Status::CardFound
        );
        assert!(b.is_empty());
    }

    #[test]
    fn garbage_before_the_preamble_is_skipped() {
        let good = encode_reply(&Reply::new(Status::Ok, Bytes::new()));
        let mut b = buf(&[&[0x00, 0xAA, 0xAA, 0x96, 0xAA, 0xAA][..], &good].concat());
        assert_eq!(
            decode(&mut b).expect("valid").expect("complete").status,
            Status::Ok
        );
        assert!(b.is_empty());
    }

    #[test]
    fn garbage_without_a_preamble_is_dropped_but_a_partial_preamble_is_kept() {
        let mut b = buf(&[0x11; 100]);
        assert_eq!(decode(&mut b), Ok(None));
        assert!(b.len() < PREAMBLE.len());
        let mut b = buf(&[0x11, 0x22, 0xAA, 0xAA, 0xAA, 0x96]);
        assert_eq!(decode(&mut b), Ok(None));
        assert_eq!(b.as_ref(), [0xAA, 0xAA, 0xAA, 0x96]);
    }

    #[test]
    fn zero_short_and_huge_lengths_are_rejected_and_consumed() {
        for len in [0u16, 1, 2, 3, MAX_LEN + 1, u16::MAX] {
            let mut bytes = PREAMBLE.to_vec();
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&[0x00; 3]);
            let mut b = buf(&bytes);
            assert!(
                matches!(decode(&mut b), Err(FrameError::Length { .. })),
                "{len}"
            );
            assert_eq!(b.len(), 3);
        }
        // A command frame may be 3 long, a reply may not.
        let mut b = buf(&encode(Command::FindCard));
        assert!(matches!(decode(&mut b), Err(FrameError::Length { .. })));
    }

    #[test]
    fn the_largest_accepted_length_decodes() {
        let data = vec![0x5A; usize::from(MAX_LEN) - 4];
        let bytes = encode_reply(&Reply::new(Status::Ok, data.clone()));
        let r = decode(&mut buf(&bytes)).expect("valid").expect("complete");
        assert_eq!(r.data.as_ref(), data.as_slice());
    }

    #[test]
    fn unknown_commands_are_reported_and_consumed() {
        let mut b = buf(&frame(&[0x77, 0x01]));
        assert_eq!(
            decode_command(&mut b),
            Err(FrameError::UnknownCommand {
                cmd: 0x77,
                para: 0x01
            })
        );
        assert!(b.is_empty());
    }

    #[test]
    fn tokio_codecs_wrap_the_same_functions() {
        use tokio_util::codec::{Decoder, Encoder};
        let mut dst = BytesMut::new();
        ReplyCodec
            .encode(Command::FindCard, &mut dst)
            .expect("encode");
        assert_eq!(
            CommandCodec.decode(&mut dst).expect("decode"),
            Some(Command::FindCard)
        );
        CommandCodec
            .encode(Reply::new(Status::FindFailed, Bytes::new()), &mut dst)
            .expect("encode");
        let r = ReplyCodec
            .decode(&mut dst)
            .expect("decode")
            .expect("complete");
        assert_eq!(r.status, Status::FindFailed);
    }

    /// Decodes everything currently decodable, asserting progress on every
    /// step and the bound on what stays buffered.
    fn drain(b: &mut BytesMut, out: &mut Vec<Result<Reply, FrameError>>) {
        loop {
            let before = b.len();
            match decode(b) {
                Ok(None) => {
                    assert!(b.len() <= before);
                    assert!(b.len() < HEADER_LEN + usize::from(MAX_LEN));
                    if b.len() >= PREAMBLE.len() {
                        assert_eq!(b[..PREAMBLE.len()], PREAMBLE);
                    }
                    return;
                }
                Ok(Some(r)) => {
                    assert!(b.len() < before);
                    out.push(Ok(r));
                }
                Err(e) => {
                    assert!(b.len() < before, "an error must consume bytes");
                    out.push(Err(e));
                }
            }
        }
    }

    fn reply_strategy() -> impl Strategy<Value = Reply> {
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(sw1, sw2, sw3, data)| Reply {
                sw1,
                sw2,
                status: Status::from_u8(sw3),
                data: data.into(),
            })
    }

    proptest! {
        #[test]
        fn reply_round_trips(reply in reply_strategy(), junk in proptest::collection::vec(any::<u8>(), 0..40)) {
            // Junk without a preamble inside it is skipped.
            let junk: Vec<u8> = junk.into_iter().map(|b| if b == 0xAA { 0 } else { b }).collect();
            let mut b = BytesMut::from(&[junk, encode_reply(&reply)].concat()[..]);
            prop_assert_eq!(decode(&mut b), Ok(Some(reply)));
            prop_assert!(b.is_empty());
        }

        #[test]
        fn random_streams_never_panic_and_make_progress(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        ) {
            let mut b = BytesMut::new();
            let mut out = Vec::new();
            for chunk in chunks {
                b.extend_from_slice(&chunk);
                drain(&mut b, &mut out);
            }
            let mut c = BytesMut::from(&b[..]);
            let _ = decode_command(&mut c);
        }

        #[test]
        fn random_streams_with_preambles_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..20),
                    Just(PREAMBLE.to_vec()),
                    any::<u16>().prop_map(|l| [&PREAMBLE[..], &l.to_be_bytes()[..]].concat()),
                ],
                0..40,
            ),
        ) {
            let mut b = BytesMut::new();
            let mut out = Vec::new();
            for p in parts {
                b.extend_from_slice(&p);
                drain(&mut b, &mut out);
            }
        }

        #[test]
        fn splitting_a_stream_anywhere_decodes_the_same_frames(
            replies in proptest::collection::vec(reply_strategy(), 1..6),
            corrupt in proptest::collection::vec(any::<bool>(), 6),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut stream = Vec::new();
            for (r, bad) in replies.iter().zip(&corrupt) {
                let mut f = encode_reply(r);
                if *bad {
                    let last = f.len() - 1;
                    f[last] ^= 0x01;
                }
                stream.extend_from_slice(&f);
            }
            let mut whole = BytesMut::from(&stream[..]);
            let mut expected = Vec::new();
            drain(&mut whole, &mut expected);
            prop_assert!(whole.is_empty());
            prop_assert_eq!(expected.len(), replies.len());

            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(stream.len());
            points.sort_unstable();
            let mut b = BytesMut::new();
            let mut got = Vec::new();
            let mut at = 0;
            for p in points {
                b.extend_from_slice(&stream[at..p]);
                at = p;
                drain(&mut b, &mut got);
            }
            prop_assert_eq!(got, expected);
        }
    }
}
