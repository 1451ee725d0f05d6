//! `image-build`: builds and boot-tests the kiosk's SD-card image from an
//! image definition (TOML under `image-build/images/`).
//!
//! Only the command-line interface exists so far; the build itself (cross
//! compile, mmdebstrap root filesystem, partitioned image, manifest) and the
//! emulated boot test are their own issue. Both subcommands say so and exit 2
//! rather than pretend to build anything.

use std::path::PathBuf;
use std::process::ExitCode;

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
    },
    /// Boot the image under qemu-system-aarch64 and poll `/status`.
    BootTest {
        /// Image definition name.
        #[arg(long)]
        image: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let what = match args.command {
        Command::Build { image, .. } => format!("build --image {image}"),
        Command::BootTest { image } => format!("boot-test --image {image}"),
    };
    eprintln!("image-build {what}: not implemented yet (the SD-card image has its own issue)");
    ExitCode::from(2)
}
