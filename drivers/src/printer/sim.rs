//! The simulated printer: an ESC/POS stream decoder and [`SimPrinter`], the
//! twin that runs the real [`EscPosPrinter`] against an in-memory [`SimSink`].
//!
//! The sink feeds every byte the driver sends into the decoder, so the twin
//! checks the exact bytes a real printer would get: raster bands are
//! reassembled into one bitmap per job (a cut ends a job), `DLE EOT n` is
//! answered from the current fault state, and QR and text commands are
//! skipped correctly. Anything the decoder does not know is an error naming
//! its byte offset, never a guess. Faults are injected through
//! [`SimControls`], which can be cloned and kept by a test or the demo after
//! the printer itself has moved into its task.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::escpos::EscPosPrinter;
use super::receipt::{Bitmap, ReceiptRenderer};
use super::sink::Sink;
use super::{Error, PrintOutcome, PrinterConfig, PrinterStatus, Receipt, ReceiptPrinter};

/// Widest raster the decoder accepts, in bytes per row (4096 dots).
pub const MAX_RASTER_WIDTH_BYTES: u16 = 512;

/// Errors of the ESC/POS stream decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The stream ends inside a command.
    #[error("stream truncated inside {command} starting at byte {offset}")]
    Truncated {
        /// Offset of the command's first byte.
        offset: usize,
        /// The command.
        command: &'static str,
    },
    /// A byte sequence the decoder does not know.
    #[error("unknown command {bytes:02x?} at byte {offset}")]
    Unknown {
        /// Offset of the first byte.
        offset: usize,
        /// The bytes seen (one to three).
        bytes: Vec<u8>,
    },
    /// A known command with an impossible parameter.
    #[error("bad parameter for {command} at byte {offset}: {detail}")]
    BadParameter {
        /// Offset of the command's first byte.
        offset: usize,
        /// The command.
        command: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// One decoded ESC/POS command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ESC @`.
    Init,
    /// `GS v 0 m xL xH yL yH d…`: one raster band.
    Raster {
        /// Scaling mode `m` (only normal size is accepted).
        mode: u8,
        /// Bytes per row.
        width_bytes: u16,
        /// Rows in the band.
        rows: u16,
        /// `width_bytes * rows` bytes.
        data: Vec<u8>,
    },
    /// `ESC d n`: print and feed n lines.
    FeedLines(u8),
    /// `ESC J n`: print and feed n dots.
    FeedDots(u8),
    /// `GS V m [n]`: cut.
    Cut {
        /// Mode byte.
        mode: u8,
        /// Feed before the cut (modes 65, 66).
        feed: Option<u8>,
    },
    /// `DLE EOT n`: real-time status request.
    StatusRequest(u8),
    /// `GS ( k pL pH cn fn …`: 2-D code (QR) function.
    Symbol {
        /// Symbol type `cn` (0x31 = QR).
        cn: u8,
        /// Function `fn`.
        function: u8,
        /// Parameters after `fn`.
        params: Vec<u8>,
    },
    /// `FS &` / `FS .`: Chinese character mode on/off.
    ChineseMode(bool),
    /// A formatting command whose effect the twin does not model.
    Setting(Vec<u8>),
    /// Printable text bytes (GB18030), `HT` and `LF` included.
    Text(Vec<u8>),
    /// `CR`, ignored by printers with auto line feed off.
    CarriageReturn,
}

/// Result of trying to parse one command.
enum Step {
    Done(Command, usize),
    NeedMore(&'static str),
}

fn unknown(offset: usize, bytes: &[u8]) -> DecodeError {
    DecodeError::Unknown {
        offset,
        bytes: bytes.iter().take(3).copied().collect(),
    }
}

/// Parses the command at the start of `buf` (`offset` is its stream offset).
fn parse_command(buf: &[u8], offset: usize) -> Result<Option<Step>, DecodeError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let step = match b0 {
        0x1B => {
            let Some(&b1) = buf.get(1) else {
                return Ok(Some(Step::NeedMore("ESC")));
            };
            match b1 {
                0x40 => Step::Done(Command::Init, 2),
                0x32 => Step::Done(Command::Setting(buf[..2].to_vec()), 2),
                0x64 | 0x4A | 0x21 | 0x2D | 0x33 | 0x45 | 0x47 | 0x4D | 0x61 | 0x74 | 0x20
                | 0x52 | 0x7B => {
                    if buf.len() < 3 {
                        return Ok(Some(Step::NeedMore("ESC command")));
                    }
                    let cmd = match b1 {
                        0x64 => Command::FeedLines(buf[2]),
                        0x4A => Command::FeedDots(buf[2]),
                        _ => Command::Setting(buf[..3].to_vec()),
                    };
                    Step::Done(cmd, 3)
                }
                _ => return Err(unknown(offset, &buf[..2])),
            }
        }
        0x1D => {
            let Some(&b1) = buf.get(1) else {
                return Ok(Some(Step::NeedMore("GS")));
            };
            match b1 {
                0x76 => return parse_raster(buf, offset).map(Some),
                0x56 => {
                    let Some(&m) = buf.get(2) else {
                        return Ok(Some(Step::NeedMore("GS V (cut)")));
                    };
                    match m {
                        0 | 1 | 48 | 49 => Step::Done(
                            Command::Cut {
                                mode: m,
                                feed: None,
                            },
                            3,
                        ),
                        65 | 66 => {
                            let Some(&n) = buf.get(3) else {
                                return Ok(Some(Step::NeedMore("GS V (cut)")));
                            };
                            Step::Done(
                                Command::Cut {
                                    mode: m,
                                    feed: Some(n),
                                },
                                4,
                            )
                        }
                        _ => {
                            return Err(DecodeError::BadParameter {
                                offset,
                                command: "GS V (cut)",
                                detail: format!("mode {m}"),
                            })
                        }
                    }
                }
                0x28 => {
                    if buf.len() < 5 {
                        return Ok(Some(Step::NeedMore("GS ( k (2-D code)")));
                    }
                    if buf[2] != 0x6B {
                        return Err(unknown(offset, &buf[..3]));
                    }
                    let len = usize::from(u16::from_le_bytes([buf[3], buf[4]]));
                    if len < 2 {
                        return Err(DecodeError::BadParameter {
                            offset,
                            command: "GS ( k (2-D code)",
                            detail: format!("parameter length {len} < 2"),
                        });
                    }
                    if buf.len() < 5 + len {
                        return Ok(Some(Step::NeedMore("GS ( k (2-D code)")));
                    }
                    Step::Done(
                        Command::Symbol {
                            cn: buf[5],
                            function: buf[6],
                            params: buf[7..5 + len].to_vec(),
                        },
                        5 + len,
                    )
                }
                0x21 | 0x42 | 0x48 | 0x66 | 0x68 | 0x77 => {
                    if buf.len() < 3 {
                        return Ok(Some(Step::NeedMore("GS command")));
                    }
                    Step::Done(Command::Setting(buf[..3].to_vec()), 3)
                }
                _ => return Err(unknown(offset, &buf[..2])),
            }
        }
        0x10 => {
            if buf.len() < 3 {
                return Ok(Some(Step::NeedMore("DLE EOT (status)")));
            }
            if buf[1] != 0x04 {
                return Err(unknown(offset, &buf[..2]));
            }
            let n = buf[2];
            if !(1..=4).contains(&n) {
                return Err(DecodeError::BadParameter {
                    offset,
                    command: "DLE EOT (status)",
                    detail: format!("n = {n}"),
                });
            }
            Step::Done(Command::StatusRequest(n), 3)
        }
        0x1C => {
            let Some(&b1) = buf.get(1) else {
                return Ok(Some(Step::NeedMore("FS")));
            };
            match b1 {
                0x26 => Step::Done(Command::ChineseMode(true), 2),
                0x2E => Step::Done(Command::ChineseMode(false), 2),
                _ => return Err(unknown(offset, &buf[..2])),
            }
        }
        0x0D => Step::Done(Command::CarriageReturn, 1),
        b if is_text(b) => {
            let len = buf.iter().take_while(|&&b| is_text(b)).count();
            Step::Done(Command::Text(buf[..len].to_vec()), len)
        }
        _ => return Err(unknown(offset, &buf[..1])),
    };
    Ok(Some(step))
}

/// Bytes that print as text: ASCII printable, HT, LF and GB18030 bytes.
fn is_text(b: u8) -> bool {
    matches!(b, 0x09 | 0x0A | 0x20..=0x7E | 0x80..=0xFF)
}

fn parse_raster(buf: &[u8], offset: usize) -> Result<Step, DecodeError> {
    const NAME: &str = "GS v 0 (raster)";
    if buf.len() < 8 {
        if buf.len() >= 3 && buf[2] != 0x30 {
            return Err(unknown(offset, &buf[..3]));
        }
        return Ok(Step::NeedMore(NAME));
    }
    if buf[2] != 0x30 {
        return Err(unknown(offset, &buf[..3]));
    }
    let mode = buf[3];
    let bad = |detail: String| DecodeError::BadParameter {
        offset,
        command: NAME,
        detail,
    };
    if mode != 0 && mode != 48 {
        return Err(bad(format!("scaling mode {mode} not supported")));
    }
    let width_bytes = u16::from_le_bytes([buf[4], buf[5]]);
    let rows = u16::from_le_bytes([buf[6], buf[7]]);
    if width_bytes == 0 || rows == 0 {
        return Err(bad(format!("empty raster {width_bytes}×{rows}")));
    }
    if width_bytes > MAX_RASTER_WIDTH_BYTES {
        return Err(bad(format!(
            "{width_bytes} bytes per row exceeds {MAX_RASTER_WIDTH_BYTES}"
        )));
    }
    let len = usize::from(width_bytes) * usize::from(rows);
    if buf.len() - 8 < len {
        return Ok(Step::NeedMore(NAME));
    }
    Ok(Step::Done(
        Command::Raster {
            mode,
            width_bytes,
            rows,
            data: buf[8..8 + len].to_vec(),
        },
        8 + len,
    ))
}

/// One job as the printer would produce it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecodedJob {
    /// Raster bands stacked into one bitmap (`None` if the job had none).
    pub bitmap: Option<Bitmap>,
    /// Text commands, decoded from GB18030.
    pub text: String,
    /// Payloads of printed QR codes.
    pub qr_codes: Vec<Vec<u8>>,
    /// Lines fed with `ESC d`.
    pub feed_lines: u32,
    /// Whether the job ended with a cut (false only for a trailing job).
    pub cut: bool,
}

/// Builds [`DecodedJob`]s from commands.
#[derive(Debug, Default)]
struct JobBuilder {
    job: DecodedJob,
    text: Vec<u8>,
    stored_qr: Option<Vec<u8>>,
    has_content: bool,
}

impl JobBuilder {
    /// Applies one command; returns the finished job on a cut.
    fn apply(&mut self, cmd: Command, offset: usize) -> Result<Option<DecodedJob>, DecodeError> {
        match cmd {
            Command::Raster {
                width_bytes,
                rows,
                data,
                ..
            } => {
                let width = u32::from(width_bytes) * 8;
                match &mut self.job.bitmap {
                    None => {
                        self.job.bitmap = Some(Bitmap {
                            width,
                            height: u32::from(rows),
                            bits: data,
                        })
                    }
                    Some(b) if b.width == width => {
                        b.bits.extend_from_slice(&data);
                        b.height += u32::from(rows);
                    }
                    Some(b) => {
                        return Err(DecodeError::BadParameter {
                            offset,
                            command: "GS v 0 (raster)",
                            detail: format!("band width {width} differs from {}", b.width),
                        })
                    }
                }
                self.has_content = true;
            }
            Command::FeedLines(n) => {
                self.job.feed_lines += u32::from(n);
                self.has_content = true;
            }
            Command::Text(t) => {
                self.text.extend_from_slice(&t);
                self.has_content = true;
            }
            Command::Symbol {
                cn: 0x31,
                function,
                params,
            } => match function {
                // Store data: params = [0x30, data…].
                0x50 => self.stored_qr = Some(params.get(1..).unwrap_or_default().to_vec()),
                // Print the stored symbol.
                0x51 => {
                    if let Some(d) = self.stored_qr.clone() {
                        self.job.qr_codes.push(d);
                        self.has_content = true;
                    }
                }
                _ => {}
            },
            Command::Cut { .. } => return Ok(Some(self.finish(true))),
            Command::Init
            | Command::FeedDots(_)
            | Command::StatusRequest(_)
            | Command::Symbol { .. }
            | Command::ChineseMode(_)
            | Command::Setting(_)
            | Command::CarriageReturn => {}
        }
        Ok(None)
    }

    fn finish(&mut self, cut: bool) -> DecodedJob {
        let mut job = std::mem::take(&mut self.job);
        let (text, _, _) = encoding_rs::GB18030.decode(&self.text);
        job.text = text.into_owned();
        job.cut = cut;
        self.text.clear();
        self.has_content = false;
        job
    }
}

/// Decodes a whole ESC/POS stream into jobs (a cut ends a job; trailing
/// content without a cut is returned as a job with `cut == false`).
pub fn decode_stream(bytes: &[u8]) -> Result<Vec<DecodedJob>, DecodeError> {
    let mut jobs = Vec::new();
    let mut builder = JobBuilder::default();
    let mut pos = 0;
    while pos < bytes.len() {
        match parse_command(&bytes[pos..], pos)? {
            Some(Step::Done(cmd, len)) => {
                if let Some(job) = builder.apply(cmd, pos)? {
                    jobs.push(job);
                }
                pos += len;
            }
            Some(Step::NeedMore(command)) => {
                return Err(DecodeError::Truncated {
                    offset: pos,
                    command,
                })
            }
            None => break,
        }
    }
    if builder.has_content {
        jobs.push(builder.finish(false));
    }
    Ok(jobs)
}

/// Paper roll state of the twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperState {
    /// Plenty of paper.
    Ok,
    /// Near-end sensor on.
    NearEnd,
    /// No paper.
    Out,
}

/// The twin's state, shared by the sink and the controls.
#[derive(Debug)]
struct SimState {
    paper: PaperState,
    cover_open: bool,
    offline: bool,
    fail_next: bool,
    run_out_next_job: bool,
    /// Bytes received but not yet forming a whole command.
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`.
    offset: usize,
    replies: VecDeque<u8>,
    builder: JobBuilder,
    job_raw: Vec<u8>,
    /// The current job lost paper or hit an open cover: it is not printed.
    job_spoiled: bool,
    printed: Vec<Bitmap>,
    jobs_raw: Vec<Vec<u8>>,
    decoded: Vec<DecodedJob>,
    decode_error: Option<DecodeError>,
}

impl SimState {
    fn new() -> Self {
        SimState {
            paper: PaperState::Ok,
            cover_open: false,
            offline: false,
            fail_next: false,
            run_out_next_job: false,
            pending: Vec::new(),
            offset: 0,
            replies: VecDeque::new(),
            builder: JobBuilder::default(),
            job_raw: Vec::new(),
            job_spoiled: false,
            printed: Vec::new(),
            jobs_raw: Vec::new(),
            decoded: Vec::new(),
            decode_error: None,
        }
    }

    /// The reply to `DLE EOT n` in the current state.
    fn status_reply(&self, n: u8) -> u8 {
        let out = self.paper == PaperState::Out;
        let bit = |on: bool, mask: u8| if on { mask } else { 0 };
        0x12 | match n {
            // Printer: offline (bit 3) while the cover is open or paper out.
            1 => bit(out || self.cover_open, 0x08),
            // Offline cause: cover open (bit 2), stopped by paper end (bit 5).
            2 => bit(self.cover_open, 0x04) | bit(out, 0x20),
            // Paper sensor: near end (bits 2-3), end (bits 5-6, near end too).
            4 => match self.paper {
                PaperState::Ok => 0,
                PaperState::NearEnd => 0x0C,
                PaperState::Out => 0x6C,
            },
            // Error cause: none modelled.
            _ => 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.pending.extend_from_slice(bytes);
        let mut pos = 0;
        let result = loop {
            match parse_command(&self.pending[pos..], self.offset + pos) {
                Ok(Some(Step::Done(cmd, len))) => {
                    let start = pos;
                    pos += len;
                    if let Command::StatusRequest(n) = cmd {
                        self.replies.push_back(self.status_reply(n));
                        continue;
                    }
                    self.job_raw.extend_from_slice(&self.pending[start..pos]);
                    if matches!(cmd, Command::Raster { .. }) {
                        if self.run_out_next_job {
                            self.run_out_next_job = false;
                            self.paper = PaperState::Out;
                        }
                        if self.paper == PaperState::Out || self.cover_open {
                            self.job_spoiled = true;
                        }
                    }
                    match self.builder.apply(cmd, self.offset + start) {
                        Ok(Some(job)) => self.finish_job(job),
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                }
                Ok(Some(Step::NeedMore(_))) | Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.pending.drain(..pos);
        self.offset += pos;
        if let Err(e) = &result {
            // A real printer would print garbage; the twin stops and says why.
            self.pending.clear();
            self.decode_error = Some(e.clone());
        }
        result
    }

    fn finish_job(&mut self, job: DecodedJob) {
        if !self.job_spoiled {
            if let Some(b) = &job.bitmap {
                self.printed.push(b.clone());
            }
        }
        self.jobs_raw.push(std::mem::take(&mut self.job_raw));
        self.decoded.push(job);
        self.job_spoiled = false;
    }
}

fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    // The state stays consistent even if a holder panicked (every update is
    // a plain field write), so a poisoned lock is still usable.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The twin's in-memory sink: bytes written go to the decoder, status
/// replies come from the fault state. A missing reply returns at once.
#[derive(Debug, Clone)]
pub struct SimSink {
    state: Arc<Mutex<SimState>>,
}

impl SimSink {
    /// A stand-alone twin sink (no renderer, no font needed) and its controls.
    pub fn new() -> (SimSink, SimControls) {
        let state = Arc::new(Mutex::new(SimState::new()));
        (
            SimSink {
                state: state.clone(),
            },
            SimControls { state },
        )
    }

    /// Feeds bytes to the twin's decoder as a printer would receive them,
    /// without fault injection: the synchronous core of `write_all`.
    pub fn receive(&self, bytes: &[u8]) -> Result<(), DecodeError> {
        lock(&self.state).feed(bytes)
    }
}

impl Sink for SimSink {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut s = lock(&self.state);
        if s.fail_next {
            s.fail_next = false;
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "injected I/O failure",
            ));
        }
        if s.offline {
            return Ok(());
        }
        s.feed(bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    async fn read_byte(&mut self, _timeout: Duration) -> io::Result<Option<u8>> {
        Ok(lock(&self.state).replies.pop_front())
    }

    fn describe(&self) -> String {
        "simulated printer".into()
    }
}

impl SimSink {
    /// Serves the twin on a byte link the real driver writes to (a TCP
    /// connection to port 9100, an emulator's serial line): every byte goes
    /// to the decoder, with the fault state applied, and the status replies
    /// go back as a printer would send them. Returns when the link closes.
    pub async fn serve<T>(&mut self, mut link: T) -> io::Result<()>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = link.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            // A fault (paper out, offline) is the printer's business: the
            // bytes are dropped as a real one would, the link stays.
            let _ = Sink::write_all(self, &buf[..n]).await;
            let mut replies = Vec::new();
            while let Some(b) = self.read_byte(Duration::ZERO).await? {
                replies.push(b);
            }
            if !replies.is_empty() {
                link.write_all(&replies).await?;
                link.flush().await?;
            }
        }
    }
}

/// Fault injection and records of a [`SimPrinter`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct SimControls {
    state: Arc<Mutex<SimState>>,
}

impl SimControls {
    /// Sets the paper roll state.
    pub fn set_paper(&self, paper: PaperState) {
        lock(&self.state).paper = paper;
    }

    /// Opens or closes the cover.
    pub fn set_cover_open(&self, open: bool) {
        lock(&self.state).cover_open = open;
    }

    /// Unplugs (no replies, bytes vanish) or replugs the printer.
    pub fn set_offline(&self, offline: bool) {
        let mut s = lock(&self.state);
        s.offline = offline;
        s.replies.clear();
    }

    /// Makes the next write fail with an I/O error.
    pub fn fail_next(&self) {
        lock(&self.state).fail_next = true;
    }

    /// The paper runs out as soon as the next job's raster arrives.
    pub fn paper_runs_out_during_next_job(&self) {
        lock(&self.state).run_out_next_job = true;
    }

    /// Bitmaps of the jobs that were fully printed.
    pub fn printed(&self) -> Vec<Bitmap> {
        lock(&self.state).printed.clone()
    }

    /// Raw bytes of every job received (init to cut), printed or not;
    /// status requests are not part of a job.
    pub fn jobs_raw(&self) -> Vec<Vec<u8>> {
        lock(&self.state).jobs_raw.clone()
    }

    /// Every job received, decoded.
    pub fn decoded_jobs(&self) -> Vec<DecodedJob> {
        lock(&self.state).decoded.clone()
    }

    /// The last decoding error (the driver sent bytes the twin rejects).
    pub fn decode_error(&self) -> Option<DecodeError> {
        lock(&self.state).decode_error.clone()
    }
}

/// The simulated receipt printer.
#[derive(Debug)]
pub struct SimPrinter {
    inner: EscPosPrinter<SimSink>,
    controls: SimControls,
}

impl SimPrinter {
    /// A twin with paper, cover closed, online. Loads the font like the real one.
    pub fn new(config: &PrinterConfig) -> Result<Self, Error> {
        Ok(Self::with_renderer(ReceiptRenderer::new(config)?))
    }

    /// A twin using an already built renderer.
    pub fn with_renderer(renderer: ReceiptRenderer) -> Self {
        let (sink, controls) = SimSink::new();
        SimPrinter {
            inner: EscPosPrinter::with_renderer(sink, renderer, Duration::from_millis(50)),
            controls,
        }
    }

    /// A handle on the fault state and records, usable after `self` moves.
    pub fn controls(&self) -> SimControls {
        self.controls.clone()
    }

    /// The driver under test (to print a bitmap or reach the renderer).
    pub fn driver(&mut self) -> &mut EscPosPrinter<SimSink> {
        &mut self.inner
    }

    /// See [`SimControls::set_paper`].
    pub fn set_paper(&self, paper: PaperState) {
        self.controls.set_paper(paper);
    }

    /// See [`SimControls::set_cover_open`].
    pub fn set_cover_open(&self, open: bool) {
        self.controls.set_cover_open(open);
    }

    /// See [`SimControls::set_offline`].
    pub fn set_offline(&self, offline: bool) {
        self.controls.set_offline(offline);
    }

    /// See [`SimControls::fail_next`].
    pub fn fail_next(&self) {
        self.controls.fail_next();
    }

    /// See [`SimControls::paper_runs_out_during_next_job`].
    pub fn paper_runs_out_during_next_job(&self) {
        self.controls.paper_runs_out_during_next_job();
    }

    /// See [`SimControls::printed`].
    pub fn printed(&self) -> Vec<Bitmap> {
        self.controls.printed()
    }

    /// See [`SimControls::jobs_raw`].
    pub fn jobs_raw(&self) -> Vec<Vec<u8>> {
        self.controls.jobs_raw()
    }
}

impl ReceiptPrinter for SimPrinter {
    async fn status(&mut self) -> Result<PrinterStatus, Error> {
        self.inner.status().await
    }

    async fn print(&mut self, receipt: &Receipt) -> Result<PrintOutcome, Error> {
        self.inner.print(receipt).await
    }

    fn health(&self) -> crate::Health {
        self.inner.health()
    }
}
