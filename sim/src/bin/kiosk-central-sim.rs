//! `kiosk-central-sim`: the central simulator as its own program, for the
//! emulated device test and for integrators.
//!
//! ```text
//! kiosk-central-sim --listen ADDR --state DIR [--tls-cert F --tls-key F]
//!                   [--seed N] [--token T] [--enroll-code CODE]...
//!                   [--scraper-cert DIR --tls-ca F] [--cert-lifetime-secs N]
//! ```
//!
//! Serves `docs/api/central.yaml` (plain HTTP, or HTTPS with the given
//! certificate) from seeded synthetic data, keeps what it receives in
//! `DIR/state.json` so orders survive its restart, and counts submissions
//! per idempotency key (`GET /sim/submissions`). Its first line on stdout is
//! `listening on <URL>`; it stops on SIGTERM or SIGINT.
//!
//! Over TLS it also takes client certificates of its fleet CA (kept in
//! DIR): enrolled kiosks (`POST /v1/devices/enroll` with one of the
//! `--enroll-code`s) and the fleet's scraper, whose certificate and key
//! `--scraper-cert` writes (with the CA, and a Prometheus config that finds
//! this simulator's kiosks and scrapes them over mutual TLS) for a lab.

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
    /// A one-time enrollment code kiosks may use (repeatable).
    #[arg(long = "enroll-code")]
    enroll_codes: Vec<String>,
    /// Writes the fleet scraper's certificate and key, the fleet CA, the
    /// central CA (--tls-ca) and a Prometheus config for them into this
    /// folder (`scraper.pem`, `scraper-key.pem`, `fleet-ca.pem`,
    /// `central-ca.pem`, `prometheus.yml`, `alerts.yml`).
    #[arg(long, requires_all = ["tls_cert", "tls_ca"])]
    scraper_cert: Option<PathBuf>,
    /// The CA that signed --tls-cert (for --scraper-cert's Prometheus).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Lifetime of the device certificates it signs (default 90 days).
    #[arg(long)]
    cert_lifetime_secs: Option<u64>,
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
    for code in &args.enroll_codes {
        kiosk::enroll::check_code(code).map_err(anyhow::Error::msg)?;
        state.control().add_enrollment_code(code);
    }
    if let Some(secs) = args.cert_lifetime_secs {
        state
            .control()
            .set_certificate_lifetime(std::time::Duration::from_secs(secs));
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let (Some(dir), Some(ca)) = (&args.scraper_cert, &args.tls_ca) {
        kiosk_sim::fleet::write_lab_scraper(
            dir,
            &state.control().fleet_ca_pem()?,
            &state.control().issue_scraper_certificate()?,
            ca,
            &format!("https://{addr}"),
        )
        .map_err(anyhow::Error::msg)?;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(kiosk_sim::central::tls_acceptor(
            &state,
            &std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?,
            &std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?,
        )?),
        _ => None,
    };
    let app = router_with_control(state);
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    match tls {
        Some(acceptor) => {
            println!("listening on https://{addr}");
            kiosk::status_tls::serve_router(listener, acceptor, app, stop).await?;
        }
        None => {
            println!("listening on http://{addr}");
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await?;
        }
    }
    Ok(())
}
