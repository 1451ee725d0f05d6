//! Crash safety: a child process runs the kiosk's transactions against a
//! central simulator that outlives it and is killed with SIGKILL at seeded
//! random moments, again and again, on the same data directory. At the end
//! a last child drains the outbox, and against central:
//! - every order a citizen was told "accepted" exists there exactly once;
//! - central holds nothing the store does not (nothing invented);
//! - every stored order is synced, and the audit chain verifies.
//!
//! `KIOSK_CRASH_KILLS` sets the number of kills (default 20, the CI run);
//! the benchmark-style run is `KIOSK_CRASH_KILLS=200`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kiosk::store::{audit_verify_dir, Store};
use kiosk_sim::central::SimCentral;
use rand::{Rng, SeedableRng};

fn worker(central: &str, data: &std::path::Path, transactions: usize) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crash-worker"));
    c.args([
        central,
        &data.display().to_string(),
        &transactions.to_string(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let kills: usize = std::env::var("KIOSK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("KIOSK_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x004B_105C);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sim = SimCentral::start(7).await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let url = sim.url();

    let mut told: BTreeSet<String> = BTreeSet::new();
    let started = Instant::now();
    for _ in 0..kills {
        let mut child = worker(&url, &data, 1000).spawn().expect("spawn worker");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Seeded kill point: somewhere in the first few transactions.
        let after = Duration::from_millis(rng.gen_range(50..2_500));
        std::thread::sleep(after);
        // SIGKILL: no destructor, no flush, like pulling the plug.
        child.kill().expect("kill");
        let _ = child.wait();
        let _ = reader.join();
        for line in rx.try_iter() {
            if let Some(id) = line.strip_prefix("ACCEPTED ") {
                told.insert(id.to_string());
            }
        }
    }

    // A last run delivers whatever the kills left in the outbox.
    let out = tokio::task::spawn_blocking({
        let (url, data) = (url.clone(), data.clone());
        move || worker(&url, &data, 0).output()
    })
    .await
    .expect("join")
    .expect("drain worker");
    assert!(out.status.success(), "the drain run failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("DRAINED"));

    let store = Store::open(&data).expect("store opens after the kills");
    let stored: BTreeSet<String> = store
        .orders()
        .expect("orders")
        .into_iter()
        .map(|o| {
            assert!(o.central_no.is_some(), "{} not synced", o.local_id);
            o.local_id
        })
        .collect();
    drop(store);
    let mut at_central: BTreeMap<String, usize> = BTreeMap::new();
    for (key, _) in sim.control.orders_received() {
        *at_central.entry(key).or_default() += 1;
    }
    let lost: Vec<_> = told
        .iter()
        .filter(|id| !at_central.contains_key(*id))
        .collect();
    let duplicated: Vec<_> = at_central.iter().filter(|(_, n)| **n > 1).collect();
    let invented: Vec<_> = at_central.keys().filter(|k| !stored.contains(*k)).collect();
    eprintln!(
        "crash harness: {kills} kills in {:.0?}, {} orders told accepted, {} stored, {} at central, {} lost, {} duplicated, {} invented",
        started.elapsed(),
        told.len(),
        stored.len(),
        at_central.len(),
        lost.len(),
        duplicated.len(),
        invented.len()
    );
    assert!(!told.is_empty(), "no transaction finished between kills");
    assert!(lost.is_empty(), "told accepted but lost: {lost:?}");
    assert!(
        duplicated.is_empty(),
        "duplicated at central: {duplicated:?}"
    );
    assert!(
        invented.is_empty(),
        "at central but not in the store: {invented:?}"
    );
    assert!(told.iter().all(|id| stored.contains(id)));
    let report = audit_verify_dir(&data, None).expect("audit");
    assert!(report.is_ok(), "audit chain: {report}");
}
