//! The staff override's credentials and its lockout.
//!
//! A member of staff confirms a citizen's identity with a staff card or a
//! PIN. The PIN is kept in the config as an argon2id hash (salted and slow:
//! a copied config does not give a four- or six-digit PIN away in a second,
//! as an unsalted SHA-256 did); `kiosk staff hash-pin` makes one. Cards are
//! kept as SHA-256 of their ID number (the card itself is the secret).
//!
//! Five failed tries in a row lock the override for [`LOCKOUT_MINUTES`]:
//! further tries are refused without being checked, `/status` shows an
//! alarm, and every try, failed or not, is an audit record. The count lives
//! in the store, so a restart or a power cut does not reset it.
//!
//! The pure parts are here ([`PinHash`], [`Lockout`]); the store keeps the
//! lockout ([`crate::store::Store::staff_attempt`]) and the runtime asks
//! ([`crate::runtime`] turns `Event::StaffConfirm` into
//! `Event::StaffChecked` before the flow sees it).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Failed tries in a row that lock the override.
pub const MAX_FAILURES: u32 = 5;

/// How long the override stays locked.
pub const LOCKOUT_MINUTES: i64 = 15;

/// argon2id memory in KiB for new hashes (19 MiB, t = 2, p = 1: OWASP's
/// minimum for argon2id; about a second per try on a Raspberry Pi 4).
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;

/// Why a PIN hash from the config is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinHashError {
    /// Not a PHC string at all.
    #[error("not a password hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash): {0}")]
    Malformed(String),
    /// A PHC string of another algorithm, or argon2 below our floor.
    #[error("{0}: make one with `kiosk staff hash-pin`")]
    Weak(String),
}

/// An argon2id hash of a PIN, in PHC form, checked when the config loads.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHash(String);

impl std::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinHash(argon2id)")
    }
}

impl PinHash {
    /// Parses and checks a hash: argon2id, version 0x13, at least 19 MiB
    /// and 2 passes.
    pub fn parse(s: &str) -> Result<Self, PinHashError> {
        let h = PasswordHash::new(s.trim()).map_err(|e| PinHashError::Malformed(e.to_string()))?;
        if h.algorithm.as_str() != "argon2id" {
            return Err(PinHashError::Weak(format!(
                "algorithm {} (argon2id wanted)",
                h.algorithm
            )));
        }
        let params = Params::try_from(&h).map_err(|e| PinHashError::Malformed(e.to_string()))?;
        if params.m_cost() < MEMORY_KIB || params.t_cost() < ITERATIONS {
            return Err(PinHashError::Weak(format!(
                "argon2id with m={} KiB, t={} is below m={MEMORY_KIB}, t={ITERATIONS}",
                params.m_cost(),
                params.t_cost()
            )));
        }
        if h.salt.is_none() || h.hash.is_none() {
            return Err(PinHashError::Malformed("no salt or no hash".into()));
        }
        Ok(Self(s.trim().to_owned()))
    }

    /// Hashes `pin` with a fresh random salt (for `kiosk staff hash-pin`).
    pub fn new(pin: &str) -> Self {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        Self::with_salt(pin, &salt)
    }

    /// Hashes `pin` with `salt`. Fails closed: a hash that cannot be made
    /// is empty, and an empty hash verifies no PIN.
    fn with_salt(pin: &str, salt: &[u8; 16]) -> Self {
        let hash = SaltString::encode_b64(salt)
            .ok()
            .and_then(|salt| {
                hasher()
                    .hash_password(pin.trim().as_bytes(), &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default();
        Self(hash)
    }

    /// Whether `pin` is the PIN (slow by design: call it off the async
    /// workers). Surrounding blanks are ignored, as when hashing.
    pub fn verify(&self, pin: &str) -> bool {
        let Ok(h) = PasswordHash::new(&self.0) else {
            return false;
        };
        Argon2::default()
            .verify_password(pin.trim().as_bytes(), &h)
            .is_ok()
    }

    /// The PHC string (what goes into the config).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The override's lockout: failed tries in a row and, once locked, until
/// when. Kept in the store's `meta` tree as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// Failed tries since the last success (or the last lockout's end).
    pub failures: u32,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Lockout {
    /// Until when the override is locked at `now`, if it is.
    pub fn locked(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| now < *until)
    }

    /// One more try at `now`: a success clears the count; the
    /// [`MAX_FAILURES`]th failure in a row locks for [`LOCKOUT_MINUTES`].
    /// A try while locked changes nothing (it is refused unchecked).
    pub fn record(&mut self, ok: bool, now: DateTime<Utc>) {
        if self.locked(now).is_some() {
            return;
        }
        if self.locked_until.is_some() {
            // The lock ran out: a fresh count.
            *self = Self::default();
        }
        if ok {
            *self = Self::default();
            return;
        }
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            self.locked_until = Some(now + Duration::minutes(LOCKOUT_MINUTES));
        }
    }
}

/// The hash kept of a staff card's number: SHA-256 over a fixed prefix and
/// the number, hex. (The PIN's former hash was the same; see [`PinHash`].)
pub fn staff_secret_sha256(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kiosk-staff-secret-v1:");
    h.update(secret.trim().as_bytes());
    hex::encode(h.finalize())
}

/// Compares two hex digests without an early exit.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The staff credentials this kiosk accepts, from `[flow]`.
#[derive(Debug, Clone, Default)]
pub struct StaffGate {
    pin: Option<PinHash>,
    cards: Vec<String>,
}

impl StaffGate {
    /// From the config: the argon2id PIN hash (an unusable one counts as
    /// none: the config's validation refused it already) and the cards.
    pub fn new(pin_argon2: Option<&str>, card_sha256: &[String]) -> Self {
        Self {
            pin: pin_argon2.and_then(|h| PinHash::parse(h).ok()),
            cards: card_sha256.to_vec(),
        }
    }

    /// Which credential `auth` is, if it is one (slow for a PIN: call it
    /// off the async workers).
    pub fn check(&self, auth: &crate::flow::StaffAuth) -> Option<StaffCredential> {
        match auth {
            crate::flow::StaffAuth::Pin(pin) => self
                .pin
                .as_ref()
                .is_some_and(|h| h.verify(pin.expose()))
                .then_some(StaffCredential::Pin),
            crate::flow::StaffAuth::Card(id) => {
                let h = staff_secret_sha256(id.expose());
                self.cards
                    .iter()
                    .any(|known| same_digest(known, &h))
                    .then_some(StaffCredential::Card)
            }
        }
    }
}

/// What the runtime tells the flow about a member of staff's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffVerdict {
    /// The credential is good: the PIN, or a card on the staff list.
    Accepted(StaffCredential),
    /// Wrong PIN, or a card not on the list (or no PIN configured).
    Refused,
    /// Too many failed tries: refused unchecked until then.
    LockedOut {
        /// When tries are checked again.
        until: DateTime<Utc>,
    },
}

/// Which kind of credential a member of staff used (audited with the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StaffCredential {
    /// The staff PIN.
    Pin,
    /// A staff card.
    Card,
}

impl StaffCredential {
    /// `pin` or `card`.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffCredential::Pin => "pin",
            StaffCredential::Card => "card",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_hash_verifies_its_pin_only_and_each_salt_differs() {
        let a = PinHash::new("2468");
        let b = PinHash::new("2468");
        assert_ne!(a.as_str(), b.as_str(), "a fresh salt each time");
        assert!(a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(a.verify("2468") && b.verify(" 2468 "));
        for wrong in ["2469", "", "24680", "8642"] {
            assert!(!a.verify(wrong), "{wrong}");
        }
        assert_eq!(PinHash::parse(a.as_str()).unwrap(), a);
        // The same salt gives the same hash; a hash that could not be made
        // (empty) verifies nothing.
        let salt = [7u8; 16];
        assert_eq!(
            PinHash::with_salt("2468", &salt),
            PinHash::with_salt("2468", &salt)
        );
        for pin in ["", "2468"] {
            assert!(!PinHash(String::new()).verify(pin));
        }
    }

    #[test]
    fn weak_or_foreign_hashes_are_refused_when_the_config_loads() {
        // The old unsalted SHA-256 hex.
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(matches!(
            PinHash::parse(sha),
            Err(PinHashError::Malformed(_))
        ));
        // argon2i, and argon2id with too little memory.
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Vr2B3wY0Xx0hOkCP0m0vRh7Nq8sF7UqJzV9o4G5b0xM";
        assert!(matches!(
            PinHash::parse(argon2i),
            Err(PinHashError::Weak(_))
        ));
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"2468", &SaltString::encode_b64(&[7u8; 16]).unwrap())
        .unwrap()
        .to_string();
        assert!(matches!(PinHash::parse(&cheap), Err(PinHashError::Weak(_))));
        assert!(PinHash::parse("$argon2id$v=19$m=19456,t=2,p=1").is_err());
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes_and_a_success_clears_the_count() {
        let mut l = Lockout::default();
        for i in 1..MAX_FAILURES {
            l.record(false, t0());
            assert_eq!(l.failures, i);
            assert_eq!(l.locked(t0()), None);
        }
        // A success before the fifth clears the count.
        l.record(true, t0());
        assert_eq!(l, Lockout::default());
        for _ in 0..MAX_FAILURES {
            l.record(false, t0());
        }
        let until = t0() + Duration::minutes(LOCKOUT_MINUTES);
        assert_eq!(l.locked(t0()), Some(until));
        // Tries while locked, even the right one, change nothing.
        l.record(true, t0() + Duration::minutes(1));
        l.record(false, t0() + Duration::minutes(2));
        assert_eq!(l.locked(t0() + Duration::minutes(14)), Some(until));
        // After it runs out: a fresh count, the first failure does not lock.
        let later = until + Duration::seconds(1);
        assert_eq!(l.locked(later), None);
        l.record(false, later);
        assert_eq!(l.failures, 1);
        assert_eq!(l.locked(later), None);
    }

    #[test]
    fn the_lockout_survives_as_json() {
        let mut l = Lockout::default();
        for _ in 0..MAX_FAILURES {
            l.record(false, t0());
        }
        let back: Lockout = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }
}
