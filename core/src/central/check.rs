//! `kiosk central check`: a conformance check an integrator runs against
//! their own central service before rollout.
//!
//! It calls every endpoint of `docs/api/central.yaml` with synthetic test
//! data (no real person: the store's sample citizen), and checks each
//! answer against the contract: it must decode into the documented wire
//! type (the kiosk's own client does the decoding, so "passes here" means
//! "the kiosk understands it"), or be one of the documented errors with its
//! `{code, message}` body. It also checks idempotency (one key, one order
//! number; a new key, a new number), the error shapes of a malformed and an
//! oversized request, the device token (when one is given) and TLS.
//!
//! Each check is a row of a table; `kiosk central check` exits 0 only when
//! every row passed. Over `http://` (a lab) the TLS row says it was not
//! checked, and the table is still all-pass if the rest is.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;

use super::client::{http_client, CentralClient, ClientConfig};
use super::{
    AccountQuery, ApiErrorBody, CentralError, CertificateKind, CertificatesRequest, EidRequest,
    OrderSubmission, PaymentRequest, PushedQuery, RatingSubmission, ReferenceRequest,
};
use crate::store::testing::{sample_order, ID_NUMBER, NAME};
use kiosk_drivers::pii::{IdNumber, Personal};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Central's base URL (`https://central.example/`).
    pub url: String,
    /// The device token, if central wants one.
    pub token: Option<String>,
    /// The CA certificate (PEM) to pin, as a kiosk's `central.ca_cert`.
    pub ca: Option<PathBuf>,
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// As the contract says.
    Pass(String),
    /// Not as the contract says: why.
    Fail(String),
    /// Not checked here, and why (only TLS over `http://`).
    NotChecked(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What was checked (an endpoint or a property).
    pub check: &'static str,
    /// How it came out.
    pub outcome: Outcome,
}

impl Row {
    fn new(check: &'static str, outcome: Outcome) -> Self {
        Self { check, outcome }
    }

    /// Whether this row lets the check pass (a row not checked does, and
    /// says so).
    pub fn ok(&self) -> bool {
        !matches!(self.outcome, Outcome::Fail(_))
    }
}

/// A check that could not even start (no client can be built).
#[derive(Debug, thiserror::Error)]
#[error("cannot check {url}: {reason}")]
pub struct CheckError {
    /// The URL given.
    pub url: String,
    /// Why.
    pub reason: String,
}

fn pass(detail: impl Into<String>) -> Outcome {
    Outcome::Pass(detail.into())
}

fn fail(detail: impl Into<String>) -> Outcome {
    Outcome::Fail(detail.into())
}

/// A call whose only documented answers are the type or a 404.
fn answer_or_not_found<T>(r: Result<T, CentralError>, what: &str) -> Outcome {
    match r {
        Ok(_) => pass(format!("{what} as documented")),
        Err(CentralError::NotFound { .. }) => pass("404 not-found, as documented"),
        Err(e) => fail(e.to_string()),
    }
}

/// Runs every check against `opts.url`.
pub async fn run(opts: &CheckOptions) -> Result<Vec<Row>, CheckError> {
    let err = |reason: String| CheckError {
        url: opts.url.clone(),
        reason,
    };
    let https = opts.url.starts_with("https://");
    if !https && !opts.url.starts_with("http://") {
        return Err(err(
            "the URL must start with https:// (or http:// in a lab)".into(),
        ));
    }
    let mut cfg = ClientConfig::new(opts.url.trim_end_matches('/').to_owned());
    cfg.token = opts.token.clone();
    cfg.ca_cert_pem = opts.ca.clone();
    cfg.timeout = Duration::from_secs(10);
    let client = CentralClient::new(cfg.clone()).map_err(|e| err(e.to_string()))?;
    let raw = http_client(&cfg).map_err(|e| err(e.to_string()))?;
    let base = cfg.base_url.clone();
    let mut rows = Vec::new();

    // Catalog first: it also shows whether the connection works at all.
    let catalog = client.catalog().await;
    let reached = !matches!(
        catalog,
        Err(CentralError::Unreachable { .. } | CentralError::Timeout { .. })
    );
    rows.push(Row::new(
        "tls",
        match (https, &catalog) {
            (false, _) => Outcome::NotChecked(
                "http:// (a lab set-up): TLS not checked; a kiosk refuses http:// unless allow_insecure_central".into(),
            ),
            (true, _) if reached => pass(if opts.ca.is_some() {
                "https, central's certificate verified against the pinned CA"
            } else {
                "https, central's certificate verified against the system's roots"
            }),
            (true, Err(e)) => fail(format!("{e} (certificate not trusted, or nothing listens)")),
            (true, Ok(_)) => pass("https"),
        },
    ));
    rows.push(Row::new(
        "GET /v1/catalog",
        match &catalog {
            Ok(c)
                if c.policy.low_voltage_kw > 0.0
                    && c.policy.micro_park_kw >= c.policy.low_voltage_kw =>
            {
                pass(format!(
                    "{} businesses, limits {}/{} kW",
                    c.businesses.len(),
                    c.policy.low_voltage_kw,
                    c.policy.micro_park_kw
                ))
            }
            Ok(c) => fail(format!(
                "capacity limits out of range: {}/{} kW",
                c.policy.low_voltage_kw, c.policy.micro_park_kw
            )),
            Err(e) => fail(e.to_string()),
        },
    ));
    if !reached {
        return Ok(rows);
    }

    let name = Personal::new(NAME);
    let id_number = IdNumber::unchecked(ID_NUMBER);
    let consent_id = "consent-conformance-check-1".to_string();
    rows.push(Row::new(
        "POST /v1/identity/reference",
        answer_or_not_found(
            client
                .reference_photo(&ReferenceRequest {
                    name: name.clone(),
                    id_number: id_number.clone(),
                    consent_id: consent_id.clone(),
                })
                .await,
            "a reference photo",
        ),
    ));
    rows.push(Row::new(
        "POST /v1/identity/eid",
        match client
            .verify_eid(&EidRequest {
                payload: "not-an-e-id-payload".into(),
            })
            .await
        {
            Err(CentralError::Rejected { status, code, .. }) if (400..500).contains(&status) => {
                pass(format!("a forged payload refused: HTTP {status}, {code}"))
            }
            Ok(_) => fail("a forged payload was accepted as an identity"),
            Err(e) => fail(format!("a forged payload: {e}")),
        },
    ));
    rows.push(Row::new(
        "POST /v1/certificates",
        match client
            .certificates(&CertificatesRequest {
                subject: Personal::new(ID_NUMBER),
                address: None,
                kinds: vec![
                    CertificateKind::SubjectProof,
                    CertificateKind::PropertyProof,
                ],
                consent_id: consent_id.clone(),
            })
            .await
        {
            Ok(r) => pass(format!(
                "{} found, {} missing",
                r.found.len(),
                r.missing.len()
            )),
            Err(e) => fail(e.to_string()),
        },
    ));
    rows.push(Row::new(
        "GET /v1/accounts/{no}",
        answer_or_not_found(client.account("3300012345").await, "an account"),
    ));
    rows.push(Row::new(
        "POST /v1/accounts/query",
        answer_or_not_found(
            client
                .account_query(&AccountQuery {
                    account_no: Some("3300012345".into()),
                    holder_id_number: Some(id_number.clone()),
                })
                .await,
            "an account",
        ),
    ));
    rows.push(Row::new(
        "POST /v1/pushed-orders/query",
        answer_or_not_found(
            client
                .pushed_orders(&PushedQuery {
                    id_number: id_number.clone(),
                })
                .await,
            "the pushed orders",
        ),
    ));

    // Idempotency: the same key twice, then a new key.
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let key_a = format!("KCHECK-{stamp}-0001");
    let key_b = format!("KCHECK-{stamp}-0002");
    let order_a = OrderSubmission::from_order(&sample_order(&key_a));
    let order_b = OrderSubmission::from_order(&sample_order(&key_b));
    let first = client.submit_order(&order_a, &key_a).await;
    let again = client.submit_order(&order_a, &key_a).await;
    let other = client.submit_order(&order_b, &key_b).await;
    let mut order_no = None;
    rows.push(Row::new(
        "POST /v1/orders",
        match &first {
            Ok(a) => {
                order_no = Some(a.order_no.clone());
                pass(format!("accepted as {}", a.order_no))
            }
            Err(e) => fail(e.to_string()),
        },
    ));
    rows.push(Row::new(
        "idempotency",
        match (&first, &again, &other) {
            (Ok(a), Ok(b), Ok(c)) if a.order_no == b.order_no && a.order_no != c.order_no => {
                pass("the same key gave the same number; a new key a new number")
            }
            (Ok(a), Ok(b), _) if a.order_no != b.order_no => fail(format!(
                "the same Idempotency-Key gave two numbers ({} and {}): a retried order would be stored twice",
                a.order_no, b.order_no
            )),
            (Ok(a), _, Ok(c)) if a.order_no == c.order_no => fail(format!(
                "two keys gave the same number {}: two orders would be one",
                a.order_no
            )),
            (_, Err(e), _) | (_, _, Err(e)) => fail(e.to_string()),
            _ => fail("the first submission failed"),
        },
    ));
    rows.push(Row::new(
        "GET /v1/orders/{no}",
        match &order_no {
            Some(no) => match client.order_progress(no).await {
                Ok(p) if &p.order_no == no => pass(format!("{} steps", p.steps.len())),
                Ok(p) => fail(format!("asked for {no}, got {}", p.order_no)),
                Err(e) => fail(e.to_string()),
            },
            None => fail("no order number to ask for"),
        },
    ));
    rows.push(Row::new(
        "POST /v1/ratings",
        match &order_no {
            Some(no) => {
                let rating = RatingSubmission {
                    order_no: no.clone(),
                    stars: 5,
                    comment: None,
                };
                let key = format!("{key_a}-rating");
                match (
                    client.submit_rating(&rating, &key).await,
                    client.submit_rating(&rating, &key).await,
                ) {
                    (Ok(_), Ok(_)) => pass("accepted, and its replay too"),
                    (Err(e), _) | (_, Err(e)) => fail(e.to_string()),
                }
            }
            None => fail("no order to rate"),
        },
    ));
    rows.push(Row::new(
        "GET /v1/updates",
        match client.update_offer("K-CHECK0001", "0.0.0-check").await {
            Ok(a) => match a.update {
                None => pass("no update offered"),
                Some(o)
                    if o.sha256.len() != 64 || !o.sha256.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    fail(format!("offer {}: sha256 is not 64 hex digits", o.version))
                }
                Some(o) if o.size == 0 => fail(format!("offer {}: size 0", o.version)),
                Some(o) => pass(format!(
                    "offers {} ({} bytes): {:?} at stage {}",
                    o.version, o.size, o.rollout.decision, o.rollout.stage
                )),
            },
            Err(e) => fail(e.to_string()),
        },
    ));
    // Identity: checked without changing central (no code is spent, no
    // certificate signed).
    rows.push(Row::new(
        "POST /v1/devices/enroll",
        match crate::enroll::Pending::new("K-CHECK0001", None) {
            Ok(pending) => match client
                .enroll(&super::EnrollRequest {
                    code: "CHECK-NOT-A-CODE-0000".into(),
                    device_id: "K-CHECK0001".into(),
                    csr_pem: pending.csr_pem.clone(),
                    status_address: None,
                })
                .await
            {
                Err(CentralError::Rejected {
                    status: 403, code, ..
                }) => pass(format!("an unknown code refused: 403 {code}")),
                Ok(_) => fail("an unknown enrollment code bought a certificate"),
                Err(e) => fail(format!("an unknown code: expected 403 with a code: {e}")),
            },
            Err(e) => fail(e.to_string()),
        },
    ));
    rows.push(Row::new(
        "POST /v1/devices/renew",
        match client
            .renew(&super::RenewRequest {
                csr_pem: "not a request".into(),
            })
            .await
        {
            Err(CentralError::Rejected { status: 401, .. }) => {
                pass("refused without a kiosk's certificate: 401")
            }
            Ok(_) => fail("renewed without a kiosk's certificate"),
            Err(e) => fail(format!("expected 401 without a certificate: {e}")),
        },
    ));
    rows.push(Row::new(
        "POST /v1/devices/audit",
        match client
            .report_audit(&super::AuditHeadReport {
                device_id: "K-CHECK0001".into(),
                head: crate::store::AuditHead {
                    seq: 1,
                    hash: "not a hash".into(),
                },
                anchor: None,
            })
            .await
        {
            Err(CentralError::Rejected {
                status: 422, code, ..
            }) => pass(format!("a malformed head refused: 422 {code}")),
            Ok(_) => fail("a head that is not a hash was taken"),
            Err(e) => fail(format!("a malformed head: expected 422 with a code: {e}")),
        },
    ));
    rows.push(Row::new(
        "GET /v1/fleet/targets",
        match client.fleet_targets().await {
            Err(CentralError::Rejected { status: 401, .. }) => {
                pass("refused without the scraper's certificate: 401")
            }
            Ok(_) => fail("the fleet's targets were served without the scraper's certificate"),
            Err(e) => fail(format!("expected 401 without a certificate: {e}")),
        },
    ));
    rows.push(Row::new(
        "POST /v1/payments + GET /v1/payments/{id}",
        match client
            .create_payment(&PaymentRequest {
                account_no: "3300012345".into(),
                amount_fen: 100,
            })
            .await
        {
            Ok(p) => match client.payment(&p.payment_id).await {
                Ok(q) if q.payment_id == p.payment_id => pass(format!("{:?}", q.state)),
                Ok(q) => fail(format!("asked for {}, got {}", p.payment_id, q.payment_id)),
                Err(e) => fail(e.to_string()),
            },
            Err(CentralError::NotFound { .. }) => {
                pass("404 for the synthetic account, as documented")
            }
            Err(e) => fail(e.to_string()),
        },
    ));

    // Error shapes: what the kiosk's client relies on.
    let malformed = raw_post(
        &raw,
        &base,
        opts,
        "/v1/orders",
        b"{ this is not json".to_vec(),
    )
    .await;
    rows.push(Row::new(
        "error shape: malformed body",
        error_shape(malformed, &[400, 422]),
    ));
    let oversized = vec![b' '; 4 * 1024 * 1024];
    let mut big = raw_post(&raw, &base, opts, "/v1/orders", oversized.clone()).await;
    if big.is_err() {
        // A server that answers 413 early may close the connection while
        // the body is still being sent; on a loaded machine the client then
        // sees no answer. Asked once more before it counts.
        big = raw_post(&raw, &base, opts, "/v1/orders", oversized).await;
    }
    rows.push(Row::new(
        "size limit: a 4 MiB body",
        match big {
            // Refused by closing the connection mid-upload: the answer (a
            // 413) may be lost with the connection, which is the server's
            // right for a body it will not take.
            Err(RawError::Cut(e)) => pass(format!(
                "the connection closed before the whole body was taken (refused; no status read: {e})"
            )),
            other => error_shape(other, &[400, 413, 422]),
        },
    ));
    if opts.token.is_some() {
        let anonymous = ClientConfig {
            token: Some("not-the-device-token".into()),
            ..cfg.clone()
        };
        let refused = CentralClient::new(anonymous)
            .map_err(|e| err(e.to_string()))?
            .catalog()
            .await;
        rows.push(Row::new(
            "auth: a wrong device token",
            match refused {
                Err(CentralError::Rejected {
                    status: 401, code, ..
                }) => pass(format!("401 {code}")),
                Ok(_) => fail("served without the device token"),
                Err(e) => fail(format!("expected 401 with a code: {e}")),
            },
        ));
    }
    Ok(rows)
}

/// Why a raw request got no answer.
#[derive(Debug)]
enum RawError {
    /// No connection (refused, unreachable) or no answer in time.
    NoAnswer(String),
    /// Connected, then the connection ended before an answer was read
    /// (reset or closed while the body was being sent).
    Cut(String),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::NoAnswer(e) | RawError::Cut(e) => f.write_str(e),
        }
    }
}

impl From<reqwest::Error> for RawError {
    fn from(e: reqwest::Error) -> Self {
        // The chain names the cause (a reset, a broken pipe), not only
        // "error sending request".
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_connect() || e.is_timeout() {
            RawError::NoAnswer(text)
        } else {
            RawError::Cut(text)
        }
    }
}

/// `POST path` with raw bytes, the token and an idempotency key.
async fn raw_post(
    raw: &reqwest::Client,
    base: &str,
    opts: &CheckOptions,
    path: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), RawError> {
    let mut req = raw
        .request(Method::POST, format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "KCHECK-MALFORMED-0001")
        .body(body);
    if let Some(t) = &opts.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    Ok((status, bytes.to_vec()))
}

/// A refusal with one of `statuses` and the documented `{code, message}`.
fn error_shape(answer: Result<(u16, Vec<u8>), RawError>, statuses: &[u16]) -> Outcome {
    match answer {
        Err(e) => fail(format!("no answer: {e}")),
        Ok((status, body)) if statuses.contains(&status) => {
            match serde_json::from_slice::<ApiErrorBody>(&body) {
                Ok(b) if !b.code.is_empty() => pass(format!("HTTP {status}, {}", b.code)),
                _ => fail(format!("HTTP {status} without a {{code, message}} body")),
            }
        }
        Ok((status, _)) => fail(format!("HTTP {status}, expected one of {statuses:?}")),
    }
}

/// The table `kiosk central check` prints.
pub fn table(url: &str, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let mut out = format!("central check of {url}\n");
    for r in rows {
        let (word, detail) = match &r.outcome {
            Outcome::Pass(d) => ("pass", d),
            Outcome::Fail(d) => ("FAIL", d),
            Outcome::NotChecked(d) => ("not checked", d),
        };
        let _ = writeln!(out, "{:<width$}  {word:<11}  {detail}", r.check);
    }
    let failed = rows.iter().filter(|r| !r.ok()).count();
    let _ = writeln!(
        out,
        "{} checks: {} passed, {failed} failed",
        rows.len(),
        rows.len() - failed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CheckOptions {
        CheckOptions {
            url: String::new(),
            token: None,
            ca: None,
        }
    }

    /// A server that takes the connection and drops it after the request's
    /// first bytes (as one refusing an oversized upload may): the check
    /// reads that as a refusal, not as central being away.
    #[tokio::test]
    async fn a_connection_cut_mid_upload_is_told_from_no_central() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
            // Dropped with most of the body unread: the peer sees a reset.
        });
        let raw = reqwest::Client::new();
        let cut = raw_post(
            &raw,
            &format!("http://{addr}"),
            &opts(),
            "/v1/orders",
            vec![b' '; 4 * 1024 * 1024],
        )
        .await;
        server.await.expect("server");
        assert!(matches!(cut, Err(RawError::Cut(_))), "{cut:?}");

        // Nothing listening: no answer at all.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let none = raw_post(
            &raw,
            &format!("http://{closed}"),
            &opts(),
            "/v1/orders",
            b"{}".to_vec(),
        )
        .await;
        assert!(matches!(none, Err(RawError::NoAnswer(_))), "{none:?}");
        assert!(matches!(error_shape(none, &[400]), Outcome::Fail(_)));
    }
}
