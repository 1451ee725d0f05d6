//! The kiosk, the product library (package `kiosk-core`, crate `kiosk`):
//! the business flow, the face check, the local store, sync with the
//! central service, the status endpoint and the touchscreen's controller.
//!
//! The program (package `kiosk`) is thin: it parses arguments and calls
//! into this library. Nothing here simulates anything: the central
//! simulator, the device twins' wiring and `kiosk demo` live in `kiosk-sim`,
//! which the program links only in host builds; the tests use them with a
//! temp dir and loopback ports.

#![warn(missing_docs)]

pub mod app;
pub mod central;
pub mod clock;
pub mod config;
pub mod config_drop;
pub mod device_id;
pub mod diag;
pub mod enroll;
pub mod face;
pub mod files;
pub mod flow;
pub mod gui;
pub mod model;
pub mod notify;
pub mod runtime;
pub mod staff;
pub mod status;
pub mod status_tls;
pub mod store;
pub mod update;
