//! `kiosk`: the binary. Parses arguments and calls into the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Self-service power-business kiosk.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the kiosk on the devices and central service the config names.
    Run {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Status endpoint address (overrides the config).
        #[arg(long)]
        status_addr: Option<SocketAddr>,
    },
    /// Run a scenario on simulated devices and the in-process central simulator.
    Demo {
        /// Scripted citizen, no window (the only mode until the touchscreen UI lands).
        #[arg(long)]
        headless: bool,
        /// Scenario to run.
        #[arg(long, default_value = "new-connection-idcard")]
        scenario: String,
        /// Output folder (transcript, receipts, summary).
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Data folder (store, keys); a fresh temporary folder by default.
        #[arg(long)]
        data: Option<PathBuf>,
        /// List the scenarios and exit.
        #[arg(long)]
        list_scenarios: bool,
    },
    /// ID-card reader tools.
    Card {
        #[command(subcommand)]
        command: CardCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum CardCommand {
    /// Decode a raw reader reply saved to a file; prints the card as JSON.
    Decode {
        /// The file.
        file: PathBuf,
        /// Show the ID number in clear.
        #[arg(long)]
        unmasked: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Verify the hash chain of the audit log: prints `ok` or the first broken link.
    Verify {
        /// Data folder.
        #[arg(long, default_value = "/data")]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match main_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn main_inner(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Card {
            command: CardCommand::Decode { file, unmasked },
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            match kiosk_drivers::id_card::decode_reply_bytes(&bytes) {
                Ok(card) => {
                    println!("{}", serde_json::to_string_pretty(&card.to_json(unmasked))?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("kiosk card decode: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { data },
        } => {
            let report = kiosk::store::audit_verify_dir(&data)
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            println!("{report}");
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Demo {
            list_scenarios: true,
            ..
        } => {
            for s in kiosk::demo::scenarios::all() {
                println!("{:<24} {}", s.name, s.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            headless,
            scenario,
            out,
            data,
            list_scenarios: false,
        } => {
            if !headless {
                eprintln!("kiosk demo: the touchscreen UI is not built yet; running headless");
            }
            let rt = tokio::runtime::Runtime::new()?;
            let summary = rt.block_on(kiosk::demo::run(kiosk::demo::DemoOptions {
                scenario,
                out: out.clone(),
                data,
            }))?;
            for o in &summary.orders {
                println!(
                    "order {}  central {}  {}  {:?}  missing {:?}  {:?}",
                    o.local_id,
                    o.central_no.as_deref().unwrap_or("pending"),
                    o.business,
                    o.route,
                    o.missing,
                    o.status
                );
            }
            if summary.passed {
                println!(
                    "scenario {}: passed; outputs in {}",
                    summary.scenario,
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!("scenario {}: FAILED", summary.scenario);
                for f in &summary.failures {
                    println!("  - {f}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Run {
            config,
            status_addr,
        } => {
            let config = kiosk::config::Config::from_file(&config)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(kiosk::app::run(config, status_addr, async {
                let _ = tokio::signal::ctrl_c().await;
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
