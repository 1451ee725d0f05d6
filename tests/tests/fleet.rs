//! Fleets on Prometheus: the alerting rules use only series the kiosk's
//! `/metrics` really emits, promtool's unit tests of the rules pass, and a
//! real Prometheus on loopback, configured from `docs/fleet/prometheus.yml`,
//! finds enrolled kiosks at central and scrapes them over mutual TLS.
//! Enrollment's renewal and revocation are tested here too. The Prometheus
//! parts need Debian's `prometheus` package (installed by
//! `scripts/setup.sh`); without it they say so and stop.

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
    s.clock_synchronized = Some(true);
    s.identity.enrolled = true;
    s.identity.not_after = Some(Utc::now() + chrono::Duration::days(60));
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

/// The TLS material of the loopback central (its CA is pinned by kiosks).
fn central_tls(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/tls")
        .join(name)
}

/// Central over TLS (fleet CA client certificates accepted) with
/// `codes` for enrollment.
async fn central(codes: &[&str]) -> kiosk_sim::central::SimHandle {
    let sim = kiosk_sim::central::SimCentral::start_tls(
        kiosk_sim::central::SimState::new(7),
        &std::fs::read(central_tls("server.pem")).expect("cert"),
        &std::fs::read(central_tls("server-key.pem")).expect("key"),
    )
    .await
    .expect("central starts");
    for c in codes {
        sim.control.add_enrollment_code(c);
    }
    sim
}

/// A kiosk's client of central, as `kiosk run` builds it.
fn client_of(sim: &kiosk_sim::central::SimHandle) -> kiosk::central::client::CentralClient {
    let mut cc = kiosk::central::client::ClientConfig::new(sim.url());
    cc.ca_cert_pem = Some(central_tls("ca.pem"));
    kiosk::central::client::CentralClient::new(cc).expect("client")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    l.local_addr().expect("addr").port()
}

/// An enrolled kiosk's status endpoint, built as `kiosk run` builds it
/// from its identity ([`kiosk::app::status_security`]).
struct EnrolledKiosk {
    addr: std::net::SocketAddr,
    identity: kiosk::enroll::Identity,
    _snapshot: watch::Sender<Snapshot>,
    _data: tempfile::TempDir,
}

async fn enrolled_kiosk(
    sim: &kiosk_sim::central::SimHandle,
    device_id: &str,
    code: &str,
    outbox: u64,
) -> EnrolledKiosk {
    let data = tempfile::tempdir().expect("tempdir");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let identity = kiosk::enroll::enroll(
        &client_of(sim),
        data.path(),
        device_id,
        code,
        Some(&addr.to_string()),
    )
    .await
    .expect("enrolled");
    let security = kiosk::app::status_security(
        &kiosk::config::Config::default(),
        Some(&identity),
        Some("a token that must not be asked for".into()),
    )
    .expect("TLS");
    assert!(
        security.token.is_none(),
        "an enrolled kiosk asks for no token"
    );
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let mut snapshot = full_snapshot();
    snapshot.outbox_depth = outbox;
    snapshot.identity = kiosk::enroll::IdentityReport::of(Some(&identity));
    let (tx, rx) = watch::channel(snapshot);
    let acceptor = security.tls.expect("mutual TLS");
    tokio::spawn(async move {
        let _ =
            kiosk::status_tls::serve(listener, acceptor, rx, None, None, std::future::pending())
                .await;
    });
    EnrolledKiosk {
        addr,
        identity,
        _snapshot: tx,
        _data: data,
    }
}

/// `up` for each (job, kiosk_id) Prometheus scraped, from its API.
async fn up_by_kiosk(api: std::net::SocketAddr) -> Vec<(String, String, String)> {
    let body = get(api, "/api/v1/query?query=up", None).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let mut seen: Vec<(String, String, String)> = v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    (
                        s["metric"]["job"].as_str().unwrap_or("").to_owned(),
                        s["metric"]["kiosk_id"].as_str().unwrap_or("").to_owned(),
                        s["value"][1].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    seen.sort();
    seen
}

/// Issue 16: two kiosks enroll with one-time codes; a real Prometheus,
/// configured from `docs/fleet/prometheus.yml`, finds them through
/// central's targets (http_sd) and scrapes them over mutual TLS; the same
/// job without the scraper's certificate gets nothing; and central drops
/// a revoked kiosk from the targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_finds_enrolled_kiosks_at_central_and_scrapes_them_over_mutual_tls() {
    let Some(prometheus) = tool("prometheus") else {
        kiosk_drivers::test_skip::skip("prometheus absent (Debian package prometheus)");
        return;
    };
    let sim = central(&["CODE-ONE-1111", "CODE-TWO-2222"]).await;
    let one = enrolled_kiosk(&sim, "K-FLEET001", "CODE-ONE-1111", 7).await;
    let two = enrolled_kiosk(&sim, "K-FLEET002", "CODE-TWO-2222", 3).await;
    assert_eq!(one.identity.device_id, "K-FLEET001");
    // Each code worked once.
    let again = kiosk::enroll::enroll(
        &client_of(&sim),
        tempfile::tempdir().expect("tempdir").path(),
        "K-FLEET003",
        "CODE-ONE-1111",
        None,
    )
    .await;
    assert!(
        matches!(&again, Err(kiosk::enroll::EnrollError::Central(kiosk::central::CentralError::Rejected { status: 403, code, .. })) if code == "enrollment-code-refused"),
        "{again:?}"
    );

    // The shipped prometheus.yml made local (kiosk_sim::fleet), beside the
    // scraper's certificate and the CAs.
    let dir = tempfile::tempdir().expect("tempdir");
    kiosk_sim::fleet::write_lab_scraper(
        dir.path(),
        &sim.control.fleet_ca_pem().expect("ca"),
        &sim.control.issue_scraper_certificate().expect("scraper"),
        &central_tls("ca.pem"),
        &sim.url(),
    )
    .expect("lab files");
    // The shipped config, made local, is valid (promtool reads every file
    // it names).
    succeeds(
        Command::new(tool("promtool").expect("promtool comes with prometheus"))
            .args(["check", "config", "prometheus.yml"])
            .current_dir(dir.path()),
    );

    // Without the scraper's certificate a kiosk answers nothing at all.
    let plain = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    for k in [&one, &two] {
        let r = plain
            .get(format!("https://{}/metrics", k.addr))
            .send()
            .await;
        assert!(r.is_err(), "answered without a client certificate: {r:?}");
    }

    let port = free_port();
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
    let want = vec![
        (
            "kiosk".to_string(),
            "K-FLEET001".to_string(),
            "1".to_string(),
        ),
        ("kiosk".into(), "K-FLEET002".into(), "1".into()),
        ("no-cert".into(), "K-FLEET001".into(), "0".into()),
        ("no-cert".into(), "K-FLEET002".into(), "0".into()),
    ];
    let mut last = Vec::new();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if tokio::net::TcpStream::connect(api).await.is_err() {
            continue;
        }
        last = up_by_kiosk(api).await;
        if last == want {
            break;
        }
    }
    assert_eq!(last, want, "Prometheus' view of the fleet");
    let depth = get(
        api,
        "/api/v1/query?query=kiosk_outbox_depth%7Bjob%3D%22kiosk%22%7D",
        None,
    )
    .await;
    assert!(
        depth.contains("\"7\"") && depth.contains("\"3\""),
        "{depth}"
    );
    let expiry = get(
        api,
        "/api/v1/query?query=kiosk_certificate_expiry_timestamp_seconds",
        None,
    )
    .await;
    assert!(
        expiry.contains(&format!("\"{}\"", one.identity.not_after.timestamp())),
        "{expiry}"
    );

    // A stolen kiosk: revoked, it drops out of the targets.
    assert!(sim.control.revoke("K-FLEET002"));
    let mut targets = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let body = get(api, "/api/v1/targets?state=active", None).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        targets = v["data"]["activeTargets"]
            .as_array()
            .map(|a| {
                let mut t: Vec<String> = a
                    .iter()
                    .filter(|t| t["labels"]["job"] == "kiosk")
                    .map(|t| t["labels"]["kiosk_id"].as_str().unwrap_or("").to_owned())
                    .collect();
                t.sort();
                t
            })
            .unwrap_or_default();
        if targets == ["K-FLEET001"] {
            break;
        }
    }
    assert_eq!(
        targets,
        ["K-FLEET001"],
        "the revoked kiosk is still a target"
    );
}

/// Renewal before expiry: a kiosk with a short-lived certificate renews it
/// (a new key), central and the status endpoint take the new one, and
/// central counts two certificates. Then central revokes the kiosk: its
/// calls are refused as revoked, nothing it holds is lost, and `/status`
/// raises the alarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_renews_its_certificate_before_expiry_and_a_revoked_one_is_refused() {
    let sim = central(&["CODE-RENEW-01"]).await;
    sim.control.set_certificate_lifetime(Duration::from_secs(9));
    let data = tempfile::tempdir().expect("tempdir");
    let client = std::sync::Arc::new(client_of(&sim));
    let first = kiosk::enroll::enroll(&client, data.path(), "K-RENEW001", "CODE-RENEW-01", None)
        .await
        .expect("enrolled");
    client.set_identity(first.client_pem()).expect("identity");
    client
        .catalog()
        .await
        .expect("central knows the kiosk by its certificate");
    let served = kiosk::status_tls::ServedCert::from_pem(
        first.certificate_pem.as_bytes(),
        first.key_pem().as_bytes(),
    )
    .expect("served");
    let (report_tx, mut report_rx) =
        watch::channel(kiosk::enroll::IdentityReport::of(Some(&first)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let renewal = kiosk::enroll::Renewal {
        central: client.clone(),
        data_dir: data.path().to_owned(),
        status_address: None,
        served: Some(served.clone()),
        every: Duration::from_millis(500),
        report: report_tx,
    };
    let task = tokio::spawn(renewal.run(first.clone(), stop_rx));
    tokio::time::timeout(
        Duration::from_secs(30),
        report_rx.wait_for(|r| r.not_after > Some(first.not_after)),
    )
    .await
    .expect("renewed within 30 s")
    .expect("report");
    let second = kiosk::enroll::Identity::load(data.path())
        .expect("reads")
        .expect("kept");
    assert_ne!(second.key_pem(), first.key_pem(), "a new key");
    assert!(second.not_after > first.not_after);
    client
        .catalog()
        .await
        .expect("central takes the new certificate");
    assert!(
        sim.control.fleet().devices["K-RENEW001"].certificates >= 2,
        "central signed the renewal"
    );

    // Stolen: revoked. Calls are refused as such, and the next renewal
    // attempt reports it.
    assert!(sim.control.revoke("K-RENEW001"));
    match client.catalog().await {
        Err(kiosk::central::CentralError::Rejected {
            status: 401, code, ..
        }) => {
            assert_eq!(code, "certificate-revoked")
        }
        other => panic!("{other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(30), report_rx.wait_for(|r| r.revoked))
        .await
        .expect("the renewal task saw the revocation")
        .expect("report");
    let alarms = report_rx.borrow().alarms(Utc::now());
    assert!(alarms.iter().any(|a| a.contains("revoked")), "{alarms:?}");
    let _ = stop_tx.send(true);
    let _ = task.await;
    assert_eq!(
        kiosk::enroll::Identity::load(data.path())
            .expect("reads")
            .map(|i| i.not_after),
        Some(report_rx.borrow().not_after.expect("enrolled")),
        "the identity kept is the last one central signed"
    );
}

/// Records central's anchor of the kiosk's audit chain has seen, then an
/// attacker with the card: the log cut short (head rewritten to match, so
/// it verifies on the card), the store deleted, the whole chain rewritten
/// with the key. Each is an audit gap at central.
#[tokio::test]
async fn central_finds_a_truncated_deleted_or_rewritten_audit_chain() {
    use kiosk::runtime::sync::report_audit;
    use kiosk::store::testing::sample_order;
    use kiosk::store::Store;
    use std::sync::Arc;
    const ID: &str = "K-AUDIT001";
    let sim = central(&["CODE-AUDIT-0001"]).await;
    let data = tempfile::tempdir().expect("tempdir");
    let identity =
        kiosk::enroll::enroll(&client_of(&sim), data.path(), ID, "CODE-AUDIT-0001", None)
            .await
            .expect("enrolled");
    let key = identity.audit_key().expect("central gave an audit key");
    assert_eq!(
        sim.control.fleet().devices[ID].audit_key.as_deref(),
        Some(key.to_hex().as_str()),
        "central keeps the key it gave"
    );
    let mut cc = kiosk::central::client::ClientConfig::new(sim.url());
    cc.ca_cert_pem = Some(central_tls("ca.pem"));
    cc.identity_pem = Some(identity.client_pem());
    let client = kiosk::central::client::CentralClient::new(cc).expect("client");
    let open = |dir: &Path| {
        let store = Arc::new(Store::open(dir).expect("store"));
        store.set_audit_key(Some(key.clone()));
        store
    };
    let accept = |store: &Store, n: std::ops::RangeInclusive<u32>| {
        for i in n {
            store
                .accept(&sample_order(&format!("{ID}-20261205-{i:04}")))
                .expect("accept");
        }
    };
    let gaps = || {
        sim.control
            .fleet()
            .audits
            .get(ID)
            .map(|t| t.gaps.iter().map(|g| g.reason.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };

    // The chain grows and central follows it, proof by proof.
    let store = open(data.path());
    accept(&store, 1..=3);
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(ack.accepted && ack.gap.is_none(), "{ack:?}");
    assert_eq!(ack.seen.seq, 3);
    accept(&store, 4..=6);
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(ack.gap.is_none(), "{ack:?}");
    assert_eq!(
        (ack.seen.seq, store.audit_central_seq().expect("seq")),
        (6, Some(6))
    );
    assert!(store
        .audit_records()
        .expect("records")
        .iter()
        .all(|r| r.keyed));
    // Another kiosk's certificate cannot report for this one.
    let other = kiosk::central::AuditHeadReport {
        device_id: "K-AUDIT002".into(),
        head: store.audit_head().expect("head"),
        anchor: None,
    };
    assert!(matches!(
        client.report_audit(&other).await,
        Err(kiosk::central::CentralError::Rejected { status: 403, .. })
    ));
    drop(store);

    // Cut short by two records, the head rewritten to match: the card
    // verifies, central does not agree.
    {
        let db = sled::open(data.path().join("store")).expect("sled");
        let audit = db.open_tree("audit").expect("audit");
        let meta = db.open_tree("meta").expect("meta");
        audit.remove(6u64.to_be_bytes()).expect("rm");
        audit.remove(5u64.to_be_bytes()).expect("rm");
        let four: kiosk::store::AuditRecord =
            serde_json::from_slice(&audit.get(4u64.to_be_bytes()).expect("get").expect("4"))
                .expect("parse");
        let mut head = 4u64.to_be_bytes().to_vec();
        head.extend(hex::decode(&four.hash).expect("hex"));
        meta.insert("audit/head", head).expect("head");
        db.flush().expect("flush");
    }
    let store = open(data.path());
    assert!(
        store.audit_verify().expect("verify").is_ok(),
        "a clean cut verifies on the card"
    );
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(
        ack.gap
            .as_deref()
            .is_some_and(|g| g.contains("records were removed")),
        "{ack:?}"
    );
    assert_eq!(gaps().len(), 1);
    drop(store);

    // The store deleted, and a new order taken.
    std::fs::remove_dir_all(data.path().join("store")).expect("rm store");
    let store = open(data.path());
    accept(&store, 7..=7);
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(
        ack.gap
            .as_deref()
            .is_some_and(|g| g.contains("central saw record 4")),
        "{ack:?}"
    );
    drop(store);

    // Rewritten whole with the key (a forger who holds the card), longer
    // than what central saw: the record central saw is not the same.
    let forged = tempfile::tempdir().expect("tempdir");
    {
        let f = open(forged.path());
        accept(&f, 50..=53);
    }
    std::fs::remove_dir_all(data.path().join("store")).expect("rm store");
    let copy = Command::new("cp")
        .args(["-a"])
        .arg(forged.path().join("store"))
        .arg(data.path().join("store"))
        .status()
        .expect("cp");
    assert!(copy.success());
    std::fs::copy(
        forged.path().join("keys/store.key"),
        data.path().join("keys/store.key"),
    )
    .expect("the forged store's key");
    let store = open(data.path());
    assert!(
        store.audit_verify().expect("verify").is_ok(),
        "the forgery verifies on the card"
    );
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(
        ack.gap
            .as_deref()
            .is_some_and(|g| g.contains("record 1 is not the one central saw")),
        "{ack:?}"
    );
    let all = gaps();
    assert_eq!(all.len(), 3, "{all:?}");
    // Central kept them across its answers; the kiosk carries on.
    let ack = report_audit(&store, &client, ID).await.expect("report");
    assert!(ack.gap.is_none(), "{ack:?}");
}
