//! The HTTP client of the central API (reqwest over rustls).
//!
//! Every call maps its outcome onto [`CentralError`] the same way: connection
//! failures are `Unreachable`, the client's deadline is `Timeout`, 5xx (and
//! 408/429) are `Server`, 404 is `NotFound`, other 4xx are `Rejected` with the
//! body's code, and a 2xx whose body is not the documented JSON (or is larger
//! than [`ClientConfig::max_response_bytes`], checked while streaming) is
//! `Garbage`. Redirects are not followed: the API has none, and following one
//! could carry the device token elsewhere.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    Account, AccountQuery, ApiErrorBody, AssistanceAccepted, AssistanceRequest, Catalog,
    CentralError, CertificatesRequest, CertificatesResponse, EidIdentity, EidRequest,
    OrderAccepted, OrderProgress, OrderSubmission, Payment, PaymentRequest, PushedOrders,
    PushedQuery, RatingAccepted, RatingSubmission, ReferencePhoto, ReferenceRequest, Result,
};

/// How to reach the central service.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Base URL without the `/v1` (`https://central.example.invalid`).
    pub base_url: String,
    /// The device token sent as `Authorization: Bearer`, if any.
    pub token: Option<String>,
    /// Deadline for a whole call, body included.
    pub timeout: Duration,
    /// Deadline for establishing the connection.
    pub connect_timeout: Duration,
    /// Largest response body accepted; a larger one is `Garbage`.
    pub max_response_bytes: usize,
    /// The CA certificate (PEM) that signs central's certificate, e.g. a
    /// private central CA; when set, the only CA trusted (pinned).
    pub ca_cert_pem: Option<PathBuf>,
    /// The kiosk's own certificate and key (PEM, certificate first), after
    /// enrollment: presented to central in every handshake (mutual TLS).
    pub identity_pem: Option<IdentityPem>,
}

/// A certificate and its private key, PEM: `Debug` never shows them, and
/// the bytes are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityPem(pub zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for IdentityPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityPem(<certificate and key>)")
    }
}

impl ClientConfig {
    /// Defaults for `base_url`: no token, 5 s timeout, 3 s connect timeout,
    /// 1 MiB bodies, the system's and the bundled Mozilla roots.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: None,
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: 1024 * 1024,
            ca_cert_pem: None,
            identity_pem: None,
        }
    }
}

/// Why a [`CentralClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The CA certificate file could not be read.
    #[error("cannot read CA certificate {path}")]
    CaRead {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA certificate file is not a PEM certificate.
    #[error("CA certificate {path} is not a valid PEM certificate")]
    CaParse {
        /// The configured path.
        path: PathBuf,
        /// What the TLS stack reported.
        #[source]
        source: reqwest::Error,
    },
    /// The base URL is not an absolute http(s) URL.
    #[error("central base URL {url:?} is not an absolute http(s) URL")]
    BadUrl {
        /// The configured URL.
        url: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
    /// The kiosk's certificate and key do not make a TLS identity.
    #[error("the kiosk's certificate and key are not a usable TLS identity")]
    Identity(#[source] reqwest::Error),
}

/// A client of the central API. Cheap to clone (the connection pool is
/// shared).
#[derive(Debug, Clone)]
pub struct CentralClient {
    /// Rebuilt when the kiosk's certificate is renewed.
    http: Arc<std::sync::RwLock<reqwest::Client>>,
    config: Arc<std::sync::Mutex<ClientConfig>>,
    base: String,
    max_response_bytes: usize,
    /// Central's clock minus ours, milliseconds, from the `Date` header of
    /// the last answer (`i64::MIN`: not known yet).
    clock_offset_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl CentralClient {
    /// How far central's clock is ahead of this kiosk's (negative: behind),
    /// from the last answer's `Date` header; `None` before any answer.
    /// The header has one-second resolution, so small offsets read as 0–1 s.
    pub fn clock_offset(&self) -> Option<chrono::Duration> {
        match self
            .clock_offset_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            i64::MIN => None,
            ms => Some(chrono::Duration::milliseconds(ms)),
        }
    }

    fn note_date(&self, headers: &reqwest::header::HeaderMap) {
        let Some(date) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        else {
            return;
        };
        let offset = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
        self.clock_offset_ms.store(
            offset.num_milliseconds(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Builds a client from its configuration.
    pub fn new(config: ClientConfig) -> std::result::Result<Self, ClientSetupError> {
        let base = config.base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientSetupError::BadUrl {
                url: config.base_url,
            });
        }
        Ok(Self {
            http: Arc::new(std::sync::RwLock::new(http_client(&config)?)),
            config: Arc::new(std::sync::Mutex::new(config.clone())),
            base,
            max_response_bytes: config.max_response_bytes,
            clock_offset_ms: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
        })
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn http(&self) -> reqwest::Client {
        match self.http.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Presents `identity_pem` (certificate, then key) from the next call
    /// on, e.g. a renewed certificate; calls already under way finish with
    /// the old one. With an identity, the bearer token is no longer sent.
    pub fn set_identity(
        &self,
        identity_pem: IdentityPem,
    ) -> std::result::Result<(), ClientSetupError> {
        let mut config = match self.config.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = config.clone();
        next.identity_pem = Some(identity_pem);
        next.token = None;
        let http = http_client(&next)?;
        *config = next;
        match self.http.write() {
            Ok(mut h) => *h = http,
            Err(poisoned) => *poisoned.into_inner() = http,
        }
        Ok(())
    }

    fn token(&self) -> Option<String> {
        match self.config.lock() {
            Ok(c) => c.token.clone(),
            Err(poisoned) => poisoned.into_inner().token.clone(),
        }
    }

    /// `POST /v1/devices/enroll`.
    pub async fn enroll(&self, request: &super::EnrollRequest) -> Result<super::DeviceCertificate> {
        self.call(Method::POST, "/v1/devices/enroll", Some(request), None)
            .await
    }

    /// `POST /v1/devices/renew` (needs the current certificate).
    pub async fn renew(&self, request: &super::RenewRequest) -> Result<super::DeviceCertificate> {
        self.call(Method::POST, "/v1/devices/renew", Some(request), None)
            .await
    }

    /// `POST /v1/devices/audit`: the audit chain's head, anchored to what
    /// central saw last.
    pub async fn report_audit(&self, report: &super::AuditHeadReport) -> Result<super::AuditAck> {
        self.call(Method::POST, "/v1/devices/audit", Some(report), None)
            .await
    }

    /// `GET /v1/fleet/targets` (the fleet scraper's certificate).
    pub async fn fleet_targets(&self) -> Result<Vec<super::TargetGroup>> {
        self.call::<(), _>(Method::GET, "/v1/fleet/targets", None, None)
            .await
    }

    /// `GET /v1/catalog`.
    pub async fn catalog(&self) -> Result<Catalog> {
        self.call::<(), _>(Method::GET, "/v1/catalog", None, None)
            .await
    }

    /// `POST /v1/identity/reference`: the reference photo of a claimed
    /// identity (`NotFound` when there is none).
    pub async fn reference_photo(&self, request: &ReferenceRequest) -> Result<ReferencePhoto> {
        self.call(Method::POST, "/v1/identity/reference", Some(request), None)
            .await
    }

    /// `POST /v1/identity/eid`: verify an electronic-ID QR payload.
    pub async fn verify_eid(&self, request: &EidRequest) -> Result<EidIdentity> {
        self.call(Method::POST, "/v1/identity/eid", Some(request), None)
            .await
    }

    /// `POST /v1/certificates`.
    pub async fn certificates(
        &self,
        request: &CertificatesRequest,
    ) -> Result<CertificatesResponse> {
        self.call(Method::POST, "/v1/certificates", Some(request), None)
            .await
    }

    /// `GET /v1/accounts/{no}`.
    pub async fn account(&self, no: &str) -> Result<Account> {
        let path = format!("/v1/accounts/{}", path_segment(no));
        self.call::<(), _>(Method::GET, &path, None, None).await
    }

    /// `POST /v1/accounts/query`: an account by number or by holder, with
    /// whether the given holder holds it.
    pub async fn account_query(&self, query: &AccountQuery) -> Result<Account> {
        self.call(Method::POST, "/v1/accounts/query", Some(query), None)
            .await
    }

    /// `POST /v1/pushed-orders/query`: orders started elsewhere for a person.
    pub async fn pushed_orders(&self, query: &PushedQuery) -> Result<PushedOrders> {
        self.call(Method::POST, "/v1/pushed-orders/query", Some(query), None)
            .await
    }

    /// `POST /v1/assistance`: ask central to send a member of staff.
    pub async fn request_assistance(
        &self,
        request: &AssistanceRequest,
    ) -> Result<AssistanceAccepted> {
        self.call(Method::POST, "/v1/assistance", Some(request), None)
            .await
    }

    /// `POST /v1/orders` with an `Idempotency-Key`: a replay with the same
    /// key returns the same order number.
    pub async fn submit_order(
        &self,
        order: &OrderSubmission,
        idempotency_key: &str,
    ) -> Result<OrderAccepted> {
        self.call(
            Method::POST,
            "/v1/orders",
            Some(order),
            Some(idempotency_key),
        )
        .await
    }

    /// `GET /v1/orders/{no}`.
    pub async fn order_progress(&self, no: &str) -> Result<OrderProgress> {
        let path = format!("/v1/orders/{}", path_segment(no));
        self.call::<(), _>(Method::GET, &path, None, None).await
    }

    /// `POST /v1/payments`: issue a payment QR code.
    pub async fn create_payment(&self, request: &PaymentRequest) -> Result<Payment> {
        self.call(Method::POST, "/v1/payments", Some(request), None)
            .await
    }

    /// `GET /v1/payments/{id}`.
    pub async fn payment(&self, id: &str) -> Result<Payment> {
        let path = format!("/v1/payments/{}", path_segment(id));
        self.call::<(), _>(Method::GET, &path, None, None).await
    }

    /// `POST /v1/ratings` with an `Idempotency-Key`.
    pub async fn submit_rating(
        &self,
        rating: &RatingSubmission,
        idempotency_key: &str,
    ) -> Result<RatingAccepted> {
        self.call(
            Method::POST,
            "/v1/ratings",
            Some(rating),
            Some(idempotency_key),
        )
        .await
    }

    /// `GET /v1/updates?device=…&version=…`: central's update offer for
    /// this kiosk at this version (`update: null` when there is none).
    pub async fn update_offer(&self, device: &str, version: &str) -> Result<super::UpdateAnswer> {
        let path = format!(
            "/v1/updates?device={}&version={}",
            path_segment(device),
            path_segment(version)
        );
        self.call::<(), _>(Method::GET, &path, None, None).await
    }

    /// Downloads `url` (absolute, or a path on central) into `file` from
    /// byte `offset` on (`Range`), appending; returns the file's new length.
    /// A server that ignores the range starts the file over. The device
    /// token goes only to central's own host.
    pub async fn download_to(
        &self,
        url: &str,
        file: &std::path::Path,
        offset: u64,
        limit: u64,
    ) -> Result<u64> {
        use tokio::io::AsyncWriteExt as _;
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        };
        let mut request = self.http().get(&url).timeout(Duration::from_secs(3600));
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        if let Some(token) = &self.token() {
            if url.starts_with(&format!("{}/", self.base)) {
                request = request.bearer_auth(token);
            }
        }
        let mut response = request.send().await.map_err(|e| transport_error(&url, e))?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CentralError::Server {
                url,
                status: status.as_u16(),
            });
        }
        if status == StatusCode::NOT_FOUND {
            return Err(CentralError::NotFound { url });
        }
        let append = match status {
            StatusCode::PARTIAL_CONTENT => true,
            StatusCode::OK => false,
            StatusCode::RANGE_NOT_SATISFIABLE => return Ok(offset),
            other => {
                return Err(CentralError::Garbage {
                    url,
                    detail: format!("HTTP {} for a bundle download", other.as_u16()),
                })
            }
        };
        let io = |e: std::io::Error| CentralError::Garbage {
            url: url.clone(),
            detail: format!("cannot write the download: {e}"),
        };
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(file)
            .await
            .map_err(io)?;
        let mut len = if append { offset } else { 0 };
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    // Keep what arrived: the next try resumes from there.
                    let _ = out.flush().await;
                    let _ = out.sync_data().await;
                    return Err(transport_error(&url, e));
                }
            };
            len += chunk.len() as u64;
            if len > limit {
                return Err(CentralError::Garbage {
                    url,
                    detail: format!("the bundle is larger than the {limit} bytes offered"),
                });
            }
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        out.sync_data().await.map_err(io)?;
        Ok(len)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .http()
            .request(method, &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.token() {
            request = request.bearer_auth(token);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(|e| transport_error(&url, e))?;
        self.note_date(response.headers());
        let status = response.status();
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            return Err(CentralError::Server {
                url,
                status: status.as_u16(),
            });
        }
        if status == StatusCode::NOT_FOUND {
            return Err(CentralError::NotFound { url });
        }
        let bytes = self.read_body(&url, &mut response).await?;
        decode_response(&url, status.as_u16(), &bytes)
    }

    /// Reads the body chunk by chunk, giving up as soon as it passes the
    /// size limit (a declared `Content-Length` over it fails at once).
    async fn read_body(&self, url: &str, response: &mut reqwest::Response) -> Result<Vec<u8>> {
        let limit = self.max_response_bytes;
        let too_big = || CentralError::Garbage {
            url: url.to_string(),
            detail: format!("response body larger than {limit} bytes"),
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(url, e))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// Maps a reqwest transport error: the deadline is `Timeout`, anything else
/// (refused, reset, TLS, a dropped connection) is `Unreachable`.
fn transport_error(url: &str, e: reqwest::Error) -> CentralError {
    if e.is_timeout() {
        CentralError::Timeout {
            url: url.to_string(),
        }
    } else if e.is_decode() {
        CentralError::Garbage {
            url: url.to_string(),
            detail: "undecodable body".to_string(),
        }
    } else {
        CentralError::Unreachable {
            url: url.to_string(),
            source: e.without_url(),
        }
    }
}

/// Percent-encodes a path segment (account and order numbers are plain
/// digits; anything else is escaped so it cannot change the path).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let dot_ok = b == b'.' && s != "." && s != "..";
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || dot_ok {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A short name for a serde_json error category.
trait Classify {
    fn classify_str(&self) -> String;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> String {
        let kind = match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "shape",
            serde_json::error::Category::Eof => "truncated",
        };
        format!(
            "{kind} error at line {} column {}",
            self.line(),
            self.column()
        )
    }
}

/// Turns an HTTP status and body into the answer or a typed error: 5xx,
/// 408 and 429 are "retry later", 404 is not found, other 4xx "rejected"
/// with central's `{code, message}` when it sent one, anything else that is
/// not a 2xx, or a 2xx whose body is not the expected JSON, is garbage.
/// Error texts never quote the body (it may be personal). Public for the
/// fuzz target.
pub fn decode_response<T: DeserializeOwned>(url: &str, status: u16, bytes: &[u8]) -> Result<T> {
    let url = url.to_string();
    let status = StatusCode::from_u16(status).map_err(|_| CentralError::Garbage {
        url: url.clone(),
        detail: format!("invalid HTTP status {status}"),
    })?;
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return Err(CentralError::Server {
            url,
            status: status.as_u16(),
        });
    }
    if status == StatusCode::NOT_FOUND {
        return Err(CentralError::NotFound { url });
    }
    if status.is_client_error() {
        let (code, message) = match serde_json::from_slice::<ApiErrorBody>(bytes) {
            Ok(b) => (b.code, b.message),
            Err(_) => (format!("http-{}", status.as_u16()), String::new()),
        };
        return Err(CentralError::Rejected {
            url,
            status: status.as_u16(),
            code,
            message,
        });
    }
    if !status.is_success() {
        return Err(CentralError::Garbage {
            url,
            detail: format!("unexpected HTTP status {}", status.as_u16()),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| CentralError::Garbage {
        url,
        // serde_json's message names the line, column and expected
        // shape, never the offending value.
        detail: format!("not the expected JSON ({})", e.classify_str()),
    })
}

/// The HTTP client for central: rustls, the configured time limits, no
/// redirects; with `ca_cert_pem` that CA alone is trusted (pinned).
pub(crate) fn http_client(
    config: &ClientConfig,
) -> std::result::Result<reqwest::Client, ClientSetupError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kiosk/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.ca_cert_pem {
        let pem = std::fs::read(path).map_err(|source| ClientSetupError::CaRead {
            path: path.clone(),
            source,
        })?;
        let cert =
            reqwest::Certificate::from_pem(&pem).map_err(|source| ClientSetupError::CaParse {
                path: path.clone(),
                source,
            })?;
        // Pinned: with a configured CA, no other root (bundled or
        // installed on the device, e.g. a proxy's) vouches for central.
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert);
    }
    if let Some(pem) = &config.identity_pem {
        builder = builder
            .identity(reqwest::Identity::from_pem(&pem.0).map_err(ClientSetupError::Identity)?);
    }
    builder.build().map_err(ClientSetupError::Build)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn responses_decode_to_answers_or_typed_errors_that_never_quote_the_body() {
        let url = "http://c/v1/accounts/query";
        let decode = |status, body: &[u8]| decode_response::<Account>(url, status, body);
        assert!(matches!(
            decode(503, b"{}"),
            Err(CentralError::Server { status: 503, .. })
        ));
        assert!(decode(429, b"").is_err_and(|e| e.retry_later()));
        assert!(matches!(
            decode(404, b""),
            Err(CentralError::NotFound { .. })
        ));
        match decode(422, br#"{"code":"query-empty","message":"m"}"#) {
            Err(CentralError::Rejected { code, .. }) => assert_eq!(code, "query-empty"),
            other => panic!("{other:?}"),
        }
        let secret = br#"{"account_no":"330106199001010026"}"#;
        match decode(200, secret) {
            Err(e @ CentralError::Garbage { .. }) => {
                assert!(e.retry_later());
                assert!(!format!("{e} {e:?}").contains("330106199001010026"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(302, b""),
            Err(CentralError::Garbage { .. })
        ));
        let ok = decode(
            200,
            br#"{"account_no":"1","holder_masked":"x","address":"a","amount_due_fen":5}"#,
        )
        .unwrap();
        assert_eq!((ok.amount_due_fen, ok.holder_matches), (5, None));
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("3300012345"), "3300012345");
        assert_eq!(path_segment("../x"), "..%2Fx");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("a b"), "a%20b");
    }

    #[test]
    fn bad_base_url_is_refused() {
        assert!(matches!(
            CentralClient::new(ClientConfig::new("ftp://x")),
            Err(ClientSetupError::BadUrl { .. })
        ));
        assert!(CentralClient::new(ClientConfig::new("http://127.0.0.1:1/")).is_ok());
    }
}
