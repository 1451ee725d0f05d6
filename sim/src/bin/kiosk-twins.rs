//! `kiosk-twins`: the card-reader and printer twins as a host program, for
//! the emulated device (and a bench kiosk on a desk).
//!
//! ```text
//! kiosk-twins --reader-socket PATH --printer-listen ADDR --receipts DIR
//!             [--card present|absent]
//! ```
//!
//! - The reader twin listens on the unix socket `PATH`; qemu joins the
//!   guest's USB serial adapter to it (`-chardev socket,path=PATH`), so the
//!   kiosk's real GA/T 467 driver on `/dev/ttyUSB0` talks to it byte for
//!   byte. With `--card present` (the default) a synthetic resident card
//!   (no real person) lies on it.
//! - The printer twin listens on `ADDR` as a network printer (port 9100
//!   style); each job the kiosk's real ESC/POS driver sends is decoded back
//!   into a picture, `DIR/NNN.png`, with its raw stream `DIR/NNN.escpos`.
//!
//! Its first lines on stdout are `reader on PATH` and `printer on ADDR`,
//! then, with a card present, `card on the reader: ID_NUMBER NAME` (the
//! synthetic card's, for a test that checks they never leak); then one line
//! per event (`printed DIR/NNN.png`). It stops on SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use kiosk_drivers::id_card::sim::{serve_then, Behaviour, CardFixture};
use kiosk_drivers::printer::sim::SimSink;

/// The device twins on the host.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Unix socket for the card reader's serial line.
    #[arg(long)]
    reader_socket: PathBuf,
    /// Address the printer twin listens on.
    #[arg(long)]
    printer_listen: std::net::SocketAddr,
    /// Folder for the decoded receipts.
    #[arg(long)]
    receipts: PathBuf,
    /// Whether a card lies on the reader.
    #[arg(long, default_value = "present")]
    card: CardOnReader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CardOnReader {
    Present,
    Absent,
}

fn main() -> ExitCode {
    let args = Args::parse();
    kiosk_sim::program_main("kiosk-twins", run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.receipts)
        .with_context(|| format!("cannot create {}", args.receipts.display()))?;
    let _ = std::fs::remove_file(&args.reader_socket);
    let reader = tokio::net::UnixListener::bind(&args.reader_socket)
        .with_context(|| format!("cannot listen on {}", args.reader_socket.display()))?;
    let printer = tokio::net::TcpListener::bind(args.printer_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.printer_listen))?;
    println!("reader on {}", args.reader_socket.display());
    println!("printer on {}", printer.local_addr()?);
    if args.card == CardOnReader::Present {
        // Synthetic test data: a test that drives the kiosk checks these
        // never reach its journal or its disk in clear.
        let card = CardFixture::resident_example();
        println!("card on the reader: {} {}", card.id_number, card.name);
    }

    let card = args.card;
    tokio::spawn(async move {
        // One link at a time (qemu reconnects after a reboot).
        while let Ok((link, _)) = reader.accept().await {
            let resting = match card {
                CardOnReader::Present => Behaviour::Card(CardFixture::resident_example()),
                CardOnReader::Absent => Behaviour::NoCard,
            };
            let twin = serve_then(link, Vec::new(), resting);
            // Serve until the link closes: the twin's task ends then.
            while !twin.is_finished() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    });

    let receipts = args.receipts.clone();
    tokio::spawn(async move {
        let mut seq = 0u32;
        while let Ok((link, peer)) = printer.accept().await {
            let (mut sink, controls) = SimSink::new();
            let link_task = tokio::spawn(async move { sink.serve(link).await });
            // Jobs are saved as they complete; the kiosk keeps its
            // connection open between receipts.
            let mut saved = 0;
            loop {
                let done = link_task.is_finished();
                let jobs = controls.decoded_jobs();
                let raws = controls.jobs_raw();
                for (job, raw) in jobs.iter().zip(raws.iter()).skip(saved) {
                    seq += 1;
                    saved += 1;
                    let base = receipts.join(format!("{seq:03}"));
                    let _ = std::fs::write(base.with_extension("escpos"), raw);
                    if let Some(bitmap) = &job.bitmap {
                        let png = base.with_extension("png");
                        if std::fs::write(&png, bitmap.to_png()).is_ok() {
                            println!("printed {}", png.display());
                        }
                    }
                }
                if done {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            if let Ok(Err(e)) = link_task.await {
                tracing::info!(%peer, "printer link closed: {e}");
            }
        }
    });

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
