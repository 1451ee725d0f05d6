//! `image-build`: builds and boot-tests the kiosk's SD-card image from an
//! image definition (TOML under `image-build/images/`).
//!
//! * `build --image NAME --out DIR`: cross-compiles `kiosk`, builds the
//!   Debian root file system with `mmdebstrap` (cached), installs the kiosk,
//!   its config, units and models, assembles boot / root A / root B / data
//!   without loop devices and writes `DIR/kiosk-<version>-NAME.img.zst`
//!   (and the raw `.img`), the manifest, the partition table, and the kernel,
//!   initrd and command line for emulation.
//! * `boot-test --image NAME --out DIR`: boots a test image under
//!   `qemu-system-aarch64` and polls `/status`; exit 0 when healthy.
//! * `e2e --image NAME --out DIR`: boots a writable copy of a test image
//!   wired like a kiosk (display, touchscreen, reader, printer, central)
//!   and runs the end-to-end scenarios through its touchscreen; writes
//!   `DIR/e2e.json` and `DIR/screens/`; exit 0 when every scenario passed.
//!
//! Needs root (ownership in the file systems, binfmt_misc) and the tools
//! `scripts/setup.sh --image` installs.

mod boot_test;
mod build;
mod def;
mod disk;
mod e2e;
mod layout;
mod manifest;
mod qmp;
mod rootfs;
mod step;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Builds and boot-tests the kiosk's SD-card image.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build `DIR/kiosk-<version>-<image>.img.zst` and its manifest.
    Build {
        /// Image definition name (`rpi4`, `qemu-virt`).
        #[arg(long)]
        image: String,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Folder of face models (default: `$KIOSK_MODELS_DIR`, the cache,
        /// else `kiosk models fetch`).
        #[arg(long)]
        models: Option<PathBuf>,
        /// Use this aarch64 kiosk binary instead of building one.
        #[arg(long)]
        kiosk_bin: Option<PathBuf>,
        /// Keep the work folder (root tree, partition files) for inspection.
        #[arg(long)]
        keep_work: bool,
    },
    /// Boot the image under qemu-system-aarch64 and poll `/status`.
    BootTest {
        /// Image definition name.
        #[arg(long)]
        image: String,
        /// The folder `build` wrote to.
        #[arg(long)]
        out: PathBuf,
        /// Seconds the kiosk has to answer `/status`.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Serve citizens on the booted image: the end-to-end scenarios.
    E2e {
        /// Image definition name.
        #[arg(long)]
        image: String,
        /// The folder `build` wrote to; `e2e.json` and `screens/` go there.
        #[arg(long)]
        out: PathBuf,
        /// Power cuts at random moments of a transaction, after the one
        /// right after a receipt.
        #[arg(long, default_value_t = 10)]
        cuts: usize,
        /// Seed of the cuts' moments.
        #[arg(long, default_value_t = 14)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Build {
            image,
            out,
            models,
            kiosk_bin,
            keep_work,
        } => build::build(&build::BuildOptions {
            image,
            out,
            models,
            kiosk_bin,
            keep_work,
        })
        .map(|m| {
            println!(
                "image {}: {} ({} bytes raw, {} bytes compressed), sha256 {}; built in {:.0} s",
                m.image,
                m.image_zst.file,
                m.image_raw.bytes,
                m.image_zst.bytes,
                m.image_zst.sha256,
                m.build_seconds
            );
        }),
        Command::BootTest {
            image,
            out,
            timeout_secs,
        } => boot_test::boot_test(&boot_test::BootTestOptions {
            image,
            out,
            timeout: Duration::from_secs(timeout_secs),
        })
        .map(|r| {
            println!(
                "boot test passed: first /status answer {:.1} s after qemu started; flow_state {}, alarms {}; {}",
                r.to_status.as_secs_f64(),
                r.status["flow_state"],
                r.status["alarms"],
                r.bootcheck
            );
        }),
        Command::E2e {
            image,
            out,
            cuts,
            seed,
        } => e2e::e2e(&e2e::E2eOptions {
            image,
            out: out.clone(),
            cuts,
            seed,
        })
        .map(|r| {
            println!(
                "e2e passed: {} scenarios ({}); see {}",
                r.scenarios.len(),
                r.scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                out.join("e2e.json").display()
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("image-build: {e:#}");
            ExitCode::from(1)
        }
    }
}
