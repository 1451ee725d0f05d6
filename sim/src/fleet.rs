//! Central's side of the kiosks' own identities: the fleet CA, one-time
//! enrollment codes, device certificates and their renewal, revocation of
//! a stolen kiosk, and the scrape targets for the fleet's Prometheus
//! (`GET /v1/fleet/targets`, HTTP service discovery).
//!
//! The CA's key and certificate live in the simulator's state folder
//! (`fleet-ca.pem`, `fleet-ca-key.pem`) when it has one, so kiosks enrolled
//! before a restart stay trusted; the enrolled devices and the unused codes
//! are kept in `state.json` with the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use kiosk::central::{AuditAck, AuditHeadReport, TargetGroup};
use kiosk::store::AuditHead;
use serde::{Deserialize, Serialize};

/// The fleet's certificate authority.
pub struct FleetCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl std::fmt::Debug for FleetCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetCa")
    }
}

const CA_FILE: &str = "fleet-ca.pem";
const CA_KEY_FILE: &str = "fleet-ca-key.pem";

fn offset_time(t: DateTime<Utc>) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| e.to_string())
}

fn serial() -> rcgen::SerialNumber {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    bytes[0] &= 0x7f;
    rcgen::SerialNumber::from_slice(&bytes)
}

impl FleetCa {
    /// A new CA (P-256, ten years).
    pub fn generate() -> Result<Self, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| e.to_string())?;
        let params = Self::params()?;
        let pem = params.self_signed(&key).map_err(|e| e.to_string())?.pem();
        Ok(Self {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        })
    }

    fn params() -> Result<rcgen::CertificateParams, String> {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kiosk fleet CA (simulator)");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let now = Utc::now();
        params.not_before = offset_time(now - chrono::Duration::days(1))?;
        params.not_after = offset_time(now + chrono::Duration::days(3650))?;
        Ok(params)
    }

    /// The CA kept in `dir`, or a new one written there.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let (cert_path, key_path) = (dir.join(CA_FILE), dir.join(CA_KEY_FILE));
        match (
            std::fs::read_to_string(&cert_path),
            std::fs::read_to_string(&key_path),
        ) {
            (Ok(pem), Ok(key_pem)) => {
                let key = rcgen::KeyPair::from_pem(&key_pem)
                    .map_err(|e| format!("{}: {e}", key_path.display()))?;
                // The issuer's name and key identifier come from the kept
                // certificate, so new certificates chain to it.
                let issuer = rcgen::Issuer::from_ca_cert_pem(&pem, key)
                    .map_err(|e| format!("{}: {e}", cert_path.display()))?;
                Ok(Self { issuer, pem })
            }
            _ => {
                let ca = Self::generate()?;
                std::fs::write(&cert_path, &ca.pem)
                    .map_err(|e| format!("{}: {e}", cert_path.display()))?;
                write_private(&key_path, ca.issuer.key().serialize_pem().as_bytes())?;
                Ok(ca)
            }
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Signs a kiosk's request: it must name `device_id` as its common
    /// name; its subject alternative names (the device id, the status
    /// address' host) are kept. Valid for `lifetime` from now.
    pub fn sign_device(
        &self,
        csr_pem: &str,
        device_id: &str,
        lifetime: std::time::Duration,
    ) -> Result<(String, DateTime<Utc>), String> {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| format!("the request does not decode or verify ({e})"))?;
        let cn = csr
            .params
            .distinguished_name
            .get(&rcgen::DnType::CommonName)
            .and_then(|v| match v {
                rcgen::DnValue::PrintableString(s) => Some(s.as_str().to_owned()),
                rcgen::DnValue::Utf8String(s) => Some(s.clone()),
                _ => None,
            });
        if cn.as_deref() != Some(device_id) {
            return Err(format!("the request does not name {device_id}"));
        }
        let now = Utc::now();
        let not_after =
            now + chrono::Duration::from_std(lifetime).map_err(|e| format!("lifetime: {e}"))?;
        let p = &mut csr.params;
        p.not_before = offset_time(now - chrono::Duration::minutes(5))?;
        p.not_after = offset_time(not_after)?;
        p.serial_number = Some(serial());
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = csr.signed_by(&self.issuer).map_err(|e| e.to_string())?;
        Ok((cert.pem(), not_after))
    }

    /// A client certificate and key (PEM) for `name`: the fleet's scraper.
    pub fn issue_client(&self, name: &str) -> Result<(String, String), String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| e.to_string())?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let now = Utc::now();
        params.not_before = offset_time(now - chrono::Duration::minutes(5))?;
        params.not_after = offset_time(now + chrono::Duration::days(365))?;
        params.serial_number = Some(serial());
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| e.to_string())?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// The common name of a certificate (DER), if it has one.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The name prefix of the fleet scraper's certificates.
pub const SCRAPER_PREFIX: &str = "fleet-scraper";

/// Who called, from the client certificate the TLS handshake verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An enrolled kiosk.
    Device(String),
    /// The fleet's scraper.
    Scraper,
}

/// One enrolled kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Where its status endpoint answers.
    pub status_address: Option<String>,
    /// When it enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// When its last certificate expires.
    pub not_after: DateTime<Utc>,
    /// Certificates issued to it (enrollment and renewals).
    pub certificates: u32,
    /// Revoked: central refuses it and no longer scrapes it.
    pub revoked: bool,
    /// The audit chain's key central made at enrollment (hex).
    #[serde(default)]
    pub audit_key: Option<String>,
}

/// The fleet central knows: unused enrollment codes and enrolled kiosks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    /// One-time codes not used yet.
    pub codes: BTreeSet<String>,
    /// Enrolled kiosks by device id.
    pub devices: BTreeMap<String, Device>,
    /// What central holds of each kiosk's audit chain, by device id
    /// (enrolled or not).
    #[serde(default)]
    pub audits: BTreeMap<String, AuditTrail>,
}

/// Central's anchor of one kiosk's audit chain: the record it saw last,
/// and every gap it found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTrail {
    /// The record central saw last (`None`: never reported).
    pub seen: Option<AuditHead>,
    /// When it was reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// The gaps, oldest first.
    pub gaps: Vec<AuditGap>,
}

/// A report that did not continue what central saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditGap {
    /// When central found it.
    pub at: DateTime<Utc>,
    /// What is wrong.
    pub reason: String,
    /// What central had seen.
    pub seen: AuditHead,
    /// What the kiosk reported.
    pub reported: AuditHead,
}

impl AuditTrail {
    /// Checks a report against the record central saw last. A chain that
    /// no longer reaches that record (cut short, deleted) or holds another
    /// one there (rewritten) is a gap, kept here; central then anchors the
    /// chain as it is now. A report that goes past the record without
    /// proving it is not accepted: the kiosk reports again with the proof.
    pub fn report(&mut self, r: &AuditHeadReport, now: DateTime<Utc>) -> AuditAck {
        let rewritten =
            |seq: u64| format!("record {seq} is not the one central saw: the chain was rewritten");
        let gap = match &self.seen {
            // Nothing seen, or an empty chain: every chain continues it.
            None => None,
            Some(seen) if seen.seq == 0 => None,
            Some(seen) if r.head.seq < seen.seq => Some(format!(
                "the chain ends at record {}, but central saw record {}: records were removed (the log cut short, or the store deleted)",
                r.head.seq, seen.seq
            )),
            Some(seen) if r.head.seq == seen.seq => {
                (r.head.hash != seen.hash).then(|| rewritten(seen.seq))
            }
            Some(seen) => match &r.anchor {
                Some(a) if a.seq == seen.seq => (a.hash != seen.hash).then(|| rewritten(seen.seq)),
                _ => {
                    return AuditAck {
                        accepted: false,
                        seen: seen.clone(),
                        gap: None,
                    }
                }
            },
        };
        if let (Some(reason), Some(seen)) = (&gap, &self.seen) {
            self.gaps.push(AuditGap {
                at: now,
                reason: reason.clone(),
                seen: seen.clone(),
                reported: r.head.clone(),
            });
        }
        self.seen = Some(r.head.clone());
        self.reported_at = Some(now);
        AuditAck {
            accepted: true,
            seen: r.head.clone(),
            gap,
        }
    }
}

impl Fleet {
    /// Who a verified client certificate names, or why it is refused.
    pub fn caller(&self, der: &[u8]) -> Result<Caller, &'static str> {
        let cn = common_name(der).ok_or("the certificate names no one")?;
        if cn.starts_with(SCRAPER_PREFIX) {
            return Ok(Caller::Scraper);
        }
        match self.devices.get(&cn) {
            Some(d) if d.revoked => Err("certificate-revoked"),
            Some(_) => Ok(Caller::Device(cn)),
            None => Err("the certificate names no enrolled kiosk"),
        }
    }

    /// The scrape targets: every kiosk not revoked that gave an address.
    pub fn targets(&self) -> Vec<TargetGroup> {
        self.devices
            .iter()
            .filter(|(_, d)| !d.revoked)
            .filter_map(|(id, d)| {
                Some(TargetGroup {
                    targets: vec![d.status_address.clone()?],
                    labels: BTreeMap::from([("kiosk_id".to_string(), id.clone())]),
                })
            })
            .collect()
    }
}

/// `docs/fleet/prometheus.yml` as shipped.
pub const PROMETHEUS_YML: &str = include_str!("../../docs/fleet/prometheus.yml");
/// `docs/fleet/alerts.yml` as shipped.
pub const ALERTS_YML: &str = include_str!("../../docs/fleet/alerts.yml");

/// The shipped Prometheus config made local for a lab: its
/// `/etc/prometheus/kiosk/` files in `dir` (`fleet-ca.pem`, `scraper.pem`,
/// `scraper-key.pem`, `central-ca.pem`), central at `central_url`, 1 s
/// intervals, and a second job, `no-cert`, the same without the scraper's
/// certificate towards the kiosks (central's discovery keeps it), whose
/// `up` is 0 wherever a kiosk refuses it.
pub fn lab_prometheus_config(dir: &Path, central_url: &str) -> Result<String, String> {
    let d = dir.display();
    let local = PROMETHEUS_YML
        .replace("/etc/prometheus/kiosk/", &format!("{d}/"))
        .replace(
            "https://central.example.invalid",
            central_url.trim_end_matches('/'),
        )
        .replace("scrape_interval: 30s", "scrape_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        .replace("refresh_interval: 1m", "refresh_interval: 1s");
    let job_start = local
        .find("  - job_name: kiosk")
        .ok_or("the shipped config has no job `kiosk`")?;
    let job = local[job_start..].replacen("job_name: kiosk", "job_name: no-cert", 1);
    // The scrape's own tls_config (the first one) loses its certificate.
    let scrape_tls = job
        .find("    tls_config:")
        .ok_or("the job has no tls_config")?;
    let sd = job
        .find("    http_sd_configs:")
        .ok_or("the job has no http_sd_configs")?;
    let cut: String = job[scrape_tls..sd]
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with("cert_file:") || l.starts_with("key_file:"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if cut.len() == sd - scrape_tls {
        return Err("the job's tls_config names no client certificate".into());
    }
    Ok(format!(
        "{local}\n{}{cut}{}",
        &job[..scrape_tls],
        &job[sd..]
    ))
}

/// Writes the fleet scraper's certificate and key and the fleet CA into
/// `dir`, `central_ca` as `central-ca.pem`, and a Prometheus config
/// ([`lab_prometheus_config`]) with the shipped alert rules: a lab's
/// Prometheus runs with `--config.file DIR/prometheus.yml`.
pub fn write_lab_scraper(
    dir: &Path,
    fleet_ca_pem: &str,
    scraper: &(String, String),
    central_ca: &Path,
    central_url: &str,
) -> Result<(), String> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let put = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(io(&p))
    };
    put("scraper.pem", &scraper.0)?;
    write_private(&dir.join("scraper-key.pem"), scraper.1.as_bytes())?;
    put("fleet-ca.pem", fleet_ca_pem)?;
    std::fs::copy(central_ca, dir.join("central-ca.pem")).map_err(io(central_ca))?;
    put("alerts.yml", ALERTS_YML)?;
    put("prometheus.yml", &lab_prometheus_config(dir, central_url)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_config_is_the_shipped_one_local_plus_a_job_without_the_certificate() {
        let dir = Path::new("/lab");
        let c = lab_prometheus_config(dir, "https://127.0.0.1:9/").unwrap();
        assert!(!c.contains("/etc/prometheus"), "{c}");
        assert!(
            c.contains("url: https://127.0.0.1:9/v1/fleet/targets"),
            "{c}"
        );
        assert_eq!(c.matches("job_name:").count(), 2);
        // The kiosk job presents the certificate to kiosks and central; the
        // no-cert job only to central.
        assert_eq!(c.matches("cert_file: /lab/scraper.pem").count(), 3, "{c}");
        let no_cert = &c[c.find("job_name: no-cert").unwrap()..];
        let sd = no_cert.find("http_sd_configs").unwrap();
        assert!(!no_cert[..sd].contains("cert_file"), "{no_cert}");
        assert!(no_cert[sd..].contains("cert_file"), "{no_cert}");
    }

    #[test]
    fn a_kept_ca_signs_certificates_that_chain_to_the_kept_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let first = FleetCa::load_or_create(dir.path()).unwrap();
        let again = FleetCa::load_or_create(dir.path()).unwrap();
        assert_eq!(first.pem(), again.pem());
        let pending = kiosk::enroll::Pending::new("K-1A2B3C4D", Some("127.0.0.1:9100")).unwrap();
        let (cert, not_after) = again
            .sign_device(
                &pending.csr_pem,
                "K-1A2B3C4D",
                std::time::Duration::from_secs(3600),
            )
            .unwrap();
        let answer = kiosk::central::DeviceCertificate {
            device_id: "K-1A2B3C4D".into(),
            certificate_pem: cert,
            fleet_ca_pem: first.pem().into(),
            not_after,
            audit_key: None,
        };
        let data = tempfile::tempdir().unwrap();
        let id = pending.accept(&answer, data.path(), Utc::now()).unwrap();
        assert_eq!(id.not_after.timestamp(), not_after.timestamp());
    }

    #[test]
    fn a_request_for_another_device_is_not_signed() {
        let ca = FleetCa::generate().unwrap();
        let pending = kiosk::enroll::Pending::new("K-1A2B3C4D", None).unwrap();
        let err = ca
            .sign_device(
                &pending.csr_pem,
                "K-99999999",
                std::time::Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(err.contains("K-99999999"));
        assert!(ca
            .sign_device(
                "not a request",
                "K-1A2B3C4D",
                std::time::Duration::from_secs(60)
            )
            .is_err());
    }

    #[test]
    fn callers_are_told_apart_and_revoked_kiosks_refused() {
        let ca = FleetCa::generate().unwrap();
        let der = |pem: &str| {
            use rustls_pki_types::pem::PemObject as _;
            rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                .unwrap()
                .to_vec()
        };
        let (scraper, _) = ca.issue_client("fleet-scraper-1").unwrap();
        let pending = kiosk::enroll::Pending::new("K-1A2B3C4D", None).unwrap();
        let (kiosk_cert, _) = ca
            .sign_device(
                &pending.csr_pem,
                "K-1A2B3C4D",
                std::time::Duration::from_secs(60),
            )
            .unwrap();
        let mut fleet = Fleet::default();
        assert_eq!(fleet.caller(&der(&scraper)), Ok(Caller::Scraper));
        assert!(fleet.caller(&der(&kiosk_cert)).is_err(), "not enrolled");
        fleet.devices.insert(
            "K-1A2B3C4D".into(),
            Device {
                status_address: Some("10.0.0.5:9100".into()),
                enrolled_at: Utc::now(),
                not_after: Utc::now(),
                certificates: 1,
                revoked: false,
                audit_key: None,
            },
        );
        assert_eq!(
            fleet.caller(&der(&kiosk_cert)),
            Ok(Caller::Device("K-1A2B3C4D".into()))
        );
        assert_eq!(
            fleet.targets()[0].targets,
            vec!["10.0.0.5:9100".to_string()]
        );
        fleet.devices.get_mut("K-1A2B3C4D").unwrap().revoked = true;
        assert_eq!(fleet.caller(&der(&kiosk_cert)), Err("certificate-revoked"));
        assert!(fleet.targets().is_empty());
    }

    fn head(seq: u64, c: char) -> AuditHead {
        AuditHead {
            seq,
            hash: c.to_string().repeat(64),
        }
    }

    fn report(seq: u64, c: char, anchor: Option<AuditHead>) -> AuditHeadReport {
        AuditHeadReport {
            device_id: "K-1A2B3C4D".into(),
            head: head(seq, c),
            anchor,
        }
    }

    /// The chain continues: accepted. Cut short, deleted, rewritten: each a
    /// gap, kept, and the chain anchored afresh. Past the record seen
    /// without its proof: not accepted, nothing changes.
    #[test]
    fn central_anchors_the_chain_and_keeps_each_gap() {
        let now = Utc::now();
        let mut t = AuditTrail::default();
        // A kiosk that reported its empty chain at first boot: whatever it
        // reports next continues it, no proof needed.
        let empty = t.report(&report(0, '0', None), now);
        assert!(empty.accepted && empty.gap.is_none());
        let first = t.report(&report(5, 'a', None), now);
        assert!(first.accepted && first.gap.is_none());
        assert_eq!(first.seen, head(5, 'a'));
        // Grown, proving record 5 as seen.
        let grown = t.report(&report(9, 'b', Some(head(5, 'a'))), now);
        assert!(grown.accepted && grown.gap.is_none(), "{grown:?}");
        // The same head again: fine.
        assert!(t
            .report(&report(9, 'b', Some(head(9, 'b'))), now)
            .gap
            .is_none());
        // Grown without the proof (the kiosk lost its note): asked for it.
        let ask = t.report(&report(12, 'c', Some(head(5, 'a'))), now);
        assert!(!ask.accepted && ask.gap.is_none());
        assert_eq!(ask.seen, head(9, 'b'));
        assert!(t.gaps.is_empty());

        // Truncated: the chain ends before record 9.
        let cut = t.report(&report(6, 'd', None), now);
        assert!(cut.accepted);
        assert!(
            cut.gap.as_deref().unwrap().contains("records were removed"),
            "{cut:?}"
        );
        // Deleted and begun again: ends at 2.
        let deleted = t.report(&report(2, 'e', None), now);
        assert!(deleted.gap.unwrap().contains("central saw record 6"));
        // Rewritten whole and grown past the record seen: the proof differs.
        let rewritten = t.report(&report(40, 'f', Some(head(2, 'x'))), now);
        assert!(rewritten
            .gap
            .unwrap()
            .contains("record 2 is not the one central saw"));
        // Rewritten at the same length.
        let same_len = t.report(&report(40, 'g', None), now);
        assert!(same_len.gap.unwrap().contains("record 40"));
        assert_eq!(t.gaps.len(), 4);
        assert_eq!(t.gaps[0].seen, head(9, 'b'));
        assert_eq!(t.gaps[0].reported, head(6, 'd'));
        assert_eq!(t.seen, Some(head(40, 'g')));
    }
}
