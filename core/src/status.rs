//! The kiosk's status endpoint, polled by central servers and technicians.
//!
//! Every task publishes what it knows into a [`Snapshot`] behind a
//! `tokio::sync::watch` channel; this server only reads the latest snapshot,
//! it never touches a device or the store. Routes:
//!
//! * `GET /status`: the snapshot as JSON (uptime computed at request time);
//! * `GET /metrics`: the same numbers in the Prometheus text exposition
//!   format 0.0.4;
//! * `GET /healthz`: `200 ok`, without authentication, for load balancers and
//!   the image boot test.
//!
//! `/status` and `/metrics` require `Authorization: Bearer <token>` when a
//! token is configured (compared in constant time). A snapshot has no
//! personal field by construction: it holds counters, device health, the name
//! of the flow state and alarm texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use kiosk_drivers::Health;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// What the status endpoint reports. Only counters, health and names:
/// nothing here can hold personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Firmware version.
    pub version: String,
    /// When the process started.
    pub started_at: DateTime<Utc>,
    /// Seconds since `started_at`, computed when the snapshot is served.
    pub uptime_s: u64,
    /// Health of each device, by device name (`camera`, `printer`, …).
    pub devices: BTreeMap<String, Health>,
    /// Items waiting in the outbox for central.
    pub outbox_depth: u64,
    /// Age of the oldest outbox item, if any.
    pub outbox_oldest_age_s: Option<u64>,
    /// Orders central refused, parked for staff.
    pub parked: u64,
    /// Last successful sync with central.
    pub last_sync_ok: Option<DateTime<Utc>>,
    /// Size of the local store on disk.
    pub store_bytes: u64,
    /// Orders accepted since the store was created.
    pub orders_accepted_total: u64,
    /// Citizen sessions since start.
    pub sessions_total: u64,
    /// Name of the flow's current state (`Attract`, `ChooseBusiness`, …).
    pub flow_state: String,
    /// Active alarms (tamper, paper out, outbox stuck, …).
    pub alarms: Vec<String>,
    /// A citizen is waiting for a member of staff.
    #[serde(default)]
    pub assistance_requested: bool,
    /// Outbox entries that could not be read and were set aside.
    #[serde(default)]
    pub quarantined: u64,
    /// The face models' self-test at start: `None` when no face check is
    /// configured.
    #[serde(default)]
    pub face_self_test_ok: Option<bool>,
    /// Bill payments central confirmed since start.
    #[serde(default)]
    pub payments_confirmed_total: u64,
    /// The enclosure's tamper switch: `None` when none is fitted.
    #[serde(default)]
    pub tamper_open: Option<bool>,
    /// Frames each camera delivered since start (its rate is the frame rate).
    #[serde(default)]
    pub frames_total: BTreeMap<String, u64>,
    /// Central's clock minus this kiosk's, seconds, from central's last
    /// answer (`None` until central has answered).
    #[serde(default)]
    pub clock_offset_s: Option<f64>,
    /// The system clock has been synchronised (NTP) since boot; orders
    /// accepted while it is not record their time as unverified (`None`:
    /// not reported).
    #[serde(default)]
    pub clock_synchronized: Option<bool>,
    /// The system: release version, booted slot, the other slot's state
    /// and the last update.
    #[serde(default)]
    pub system: crate::update::SystemReport,
    /// The kiosk's own certificate: enrolled, expiry, renewal, revocation.
    #[serde(default)]
    pub identity: crate::enroll::IdentityReport,
    /// The audit chain's head and central's anchor of it.
    #[serde(default)]
    pub audit: AuditStatus,
}

/// What `/status` says of the audit chain: its head, as the kiosk reports
/// it to central, and what central made of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStatus {
    /// The last record's sequence number (0: empty).
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// Records are keyed with the audit key from enrollment.
    pub keyed: bool,
    /// The record central acknowledged last (`None`: not reported yet).
    pub central_seq: Option<u64>,
    /// A gap central found since the kiosk started.
    pub central_gap: Option<String>,
}

impl Snapshot {
    /// A snapshot of a process that starts now.
    pub fn new(version: impl Into<String>, started_at: DateTime<Utc>) -> Self {
        Self {
            version: version.into(),
            started_at,
            uptime_s: 0,
            devices: BTreeMap::new(),
            outbox_depth: 0,
            outbox_oldest_age_s: None,
            parked: 0,
            last_sync_ok: None,
            store_bytes: 0,
            orders_accepted_total: 0,
            sessions_total: 0,
            flow_state: String::new(),
            alarms: Vec::new(),
            assistance_requested: false,
            quarantined: 0,
            face_self_test_ok: None,
            payments_confirmed_total: 0,
            tamper_open: None,
            frames_total: BTreeMap::new(),
            clock_offset_s: None,
            clock_synchronized: None,
            system: crate::update::SystemReport::default(),
            identity: crate::enroll::IdentityReport::default(),
            audit: AuditStatus::default(),
        }
    }

    /// A copy with `uptime_s` computed for `now`.
    fn at(&self, now: DateTime<Utc>) -> Self {
        let mut s = self.clone();
        s.uptime_s = u64::try_from((now - self.started_at).num_seconds()).unwrap_or(0);
        s
    }
}

/// A limit on requests to `/status` and `/metrics`, whoever sends them: a
/// token bucket refilled at `per_second`, holding up to `burst`. Over it,
/// `429 Too Many Requests` with `Retry-After: 1`, before any other work.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once.
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn take(&mut self, now: std::time::Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * self.limit.per_second;
        self.tokens = (self.tokens + refill).min(self.limit.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Clone)]
struct AppState {
    rx: watch::Receiver<Snapshot>,
    bucket: Option<std::sync::Arc<std::sync::Mutex<Bucket>>>,
    /// SHA-256 of the configured token: comparing fixed-size digests keeps
    /// the comparison constant-time whatever the presented length.
    token_digest: Option<[u8; 32]>,
}

/// The status routes over a snapshot channel; `token` protects `/status`
/// and `/metrics`.
pub fn router(rx: watch::Receiver<Snapshot>, token: Option<String>) -> Router {
    router_limited(rx, token, None)
}

/// [`router`] with an optional rate limit on the protected routes.
pub fn router_limited(
    rx: watch::Receiver<Snapshot>,
    token: Option<String>,
    limit: Option<RateLimit>,
) -> Router {
    let state = AppState {
        rx,
        bucket: limit.map(|limit| {
            std::sync::Arc::new(std::sync::Mutex::new(Bucket {
                limit,
                tokens: limit.burst,
                at: std::time::Instant::now(),
            }))
        }),
        token_digest: token.map(|t| digest(&t)),
    };
    let protected = Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .with_state(state)
}

/// Serves the status routes on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    rx: watch::Receiver<Snapshot>,
    token: Option<String>,
    limit: Option<RateLimit>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router_limited(rx, token, limit))
        .with_graceful_shutdown(shutdown)
        .await
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Compares two digests without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(bucket) = &state.bucket {
        let allowed = bucket
            .lock()
            .map(|mut b| b.take(std::time::Instant::now()))
            .unwrap_or(true);
        if !allowed {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
                "too many requests\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.token_digest {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(digest);
        let ok = presented.is_some_and(|p| constant_time_eq(&p, expected));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "unauthorized\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn status(State(state): State<AppState>) -> Json<Snapshot> {
    let snapshot = state.rx.borrow().at(Utc::now());
    Json(snapshot)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let snapshot = state.rx.borrow().at(Utc::now());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        render_metrics(&snapshot),
    )
        .into_response()
}

/// Escapes a label value for the text format (`\`, `"` and newlines).
fn escape_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The snapshot in the Prometheus text exposition format 0.0.4.
fn render_metrics(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    metric(
        "kiosk_up",
        "gauge",
        "1 while the kiosk process runs.",
        "1".into(),
    );
    metric(
        "kiosk_uptime_seconds",
        "gauge",
        "Seconds since the kiosk process started.",
        s.uptime_s.to_string(),
    );
    metric(
        "kiosk_outbox_depth",
        "gauge",
        "Items waiting in the outbox for the central service.",
        s.outbox_depth.to_string(),
    );
    metric(
        "kiosk_outbox_oldest_age_seconds",
        "gauge",
        "Age of the oldest outbox item (0 when the outbox is empty).",
        s.outbox_oldest_age_s.unwrap_or(0).to_string(),
    );
    metric(
        "kiosk_parked_orders",
        "gauge",
        "Orders refused by central and parked for staff.",
        s.parked.to_string(),
    );
    metric(
        "kiosk_last_sync_timestamp_seconds",
        "gauge",
        "Unix time of the last successful sync with central (0 if never).",
        s.last_sync_ok.map_or(0, |t| t.timestamp()).to_string(),
    );
    metric(
        "kiosk_store_bytes",
        "gauge",
        "Size of the local store on disk in bytes.",
        s.store_bytes.to_string(),
    );
    metric(
        "kiosk_orders_accepted_total",
        "counter",
        "Orders accepted at this kiosk.",
        s.orders_accepted_total.to_string(),
    );
    metric(
        "kiosk_sessions_total",
        "counter",
        "Citizen sessions since start.",
        s.sessions_total.to_string(),
    );
    metric(
        "kiosk_assistance_requested",
        "gauge",
        "1 while a citizen waits for a member of staff.",
        u8::from(s.assistance_requested).to_string(),
    );
    metric(
        "kiosk_outbox_quarantined",
        "gauge",
        "Outbox entries that could not be read and were set aside for staff.",
        s.quarantined.to_string(),
    );
    metric(
        "kiosk_payments_confirmed_total",
        "counter",
        "Bill payments central confirmed since start.",
        s.payments_confirmed_total.to_string(),
    );
    metric(
        "kiosk_alarms",
        "gauge",
        "Active alarms (the texts are in /status).",
        s.alarms.len().to_string(),
    );
    metric(
        "kiosk_update_failures_total",
        "counter",
        "Updates that failed (refused by RAUC, or rolled back to the previous slot).",
        s.system.update_failures_total.to_string(),
    );
    if let Some(not_after) = s.identity.not_after {
        metric(
            "kiosk_certificate_expiry_timestamp_seconds",
            "gauge",
            "When the kiosk's own certificate expires (Unix time); renewed after two thirds of its life.",
            not_after.timestamp().to_string(),
        );
    }
    if let Some(offset) = s.clock_offset_s {
        metric(
            "kiosk_clock_offset_seconds",
            "gauge",
            "Central's clock minus the kiosk's, from central's last answer (1 s resolution).",
            offset.to_string(),
        );
    }
    if let Some(synced) = s.clock_synchronized {
        metric(
            "kiosk_clock_synchronized",
            "gauge",
            "1 once NTP has synchronised the clock since boot; 0 while orders are accepted with their time unverified.",
            u8::from(synced).to_string(),
        );
    }
    if let Some(open) = s.tamper_open {
        metric(
            "kiosk_tamper_open",
            "gauge",
            "1 while the enclosure's tamper switch reports it open.",
            u8::from(open).to_string(),
        );
    }
    if let Some(ok) = s.face_self_test_ok {
        metric(
            "kiosk_face_self_test_ok",
            "gauge",
            "1 when the face models loaded and passed their self-test at start.",
            u8::from(ok).to_string(),
        );
    }
    if let Some(h) = s.devices.get("card_reader") {
        let sam_fault = matches!(h, Health::Fault(w) if w.starts_with("SAM"));
        metric(
            "kiosk_card_reader_sam_ok",
            "gauge",
            "0 when the card reader's security module reports a fault.",
            u8::from(!sam_fault).to_string(),
        );
    }
    let release = if s.system.release.is_empty() {
        &s.version
    } else {
        &s.system.release
    };
    let _ = write!(
        out,
        "# HELP kiosk_build_info The running release and the root slot it booted from.\n\
         # TYPE kiosk_build_info gauge\n\
         kiosk_build_info{{version=\"{}\",slot=\"{}\"}} 1\n",
        escape_label(release),
        escape_label(s.system.slot.as_deref().unwrap_or(""))
    );
    if let Some(last) = &s.system.last_update {
        let _ = write!(
            out,
            "# HELP kiosk_update_last_result The last update: its version and outcome.\n\
             # TYPE kiosk_update_last_result gauge\n\
             kiosk_update_last_result{{version=\"{}\",outcome=\"{}\"}} 1\n",
            escape_label(&last.version),
            last.outcome.as_str()
        );
    }
    let printer = s.devices.get("printer");
    if let Some(h) = printer {
        out.push_str("# HELP kiosk_printer_paper Paper state of the receipt printer (1 for the current state).\n");
        out.push_str("# TYPE kiosk_printer_paper gauge\n");
        let now = match h {
            Health::Fault(w) if w.contains("paper out") => "out",
            Health::Degraded(w) if w.contains("paper near end") => "near_end",
            Health::Ok | Health::Degraded(_) => "ok",
            Health::Unknown | Health::Fault(_) => "unknown",
        };
        for state in ["ok", "near_end", "out", "unknown"] {
            let _ = writeln!(
                out,
                "kiosk_printer_paper{{state=\"{state}\"}} {}",
                u8::from(state == now)
            );
        }
    }
    if !s.frames_total.is_empty() {
        out.push_str("# HELP kiosk_camera_frames_total Frames delivered by each camera (rate() is frames/s).\n");
        out.push_str("# TYPE kiosk_camera_frames_total counter\n");
        for (device, n) in &s.frames_total {
            let _ = writeln!(
                out,
                "kiosk_camera_frames_total{{device=\"{}\"}} {n}",
                escape_label(device)
            );
        }
    }
    out.push_str("# HELP kiosk_device_state Health of each device (1 for the current state).\n");
    out.push_str("# TYPE kiosk_device_state gauge\n");
    for (device, health) in &s.devices {
        let now = match health {
            Health::Ok => "ok",
            Health::Degraded(_) => "degraded",
            Health::Fault(_) => "fault",
            Health::Unknown => "unknown",
        };
        for state in ["ok", "degraded", "fault", "unknown"] {
            let _ = writeln!(
                out,
                "kiosk_device_state{{device=\"{}\",state=\"{state}\"}} {}",
                escape_label(device),
                u8::from(state == now)
            );
        }
    }
    out.push_str(
        "# HELP kiosk_device_up 1 when the device works (possibly degraded), 0 otherwise.\n",
    );
    out.push_str("# TYPE kiosk_device_up gauge\n");
    for (device, health) in &s.devices {
        let up = match health {
            Health::Ok | Health::Degraded(_) => 1,
            Health::Unknown | Health::Fault(_) => 0,
        };
        let _ = writeln!(
            out,
            "kiosk_device_up{{device=\"{}\"}} {up}",
            escape_label(device)
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new("0.1.0", Utc::now() - chrono::Duration::seconds(90));
        s.devices
            .insert("printer".into(), Health::Degraded("paper near end".into()));
        s.devices.insert("camera".into(), Health::Ok);
        s.devices
            .insert("card\"reader".into(), Health::Fault("SAM failed".into()));
        s.outbox_depth = 2;
        s.outbox_oldest_age_s = Some(30);
        s.last_sync_ok = Some(Utc::now());
        s.orders_accepted_total = 5;
        s.sessions_total = 9;
        s.flow_state = "Attract".into();
        s.alarms.push("printer: paper near end".into());
        s
    }

    fn app(token: Option<&str>) -> Router {
        let (_tx, rx) = watch::channel(snapshot());
        router(rx, token.map(Into::into))
    }

    async fn get(app: Router, path: &str, auth: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut req = HttpRequest::get(path);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    use axum::http::HeaderMap;

    #[tokio::test]
    async fn status_and_metrics_need_the_token() {
        for path in ["/status", "/metrics"] {
            for auth in [
                None,
                Some("Bearer wrong"),
                Some("secret"),
                Some("Bearer secre"),
            ] {
                let (status, headers, _) = get(app(Some("secret")), path, auth).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {auth:?}");
                assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
            }
            let (status, _, _) = get(app(Some("secret")), path, Some("Bearer secret")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn without_a_token_everything_is_open() {
        let (status, _, _) = get(app(None), "/status", None).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn healthz_is_open() {
        let (status, _, body) = get(app(Some("secret")), "/healthz", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn status_json_has_uptime_and_no_personal_fields() {
        let (status, _, body) = get(app(Some("s")), "/status", Some("Bearer s")).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["uptime_s"].as_u64().unwrap() >= 89);
        assert_eq!(v["devices"]["printer"]["state"], "degraded");
        fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        out.push(k.clone());
                        keys(v, out);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        keys(&v, &mut all);
        for k in all
            .iter()
            .filter(|k| !v["devices"].as_object().unwrap().contains_key(*k))
        {
            let k = k.to_lowercase();
            for bad in ["name", "id_number", "idnumber", "phone", "address"] {
                assert!(!k.contains(bad), "field {k} looks personal");
            }
        }
    }

    #[tokio::test]
    async fn metrics_parse_line_by_line() {
        let (status, headers, body) = get(app(None), "/metrics", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let mut typed = std::collections::HashSet::new();
        let mut helped = std::collections::HashSet::new();
        let mut samples = BTreeMap::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                typed.insert(parts.next().unwrap().to_string());
                assert!(matches!(parts.next(), Some("gauge" | "counter")), "{line}");
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let value: f64 = value.parse().unwrap();
                let name = series.split('{').next().unwrap();
                assert!(
                    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(
                    typed.contains(name) && helped.contains(name),
                    "{line} before HELP/TYPE"
                );
                samples.insert(series.to_string(), value);
            }
        }
        assert_eq!(samples["kiosk_up"], 1.0);
        assert!(samples["kiosk_uptime_seconds"] >= 89.0);
        assert_eq!(samples["kiosk_outbox_depth"], 2.0);
        assert_eq!(samples["kiosk_outbox_oldest_age_seconds"], 30.0);
        assert_eq!(samples["kiosk_orders_accepted_total"], 5.0);
        assert_eq!(samples["kiosk_sessions_total"], 9.0);
        assert!(samples["kiosk_last_sync_timestamp_seconds"] > 1.7e9);
        assert_eq!(samples["kiosk_device_up{device=\"camera\"}"], 1.0);
        assert_eq!(samples["kiosk_device_up{device=\"printer\"}"], 1.0);
        assert_eq!(samples["kiosk_device_up{device=\"card\\\"reader\"}"], 0.0);
        for name in ["kiosk_parked_orders", "kiosk_store_bytes"] {
            assert_eq!(samples[name], 0.0);
        }
    }

    #[tokio::test]
    async fn over_the_rate_limit_is_429_and_healthz_stays_open() {
        let (_tx, rx) = watch::channel(snapshot());
        let limit = RateLimit {
            per_second: 0.001,
            burst: 2.0,
        };
        let app = router_limited(rx, Some("t".into()), Some(limit));
        for _ in 0..2 {
            assert_eq!(
                get(app.clone(), "/metrics", Some("Bearer t")).await.0,
                StatusCode::OK
            );
        }
        let (status, headers, _) = get(app.clone(), "/status", Some("Bearer t")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        // Unauthenticated floods are limited too, before the token check.
        assert_eq!(
            get(app.clone(), "/status", None).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(get(app, "/healthz", None).await.0, StatusCode::OK);
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let start = std::time::Instant::now();
        let mut b = Bucket {
            limit: RateLimit {
                per_second: 10.0,
                burst: 1.0,
            },
            tokens: 1.0,
            at: start,
        };
        assert!(b.take(start));
        assert!(!b.take(start));
        assert!(!b.take(start + std::time::Duration::from_millis(50)));
        assert!(b.take(start + std::time::Duration::from_millis(160)));
    }

    #[tokio::test]
    async fn fleet_series_are_exported() {
        let mut snap = snapshot();
        snap.assistance_requested = true;
        snap.quarantined = 1;
        snap.face_self_test_ok = Some(false);
        snap.devices
            .insert("card_reader".into(), Health::Fault("SAM: 0x31".into()));
        let (_tx, rx) = watch::channel(snap);
        let (_, _, body) = get(router(rx, None), "/metrics", None).await;
        for line in [
            "kiosk_assistance_requested 1",
            "kiosk_outbox_quarantined 1",
            "kiosk_face_self_test_ok 0",
            "kiosk_card_reader_sam_ok 0",
            "kiosk_alarms 1",
            "kiosk_printer_paper{state=\"near_end\"} 1",
            "kiosk_printer_paper{state=\"out\"} 0",
            "kiosk_device_state{device=\"camera\",state=\"ok\"} 1",
            "kiosk_device_state{device=\"printer\",state=\"degraded\"} 1",
        ] {
            assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
        }
        // No face check configured: no self-test series at all.
        let (_tx, rx) = watch::channel(snapshot());
        let (_, _, body) = get(router(rx, None), "/metrics", None).await;
        assert!(!body.contains("kiosk_face_self_test_ok"));
    }

    #[tokio::test]
    async fn serve_stops_on_shutdown() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (_tx, rx) = watch::channel(snapshot());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, rx, None, None, async {
            let _ = stopped.await;
        }));
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn digests_compare_in_full() {
        assert!(constant_time_eq(&digest("a"), &digest("a")));
        assert!(!constant_time_eq(&digest("a"), &digest("b")));
    }
}
