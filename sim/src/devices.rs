//! The twins wired as the kiosk's devices: the reader twin on a
//! pseudo-terminal behind the real GA/T 467 driver, and the printer twin
//! behind the real printer actor. Only `kiosk demo` and the tests use them;
//! `kiosk run` refuses a config that names a twin.

use std::path::PathBuf;
use std::time::Duration;

use kiosk::config::PrinterSection;
use kiosk::runtime::devices::{
    printer_config, spawn_printer_actor, spawn_reader_actor, DeviceError, DeviceHandle,
};
use kiosk::runtime::{PrinterCmd, ReaderCmd};
use kiosk_drivers::id_card;
use kiosk_drivers::printer;

use crate::demo::scenarios::CardStep;

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
