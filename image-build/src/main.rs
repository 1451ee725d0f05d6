//! `image-build`: builds and boot-tests the kiosk's SD-card image from an
//! image definition (TOML under `image-build/images/`).
//!
//! * `build --image NAME --out DIR`: cross-compiles `kiosk`, builds the
//!   Debian root file system with `mmdebstrap` (cached), installs the kiosk,
//!   its config, units and models, assembles boot / root A / root B / data
//!   without loop devices and writes `DIR/kiosk-<version>-NAME.img.zst`
//!   (and the raw `.img`), the manifest, the partition table, and the kernel,
//!   initrd and command line for emulation.
//! * `bundle --image NAME --out DIR`: signs a RAUC bundle (verity format)
//!   of the built image's root file system, beside it.
//! * `boot-test --image NAME --out DIR`: boots a test image under
//!   `qemu-system-aarch64` and polls `/status`; exit 0 when healthy.
//! * `e2e --image NAME --out DIR`: boots a writable copy of a test image
//!   wired like a kiosk (display, touchscreen, reader, printer, central)
//!   and runs the end-to-end scenarios through its touchscreen; writes
//!   `DIR/e2e.json` and `DIR/screens/`; exit 0 when every scenario passed.
//!
//! Needs root (ownership in the file systems, binfmt_misc) and the tools
//! `scripts/setup.sh --image` installs.

mod boot;
mod boot_test;
mod build;
mod def;
mod disk;
mod e2e;
mod layout;
mod manifest;
mod qmp;
mod rauc;
mod rootfs;
mod signing;
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
    /// Sign a RAUC bundle (verity) of the image built in DIR, beside it:
    /// `DIR/kiosk-<version>-<image>.raucb` and `.raucb.json` (version, sha256).
    Bundle {
        /// Image definition name.
        #[arg(long)]
        image: String,
        /// The folder `build` wrote to.
        #[arg(long)]
        out: PathBuf,
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
    /// Updates over the air under emulation (RAUC, U-Boot, rollback):
    /// writes `DIR/update.json`; the Pi image (`--pi-image`, built in the
    /// same folder) boots on qemu's raspi3b.
    UpdateTest {
        /// Image definition name of the emulated board.
        #[arg(long)]
        image: String,
        /// The folder `build` wrote to; `update.json` goes there.
        #[arg(long)]
        out: PathBuf,
        /// The Pi image booted on raspi3b (scenario rpi-boot).
        #[arg(long, default_value = "rpi4")]
        pi_image: String,
    },
    /// The update test's `rpi-boot` scenario on its own (the Pi image on
    /// qemu's raspi3b): writes `DIR/rpi-boot.json`, which a later
    /// `update-test` reports instead of booting the Pi again.
    RpiBoot {
        /// The Pi image's definition name.
        #[arg(long, default_value = "rpi4")]
        image: String,
        /// The folder `build` wrote to.
        #[arg(long)]
        out: PathBuf,
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
        Command::Bundle { image, out } => rauc::bundle(&image, &out).map(|b| {
            println!(
                "bundle {}: version {}, {} bytes, sha256 {}{}",
                out.join(&b.file).display(),
                b.version,
                b.bytes,
                b.sha256,
                if b.development_key {
                    " (signed with the development key)"
                } else {
                    ""
                }
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
                "boot test passed: first /status answer {:.1} s after qemu started; flow_state {}, alarms {}; {}; {}",
                r.to_status.as_secs_f64(),
                r.status["flow_state"],
                r.status["alarms"],
                r.bootcheck,
                r.hardening
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
                "e2e passed: {}; see {}",
                r.summary(),
                out.join("e2e.json").display()
            );
        }),
        Command::UpdateTest {
            image,
            out,
            pi_image,
        } => e2e::update_test(&e2e::UpdateOptions {
            image,
            out: out.clone(),
            pi_image,
        })
        .map(|r| {
            println!(
                "update test passed: {}; see {}",
                r.summary(),
                out.join("update.json").display()
            );
        }),
        Command::RpiBoot { image, out } => e2e::rpi_boot_alone(&out, &image).and_then(|r| {
            println!("rpi-boot: {}", r.detail);
            if r.passed {
                Ok(())
            } else {
                Err(anyhow::anyhow!("rpi-boot failed (the update test reports it)"))
            }
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
