//! Every demo scenario end to end: the pty card-reader twin, the ESC/POS
//! printer twin, the central simulator over loopback HTTP, the sled store on
//! disk and the status endpoint; then the outputs and the store are checked.
//!
//! Nothing personal in any log line: every scenario runs with every kiosk
//! log enabled (trace for the kiosk's own crates, debug for the rest), and
//! every line is scanned for the citizens' names, ID numbers, phone and
//! addresses; so are the outputs and the store's files, and no image may be
//! written anywhere but the receipts and the screenshots. The same scanner
//! is shown to catch a planted leak, so a clean run means something. (This
//! was a test binary of its own that ran every scenario a second time.)

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use kiosk_sim::demo::{self, DemoOptions, Summary};
use kiosk_testbed::{files_below, personal_data_in, personal_data_in_text};

/// Every log line, as the formatter wrote it, since the last `clear`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn clear(&self) {
        if let Ok(mut b) = self.0.lock() {
            b.clear();
        }
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's log capture, every level on, installed once.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let sink = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(
                "debug,kiosk=trace,kiosk_drivers=trace,kiosk_testbed=trace,sled=info,hyper=info,h2=info,reqwest=debug,tract_core=info,tract_onnx=info",
            )
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG")
        || (bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP")
}

/// Runs one scenario (one at a time, see `ONE_AT_A_TIME`, so the captured
/// lines are this scenario's) and checks that nothing it logged or wrote is
/// personal, and that it wrote no image but the receipts and the screens.
/// Whether it reached its expected outcome is each test's business.
async fn run(name: &str) -> (Summary, tempfile::TempDir) {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let logs = logs();
    logs.clear();
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = demo::run(DemoOptions {
        scenario: name.to_string(),
        out: dir.path().join("out"),
        data: Some(dir.path().join("data")),
    })
    .await
    .expect("the demo runs");
    let log = logs.text();
    assert!(
        log.lines().count() > 10,
        "{name}: logging is on ({} lines)",
        log.lines().count()
    );
    let leaked: Vec<&str> = log
        .lines()
        .filter(|l| !personal_data_in_text(l).is_empty())
        .collect();
    assert!(
        leaked.is_empty(),
        "{name}: personal data in log lines: {leaked:#?}"
    );
    assert_eq!(personal_data_in(dir.path()), vec![], "{name}");
    // Receipts and the touchscreen's screenshots are the outputs asked for
    // (the screens draw no camera image); nothing else may be one.
    let receipts = dir.path().join("out").join("receipts");
    let screens = dir.path().join("out").join("screens");
    let images: Vec<_> = files_below(dir.path())
        .into_iter()
        .filter(|f| !f.starts_with(&receipts) && !f.starts_with(&screens))
        .filter(|f| std::fs::read(f).map(|b| is_image(&b)).unwrap_or(false))
        .collect();
    assert!(images.is_empty(), "{name}: images written: {images:?}");
    (summary, dir)
}

/// The scanner is not blind: a planted leak through the same pipeline is
/// found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_scan_finds_a_planted_leak() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let logs = logs();
    logs.clear();
    let (name, id) = ("张伟", "330106199001010026");
    tracing::info!(applicant = name, "planted: a careless log line");
    tracing::debug!("planted: id {id}");
    let log = logs.text();
    let planted: Vec<&str> = log
        .lines()
        .filter(|l| !personal_data_in_text(l).is_empty())
        .collect();
    assert_eq!(planted.len(), 2, "{log}");
}

/// Every scenario the demo knows is run by a test of this file, so every
/// one is checked, its logs included.
#[test]
fn every_scenario_is_run_here() {
    let this = include_str!("scenarios.rs");
    let missing: Vec<&str> = demo::scenarios::all()
        .iter()
        .map(|s| s.name)
        .filter(|n| {
            !this.contains(&format!("run(\"{n}\")")) && !this.contains(&format!("passes(\"{n}\")"))
        })
        .collect();
    assert!(missing.is_empty(), "scenarios no test runs: {missing:?}");
}

fn check_outputs(summary: &Summary, dir: &Path) {
    assert!(
        summary.passed,
        "{}: {:?}",
        summary.scenario, summary.failures
    );
    let out = dir.join("out");
    let printed = demo::scenarios::by_name(&summary.scenario).is_some_and(|s| s.expect.printed);
    for o in summary.orders.iter().filter(|_| printed) {
        let escpos = std::fs::read(out.join("receipts").join(format!("{}.escpos", o.local_id)))
            .expect("escpos written");
        assert_eq!(&escpos[..2], &[0x1B, 0x40], "starts with ESC @");
        assert!(
            escpos.windows(3).any(|w| w == [0x1D, 0x76, 0x30]),
            "contains a GS v 0 raster"
        );
        assert!(
            escpos.windows(2).any(|w| w == [0x1D, 0x56]),
            "contains a cut"
        );
        let png = std::fs::read(out.join("receipts").join(format!("{}.png", o.local_id)))
            .expect("png written");
        assert_eq!(&png[1..4], b"PNG");
    }
    let transcript = std::fs::read_to_string(out.join("transcript.jsonl")).expect("transcript");
    let lines: Vec<serde_json::Value> = transcript
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.len() >= 8, "one line per step");
    for l in &lines {
        for k in ["t", "event", "from", "state"] {
            assert!(l.get(k).is_some(), "{k} in {l}");
        }
    }
    let summary_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary_json["passed"], true);
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("status.json")).expect("status"))
            .expect("json");
    assert_eq!(status["outbox_depth"], 0);
    // What a fleet's Prometheus would have scraped at the end agrees.
    let metrics = std::fs::read_to_string(out.join("metrics.txt")).expect("metrics.txt");
    assert!(
        metrics.lines().any(|l| l == "kiosk_outbox_depth 0"),
        "{metrics}"
    );
    assert!(metrics.lines().any(|l| l == "kiosk_up 1"), "{metrics}");
    // Nothing personal in clear: not in the outputs (the receipt PNG is an
    // image; its text is masked by construction), not in the store's files.
    assert_eq!(personal_data_in(&out), vec![], "outputs");
    assert_eq!(personal_data_in(&dir.join("data")), vec![], "store files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_idcard() {
    let (s, dir) = run("new-connection-idcard").await;
    check_outputs(&s, dir.path());
    let o = &s.orders[0];
    assert!(o.central_no.is_some());
    assert_eq!(o.rating, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_documents() {
    let (s, dir) = run("missing-documents").await;
    check_outputs(&s, dir.path());
    assert!(s.orders[0].deadline.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_capacity() {
    let (s, dir) = run("over-capacity").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insists_high_voltage() {
    let (s, dir) = run("insists-high-voltage").await;
    check_outputs(&s, dir.path());
    assert!(s.orders[0].low_voltage_offered_and_declined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_park() {
    let (s, dir) = run("micro-park").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_pulled() {
    let (s, dir) = run("card-pulled").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_is_accepted_locally_and_delivered_exactly_once() {
    let (s, dir) = run("offline").await;
    check_outputs(&s, dir.path());
    assert_eq!(s.central_orders, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_out_of_paper_keeps_the_order_and_prints_nothing() {
    let (s, dir) = run("printer-out-of-paper").await;
    check_outputs(&s, dir.path());
    assert_eq!(s.orders.len(), 1);
    assert!(
        s.orders[0].central_no.is_some(),
        "the order stands and syncs"
    );
    let receipts = dir.path().join("out/receipts");
    assert_eq!(
        std::fs::read_dir(receipts).expect("dir").count(),
        0,
        "nothing printed"
    );
}

/// Scenarios run one at a time: each renders its screens, and a face
/// scenario runs the models on its own engine thread; on a 2-core machine
/// several at once starve the liveness challenge of frames (a mismatch then
/// ends as a liveness timeout).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn face_material() -> bool {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let ok = shared.join("models").is_dir() && shared.join("faces/pairs").is_dir();
    if !ok {
        kiosk_drivers::test_skip::skip("face models and test photos (../shared) absent");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_face() {
    if !face_material() {
        return;
    }
    let (s, dir) = run("new-connection-face").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn face_declined_is_served_by_card() {
    if !face_material() {
        return;
    }
    let (s, dir) = run("face-declined").await;
    check_outputs(&s, dir.path());
    let t = std::fs::read_to_string(dir.path().join("out/transcript.jsonl")).expect("transcript");
    assert_eq!(
        t.matches("\"state\":\"face-consent\"").count(),
        1,
        "face consent asked once, never again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoof_photo_fails_liveness() {
    if !face_material() {
        return;
    }
    let (s, dir) = run("spoof-photo").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn face_mismatch_offers_the_card_after_three_attempts() {
    if !face_material() {
        return;
    }
    let (s, dir) = run("face-mismatch").await;
    check_outputs(&s, dir.path());
    let t = std::fs::read_to_string(dir.path().join("out/transcript.jsonl")).expect("transcript");
    assert_eq!(t.matches("\"event\":\"face-failed\"").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_unplugged_mid_check() {
    if !face_material() {
        return;
    }
    let (s, dir) = run("camera-unplugged").await;
    check_outputs(&s, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_scenario_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = demo::run(DemoOptions {
        scenario: "no-such".into(),
        out: dir.path().to_path_buf(),
        data: None,
    })
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("no-such"));
}

/// The businesses beyond the new connection, each to its expected outcome.
mod businesses {
    use super::*;

    async fn passes(name: &str) -> (Summary, tempfile::TempDir) {
        let (summary, dir) = run(name).await;
        check_outputs(&summary, dir.path());
        (summary, dir)
    }

    fn receipt_png(dir: &Path, id: &str) -> Vec<u8> {
        std::fs::read(dir.join("out").join("receipts").join(format!("{id}.png")))
            .expect("receipt png")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn eid_new_connection() {
        let (s, _dir) = passes("eid-new-connection").await;
        assert_eq!(s.orders.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn call_staff() {
        passes("call-staff").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn capacity_increase() {
        let (s, _dir) = passes("capacity-increase").await;
        assert_eq!(s.orders[0].business, "capacity-increase");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn name_change() {
        let (s, _dir) = passes("name-change").await;
        assert_eq!(
            s.orders[0].missing,
            vec![kiosk::model::CertificateKind::PropertyProof]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transfer() {
        passes("transfer").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closure() {
        passes("closure").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn company_new_connection() {
        passes("company-new-connection").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushed_joint_transfer() {
        passes("pushed-joint-transfer").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pay_bill_prints_the_invoice() {
        let (s, dir) = passes("pay-bill").await;
        assert!(s.orders.is_empty(), "a payment is not an order");
        let png = receipt_png(dir.path(), "INV000001");
        assert_eq!(&png[1..4], b"PNG");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pay_timeout_is_never_paid() {
        let (s, dir) = passes("pay-timeout").await;
        assert!(s.orders.is_empty());
        let receipts: Vec<_> = std::fs::read_dir(dir.path().join("out").join("receipts"))
            .expect("receipts dir")
            .collect();
        assert!(receipts.is_empty(), "nothing printed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn progress_query_scans_the_receipt() {
        passes("progress-query").await;
    }
}
