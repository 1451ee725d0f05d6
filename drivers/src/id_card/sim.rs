//! The twin: a simulated GA/T 467 reader, and card fixtures.
//!
//! [`spawn`] opens a pseudo-terminal pair, hands the tty end to a real
//! [`SerialCardReader`] and runs a fake reader task on the other end. The
//! task decodes the driver's bytes with the same codec ([`decode_command`]),
//! and answers byte for byte according to a script: one [`Behaviour`] per
//! read attempt, an attempt starting at each find-card command. When the
//! script runs out every attempt is [`Behaviour::NoCard`] (or the behaviour
//! given to [`serve_then`]). The [`Twin`] handle pushes more behaviours and
//! reports the commands received; dropping it stops the task.
//!
//! [`CardFixture`] builds the 256-byte text block and whole read replies for
//! resident, `I` and `J` cards from plain fields. All example data is
//! synthetic (numbers carry valid check digits but belong to no one).
//!
//! [`decode_command`]: super::frame::decode_command

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_serial::SerialStream;

use super::frame::{self, Command, FrameError, Reply, Status, PREAMBLE};
use super::serial::{ReaderTimings, SerialCardReader};
use super::text::{CardKind, PHOTO_LEN, TEXT_LEN};

/// The plain fields of a card, for building test replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFixture {
    /// Card type.
    pub kind: CardKind,
    /// Chinese name (resident, `J`; optional on `I`).
    pub name: String,
    /// English name (`I`/`Y` only).
    pub english_name: String,
    /// Sex code: `1`, `2`, `0`, `9`.
    pub sex: String,
    /// Nation code `01`..`56`, `97`, `98` (resident only).
    pub nation: String,
    /// Birth date `YYYYMMDD`.
    pub birth: String,
    /// Address (resident, `J`).
    pub address: String,
    /// Card number.
    pub id_number: String,
    /// Issuing authority (authority code on `I`/`Y`).
    pub authority: String,
    /// Valid from `YYYYMMDD`.
    pub valid_from: String,
    /// Valid to `YYYYMMDD` or `长期`.
    pub valid_to: String,
    /// Pass number (`J`).
    pub pass_number: String,
    /// Issue count (`J`).
    pub issue_count: String,
    /// Nationality, ISO alpha-3 (`I`/`Y`).
    pub nationality: String,
    /// Card version (`I`/`Y`).
    pub card_version: String,
    /// The WLT photo bytes placed in replies.
    pub photo: Vec<u8>,
}

/// A dummy 1024-byte photo. It contains a frame preamble on purpose: the
/// codec must delimit frames by length, not by scanning for preambles.
fn dummy_photo() -> Vec<u8> {
    let mut p: Vec<u8> = (0..PHOTO_LEN).map(|i| (i * 7 + 3) as u8).collect();
    p[100..105].copy_from_slice(&PREAMBLE);
    p
}

impl CardFixture {
    /// A synthetic resident card: 张伟, 330106199001010026.
    pub fn resident_example() -> Self {
        Self {
            kind: CardKind::Resident,
            name: "张伟".into(),
            english_name: String::new(),
            sex: "2".into(),
            nation: "01".into(),
            birth: "19900101".into(),
            address: "浙江省杭州市西湖区文三路100号".into(),
            id_number: "330106199001010026".into(),
            authority: "杭州市公安局西湖分局".into(),
            valid_from: "20150101".into(),
            valid_to: "20350101".into(),
            pass_number: String::new(),
            issue_count: String::new(),
            nationality: String::new(),
            card_version: String::new(),
            photo: dummy_photo(),
        }
    }

    /// A synthetic foreign permanent resident card (`I`, 2017 edition).
    pub fn foreign_example() -> Self {
        Self {
            kind: CardKind::ForeignPermanent,
            name: "史密斯".into(),
            english_name: "SMITH, JOHN".into(),
            sex: "1".into(),
            nation: String::new(),
            birth: "19850615".into(),
            address: String::new(),
            id_number: "USA110085061501".into(),
            authority: "1100".into(),
            valid_from: "20200101".into(),
            valid_to: "20300101".into(),
            pass_number: String::new(),
            issue_count: String::new(),
            nationality: "USA".into(),
            card_version: "01".into(),
            photo: dummy_photo(),
        }
    }

    /// A synthetic Hong Kong/Macau/Taiwan residence permit (`J`).
    pub fn permit_example() -> Self {
        Self {
            kind: CardKind::HkMacauTaiwan,
            name: "陈大文".into(),
            english_name: String::new(),
            sex: "2".into(),
            nation: String::new(),
            birth: "19940823".into(),
            address: "广东省深圳市福田区福华路1号".into(),
            id_number: "810000199408230021".into(),
            authority: "深圳市公安局".into(),
            valid_from: "20200101".into(),
            valid_to: "20250101".into(),
            pass_number: "H12345678".into(),
            issue_count: "01".into(),
            nationality: String::new(),
            card_version: String::new(),
            photo: dummy_photo(),
        }
    }

    /// The 256-byte UCS-2 LE text block.
    pub fn text_block(&self) -> [u8; TEXT_LEN] {
        let mut b = [0u8; TEXT_LEN];
        for unit in b.chunks_exact_mut(2) {
            unit.copy_from_slice(&[b' ', 0]);
        }
        let mut put = |at: usize, len: usize, s: &str| {
            for (i, unit) in s.encode_utf16().take(len / 2).enumerate() {
                b[at + 2 * i..at + 2 * i + 2].copy_from_slice(&unit.to_le_bytes());
            }
        };
        match self.kind {
            CardKind::Resident | CardKind::HkMacauTaiwan => {
                put(0, 30, &self.name);
                put(30, 2, &self.sex);
                put(32, 4, &self.nation);
                put(36, 16, &self.birth);
                put(52, 70, &self.address);
                put(122, 36, &self.id_number);
                put(158, 30, &self.authority);
                put(188, 16, &self.valid_from);
                put(204, 16, &self.valid_to);
                put(220, 18, &self.pass_number);
                put(238, 4, &self.issue_count);
            }
            CardKind::ForeignPermanent | CardKind::ForeignPermanent2023 => {
                put(0, 120, &self.english_name);
                put(120, 2, &self.sex);
                put(122, 30, &self.id_number);
                put(152, 6, &self.nationality);
                put(158, 30, &self.name);
                put(188, 16, &self.valid_from);
                put(204, 16, &self.valid_to);
                put(220, 16, &self.birth);
                put(236, 4, &self.card_version);
                put(240, 8, &self.authority);
            }
        }
        b[super::text::KIND_FLAG_OFFSET] = self.kind.flag();
        b
    }

    /// The data of a `30 01` reply (after SW3).
    pub fn reply_data(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(4 + TEXT_LEN + self.photo.len());
        d.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
        d.extend_from_slice(&(self.photo.len() as u16).to_be_bytes());
        d.extend_from_slice(&self.text_block());
        d.extend_from_slice(&self.photo);
        d
    }

    /// The whole `30 01` reply frame (1295 bytes with a 1024-byte photo).
    pub fn reply_frame(&self) -> Vec<u8> {
        frame::encode_reply(&Reply::new(Status::Ok, self.reply_data()))
    }

    /// The whole `30 10` reply frame with a fingerprint of `fp_len` bytes.
    pub fn reply_frame_with_fingerprint(&self, fp_len: u16) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
        d.extend_from_slice(&(self.photo.len() as u16).to_be_bytes());
        d.extend_from_slice(&fp_len.to_be_bytes());
        d.extend_from_slice(&self.text_block());
        d.extend_from_slice(&self.photo);
        d.extend((0..fp_len).map(|i| (i % 251) as u8));
        frame::encode_reply(&Reply::new(Status::Ok, d))
    }
}

/// What the twin does during one read attempt (from one find card to the next).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a test twin: ergonomics over size
pub enum Behaviour {
    /// Find card answers `80`.
    NoCard,
    /// A card is presented and read normally.
    Card(CardFixture),
    /// Find and select succeed; the read reply stops half way and the line
    /// goes silent until the next find card.
    CardPulledMidRead(CardFixture),
    /// The first read reply carries a wrong checksum; the resent read gets
    /// the correct one.
    CorruptChecksumOnce(CardFixture),
    /// Find and select succeed; every read reply carries a wrong checksum.
    CorruptChecksumAlways,
    /// Every command is answered with random bytes holding no frame.
    Garbage,
    /// No command is answered.
    Silence,
}

/// Handle on a running twin. Dropping it stops the twin.
#[derive(Debug)]
pub struct Twin {
    script: mpsc::UnboundedSender<Behaviour>,
    received: Arc<Mutex<Vec<Command>>>,
    task: JoinHandle<()>,
}

impl Twin {
    /// Appends a behaviour to the script.
    pub fn push(&self, behaviour: Behaviour) {
        // The task only ends when the handle is dropped or the link closes;
        // a behaviour pushed after that has nobody to act on it.
        let _ = self.script.send(behaviour);
    }

    /// Whether the twin has stopped: its link closed.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// How many well-formed commands the twin received.
    pub fn commands_received(&self) -> usize {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The commands received, in order.
    pub fn commands(&self) -> Vec<Command> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a twin with the given script; the reader uses the default timings.
pub async fn spawn(
    script: impl IntoIterator<Item = Behaviour>,
) -> std::io::Result<(SerialCardReader<SerialStream>, Twin)> {
    spawn_with(script, ReaderTimings::default()).await
}

/// Starts a twin with the given script and reader timings.
pub async fn spawn_with(
    script: impl IntoIterator<Item = Behaviour>,
    timings: ReaderTimings,
) -> std::io::Result<(SerialCardReader<SerialStream>, Twin)> {
    let (far, near) = SerialStream::pair()?;
    Ok((
        SerialCardReader::from_transport(near, timings),
        serve(far, script),
    ))
}

/// Runs the twin on any byte link the real driver's bytes arrive on: the
/// far end of a pty ([`spawn`]), or a socket that an emulator's serial line
/// (qemu's `usb-serial` chardev) is joined to. Must be called within a
/// tokio runtime.
pub fn serve<T>(port: T, script: impl IntoIterator<Item = Behaviour>) -> Twin
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_then(port, script, Behaviour::NoCard)
}

/// [`serve`], with `then` for every attempt once the script has run out
/// (a card left lying on the reader, where [`serve`] has none).
pub fn serve_then<T>(port: T, script: impl IntoIterator<Item = Behaviour>, then: Behaviour) -> Twin
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let received = Arc::new(Mutex::new(Vec::new()));
    let fake = FakeReader {
        port,
        script: script.into_iter().collect(),
        more: rx,
        current: Behaviour::NoCard,
        then,
        silent: false,
        corrupted: false,
        rng: 0x9E37_79B9_7F4A_7C15,
        received: Arc::clone(&received),
    };
    let task = tokio::spawn(fake.run());
    Twin {
        script: tx,
        received,
        task,
    }
}

/// The task on the far end of the link.
struct FakeReader<T> {
    port: T,
    script: VecDeque<Behaviour>,
    more: mpsc::UnboundedReceiver<Behaviour>,
    current: Behaviour,
    /// What every attempt does once the script has run out.
    then: Behaviour,
    /// The card was pulled: answer nothing until the next find card.
    silent: bool,
    /// `CorruptChecksumOnce` has sent its corrupted reply.
    corrupted: bool,
    rng: u64,
    received: Arc<Mutex<Vec<Command>>>,
}

fn reply(status: Status, data: Vec<u8>) -> Vec<u8> {
    frame::encode_reply(&Reply::new(status, data))
}

fn corrupt(mut frame: Vec<u8>) -> Vec<u8> {
    if let Some(last) = frame.last_mut() {
        *last ^= 0xFF;
    }
    frame
}

impl<T: AsyncRead + AsyncWrite + Unpin> FakeReader<T> {
    async fn run(mut self) {
        let mut buf = BytesMut::with_capacity(256);
        loop {
            match self.port.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            loop {
                let answer = match frame::decode_command(&mut buf) {
                    Ok(None) => break,
                    Ok(Some(cmd)) => {
                        self.received
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(cmd);
                        self.answer(cmd)
                    }
                    Err(FrameError::Checksum { .. }) => {
                        Some(reply(Status::ChecksumError, Vec::new()))
                    }
                    Err(FrameError::Length { .. }) => Some(reply(Status::LengthError, Vec::new())),
                    Err(FrameError::UnknownCommand { .. }) => {
                        Some(reply(Status::BadCommand, Vec::new()))
                    }
                };
                if let Some(bytes) = answer {
                    if self.port.write_all(&bytes).await.is_err()
                        || self.port.flush().await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    fn garbage(&mut self) -> Vec<u8> {
        (0..256)
            .map(|_| {
                // xorshift64: deterministic noise, no 0xAA so no preamble.
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                match self.rng as u8 {
                    0xAA => 0x55,
                    b => b,
                }
            })
            .collect()
    }

    fn answer(&mut self, cmd: Command) -> Option<Vec<u8>> {
        if cmd == Command::FindCard {
            while let Ok(b) = self.more.try_recv() {
                self.script.push_back(b);
            }
            self.current = self.script.pop_front().unwrap_or_else(|| self.then.clone());
            self.silent = false;
            self.corrupted = false;
        }
        if self.silent {
            return None;
        }
        match (&self.current, cmd) {
            (Behaviour::Silence, _) => None,
            (Behaviour::Garbage, _) => Some(self.garbage()),
            (
                _,
                Command::ResetSam
                | Command::SamStatus
                | Command::SetBaud(_)
                | Command::SetMaxRfFrame(_),
            ) => Some(reply(Status::Ok, Vec::new())),
            (_, Command::ReadSamId) => Some(reply(Status::Ok, (1..=16).collect())),
            (_, Command::ReadAppendedAddress) => Some(reply(Status::FieldEmpty, Vec::new())),
            (Behaviour::NoCard, Command::FindCard) => Some(reply(Status::FindFailed, Vec::new())),
            (Behaviour::NoCard, Command::SelectCard) => {
                Some(reply(Status::SelectFailed, Vec::new()))
            }
            (Behaviour::NoCard, Command::ReadText | Command::ReadTextFingerprint) => {
                Some(reply(Status::ReadFailed, Vec::new()))
            }
            (_, Command::FindCard) => Some(reply(Status::CardFound, vec![0; 4])),
            (_, Command::SelectCard) => Some(reply(Status::Ok, vec![0; 8])),
            (Behaviour::Card(fx), Command::ReadText) => Some(fx.reply_frame()),
            (Behaviour::Card(fx), Command::ReadTextFingerprint) => {
                Some(fx.reply_frame_with_fingerprint(0))
            }
            (
                Behaviour::CardPulledMidRead(fx),
                Command::ReadText | Command::ReadTextFingerprint,
            ) => {
                let mut f = fx.reply_frame();
                f.truncate(f.len() / 2);
                self.silent = true;
                Some(f)
            }
            (
                Behaviour::CorruptChecksumOnce(fx),
                Command::ReadText | Command::ReadTextFingerprint,
            ) => {
                let f = fx.reply_frame();
                if self.corrupted {
                    Some(f)
                } else {
                    self.corrupted = true;
                    Some(corrupt(f))
                }
            }
            (
                Behaviour::CorruptChecksumAlways,
                Command::ReadText | Command::ReadTextFingerprint,
            ) => Some(corrupt(CardFixture::resident_example().reply_frame())),
        }
    }
}
