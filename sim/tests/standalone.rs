//! `kiosk-central-sim` as integrators and the emulated device test run it:
//! its first line, HTTPS with a pinned CA, idempotency, per-key submission
//! counts, and orders that survive its restart.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::central::OrderSubmission;
use kiosk::store::testing::sample_order;
use kiosk_sim::central::Submissions;

struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/tls")
        .join(name)
}

/// Starts the program and reads its first line.
fn start(state: &Path, tls: bool, extra: &[&str]) -> Sim {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiosk-central-sim"));
    cmd.args(["--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if tls {
        cmd.arg("--tls-cert")
            .arg(tls_fixture("server.pem"))
            .arg("--tls-key")
            .arg(tls_fixture("server-key.pem"));
    }
    let mut child = cmd.spawn().expect("kiosk-central-sim starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    Sim { child, url }
}

fn client(sim: &Sim, token: Option<&str>) -> CentralClient {
    let mut cfg = ClientConfig::new(sim.url.clone());
    cfg.ca_cert_pem = Some(tls_fixture("ca.pem"));
    cfg.token = token.map(str::to_owned);
    cfg.timeout = Duration::from_secs(5);
    CentralClient::new(cfg).unwrap()
}

async fn submissions(sim: &Sim) -> Vec<Submissions> {
    // The control route, over the same pinned TLS.
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(tls_fixture("ca.pem")).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
        .get(format!("{}/sim/submissions", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_standalone_simulator_keeps_orders_across_restarts_and_counts_replays() {
    let state = tempfile::tempdir().unwrap();
    let order = sample_order("K-1A2B3C4D-20261204-0001");
    let submission = OrderSubmission::from_order(&order);

    let sim = start(state.path(), true, &[]);
    assert!(sim.url.starts_with("https://127.0.0.1:"), "{}", sim.url);
    let c = client(&sim, None);
    let first = c.submit_order(&submission, &order.local_id).await.unwrap();
    let replay = c.submit_order(&submission, &order.local_id).await.unwrap();
    assert_eq!(
        first.order_no, replay.order_no,
        "a replay gives the same number"
    );
    // Accepted before the kiosk's clock was synchronised: the clock said
    // 1970, and central dates the order by its own receipt time.
    let mut second = sample_order("K-1A2B3C4D-20261204-0002");
    second.accepted_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    second.time_unverified = true;
    let other = c
        .submit_order(&OrderSubmission::from_order(&second), &second.local_id)
        .await
        .unwrap();
    assert_ne!(first.order_no, other.order_no, "a new key, a new number");
    let received = other.received_at.expect("central's receipt time");
    assert!(
        other
            .order_no
            .starts_with(&received.format("%Y%m%d").to_string()),
        "{} is dated by central's clock, not the kiosk's 1970",
        other.order_no
    );
    drop(sim);

    // Restarted on the same folder: the orders and counts are still there.
    let sim = start(state.path(), true, &[]);
    let c = client(&sim, None);
    let again = c.submit_order(&submission, &order.local_id).await.unwrap();
    assert_eq!(
        again, first,
        "the same number and receipt time after a restart"
    );
    let counts = submissions(&sim).await;
    assert_eq!(
        counts,
        vec![
            Submissions {
                key: "K-1A2B3C4D-20261204-0001".into(),
                count: 3,
                order_no: Some(first.order_no.clone()),
                time_unverified: false,
                received_at: first.received_at,
            },
            Submissions {
                key: "K-1A2B3C4D-20261204-0002".into(),
                count: 1,
                order_no: Some(other.order_no.clone()),
                time_unverified: true,
                received_at: other.received_at,
            },
        ]
    );
    let progress = c.order_progress(&first.order_no).await.unwrap();
    assert_eq!(progress.order_no, first.order_no);
}

#[tokio::test]
async fn the_standalone_simulator_requires_its_token() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path(), true, &["--token", "fleet-token"]);
    let order = sample_order("K-1A2B3C4D-20261204-0001");
    let submission = OrderSubmission::from_order(&order);
    let refused = client(&sim, Some("wrong"))
        .submit_order(&submission, &order.local_id)
        .await
        .expect_err("a wrong token is refused");
    assert!(refused.to_string().contains("401"), "{refused}");
    client(&sim, Some("fleet-token"))
        .submit_order(&submission, &order.local_id)
        .await
        .expect("the right token is served");
}

#[test]
fn a_plain_simulator_says_http_and_a_bad_state_folder_is_a_clear_error() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path(), false, &[]);
    assert!(sim.url.starts_with("http://127.0.0.1:"), "{}", sim.url);
    drop(sim);
    std::fs::write(state.path().join("state.json"), b"{ not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk-central-sim"))
        .args(["--listen", "127.0.0.1:0", "--state"])
        .arg(state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("state.json"), "{err}");
}

/// `kiosk central check` (its library half) against the standalone
/// simulator over HTTPS with the pinned CA and a device token: every row
/// passes.
#[tokio::test]
async fn the_conformance_check_passes_against_the_standalone_simulator() {
    use kiosk::central::check::{run, table, CheckOptions, Outcome};
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path(), true, &["--token", "fleet-token"]);
    let opts = CheckOptions {
        url: sim.url.clone(),
        token: Some("fleet-token".into()),
        ca: Some(tls_fixture("ca.pem")),
    };
    let rows = run(&opts).await.unwrap();
    let printed = table(&sim.url, &rows);
    assert!(rows.iter().all(|r| r.ok()), "{printed}");
    for check in [
        "tls",
        "idempotency",
        "error shape: malformed body",
        "size limit: a 4 MiB body",
        "auth: a wrong device token",
        "GET /v1/updates",
        "POST /v1/devices/enroll",
        "POST /v1/devices/renew",
        "POST /v1/devices/audit",
        "GET /v1/fleet/targets",
    ] {
        let row = rows
            .iter()
            .find(|r| r.check == check)
            .unwrap_or_else(|| panic!("no {check} row: {printed}"));
        assert!(matches!(row.outcome, Outcome::Pass(_)), "{printed}");
    }
    assert!(rows.len() >= 14, "{printed}");
}

/// An update offer as a kiosk meets it: the rollout decides per device, the
/// bundle download is cut by the network and resumes with `Range` where it
/// stopped, and the bytes are the bundle's.
#[tokio::test]
async fn an_offered_bundle_downloads_and_resumes_after_a_cut() {
    use kiosk::central::RolloutDecision;
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path(), true, &["--token", "fleet-token"]);
    let bundle = state.path().join("v2.raucb");
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&bundle, &bytes).unwrap();
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(tls_fixture("ca.pem")).unwrap()).unwrap();
    let control = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let put = control
        .put(format!("{}/sim/update", sim.url))
        .json(&serde_json::json!({
            "version": "0.2.0+gtest", "bundle": bundle, "canary": ["K-CANARY01"],
            "percent": 0, "cut_after_bytes": 1_000_000
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let c = client(&sim, Some("fleet-token"));
    let waiting = c.update_offer("K-OTHER0001", "0.1.0").await.unwrap();
    assert_eq!(
        waiting.update.map(|o| o.rollout.decision),
        Some(RolloutDecision::Wait)
    );
    assert_eq!(
        c.update_offer("K-CANARY01", "0.2.0+gtest")
            .await
            .unwrap()
            .update,
        None
    );
    let offer = c
        .update_offer("K-CANARY01", "0.1.0")
        .await
        .unwrap()
        .update
        .unwrap();
    assert_eq!(offer.rollout.decision, RolloutDecision::Install);
    assert_eq!(offer.size, bytes.len() as u64);
    let file = state.path().join("download.raucb");
    // The first try is cut: what arrived is kept.
    let cut = c.download_to(&offer.bundle_url, &file, 0, offer.size).await;
    assert!(cut.is_err(), "{cut:?}");
    let have = std::fs::metadata(&file).unwrap().len();
    assert!(have > 0 && have <= 1_000_000, "{have}");
    // The second resumes from there and completes.
    let len = c
        .download_to(&offer.bundle_url, &file, have, offer.size)
        .await
        .unwrap();
    assert_eq!(len, offer.size);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(kiosk::update::sha256_file(&file).unwrap(), offer.sha256);
    let seen: serde_json::Value = control
        .get(format!("{}/sim/downloads", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen[0]["from"], 0);
    assert_eq!(seen[0]["status"], 200);
    assert_eq!(seen[1]["from"], have);
    assert_eq!(seen[1]["status"], 206);
    // Without the token, no bundle.
    let anon = control
        .get(format!("{}{}", sim.url, offer.bundle_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}
