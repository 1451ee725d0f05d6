use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::NaiveTime;
use kiosk_drivers::Health;
use tokio::sync::watch;

use super::*;
use crate::status::Snapshot;

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

#[test]
fn maintenance_windows_parse_and_cross_midnight() {
    let w = Window::parse("02:00-05:00").expect("window");
    assert!(w.contains(t(2, 0)) && w.contains(t(4, 59)));
    assert!(!w.contains(t(5, 0)) && !w.contains(t(1, 59)));
    let night = Window::parse("22:30-04:00").expect("window");
    assert!(night.contains(t(23, 0)) && night.contains(t(0, 10)) && night.contains(t(3, 59)));
    assert!(!night.contains(t(12, 0)) && !night.contains(t(4, 0)));
    let all = Window::parse("00:00-24:00").expect("window");
    assert!(all.contains(t(0, 0)) && all.contains(t(23, 59)));
    for bad in [
        "",
        "2-5",
        "02:00",
        "25:00-01:00",
        "02:60-03:00",
        "a:b-c:d",
        "24:01-01:00",
    ] {
        assert!(Window::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_booted_slot_comes_from_the_boot_scripts_command_line() {
    assert_eq!(
        booted_slot("console=ttyAMA0 root=PARTUUID=1-03 ro rauc.slot=B quiet").as_deref(),
        Some("B")
    );
    assert_eq!(booted_slot("root=/dev/vda2 ro"), None);
    assert_eq!(booted_slot("rauc.slot="), None);
}

#[test]
fn the_release_file_gives_the_version_and_a_host_build_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("release");
    std::fs::write(&f, "VERSION=0.1.0+g0123abcdef\nIMAGE=qemu-virt\n").expect("write");
    let r = Release::load(&f);
    assert_eq!(r.version, "0.1.0+g0123abcdef");
    assert_eq!(r.image.as_deref(), Some("qemu-virt"));
    let none = Release::load(&dir.path().join("missing"));
    assert_eq!(none.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(none.image, None);
}

#[test]
fn rauc_status_json_gives_each_slots_boot_status() {
    // Shape of `rauc status --output-format=json` (RAUC 1.8).
    let json = r#"{"compatible":"kiosk-qemu-virt","variant":"","booted":"A","boot_primary":"rootfs.0",
      "slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/disk/by-partuuid/x-02","type":"ext4",
        "bootname":"A","state":"booted","parent":null,"mountpoint":"/","boot_status":"good"}},
      {"rootfs.1":{"class":"rootfs","device":"/dev/disk/by-partuuid/x-03","type":"ext4",
        "bootname":"B","state":"inactive","parent":null,"mountpoint":null,"boot_status":"bad",
        "slot_status":{"bundle":{"compatible":"kiosk-qemu-virt","version":"0.2.0+gabc"}}}}]}"#;
    let slots = parse_rauc_status(json).expect("parses");
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0].bootname, "A");
    assert_eq!(slots[0].boot_status, "good");
    assert_eq!(slots[1].boot_status, "bad");
    assert_eq!(slots[1].version.as_deref(), Some("0.2.0+gabc"));
    assert!(parse_rauc_status("not json").is_err());
    assert!(parse_rauc_status("{}").is_err());
}

#[test]
fn the_state_survives_a_newer_writer_and_counts_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("update/state.json");
    let mut s = State::default();
    s.record("0.2.0", Outcome::Refused, "signature");
    s.record("0.3.0", Outcome::RolledBack, "never healthy");
    s.record("0.4.0", Outcome::Good, "marked good");
    assert_eq!(s.failures_total, 2);
    // Failed versions stay failed whatever comes after them.
    assert!(s.failed_before("0.2.0") && s.failed_before("0.3.0"));
    assert!(!s.failed_before("0.4.0"));
    for i in 0..REMEMBERED_FAILURES {
        s.record(&format!("1.{i}"), Outcome::Refused, "signature");
    }
    s.record("0.4.0", Outcome::Good, "marked good");
    assert!(s.failed_before("1.0") && !s.failed_before("0.2.0"));
    assert_eq!(s.failed_versions.len(), REMEMBERED_FAILURES);
    s.failures_total = 2;
    s.save(&path).expect("save");
    let back = State::load(&path);
    assert_eq!(back.failures_total, 2);
    assert_eq!(back.format, STATE_FORMAT);
    assert_eq!(back.last.as_ref().map(|l| l.outcome), Some(Outcome::Good));
    // A newer kiosk's state, with fields this one does not know, is read
    // as far as it is understood (a rollback still reports).
    std::fs::write(
        &path,
        r#"{"format":9,"failures_total":3,"future":{"x":1},"last":{"version":"9.0","outcome":"good","detail":"","at":"2026-12-04T00:00:00Z"}}"#,
    )
    .expect("write");
    let newer = State::load(&path);
    assert_eq!(newer.failures_total, 3);
    assert_eq!(newer.last.map(|l| l.version), Some("9.0".to_string()));
    // An outcome a newer kiosk invented is read as unknown, not as a
    // broken file that would forget the pending install.
    std::fs::write(
        &path,
        r#"{"format":9,"pending":{"version":"9.0","slot":"B","from_slot":"A","from_version":"8.0","installed_at":"2026-12-04T00:00:00Z"},"last":{"version":"9.0","outcome":"staged-twice","detail":"","at":"2026-12-04T00:00:00Z"}}"#,
    )
    .expect("write");
    let newer = State::load(&path);
    assert_eq!(newer.last.map(|l| l.outcome), Some(Outcome::Unknown));
    assert_eq!(newer.pending.map(|p| p.slot), Some("B".to_string()));
    std::fs::write(&path, "garbage").expect("write");
    assert_eq!(State::load(&path), State::default());
}

/// A status endpoint serving `snapshot` on a free loopback port.
async fn status_server(snapshot: Snapshot) -> (HealthProbe, watch::Sender<Snapshot>) {
    let (tx, rx) = watch::channel(snapshot);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, crate::status::router(rx, Some("tok".into()))).await;
    });
    (
        HealthProbe {
            url: format!("http://{addr}/status"),
            token: Some("tok".into()),
            identity: None,
        },
        tx,
    )
}

fn snapshot(state: &str, printer: Health) -> Snapshot {
    let mut s = Snapshot::new("0.1.0", chrono::Utc::now());
    s.flow_state = state.into();
    s.devices.insert("printer".into(), printer);
    s
}

fn quick() -> UpdateConfig {
    UpdateConfig {
        confirm_within_secs: 1,
        release_file: PathBuf::from("/nonexistent/release"),
        ..UpdateConfig::default()
    }
}

fn pending(slot: &str) -> State {
    State {
        pending: Some(Pending {
            version: "0.2.0".into(),
            slot: slot.into(),
            from_slot: Some("A".into()),
            from_version: "0.1.0".into(),
            installed_at: chrono::Utc::now(),
            technician: false,
        }),
        ..State::default()
    }
}

#[tokio::test]
async fn a_new_slot_is_marked_good_only_when_healthy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(dir.path());
    pending("B").save(&paths.state()).expect("save");
    let (probe, tx) = status_server(snapshot("attract", Health::Fault("paper out".into()))).await;
    let marks = Arc::new(AtomicUsize::new(0));
    let m = marks.clone();
    let mark = move || {
        m.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    // A device fault on the new slot: not marked good, the caller reboots.
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("B".into()),
        mark.clone(),
        || None,
    )
    .await
    .expect("confirm");
    assert!(
        matches!(r, Confirmed::Unhealthy { ref why } if why.contains("paper out")),
        "{r:?}"
    );
    assert_eq!(marks.load(Ordering::SeqCst), 0);
    let s = State::load(&paths.state());
    assert_eq!(s.unhealthy_boots, 1);
    assert!(s.pending.is_some());
    // In a transaction: not yet.
    tx.send_replace(snapshot("choose-business", Health::Ok));
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("B".into()),
        mark.clone(),
        || None,
    )
    .await
    .expect("confirm");
    assert!(matches!(r, Confirmed::Unhealthy { .. }), "{r:?}");
    // Healthy: marked good, recorded, no longer pending.
    tx.send_replace(snapshot("attract", Health::Ok));
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("B".into()),
        mark.clone(),
        || None,
    )
    .await
    .expect("confirm");
    assert_eq!(
        r,
        Confirmed::NewSlotGood {
            version: "0.2.0".into()
        }
    );
    assert_eq!(marks.load(Ordering::SeqCst), 1);
    let s = State::load(&paths.state());
    assert!(s.pending.is_none());
    assert_eq!(s.last.map(|l| l.outcome), Some(Outcome::Good));
    assert_eq!(s.failures_total, 0);
}

#[tokio::test]
async fn booting_the_old_slot_with_an_install_pending_is_a_rollback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(dir.path());
    let mut s = pending("B");
    s.unhealthy_boots = 3;
    s.save(&paths.state()).expect("save");
    // The old slot's kiosk is at attract with a printer fault: it is kept
    // all the same (a kept slot is never judged by its devices).
    let (probe, _tx) = status_server(snapshot("attract", Health::Fault("paper out".into()))).await;
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("A".into()),
        || Ok(()),
        || None,
    )
    .await
    .expect("confirm");
    assert_eq!(r, Confirmed::Kept);
    let s = State::load(&paths.state());
    assert!(s.pending.is_none());
    assert_eq!(s.failures_total, 1);
    let last = s.last.expect("recorded");
    assert_eq!(last.outcome, Outcome::RolledBack);
    assert_eq!(last.version, "0.2.0");
    assert!(last.detail.contains("3 tries"), "{}", last.detail);
}

#[tokio::test]
async fn an_install_cut_short_is_recorded_as_interrupted_and_the_slot_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(dir.path());
    let mut s = State::default();
    s.record("0.2.0", Outcome::Downloaded, "verified");
    s.save(&paths.state()).expect("save");
    write_atomic(&paths.installing(), b"0.2.0").expect("marker");
    let (probe, _tx) = status_server(snapshot("attract", Health::Ok)).await;
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("A".into()),
        || Ok(()),
        || None,
    )
    .await
    .expect("confirm");
    assert_eq!(r, Confirmed::Kept);
    assert!(!paths.installing().exists(), "the stale marker is cleared");
    let s = State::load(&paths.state());
    let last = s.last.expect("recorded");
    assert_eq!(
        (last.version.as_str(), last.outcome),
        ("0.2.0", Outcome::Interrupted)
    );
    // Not a failed update: the bundle is not at fault.
    assert_eq!(s.failures_total, 0);
}

#[tokio::test]
async fn a_kept_slot_whose_kiosk_never_answers_is_not_rebooted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = HealthProbe {
        url: "http://127.0.0.1:9/status".into(),
        token: None,
        identity: None,
    };
    let r = confirm(
        &quick(),
        dir.path(),
        &probe,
        Some("A".into()),
        || Ok(()),
        || None,
    )
    .await
    .expect("confirm");
    assert!(
        matches!(r, Confirmed::KeptUnconfirmed { ref why } if why.contains("not answering")),
        "{r:?}"
    );
}

#[test]
fn update_config_is_validated() {
    assert_eq!(UpdateConfig::default().validate(), Ok(()));
    let c = UpdateConfig {
        maintenance_window: "late".into(),
        ..UpdateConfig::default()
    };
    assert!(c.validate().is_err());
    let c = UpdateConfig {
        confirm_within_secs: 5,
        ..UpdateConfig::default()
    };
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn a_new_slot_whose_kiosk_keeps_crashing_is_given_up_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    pending("B")
        .save(&Paths::new(dir.path()).state())
        .expect("save");
    let probe = HealthProbe {
        url: "http://127.0.0.1:9/status".into(),
        token: None,
        identity: None,
    };
    let config = UpdateConfig {
        confirm_within_secs: 600,
        ..quick()
    };
    let started = std::time::Instant::now();
    let r = confirm(
        &config,
        dir.path(),
        &probe,
        Some("B".into()),
        || Ok(()),
        || Some("kiosk.service restarted 5 times".to_string()),
    )
    .await
    .expect("confirm");
    assert!(
        matches!(r, Confirmed::Unhealthy { ref why } if why.contains("restarted 5 times")),
        "{r:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(600));
}

#[test]
fn raucs_reason_is_picked_out_of_its_progress_lines() {
    let out = "installing\n  0% Installing\n 10% Checking bundle\n 20% Verifying signature\n\
LastError: Failed to verify bundle signature: unable to get local issuer certificate\n\
Installing `/data/kiosk/update/x.raucb` failed\n";
    let why = failure_reason(out);
    assert!(
        why.starts_with("LastError: Failed to verify bundle signature"),
        "{why}"
    );
    assert!(!why.contains("10%"), "{why}");
    assert_eq!(failure_reason("a\nb\nc\nd\n"), "b | c | d");
}

#[test]
fn a_usb_stick_offers_its_bundles_and_the_request_names_no_checksum() {
    let stick = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    assert!(usb_bundles(stick.path()).is_empty());
    assert!(usb_bundles(&stick.path().join("not-mounted")).is_empty());
    for name in [
        "kiosk-0.3.0-rpi4.raucb",
        "kiosk-0.2.0-rpi4.raucb",
        "notes.txt",
    ] {
        std::fs::write(stick.path().join(name), b"x").expect("write");
    }
    std::fs::create_dir(stick.path().join("old.raucb")).expect("a folder, not a bundle");
    let found = usb_bundles(stick.path());
    let names: Vec<_> = found
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["kiosk-0.2.0-rpi4.raucb", "kiosk-0.3.0-rpi4.raucb"]);
    request_usb_install(data.path(), &found[1]).expect("request");
    let paths = Paths::new(data.path());
    let req: InstallRequest =
        serde_json::from_slice(&std::fs::read(paths.install_request()).expect("read"))
            .expect("parse");
    assert_eq!(req.bundle, found[1]);
    assert!(req.technician && req.sha256.is_none() && req.version.is_empty());
    // One install at a time.
    assert!(request_usb_install(data.path(), &found[0]).is_err());
    request_reboot(data.path()).expect("reboot");
    assert!(paths.reboot_request().exists());
    // A request from before the field existed reads as not a technician's.
    let old: InstallRequest =
        serde_json::from_str(r#"{"bundle":"/data/x.raucb","version":"0.2.0","sha256":null}"#)
            .expect("parse");
    assert!(!old.technician);
}

#[test]
fn a_claimed_install_is_seen_as_running_until_its_outcome_is_saved() {
    let data = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(data.path());
    std::fs::create_dir_all(&paths.dir).expect("dir");
    let bundle = data.path().join("x.raucb");
    std::fs::write(&bundle, b"not the offered bundle").expect("bundle");
    let request = InstallRequest {
        bundle: bundle.clone(),
        version: "0.2.0".into(),
        sha256: Some("0".repeat(64)),
        technician: false,
    };
    write_atomic(
        &paths.install_request(),
        &serde_json::to_vec(&request).expect("json"),
    )
    .expect("request");
    // Taken: the request is gone and the marker stands in for it, so
    // neither the update round nor the menu queues a second install.
    let taken = claim(&paths).expect("claim").expect("a request");
    assert_eq!(taken.version, "0.2.0");
    assert!(!paths.install_request().exists());
    assert_eq!(
        std::fs::read_to_string(paths.installing()).expect("marker"),
        "0.2.0"
    );
    assert!(request_usb_install(data.path(), &bundle).is_err());
    assert!(claim(&paths).expect("claim").is_none());
    // The whole of `apply`: the checksum fails before RAUC runs, the
    // outcome is saved and only then is the install over.
    std::fs::remove_file(paths.installing()).expect("reset");
    write_atomic(
        &paths.install_request(),
        &serde_json::to_vec(&request).expect("json"),
    )
    .expect("request");
    let release = Release {
        version: "0.1.0".into(),
        image: None,
    };
    let outcome = apply(data.path(), &release).expect("apply");
    assert_eq!(outcome, Some(Outcome::Failed));
    assert!(!paths.installing().exists() && !paths.install_request().exists());
    let state = State::load(&paths.state());
    let last = state.last.expect("recorded");
    assert_eq!(
        (last.version.as_str(), last.outcome),
        ("0.2.0", Outcome::Failed)
    );
    // An unreadable request is removed, not retried forever, and leaves no
    // marker behind.
    std::fs::write(paths.install_request(), b"{").expect("garbage");
    assert!(apply(data.path(), &release).is_err());
    assert!(!paths.installing().exists() && !paths.install_request().exists());
}
