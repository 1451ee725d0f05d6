//! `kiosk`: the program. Parses arguments and calls into the library
//! (`kiosk-core`). `kiosk demo` exists only in host builds (the `sim`
//! feature links `kiosk-sim`); the device image's program has no simulator
//! and no twin.

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
    #[cfg(feature = "sim")]
    Demo {
        /// Scripted citizen, no window; screens are written as PNGs to OUT/screens.
        /// Without it a touchscreen window opens and a person plays the citizen.
        #[arg(long)]
        headless: bool,
        /// Scenario to run.
        #[arg(long, default_value = "new-connection-face")]
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
    /// What waits to reach central (stop the kiosk service first: it holds
    /// the store).
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The central service: a conformance check before rollout.
    Central {
        #[command(subcommand)]
        command: CentralCommand,
    },
    /// Face check tools for evaluation and technicians.
    Face {
        #[command(subcommand)]
        command: FaceCommand,
    },
    /// Face models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Receipt printer tools.
    Printer {
        #[command(subcommand)]
        command: PrinterCommand,
    },
    /// Camera tools.
    Camera {
        #[command(subcommand)]
        command: CameraCommand,
    },
    /// Print the device id first-boot provisioning gives a board with this
    /// serial number (`K-` and its last 8 letters or digits); exit 2 when
    /// the serial gives no valid id.
    DeviceId {
        /// The board's serial number (`/proc/device-tree/serial-number`).
        #[arg(long)]
        serial: String,
    },
    /// Check the config and every model; exit 0 when the kiosk can run.
    SelfTest {
        /// Config file (defaults when absent).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Updates (RAUC): the root-side steps and what a technician reads.
    Update {
        #[command(subcommand)]
        command: UpdateCommand,
    },
    /// The staff override's credentials.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Configuration drops on the boot partition.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Enroll this kiosk with central: make its own key pair (it never
    /// leaves the kiosk), send a signing request with a one-time code, and
    /// keep the certificate central signs (DATA/identity.json). From then
    /// on central and the fleet's scraper know the kiosk by it (mutual
    /// TLS) and no token is used. Exit 0 when enrolled, 1 with the reason.
    Enroll {
        /// Config file (TOML): central's URL and CA, the data folder.
        #[arg(long)]
        config: PathBuf,
        /// The one-time enrollment code.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        code: Option<String>,
        /// `enroll.toml` as a technician leaves it on the boot partition
        /// (`code`, optional `status_address`); removed once enrolled, as
        /// its code is spent.
        #[arg(long)]
        file: Option<PathBuf>,
        /// `host:port` where the fleet reaches the status endpoint
        /// (default: the file's, else `[identity] status_address`).
        #[arg(long)]
        status_address: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Check that FILE is signed with the fleet's configuration key: an
    /// ed25519 signature of its exact bytes in FILE.sig. Exit 0 when it is;
    /// exit 1 with the reason in one line on stderr (provisioning shows it
    /// in /status and on the technician screen).
    VerifyDrop {
        /// The fleet's public key (PEM), as the image names it.
        #[arg(long, default_value = "/etc/kiosk/config-signing.pub.pem")]
        pubkey: PathBuf,
        /// The signature (default: FILE.sig).
        #[arg(long)]
        sig: Option<PathBuf>,
        /// The drop.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum StaffCommand {
    /// Read a staff PIN (one line on stdin, 4 to 12 digits) and print its
    /// argon2id hash with a fresh salt, for `[flow] staff_pin_argon2`.
    /// The PIN is never an argument (shell history, `ps`).
    HashPin,
}

#[derive(Subcommand, Debug)]
enum UpdateCommand {
    /// Every boot (kiosk-update-confirm.service, root): give the booted
    /// slot its tries back once the kiosk is healthy; exit 1 when a freshly
    /// installed slot is not healthy in time (the unit then reboots, and
    /// U-Boot falls back once the slot's tries are spent).
    Confirm {
        /// Config file.
        #[arg(long, default_value = "/data/kiosk/kiosk.toml")]
        config: PathBuf,
    },
    /// Carry out the kiosk's install or reboot request
    /// (kiosk-update-apply.service, root).
    Apply {
        /// Config file.
        #[arg(long, default_value = "/data/kiosk/kiosk.toml")]
        config: PathBuf,
    },
    /// Release, slots and the last update, as JSON.
    Status {
        /// Config file.
        #[arg(long, default_value = "/data/kiosk/kiosk.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum PrinterCommand {
    /// Print a synthetic test receipt on the configured printer (stop the
    /// kiosk service first: it holds the printer).
    Test {
        /// Config file.
        #[arg(long, default_value = "/data/kiosk/kiosk.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum CameraCommand {
    /// Grab one frame from the configured camera; print its size and brightness.
    Check {
        /// Config file.
        #[arg(long, default_value = "/data/kiosk/kiosk.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum FaceCommand {
    /// Compare a probe photo with a reference photo: prints `pass` or `fail`.
    Verify {
        /// Reference photo.
        #[arg(long)]
        reference: PathBuf,
        /// Probe photo.
        #[arg(long)]
        probe: PathBuf,
        /// Model directory (overrides the config's).
        #[arg(long)]
        models: Option<PathBuf>,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Accuracy and speed on a labelled set: prints JSON.
    Eval {
        /// Pairs CSV (or a folder of them).
        #[arg(long)]
        pairs: PathBuf,
        /// Folder of the pairs' images.
        #[arg(long)]
        images: PathBuf,
        /// Folder of one photo per person: every pair is an impostor pair.
        #[arg(long)]
        impostors: Option<PathBuf>,
        /// Model directory (overrides the config's).
        #[arg(long)]
        models: Option<PathBuf>,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Download the registry-shipped models by pinned version and checksum.
    Fetch {
        /// Where to put them.
        #[arg(long, default_value = "/usr/share/kiosk/models")]
        dir: PathBuf,
    },
}

fn face_config(
    config: Option<&PathBuf>,
    models: Option<PathBuf>,
) -> anyhow::Result<kiosk::face::config::FaceConfig> {
    let mut cfg = match config {
        Some(p) => kiosk::config::Config::from_file(p)?.face,
        None => kiosk::face::config::FaceConfig::default(),
    };
    if let Some(m) = models {
        cfg.model_dir = m;
    }
    Ok(cfg)
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
enum OutboxCommand {
    /// Every entry waiting for central: key, kind, attempts, pending or
    /// parked, next attempt, last error.
    List {
        /// Data folder.
        #[arg(long, default_value = "/data/kiosk")]
        data: PathBuf,
    },
    /// Make an entry (or every entry) due now, parked ones included; the
    /// kiosk delivers them at its next sync.
    Retry {
        /// The entry's key, as `kiosk outbox list` shows it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        key: Option<String>,
        /// Every entry.
        #[arg(long)]
        all: bool,
        /// Data folder.
        #[arg(long, default_value = "/data/kiosk")]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum CentralCommand {
    /// Call every endpoint with synthetic data and check each answer
    /// against the contract, idempotency, error shapes, size limits and
    /// TLS; prints a table; exit 0 only when everything passed.
    Check {
        /// Central's base URL.
        #[arg(long)]
        url: String,
        /// The device token, if central wants one.
        #[arg(long)]
        token: Option<String>,
        /// The CA certificate (PEM) to pin.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Verify the hash chain of the audit log: prints `ok` or the first
    /// broken link, then which checks it made here and which need central.
    Verify {
        /// Data folder (the kiosk's, as for `kiosk outbox`).
        #[arg(long, default_value = "/data/kiosk")]
        data: PathBuf,
    },
}

/// The store of a data folder, for a technician's command; says what to
/// do when the running kiosk holds it.
fn open_store(data: &std::path::Path) -> anyhow::Result<kiosk::store::Store> {
    if !data.join("store").is_dir() {
        anyhow::bail!("no store in {} (is --data right?)", data.display());
    }
    kiosk::store::Store::open(data).with_context(|| {
        format!(
            "cannot open the store in {} (stop the kiosk service first: it holds the store)",
            data.display()
        )
    })
}

/// Whether stderr is the journal's own stream: systemd sets
/// `JOURNAL_STREAM=<dev>:<inode>` for a service whose output goes to the
/// journal, and those numbers are stderr's only while nobody redirected it
/// (`kiosk self-test 2>&1` inside a script logs as text to the script).
fn stderr_is_journal(journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    match (dev.parse::<u64>(), ino.parse::<u64>(), stderr) {
        (Ok(dev), Ok(ino), Some(fd)) => fd == (dev, ino),
        _ => false,
    }
}

/// Device and inode of stderr (`/proc/self/fd/2` resolves to the file,
/// pipe or socket itself).
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self/fd/2")
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Logging: native journal entries (priority, message, target, fields) when
/// systemd runs the kiosk, so `journalctl -u kiosk -p warning` selects by
/// level; plain text on stderr otherwise (colour only on a terminal).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let journal = std::env::var("JOURNAL_STREAM").ok();
    if stderr_is_journal(journal.as_deref(), stderr_identity()) {
        match tracing_journald::layer() {
            Ok(layer) => {
                tracing_subscriber::registry()
                    .with(filter)
                    .with(layer.with_syslog_identifier("kiosk".into()))
                    .init();
                return;
            }
            // No journal socket after all: text on stderr, said once.
            Err(e) => eprintln!("kiosk: the journal's socket: {e}; logging as text"),
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
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
        Command::Config {
            command: ConfigCommand::VerifyDrop { pubkey, sig, file },
        } => match kiosk::config_drop::verify_drop(&pubkey, &file, sig.as_deref()) {
            Ok(()) => {
                println!("signed with the fleet's configuration key");
                Ok(ExitCode::SUCCESS)
            }
            Err(why) => {
                eprintln!("kiosk config verify-drop: {why}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Staff {
            command: StaffCommand::HashPin,
        } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the PIN from stdin")?;
            let pin = line.trim();
            if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("a staff PIN is 4 to 12 digits (the touchscreen's keypad)");
            }
            println!("{}", kiosk::staff::PinHash::new(pin).as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { data },
        } => {
            // The audit key sits beside the kiosk's certificate: a store
            // copied without identity.json is checked without it.
            let key = match kiosk::enroll::Identity::load(&data) {
                Ok(id) => id.and_then(|i| i.audit_key()),
                Err(e) => {
                    eprintln!("the kiosk's identity cannot be read ({e}): keyed records are checked without their key");
                    None
                }
            };
            let report = kiosk::store::audit_verify_dir(&data, key.as_ref())
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            let (head, central) = kiosk::store::audit_anchor_dir(&data)
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            println!("{report}");
            print!(
                "{}",
                kiosk::store::audit::verify_scope(&report, &head, central, key.is_some())
            );
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Central {
            command: CentralCommand::Check { url, token, ca },
        } => {
            let opts = kiosk::central::check::CheckOptions {
                url: url.clone(),
                token,
                ca,
            };
            let rows =
                tokio::runtime::Runtime::new()?.block_on(kiosk::central::check::run(&opts))?;
            print!("{}", kiosk::central::check::table(&url, &rows));
            Ok(if rows.iter().all(|r| r.ok()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Outbox {
            command: OutboxCommand::List { data },
        } => {
            let store = open_store(&data)?;
            print!("{}", kiosk::store::outbox_table(&store.outbox_all()?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox {
            command: OutboxCommand::Retry { key, all, data },
        } => {
            let store = open_store(&data)?;
            let keys: Vec<String> = match key {
                Some(k) if !all => vec![k],
                _ => store.outbox_all()?.into_iter().map(|e| e.key).collect(),
            };
            for k in &keys {
                store.retry_now(k)?;
            }
            println!("{} entries due now", keys.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Face {
            command:
                FaceCommand::Verify {
                    reference,
                    probe,
                    models,
                    config,
                },
        } => {
            let cfg = face_config(config.as_ref(), models)?;
            match kiosk::face::cli::verify(&reference, &probe, &cfg) {
                Ok(pass) => {
                    println!("{}", if pass { "pass" } else { "fail" });
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("kiosk face verify: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Face {
            command:
                FaceCommand::Eval {
                    pairs,
                    images,
                    impostors,
                    models,
                    config,
                },
        } => {
            let cfg = face_config(config.as_ref(), models)?;
            let report = kiosk::face::cli::eval(&pairs, &images, impostors.as_deref(), &cfg)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Models {
            command: ModelsCommand::Fetch { dir },
        } => {
            kiosk::face::models_fetch::fetch(&dir)?;
            println!("models in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Printer {
            command: PrinterCommand::Test { config },
        } => {
            let cfg = kiosk::config::Config::from_file(&config)?;
            let rt = tokio::runtime::Runtime::new()?;
            let verdict = rt.block_on(kiosk::diag::print_test_receipt(&cfg.devices.printer))?;
            println!("{verdict}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Camera {
            command: CameraCommand::Check { config },
        } => {
            let cfg = kiosk::config::Config::from_file(&config)?;
            let cam = cfg
                .devices
                .camera
                .as_ref()
                .context("the config has no [devices.camera]")?;
            let rt = tokio::runtime::Runtime::new()?;
            println!("{}", rt.block_on(kiosk::diag::camera_check(cam))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Update { command } => update_command(command),
        Command::Enroll {
            config,
            code,
            file,
            status_address,
        } => enroll_command(&config, code, file.as_deref(), status_address),
        Command::DeviceId { serial } => {
            println!("{}", kiosk::device_id::from_serial(&serial)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::SelfTest { config } => {
            let cfg = match &config {
                Some(p) => kiosk::config::Config::from_file(p)?,
                None => kiosk::config::Config::default(),
            };
            // What `kiosk run` would refuse, refused here too: provisioning
            // vets a config dropped on the boot partition with this.
            if let Err(refusal) = cfg.check_deployable() {
                println!("config: {refusal}");
                eprintln!("kiosk self-test: {refusal}");
                return Ok(ExitCode::from(2));
            }
            println!("config: ok");
            let face = kiosk::face::engine::self_test(&cfg.face);
            println!("face: {}", face.summary);
            let face_needed = cfg
                .flow
                .identity_methods
                .contains(&kiosk::model::IdentityMethod::Face);
            Ok(if face.usable() || !face_needed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        #[cfg(feature = "sim")]
        Command::Demo {
            list_scenarios: true,
            ..
        } => {
            for s in kiosk_sim::demo::scenarios::all()
                .into_iter()
                .chain(kiosk_sim::demo::gui_scenarios::all())
            {
                println!("{:<24} {}", s.name, s.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sim")]
        Command::Demo {
            headless,
            scenario,
            out,
            data,
            list_scenarios: false,
        } => {
            let opts = kiosk_sim::demo::DemoOptions {
                scenario,
                out: out.clone(),
                data,
            };
            let summary = if headless {
                tokio::runtime::Runtime::new()?.block_on(kiosk_sim::demo::run(opts))?
            } else {
                let s = kiosk_sim::window::run(opts, kiosk_sim::window::demo_options())?;
                // A person played: there is no script whose outcome to check.
                println!(
                    "kiosk demo: closed by the technician; {} order(s) accepted; outputs in {}",
                    s.orders.len(),
                    out.display()
                );
                return Ok(ExitCode::SUCCESS);
            };
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
            // One line naming the field, exit 2, before anything opens.
            config.check_deployable()?;
            if !config.ui.touchscreen {
                let rt = tokio::runtime::Runtime::new()?;
                rt.block_on(kiosk::app::run(
                    config,
                    status_addr,
                    kiosk::notify::stop_requested(),
                    None,
                ))?;
                return Ok(ExitCode::SUCCESS);
            }
            // The touchscreen runs on this (main) thread, the kiosk beside it.
            let win = kiosk::gui::window::WindowOptions {
                ui: config.ui.clone(),
            };
            let (screen, attached) = kiosk::gui::window::Touchscreen::link();
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
            let kiosk = std::thread::Builder::new().name("kiosk".into()).spawn(
                move || -> anyhow::Result<()> {
                    let rt = tokio::runtime::Runtime::new()?;
                    let shutdown = async move {
                        tokio::select! {
                            () = kiosk::notify::stop_requested() => {}
                            // A dropped sender is not a request to stop.
                            Ok(()) = quit_rx => {}
                        }
                    };
                    let ran =
                        rt.block_on(kiosk::app::run(config, status_addr, shutdown, Some(screen)));
                    let _ = done_tx.send(());
                    Ok(ran?)
                },
            )?;
            match kiosk::gui::window::run_device(attached, &win, done_rx) {
                // The technician's PIN ended the screen: end the kiosk too
                // (under systemd it restarts).
                Ok(()) => {
                    let _ = quit_tx.send(());
                }
                // No display (or no DRM device): serve without a screen.
                Err(e) => {
                    tracing::warn!("no touchscreen: {e}; the kiosk runs without a screen");
                    drop(quit_tx);
                }
            }
            kiosk
                .join()
                .map_err(|_| anyhow::anyhow!("the kiosk thread panicked"))??;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn enroll_command(
    config: &std::path::Path,
    code: Option<String>,
    file: Option<&std::path::Path>,
    status_address: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = kiosk::config::Config::from_file(config)?;
    let from_file = match file {
        Some(f) => match kiosk::enroll::EnrollFile::load(f) {
            Ok(e) => Some(e),
            Err(why) => {
                eprintln!("kiosk enroll: {why}");
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };
    let (code, file_address) = match (code, &from_file) {
        (Some(c), _) => (c, None),
        (None, Some(f)) => (f.code.clone(), f.status_address.clone()),
        (None, None) => anyhow::bail!("give --code or --file"),
    };
    let address = status_address
        .or(file_address)
        .or(config.identity.status_address.clone());
    let central =
        kiosk::central::client::CentralClient::new(kiosk::app::central_client_config(&config))?;
    let rt = tokio::runtime::Runtime::new()?;
    let enrolled = rt.block_on(kiosk::enroll::enroll(
        &central,
        &config.data_dir,
        &config.device_id,
        &code,
        address.as_deref(),
    ));
    match enrolled {
        Ok(id) => {
            if let Some(f) = file {
                // Its code is spent; a code left in clear helps no one.
                if let Err(e) = std::fs::remove_file(f) {
                    eprintln!("kiosk enroll: enrolled, but {} stays: {e}", f.display());
                }
            }
            println!(
                "enrolled as {}: certificate valid until {}{}",
                id.device_id,
                id.not_after.format("%Y-%m-%dT%H:%M:%SZ"),
                address
                    .map(|a| format!(", status endpoint at {a}"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kiosk enroll: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn update_command(command: UpdateCommand) -> anyhow::Result<ExitCode> {
    use kiosk::update;
    match command {
        UpdateCommand::Confirm { config } => {
            let config = kiosk::config::Config::from_file(&config)?;
            let port = config.status.addr.port();
            // Enrolled, the endpoint is mutual TLS with the kiosk's own
            // certificate (a damaged identity: the kiosk falls back too).
            let identity = kiosk::enroll::Identity::load(&config.data_dir)
                .ok()
                .flatten();
            let scheme = if config.status.tls.is_some() || identity.is_some() {
                "https"
            } else {
                "http"
            };
            let probe = update::HealthProbe {
                url: format!("{scheme}://127.0.0.1:{port}/status"),
                token: config.status_token()?,
                identity: identity.map(|i| i.client_pem()),
            };
            let booted = update::this_boot_slot();
            let result = tokio::runtime::Runtime::new()?.block_on(update::confirm(
                &config.update,
                &config.data_dir,
                &probe,
                booted.clone(),
                || update::run_tool("rauc", &["status", "mark-good"]).map(|_| ()),
                || {
                    let n: u32 = update::run_tool(
                        "systemctl",
                        &["show", "-p", "NRestarts", "--value", "kiosk.service"],
                    )
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                    (n >= 5).then(|| format!("kiosk.service restarted {n} times"))
                },
            ))?;
            match result {
                update::Confirmed::NewSlotGood { version } => {
                    println!(
                        "slot {} running {version}: healthy, marked good",
                        booted.unwrap_or_default()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                update::Confirmed::Kept => {
                    println!(
                        "slot {}: kept, tries given back",
                        booted.unwrap_or_default()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                update::Confirmed::KeptUnconfirmed { why } => {
                    // Exit 3: kiosk-update-confirm.service counts it as a
                    // success (no reboot), and the journal says why.
                    eprintln!(
                        "slot {}: kept, not confirmed: {why}",
                        booted.unwrap_or_default()
                    );
                    Ok(ExitCode::from(3))
                }
                update::Confirmed::Unhealthy { why } => {
                    eprintln!(
                        "slot {} not healthy within {} s: {why}",
                        booted.unwrap_or_default(),
                        config.update.confirm_within_secs
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        UpdateCommand::Apply { config } => {
            let config = kiosk::config::Config::from_file(&config)?;
            let release = update::Release::load(&config.update.release_file);
            match update::apply(&config.data_dir, &release)? {
                Some(outcome) => println!("install: {}", outcome.as_str()),
                None => println!("no install request"),
            }
            Ok(ExitCode::SUCCESS)
        }
        UpdateCommand::Status { config } => {
            let config = kiosk::config::Config::from_file(&config)?;
            let report = update::SystemReport::read(&config.update, &config.data_dir);
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stderr_is_journal;

    #[test]
    fn the_journal_only_when_stderr_is_its_stream() {
        // Started by systemd, stderr untouched: the journal.
        assert!(stderr_is_journal(Some("8:4242"), Some((8, 4242))));
        // Started by systemd, stderr redirected by a script: text.
        assert!(!stderr_is_journal(Some("8:4242"), Some((8, 99))));
        // A technician's terminal: text.
        assert!(!stderr_is_journal(None, Some((8, 4242))));
        // Garbage in the variable, or stderr closed: text.
        for v in ["", "8", "8:", ":4242", "x:y", "8:4242:1"] {
            assert!(!stderr_is_journal(Some(v), Some((8, 4242))), "{v}");
        }
        assert!(!stderr_is_journal(Some("8:4242"), None));
    }
}
