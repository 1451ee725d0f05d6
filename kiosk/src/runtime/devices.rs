//! Device actors: each owns one device (real driver or twin), takes commands
//! over a channel, answers with flow events, and publishes its health on a
//! `watch` for the status snapshot. Nothing else holds a device handle.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::NaiveDate;
use kiosk_drivers::id_card::{self, CardReader, IdCard};
use kiosk_drivers::printer::{self, ReceiptPrinter};
use kiosk_drivers::Health;
use tokio::sync::{mpsc, watch};
use tracing::warn;

use super::{PrinterCmd, ReaderCmd};
use crate::config::{CardReaderConfig, PrinterSection, PrinterSink};
use crate::demo::scenarios::CardStep;
use crate::flow::{CardIdentity, CardProblem, Event};

/// Where an actor sends its events; set once the runner exists.
pub(crate) type EventSink = Arc<OnceLock<mpsc::Sender<Event>>>;

pub(crate) async fn emit(sink: &EventSink, event: Event) {
    if let Some(tx) = sink.get() {
        let _ = tx.send(event).await;
    }
}

/// A running device actor.
pub struct DeviceHandle<C> {
    /// Commands to the actor.
    pub commands: mpsc::Sender<C>,
    /// The device's health.
    pub health: watch::Receiver<Health>,
    /// Frames (or other units of work) the device delivered: a camera's
    /// frames, so `rate()` of it is the frame rate.
    pub frames: Arc<std::sync::atomic::AtomicU64>,
    events: EventSink,
}

impl<C> DeviceHandle<C> {
    pub(crate) fn new(
        commands: mpsc::Sender<C>,
        health: watch::Receiver<Health>,
        events: EventSink,
    ) -> Self {
        Self {
            commands,
            health,
            frames: Arc::default(),
            events,
        }
    }

    /// This handle counting into `frames` (a handle fronting another
    /// device's actor shares its counter).
    pub(crate) fn with_frames(mut self, frames: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.frames = frames;
        self
    }

    /// Tells the actor where to send its events.
    pub fn connect(&self, events: mpsc::Sender<Event>) {
        let _ = self.events.set(events);
    }
}

/// Why a device could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The card reader.
    #[error("card reader: {0}")]
    Reader(String),
    /// The printer.
    #[error("printer: {0}")]
    Printer(#[from] printer::Error),
    /// I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How long one "place your card" attempt polls before it reports no card.
const CARD_WINDOW: Duration = Duration::from_secs(30);
/// Pause between polls while no card is on the reader.
const CARD_POLL: Duration = Duration::from_millis(300);

/// What the flow needs from a card.
pub fn card_identity(card: &IdCard) -> CardIdentity {
    CardIdentity {
        name: card.name.clone(),
        id_number: card.id_number.clone(),
        number_valid: card.number_valid,
        // 长期 (no expiry) and anything unparseable count as no end date;
        // an unparseable date on an otherwise valid card is the reader's
        // word against ours, and the central check follows anyway.
        valid_to: NaiveDate::parse_from_str(card.valid_to.trim(), "%Y%m%d").ok(),
        address: card.address.clone(),
    }
}

/// Spawns the card-reader actor around any reader.
pub fn spawn_reader_actor<R: CardReader + 'static>(reader: R) -> DeviceHandle<ReaderCmd> {
    let (tx, rx) = mpsc::channel(8);
    let (health_tx, health) = watch::channel(reader.health());
    let events = EventSink::default();
    tokio::spawn(reader_actor(reader, rx, events.clone(), health_tx));
    DeviceHandle::new(tx, health, events)
}

async fn reader_actor<R: CardReader>(
    mut reader: R,
    mut cmds: mpsc::Receiver<ReaderCmd>,
    events: EventSink,
    health: watch::Sender<Health>,
) {
    while let Some(cmd) = cmds.recv().await {
        if cmd == ReaderCmd::Stop {
            continue;
        }
        let deadline = tokio::time::Instant::now() + CARD_WINDOW;
        let outcome = loop {
            let attempt = tokio::select! {
                biased;
                c = cmds.recv() => match c {
                    Some(ReaderCmd::Read) => continue,
                    Some(ReaderCmd::Stop) | None => break None,
                },
                r = reader.read() => r,
            };
            health.send_replace(reader.health());
            match attempt {
                Ok(Some(card)) => break Some(Ok(card_identity(&card))),
                Ok(None) if tokio::time::Instant::now() >= deadline => {
                    break Some(Err(CardProblem::NoCard))
                }
                Ok(None) => {
                    tokio::select! {
                        biased;
                        c = cmds.recv() => match c {
                            Some(ReaderCmd::Read) => continue,
                            Some(ReaderCmd::Stop) | None => break None,
                        },
                        _ = tokio::time::sleep(CARD_POLL) => continue,
                    }
                }
                Err(e) if e.is_card_removed() => break Some(Err(CardProblem::Removed)),
                Err(e) => {
                    warn!("card reader: {e}");
                    break Some(Err(CardProblem::ReaderFault));
                }
            }
        };
        if let Some(result) = outcome {
            emit(&events, Event::CardRead(result)).await;
        }
    }
}

/// Spawns the reader the config names.
pub async fn spawn_reader(
    config: &CardReaderConfig,
) -> Result<DeviceHandle<ReaderCmd>, DeviceError> {
    match config {
        CardReaderConfig::Serial { path, baud } => {
            let reader = id_card::SerialCardReader::open(path, *baud)
                .map_err(|e| DeviceError::Reader(e.to_string()))?;
            Ok(spawn_reader_actor(reader))
        }
        CardReaderConfig::Sim => {
            // The synthetic citizen's card, placed after a moment, every session.
            let f = id_card::sim::CardFixture::resident_example();
            let script = (0..1000).flat_map(|_| {
                [
                    id_card::sim::Behaviour::NoCard,
                    id_card::sim::Behaviour::Card(f.clone()),
                ]
            });
            let (reader, twin) = id_card::sim::spawn(script).await?;
            let handle = spawn_reader_actor(reader);
            // The twin lives as long as the process.
            std::mem::forget(twin);
            Ok(handle)
        }
    }
}

/// A fixture of a synthetic citizen's resident card.
pub fn resident_card(name: &str, id_number: &str, address: &str) -> id_card::sim::CardFixture {
    id_card::sim::CardFixture {
        name: name.to_string(),
        id_number: id_number.to_string(),
        address: address.to_string(),
        birth: id_number.get(6..14).unwrap_or("19900101").to_string(),
        ..id_card::sim::CardFixture::resident_example()
    }
}

/// A reader twin on a pseudo-terminal playing the scenario's card steps.
pub struct SimReader {
    handle: DeviceHandle<ReaderCmd>,
    _twin: id_card::sim::Twin,
}

impl std::ops::Deref for SimReader {
    type Target = DeviceHandle<ReaderCmd>;
    fn deref(&self) -> &Self::Target {
        &self.handle
    }
}

/// Spawns the reader twin with a scenario's card steps.
pub async fn spawn_sim_reader(
    name: &str,
    id_number: &str,
    address: &str,
    steps: &[CardStep],
) -> Result<SimReader, DeviceError> {
    let card = resident_card(name, id_number, address);
    let script: Vec<_> = steps
        .iter()
        .map(|s| match s {
            CardStep::NoCard => id_card::sim::Behaviour::NoCard,
            CardStep::Card => id_card::sim::Behaviour::Card(card.clone()),
            CardStep::PulledMidRead => id_card::sim::Behaviour::CardPulledMidRead(card.clone()),
            CardStep::CardOf(other) => {
                let (n, i, a) = other.identity();
                id_card::sim::Behaviour::Card(resident_card(n, i, a))
            }
        })
        .collect();
    let timings = id_card::ReaderTimings::uniform(Duration::from_millis(500));
    let (reader, twin) = id_card::sim::spawn_with(script, timings).await?;
    Ok(SimReader {
        handle: spawn_reader_actor(reader),
        _twin: twin,
    })
}

fn printer_config(section: &PrinterSection) -> printer::PrinterConfig {
    printer::PrinterConfig {
        width_dots: section.width_dots,
        font_path: section.font.clone(),
        ..printer::PrinterConfig::default()
    }
}

/// Called with an order id after its receipt printed.
pub type AfterPrint = Box<dyn Fn(&str) + Send>;

/// Spawns the printer actor around any printer; `after_print` sees each
/// order id once its job was sent (the demo saves the twin's output there).
pub fn spawn_printer_actor<P: ReceiptPrinter + 'static>(
    printer: P,
    after_print: Option<AfterPrint>,
) -> DeviceHandle<PrinterCmd> {
    let (tx, mut rx) = mpsc::channel::<PrinterCmd>(8);
    let (health_tx, health) = watch::channel(printer.health());
    let events = EventSink::default();
    let sink = events.clone();
    tokio::spawn(async move {
        let mut printer = printer;
        while let Some(PrinterCmd::Print { local_id, receipt }) = rx.recv().await {
            let result = printer.print(&receipt).await;
            health_tx.send_replace(printer.health());
            if let (Ok(_), Some(f)) = (&result, &after_print) {
                f(&local_id);
            }
            let event = match result {
                Ok(outcome) => {
                    if let Some(w) = outcome.warning() {
                        warn!("printer: {w}");
                    }
                    Event::ReceiptPrinted(Ok(()))
                }
                Err(e) => Event::ReceiptPrinted(Err(e.to_string())),
            };
            emit(&sink, event).await;
        }
    });
    DeviceHandle::new(tx, health, events)
}

/// Spawns the printer the config names. For the twin, `receipts` is where
/// each job's `<order>.escpos` and `<order>.png` are written.
pub async fn spawn_printer(
    section: &PrinterSection,
    receipts: Option<PathBuf>,
) -> Result<DeviceHandle<PrinterCmd>, DeviceError> {
    let cfg = printer_config(section);
    match &section.sink {
        PrinterSink::Sim => spawn_sim_printer(section, receipts).map(|(h, _)| h),
        PrinterSink::File { path } => {
            let sink = printer::FileSink::open(path)?;
            Ok(spawn_printer_actor(
                printer::EscPosPrinter::new(sink, &cfg)?,
                None,
            ))
        }
        PrinterSink::Serial { path, baud } => {
            let sink = printer::SerialSink::open(path, *baud)?;
            Ok(spawn_printer_actor(
                printer::EscPosPrinter::new(sink, &cfg)?,
                None,
            ))
        }
        PrinterSink::Tcp { addr } => {
            let sink = printer::TcpSink::connect(&addr.to_string(), Duration::from_secs(3)).await?;
            Ok(spawn_printer_actor(
                printer::EscPosPrinter::new(sink, &cfg)?,
                None,
            ))
        }
    }
}

/// Spawns the printer twin. With a `receipts` folder, each job's ESC/POS
/// stream and its decoded image are written to `receipts/<order>.escpos`
/// and `.png`; without one, jobs stay in the twin's memory. The controls
/// inject faults (paper out, cover open).
pub fn spawn_sim_printer(
    section: &PrinterSection,
    receipts: Option<PathBuf>,
) -> Result<(DeviceHandle<PrinterCmd>, printer::sim::SimControls), DeviceError> {
    let sim = printer::sim::SimPrinter::new(&printer_config(section))?;
    let controls = sim.controls();
    let Some(receipts) = receipts else {
        return Ok((spawn_printer_actor(sim, None), controls));
    };
    let jobs = controls.clone();
    let save = move |local_id: &str| {
        let controls = &jobs;
        let (Some(raw), Some(bitmap)) = (controls.jobs_raw().pop(), controls.printed().pop())
        else {
            return;
        };
        let _ = std::fs::write(receipts.join(format!("{local_id}.escpos")), raw);
        let _ = std::fs::write(receipts.join(format!("{local_id}.png")), bitmap.to_png());
    };
    Ok((spawn_printer_actor(sim, Some(Box::new(save))), controls))
}
