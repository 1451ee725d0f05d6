//! A soak run: the kiosk's real runtime on the twins, against a central
//! service at a given URL (a simulator that outlives this process), doing
//! the `new-connection-idcard` transaction over and over. Used by the crash
//! harness, which kills the process at random moments: every time a
//! citizen is *told* "accepted" (the receipt screen shows an order), the
//! line `ACCEPTED <local id>` goes to stdout at once, so the harness knows
//! what must survive. `drain` only delivers what the store holds.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{io, scenarios, Cameras, DemoError};
use crate::devices;
use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::config::Config;
use kiosk::runtime::sync::Backoff;
use kiosk::store::Store;

/// What a soak run does.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Central's base URL.
    pub central: String,
    /// The data directory (kept across runs).
    pub data: PathBuf,
    /// Transactions to do (0: only drain the outbox, then stop).
    pub transactions: usize,
}

fn start_err(what: &'static str) -> impl FnOnce(String) -> DemoError {
    move |detail| DemoError::Start { what, detail }
}

/// Runs the transactions, then drains the outbox until it is empty.
pub async fn run(opts: SoakOptions) -> Result<(), DemoError> {
    let scenario = scenarios::by_name("new-connection-idcard")
        .ok_or_else(|| DemoError::UnknownScenario("new-connection-idcard".into()))?;
    std::fs::create_dir_all(&opts.data).map_err(io("cannot create", &opts.data))?;
    let config = Config::default();
    let mut client_cfg = ClientConfig::new(opts.central.clone());
    client_cfg.timeout = Duration::from_millis(1_500);
    let central = Arc::new(
        CentralClient::new(client_cfg)
            .map_err(|e| start_err("the central client")(e.to_string()))?,
    );
    let store =
        Arc::new(Store::open(&opts.data).map_err(|e| start_err("the store")(e.to_string()))?);
    let (name, id, address) = scenario.citizen.identity();
    // A card for every transaction (and a spare).
    let cards = vec![scenarios::CardStep::Card; opts.transactions + 1];
    let reader = devices::spawn_sim_reader(name, id, address, &cards)
        .await
        .map_err(|e| start_err("the card reader twin")(e.to_string()))?;
    let (printer, _controls) = devices::spawn_sim_printer(&config.devices.printer, None)
        .map_err(|e| start_err("the printer twin")(e.to_string()))?;
    let (qr_camera, qr) = kiosk_drivers::camera::sim::SimCamera::new(
        kiosk_drivers::camera::sim::Scene::Empty,
        kiosk_drivers::camera::sim::SimOptions::default(),
    )
    .map_err(|e| start_err("the camera twin")(e.to_string()))?;
    drop(qr_camera);
    let kiosk = kiosk::app::start(
        kiosk::app::Parts {
            flow: config.flow.clone(),
            store: store.clone(),
            central,
            device_id: config.device_id.clone(),
            receipt: config.receipt.clone(),
            immediate_sync: Duration::from_millis(config.sync.immediate_timeout_ms),
            backoff: Backoff {
                base: Duration::from_millis(50),
                max: Duration::from_millis(500),
            },
            transcript: None,
            status_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            status_token: Some(format!("soak-{}", rand::random::<u64>())),
            status_rate_limit: None,
            status_tls: None,
            face_self_test_ok: None,
            qr: None,
            payment: kiosk::runtime::PaymentTiming::default(),
            retention_days: config.sync.retention_days,
            drop_refused: None,
            system: None,
            identity: None,
            // The host's clock: the twins run on a workstation or CI machine.
            clock: std::sync::Arc::new(kiosk::clock::Trusted),
        },
        &reader,
        &printer,
        None,
    )
    .await
    .map_err(|e| start_err("the kiosk")(e.to_string()))?;

    // "Accepted" is said the moment the receipt screen shows an order.
    let mut told = kiosk.screen.clone();
    let announcer = tokio::spawn(async move {
        let mut last = None;
        while told.changed().await.is_ok() {
            let order = {
                let s = told.borrow();
                (s.phase == "receipt").then(|| s.order.clone()).flatten()
            };
            if let Some(id) = order {
                if last.as_ref() != Some(&id) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ACCEPTED {id}");
                    let _ = out.flush();
                    last = Some(id);
                }
            }
        }
    });

    let mut screen = kiosk.screen.clone();
    for _ in 0..opts.transactions {
        let mut receipt = None;
        let cameras = Cameras {
            face: None,
            qr: qr.clone(),
            receipts: opts.data.clone(),
        };
        super::play(
            &scenario,
            &kiosk.events,
            &mut screen,
            None,
            cameras,
            &mut receipt,
        )
        .await
        .map_err(|e| start_err("the scripted citizen")(e))?;
    }
    let drained = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            kiosk.sync_wake.notify_one();
            if store.outbox_depth().unwrap_or(1) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    announcer.abort();
    kiosk.stop().await;
    drained
        .map_err(|_| start_err("draining the outbox")("central did not take every order".into()))?;
    println!("DRAINED");
    Ok(())
}
