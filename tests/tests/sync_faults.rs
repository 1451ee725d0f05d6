//! Sync under faults: the kiosk's outbox drain talks to the central
//! simulator through [`FaultProxy`] on loopback, and central must end up
//! holding every accepted order exactly once whatever the network does.
//!
//! The drain is driven step by step with `drain_once`, so each test decides
//! which request meets which fault; waits are only "until the entry is due
//! again" (a short backoff), never assertions on elapsed time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::model::Order;
use kiosk::runtime::sync::{drain_once, Backoff, SyncStatus};
use kiosk::store::testing::sample_order;
use kiosk::store::{OutboxEntry, Store};
use kiosk_sim::central::{SimCentral, SimHandle};
use kiosk_testbed::proxy::{Fault, FaultProxy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;
use tokio::sync::watch;

/// The client gives up after this; [`LONG_DELAY`] is beyond it. Generous,
/// so a loaded machine does not turn a passing request into a timeout.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// A proxy delay the client never waits out.
const LONG_DELAY: Duration = Duration::from_millis(2500);
/// A short backoff so "wait until due" stays short.
const QUICK: Backoff = Backoff {
    base: Duration::from_millis(2),
    max: Duration::from_millis(20),
};
/// Upper bound on drain rounds in any loop here.
const MAX_ROUNDS: usize = 200;

/// A kiosk store in a temp dir, the simulator, the proxy in between, and a
/// client pointed at the proxy.
struct Bed {
    dir: TempDir,
    store: Option<Arc<Store>>,
    sim: SimHandle,
    proxy: FaultProxy,
    client: CentralClient,
    backoff: Backoff,
    status: watch::Sender<SyncStatus>,
}

impl Bed {
    async fn new(backoff: Backoff) -> Bed {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store opens"));
        let sim = SimCentral::start(1).await.expect("simulator starts");
        let proxy = FaultProxy::start(sim.addr()).await.expect("proxy starts");
        let mut config = ClientConfig::new(proxy.url());
        config.timeout = CLIENT_TIMEOUT;
        config.connect_timeout = CLIENT_TIMEOUT;
        let client = CentralClient::new(config).expect("client");
        let (status, _) = watch::channel(SyncStatus::default());
        Bed {
            dir,
            store: Some(store),
            sim,
            proxy,
            client,
            backoff,
            status,
        }
    }

    fn store(&self) -> &Arc<Store> {
        self.store.as_ref().expect("store is open")
    }

    /// Power cut: the store goes away (every handle dropped), then the same
    /// data directory is opened again.
    fn restart_store(&mut self) {
        let store = self.store.take().expect("store is open");
        assert_eq!(Arc::strong_count(&store), 1, "nothing else holds the store");
        drop(store);
        self.store = Some(Arc::new(
            Store::open(self.dir.path()).expect("store reopens"),
        ));
    }

    /// Accepts order `id`; `seq` orders acceptance (and so the outbox).
    fn accept(&self, id: &str, seq: i64) -> Order {
        let mut order = sample_order(id);
        order.accepted_at = epoch() + chrono::Duration::seconds(seq);
        self.store().accept(&order).expect("accepted");
        order
    }

    async fn drain(&self) -> usize {
        drain_once(self.store(), &self.client, self.backoff, &self.status)
            .await
            .expect("no store error")
    }

    /// Waits until the earliest pending entry is due, then drains once.
    async fn drain_when_due(&self) -> usize {
        for _ in 0..MAX_ROUNDS {
            let Some(next) = self.store().next_attempt_at().expect("store") else {
                break;
            };
            let now = Utc::now();
            if next <= now {
                break;
            }
            let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait + Duration::from_millis(1)).await;
        }
        self.drain().await
    }

    /// Drains until the outbox is empty (bounded); returns the rounds taken.
    async fn drain_until_empty(&self) -> usize {
        for round in 1..=MAX_ROUNDS {
            self.drain_when_due().await;
            if self.store().outbox_depth().expect("store") == 0 {
                return round;
            }
        }
        panic!(
            "outbox still holds {:?} after {MAX_ROUNDS} rounds",
            self.store().outbox_all()
        );
    }

    fn entry(&self, key: &str) -> OutboxEntry {
        self.store()
            .outbox_all()
            .expect("store")
            .into_iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("no outbox entry {key}"))
    }

    /// Order numbers central stored per idempotency key (all of them, so a
    /// duplicate shows as a second number).
    fn central_orders(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, no) in self.sim.control.orders_received() {
            by_key.entry(key).or_default().push(no);
        }
        by_key
    }

    /// Central holds `id` exactly once, under the number the store recorded.
    fn assert_delivered_once(&self, id: &str) {
        let central = self.central_orders();
        let numbers = central.get(id).cloned().unwrap_or_default();
        assert_eq!(
            numbers.len(),
            1,
            "central holds {id} exactly once: {central:?}"
        );
        let order = self.store().order(id).expect("store").expect("order kept");
        assert_eq!(
            order.central_no.as_deref(),
            Some(numbers[0].as_str()),
            "the store recorded central's number for {id}"
        );
    }
}

/// A past instant all test orders are accepted relative to, so they are due
/// at once whatever the wall clock says.
fn epoch() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(1)
}

/// One order meets `fault` on its first delivery: it is not delivered, one
/// failed attempt is recorded, it is not parked and not synced.
async fn first_attempt_fails(fault: Fault) -> Bed {
    let bed = Bed::new(QUICK).await;
    bed.accept("K-1", 0);
    bed.proxy.set_for(fault, 1);

    assert_eq!(bed.drain().await, 0, "{fault:?}: nothing delivered");
    let entry = bed.entry("K-1");
    assert_eq!(entry.attempts, 1, "{fault:?}: one failed attempt recorded");
    assert!(!entry.parked, "{fault:?} is retried, never parked");
    assert!(entry.last_error.is_some());
    assert!(bed.status.borrow().last_error.is_some());
    let order = bed.store().order("K-1").expect("store").expect("order");
    assert_eq!(order.central_no, None, "{fault:?}: not synced yet");
    assert_eq!(bed.proxy.count(fault), 1);
    bed
}

/// Once the fault is gone the order is delivered and central holds it
/// exactly once.
async fn then_delivered_once(bed: &Bed) {
    bed.drain_until_empty().await;
    bed.assert_delivered_once("K-1");
    assert!(bed.status.borrow().last_ok.is_some());
    assert_eq!(bed.store().parked_count().expect("store"), 0);
}

async fn fault_is_retried_then_delivered_once(fault: Fault) -> Bed {
    let bed = first_attempt_fails(fault).await;
    then_delivered_once(&bed).await;
    bed
}

/// Central got exactly the requests the proxy forwarded: none of the
/// faulted ones (which the proxy answered or killed itself).
fn assert_faulted_requests_never_reached_central(bed: &Bed) {
    assert_eq!(
        bed.sim.control.submissions_count("K-1"),
        bed.proxy.count(Fault::Pass),
    );
}

#[tokio::test]
async fn dropped_connection_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::Drop).await;
    assert_faulted_requests_never_reached_central(&bed);
}

#[tokio::test]
async fn reset_connection_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::Reset).await;
    assert_faulted_requests_never_reached_central(&bed);
}

#[tokio::test]
async fn server_error_503_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::Status(503)).await;
    assert_faulted_requests_never_reached_central(&bed);
}

#[tokio::test]
async fn server_error_500_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::Status(500)).await;
    assert_faulted_requests_never_reached_central(&bed);
}

#[tokio::test]
async fn malformed_json_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::MalformedJson).await;
    assert_faulted_requests_never_reached_central(&bed);
}

#[tokio::test]
async fn delay_beyond_the_client_timeout_is_retried_and_delivered_once() {
    let bed = fault_is_retried_then_delivered_once(Fault::Delay(LONG_DELAY)).await;
    // The delayed request still reaches central after the client gave up:
    // wait for it (bounded), then central must still hold the order once.
    for _ in 0..100 {
        if bed.sim.control.submissions_count("K-1") >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        bed.sim.control.submissions_count("K-1") >= 2,
        "the late request arrived"
    );
    bed.assert_delivered_once("K-1");
}

#[tokio::test]
async fn lost_reply_is_retried_and_central_still_holds_the_order_once() {
    let bed = first_attempt_fails(Fault::LoseReply).await;
    // Central stored it; the kiosk does not know.
    assert_eq!(bed.central_orders().get("K-1").map(Vec::len), Some(1));
    then_delivered_once(&bed).await;
    assert!(
        bed.sim.control.submissions_count("K-1") >= 2,
        "central saw the lost POST and the retry"
    );
}

#[tokio::test]
async fn backoff_grows_and_is_capped_within_the_jitter_band() {
    let backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(160),
    };
    let bed = Bed::new(backoff).await;
    bed.accept("K-1", 0);
    bed.proxy.set(Fault::Status(503));
    let ms = |d: Duration| chrono::Duration::from_std(d).expect("small duration");
    for attempt in 0..8u32 {
        let before = Utc::now();
        assert_eq!(bed.drain_when_due().await, 0);
        let after = Utc::now();
        let entry = bed.entry("K-1");
        assert_eq!(entry.attempts, attempt + 1);
        // drain_once read the clock between `before` and `after`, then
        // added base·2^attempt (capped) ±25 %, never past the cap.
        let nominal = backoff.base.saturating_mul(1 << attempt).min(backoff.max);
        let low = before + ms(nominal.mul_f64(0.75));
        let high = after + ms(nominal.mul_f64(1.25).min(backoff.max));
        assert!(
            low <= entry.next_attempt_at && entry.next_attempt_at <= high,
            "attempt {attempt}: next attempt {} not within [{low}, {high}]",
            entry.next_attempt_at
        );
        assert!(entry.next_attempt_at <= after + ms(backoff.max), "capped");
    }
    assert!(bed.sim.control.orders_received().is_empty());
    bed.proxy.set(Fault::Pass);
    bed.drain_until_empty().await;
    bed.assert_delivered_once("K-1");
}

#[tokio::test]
async fn delivery_resumes_after_a_restart_between_failures() {
    let mut bed = Bed::new(QUICK).await;
    for (i, id) in ["K-1", "K-2", "K-3"].into_iter().enumerate() {
        bed.accept(id, i as i64);
    }
    // K-1 reaches central but its reply is lost; K-2 and K-3 meet a 503.
    bed.proxy.push([Fault::LoseReply]);
    bed.proxy.set_for(Fault::Status(503), 2);
    assert_eq!(bed.drain().await, 0);
    assert_eq!(bed.central_orders().len(), 1, "only K-1 reached central");

    bed.restart_store();
    assert_eq!(
        bed.store().outbox_depth().expect("store"),
        3,
        "the outbox survived"
    );
    for id in ["K-1", "K-2", "K-3"] {
        assert_eq!(bed.entry(id).attempts, 1, "{id}: its failure survived");
    }
    bed.drain_until_empty().await;
    for id in ["K-1", "K-2", "K-3"] {
        bed.assert_delivered_once(id);
    }
    assert!(bed.sim.control.submissions_count("K-1") >= 2);
    assert_eq!(bed.central_orders().len(), 3);
}

#[tokio::test]
async fn rejected_order_is_parked_alarmed_and_does_not_block_the_rest() {
    let bed = Bed::new(QUICK).await;
    // The oldest entry is poisoned: central refuses a capacity of 0 kW.
    let mut poisoned = sample_order("K-0");
    poisoned.accepted_at = epoch();
    poisoned.application.capacity_kw = 0.0;
    bed.store().accept(&poisoned).expect("accepted locally");
    bed.accept("K-1", 1);
    bed.accept("K-2", 2);

    assert_eq!(bed.drain().await, 2, "the rest went in the same drain");
    assert_eq!(bed.store().parked_count().expect("store"), 1);
    assert_eq!(bed.store().outbox_depth().expect("store"), 0);
    let parked = bed.entry("K-0");
    assert!(parked.parked);
    assert!(
        parked
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("invalid-capacity"),
        "the reason is kept: {:?}",
        parked.last_error
    );
    bed.assert_delivered_once("K-1");
    bed.assert_delivered_once("K-2");
    assert!(!bed.central_orders().contains_key("K-0"));

    // A parked entry is never retried.
    tokio::time::sleep(QUICK.max).await;
    assert_eq!(bed.drain().await, 0);
    assert_eq!(bed.sim.control.submissions_count("K-0"), 1);

    // The status endpoint raises the alarm.
    let json = status_json(bed.store().clone(), bed.status.subscribe()).await;
    assert_eq!(json["parked"], 1, "{json}");
    let alarms = json["alarms"].as_array().cloned().unwrap_or_default();
    assert!(
        alarms
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.contains("parked"))),
        "alarms: {alarms:?}"
    );
}

/// Regression: any 4xx parked the entry for good, so a central that
/// wanted a token answered 401 and stranded every order after the citizen
/// had been told "accepted". Only a 422 with a reason code parks now; the
/// rest is kept, retried and alarmed until central takes it.
#[tokio::test]
async fn client_errors_other_than_a_business_rejection_are_retried_with_an_alarm() {
    for status in [400, 401, 403, 404, 409, 413] {
        let bed = first_attempt_fails(Fault::Status(status)).await;
        // The citizen rated the order: the rating waits on the order, and
        // the alarm still says why the order fails.
        bed.store()
            .enqueue_rating("K-1", 5, None)
            .expect("rating queued");
        bed.proxy.set_for(Fault::Status(status), 1);
        bed.drain_when_due().await;
        let json = status_json(bed.store().clone(), bed.status.subscribe()).await;
        let alarms = json["alarms"].as_array().cloned().unwrap_or_default();
        assert!(
            alarms.iter().any(|a| {
                a.as_str().is_some_and(|a| {
                    a.contains("kept and retried") && a.contains(&status.to_string())
                })
            }),
            "HTTP {status}: alarms {alarms:?}"
        );
        assert_eq!(json["parked"], 0, "HTTP {status}: {json}");
        // Central mended (the token fixed): delivered with no technician.
        then_delivered_once(&bed).await;
        let json = status_json(bed.store().clone(), bed.status.subscribe()).await;
        assert_eq!(
            json["alarms"],
            serde_json::json!([]),
            "HTTP {status}: {json}"
        );
    }
}

/// `GET /status` of a status endpoint over `store`, as central polls it.
async fn status_json(store: Arc<Store>, sync: watch::Receiver<SyncStatus>) -> serde_json::Value {
    use kiosk::app::{fetch_status, spawn_status, StatusSources};
    use kiosk::runtime::{Counters, Screen};
    let (_screen_tx, screen) = watch::channel(Screen {
        seq: 0,
        phase: "attract",
        resumes: None,
        problem: None,
        order: None,
        central_no: None,
        printed: None,
        elderly: false,
    });
    let sources = StatusSources {
        store,
        sync,
        screen,
        counters: Arc::new(Counters::default()),
        devices: Vec::new(),
        face_self_test_ok: None,
        frames: Vec::new(),
        central: None,
        system: None,
        identity: None,
        clock: Arc::new(kiosk::clock::Trusted),
    };
    let (stop, stopped) = watch::channel(false);
    let addr = "127.0.0.1:0".parse().expect("loopback address");
    let server = spawn_status(addr, Some("sync-test".into()), None, None, sources, stopped)
        .await
        .expect("status endpoint binds");
    let body = fetch_status(server.addr, "sync-test")
        .await
        .expect("status answers");
    let _ = stop.send(true);
    serde_json::from_str(&body).expect("status is JSON")
}

#[tokio::test]
async fn tampered_order_record_is_parked_instead_of_blocking_the_drain() {
    let mut bed = Bed::new(QUICK).await;
    bed.accept("K-0", 0);
    bed.accept("K-1", 1);
    bed.accept("K-2", 2);
    // Power off, and the oldest order's sealed personal fields get damaged
    // on disk (a bad sector, a tampering attempt).
    let store = bed.store.take().expect("open");
    drop(store);
    {
        let db = sled::open(bed.dir.path().join("store")).expect("sled opens");
        let orders = db.open_tree("orders").expect("orders tree");
        let raw = orders.get("K-0").expect("read").expect("K-0 stored");
        let mut record: serde_json::Value = serde_json::from_slice(&raw).expect("JSON record");
        let sealed = record["sealed"].as_str().expect("sealed field").to_string();
        // The last hex digit is in the authentication tag.
        let mut flipped = sealed;
        let last = flipped.pop();
        flipped.push(if last == Some('0') { '1' } else { '0' });
        record["sealed"] = serde_json::Value::String(flipped);
        orders
            .insert("K-0", serde_json::to_vec(&record).expect("encode"))
            .expect("write");
        db.flush().expect("flush");
    }
    bed.store = Some(Arc::new(
        Store::open(bed.dir.path()).expect("store reopens"),
    ));
    assert!(bed.store().order("K-0").is_err(), "K-0 no longer opens");

    assert_eq!(bed.drain().await, 2, "K-1 and K-2 still go");
    assert_eq!(bed.store().parked_count().expect("store"), 1);
    assert!(bed.entry("K-0").parked);
    bed.assert_delivered_once("K-1");
    bed.assert_delivered_once("K-2");
    assert_eq!(
        bed.sim.control.submissions_count("K-0"),
        0,
        "nothing was sent for K-0"
    );
}

#[tokio::test]
async fn many_orders_through_a_flaky_proxy_reach_central_exactly_once() {
    let bed = Bed::new(QUICK).await;
    let ids: Vec<String> = (0..120).map(|i| format!("K-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        bed.accept(id, i as i64);
    }
    // 200 requests (more than 120 orders need at 30 % faults), 30 % of them
    // faulty, from a fixed seed; then all pass.
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let faults = [
        Fault::Drop,
        Fault::Reset,
        Fault::Status(503),
        Fault::Status(502),
        Fault::MalformedJson,
        Fault::LoseReply,
        Fault::Delay(Duration::from_millis(20)),
    ];
    let script: Vec<Fault> = (0..200)
        .map(|_| {
            if rng.gen_bool(0.3) {
                faults[rng.gen_range(0..faults.len())]
            } else {
                Fault::Pass
            }
        })
        .collect();
    bed.proxy.push(script.iter().copied());

    bed.drain_until_empty().await;

    let central = bed.central_orders();
    let central_keys: Vec<&String> = central.keys().collect();
    let local_ids: Vec<&String> = ids.iter().collect();
    assert_eq!(
        central_keys, local_ids,
        "every order arrived, none invented"
    );
    for id in &ids {
        bed.assert_delivered_once(id);
    }
    assert_eq!(
        bed.store().parked_count().expect("store"),
        0,
        "no fault parks anything"
    );
    assert!(
        bed.proxy.count(Fault::LoseReply) > 0,
        "the lost-reply fault was exercised"
    );
    assert!(
        ids.iter()
            .any(|id| bed.sim.control.submissions_count(id) >= 2),
        "some order was sent twice and still stored once"
    );
}

#[tokio::test]
async fn outbox_entry_without_its_order_is_parked_instead_of_retried_forever() {
    let mut bed = Bed::new(QUICK).await;
    bed.accept("K-0", 0);
    bed.accept("K-1", 1);
    // Power off, and the oldest order's record is lost while its outbox
    // entry survives.
    drop(bed.store.take());
    {
        let db = sled::open(bed.dir.path().join("store")).expect("sled opens");
        let orders = db.open_tree("orders").expect("orders tree");
        orders
            .remove("K-0")
            .expect("remove")
            .expect("K-0 was stored");
        db.flush().expect("flush");
    }
    bed.store = Some(Arc::new(
        Store::open(bed.dir.path()).expect("store reopens"),
    ));

    assert_eq!(bed.drain().await, 1, "K-1 still goes");
    let entry = bed.entry("K-0");
    assert!(
        entry.parked,
        "an entry naming no order cannot succeed: {entry:?}"
    );
    assert_eq!(bed.store().outbox_depth().expect("store"), 0);
    bed.assert_delivered_once("K-1");
    assert_eq!(bed.sim.control.submissions_count("K-0"), 0);
}

#[tokio::test]
async fn rating_waits_for_its_order_and_reaches_central_once_despite_a_lost_reply() {
    let bed = Bed::new(QUICK).await;
    bed.accept("K-1", 0);
    bed.store().enqueue_rating("K-1", 5, None).expect("rated");
    // The order meets a 503, then passes; the rating's first POST loses its
    // reply.
    bed.proxy
        .push([Fault::Status(503), Fault::Pass, Fault::LoseReply]);

    assert_eq!(bed.drain().await, 0);
    assert!(
        bed.sim.control.ratings().is_empty(),
        "no rating before its order"
    );

    bed.drain_until_empty().await;
    bed.assert_delivered_once("K-1");
    let central_no = bed
        .store()
        .order("K-1")
        .expect("store")
        .and_then(|o| o.central_no)
        .expect("synced");
    let ratings = bed.sim.control.ratings();
    assert_eq!(ratings.len(), 1, "one rating stored: {ratings:?}");
    assert_eq!(ratings[0].0, "rating-K-1");
    assert_eq!(ratings[0].1.order_no, central_no);
    assert_eq!(ratings[0].1.stars, 5);
    assert_eq!(
        bed.proxy.count(Fault::LoseReply),
        1,
        "the rating's reply was lost once"
    );
    assert_eq!(bed.store().parked_count().expect("store"), 0);
}

/// Regression: a rating whose order central rejected used to be retried
/// forever at the backoff cap, so the outbox never emptied.
#[tokio::test]
async fn rating_of_a_rejected_order_is_parked_not_retried_forever() {
    let bed = Bed::new(QUICK).await;
    let mut poisoned = sample_order("K-0");
    poisoned.accepted_at = epoch();
    poisoned.application.capacity_kw = 0.0;
    bed.store().accept(&poisoned).expect("accepted locally");
    bed.store().enqueue_rating("K-0", 4, None).expect("rated");

    bed.drain().await;
    bed.drain_when_due().await;
    let entries = bed.store().outbox_all().expect("store");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e.parked), "both parked: {entries:?}");
    assert_eq!(bed.store().outbox_depth().expect("store"), 0);
    assert!(bed.sim.control.ratings().is_empty());
}
