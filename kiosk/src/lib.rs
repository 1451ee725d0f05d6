//! The kiosk: the business flow, the local store, sync with the central
//! service, the status endpoint and an in-process central simulator.
//!
//! The binary (`src/main.rs`) is thin: it parses arguments, builds real or
//! simulated devices from the config and calls into this library, so
//! everything here can be tested with twins, a temp dir and loopback ports.

#![warn(missing_docs)]

pub mod app;
pub mod central;
pub mod config;
pub mod demo;
pub mod device_id;
pub mod diag;
pub mod face;
pub mod flow;
pub mod gui;
pub mod model;
pub mod notify;
pub mod runtime;
pub mod status;
pub mod status_tls;
pub mod store;
