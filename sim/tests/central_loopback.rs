//! The client against the simulator over a real loopback socket.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use kiosk_drivers::pii::{IdNumber, Personal};

use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::central::*;
use kiosk::model::{Application, IdentityCheck, IdentityMethod, OrderPersonal, SupplyRoute};
use kiosk_sim::central::{self as sim, Mode, SimCentral, SimHandle, COMPANY_PARK, MICRO_PARK};

fn client(sim: &SimHandle) -> CentralClient {
    client_with(sim, |_| {})
}

fn client_with(sim: &SimHandle, tweak: impl FnOnce(&mut ClientConfig)) -> CentralClient {
    let mut config = ClientConfig::new(sim.url());
    config.token = Some("device-token".into());
    tweak(&mut config);
    CentralClient::new(config).unwrap()
}

fn cert_request(subject: &str, address: Option<&str>) -> CertificatesRequest {
    CertificatesRequest {
        subject: Personal::new(subject),
        address: address.map(Personal::new),
        kinds: vec![
            CertificateKind::SubjectProof,
            CertificateKind::PropertyProof,
        ],
        consent_id: "consent-1".into(),
    }
}

fn submission(key: &str, capacity_kw: f64) -> OrderSubmission {
    OrderSubmission {
        idempotency_key: key.into(),
        business: Business::NewConnection,
        accepted_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap(),
        account_no: None,
        identity: IdentityCheck {
            method: IdentityMethod::IdCard,
            number_valid: true,
            verified_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 28, 0).unwrap(),
        },
        application: Application {
            capacity_kw,
            residential: true,
            route: SupplyRoute::LowVoltage,
            low_voltage_offered_and_declined: false,
            account_manager_booked: false,
            micro_park: None,
        },
        certificates: vec!["SP330106".into()],
        missing: Vec::new(),
        commitment: None,
        applicant: OrderPersonal {
            name: Personal::new("张伟"),
            id_number: IdNumber::unchecked("330106199001010026"),
            address: Personal::new("浙江省杭州市西湖区文三路100号"),
            phone: Personal::new("13800000000"),
            mailing_address: Personal::default(),
            old_holder_name: Personal::default(),
            old_holder_id: None,
        },
        company: None,
        contract: None,
        pushed_from: None,
        transfer: None,
        time_unverified: false,
    }
}

#[tokio::test]
async fn catalog_has_the_policy_and_every_business() {
    let sim = SimCentral::start(1).await.unwrap();
    let catalog = client(&sim).catalog().await.unwrap();
    assert_eq!(
        catalog.policy,
        CapacityPolicy {
            low_voltage_kw: 160.0,
            micro_park_kw: 300.0
        }
    );
    assert_eq!(catalog.businesses, Business::ALL.to_vec());
    assert_eq!(catalog.service_phone, "95598");
    assert!(catalog.default_commitment_days > 0);
    assert!(!catalog.notices.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn certificates_of_each_seeded_citizen() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    let kinds = |r: &CertificatesResponse| r.found.iter().map(|c| c.kind).collect::<Vec<_>>();

    // 张伟: both, address-matched (whitespace ignored).
    let r = c
        .certificates(&cert_request(
            "330106199001010026",
            Some("浙江省杭州市西湖区 文三路100号"),
        ))
        .await
        .unwrap();
    assert_eq!(
        kinds(&r),
        [
            CertificateKind::SubjectProof,
            CertificateKind::PropertyProof
        ]
    );
    assert!(r.missing.is_empty());
    assert_eq!(
        r.found[1].address.as_ref().map(|a| a.expose()),
        Some("浙江省杭州市西湖区文三路100号")
    );
    // …but another address of his is not on record.
    let r = c
        .certificates(&cert_request(
            "330106199001010026",
            Some("浙江省杭州市西湖区文三路999号"),
        ))
        .await
        .unwrap();
    assert_eq!(r.missing, [CertificateKind::PropertyProof]);

    // 李娜: property proof missing on purpose.
    let r = c
        .certificates(&cert_request("330106198503121231", None))
        .await
        .unwrap();
    assert_eq!(kinds(&r), [CertificateKind::SubjectProof]);
    assert_eq!(r.missing, [CertificateKind::PropertyProof]);

    // 王芳: property inside the micro-enterprise park.
    let r = c
        .certificates(&cert_request("440305197011204562", None))
        .await
        .unwrap();
    let property = r
        .found
        .iter()
        .find(|c| c.kind == CertificateKind::PropertyProof)
        .unwrap();
    assert_eq!(property.micro_park.as_deref(), Some(MICRO_PARK));
    assert_eq!(
        property.address.as_ref().map(|a| a.expose()),
        Some("浙江省杭州市余杭区创业路8号")
    );

    // 赵强 and 陈静: both found.
    for id in ["110101195805050073", "320502199211118881"] {
        let r = c.certificates(&cert_request(id, None)).await.unwrap();
        assert_eq!(r.found.len(), 2, "{id}");
        assert!(r.missing.is_empty(), "{id}");
    }

    // A company: the business licence by credit code.
    let mut req = cert_request(COMPANY_PARK, None);
    req.kinds = vec![
        CertificateKind::BusinessLicence,
        CertificateKind::PropertyProof,
    ];
    let r = c.certificates(&req).await.unwrap();
    assert_eq!(
        kinds(&r),
        [
            CertificateKind::PropertyProof,
            CertificateKind::BusinessLicence
        ]
    );

    // Unknown subject: everything missing, not an error.
    let mut req = cert_request("11010519491231002X", None);
    req.kinds.push(CertificateKind::BusinessLicence);
    let r = c.certificates(&req).await.unwrap();
    assert!(r.found.is_empty());
    assert_eq!(r.missing.len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn accounts_and_progress() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    let account = c.account("3300012345").await.unwrap();
    assert_eq!(account.holder_masked, "张*");
    assert_eq!(account.amount_due_fen, 12_850);
    assert!(matches!(
        c.account("0000000000").await,
        Err(CentralError::NotFound { .. })
    ));

    let accepted = c
        .submit_order(&submission("k-progress", 8.0), "k-progress")
        .await
        .unwrap();
    assert_eq!(accepted.order_no, "2026112300001");
    let progress = c.order_progress(&accepted.order_no).await.unwrap();
    assert_eq!(progress.steps[0].title, "受理");
    assert_eq!(progress.steps[0].state, StepState::Done);
    assert!(progress.steps[0].started_at.is_some() && progress.steps[0].finished_at.is_some());
    assert_eq!(progress.steps[1].title, "勘察");
    assert_eq!(progress.steps[1].state, StepState::Pending);

    let rating = RatingSubmission {
        order_no: accepted.order_no.clone(),
        stars: 5,
        comment: None,
    };
    let a = c.submit_rating(&rating, "r-1").await.unwrap();
    let b = c.submit_rating(&rating, "r-1").await.unwrap();
    assert_eq!(a, b);
    assert_eq!(sim.control.ratings().len(), 1);
    let bad = RatingSubmission { stars: 6, ..rating };
    let err = c.submit_rating(&bad, "r-2").await.unwrap_err();
    assert!(
        matches!(&err, CentralError::Rejected { code, .. } if code == "invalid-stars"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn order_idempotency_same_key_same_number_stored_once() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    let order = submission("local-0001", 8.0);
    let first = c.submit_order(&order, "local-0001").await.unwrap();
    let again = c.submit_order(&order, "local-0001").await.unwrap();
    assert_eq!(first, again);
    let other = c
        .submit_order(&submission("local-0002", 8.0), "local-0002")
        .await
        .unwrap();
    assert_ne!(first, other);
    assert_eq!(
        sim.control.orders_received(),
        vec![
            ("local-0001".to_string(), first.order_no.clone()),
            ("local-0002".to_string(), other.order_no.clone())
        ]
    );
    assert_eq!(sim.control.submissions_count("local-0001"), 2);
    assert_eq!(sim.control.submissions_count("local-0002"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_order_is_rejected_for_good() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    let err = c
        .submit_order(&submission("bad-1", 0.0), "bad-1")
        .await
        .unwrap_err();
    match &err {
        CentralError::Rejected { status, code, .. } => {
            assert_eq!(*status, 422);
            assert_eq!(code, "invalid-capacity");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.retry_later());
    assert!(sim.control.orders_received().is_empty());
    // The body's key must be the header's key.
    let err = c
        .submit_order(&submission("bad-2", 8.0), "other")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CentralError::Rejected { code, .. } if code == "idempotency-key-mismatch")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unavailable_is_server_error_to_retry_and_stores_nothing() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    sim.control.set_mode(Mode::Unavailable);
    let err = c
        .submit_order(&submission("k1", 8.0), "k1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CentralError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.retry_later());
    assert!(sim.control.orders_received().is_empty());
    assert_eq!(sim.control.submissions_count("k1"), 1);
    sim.control.set_mode(Mode::Normal);
    c.submit_order(&submission("k1", 8.0), "k1").await.unwrap();
    assert_eq!(sim.control.orders_received().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_and_oversized_bodies_are_garbage() {
    let sim = SimCentral::start(1).await.unwrap();
    sim.control.set_mode(Mode::Garbage);
    let err = client(&sim).catalog().await.unwrap_err();
    assert!(matches!(err, CentralError::Garbage { .. }), "{err:?}");
    assert!(err.retry_later());

    // Declared length over the limit.
    sim.control.set_mode(Mode::Normal);
    let small = client_with(&sim, |c| c.max_response_bytes = 64);
    let err = small.catalog().await.unwrap_err();
    assert!(
        matches!(&err, CentralError::Garbage { detail, .. } if detail.contains("64")),
        "{err:?}"
    );

    // Streamed without a length: stopped while reading.
    sim.control.set_mode(Mode::Oversized(4 * 1024 * 1024));
    let err = client(&sim).catalog().await.unwrap_err();
    assert!(
        matches!(&err, CentralError::Garbage { detail, .. } if detail.contains("larger")),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = CentralClient::new(ClientConfig::new(format!("http://{addr}"))).unwrap();
    let err = c.catalog().await.unwrap_err();
    assert!(matches!(err, CentralError::Unreachable { .. }), "{err:?}");
    assert!(err.retry_later());
}

#[tokio::test]
async fn dropped_connection_is_unreachable() {
    let sim = SimCentral::start(1).await.unwrap();
    sim.control.set_mode(Mode::DropConnection);
    let err = client(&sim).catalog().await.unwrap_err();
    assert!(matches!(err, CentralError::Unreachable { .. }), "{err:?}");
    assert!(err.retry_later());
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_beyond_the_timeout_is_timeout() {
    let sim = SimCentral::start(1).await.unwrap();
    sim.control.set_mode(Mode::Slow(Duration::from_secs(5)));
    let c = client_with(&sim, |c| c.timeout = Duration::from_millis(200));
    let err = c
        .submit_order(&submission("slow", 8.0), "slow")
        .await
        .unwrap_err();
    assert!(matches!(err, CentralError::Timeout { .. }), "{err:?}");
    assert!(err.retry_later());
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_token_is_rejected_and_errors_carry_no_personal_data() {
    let sim = SimCentral::start(1).await.unwrap();
    sim.control.require_token(Some("right".into()));
    let err = client(&sim).catalog().await.unwrap_err();
    assert!(
        matches!(&err, CentralError::Rejected { status: 401, code, .. } if code == "unauthorized")
    );
    sim.control.require_token(None);

    let mut order = submission("pii", 8.0);
    order.applicant.id_number = IdNumber::unchecked("330106199001010027");
    let err = client(&sim).submit_order(&order, "pii").await.unwrap_err();
    let text = format!("{err} {err:?}");
    for secret in ["张伟", "330106199001010027", "文三路", "13800000000"] {
        assert!(!text.contains(secret), "{text}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn eid_and_reference_photo_through_the_client() {
    let sim = SimCentral::start(1).await.unwrap();
    sim.control
        .set_reference_photo("330106199001010026", vec![0xFF, 0xD8, 0xFF, 0xD9]);
    let c = client(&sim);
    let photo = c
        .reference_photo(&ReferenceRequest {
            name: Personal::new("张伟"),
            id_number: IdNumber::unchecked("330106199001010026"),
            consent_id: "c".into(),
        })
        .await
        .unwrap();
    assert_eq!(photo.jpeg(), Some(vec![0xFF, 0xD8, 0xFF, 0xD9]));
    let identity = c
        .verify_eid(&EidRequest {
            payload: sim::eid_payload("320502199211118881"),
        })
        .await
        .unwrap();
    assert_eq!(identity.name.expose(), "陈静");
    let payment = c
        .create_payment(&PaymentRequest {
            account_no: "3300012345".into(),
            amount_fen: 12_850,
        })
        .await
        .unwrap();
    assert_eq!(payment.state, PaymentState::Pending);
    assert!(sim.control.settle_payment(&payment.payment_id));
    let paid = c.payment(&payment.payment_id).await.unwrap();
    assert_eq!(paid.state, PaymentState::Paid);
    assert!(paid.invoice.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_offset_is_known_after_centrals_first_answer() {
    let sim = SimCentral::start(1).await.unwrap();
    let c = client(&sim);
    assert_eq!(c.clock_offset(), None, "nothing known before an answer");
    c.catalog().await.unwrap();
    let offset = c.clock_offset().expect("from the Date header");
    // Same machine, same clock: within the header's one-second resolution.
    assert!(offset.num_milliseconds().abs() <= 1_500, "{offset:?}");
}
