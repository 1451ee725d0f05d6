#![allow(clippy::unwrap_used)]
use super::*;
use chrono::Duration;

/// A fleet CA as central keeps one (the simulator has its own).
struct Ca {
    key: rcgen::KeyPair,
    params: rcgen::CertificateParams,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { key, params, pem }
}

impl Ca {
    fn sign(&self, csr_pem: &str, days: i64) -> DeviceCertificate {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
        let now = ::time::OffsetDateTime::now_utc();
        csr.params.not_before = now - ::time::Duration::minutes(1);
        csr.params.not_after = now + ::time::Duration::days(days);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = csr.signed_by(&issuer).unwrap();
        DeviceCertificate {
            device_id: "K-1A2B3C4D".into(),
            certificate_pem: cert.pem(),
            fleet_ca_pem: self.pem.clone(),
            not_after: Utc::now() + Duration::days(days),
            audit_key: None,
        }
    }
}

#[test]
fn an_accepted_certificate_is_kept_and_reads_back_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = ca("fleet");
    let pending = Pending::new("K-1A2B3C4D", Some("10.20.0.31:9100")).unwrap();
    let answer = fleet.sign(&pending.csr_pem, 90);
    let id = pending.accept(&answer, dir.path(), Utc::now()).unwrap();
    assert_eq!(id.device_id, "K-1A2B3C4D");
    assert!(id.not_after > Utc::now() + Duration::days(89));
    let back = Identity::load(dir.path()).unwrap().expect("kept");
    assert_eq!(back.certificate_pem, id.certificate_pem);
    assert_eq!(back.key_pem(), id.key_pem());
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path().join(FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is the owner's alone");
    // The pair makes a TLS identity for the client and for the endpoint.
    assert!(reqwest::Identity::from_pem(&id.client_pem().0).is_ok());
    assert!(crate::status_tls::ServedCert::from_pem(
        id.certificate_pem.as_bytes(),
        id.key_pem().as_bytes()
    )
    .is_ok());
    assert!(!format!("{id:?}").contains("PRIVATE KEY"));
}

#[test]
fn the_request_names_the_device_and_the_status_address() {
    let pending = Pending::new("K-1A2B3C4D", Some("10.20.0.31:9100")).unwrap();
    let csr = rcgen::CertificateSigningRequestParams::from_pem(&pending.csr_pem).unwrap();
    let sans = &csr.params.subject_alt_names;
    assert!(sans.contains(&rcgen::SanType::DnsName("k-1a2b3c4d".try_into().unwrap())));
    assert!(sans.contains(&rcgen::SanType::IpAddress("10.20.0.31".parse().unwrap())));
    let named = Pending::new("K-1A2B3C4D", Some("kiosk-7.hall.example:9100")).unwrap();
    let csr = rcgen::CertificateSigningRequestParams::from_pem(&named.csr_pem).unwrap();
    assert!(csr
        .params
        .subject_alt_names
        .contains(&rcgen::SanType::DnsName(
            "kiosk-7.hall.example".try_into().unwrap()
        )));
    assert!(Pending::new("K 1", None).is_err(), "not a device id");
    assert!(Pending::new("K-1", Some("no-port")).is_err());
}

#[test]
fn certificates_that_are_not_for_this_kiosk_are_refused_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = ca("fleet");
    // Signed for another key.
    let other = Pending::new("K-1A2B3C4D", None).unwrap();
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let answer = fleet.sign(&other.csr_pem, 90);
    assert!(matches!(
        pending.accept(&answer, dir.path(), Utc::now()),
        Err(IdentityError::Certificate(m)) if m.contains("another key")
    ));
    // Naming another device.
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let someone = Pending {
        device_id: "K-99999999".into(),
        key: rcgen::KeyPair::from_pem(&pending.key.serialize_pem()).unwrap(),
        csr_pem: String::new(),
    };
    let answer = fleet.sign(&pending.csr_pem, 90);
    assert!(matches!(
        someone.accept(&answer, dir.path(), Utc::now()),
        Err(IdentityError::Certificate(m)) if m.contains("K-99999999")
    ));
    // Claimed to come from a CA that did not sign it.
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let mut answer = fleet.sign(&pending.csr_pem, 90);
    answer.fleet_ca_pem = ca("another").pem;
    assert!(matches!(
        pending.accept(&answer, dir.path(), Utc::now()),
        Err(IdentityError::Certificate(m)) if m.contains("did not sign")
    ));
    // Expired at the kiosk's time (a clock behind central's is no reason
    // to refuse: a board without a real-time clock may be).
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let answer = fleet.sign(&pending.csr_pem, 1);
    assert!(matches!(
        pending.accept(&answer, dir.path(), Utc::now() + Duration::days(2)),
        Err(IdentityError::Certificate(m)) if m.contains("not valid now")
    ));
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let answer = fleet.sign(&pending.csr_pem, 1);
    let behind = pending.accept(&answer, dir.path(), Utc::now() - Duration::days(400));
    assert!(behind.is_ok(), "{behind:?}");
    std::fs::remove_file(dir.path().join(FILE)).unwrap();
    // Garbage.
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let mut answer = fleet.sign(&pending.csr_pem, 90);
    answer.certificate_pem = "<html>proxy</html>".into();
    assert!(pending.accept(&answer, dir.path(), Utc::now()).is_err());
    assert!(
        Identity::load(dir.path()).unwrap().is_none(),
        "nothing kept"
    );
}

#[test]
fn a_damaged_identity_file_is_refused_not_half_used() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = ca("fleet");
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let answer = fleet.sign(&pending.csr_pem, 90);
    pending.accept(&answer, dir.path(), Utc::now()).unwrap();
    let path = dir.path().join(FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(
        Identity::load(dir.path()),
        Err(IdentityError::Corrupt { .. })
    ));
    // Another kiosk's key swapped in.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let stranger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    v["key_pem"] = stranger.serialize_pem().into();
    std::fs::write(&path, v.to_string()).unwrap();
    match Identity::load(dir.path()) {
        Err(IdentityError::Corrupt { detail, .. }) => {
            assert!(detail.contains("not the certificate's"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn renewal_falls_due_after_two_thirds_of_the_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = ca("fleet");
    let pending = Pending::new("K-1A2B3C4D", None).unwrap();
    let answer = fleet.sign(&pending.csr_pem, 90);
    let id = pending.accept(&answer, dir.path(), Utc::now()).unwrap();
    assert!(!id.renewal_due(Utc::now()));
    assert!(!id.renewal_due(id.not_before + Duration::days(59)));
    assert!(id.renewal_due(id.not_before + Duration::days(61)));
}

#[test]
fn enroll_files_and_codes_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enroll.toml");
    std::fs::write(
        &path,
        "code = \"7KQ2-M9XD-41\"\nstatus_address = \"10.20.0.31:9100\"\n",
    )
    .unwrap();
    let f = EnrollFile::load(&path).unwrap();
    assert_eq!(f.code, "7KQ2-M9XD-41");
    std::fs::write(&path, "code = \"7KQ2-M9XD-41\"\ntoken = \"x\"\n").unwrap();
    assert!(EnrollFile::load(&path)
        .unwrap_err()
        .contains("unknown field"));
    std::fs::write(&path, "code = \"abc\"\n").unwrap();
    assert!(EnrollFile::load(&path).is_err(), "too short");
    assert!(check_code("abc def ghi").is_err());
    for ok in ["10.0.0.1:9100", "[fe80::1]:9100", "kiosk.hall:443"] {
        assert_eq!(check_address(ok), Ok(()), "{ok}");
    }
    for bad in ["10.0.0.1", ":9100", "a b:1", "host:99999"] {
        assert!(check_address(bad).is_err(), "{bad}");
    }
}
