//! The kiosk's own identity: enrollment, mutual TLS, renewal.
//!
//! At first boot a technician gives the kiosk a one-time enrollment code
//! (`kiosk enroll --code`, the technician screen, or `enroll.toml` on the
//! boot partition, which provisioning hands to `kiosk enroll --file`). The
//! kiosk makes its own P-256 key pair, which never leaves it, and sends a
//! certificate signing request with the code to central
//! (`POST /v1/devices/enroll`). Central answers with the kiosk's
//! certificate and the fleet CA. From then on:
//! - every call to central presents that certificate (mutual TLS) and no
//!   bearer token;
//! - the status endpoint serves TLS with it and answers only clients whose
//!   certificate the fleet CA signed (central's scraper);
//! - before two thirds of its lifetime have passed, the kiosk renews it
//!   with a new key (`POST /v1/devices/renew`, over mutual TLS).
//!
//! Everything is kept in one file, `DATA/identity.json` (mode 0600, owned
//! like the data folder), replaced atomically, so a power cut leaves the old
//! identity or the new one, never half of each.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rcgen::PublicKeyData as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

use crate::central::client::{CentralClient, IdentityPem};
use crate::central::{CentralError, DeviceCertificate, EnrollRequest, RenewRequest};

/// The identity file in the data folder.
pub const FILE: &str = "identity.json";

/// Why the last enrollment from `enroll.toml` failed, in the data folder.
pub const REFUSED_FILE: &str = "enroll-refused.txt";

/// Why an identity could not be made, read or kept.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The identity file does not decode.
    #[error("the identity file {path} is damaged ({detail}); enroll the kiosk again")]
    Corrupt {
        /// Which file.
        path: PathBuf,
        /// What is wrong (never its content).
        detail: String,
    },
    /// The key pair or the request could not be made.
    #[error("cannot make the kiosk's key or request: {0}")]
    Key(String),
    /// Central's answer is not a certificate for this kiosk's key.
    #[error("central's certificate is refused: {0}")]
    Certificate(String),
}

/// Why an enrollment or a renewal failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Central refused or could not be reached.
    #[error(transparent)]
    Central(#[from] CentralError),
    /// The identity could not be made or kept.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// `enroll.toml`, left on the boot partition by a technician.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollFile {
    /// The one-time enrollment code.
    pub code: String,
    /// `host:port` where the fleet reaches this kiosk's status endpoint
    /// (its address on the hall's network).
    pub status_address: Option<String>,
}

impl EnrollFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: Self =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        check_code(&file.code)?;
        if let Some(a) = &file.status_address {
            check_address(a)?;
        }
        Ok(file)
    }
}

/// An enrollment code: 6 to 64 ASCII letters, digits or `-`.
pub fn check_code(code: &str) -> Result<(), String> {
    let ok = (6..=64).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("the enrollment code must be 6 to 64 letters, digits or '-'".into())
    }
}

/// A status address: `host:port`, the host an IP address or a DNS name.
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = || format!("status address {address:?} is not host:port");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let dns = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if host.parse::<std::net::IpAddr>().is_ok() || dns {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The kiosk's enrolled identity.
#[derive(Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The device id the certificate names.
    pub device_id: String,
    /// The kiosk's certificate, PEM.
    pub certificate_pem: String,
    /// Its private key, PKCS#8 PEM (wiped when dropped).
    key_pem: String,
    /// The fleet CA, PEM.
    pub fleet_ca_pem: String,
    /// Start of the certificate's validity.
    pub not_before: DateTime<Utc>,
    /// End of the certificate's validity.
    pub not_after: DateTime<Utc>,
    /// The audit chain's key from central (64 hex digits; wiped when
    /// dropped). Absent from identities central gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit_key: Option<String>,
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.key_pem.zeroize();
        if let Some(k) = &mut self.audit_key {
            k.zeroize();
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("device_id", &self.device_id)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity in `data_dir`, `None` before enrollment.
    pub fn load(data_dir: &Path) -> Result<Option<Self>, IdentityError> {
        let path = data_dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IdentityError::Io {
                    what: "cannot read",
                    path,
                    source,
                })
            }
        };
        let identity: Self =
            serde_json::from_slice(&bytes).map_err(|e| IdentityError::Corrupt {
                path: path.clone(),
                detail: format!("not the expected JSON ({:?})", e.classify()),
            })?;
        // The same checks as when it was received: a file edited or cut
        // since is refused, not half used.
        let parsed = parse_certificate(&identity.certificate_pem)
            .and_then(|c| check_issued(&c, &identity.fleet_ca_pem, &identity.device_id).map(|()| c))
            .map_err(|detail| IdentityError::Corrupt {
                path: path.clone(),
                detail,
            })?;
        let key =
            rcgen::KeyPair::from_pem(&identity.key_pem).map_err(|e| IdentityError::Corrupt {
                path: path.clone(),
                detail: format!("the key does not decode ({e})"),
            })?;
        if key.subject_public_key_info() != parsed.spki {
            return Err(IdentityError::Corrupt {
                path,
                detail: "the key is not the certificate's".into(),
            });
        }
        Ok(Some(identity))
    }

    fn save(&self, data_dir: &Path) -> Result<(), IdentityError> {
        let path = data_dir.join(FILE);
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(self)
                .map_err(|e| IdentityError::Key(format!("cannot encode the identity: {e}")))?,
        );
        write_private(&path, &bytes)
    }

    /// Certificate then key, PEM, for the central client.
    pub fn client_pem(&self) -> IdentityPem {
        let mut pem = Zeroizing::new(Vec::with_capacity(
            self.certificate_pem.len() + self.key_pem.len() + 1,
        ));
        pem.extend_from_slice(self.certificate_pem.as_bytes());
        pem.push(b'\n');
        pem.extend_from_slice(self.key_pem.as_bytes());
        IdentityPem(pem)
    }

    /// The private key, PEM (for the status endpoint's TLS).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The audit chain's key, when central gave one.
    pub fn audit_key(&self) -> Option<crate::store::AuditKey> {
        self.audit_key
            .as_deref()
            .and_then(crate::store::AuditKey::from_hex)
    }

    /// True once two thirds of the certificate's lifetime have passed.
    pub fn renewal_due(&self, now: DateTime<Utc>) -> bool {
        let life = self.not_after - self.not_before;
        now >= self.not_before + life * 2 / 3
    }
}

/// A fresh key pair and its signing request, waiting for central's
/// certificate.
pub struct Pending {
    device_id: String,
    key: rcgen::KeyPair,
    /// The signing request, PEM.
    pub csr_pem: String,
}

impl Pending {
    /// A new P-256 key pair and a request naming `device_id` (common name
    /// and DNS name) and, when given, the status address' host (so the
    /// fleet's scraper can check the certificate against the address it
    /// connects to).
    pub fn new(device_id: &str, status_address: Option<&str>) -> Result<Self, IdentityError> {
        crate::device_id::check(device_id).map_err(|e| IdentityError::Key(e.to_string()))?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec![device_id.to_ascii_lowercase()])
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        if let Some(address) = status_address {
            check_address(address).map_err(IdentityError::Key)?;
            let host = address
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                .unwrap_or(address);
            let san = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => rcgen::SanType::IpAddress(ip),
                Err(_) => rcgen::SanType::DnsName(
                    host.to_ascii_lowercase()
                        .try_into()
                        .map_err(|e: rcgen::Error| IdentityError::Key(e.to_string()))?,
                ),
            };
            if !params.subject_alt_names.contains(&san) {
                params.subject_alt_names.push(san);
            }
        }
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, device_id);
        let csr_pem = params
            .serialize_request(&key)
            .and_then(|r| r.pem())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        Ok(Self {
            device_id: device_id.to_owned(),
            key,
            csr_pem,
        })
    }

    /// Checks central's answer (a certificate for this key and device id,
    /// signed by the fleet CA it names, valid now) and keeps it in
    /// `data_dir`, replacing any earlier identity.
    pub fn accept(
        self,
        answer: &DeviceCertificate,
        data_dir: &Path,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        let cert =
            parse_certificate(&answer.certificate_pem).map_err(IdentityError::Certificate)?;
        check_issued(&cert, &answer.fleet_ca_pem, &self.device_id)
            .map_err(IdentityError::Certificate)?;
        if cert.spki != self.key.subject_public_key_info() {
            return Err(IdentityError::Certificate(
                "it is for another key than the one this kiosk asked for".into(),
            ));
        }
        // Only expiry: a board without a real-time clock may still be
        // behind central's time at first boot.
        if now >= cert.not_after {
            return Err(IdentityError::Certificate(format!(
                "it is not valid now (expired {})",
                cert.not_after
            )));
        }
        if let Some(k) = &answer.audit_key {
            if crate::store::AuditKey::from_hex(k).is_none() {
                return Err(IdentityError::Certificate(
                    "the audit key is not 32 bytes in hex".into(),
                ));
            }
        }
        let identity = Identity {
            device_id: self.device_id,
            certificate_pem: answer.certificate_pem.clone(),
            key_pem: self.key.serialize_pem(),
            fleet_ca_pem: answer.fleet_ca_pem.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            audit_key: answer.audit_key.clone(),
        };
        identity.save(data_dir)?;
        Ok(identity)
    }
}

/// What the kiosk reads from a certificate.
struct Parsed {
    common_name: Option<String>,
    spki: Vec<u8>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    der: Vec<u8>,
}

fn single_pem(pem: &str, what: &str) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject as _;
    let mut certs = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes());
    match (certs.next(), certs.next()) {
        (Some(Ok(c)), None) => Ok(c.to_vec()),
        (None, _) => Err(format!("the {what} is not a PEM certificate")),
        (Some(Err(e)), _) => Err(format!("the {what} does not decode ({e})")),
        (Some(Ok(_)), Some(_)) => Err(format!("the {what} holds more than one certificate")),
    }
}

fn parse_certificate(pem: &str) -> Result<Parsed, String> {
    let der = single_pem(pem, "certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("the certificate does not decode ({e})"))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| "the certificate's validity is out of range".to_string())
    };
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    Ok(Parsed {
        common_name,
        spki: cert.public_key().raw.to_vec(),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
        der: der.clone(),
    })
}

/// The certificate names `device_id` and the fleet CA signed it.
fn check_issued(cert: &Parsed, fleet_ca_pem: &str, device_id: &str) -> Result<(), String> {
    if cert.common_name.as_deref() != Some(device_id) {
        return Err(format!("it does not name this kiosk ({device_id})"));
    }
    let ca_der = single_pem(fleet_ca_pem, "fleet CA")?;
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| format!("the fleet CA does not decode ({e})"))?;
    let (_, leaf) = x509_parser::parse_x509_certificate(&cert.der)
        .map_err(|e| format!("the certificate does not decode ({e})"))?;
    leaf.verify_signature(Some(ca.public_key()))
        .map_err(|_| "the fleet CA did not sign it".to_string())
}

/// Writes `bytes` to `path` readable by its owner only, owned like its
/// folder (provisioning enrolls as root; the kiosk renews as itself),
/// replaced whole ([`crate::files::replace`]).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| IdentityError::Io {
        what: "cannot create",
        path: dir.to_owned(),
        source,
    })?;
    crate::files::replace(path, bytes, 0o600).map_err(|e| IdentityError::Io {
        what: e.what,
        path: e.path,
        source: e.source,
    })
}

/// Enrolls the kiosk: a new key, central's certificate for it with the
/// one-time `code`, kept in `data_dir`.
pub async fn enroll(
    central: &CentralClient,
    data_dir: &Path,
    device_id: &str,
    code: &str,
    status_address: Option<&str>,
) -> Result<Identity, EnrollError> {
    check_code(code).map_err(IdentityError::Key)?;
    let pending = Pending::new(device_id, status_address)?;
    let answer = central
        .enroll(&EnrollRequest {
            code: code.to_owned(),
            device_id: device_id.to_owned(),
            csr_pem: pending.csr_pem.clone(),
            status_address: status_address.map(str::to_owned),
        })
        .await?;
    Ok(pending.accept(&answer, data_dir, Utc::now())?)
}

/// Renews the kiosk's certificate with a new key (the client must present
/// the current one). The old identity stays until the new one is kept.
pub async fn renew(
    central: &CentralClient,
    data_dir: &Path,
    current: &Identity,
    status_address: Option<&str>,
) -> Result<Identity, EnrollError> {
    let pending = Pending::new(&current.device_id, status_address)?;
    let mut answer = central
        .renew(&RenewRequest {
            csr_pem: pending.csr_pem.clone(),
        })
        .await?;
    // The audit key is enrollment's: a renewal that names none keeps it.
    if answer.audit_key.is_none() {
        answer.audit_key = current.audit_key.clone();
    }
    Ok(pending.accept(&answer, data_dir, Utc::now())?)
}

/// `[identity]` in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// `host:port` where the fleet reaches this kiosk's status endpoint,
    /// sent at enrollment (and renewal) for central's scrape targets and
    /// named in the certificate; `enroll.toml` may give it instead.
    pub status_address: Option<String>,
    /// How often the kiosk looks whether its certificate is due for
    /// renewal, seconds.
    pub renew_check_secs: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            status_address: None,
            renew_check_secs: 3600,
        }
    }
}

impl IdentityConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(a) = &self.status_address {
            check_address(a).map_err(|e| format!("identity.status_address: {e}"))?;
        }
        if self.renew_check_secs == 0 {
            return Err("identity.renew_check_secs must be positive".into());
        }
        Ok(())
    }
}

/// What `/status` says about the kiosk's identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityReport {
    /// Enrolled: central and the fleet's scraper authenticate this kiosk
    /// by its certificate.
    pub enrolled: bool,
    /// When the certificate expires.
    pub not_after: Option<DateTime<Utc>>,
    /// The last renewal's failure, until a renewal succeeds.
    pub renewal_error: Option<String>,
    /// Central answered that it revoked this kiosk's certificate.
    pub revoked: bool,
    /// The identity file could not be used, and why.
    pub damaged: Option<String>,
    /// Not enrolled, and the last enrollment from `enroll.toml` failed:
    /// why (`DATA/enroll-refused.txt`, written by the image's enroll step).
    pub enroll_refused: Option<String>,
}

impl IdentityReport {
    /// The report for `identity` (or for a kiosk not enrolled).
    pub fn of(identity: Option<&Identity>) -> Self {
        Self {
            enrolled: identity.is_some(),
            not_after: identity.map(|i| i.not_after),
            renewal_error: None,
            revoked: false,
            damaged: None,
            enroll_refused: None,
        }
    }

    /// The alarms it raises at `now`.
    pub fn alarms(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut alarms = Vec::new();
        if let Some(why) = &self.damaged {
            alarms.push(format!("the kiosk's identity cannot be used: {why}"));
        }
        if let Some(why) = &self.enroll_refused {
            alarms.push(format!(
                "enrollment with central failed (enroll.toml stays on the boot partition and is tried again): {why}"
            ));
        }
        if self.revoked {
            alarms.push(
                "central revoked this kiosk's certificate: enroll it again with a new code".into(),
            );
        }
        if let Some(not_after) = self.not_after {
            if now >= not_after {
                alarms.push(format!(
                    "the kiosk's certificate expired at {}: central refuses it; enroll it again",
                    not_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            } else if let Some(why) = &self.renewal_error {
                alarms.push(format!(
                    "the kiosk's certificate (expires {}) could not be renewed: {why}",
                    not_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            }
        }
        alarms
    }
}

/// Renews the certificate when due, every `every`, and puts the new one
/// in use: the central client's, and the status endpoint's.
pub struct Renewal {
    /// The central client (presents the current certificate).
    pub central: std::sync::Arc<CentralClient>,
    /// Where the identity is kept.
    pub data_dir: PathBuf,
    /// Sent again with the new request.
    pub status_address: Option<String>,
    /// The status endpoint's certificate.
    pub served: Option<std::sync::Arc<crate::status_tls::ServedCert>>,
    /// How often to look.
    pub every: std::time::Duration,
    /// What `/status` shows.
    pub report: tokio::sync::watch::Sender<IdentityReport>,
}

impl Renewal {
    /// Looks every `every` until `shutdown` turns true.
    pub async fn run(
        self,
        mut current: Identity,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if !current.renewal_due(Utc::now()) {
                continue;
            }
            match self.renew_once(&current).await {
                Ok(next) => {
                    tracing::info!(
                        not_after = %next.not_after,
                        "the kiosk's certificate was renewed"
                    );
                    self.report.send_replace(IdentityReport::of(Some(&next)));
                    current = next;
                }
                Err(e) => {
                    tracing::warn!("the kiosk's certificate could not be renewed: {e}");
                    let revoked = matches!(
                        &e,
                        EnrollError::Central(CentralError::Rejected { code, .. })
                            if code == "certificate-revoked"
                    );
                    self.report.send_modify(|r| {
                        r.renewal_error = Some(e.to_string());
                        r.revoked |= revoked;
                    });
                }
            }
        }
    }

    async fn renew_once(&self, current: &Identity) -> Result<Identity, EnrollError> {
        let next = renew(
            &self.central,
            &self.data_dir,
            current,
            self.status_address.as_deref(),
        )
        .await?;
        self.central
            .set_identity(next.client_pem())
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        if let Some(served) = &self.served {
            served
                .replace(next.certificate_pem.as_bytes(), next.key_pem().as_bytes())
                .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
