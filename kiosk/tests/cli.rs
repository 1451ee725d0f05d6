//! The `kiosk` binary's interface, as scripts and technicians use it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kiosk_drivers::id_card::sim::CardFixture;

fn kiosk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(args)
        .output()
        .expect("kiosk runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn card_decode_prints_the_card_masked_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("reply.bin");
    std::fs::write(&f, CardFixture::resident_example().reply_frame()).expect("write");
    let path = f.to_str().expect("utf-8 path");

    let out = kiosk(&["card", "decode", path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let s = json.to_string();
    assert!(s.contains("3301**********0026"), "{s}");
    assert!(
        !s.contains("330106199001010026"),
        "clear number leaked: {s}"
    );

    let out = kiosk(&["card", "decode", path, "--unmasked"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("330106199001010026"));
}

fn decode_fails(bytes: &[u8], reason: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("reply.bin");
    std::fs::write(&f, bytes).expect("write");
    let out = kiosk(&["card", "decode", f.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{reason}");
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.to_lowercase().contains(reason), "{reason} in {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn card_decode_exits_2_with_a_reason_on_bad_replies() {
    let good = CardFixture::resident_example().reply_frame();
    let mut bad_sum = good.clone();
    let last = bad_sum.len() - 1;
    bad_sum[last] ^= 0x55;
    decode_fails(&bad_sum, "checksum");
    decode_fails(&good[..700], "truncated");
    let mut f = CardFixture::resident_example();
    f.id_number = "330106199001010021".into();
    decode_fails(&f.reply_frame(), "check");
    // "No card" (status 80) is a reply, but not a card.
    decode_fails(
        &[
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
        ],
        "status",
    );
}

#[test]
fn card_decode_of_a_missing_file_is_an_error() {
    let out = kiosk(&["card", "decode", "/nonexistent/reply.bin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/reply.bin"));
}

#[test]
fn demo_lists_the_required_scenarios() {
    let out = kiosk(&["demo", "--list-scenarios"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    for name in [
        "new-connection-idcard",
        "missing-documents",
        "over-capacity",
        "insists-high-voltage",
        "card-pulled",
        "offline",
        "eid-new-connection",
        "call-staff",
        "capacity-increase",
        "name-change",
        "transfer",
        "closure",
        "company-new-connection",
        "pushed-joint-transfer",
        "pay-bill",
        "pay-timeout",
        "progress-query",
    ] {
        assert!(s.lines().any(|l| l.starts_with(name)), "{name} listed");
    }
}

#[test]
fn demo_with_an_unknown_scenario_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kiosk(&[
        "demo",
        "--headless",
        "--scenario",
        "nope",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nope"));
}

fn tamper_first_audit_record(data: &Path) {
    let db = sled::open(data.join("store")).expect("open sled");
    let audit = db.open_tree("audit").expect("audit tree");
    let (k, v) = audit.first().expect("read").expect("a record");
    let mut rec: serde_json::Value = serde_json::from_slice(&v).expect("JSON record");
    // Back-date the acceptance by an hour.
    rec["at"] = serde_json::Value::String("2026-01-01T00:00:00Z".into());
    audit
        .insert(k, serde_json::to_vec(&rec).expect("encode"))
        .expect("write");
    db.flush().expect("flush");
}

#[test]
fn audit_verify_says_ok_then_finds_a_back_dated_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let data = dir.path().join("data");
    let out = kiosk(&[
        "demo",
        "--headless",
        "--scenario",
        "new-connection-idcard",
        "--out",
        out_dir.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = kiosk(&["audit", "verify", "--data", data.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("ok"), "{said}");
    // What it could check here, and what only central can.
    assert!(
        said.contains("\nchecked here: every record's sequence"),
        "{said}"
    );
    assert!(said.contains("\nneeds central: "), "{said}");

    tamper_first_audit_record(&data);
    let out = kiosk(&["audit", "verify", "--data", data.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("broken at record 1"),
        "{}",
        text(&out.stdout)
    );
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `kiosk run` with real parts only: the central simulator on loopback
/// (plain HTTP, allowed as a lab), a card reader and a network printer that
/// are not there yet. It starts, answers `/status` with the token, and
/// reports the missing devices instead of refusing to start.
#[tokio::test]
async fn run_answers_status_with_the_token_and_401_without() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let central = kiosk_sim::central::SimCentral::start(7)
        .await
        .expect("simulator");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            // Face offered, but no models installed and no camera: the
            // kiosk still starts and serves by the other methods.
            "device_id = \"K-1A2B3C4D\"\ndata_dir = \"{}\"\n[status]\ntoken = \"s3cret\"\n\
             [central]\nurl = \"{}\"\nallow_insecure_central = true\n\
             [flow]\nidentity_methods = [\"face\", \"id-card\"]\n\
             [face]\nmodel_dir = \"/nonexistent/models\"\n\
             [devices.card_reader]\nkind = \"serial\"\npath = \"/dev/ttyKIOSK-absent\"\n\
             [devices.printer]\nsink = {{ kind = \"tcp\", addr = \"127.0.0.1:{}\" }}\n\
             [devices.camera]\ndevice = \"/dev/video9\"\n\
             [clock]\nsync_flag = \"{}\"\n",
            dir.path().join("data").display(),
            central.url(),
            free_port(),
            dir.path().join("synchronized").display(),
        ),
    )
    .expect("write config");
    // Provisioning refused a config left on the boot partition.
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    std::fs::write(
        dir.path().join("data/drop-refused.txt"),
        "kiosk: refused: central.url: \"sim\" is the simulator\n",
    )
    .expect("write verdict");
    let addr = format!("127.0.0.1:{port}");
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args([
                "run",
                "--config",
                config.to_str().expect("utf-8"),
                "--status-addr",
                &addr,
            ])
            .spawn()
            .expect("spawn"),
    );
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/status");
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(r) = client.get(&url).bearer_auth("s3cret").send().await {
            answer = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = answer.expect("kiosk run answers /status");
    assert_eq!(r.status(), 200);
    let json: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(json["flow_state"], "attract");
    assert_eq!(json["devices"]["card_reader"]["state"], "fault", "{json}");
    assert!(
        json["devices"]["card_reader"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/dev/ttyKIOSK-absent")),
        "{json}"
    );
    assert!(json["devices"].get("printer").is_some(), "{json}");
    // The verdict is read before the endpoint answers: the first answer
    // already carries it.
    let alarms = json["alarms"].to_string();
    assert!(
        alarms.contains("boot partition was refused") && alarms.contains("central.url"),
        "{alarms}"
    );
    // No NTP synchronisation yet (the flag file is absent): the alarm; it
    // ends when timesyncd's flag appears. The audit chain's head reaches
    // central.
    assert_eq!(json["clock_synchronized"], false, "{json}");
    assert!(alarms.contains("clock not synchronised"), "{alarms}");
    std::fs::write(dir.path().join("synchronized"), b"").expect("flag");
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = client
            .get(&url)
            .bearer_auth("s3cret")
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        if last["clock_synchronized"] == true && last["audit"]["central_seq"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["clock_synchronized"], true, "{last}");
    assert!(
        !last["alarms"]
            .to_string()
            .contains("clock not synchronised"),
        "{last}"
    );
    assert_eq!(last["audit"]["central_seq"], 0, "{last}");
    let r = client.get(&url).send().await.expect("answers");
    assert_eq!(r.status(), 401);
    let r = client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), 200);
}

/// `kiosk run` and `kiosk self-test` refuse what cannot serve citizens, in
/// one line naming the field, with exit status 2, in every build.
#[test]
fn run_refuses_fakes_clear_text_and_an_open_status_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = "device_id = \"K-1A2B3C4D\"\n\
                [status]\ntoken_file = \"/data/kiosk/status.token\"\n\
                [central]\nurl = \"https://central.example/\"\n\
                [devices.card_reader]\nkind = \"serial\"\npath = \"/dev/ttyUSB0\"\n\
                [devices.printer]\nsink = { kind = \"tcp\", addr = \"10.0.2.2:9100\" }\n";
    let cases = [
        (
            good.replace("https://central.example/", "sim"),
            "central.url",
        ),
        (
            good.replace("https://central.example/", "http://central.example/"),
            "central.url",
        ),
        (
            good.replace(
                "kind = \"serial\"\npath = \"/dev/ttyUSB0\"",
                "kind = \"sim\"",
            ),
            "devices.card_reader",
        ),
        (
            good.replace(
                "{ kind = \"tcp\", addr = \"10.0.2.2:9100\" }",
                "{ kind = \"sim\" }",
            ),
            "devices.printer.sink",
        ),
        (
            good.replace("token_file = \"/data/kiosk/status.token\"\n", ""),
            "status",
        ),
        ("device_id = \"K-1\"\n".to_string(), "central.url"),
    ];
    for (toml, field) in cases {
        let config = dir.path().join("kiosk.toml");
        std::fs::write(&config, &toml).expect("write");
        let path = config.to_str().expect("utf-8");
        for args in [
            vec!["run", "--config", path],
            vec!["self-test", "--config", path],
        ] {
            let out = kiosk(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?} {field}: {toml}");
            let err = text(&out.stderr);
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(
                err.contains(&format!("refused: {field}:")),
                "{field}: {err}"
            );
        }
    }
}

#[test]
fn run_refuses_a_config_with_a_typo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(&config, "[status]\nadress = \"0.0.0.0:1\"\n").expect("write");
    let out = kiosk(&["run", "--config", config.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("adress"),
        "{}",
        text(&out.stderr)
    );
}

/// Whether a file's first bytes are those of an image format.
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG")
        || (bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP")
        || bytes.starts_with(b"BM")
        || bytes.starts_with(b"P6")
}

fn files_below(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_below(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The face scenario in a child process with its own temp dir, home and
/// working dir: afterwards no image file exists anywhere it could write
/// except the receipts and screenshots it was asked for, and the store holds no face data.
#[test]
fn face_scenario_writes_no_image_and_stores_no_face_data() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if !shared.join("models").is_dir() || !shared.join("faces/pairs").is_dir() {
        kiosk_drivers::test_skip::skip("../shared models or faces absent");
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let (tmp, home, cwd) = (
        root.path().join("tmp"),
        root.path().join("home"),
        root.path().join("cwd"),
    );
    for d in [&tmp, &home, &cwd] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "demo",
            "--headless",
            "--scenario",
            "new-connection-face",
            "--out",
            "out",
            "--data",
            "data",
        ])
        .current_dir(&cwd)
        .env("TMPDIR", &tmp)
        .env("HOME", &home)
        .env("KIOSK_MODELS_DIR", shared.join("models"))
        .env("KIOSK_DEMO_FACES", shared.join("faces"))
        .output()
        .expect("kiosk runs");
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let mut files = Vec::new();
    files_below(root.path(), &mut files);
    let receipts = cwd.join("out/receipts");
    // Screenshots of the touchscreen are asked for too; they never show the
    // camera (the screenshot writer draws no preview).
    let screens = cwd.join("out/screens");
    let images: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(&receipts) && !f.starts_with(&screens))
        .filter(|f| std::fs::read(f).map(|b| is_image(&b)).unwrap_or(false))
        .collect();
    assert!(images.is_empty(), "image files written: {images:?}");
    // No JPEG or PNG signature inside the store's files either (a reference
    // photo or a frame stored as a blob).
    let mut store = Vec::new();
    files_below(&cwd.join("data"), &mut store);
    assert!(!store.is_empty());
    for f in store {
        let b = std::fs::read(&f).expect("read");
        assert!(
            // JPEG start-of-image plus an APPn/DQT marker: 4 bytes, so
            // encrypted records (random bytes) do not match by chance.
            !b.windows(4)
                .any(|w| w[..3] == [0xFF, 0xD8, 0xFF] && matches!(w[3], 0xDB | 0xE0..=0xEF))
                && !b.windows(4).any(|w| w == b"\x89PNG"),
            "image data inside {}",
            f.display()
        );
    }
    // The order records the method, never a score.
    let summary = std::fs::read_to_string(cwd.join("out/summary.json")).expect("summary");
    assert!(!summary.contains("score") && !summary.contains("similar"));
}

/// Regression: `provision` named boards `K-<serial>` and the store refused
/// the hyphen, so every provisioned kiosk refused every order. Provisioning
/// now asks `kiosk device-id`; its output passes `kiosk self-test` and
/// numbers an order (see also `store::tests::a_provisioned_device_id_numbers_orders`).
#[test]
fn a_provisioned_device_id_passes_self_test() {
    let out = kiosk(&["device-id", "--serial", "10000000a1b2c3d4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert_eq!(id, "K-A1B2C3D4");

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!(
            "device_id = \"{id}\"\n[status]\ntoken = \"t\"\n\
             [central]\nurl = \"https://central.example/\"\n"
        ),
    )
    .expect("write");
    let out = kiosk(&["self-test", "--config", cfg.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("config: ok"));

    let store = kiosk::store::Store::open(dir.path()).expect("store");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
    let local = store
        .next_local_id(&id, day)
        .expect("a provisioned id numbers orders");
    assert!(local.starts_with("K-A1B2C3D4-20261204-"), "{local}");

    // A serial with nothing usable gives no id, and says why.
    let out = kiosk(&["device-id", "--serial=..."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("device id"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn outbox_list_and_retry_let_a_technician_requeue_a_parked_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    {
        let store = kiosk::store::Store::open(dir.path()).expect("store");
        let order = kiosk::store::testing::sample_order("K-1A2B-20261204-0001");
        store.accept(&order).expect("accept");
        store
            .park(
                "K-1A2B-20261204-0001",
                "central service rejected: HTTP 422, invalid-capacity",
            )
            .expect("park");
    }
    let out = kiosk(&["outbox", "list", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("K-1A2B-20261204-0001"))
        .unwrap_or_else(|| panic!("no row: {table}"));
    assert!(
        row.contains("parked") && row.contains("invalid-capacity"),
        "{row}"
    );
    assert!(table.ends_with("1 entries\n"), "{table}");

    let out = kiosk(&["outbox", "retry", "--all", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1 entries due now");
    let out = kiosk(&["outbox", "list", "--data", &data]);
    assert!(
        text(&out.stdout).contains("pending"),
        "{}",
        text(&out.stdout)
    );

    let out = kiosk(&["outbox", "retry", "K-NOPE", "--data", &data]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("K-NOPE"),
        "{}",
        text(&out.stderr)
    );

    let out = kiosk(&["outbox", "list", "--data", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no store in /nonexistent"));
}

/// `kiosk central check` passes against the simulator over HTTPS with a
/// pinned CA, says TLS was not checked over plain HTTP, and fails (exit 1)
/// against a central that breaks idempotency.
#[tokio::test]
async fn central_check_passes_the_simulator_and_catches_broken_idempotency() {
    use kiosk_sim::central::{router_with_control, Mode, SimState};
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/tls");
    let state = SimState::new(7);
    let control = state.control();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = kiosk::status_tls::acceptor(&kiosk::status_tls::TlsConfig {
        cert: fixtures.join("server.pem"),
        key: fixtures.join("server-key.pem"),
        client_ca: None,
    })
    .expect("TLS");
    tokio::spawn(kiosk::status_tls::serve_router(
        listener,
        acceptor,
        router_with_control(state),
        std::future::pending(),
    ));
    let url = format!("https://{addr}");
    let ca = fixtures.join("ca.pem");
    let check = |url: String, ca: Option<std::path::PathBuf>| async move {
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["central".to_string(), "check".into(), "--url".into(), url];
            if let Some(ca) = ca {
                args.push("--ca".into());
                args.push(ca.display().to_string());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kiosk(&args)
        })
        .await
        .expect("ran")
    };
    let out = check(url.clone(), Some(ca.clone())).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tls") && l.contains("pass")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("idempotency") && l.contains("pass")),
        "{table}"
    );

    // Without the pinned CA the test certificate is not trusted.
    let out = check(url.clone(), None).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout)
        .lines()
        .any(|l| l.starts_with("tls") && l.contains("FAIL")));

    control.set_mode(Mode::IgnoreIdempotency);
    let out = check(url, Some(ca)).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("idempotency")
            && l.contains("FAIL")
            && l.contains("two numbers")),
        "{table}"
    );

    // A lab central over plain HTTP: everything but TLS, and it says so.
    let lab = kiosk_sim::central::SimCentral::start(7)
        .await
        .expect("simulator");
    let out = check(lab.url(), None).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tls") && l.contains("not checked")),
        "{table}"
    );
}

/// Runs `kiosk staff hash-pin` with `pin` on stdin.
fn hash_pin(pin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["staff", "hash-pin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kiosk runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pin.as_bytes())
        .expect("write the PIN");
    child.wait_with_output().expect("kiosk ends")
}

#[test]
fn staff_hash_pin_prints_an_argon2id_hash_the_config_takes() {
    let out = hash_pin("2468\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = text(&out.stdout).trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("2468"), "{hash}");
    let parsed = kiosk::staff::PinHash::parse(&hash).expect("the config accepts it");
    assert!(parsed.verify("2468") && !parsed.verify("2469"));
    // Salted: the same PIN twice gives two hashes.
    assert_ne!(text(&hash_pin("2468\n").stdout).trim(), hash);

    for bad in ["12\n", "12ab\n", "\n", "1234567890123\n"] {
        let out = hash_pin(bad);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(
            text(&out.stderr).contains("4 to 12 digits"),
            "{}",
            text(&out.stderr)
        );
    }

    // The config checks the hash it is given, naming the field.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kiosk.toml");
    let data = dir.path().join("data");
    for (value, ok) in [
        (hash.as_str(), true),
        (
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            false,
        ),
    ] {
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[flow]\nstaff_pin_argon2 = \"{}\"\n",
                data.display(),
                value
            ),
        )
        .expect("config");
        let out = kiosk(&["self-test", "--config", config.to_str().expect("utf-8")]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(
            said.contains("flow.staff_pin_argon2"),
            !ok,
            "{value}: {said}"
        );
    }
}

/// Runs a tool the test needs; fails loudly if it is missing.
fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl, with ca-certificates)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A drop signed the way the fleet signs it (`openssl pkeyutl -sign
/// -rawin` with an ed25519 key) passes `kiosk config verify-drop`; an
/// unsigned one, one changed after signing, and one signed by another key
/// are refused with the reason on one line.
#[test]
fn config_verify_drop_takes_only_the_fleet_keys_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for name in ["fleet", "other"] {
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "ed25519",
                "-out",
                &format!("{name}.key.pem"),
            ],
            d,
        );
    }
    openssl(
        &[
            "pkey",
            "-in",
            "fleet.key.pem",
            "-pubout",
            "-out",
            "fleet.pub.pem",
        ],
        d,
    );
    std::fs::write(d.join("kiosk.toml"), "[ui]\ntouchscreen = true\n").expect("drop");
    let verify = || {
        let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args([
                "config",
                "verify-drop",
                "--pubkey",
                "fleet.pub.pem",
                "kiosk.toml",
            ])
            .current_dir(d)
            .output()
            .expect("kiosk runs");
        (out.status.code(), text(&out.stderr))
    };
    let sign = |key: &str| {
        openssl(
            &[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                key,
                "-in",
                "kiosk.toml",
                "-out",
                "kiosk.toml.sig",
            ],
            d,
        )
    };

    let (code, err) = verify();
    assert_eq!(code, Some(1));
    assert!(err.contains("not signed"), "{err}");
    sign("other.key.pem");
    let (code, err) = verify();
    assert_eq!(code, Some(1));
    assert!(err.contains("does not match"), "{err}");
    sign("fleet.key.pem");
    assert_eq!(verify(), (Some(0), String::new()));
    std::fs::write(d.join("kiosk.toml"), "[ui]\ntouchscreen = false\n").expect("changed");
    let (code, err) = verify();
    assert_eq!(code, Some(1));
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

fn tls_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/tls")
        .join(name)
}

/// Issue 16: `kiosk enroll --file enroll.toml` against central over pinned
/// TLS: the kiosk's certificate is kept, the file (its code spent) is
/// removed, and the same code again is refused with the reason. Then
/// `kiosk run` knows central and its scraper by certificates only: central
/// wants a token the config does not have, yet answers; `/status` answers
/// the fleet scraper's certificate over HTTPS, and neither a client
/// without it nor plain HTTP with the config's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_keeps_the_certificate_and_run_then_uses_mutual_tls_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = kiosk_sim::central::SimCentral::start_tls(
        kiosk_sim::central::SimState::new(7),
        &std::fs::read(tls_fixture("server.pem")).expect("cert"),
        &std::fs::read(tls_fixture("server-key.pem")).expect("key"),
    )
    .await
    .expect("simulator");
    central.control.add_enrollment_code("CLI-ENROLL-01");
    // A token no kiosk has: only a certificate gets in.
    central
        .control
        .require_token(Some("not-in-the-config".into()));
    let port = free_port();
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "device_id = \"K-CL1E0001\"\ndata_dir = \"{}\"\n[status]\ntoken = \"s3cret\"\n\
             [central]\nurl = \"{}\"\nca_cert = \"{}\"\n\
             [devices.card_reader]\nkind = \"serial\"\npath = \"/dev/ttyKIOSK-absent\"\n\
             [devices.printer]\nsink = {{ kind = \"tcp\", addr = \"127.0.0.1:{}\" }}\n",
            dir.path().join("data").display(),
            central.url(),
            tls_fixture("ca.pem").display(),
            free_port(),
        ),
    )
    .expect("write config");
    let enroll_file = dir.path().join("enroll.toml");
    let enroll_text = format!("code = \"CLI-ENROLL-01\"\nstatus_address = \"127.0.0.1:{port}\"\n");
    std::fs::write(&enroll_file, &enroll_text).expect("write enroll.toml");
    let enroll = || {
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["enroll", "--config"])
            .arg(&config)
            .arg("--file")
            .arg(&enroll_file)
            .output()
            .expect("runs")
    };
    let out = tokio::task::block_in_place(enroll);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("enrolled as K-CL1E0001: certificate valid until "),
        "{}",
        text(&out.stdout)
    );
    assert!(!enroll_file.exists(), "the spent code's file is removed");
    let identity = dir.path().join("data/identity.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&identity)
            .expect("kept")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let kept = std::fs::read(&identity).expect("identity");
    // The same code again: refused, said, and nothing changed.
    std::fs::write(&enroll_file, &enroll_text).expect("write enroll.toml");
    let again = tokio::task::block_in_place(enroll);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("enrollment-code-refused"),
        "{}",
        text(&again.stderr)
    );
    assert!(enroll_file.exists(), "a refused code's file stays");
    assert_eq!(std::fs::read(&identity).expect("identity"), kept);

    let addr = format!("127.0.0.1:{port}");
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["run", "--config"])
            .arg(&config)
            .args(["--status-addr", &addr])
            .spawn()
            .expect("spawn"),
    );
    let scraper = central
        .control
        .issue_scraper_certificate()
        .expect("scraper certificate");
    let fleet_ca = central.control.fleet_ca_pem().expect("fleet CA");
    let client = |with_cert: bool| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(fleet_ca.as_bytes()).expect("CA"))
            .timeout(Duration::from_secs(5));
        if with_cert {
            let pem = format!("{}\n{}", scraper.0, scraper.1);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
        }
        b.build().expect("client")
    };
    let url = format!("https://{addr}/status");
    let mut status = serde_json::Value::Null;
    for _ in 0..300 {
        if let Ok(r) = client(true).get(&url).send().await {
            status = r.json().await.expect("JSON");
            if !status["clock_offset_s"].is_null() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["identity"]["enrolled"], true, "{status}");
    assert!(
        !status["clock_offset_s"].is_null(),
        "central answered the kiosk's certificate: {status}"
    );
    assert!(
        client(false).get(&url).send().await.is_err(),
        "answered a client without the scraper's certificate"
    );
    assert!(
        reqwest::Client::new()
            .get(format!("http://{addr}/status"))
            .bearer_auth("s3cret")
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true),
        "answered plain HTTP with the config's token"
    );
}

/// A damaged identity file and no token: `kiosk run` refuses to start,
/// naming the file, rather than serve `/status` to anyone.
#[test]
fn run_refuses_a_damaged_identity_without_a_token_to_fall_back_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    std::fs::write(data.join("identity.json"), "{\"device_id\": \"K-1\"").expect("write");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "device_id = \"K-1A2B3C4D\"\ndata_dir = \"{}\"\n[central]\nurl = \"https://127.0.0.1:9/\"\n",
            data.display()
        ),
    )
    .expect("config");
    let out = kiosk(&["run", "--config", config.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("identity") && err.contains("damaged"), "{err}");
}
