//! The outbox: what must still reach the central service.
//!
//! Each entry is keyed by its idempotency key (the order's local id for an
//! order, `rating-<local id>` for a rating), so sending it twice after a
//! crash is harmless: central answers the same order number. The sync task
//! asks for [`due`](super::Store::outbox_due) entries, sends them, and
//! reports back with `mark_synced`, `record_failure` (backoff is the
//! caller's choice of `next_attempt_at`) or `park` (a record central refuses
//! or that is poisoned is set aside, alarmed, and never blocks the rest).
//! Entries hold no personal data: the order itself is read, and decrypted,
//! only when it is about to be sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// What an outbox entry carries to central.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboxKind {
    /// `POST /v1/orders` with the order.
    Order,
    /// `POST /v1/ratings` with the order's rating.
    Rating,
    /// `POST /v1/ratings` for a service without a local order (a payment,
    /// a progress query); the rating travels in the entry itself.
    ServiceRating,
}

/// A rating of a service without a local order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRating {
    /// What central knows it by (a payment id or an order number).
    pub subject: String,
    /// 1–5.
    pub stars: u8,
    /// Fixed-phrase codes, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One pending delivery to central.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Idempotency key, also the key in the `outbox` tree.
    pub key: String,
    /// What to send.
    pub kind: OutboxKind,
    /// The order concerned.
    pub local_id: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// When the entry was queued (for "oldest first" and the age metric).
    pub enqueued_at: DateTime<Utc>,
    /// Last failure, non-personal (an error class or HTTP status).
    pub last_error: Option<String>,
    /// Set aside: not retried until a person looks at it.
    pub parked: bool,
    /// The rating itself, for a [`OutboxKind::ServiceRating`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<ServiceRating>,
}

impl OutboxEntry {
    /// A fresh entry: no attempt yet, due at `due`, queued at `enqueued_at`.
    pub fn new(
        key: &str,
        kind: OutboxKind,
        local_id: &str,
        due: DateTime<Utc>,
        enqueued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            key: key.to_owned(),
            kind,
            local_id: local_id.to_owned(),
            attempts: 0,
            next_attempt_at: due,
            enqueued_at,
            last_error: None,
            parked: false,
            rating: None,
        }
    }

    /// Whether the entry should be tried at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.parked && self.next_attempt_at <= now
    }
}

/// Idempotency key of an order's rating.
pub fn rating_key(local_id: &str) -> String {
    format!("rating-{local_id}")
}

/// Longest `last_error`/park reason kept, in characters.
pub(crate) const MAX_ERROR_CHARS: usize = 500;

/// Truncates an error text to [`MAX_ERROR_CHARS`].
pub(crate) fn clip(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

pub(crate) fn encode(entry: &OutboxEntry) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(entry).map_err(|source| StoreError::Json {
        what: "an outbox entry",
        source,
    })
}

pub(crate) fn decode(key: &[u8], raw: &[u8]) -> Result<OutboxEntry, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt {
        tree: "outbox",
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}
