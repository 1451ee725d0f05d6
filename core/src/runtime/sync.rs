//! Sync: drains the outbox to the central service.
//!
//! At-least-once delivery with idempotency keys (the order's local id), so
//! central stores each order exactly once however often a reply is lost.
//! Only an explicit business rejection from central (HTTP 422 with a reason
//! code, [`CentralError::business_rejection`]) parks an entry, so it never
//! blocks the rest; every other failure (unreachable, timeout, 5xx,
//! garbage, and 401, 403, 404 or any other 4xx, which a fixed token, a
//! fixed route or a fixed central mends) is retried with exponential
//! backoff and jitter, capped, and raises an alarm in `/status` until a
//! delivery succeeds. A technician can retry parked entries
//! (`kiosk outbox retry`). State lives in the store, so a restart resumes where it was.
//! Nothing here ever blocks a citizen: the session runner only wakes this
//! task.
//!
//! After each round the task reports the audit chain's head to central
//! ([`report_audit`]) when it changed since the last report, and at least
//! every [`AUDIT_REPORT_EVERY`]: central checks that the chain still holds
//! the record it saw last, and keeps a gap when it does not.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use crate::central::client::CentralClient;
use crate::central::{CentralError, OrderSubmission, RatingSubmission};
use crate::model::Order;
use crate::store::{OutboxEntry, OutboxKind, Store, StoreError};

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt `attempts + 1`: `base · 2^attempts`, capped, with
    /// ±25 % jitter from `jitter` in `[0, 1)` (so a fleet does not retry in
    /// step after an outage).
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempts.min(30)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max);
        let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
        capped.mul_f64(factor).min(self.max)
    }
}

/// Why one delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Central failed; see [`CentralError::retry_later`].
    #[error(transparent)]
    Central(#[from] CentralError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rating whose order central rejected (parked): it can never be delivered.
    #[error("order {0} was rejected by central and parked")]
    OrderParked(String),
    /// A rating whose order has no central number yet.
    #[error("order {0} is not synced yet")]
    OrderNotSynced(String),
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
    /// The outbox names an order the store does not have.
    #[error("order {0} is not in the store")]
    UnknownOrder(String),
}

/// Sends one order and records the central number. Used by the sync task
/// and, once, right after acceptance.
pub async fn deliver_order(
    store: &Arc<Store>,
    central: &CentralClient,
    order: &Order,
) -> Result<String, SyncError> {
    let submission = OrderSubmission::from_order(order);
    let accepted = central.submit_order(&submission, &order.local_id).await?;
    let store = store.clone();
    let id = order.local_id.clone();
    let no = accepted.order_no.clone();
    let received_at = accepted.received_at;
    tokio::task::spawn_blocking(move || store.mark_synced_at(&id, &no, received_at))
        .await
        .map_err(|e| SyncError::Task(e.to_string()))??;
    Ok(accepted.order_no)
}

async fn deliver(
    store: &Arc<Store>,
    central: &CentralClient,
    entry: &OutboxEntry,
) -> Result<(), SyncError> {
    if entry.kind == OutboxKind::ServiceRating {
        let Some(r) = &entry.rating else {
            return Err(SyncError::UnknownOrder(entry.local_id.clone()));
        };
        central
            .submit_rating(
                &RatingSubmission {
                    order_no: r.subject.clone(),
                    stars: r.stars,
                    comment: r.comment.clone(),
                },
                &entry.key,
            )
            .await?;
        store.outbox_done(&entry.key)?;
        return Ok(());
    }
    let order = store
        .order(&entry.local_id)?
        .ok_or_else(|| SyncError::UnknownOrder(entry.local_id.clone()))?;
    match entry.kind {
        OutboxKind::ServiceRating => Ok(()),
        OutboxKind::Order => {
            if order.central_no.is_none() {
                deliver_order(store, central, &order).await?;
            } else {
                // Delivered by the immediate attempt; the entry is stale.
                store.mark_synced(
                    &order.local_id,
                    order.central_no.as_deref().unwrap_or_default(),
                )?;
            }
            Ok(())
        }
        OutboxKind::Rating => {
            let Some(order_no) = order.central_no.clone() else {
                let parked = store.outbox_all()?.iter().any(|e| {
                    e.kind == OutboxKind::Order && e.local_id == order.local_id && e.parked
                });
                return Err(if parked {
                    SyncError::OrderParked(order.local_id.clone())
                } else {
                    SyncError::OrderNotSynced(order.local_id.clone())
                });
            };
            let stars = order.rating.unwrap_or_default();
            central
                .submit_rating(
                    &RatingSubmission {
                        order_no,
                        stars,
                        comment: order.rating_comment.clone(),
                    },
                    &entry.key,
                )
                .await?;
            store.outbox_done(&entry.key)?;
            Ok(())
        }
    }
}

/// What the sync task reports to the status snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    /// Last time a delivery succeeded.
    pub last_ok: Option<DateTime<Utc>>,
    /// Last failure, non-personal.
    pub last_error: Option<String>,
    /// The record of the audit chain central acknowledged last.
    pub audit_central_seq: Option<u64>,
    /// A gap central found in the audit chain since the kiosk started
    /// (kept until restart: central keeps it for good).
    pub audit_gap: Option<String>,
    /// Why the last audit report failed, until one succeeds.
    pub audit_error: Option<String>,
}

/// The longest time between two audit reports while the chain is idle.
pub const AUDIT_REPORT_EVERY: Duration = Duration::from_secs(600);

/// Reports the audit chain's head to central with the proof of the record
/// central acknowledged last; when central asks for the proof of another
/// record (the kiosk's note of the last acknowledgement was lost), reports
/// once more with that one. Remembers what central acknowledged.
pub async fn report_audit(
    store: &Arc<Store>,
    central: &CentralClient,
    device_id: &str,
) -> Result<crate::central::AuditAck, SyncError> {
    use crate::central::AuditHeadReport;
    use crate::store::{AuditHead, GENESIS_PREV_HASH};
    let head = store.audit_head()?;
    let mut prove = store.audit_central_seq()?;
    let mut ack = None;
    for _ in 0..2 {
        // A record the chain no longer holds is proven by zeros: central
        // sees that it is not the one it saw.
        let anchor = match prove {
            Some(seq) if seq > 0 => Some(AuditHead {
                seq,
                hash: store
                    .audit_hash_at(seq)?
                    .unwrap_or_else(|| GENESIS_PREV_HASH.to_owned()),
            }),
            _ => None,
        };
        let a = central
            .report_audit(&AuditHeadReport {
                device_id: device_id.to_owned(),
                head: head.clone(),
                anchor,
            })
            .await?;
        if a.accepted {
            store.set_audit_central_seq(a.seen.seq)?;
            return Ok(a);
        }
        prove = Some(a.seen.seq);
        ack = Some(a);
    }
    // Asked twice for a proof: central's answer stands as it is.
    ack.ok_or_else(|| SyncError::Task("no audit answer".into()))
}

/// Drains the outbox once: every due entry is tried; returns how many were delivered.
pub async fn drain_once(
    store: &Arc<Store>,
    central: &CentralClient,
    backoff: Backoff,
    status: &watch::Sender<SyncStatus>,
) -> Result<usize, StoreError> {
    let now = Utc::now();
    let mut delivered = 0;
    for entry in store.outbox_due(now)? {
        match deliver(store, central, &entry).await {
            Ok(()) => {
                delivered += 1;
                info!(entry = %entry.key, "delivered");
                status.send_modify(|s| {
                    s.last_ok = Some(Utc::now());
                    s.last_error = None;
                });
            }
            Err(SyncError::Central(e)) if e.business_rejection().is_some() => {
                warn!(entry = %entry.key, "central rejected it, parked: {e}");
                store.park(&entry.key, &e.to_string())?;
                status.send_modify(|s| s.last_error = Some(e.to_string()));
            }
            // The entry's own order record is unreadable (tampered, corrupt)
            // or gone: poisoned. Retrying cannot help, and returning the
            // error would stop every drain at this entry, blocking the rest.
            Err(
                e @ (SyncError::UnknownOrder(_)
                | SyncError::OrderParked(_)
                | SyncError::Store(StoreError::Decrypt { .. } | StoreError::Corrupt { .. })),
            ) => {
                warn!(entry = %entry.key, "order record unusable, parked: {e}");
                store.park(&entry.key, &e.to_string())?;
                status.send_modify(|s| s.last_error = Some(e.to_string()));
            }
            Err(SyncError::Store(e)) => return Err(e),
            Err(e) => {
                let jitter = rand::thread_rng().gen::<f64>();
                let delay = backoff.delay(entry.attempts, jitter);
                let next = Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60));
                warn!(entry = %entry.key, attempts = entry.attempts + 1, ?delay, "delivery failed, will retry: {e}");
                store.record_failure(&entry.key, &e.to_string(), next)?;
                // A rating waiting on its order says nothing of why the
                // order fails: it must not hide that from the alarm.
                let waits_on_order = matches!(e, SyncError::OrderNotSynced(_));
                status.send_modify(|s| {
                    if !waits_on_order || s.last_error.is_none() {
                        s.last_error = Some(e.to_string());
                    }
                });
            }
        }
    }
    Ok(delivered)
}

/// The sync task: drains whenever woken or when the next retry is due,
/// until `shutdown` turns true.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: Arc<Store>,
    central: Arc<CentralClient>,
    device_id: String,
    backoff: Backoff,
    wake: Arc<Notify>,
    status: watch::Sender<SyncStatus>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut reported: Option<(crate::store::AuditHead, tokio::time::Instant)> = None;
    loop {
        if let Err(e) = drain_once(&store, &central, backoff, &status).await {
            warn!("sync: store error: {e}");
        }
        let head = store.audit_head().ok();
        let due = match (&reported, &head) {
            (Some((last, at)), Some(now)) => last != now || at.elapsed() >= AUDIT_REPORT_EVERY,
            _ => true,
        };
        if due {
            match report_audit(&store, &central, &device_id).await {
                Ok(ack) => {
                    if let Some(gap) = &ack.gap {
                        warn!("central found a gap in the audit chain: {gap}");
                    }
                    reported = head.map(|h| (h, tokio::time::Instant::now()));
                    status.send_modify(|s| {
                        s.audit_central_seq = Some(ack.seen.seq);
                        s.audit_error = None;
                        if ack.gap.is_some() {
                            s.audit_gap = ack.gap.clone();
                        }
                    });
                }
                Err(e) => {
                    tracing::debug!("audit report: {e}");
                    status.send_modify(|s| s.audit_error = Some(e.to_string()));
                }
            }
        }
        let wait = match store.next_attempt_at() {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(50)),
            Ok(None) | Err(_) => backoff.max,
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_a_quarter() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        };
        assert_eq!(b.delay(0, 0.5), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(8));
        assert_eq!(b.delay(20, 0.5), Duration::from_secs(300));
        assert_eq!(b.delay(u32::MAX, 0.5), Duration::from_secs(300));
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(3));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(5));
        assert!(
            b.delay(20, 1.0) <= Duration::from_secs(300),
            "jitter never exceeds the cap"
        );
    }
}
