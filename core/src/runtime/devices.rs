//! Device actors: each owns one device (real driver or twin), takes commands
//! over a channel, answers with flow events, and publishes its health on a
//! `watch` for the status snapshot. Nothing else holds a device handle.

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
    /// A twin named where a device belongs: twins live in `kiosk-sim`
    /// (`kiosk demo`), never in the kiosk that serves citizens.
    #[error("{0} is not part of the kiosk: it runs only in `kiosk demo`")]
    NotInThisProgram(&'static str),
}

/// How often an idle reader actor looks for a missing reader again.
const REOPEN_EVERY: Duration = Duration::from_secs(5);

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
    let mut reopen = tokio::time::interval(REOPEN_EVERY);
    loop {
        let cmd = tokio::select! {
            c = cmds.recv() => match c {
                Some(c) => c,
                None => return,
            },
            // Idle: a missing reader (unplugged, not yet enumerated at
            // boot) is looked for again, and /status follows.
            _ = reopen.tick() => {
                reader.reopen();
                health.send_if_modified(|h| {
                    let now = reader.health();
                    let changed = *h != now;
                    *h = now;
                    changed
                });
                continue;
            }
        };
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
        // Opened again before each read until it opens: the kiosk starts
        // without its reader, and /status says why.
        CardReaderConfig::Serial { path, baud } => {
            Ok(spawn_reader_actor(id_card::PortReader::new(path, *baud)))
        }
        CardReaderConfig::Sim => Err(DeviceError::NotInThisProgram("the simulated card reader")),
    }
}

/// The printer driver's settings from the `[devices.printer]` section.
pub fn printer_config(section: &PrinterSection) -> printer::PrinterConfig {
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

/// Spawns the printer the config names.
pub async fn spawn_printer(
    section: &PrinterSection,
) -> Result<DeviceHandle<PrinterCmd>, DeviceError> {
    let cfg = printer_config(section);
    let endpoint = match &section.sink {
        PrinterSink::Sim => return Err(DeviceError::NotInThisProgram("the simulated printer")),
        PrinterSink::File { path } => printer::Endpoint::File(path.clone()),
        PrinterSink::Serial { path, baud } => printer::Endpoint::Serial(path.clone(), *baud),
        PrinterSink::Tcp { addr } => printer::Endpoint::Tcp(addr.to_string()),
    };
    // Opened (connected) at the first job and again after a failure: the
    // kiosk starts without its printer.
    Ok(spawn_printer_actor(
        printer::EscPosPrinter::new(printer::ReopeningSink::new(endpoint), &cfg)?,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that appears on its third look.
    struct LateReader {
        looks: u32,
    }

    impl CardReader for LateReader {
        async fn read(&mut self) -> Result<Option<IdCard>, id_card::Error> {
            Ok(None)
        }

        fn health(&self) -> Health {
            if self.looks >= 3 {
                Health::Ok
            } else {
                Health::Fault("no reader at /dev/ttyUSB0".into())
            }
        }

        fn reopen(&mut self) {
            self.looks += 1;
        }
    }

    /// A USB reader enumerated after the kiosk started: the idle actor
    /// looks for it again, and the status follows without a restart.
    #[tokio::test(start_paused = true)]
    async fn a_reader_that_appears_later_is_found_while_idle() {
        let handle = spawn_reader_actor(LateReader { looks: 0 });
        let mut health = handle.health.clone();
        assert!(matches!(*health.borrow(), Health::Fault(_)));
        tokio::time::timeout(REOPEN_EVERY * 4, health.wait_for(|h| *h == Health::Ok))
            .await
            .expect("found within a few looks")
            .expect("the actor runs");
    }
}
