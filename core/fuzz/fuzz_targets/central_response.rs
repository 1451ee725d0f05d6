//! The central client's response decoding: any status and any body give
//! the answer or a typed error, never a panic; 5xx is always "retry later",
//! and no error text quotes the body.
#![no_main]

use kiosk::central::client::decode_response;
use kiosk::central::{
    Account, ApiErrorBody, Catalog, CertificatesResponse, EidIdentity, OrderAccepted,
    OrderProgress, Payment, PushedOrders, RatingAccepted, Result,
};
use libfuzzer_sys::fuzz_target;

const MARK: &str = "LEAK-MARKER-3301";

fn check<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) {
    let r: Result<T> = decode_response("http://central/v1/x", status, body);
    if let Err(e) = r {
        if (500..600).contains(&status) {
            assert!(e.retry_later());
        }
        let shown = format!("{e} {e:?}");
        let quoted = String::from_utf8_lossy(body).contains(MARK);
        // A rejection carries central's own code and message; anything
        // else never echoes the body.
        if quoted && !matches!(e, kiosk::central::CentralError::Rejected { .. }) {
            assert!(!shown.contains(MARK), "{shown}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_be_bytes([data[0], data[1]]) % 500;
    let body = &data[2..];
    check::<Catalog>(status, body);
    check::<Account>(status, body);
    check::<Payment>(status, body);
    check::<OrderProgress>(status, body);
    check::<PushedOrders>(status, body);
    check::<EidIdentity>(status, body);
    check::<CertificatesResponse>(status, body);
    check::<OrderAccepted>(status, body);
    check::<RatingAccepted>(status, body);
    check::<ApiErrorBody>(status, body);
});
