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
pub mod shots;
pub mod window;
