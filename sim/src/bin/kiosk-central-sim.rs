//! `kiosk-central-sim`: the central simulator as its own program, for the
//! emulated device test and for integrators.
//!
//! ```text
//! kiosk-central-sim --listen ADDR --state DIR [--tls-cert F --tls-key F]
//!                   [--seed N] [--token T]
//! ```
//!
//! Serves `docs/api/central.yaml` (plain HTTP, or HTTPS with the given
//! certificate) from seeded synthetic data, keeps what it receives in
//! `DIR/state.json` so orders survive its restart, and counts submissions
//! per idempotency key (`GET /sim/submissions`). Its first line on stdout is
//! `listening on <URL>`; it stops on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use kiosk_sim::central::{router_with_control, SimState};

/// The central service simulator.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// Folder for what the simulator receives (created if missing).
    #[arg(long)]
    state: PathBuf,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seed of the synthetic citizens (the demo's is 7).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Device token the kiosks must present (none: any request is served;
    /// a token kept in --state from an earlier run stays unless given).
    #[arg(long)]
    token: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    kiosk_sim::program_main("kiosk-central-sim", serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let state = SimState::with_state_dir(args.seed, &args.state)?;
    if args.token.is_some() {
        state.control().require_token(args.token.clone());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let app = router_with_control(state);
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let acceptor = kiosk::status_tls::acceptor(&kiosk::status_tls::TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: None,
            })?;
            println!("listening on https://{addr}");
            kiosk::status_tls::serve_router(listener, acceptor, app, stop).await?;
        }
        _ => {
            println!("listening on http://{addr}");
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await?;
        }
    }
    Ok(())
}
