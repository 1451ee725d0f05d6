//! `kiosk-twins` as the emulated device uses it: the real card-reader
//! driver reads the synthetic card through its unix socket, and the real
//! ESC/POS driver prints a receipt the printer twin decodes into a picture.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiosk_drivers::id_card::{CardReader, ReaderTimings, SerialCardReader};
use kiosk_drivers::printer::{
    sample_receipt, EscPosPrinter, PrinterConfig, ReceiptPrinter, TcpSink,
};

struct Twins(Child);

impl Drop for Twins {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_real_drivers_talk_to_the_twins_program() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("reader.sock");
    let receipts = dir.path().join("receipts");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-twins"))
        .arg("--reader-socket")
        .arg(&socket)
        .args(["--printer-listen", "127.0.0.1:0", "--receipts"])
        .arg(&receipts)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _twins = Twins(child);
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("reader on {}", socket.display()));
    let second = lines.next().unwrap().unwrap();
    let printer_addr = second.strip_prefix("printer on ").unwrap().to_owned();
    // The synthetic card, named for tests that check it never leaks.
    let card = kiosk_drivers::id_card::sim::CardFixture::resident_example();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("card on the reader: {} {}", card.id_number, card.name)
    );

    let link = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let mut reader = SerialCardReader::from_transport(link, ReaderTimings::default());
    // The card stays on the reader: every attempt finds it.
    for attempt in 0..3 {
        let card = reader.read().await.unwrap().expect("a card on the reader");
        assert_eq!(
            card.id_number.expose(),
            kiosk_drivers::id_card::sim::CardFixture::resident_example().id_number,
            "attempt {attempt}"
        );
    }

    let sink = TcpSink::connect(&printer_addr, Duration::from_secs(3))
        .await
        .unwrap();
    let mut printer = EscPosPrinter::new(sink, &PrinterConfig::default()).unwrap();
    printer.print(&sample_receipt()).await.unwrap();
    let printed = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let png = printed.strip_prefix("printed ").unwrap();
    assert!(png.ends_with("001.png"), "{printed}");
    let image = image::open(png).unwrap();
    assert!(image.width() >= 384, "a receipt-wide picture");
    assert!(receipts.join("001.escpos").is_file());
}
