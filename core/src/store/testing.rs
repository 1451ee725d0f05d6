//! Fixtures for tests of the store and of the crates built on it.
//!
//! The citizen here is synthetic (张伟, a valid but made-up GB 11643 number,
//! a made-up phone); tests scan the data directory for exactly these values
//! to prove they never reach the disk in the clear.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_drivers::pii::{IdNumber, Personal};

use crate::model::{
    Application, Business, IdentityCheck, IdentityMethod, Order, OrderPersonal, OrderStatus,
    SupplyRoute,
};

/// The synthetic citizen's name.
pub const NAME: &str = "张伟";
/// The synthetic citizen's ID number (valid GB 11643 check digit).
pub const ID_NUMBER: &str = "330106199001010026";
/// The synthetic supply address.
pub const ADDRESS: &str = "浙江省杭州市西湖区文三路100号";
/// The synthetic phone number.
pub const PHONE: &str = "13812345678";

/// A fixed instant, 2026-11-23 09:30:00 UTC, for deterministic tests.
pub fn fixed_now() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 11, 23)
        .and_then(|d| d.and_hms_opt(9, 30, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

/// A pending new-connection order for the synthetic citizen, accepted at
/// [`fixed_now`].
#[doc(hidden)]
pub fn sample_order(local_id: &str) -> Order {
    let now = fixed_now();
    Order {
        local_id: local_id.to_owned(),
        central_no: None,
        business: Business::NewConnection,
        accepted_at: now,
        identity: IdentityCheck {
            method: IdentityMethod::IdCard,
            number_valid: true,
            verified_at: now,
        },
        application: Application {
            capacity_kw: 8.0,
            residential: true,
            route: SupplyRoute::LowVoltage,
            low_voltage_offered_and_declined: false,
            account_manager_booked: false,
            micro_park: None,
        },
        certificates: vec!["CERT-SUBJECT-0001".into(), "CERT-PROPERTY-0001".into()],
        missing: Vec::new(),
        commitment: None,
        rating: None,
        rating_comment: None,
        status: OrderStatus::PendingSync,
        personal: OrderPersonal {
            name: Personal::new(NAME),
            id_number: IdNumber::unchecked(ID_NUMBER),
            address: Personal::new(ADDRESS),
            phone: Personal::new(PHONE),
            mailing_address: Personal::default(),
            old_holder_name: Personal::default(),
            old_holder_id: None,
        },
        account_no: None,
        company: None,
        contract: None,
        pushed_from: None,
        transfer: None,
        personal_purged_at: None,
        time_unverified: false,
        central_received_at: None,
    }
}
