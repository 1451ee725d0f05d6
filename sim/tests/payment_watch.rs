//! Watching a bill payment against the simulator: only central's "paid",
//! with its invoice, is paid; garbage, an outage or another payment never is.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kiosk::central::client::{CentralClient, ClientConfig};
use kiosk::central::{PaymentRequest, PaymentState};
use kiosk::flow::PaymentOutcome;
use kiosk::runtime::{watch_payment as watch, PaymentTiming};
use kiosk_sim::central::{Mode, SimCentral};

fn quick() -> PaymentTiming {
    PaymentTiming {
        poll: Duration::from_millis(20),
        timeout: Duration::from_millis(400),
    }
}

async fn setup() -> (kiosk_sim::central::SimHandle, CentralClient, String) {
    let sim = SimCentral::start(1).await.unwrap();
    let mut cfg = ClientConfig::new(sim.url());
    cfg.timeout = Duration::from_millis(200);
    let client = CentralClient::new(cfg).unwrap();
    let p = client
        .create_payment(&PaymentRequest {
            account_no: "3300012345".into(),
            amount_fen: 12_850,
        })
        .await
        .unwrap();
    (sim, client, p.payment_id)
}

#[tokio::test]
async fn a_payment_central_never_confirms_is_not_paid() {
    let (sim, client, id) = setup().await;
    assert_eq!(watch(&client, &id, quick()).await, PaymentOutcome::NotPaid);
    assert_eq!(sim.control.payments()[0].state, PaymentState::Pending);
}

#[tokio::test]
async fn garbage_an_outage_or_someone_elses_payment_is_never_paid() {
    let (sim, client, id) = setup().await;
    for mode in [Mode::Garbage, Mode::Unavailable, Mode::DropConnection] {
        sim.control.set_mode(mode);
        assert_eq!(
            watch(&client, &id, quick()).await,
            PaymentOutcome::NotPaid,
            "{mode:?}"
        );
    }
    sim.control.set_mode(Mode::Normal);
    // Another payment settled is not this one.
    let other = client
        .create_payment(&PaymentRequest {
            account_no: "3300012347".into(),
            amount_fen: 100,
        })
        .await
        .unwrap();
    assert!(sim.control.settle_payment(&other.payment_id));
    assert_eq!(watch(&client, &id, quick()).await, PaymentOutcome::NotPaid);
}

#[tokio::test]
async fn centrals_paid_answer_with_its_invoice_is_paid() {
    let (sim, client, id) = setup().await;
    assert!(sim.control.settle_payment(&id));
    match watch(&client, &id, quick()).await {
        PaymentOutcome::Paid(invoice) => {
            assert_eq!(invoice.amount_fen, 12_850);
            assert!(invoice.invoice_no.starts_with("INV"));
        }
        other => panic!("{other:?}"),
    }
}
