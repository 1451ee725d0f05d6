//! `kiosk-sim`: everything that stands in for the world around the kiosk,
//! kept out of the device build.
//!
//! - [`central`]: the central simulator, in-process for the demo and the
//!   tests, and standalone (`kiosk-central-sim`, state on disk, TLS) for the
//!   emulated device and for integrators;
//! - [`devices`]: the device twins wired as the kiosk's devices;
//! - [`demo`]: `kiosk demo`, a scripted citizen through a scenario, and
//!   [`window`], the same with a person at the touchscreen window;
//! - [`shots`]: the headless demo's screenshots.
//!
//! The `kiosk` program links this crate only with its `sim` feature (on for
//! host builds, off in the image), so what a technician flashes holds no
//! simulator and no twin.

#![warn(missing_docs)]

pub mod central;
pub mod demo;
pub mod devices;
pub mod fleet;
pub mod shots;
pub mod updates;
pub mod window;

/// The `main` of the simulator's programs: logs to stderr (`RUST_LOG`,
/// `info` by default), runs `body` on a tokio runtime, and exits 2 with
/// one line `NAME: why` when it fails.
pub fn program_main<F>(name: &str, body: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let ran = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(body));
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
