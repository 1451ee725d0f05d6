//! Fleets on Prometheus: the alerting rules use only series the kiosk's
//! `/metrics` really emits, promtool's unit tests of the rules pass, and a
//! real Prometheus on loopback scrapes a running status endpoint with the
//! bearer token. The Prometheus parts need Debian's `prometheus` package
//! (installed by `scripts/setup.sh`); without it they say so and stop.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use kiosk::status::{serve, Snapshot};
use kiosk_drivers::Health;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

fn fleet_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/fleet")
}

/// A snapshot in which every optional series is present.
fn full_snapshot() -> Snapshot {
    let mut s = Snapshot::new("0.1.0", Utc::now());
    s.devices.insert("printer".into(), Health::Ok);
    s.devices.insert("card_reader".into(), Health::Ok);
    s.devices.insert("camera".into(), Health::Ok);
    s.face_self_test_ok = Some(true);
    s.tamper_open = Some(false);
    s.last_sync_ok = Some(Utc::now());
    s.outbox_depth = 1;
    s.frames_total.insert("camera".into(), 120);
    s.clock_offset_s = Some(-0.4);
    s
}

/// `GET path` over plain HTTP/1.1, the body back.
async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

async fn status_endpoint(token: &str) -> (std::net::SocketAddr, watch::Sender<Snapshot>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = watch::channel(full_snapshot());
    let token = token.to_string();
    tokio::spawn(async move {
        let _ = serve(listener, rx, Some(token), None, std::future::pending()).await;
    });
    (addr, tx)
}

#[tokio::test]
async fn alert_rules_use_only_series_the_kiosk_emits() {
    let (addr, _tx) = status_endpoint("fleet").await;
    let metrics = get(addr, "/metrics", Some("fleet")).await;
    let emitted: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    assert!(emitted.contains("kiosk_up"), "{metrics}");
    let rules = std::fs::read_to_string(fleet_dir().join("alerts.yml")).expect("alerts.yml");
    let dashboard =
        std::fs::read_to_string(fleet_dir().join("grafana-dashboard.json")).expect("dashboard");
    let mut used = BTreeSet::new();
    for text in [&rules, &dashboard] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find("kiosk_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            used.insert(name);
        }
    }
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(
            emitted.contains(name.as_str()),
            "`{name}` is used by the rules or dashboard but /metrics never emits it"
        );
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs a command and fails the test with its output unless it succeeds.
fn succeeds(cmd: &mut Command) {
    succeeds_reading(cmd, b"");
}

/// [`succeeds`], with `input` on the command's stdin.
fn succeeds_reading(cmd: &mut Command, input: &[u8]) {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write its input");
    let out = child.wait_with_output().expect("the command ends");
    assert!(
        out.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(input)
    );
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    let Some(promtool) = tool("promtool") else {
        kiosk_drivers::test_skip::skip("promtool absent (Debian package prometheus)");
        return;
    };
    succeeds(
        Command::new(&promtool)
            .args(["test", "rules", "alerts_test.yml"])
            .current_dir(fleet_dir()),
    );
    // The shipped scrape config is valid once its token file exists.
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("kiosk.token");
    std::fs::write(&token, "t").expect("token");
    let config = std::fs::read_to_string(fleet_dir().join("prometheus.yml"))
        .expect("prometheus.yml")
        .replace("/etc/prometheus/kiosk.token", &token.display().to_string());
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("write");
    std::fs::copy(
        fleet_dir().join("alerts.yml"),
        dir.path().join("alerts.yml"),
    )
    .expect("copy");
    succeeds(
        Command::new(&promtool)
            .args(["check", "config", "prometheus.yml"])
            .current_dir(dir.path()),
    );
}

/// `promtool check metrics` (Prometheus' own linter: types, suffixes,
/// HELP lines) accepts what `/metrics` serves, every optional series in.
#[tokio::test]
async fn promtool_accepts_what_metrics_serves() {
    let Some(promtool) = tool("promtool") else {
        kiosk_drivers::test_skip::skip("promtool absent (Debian package prometheus)");
        return;
    };
    let (addr, tx) = status_endpoint("fleet").await;
    tx.send_modify(|s| {
        s.parked = 1;
        s.system.last_update = Some(kiosk::update::LastUpdate {
            version: "1.2.0".into(),
            outcome: kiosk::update::Outcome::Installed,
            detail: String::new(),
            at: Utc::now(),
        });
    });
    let metrics = get(addr, "/metrics", Some("fleet")).await;
    assert!(metrics.contains("kiosk_parked_orders 1"), "{metrics}");
    succeeds_reading(
        Command::new(&promtool).args(["check", "metrics"]),
        metrics.as_bytes(),
    );
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_kiosk_with_its_token() {
    let Some(prometheus) = tool("prometheus") else {
        kiosk_drivers::test_skip::skip("prometheus absent (Debian package prometheus)");
        return;
    };
    let (kiosk, tx) = status_endpoint("scrape-token").await;
    tx.send_modify(|s| s.outbox_depth = 7);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kiosk\n    authorization:\n      type: Bearer\n      credentials: scrape-token\n    static_configs:\n      - targets: ['{kiosk}']\n"
        ),
    )
    .expect("config");
    let _prometheus = Killed(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let api: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut last = String::new();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if tokio::net::TcpStream::connect(api).await.is_err() {
            continue;
        }
        last = get(api, "/api/v1/query?query=kiosk_outbox_depth", None).await;
        let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
        if v["data"]["result"][0]["value"][1] == "7" {
            let up = get(api, "/api/v1/query?query=up", None).await;
            assert!(up.contains("\"1\""), "{up}");
            return;
        }
    }
    panic!("Prometheus never scraped the kiosk: {last}");
}
