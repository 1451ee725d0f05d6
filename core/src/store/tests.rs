//! Store tests: every one opens a fresh temporary data directory and uses a
//! fixed clock.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use serde_json::json;

use super::testing::{fixed_now, sample_order, ADDRESS, ID_NUMBER, NAME, PHONE};
use super::*;

fn open(dir: &Path) -> Store {
    Store::open_with_clock(dir, Arc::new(fixed_now)).expect("open store")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn found_anywhere(dir: &Path, needle: &[u8]) -> bool {
    let mut files = Vec::new();
    all_files(dir, &mut files);
    files
        .iter()
        .any(|f| contains(&std::fs::read(f).expect("read file"), needle))
}

#[test]
fn personal_data_is_never_on_disk_in_the_clear() {
    let dir = tmp();
    {
        let store = open(dir.path());
        for i in 1..=20 {
            let id = format!("K001-20261123-{i:04}");
            store.accept(&sample_order(&id)).expect("accept");
        }
        store
            .mark_synced("K001-20261123-0001", "SG-2026-1")
            .expect("sync");
        store
            .enqueue_rating("K001-20261123-0002", 5, None)
            .expect("rate");
        store.flush().expect("flush");
        // Sanity: the data is really there and decrypts.
        let got = store
            .order("K001-20261123-0003")
            .expect("read")
            .expect("some");
        assert_eq!(got.personal.id_number.expose(), ID_NUMBER);
    }
    let mut files = Vec::new();
    all_files(dir.path(), &mut files);
    assert!(!files.is_empty());
    let mut scanned = 0usize;
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        scanned += bytes.len();
        for needle in [ID_NUMBER, NAME, PHONE, ADDRESS] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{} holds a personal value in the clear",
                file.display()
            );
        }
    }
    assert!(
        scanned > 1000,
        "the store wrote almost nothing ({scanned} bytes)"
    );
    // Positive control: the scan does find non-personal fields of the same
    // records, so a miss above means "sealed", not "not written yet".
    assert!(found_anywhere(dir.path(), b"CERT-SUBJECT-0001"));
    assert!(found_anywhere(dir.path(), b"SG-2026-1"));
    // And it all comes back after a restart.
    let store = open(dir.path());
    let orders = store.orders().expect("orders");
    assert_eq!(orders.len(), 20);
    assert_eq!(orders[1].personal.name.expose(), NAME);
    assert_eq!(orders[1].personal.address.expose(), ADDRESS);
    assert_eq!(orders[1].personal.phone.expose(), PHONE);
    assert_eq!(orders[1].rating, Some(5));
}

#[test]
fn an_order_round_trips_exactly() {
    let dir = tmp();
    let store = open(dir.path());
    let order = sample_order("K001-20261123-0001");
    store.accept(&order).expect("accept");
    assert_eq!(store.order(&order.local_id).expect("read"), Some(order));
    assert_eq!(store.order("K001-20261123-0099").expect("read"), None);
}

#[test]
fn accepting_the_same_id_twice_is_refused() {
    let dir = tmp();
    let store = open(dir.path());
    let order = sample_order("K001-20261123-0001");
    assert_eq!(store.accept(&order).expect("first"), AuditSeq(1));
    let err = store.accept(&order).expect_err("second");
    assert!(
        matches!(err, StoreError::Duplicate { ref local_id } if local_id == "K001-20261123-0001")
    );
    // Nothing was half-written by the refused attempt.
    assert_eq!(store.outbox_all().expect("outbox").len(), 1);
    assert_eq!(
        store.audit_verify().expect("verify"),
        AuditReport::Ok {
            records: 1,
            unkeyed_check: 0
        }
    );
}

#[test]
fn accept_writes_order_outbox_and_audit_together() {
    let dir = tmp();
    let store = open(dir.path());
    let order = sample_order("K001-20261123-0001");
    store.accept(&order).expect("accept");
    let entries = store.outbox_all().expect("outbox");
    assert_eq!(
        entries,
        vec![OutboxEntry {
            key: order.local_id.clone(),
            kind: OutboxKind::Order,
            local_id: order.local_id.clone(),
            attempts: 0,
            next_attempt_at: order.accepted_at,
            enqueued_at: order.accepted_at,
            last_error: None,
            parked: false,
            rating: None,
        }]
    );
    let audit = store.audit_records().expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event, "accepted");
    assert_eq!(audit[0].local_id, order.local_id);
    assert_eq!(audit[0].prev_hash, audit::GENESIS_PREV_HASH);
    assert_eq!(audit[0].detail["business"], json!("new-connection"));
}

#[test]
fn outbox_survives_a_restart() {
    let dir = tmp();
    {
        let store = open(dir.path());
        store
            .accept(&sample_order("K001-20261123-0001"))
            .expect("accept");
    }
    let store = open(dir.path());
    let due = store.outbox_due(fixed_now()).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "K001-20261123-0001");
    assert_eq!(store.outbox_depth().expect("depth"), 1);
}

#[test]
fn due_is_oldest_first_and_respects_backoff() {
    let dir = tmp();
    let store = open(dir.path());
    let mut a = sample_order("K001-20261123-0002");
    a.accepted_at = fixed_now() - Duration::minutes(10);
    let mut b = sample_order("K001-20261123-0001");
    b.accepted_at = fixed_now() - Duration::minutes(5);
    store.accept(&b).expect("b");
    store.accept(&a).expect("a");
    let now = fixed_now();
    let keys: Vec<_> = store
        .outbox_due(now)
        .expect("due")
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["K001-20261123-0002", "K001-20261123-0001"]);

    store
        .record_failure(
            "K001-20261123-0002",
            "http 503",
            now + Duration::seconds(30),
        )
        .expect("failure");
    let due = store.outbox_due(now).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "K001-20261123-0001");
    let later = store.outbox_due(now + Duration::seconds(30)).expect("due");
    assert_eq!(later.len(), 2);
    let failed = &later[0];
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("http 503"));
    assert_eq!(
        store.oldest_pending_age(now).expect("age"),
        Some(Duration::minutes(10))
    );
    assert!(matches!(
        store.record_failure("nope", "x", now),
        Err(StoreError::OutboxNotFound { .. })
    ));
}

#[test]
fn parked_entries_are_excluded_from_due() {
    let dir = tmp();
    let store = open(dir.path());
    store
        .accept(&sample_order("K001-20261123-0001"))
        .expect("accept");
    store
        .accept(&sample_order("K001-20261123-0002"))
        .expect("accept");
    store
        .park("K001-20261123-0001", "central 422 invalid-order")
        .expect("park");
    let due = store
        .outbox_due(fixed_now() + Duration::days(365))
        .expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "K001-20261123-0002");
    assert_eq!(store.parked_count().expect("parked"), 1);
    assert_eq!(store.outbox_depth().expect("depth"), 1);
    assert_eq!(store.outbox_all().expect("all").len(), 2);
    let audit = store.audit_records().expect("audit");
    assert_eq!(audit.last().map(|r| r.event.as_str()), Some("parked"));
    assert!(store.audit_verify().expect("verify").is_ok());
}

#[test]
fn a_technician_retry_unparks_an_entry_and_makes_it_due_now() {
    let dir = tmp();
    let store = open(dir.path());
    let key = "K001-20261123-0001";
    store.accept(&sample_order(key)).expect("accept");
    let later = fixed_now() + Duration::hours(2);
    store
        .record_failure(key, "central 401", later)
        .expect("failure");
    store.park(key, "central 422 invalid-order").expect("park");
    assert!(store.outbox_due(later).expect("due").is_empty());

    store.retry_now(key).expect("retry");
    let due = store.outbox_due(fixed_now()).expect("due");
    assert_eq!(due.len(), 1, "due at once, not at the backoff's time");
    assert!(!due[0].parked);
    assert_eq!(due[0].attempts, 1, "the attempt count is kept");
    assert_eq!(store.parked_count().expect("parked"), 0);
    let audit = store.audit_records().expect("audit");
    assert_eq!(
        audit.last().map(|r| r.event.as_str()),
        Some("retry-requested")
    );
    assert!(store.audit_verify().expect("verify").is_ok());
    assert!(matches!(
        store.retry_now("K001-20261123-0099"),
        Err(StoreError::OutboxNotFound { .. })
    ));
}

#[test]
fn mark_synced_removes_the_entry_and_updates_the_order() {
    let dir = tmp();
    let store = open(dir.path());
    let id = "K001-20261123-0001";
    store.accept(&sample_order(id)).expect("accept");
    store.mark_synced(id, "SG-20261123-000042").expect("synced");
    let order = store.order(id).expect("read").expect("some");
    assert_eq!(order.status, OrderStatus::Synced);
    assert_eq!(order.central_no.as_deref(), Some("SG-20261123-000042"));
    assert_eq!(order.personal.name.expose(), NAME);
    assert!(store.outbox_all().expect("outbox").is_empty());
    assert_eq!(store.oldest_pending_age(fixed_now()).expect("age"), None);
    // Idempotent with the same number, refused with another.
    store.mark_synced(id, "SG-20261123-000042").expect("again");
    assert!(matches!(
        store.mark_synced(id, "SG-OTHER"),
        Err(StoreError::AlreadySynced { .. })
    ));
    let events: Vec<_> = store
        .audit_records()
        .expect("audit")
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(events, ["accepted", "synced"]);
    assert!(matches!(
        store.mark_synced("K001-20261123-0009", "X"),
        Err(StoreError::OrderNotFound { .. })
    ));
}

#[test]
fn a_rating_is_stored_queued_and_audited() {
    let dir = tmp();
    let store = open(dir.path());
    let id = "K001-20261123-0001";
    store.accept(&sample_order(id)).expect("accept");
    assert!(matches!(
        store.enqueue_rating(id, 6, None),
        Err(StoreError::InvalidRating { stars: 6 })
    ));
    store.enqueue_rating(id, 4, Some("quick")).expect("rate");
    assert_eq!(
        store.order(id).expect("read").expect("some").rating,
        Some(4)
    );
    let rating = store
        .outbox_all()
        .expect("outbox")
        .into_iter()
        .find(|e| e.kind == OutboxKind::Rating)
        .expect("rating entry");
    assert_eq!(rating.key, "rating-K001-20261123-0001");
    assert_eq!(rating.local_id, id);
    let audit = store.audit_records().expect("audit");
    assert_eq!(audit[1].event, "rated");
    assert_eq!(audit[1].detail, json!({ "stars": 4 }));

    // Delivered: gone from the outbox, audited, and idempotent.
    store.outbox_done(&rating.key).expect("done");
    store.outbox_done(&rating.key).expect("done again");
    let keys: Vec<_> = store
        .outbox_all()
        .expect("outbox")
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, [id]);
    let events: Vec<_> = store
        .audit_records()
        .expect("audit")
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(events, ["accepted", "rated", "delivered"]);
    assert!(store.audit_verify().expect("verify").is_ok());
}

#[test]
fn next_attempt_at_is_the_earliest_unparked_entry() {
    let dir = tmp();
    let store = open(dir.path());
    assert_eq!(store.next_attempt_at().expect("next"), None);
    store
        .accept(&sample_order("K001-20261123-0001"))
        .expect("accept");
    store
        .accept(&sample_order("K001-20261123-0002"))
        .expect("accept");
    let later = fixed_now() + Duration::minutes(2);
    store
        .record_failure("K001-20261123-0001", "timeout", later)
        .expect("fail");
    assert_eq!(store.next_attempt_at().expect("next"), Some(fixed_now()));
    store.park("K001-20261123-0002", "poisoned").expect("park");
    assert_eq!(store.next_attempt_at().expect("next"), Some(later));
}

#[test]
fn local_ids_are_monotonic_across_reopen() {
    let dir = tmp();
    let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    {
        let store = open(dir.path());
        assert_eq!(
            store.next_local_id("K001", day).expect("id"),
            "K001-20261123-0001"
        );
        assert_eq!(
            store.next_local_id("K001", day).expect("id"),
            "K001-20261123-0002"
        );
    }
    let store = open(dir.path());
    assert_eq!(
        store.next_local_id("K001", day).expect("id"),
        "K001-20261123-0003"
    );
    let next_day = day.succ_opt().expect("date");
    assert_eq!(
        store.next_local_id("K001", next_day).expect("id"),
        "K001-20261124-0001"
    );
    // The clock set back to an earlier day continues that day's counter.
    assert_eq!(
        store.next_local_id("K001", day).expect("id"),
        "K001-20261123-0004"
    );
    assert!(matches!(
        store.next_local_id("K 1", day),
        Err(StoreError::InvalidPrefix(_))
    ));
}

/// Regression: `provision` names a board `K-<serial>`, and the store
/// refused every prefix with a hyphen, so every kiosk provisioned from the
/// image refused every order.
#[test]
fn a_provisioned_device_id_numbers_orders() {
    let dir = tmp();
    let store = open(dir.path());
    let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
    let id = crate::device_id::from_serial("10000000a1b2c3d4").expect("id");
    let local_id = store.next_local_id(&id, day).expect("local id");
    assert_eq!(local_id, "K-A1B2C3D4-20261204-0001");
    store.accept(&sample_order(&local_id)).expect("accept");
    assert_eq!(
        store.order(&local_id).expect("read").map(|o| o.local_id),
        Some(local_id)
    );
}

#[test]
fn the_audit_chain_verifies_and_says_so() {
    let dir = tmp();
    {
        let store = open(dir.path());
        for i in 1..=3 {
            store
                .accept(&sample_order(&format!("K001-20261123-{i:04}")))
                .expect("accept");
        }
        store
            .mark_synced("K001-20261123-0001", "SG-1")
            .expect("sync");
        let report = store.audit_verify().expect("verify");
        assert_eq!(
            report,
            AuditReport::Ok {
                records: 4,
                unkeyed_check: 0
            }
        );
        assert_eq!(report.to_string(), "ok (4 records)");
        let records = store.audit_records().expect("audit");
        for pair in records.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
    }
    assert_eq!(
        audit_verify_dir(dir.path(), None).expect("verify dir"),
        AuditReport::Ok {
            records: 4,
            unkeyed_check: 0
        }
    );
    assert!(matches!(
        audit_verify_dir(&dir.path().join("nowhere"), None),
        Err(StoreError::NoStore { .. })
    ));
}

/// Rewrites record `seq` through sled directly, as an attacker with the disk would.
fn tamper(store: &Store, seq: u64, f: impl FnOnce(&mut AuditRecord)) {
    let raw = store
        .audit
        .get(seq.to_be_bytes())
        .expect("get")
        .expect("record");
    let mut rec: AuditRecord = serde_json::from_slice(&raw).expect("parse");
    f(&mut rec);
    store
        .audit
        .insert(seq.to_be_bytes(), serde_json::to_vec(&rec).expect("encode"))
        .expect("insert");
}

fn three_accepted(dir: &Path) -> Store {
    let store = open(dir);
    for i in 1..=3 {
        store
            .accept(&sample_order(&format!("K001-20261123-{i:04}")))
            .expect("accept");
    }
    store
}

/// From the moment the key is set, records are MACs under it: they verify
/// with the key, are counted as not checked without it, fail with another
/// key, and an unkeyed record after them is a break. The records from
/// before keep their plain hashes.
#[test]
fn a_keyed_chain_verifies_only_with_its_key() {
    let dir = tmp();
    let key = AuditKey::random();
    {
        let store = three_accepted(dir.path());
        store.set_audit_key(Some(key.clone()));
        assert!(store.audit_keyed());
        store
            .mark_synced("K001-20261123-0001", "SG-1")
            .expect("sync");
        store
            .mark_synced("K001-20261123-0002", "SG-2")
            .expect("sync");
        let records = store.audit_records().expect("audit");
        let keyed: Vec<bool> = records.iter().map(|r| r.keyed).collect();
        assert_eq!(keyed, [false, false, false, true, true]);
        // A keyed record's hash is the MAC, not the plain hash.
        let r = &records[3];
        assert_eq!(
            r.hash,
            audit::record_mac(
                &key,
                r.seq,
                &r.at,
                &r.event,
                &r.local_id,
                &r.detail,
                &r.prev_hash
            )
        );
        assert_ne!(
            r.hash,
            audit::record_hash(r.seq, &r.at, &r.event, &r.local_id, &r.detail, &r.prev_hash)
        );
        assert_eq!(
            store.audit_verify().expect("verify"),
            AuditReport::Ok {
                records: 5,
                unkeyed_check: 0
            }
        );
        let head = store.audit_head().expect("head");
        assert_eq!(head.seq, 5);
        assert_eq!(head.hash, records[4].hash);
        assert_eq!(
            store.audit_hash_at(4).expect("at"),
            Some(records[3].hash.clone())
        );
        assert_eq!(store.audit_hash_at(6).expect("at"), None);
        assert_eq!(store.audit_central_seq().expect("anchor"), None);
        store.set_audit_central_seq(4).expect("anchor");
        assert_eq!(store.audit_central_seq().expect("anchor"), Some(4));
    }
    let no_key = audit_verify_dir(dir.path(), None).expect("verify");
    assert_eq!(
        no_key,
        AuditReport::Ok {
            records: 5,
            unkeyed_check: 2
        }
    );
    assert!(
        no_key.to_string().contains("2 keyed records not checked"),
        "{no_key}"
    );
    assert_eq!(
        audit_verify_dir(dir.path(), Some(&key)).expect("verify"),
        AuditReport::Ok {
            records: 5,
            unkeyed_check: 0
        }
    );
    let other = audit_verify_dir(dir.path(), Some(&AuditKey::random())).expect("verify");
    assert!(
        matches!(&other, AuditReport::Broken { seq: 4, reason } if reason.contains("MAC mismatch")),
        "{other}"
    );
    let (head, central) = audit_anchor_dir(dir.path()).expect("anchor");
    assert_eq!((head.seq, central), (5, Some(4)));

    // A writer without the key (or an edit that recomputes a plain hash)
    // after the keyed records: a break.
    let store = open(dir.path());
    store.audit_event("test", "x", json!({})).expect("unkeyed");
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(&report, AuditReport::Broken { seq: 6, reason } if reason.contains("not keyed")),
        "{report}"
    );
    assert_eq!(AuditKey::from_hex(&key.to_hex()), Some(key));
    assert_eq!(AuditKey::from_hex("00"), None);
    assert_eq!(format!("{:?}", AuditKey::random()), "AuditKey(..)");
}

#[test]
fn the_audit_chain_detects_an_edited_record() {
    let dir = tmp();
    let store = three_accepted(dir.path());
    tamper(&store, 2, |r| r.detail = json!({ "business": "closure" }));
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(report, AuditReport::Broken { seq: 2, .. }),
        "{report}"
    );
    assert!(report
        .to_string()
        .starts_with("broken at record 2: hash mismatch"));
}

#[test]
fn the_audit_chain_detects_a_backdated_record_even_with_its_hash_recomputed() {
    let dir = tmp();
    let store = three_accepted(dir.path());
    tamper(&store, 2, |r| {
        r.at -= Duration::hours(3);
        r.hash = audit::record_hash(r.seq, &r.at, &r.event, &r.local_id, &r.detail, &r.prev_hash);
    });
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(report, AuditReport::Broken { seq: 3, ref reason } if reason.contains("prev_hash")),
        "{report}"
    );
}

#[test]
fn the_audit_chain_detects_a_deleted_record() {
    let dir = tmp();
    let store = three_accepted(dir.path());
    store.audit.remove(2u64.to_be_bytes()).expect("remove");
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(report, AuditReport::Broken { seq: 2, .. }),
        "{report}"
    );

    let dir = tmp();
    let store = three_accepted(dir.path());
    store.audit.remove(3u64.to_be_bytes()).expect("remove");
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(report, AuditReport::Broken { seq: 3, .. }),
        "{report}"
    );

    let dir = tmp();
    let store = three_accepted(dir.path());
    store.audit.remove(1u64.to_be_bytes()).expect("remove");
    let report = store.audit_verify().expect("verify");
    assert!(
        matches!(report, AuditReport::Broken { seq: 1, .. }),
        "{report}"
    );
}

#[test]
fn the_record_hash_ignores_key_order_but_not_content() {
    let at = fixed_now();
    let a = json!({ "a": 1, "b": { "x": "y", "c": [1, 2] } });
    let b: serde_json::Value =
        serde_json::from_str(r#"{"b":{"c":[1,2],"x":"y"},"a":1}"#).expect("json");
    let h = |d: &serde_json::Value| {
        audit::record_hash(1, &at, "accepted", "K1", d, audit::GENESIS_PREV_HASH)
    };
    assert_eq!(h(&a), h(&b));
    assert_ne!(h(&a), h(&json!({ "a": 2, "b": { "x": "y", "c": [1, 2] } })));
    // Length prefixes: moving a character between fields changes the hash.
    assert_ne!(
        audit::record_hash(1, &at, "ab", "c", &a, audit::GENESIS_PREV_HASH),
        audit::record_hash(1, &at, "a", "bc", &a, audit::GENESIS_PREV_HASH)
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_key_file_is_0600_in_a_0700_directory() {
    let dir = tmp();
    let store = open(dir.path());
    let key = crypto::key_path(dir.path());
    assert_eq!(mode(&key), 0o600);
    assert_eq!(std::fs::metadata(&key).expect("meta").len(), 32);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
    assert!(!dir.path().join("keys/store.key.tmp").exists());
    assert_eq!(
        format!("{:?}", DeviceKey::from_bytes([7; 32])),
        "DeviceKey(<redacted>)"
    );
    drop(store);
    // The same key is used on the next open.
    let before = std::fs::read(&key).expect("read");
    drop(open(dir.path()));
    assert_eq!(std::fs::read(&key).expect("read"), before);
}

#[test]
fn a_key_readable_by_others_is_refused() {
    let dir = tmp();
    drop(open(dir.path()));
    let key = crypto::key_path(dir.path());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = Store::open(dir.path()).expect_err("0644 key");
    assert!(
        matches!(err, StoreError::KeyPermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"));
}

#[test]
fn a_key_of_the_wrong_length_or_a_missing_key_is_refused() {
    let dir = tmp();
    drop(open(dir.path()));
    let key = crypto::key_path(dir.path());
    std::fs::write(&key, [1u8; 16]).expect("write");
    let err = Store::open(dir.path()).expect_err("short key");
    assert!(
        matches!(err, StoreError::KeyLength { len: 16, .. }),
        "{err}"
    );

    std::fs::remove_file(&key).expect("rm");
    let err = Store::open(dir.path()).expect_err("missing key");
    assert!(matches!(err, StoreError::KeyMissing { .. }), "{err}");
    assert!(!key.exists(), "no new key may be made over sealed data");
}

#[test]
fn a_wrong_key_gives_an_error_not_garbage() {
    let dir = tmp();
    {
        let store = open(dir.path());
        store
            .accept(&sample_order("K001-20261123-0001"))
            .expect("accept");
    }
    let key = crypto::key_path(dir.path());
    std::fs::write(&key, [0x5a; 32]).expect("overwrite key");
    let err = Store::open(dir.path()).expect_err("wrong key");
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");

    // At the record level too: another key cannot open a sealed blob.
    let a = DeviceKey::from_bytes([1; 32]);
    let b = DeviceKey::from_bytes([2; 32]);
    let sealed = a.seal(b"K1", b"secret", "K1").expect("seal");
    assert!(matches!(
        b.open(b"K1", &sealed, "K1"),
        Err(StoreError::Decrypt { .. })
    ));
    assert_eq!(&a.open(b"K1", &sealed, "K1").expect("open")[..], b"secret");
}

#[test]
fn a_sealed_record_moved_to_another_id_does_not_decrypt() {
    let dir = tmp();
    let store = open(dir.path());
    store
        .accept(&sample_order("K001-20261123-0001"))
        .expect("accept");
    store
        .accept(&sample_order("K001-20261123-0002"))
        .expect("accept");
    let raw1 = store
        .orders
        .get("K001-20261123-0001")
        .expect("get")
        .expect("some");
    let raw2 = store
        .orders
        .get("K001-20261123-0002")
        .expect("get")
        .expect("some");
    let mut rec2: serde_json::Value = serde_json::from_slice(&raw2).expect("json");
    let rec1: serde_json::Value = serde_json::from_slice(&raw1).expect("json");
    assert!(rec1.get("personal").is_none());
    rec2["sealed"] = rec1["sealed"].clone();
    store
        .orders
        .insert(
            "K001-20261123-0002",
            serde_json::to_vec(&rec2).expect("encode"),
        )
        .expect("insert");
    let err = store.order("K001-20261123-0002").expect_err("swapped");
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
    assert!(!err.to_string().contains(NAME));
}

#[test]
fn size_on_disk_is_reported() {
    let dir = tmp();
    let store = open(dir.path());
    store
        .accept(&sample_order("K001-20261123-0001"))
        .expect("accept");
    assert!(store.size_on_disk().expect("size") > 0);
}

#[test]
fn an_unreadable_outbox_entry_is_quarantined_and_never_blocks_the_rest() {
    let dir = tmp();
    let store = open(dir.path());
    let a = sample_order("K001-20261123-0001");
    let b = sample_order("K001-20261123-0002");
    store.accept(&a).expect("accept a");
    store.accept(&b).expect("accept b");
    // A torn write: the first entry's bytes are no longer an entry.
    store
        .outbox
        .insert(a.local_id.as_bytes(), &b"{\"key\":\"K001-2026"[..])
        .expect("corrupt");
    let due = store.outbox_due(fixed_now()).expect("the drain goes on");
    assert_eq!(
        due.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        vec![a.local_id.as_str(), b.local_id.as_str()],
        "the undelivered order is queued again, oldest first"
    );
    assert_eq!(store.quarantined_count(), 1);
    // Not lost: the raw bytes are kept for staff, and the audit says so.
    assert_eq!(
        store
            .quarantine
            .get(a.local_id.as_bytes())
            .expect("read")
            .as_deref(),
        Some(&b"{\"key\":\"K001-2026"[..])
    );
    let audit = store.audit_records().expect("audit");
    assert!(audit
        .iter()
        .any(|r| r.event == "quarantined" && r.local_id == a.local_id));
    assert!(audit
        .iter()
        .any(|r| r.event == "requeued" && r.local_id == a.local_id));
    assert!(store.audit_verify().expect("verify").is_ok());
    // The order itself is intact and still readable.
    assert_eq!(store.order(&a.local_id).expect("read"), Some(a.clone()));
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.quarantined_count(), 1, "survives a restart");
    assert_eq!(store.outbox_depth().expect("depth"), 2);
    // Delivered, it leaves; a synced order's broken entry is not requeued.
    store
        .mark_synced(&a.local_id, "2026112300001")
        .expect("synced");
    store
        .mark_synced(&b.local_id, "2026112300002")
        .expect("synced");
    store
        .outbox
        .insert(b.local_id.as_bytes(), &b"\xff"[..])
        .expect("corrupt");
    assert!(store.outbox_due(fixed_now()).expect("drain").is_empty());
    assert_eq!(store.quarantined_count(), 2);
}

#[test]
fn retention_deletes_personal_fields_of_old_synced_orders_only() {
    let dir = tmp();
    let store = open(dir.path());
    let old = sample_order("K001-20261123-0001");
    let pending = sample_order("K001-20261123-0002");
    let mut recent = sample_order("K001-20261123-0003");
    recent.accepted_at = fixed_now() + Duration::days(10);
    for o in [&old, &pending, &recent] {
        store.accept(o).expect("accept");
    }
    store.mark_synced(&old.local_id, "C1").expect("sync");
    store.mark_synced(&recent.local_id, "C3").expect("sync");
    let cutoff = fixed_now() + Duration::days(1);
    assert_eq!(store.purge_personal(cutoff).expect("purge"), 1);
    assert_eq!(
        store.purge_personal(cutoff).expect("again"),
        0,
        "idempotent"
    );

    let purged = store.order(&old.local_id).expect("read").expect("kept");
    assert!(purged.personal.name.is_empty() && purged.personal.id_number.expose().is_empty());
    assert!(purged.personal.address.is_empty() && purged.personal.phone.is_empty());
    assert!(purged.personal_purged_at.is_some());
    assert_eq!(
        purged.central_no.as_deref(),
        Some("C1"),
        "the order itself stays"
    );
    assert_eq!(purged.business, old.business);
    // Not yet synced, or not old enough: untouched.
    assert_eq!(store.order(&pending.local_id).expect("read"), Some(pending));
    assert_eq!(
        store
            .order(&recent.local_id)
            .expect("read")
            .map(|o| o.personal),
        Some(recent.personal.clone())
    );
    assert!(store
        .audit_records()
        .expect("audit")
        .iter()
        .any(|r| r.event == "personal-purged" && r.local_id == old.local_id));
    assert!(store.audit_verify().expect("verify").is_ok());
    // The name is gone from the files too (it was only ever sealed, but the
    // purged record must open to the empty fields, which it did above).
    drop(store);
    let store = open(dir.path());
    assert!(store
        .order(&old.local_id)
        .expect("read")
        .is_some_and(|o| o.personal.name.is_empty()));
}

/// Downgrade, readable: a newer kiosk added a field to an order and stamped
/// a higher format that older kiosks can still read. This one reads the
/// order, a status change keeps the newer field, and the format stays the
/// newer one. Downgrade, unreadable: the store is refused and left as it
/// is. Upgrade: a store from before formats gets this kiosk's format and
/// keeps its orders.
#[test]
fn a_store_from_another_version_is_read_or_refused_untouched() {
    let dir = tmp();
    let id = "K001-20261123-0001";
    {
        let newer = open(dir.path());
        newer.accept(&sample_order(id)).expect("accept");
        let raw = newer.orders.get(id).expect("get").expect("order");
        let mut map = record_object(id, &raw).expect("record");
        map.insert("queue_ticket".into(), json!("A012"));
        newer
            .orders
            .insert(id, encode_record(map).expect("encode"))
            .expect("insert");
        newer
            .meta
            .insert(FORMAT_KEY, &format_bytes(STORE_FORMAT + 1, STORE_FORMAT))
            .expect("stamp");
        newer.flush().expect("flush");
    }
    {
        let older = open(dir.path());
        let order = older.order(id).expect("read").expect("the order is there");
        assert_eq!(order.personal.name.expose(), NAME);
        older.mark_synced(id, "SG-2026-1").expect("sync");
        let raw = older.orders.get(id).expect("get").expect("order");
        let map = record_object(id, &raw).expect("record");
        assert_eq!(map.get("queue_ticket"), Some(&json!("A012")));
        assert_eq!(
            read_format(&older.meta).expect("format"),
            Some((STORE_FORMAT + 1, STORE_FORMAT))
        );
        assert!(older.audit_verify().expect("verify").is_ok());
        // A newer kiosk that changed what older ones read.
        older
            .meta
            .insert(
                FORMAT_KEY,
                &format_bytes(STORE_FORMAT + 1, STORE_FORMAT + 1),
            )
            .expect("stamp");
        older.flush().expect("flush");
    }
    match Store::open_with_clock(dir.path(), Arc::new(fixed_now)) {
        Err(StoreError::TooNew {
            found,
            readable_by,
            ours,
        }) => {
            assert_eq!(
                (found, readable_by, ours),
                (STORE_FORMAT + 1, STORE_FORMAT + 1, STORE_FORMAT)
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a store this kiosk cannot read was opened"),
    }
    // Refused before anything was written: the order and the newer
    // format are as the newer kiosk left them.
    let db = sled::open(dir.path().join("store")).expect("raw open");
    let orders = db.open_tree("orders").expect("orders");
    let raw = orders.get(id).expect("get").expect("the order is kept");
    assert_eq!(
        record_object(id, &raw).expect("record").get("queue_ticket"),
        Some(&json!("A012"))
    );
    let meta = db.open_tree("meta").expect("meta");
    assert_eq!(
        read_format(&meta).expect("format"),
        Some((STORE_FORMAT + 1, STORE_FORMAT + 1))
    );
    drop((orders, meta, db));

    // Upgrade: a store without a format (before formats existed).
    let old = tmp();
    {
        let store = open(old.path());
        store.accept(&sample_order(id)).expect("accept");
        store.meta.remove(FORMAT_KEY).expect("unstamp");
        store.flush().expect("flush");
    }
    let store = open(old.path());
    assert_eq!(
        read_format(&store.meta).expect("format"),
        Some((STORE_FORMAT, STORE_READABLE_BY))
    );
    assert!(store.order(id).expect("read").is_some());
}
