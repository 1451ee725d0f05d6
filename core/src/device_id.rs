//! The kiosk's device id: one rule for the config, first-boot provisioning
//! and the store.
//!
//! The id prefixes every local order id (`K-1A2B3C4D-20261204-0001`),
//! consent id and receipt, and is sent to central; so one function,
//! [`check`], decides what an id may be, and `provision` asks the kiosk
//! binary for the id of a board (`kiosk device-id --serial S`, through
//! [`from_serial`]) instead of building one itself. A board provisioned
//! with an id the store would refuse could not accept a single order.

/// Longest device id (it prefixes every local order id).
pub const MAX_LEN: usize = 16;

/// Why a device id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device id {id:?} must be 1 to {MAX_LEN} ASCII letters, digits or single '-' between them")]
pub struct DeviceIdError {
    /// The id given.
    pub id: String,
}

/// Checks a device id: 1 to [`MAX_LEN`] ASCII letters, digits and single
/// hyphens between them (`K001`, `HZ-XH-007`, `K-1A2B3C4D`).
pub fn check(id: &str) -> Result<(), DeviceIdError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--");
    if ok {
        Ok(())
    } else {
        Err(DeviceIdError { id: id.to_owned() })
    }
}

/// The id first-boot provisioning gives a board: `K-` and the last 8
/// letters or digits of its serial number, upper-cased.
pub fn from_serial(serial: &str) -> Result<String, DeviceIdError> {
    let kept: Vec<char> = serial
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let tail: String = kept[kept.len().saturating_sub(8)..].iter().collect();
    let id = format!("K-{tail}");
    check(&id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_as_written_by_technicians_and_provisioning_pass() {
        for id in ["K001", "HZ-XH-007", "K-1A2B3C4D", "a", "K-0123456789ABCD"] {
            assert_eq!(check(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for id in [
            "",
            "-K1",
            "K1-",
            "K--1",
            "K 1",
            "K_1",
            "K/1",
            "К1",
            "K-0123456789ABCDE",
        ] {
            assert!(check(id).is_err(), "{id:?} passed");
        }
    }

    #[test]
    fn a_board_serial_gives_its_last_eight_characters() {
        assert_eq!(
            from_serial("10000000a1b2c3d4\0").as_deref(),
            Ok("K-A1B2C3D4")
        );
        assert_eq!(from_serial("3f9c").as_deref(), Ok("K-3F9C"));
        assert!(from_serial("").is_err(), "no serial, no id");
        assert!(from_serial("\0\0").is_err());
    }

    proptest! {
        #[test]
        fn every_provisioned_id_passes_the_one_rule(serial in "\\PC{0,40}") {
            if let Ok(id) = from_serial(&serial) {
                prop_assert_eq!(check(&id), Ok(()));
                prop_assert!(id.len() <= MAX_LEN);
            }
        }
    }
}
