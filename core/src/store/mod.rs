//! The local store: orders, the outbox towards central, the audit log.
//!
//! One [`Store`] owns a sled database in `DATA/store` and the device key in
//! `DATA/keys/store.key` (see [`crypto`]). It has four trees:
//!
//! - `orders`: local id → the order as JSON, except that the `personal`
//!   field ([`OrderPersonal`](crate::model::OrderPersonal): name, ID number,
//!   address, phone) is replaced by `sealed`, the hex of
//!   `nonce ‖ ChaCha20-Poly1305(personal JSON)` with the local id as
//!   associated data. Non-personal fields stay readable, so status changes
//!   (synced, rated) never need to decrypt, and a sealed blob moved to
//!   another id fails to open. Personal data is never on disk in the clear.
//! - `outbox`: what must still reach central, keyed by idempotency key
//!   (see [`outbox`]).
//! - `audit`: the append-only hash chain (see [`audit`]).
//! - `meta`: the per-day local-id counters, the audit chain head and a
//!   key-check blob that proves the device key is the one the data was
//!   sealed with (opening with another key is refused up front instead of
//!   mixing two keys in one store).
//!
//! Every change that matters is one sled transaction across the trees it
//! touches, with its audit record inside the same transaction, followed by
//! `sled::Db::flush` before the call returns: when [`Store::accept`]
//! returns `Ok`, the order, its outbox entry and its audit record are on
//! disk together, and only then is the citizen told "accepted".
//!
//! Time comes from an injectable clock ([`Store::open_with_clock`]) so tests
//! are deterministic; the outbox queries take `now` explicitly.

pub mod audit;
pub mod crypto;
pub mod outbox;
#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;
use zeroize::{Zeroize, Zeroizing};

use crate::model::{Order, OrderStatus};

pub use audit::{AuditHead, AuditKey, AuditRecord, AuditReport, AuditSeq, GENESIS_PREV_HASH};
pub use crypto::DeviceKey;
pub use outbox::{OutboxEntry, OutboxKind, ServiceRating};

/// Everything that can go wrong in the store. Messages never contain
/// personal data or key material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation on the data directory failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold exactly 32 bytes.
    #[error("the device key {} has {len} bytes, expected 32: restore it from the provisioning backup", path.display())]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The key file is readable or writable by group or others.
    #[error("the device key {} has mode {mode:o}: it must be readable by its owner only (chmod 600)", path.display())]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key path is not a regular file (a symlink, a directory...).
    #[error("the device key {} is not a regular file", path.display())]
    KeyNotAFile {
        /// The key path.
        path: PathBuf,
    },
    /// The keys directory is open to group or others.
    #[error("the keys directory {} has mode {mode:o}: it must be private (chmod 700)", path.display())]
    KeysDirPermissions {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The keys path exists but is not a directory.
    #[error("{} should be the keys directory but is not a directory", path.display())]
    KeysDirNotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The store holds sealed data but its key file is gone; a new key could
    /// not read it, so none is created.
    #[error("the device key {} is missing but the store already holds sealed data: restore the key", path.display())]
    KeyMissing {
        /// Where the key should be.
        path: PathBuf,
    },
    /// The key file is not the key the store was sealed with.
    #[error("the device key {} is not the key this store was sealed with", path.display())]
    WrongKey {
        /// The key file.
        path: PathBuf,
    },
    /// The store was written by a newer kiosk in a format this one cannot
    /// read (after a rollback). Nothing was changed: every order is still
    /// there for the newer version.
    #[error("the store was written by a newer kiosk (store format {found}, readable from format {readable_by} on); this kiosk reads format {ours}: nothing was changed and every order is kept; install the newer release again")]
    TooNew {
        /// The store's format.
        found: u32,
        /// The oldest format that can read it.
        readable_by: u32,
        /// This kiosk's [`STORE_FORMAT`].
        ours: u32,
    },
    /// No store in the data directory (for read-only tools).
    #[error("no store at {}", path.display())]
    NoStore {
        /// Where the store was expected.
        path: PathBuf,
    },
    /// sled failed.
    #[error("store database: cannot {context}: {source}")]
    Sled {
        /// What was being done.
        context: &'static str,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// Encoding a non-personal value as JSON failed.
    #[error("cannot encode {what} as JSON: {source}")]
    Json {
        /// What was being encoded.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored value cannot be read back.
    #[error("record {key} in tree {tree} is corrupt: {reason}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// The record's key.
        key: String,
        /// What is wrong (never personal values).
        reason: String,
    },
    /// Sealing an order's personal fields failed.
    #[error("cannot encrypt the personal fields of order {local_id}")]
    Encrypt {
        /// The order.
        local_id: String,
    },
    /// An order's personal fields did not decrypt: wrong key, tampered
    /// record, or a record moved to another id.
    #[error("cannot decrypt the personal fields of order {local_id}: wrong device key or tampered record")]
    Decrypt {
        /// The order.
        local_id: String,
    },
    /// The order was already accepted.
    #[error("order {local_id} was already accepted")]
    Duplicate {
        /// The order.
        local_id: String,
    },
    /// No such order.
    #[error("no order {local_id} in the store")]
    OrderNotFound {
        /// The order.
        local_id: String,
    },
    /// No such outbox entry.
    #[error("no outbox entry {key}")]
    OutboxNotFound {
        /// The idempotency key.
        key: String,
    },
    /// A rating outside 1–5.
    #[error("a rating is 1 to 5 stars, not {stars}")]
    InvalidRating {
        /// The rating given.
        stars: u8,
    },
    /// Central gave a second, different number for an order already synced.
    #[error("order {local_id} is already synced as {central_no}")]
    AlreadySynced {
        /// The order.
        local_id: String,
        /// The number it already has.
        central_no: String,
    },
    /// A local id must be non-empty.
    #[error("an order needs a non-empty local id")]
    EmptyLocalId,
    /// A local id's prefix is the device id, under its one rule
    /// ([`crate::device_id::check`]).
    #[error("cannot number the order: {0}")]
    InvalidPrefix(crate::device_id::DeviceIdError),
}

/// Results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the store gets "now" from.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The store format this kiosk writes. `/data` is shared by both root
/// slots, so after a rollback an older kiosk opens a store a newer one
/// wrote. Records are JSON objects edited in place (a status change keeps
/// the fields it does not know), so a newer kiosk that only adds fields or
/// trees raises [`STORE_FORMAT`] and leaves [`STORE_READABLE_BY`]: older
/// kiosks keep reading it. One that changes what an older kiosk reads
/// raises both, and older kiosks refuse the store ([`StoreError::TooNew`])
/// without touching it.
///
/// 2: an order may say `time_unverified` and carry `central_received_at`;
/// audit records may be `keyed` (fields format 1 ignores; format 1 verifies
/// a keyed record as altered, which is why it says so in its report and
/// not before: it still reads and syncs every order).
pub const STORE_FORMAT: u32 = 2;
/// The oldest format that can read a store this kiosk wrote.
pub const STORE_READABLE_BY: u32 = 1;
/// Key of the format in `meta`: `format` and `readable_by`, big-endian u32s.
pub(crate) const FORMAT_KEY: &[u8] = b"store/format";

/// Reads the store's format from `meta` (`None`: a store from before
/// formats, which is format 1).
fn read_format(meta: &Tree) -> Result<Option<(u32, u32)>> {
    let Some(raw) = meta.get(FORMAT_KEY).map_err(sled_err("read the format"))? else {
        return Ok(None);
    };
    match <[u8; 8]>::try_from(raw.as_ref()) {
        Ok(b) => Ok(Some((
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ))),
        Err(_) => Err(StoreError::Corrupt {
            tree: "meta",
            key: "store/format".into(),
            reason: format!("{} bytes, expected 8", raw.len()),
        }),
    }
}

/// The bytes of a format record.
pub(crate) fn format_bytes(format: u32, readable_by: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&format.to_be_bytes());
    b[4..].copy_from_slice(&readable_by.to_be_bytes());
    b
}

/// Key of the key-check blob in `meta`.
const KEY_CHECK: &[u8] = b"key/check";
/// The staff override's lockout (JSON, [`crate::staff::Lockout`]).
const STAFF_LOCKOUT_KEY: &[u8] = b"staff/lockout";
/// Key in `meta`: the audit record central acknowledged last, big-endian u64.
const AUDIT_CENTRAL_KEY: &[u8] = b"audit/central";
/// Associated data and plaintext of the key check.
const KEY_CHECK_AAD: &[u8] = b"kiosk-store key check";
const KEY_CHECK_PLAIN: &[u8] = b"kiosk-store key check v1";

/// The local store. See the module docs.
pub struct Store {
    /// The data directory.
    dir: PathBuf,
    /// The sled database in `dir/store`.
    db: sled::Db,
    /// local id → sealed order record.
    pub(crate) orders: Tree,
    /// idempotency key → [`OutboxEntry`] JSON.
    pub(crate) outbox: Tree,
    /// big-endian seq → [`AuditRecord`] JSON.
    pub(crate) audit: Tree,
    /// counters, audit head, key check.
    pub(crate) meta: Tree,
    /// Outbox entries that could not be decoded, set aside (key → raw
    /// bytes) so they never block the drain and are not lost either.
    pub(crate) quarantine: Tree,
    /// Seals the personal fields.
    key: DeviceKey,
    /// Source of audit timestamps and rating times.
    clock: Clock,
    /// The audit chain's key, once the kiosk is enrolled: records appended
    /// from then on are keyed ([`audit::record_mac`]).
    audit_key: std::sync::RwLock<Option<AuditKey>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn sled_err(context: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Sled { context, source }
}

fn tx_err(context: &'static str) -> impl FnOnce(TransactionError<StoreError>) -> StoreError {
    move |e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(source) => StoreError::Sled { context, source },
    }
}

/// The staff lockout as kept in `meta` (none kept: no failure yet).
fn decode_lockout(raw: Option<&[u8]>) -> Result<crate::staff::Lockout> {
    raw.map_or(Ok(crate::staff::Lockout::default()), |raw| {
        serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt {
            tree: "meta",
            key: "staff/lockout".into(),
            reason: e.to_string(),
        })
    })
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// sled's page cache. A kiosk's store holds days of orders (a few MB), and
/// sled's default (1 GB) is the whole memory of a small board: at start it
/// logged an error that its cache was limited to the service's memory.
const STORE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn open_db(path: &Path) -> Result<sled::Db> {
    // A store dropped a moment ago may still hold the file lock while
    // sled's flusher thread winds down: wait up to two seconds for it
    // before concluding that another process has the store open.
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(STORE_CACHE_BYTES)
            .open()
        {
            Err(sled::Error::Io(e))
                if tries < 200 && e.to_string().contains("could not acquire lock") =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => {
                return other.map_err(sled_err(
                    "open the database (is another kiosk process running?)",
                ))
            }
        }
    }
}

fn open_tree(db: &sled::Db, name: &'static str) -> Result<Tree> {
    db.open_tree(name).map_err(sled_err("open a tree"))
}

/// Overwrites every string in a JSON value (used on the personal part of an
/// order's JSON before it is dropped).
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn corrupt_order(local_id: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        tree: "orders",
        key: local_id.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a stored order record into its JSON object (still sealed).
fn record_object(local_id: &str, raw: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(corrupt_order(local_id, "not a JSON object")),
        Err(e) => Err(corrupt_order(local_id, e.to_string())),
    }
}

/// An order's record, inside a transaction, as a JSON object to edit.
fn record_in(
    orders: &sled::transaction::TransactionalTree,
    local_id: &str,
) -> std::result::Result<Map<String, Value>, ConflictableTransactionError<StoreError>> {
    let raw = orders.get(local_id)?.ok_or_else(|| {
        abort(StoreError::OrderNotFound {
            local_id: local_id.to_owned(),
        })
    })?;
    record_object(local_id, &raw).map_err(abort)
}

fn encode_record(map: Map<String, Value>) -> Result<Vec<u8>> {
    serde_json::to_vec(&Value::Object(map)).map_err(|source| StoreError::Json {
        what: "an order record",
        source,
    })
}

fn record_status(local_id: &str, map: &Map<String, Value>) -> Result<OrderStatus> {
    let v = map.get("status").cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| corrupt_order(local_id, format!("status: {e}")))
}

impl Store {
    /// Opens (or creates) the store in `dir`, with the system clock.
    pub fn open(dir: &Path) -> Result<Store> {
        Self::open_with_clock(dir, Arc::new(Utc::now))
    }

    /// Opens (or creates) the store in `dir` with a given clock.
    ///
    /// Creates `dir/store` and, on first run, `dir/keys/store.key`. Refuses
    /// a key with the wrong length or permissions, a missing key when the
    /// store already holds sealed data, and a key that is not the one the
    /// data was sealed with.
    pub fn open_with_clock(dir: &Path, clock: Clock) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create the data directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let db = open_db(&dir.join("store"))?;
        let orders = open_tree(&db, "orders")?;
        let outbox = open_tree(&db, "outbox")?;
        let audit = open_tree(&db, "audit")?;
        let meta = open_tree(&db, "meta")?;
        let quarantine = open_tree(&db, "outbox-quarantine")?;

        // The format first: a store this kiosk cannot read is left as it is.
        match read_format(&meta)? {
            Some((found, readable_by)) if readable_by > STORE_FORMAT => {
                return Err(StoreError::TooNew {
                    found,
                    readable_by,
                    ours: STORE_FORMAT,
                });
            }
            Some((found, _)) if found > STORE_FORMAT => {
                tracing::warn!(
                    "the store was written by a newer kiosk (store format {found}); this kiosk (format {STORE_FORMAT}) reads it and keeps the fields it does not know"
                );
            }
            Some((found, _)) if found == STORE_FORMAT => {}
            _ => {
                // Older or from before formats: nothing to migrate yet
                // (format 1 is the first); say which format it is now.
                meta.insert(FORMAT_KEY, &format_bytes(STORE_FORMAT, STORE_READABLE_BY))
                    .map_err(sled_err("write the format"))?;
                db.flush().map_err(sled_err("flush the format"))?;
            }
        }

        let check = meta
            .get(KEY_CHECK)
            .map_err(sled_err("read the key check"))?;
        let has_sealed_data = check.is_some() || !orders.is_empty();
        let key_path = crypto::key_path(dir);
        let keys_dir = dir.join("keys");
        let key = DeviceKey::load_or_create(&keys_dir, !has_sealed_data)?;
        match check {
            Some(blob) => {
                key.open(KEY_CHECK_AAD, &blob, "key-check")
                    .map_err(|_| StoreError::WrongKey {
                        path: key_path.clone(),
                    })?;
            }
            None => {
                let blob = key.seal(KEY_CHECK_AAD, KEY_CHECK_PLAIN, "key-check")?;
                meta.insert(KEY_CHECK, blob)
                    .map_err(sled_err("write the key check"))?;
                db.flush().map_err(sled_err("flush the key check"))?;
            }
        }
        tracing::debug!(dir = %dir.display(), "store opened");
        Ok(Store {
            dir: dir.to_path_buf(),
            db,
            orders,
            outbox,
            audit,
            meta,
            quarantine,
            key,
            clock,
            audit_key: std::sync::RwLock::new(None),
        })
    }

    /// Keys the audit chain from the next record on (the key central gave
    /// at enrollment). Records already written keep their hashes.
    pub fn set_audit_key(&self, key: Option<AuditKey>) {
        *self
            .audit_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }

    /// Whether records appended now are keyed.
    pub fn audit_keyed(&self) -> bool {
        self.audit_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// The audit chain's key, if set.
    fn audit_key(&self) -> Option<AuditKey> {
        self.audit_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The chain's head: its last record (seq 0 and [`GENESIS_PREV_HASH`]
    /// when empty), as the kiosk reports it to central.
    pub fn audit_head(&self) -> Result<AuditHead> {
        read_audit_head(&self.meta)
    }

    /// The hash of audit record `seq`, if the chain holds it (the proof
    /// central asks for: the record it saw last).
    pub fn audit_hash_at(&self, seq: u64) -> Result<Option<String>> {
        let Some(raw) = self
            .audit
            .get(seq.to_be_bytes())
            .map_err(sled_err("read an audit record"))?
        else {
            return Ok(None);
        };
        let rec: AuditRecord = serde_json::from_slice(&raw).map_err(|e| StoreError::Corrupt {
            tree: "audit",
            key: seq.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(rec.hash))
    }

    /// The record central acknowledged last (`None`: never reported).
    pub fn audit_central_seq(&self) -> Result<Option<u64>> {
        read_central_seq(&self.meta)
    }

    /// Remembers that central acknowledged the chain up to `seq` (what the
    /// next report proves).
    pub fn set_audit_central_seq(&self, seq: u64) -> Result<()> {
        self.meta
            .insert(AUDIT_CENTRAL_KEY, &seq.to_be_bytes())
            .map_err(sled_err("write the audit anchor"))?;
        self.meta
            .flush()
            .map_err(sled_err("flush the audit anchor"))?;
        Ok(())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(sled_err("flush"))?;
        Ok(())
    }

    /// The next local id for `device_prefix` on `today`, e.g.
    /// `K001-20261123-0007`.
    ///
    /// The counter is per prefix and day, kept in `meta` and flushed before
    /// the id is returned, so an id is never handed out twice, even across
    /// restarts (a clock set back to an earlier day continues that day's
    /// counter).
    pub fn next_local_id(&self, device_prefix: &str, today: NaiveDate) -> Result<String> {
        crate::device_id::check(device_prefix).map_err(StoreError::InvalidPrefix)?;
        let day = today.format("%Y%m%d").to_string();
        let counter_key = format!("local_id/{device_prefix}/{day}");
        let n = self
            .meta
            .transaction(|meta| {
                let last = match meta.get(counter_key.as_bytes())? {
                    None => 0,
                    Some(raw) => match <[u8; 8]>::try_from(raw.as_ref()) {
                        Ok(b) => u64::from_be_bytes(b),
                        Err(_) => {
                            return Err(abort(StoreError::Corrupt {
                                tree: "meta",
                                key: counter_key.clone(),
                                reason: format!("a counter of {} bytes", raw.len()),
                            }))
                        }
                    },
                };
                let n = last + 1;
                meta.insert(counter_key.as_bytes(), &n.to_be_bytes())?;
                Ok(n)
            })
            .map_err(tx_err("advance the local-id counter"))?;
        self.flush()?;
        Ok(format!("{device_prefix}-{day}-{n:04}"))
    }

    /// Seals an order into its stored record (see the module docs).
    fn seal_order(&self, order: &Order) -> Result<Vec<u8>> {
        let mut value = serde_json::to_value(order).map_err(|source| StoreError::Json {
            what: "an order",
            source,
        })?;
        let Value::Object(map) = &mut value else {
            return Err(corrupt_order(
                &order.local_id,
                "an order is not a JSON object",
            ));
        };
        if let Some(mut personal) = map.remove("personal") {
            wipe(&mut personal);
        }
        // Sized up front so the buffer holding the clear JSON is not
        // reallocated (leaving an unwiped copy) for any realistic order.
        let mut plain = Zeroizing::new(Vec::with_capacity(4096));
        serde_json::to_writer(&mut *plain, &order.personal).map_err(|_| StoreError::Encrypt {
            local_id: order.local_id.clone(),
        })?;
        let sealed = self
            .key
            .seal(order.local_id.as_bytes(), &plain, &order.local_id)?;
        map.insert("sealed".into(), Value::String(hex::encode(sealed)));
        encode_record(std::mem::take(map))
    }

    /// Opens a stored record back into an order.
    fn open_order(&self, key: &[u8], raw: &[u8]) -> Result<Order> {
        let local_id = std::str::from_utf8(key).map_err(|_| StoreError::Corrupt {
            tree: "orders",
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "the key is not UTF-8".into(),
        })?;
        let mut map = record_object(local_id, raw)?;
        if map.get("local_id").and_then(Value::as_str) != Some(local_id) {
            return Err(corrupt_order(
                local_id,
                "the record's local_id differs from its key",
            ));
        }
        let sealed = match map.remove("sealed") {
            Some(Value::String(s)) => hex::decode(s)
                .map_err(|_| corrupt_order(local_id, "the sealed field is not hex"))?,
            _ => return Err(corrupt_order(local_id, "no sealed field")),
        };
        let plain = self.key.open(local_id.as_bytes(), &sealed, local_id)?;
        // serde errors can quote the input, so they are not passed on here.
        let personal: Value = serde_json::from_slice(&plain)
            .map_err(|_| corrupt_order(local_id, "the decrypted personal fields are not JSON"))?;
        map.insert("personal".into(), personal);
        serde_json::from_value(Value::Object(map)).map_err(|_| {
            corrupt_order(
                local_id,
                "the record does not match the order type (schema change?)",
            )
        })
    }

    /// Accepts an order: in one transaction, stores it (personal fields
    /// sealed), queues it for central (idempotency key = local id, due at
    /// `order.accepted_at`) and appends an `accepted` audit record; then
    /// flushes. Only after this returns `Ok` may the citizen be told
    /// "accepted". The same local id is refused a second time.
    pub fn accept(&self, order: &Order) -> Result<AuditSeq> {
        let local_id = order.local_id.as_str();
        if local_id.is_empty() {
            return Err(StoreError::EmptyLocalId);
        }
        let record = self.seal_order(order)?;
        let entry = OutboxEntry::new(
            local_id,
            OutboxKind::Order,
            local_id,
            order.accepted_at,
            order.accepted_at,
        );
        let entry_raw = outbox::encode(&entry)?;
        let detail = json!({
            "business": order.business.code(),
            "accepted_at": order.accepted_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        });
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let seq = (&self.orders, &self.outbox, &self.audit, &self.meta)
            .transaction(|(orders, outbox, audit, meta)| {
                if orders.get(local_id)?.is_some() || outbox.get(local_id)?.is_some() {
                    return Err(abort(StoreError::Duplicate {
                        local_id: local_id.to_owned(),
                    }));
                }
                orders.insert(local_id, record.as_slice())?;
                outbox.insert(local_id, entry_raw.as_slice())?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "accepted",
                    local_id,
                    detail.clone(),
                )
            })
            .map_err(tx_err("accept an order"))?;
        self.db
            .flush()
            .map_err(sled_err("flush an accepted order"))?;
        tracing::info!(order = %local_id, audit_seq = seq.0, "order accepted and flushed");
        Ok(seq)
    }

    /// One order, decrypted.
    pub fn order(&self, local_id: &str) -> Result<Option<Order>> {
        match self
            .orders
            .get(local_id)
            .map_err(sled_err("read an order"))?
        {
            None => Ok(None),
            Some(raw) => self.open_order(local_id.as_bytes(), &raw).map(Some),
        }
    }

    /// Every order, decrypted, in local-id order.
    pub fn orders(&self) -> Result<Vec<Order>> {
        self.orders
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(sled_err("read the orders"))?;
                self.open_order(&k, &v)
            })
            .collect()
    }

    /// Every outbox entry, parked or not, oldest first.
    ///
    /// An entry that cannot be decoded (a torn or corrupted write) is moved
    /// to the quarantine tree, counted in [`Store::quarantined_count`] and
    /// audited; the rest of the outbox goes on. The entry is derived data:
    /// when its order (or the order's rating) is still undelivered, a fresh
    /// entry replaces it, so the order still reaches central.
    pub fn outbox_all(&self) -> Result<Vec<OutboxEntry>> {
        let mut all = Vec::new();
        for item in self.outbox.iter() {
            let (k, v) = item.map_err(sled_err("read the outbox"))?;
            match outbox::decode(&k, &v) {
                Ok(entry) => all.push(entry),
                Err(e) => {
                    self.quarantine_entry(&k, &v, &e.to_string())?;
                    if let Some(entry) = self.requeue(&String::from_utf8_lossy(&k))? {
                        all.push(entry);
                    }
                }
            }
        }
        all.sort_by(|a, b| (a.enqueued_at, &a.key).cmp(&(b.enqueued_at, &b.key)));
        Ok(all)
    }

    fn quarantine_entry(&self, key: &[u8], raw: &[u8], reason: &str) -> Result<()> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let name = String::from_utf8_lossy(key).into_owned();
        tracing::warn!(key = %name, "undecodable outbox entry quarantined");
        (&self.outbox, &self.quarantine, &self.audit, &self.meta)
            .transaction(|(outbox, quarantine, audit, meta)| {
                if outbox.remove(key)?.is_none() {
                    return Ok(());
                }
                quarantine.insert(key, raw)?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "quarantined",
                    &name,
                    json!({ "reason": reason }),
                )?;
                Ok(())
            })
            .map_err(tx_err("quarantine an outbox entry"))?;
        self.db
            .flush()
            .map_err(sled_err("flush a quarantined entry"))?;
        Ok(())
    }

    /// The retention job: the personal fields of every order central has
    /// confirmed and that was accepted before `cutoff` are replaced by empty
    /// ones (sealed as before, so the record keeps its shape), the record
    /// says when, and an audit record `personal-purged` is appended. What
    /// the order was (business, times, route, numbers) stays. Returns how
    /// many orders were purged; an order still pending is never touched.
    pub fn purge_personal(&self, cutoff: DateTime<Utc>) -> Result<usize> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let mut purged = 0;
        for item in self.orders.iter() {
            let (k, raw) = item.map_err(sled_err("read the orders"))?;
            let local_id = String::from_utf8_lossy(&k).into_owned();
            let Ok(map) = record_object(&local_id, &raw) else {
                continue;
            };
            let synced = map.get("status").and_then(Value::as_str) == Some("synced");
            let accepted = map
                .get("accepted_at")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let done = map.contains_key("personal_purged_at");
            if !synced || done || accepted.is_none_or(|t| t >= cutoff) {
                continue;
            }
            let empty = crate::model::OrderPersonal {
                name: kiosk_drivers::pii::Personal::default(),
                id_number: kiosk_drivers::pii::IdNumber::unchecked(""),
                address: kiosk_drivers::pii::Personal::default(),
                phone: kiosk_drivers::pii::Personal::default(),
                mailing_address: kiosk_drivers::pii::Personal::default(),
                old_holder_name: kiosk_drivers::pii::Personal::default(),
                old_holder_id: None,
            };
            let plain =
                Zeroizing::new(serde_json::to_vec(&empty).map_err(|_| StoreError::Encrypt {
                    local_id: local_id.clone(),
                })?);
            let sealed = self.key.seal(local_id.as_bytes(), &plain, &local_id)?;
            let sealed_hex = hex::encode(sealed);
            (&self.orders, &self.audit, &self.meta)
                .transaction(|(orders, audit, meta)| {
                    let mut map = record_in(orders, &local_id)?;
                    map.insert("sealed".into(), Value::String(sealed_hex.clone()));
                    map.insert("personal_purged_at".into(), Value::String(now.to_rfc3339()));
                    orders.insert(local_id.as_bytes(), encode_record(map).map_err(abort)?)?;
                    audit::append(
                        audit,
                        meta,
                        audit_key.as_ref(),
                        now,
                        "personal-purged",
                        &local_id,
                        json!({}),
                    )?;
                    Ok(())
                })
                .map_err(tx_err("purge an order's personal fields"))?;
            purged += 1;
        }
        if purged > 0 {
            self.db.flush().map_err(sled_err("flush the purge"))?;
            tracing::info!(
                purged,
                "retention: personal fields of old synced orders deleted"
            );
        }
        Ok(purged)
    }

    /// A fresh outbox entry for an undelivered order or rating whose entry
    /// was quarantined; `None` when there is nothing left to deliver.
    fn requeue(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let (kind, local_id) = match key.strip_prefix("rating-") {
            Some(id) => (OutboxKind::Rating, id),
            None => (OutboxKind::Order, key),
        };
        let Ok(Some(order)) = self.order(local_id) else {
            return Ok(None);
        };
        let pending = match kind {
            OutboxKind::Order => order.central_no.is_none(),
            _ => order.rating.is_some(),
        };
        if !pending {
            return Ok(None);
        }
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let entry = OutboxEntry {
            last_error: Some("requeued after an unreadable entry".into()),
            ..OutboxEntry::new(key, kind, local_id, now, order.accepted_at)
        };
        let raw = outbox::encode(&entry)?;
        (&self.outbox, &self.audit, &self.meta)
            .transaction(|(outbox, audit, meta)| {
                outbox.insert(key.as_bytes(), raw.as_slice())?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "requeued",
                    local_id,
                    json!({ "key": key }),
                )?;
                Ok(())
            })
            .map_err(tx_err("requeue an outbox entry"))?;
        self.db
            .flush()
            .map_err(sled_err("flush a requeued entry"))?;
        Ok(Some(entry))
    }

    /// Outbox entries set aside because they could not be decoded.
    pub fn quarantined_count(&self) -> usize {
        self.quarantine.len()
    }

    /// Entries to try at `now`: not parked, `next_attempt_at <= now`, oldest
    /// first.
    pub fn outbox_due(&self, now: DateTime<Utc>) -> Result<Vec<OutboxEntry>> {
        let mut all = self.outbox_all()?;
        all.retain(|e| e.is_due(now));
        Ok(all)
    }

    /// Records a failed attempt: one more attempt, the (non-personal) error,
    /// and when to try next (the caller's backoff).
    pub fn record_failure(
        &self,
        key: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let error = outbox::clip(error);
        self.outbox
            .transaction(|tree| {
                let raw = tree.get(key)?.ok_or_else(|| {
                    abort(StoreError::OutboxNotFound {
                        key: key.to_owned(),
                    })
                })?;
                let mut entry = outbox::decode(key.as_bytes(), &raw).map_err(abort)?;
                entry.attempts = entry.attempts.saturating_add(1);
                entry.last_error = Some(error.clone());
                entry.next_attempt_at = next_attempt_at;
                tree.insert(key, outbox::encode(&entry).map_err(abort)?)?;
                Ok(())
            })
            .map_err(tx_err("record a failed attempt"))
    }

    /// Sets an entry aside (central refused it, or it is poisoned) so it
    /// never blocks the rest; audits `parked` with the (non-personal) reason.
    pub fn park(&self, key: &str, reason: &str) -> Result<()> {
        let reason = outbox::clip(reason);
        self.change_entry(key, "parked", "park an outbox entry", |entry| {
            let detail = json!({
                "key": key,
                "kind": entry.kind,
                "attempts": entry.attempts,
                "reason": reason,
            });
            entry.parked = true;
            entry.last_error = Some(reason.clone());
            detail
        })?;
        tracing::warn!(key, "outbox entry parked");
        Ok(())
    }

    /// A technician's "try again now" (`kiosk outbox retry`): the entry is
    /// no longer parked and is due at once, its attempt count kept; audits
    /// `retry-requested`. Errors with [`StoreError::OutboxNotFound`] when
    /// there is no such entry (delivered meanwhile, or a typo).
    pub fn retry_now(&self, key: &str) -> Result<()> {
        let now = (self.clock)();
        self.change_entry(key, "retry-requested", "requeue an outbox entry", |entry| {
            let detail = json!({
                "key": key,
                "kind": entry.kind,
                "attempts": entry.attempts,
                "was_parked": entry.parked,
            });
            entry.parked = false;
            entry.next_attempt_at = now;
            detail
        })
    }

    /// Changes one outbox entry and audits `event` with the detail `change`
    /// returns, in one transaction, then flushes: what a technician or the
    /// sync task decides about an entry is on disk before it is reported.
    fn change_entry(
        &self,
        key: &str,
        event: &'static str,
        what: &'static str,
        change: impl Fn(&mut OutboxEntry) -> Value,
    ) -> Result<()> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        (&self.outbox, &self.audit, &self.meta)
            .transaction(|(tree, audit, meta)| {
                let raw = tree.get(key)?.ok_or_else(|| {
                    abort(StoreError::OutboxNotFound {
                        key: key.to_owned(),
                    })
                })?;
                let mut entry = outbox::decode(key.as_bytes(), &raw).map_err(abort)?;
                let detail = change(&mut entry);
                tree.insert(key, outbox::encode(&entry).map_err(abort)?)?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    event,
                    &entry.local_id,
                    detail,
                )?;
                Ok(())
            })
            .map_err(tx_err(what))?;
        self.db
            .flush()
            .map_err(sled_err("flush an outbox change"))?;
        Ok(())
    }

    /// Central confirmed the order as `central_no`: in one transaction set
    /// the number and status `synced`, remove the order's outbox entry and
    /// audit `synced`; then flush. Repeating it with the same number is a
    /// no-op (a crash between central's answer and this call); a different
    /// number is refused.
    pub fn mark_synced(&self, local_id: &str, central_no: &str) -> Result<()> {
        self.mark_synced_at(local_id, central_no, None)
    }

    /// [`Store::mark_synced`], keeping central's receipt time (by central's
    /// clock) on the order when central gave one.
    pub fn mark_synced_at(
        &self,
        local_id: &str,
        central_no: &str,
        received_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        (&self.orders, &self.outbox, &self.audit, &self.meta)
            .transaction(|(orders, outbox, audit, meta)| {
                let mut map = record_in(orders, local_id)?;
                let status = record_status(local_id, &map).map_err(abort)?;
                if status == OrderStatus::Synced {
                    let existing = map.get("central_no").and_then(Value::as_str).unwrap_or("");
                    if existing != central_no {
                        return Err(abort(StoreError::AlreadySynced {
                            local_id: local_id.to_owned(),
                            central_no: existing.to_owned(),
                        }));
                    }
                    outbox.remove(local_id)?;
                    return Ok(());
                }
                map.insert("central_no".into(), Value::String(central_no.to_owned()));
                if let Some(at) = received_at {
                    map.insert(
                        "central_received_at".into(),
                        Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                    );
                }
                map.insert(
                    "status".into(),
                    serde_json::to_value(OrderStatus::Synced).map_err(|source| {
                        abort(StoreError::Json {
                            what: "an order status",
                            source,
                        })
                    })?,
                );
                orders.insert(local_id, encode_record(map).map_err(abort)?)?;
                outbox.remove(local_id)?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "synced",
                    local_id,
                    json!({ "central_no": central_no }),
                )?;
                Ok(())
            })
            .map_err(tx_err("mark an order synced"))?;
        self.db.flush().map_err(sled_err("flush a synced order"))?;
        tracing::info!(order = %local_id, central_no, "order synced");
        Ok(())
    }

    /// Records the citizen's rating (1–5, with optional fixed-phrase codes)
    /// on the order and queues it for central under `rating-<local id>`;
    /// audits `rated`. A second rating replaces the first and its pending
    /// delivery.
    pub fn enqueue_rating(&self, local_id: &str, stars: u8, comment: Option<&str>) -> Result<()> {
        if !(1..=5).contains(&stars) {
            return Err(StoreError::InvalidRating { stars });
        }
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let key = outbox::rating_key(local_id);
        let entry_raw = outbox::encode(&OutboxEntry::new(
            &key,
            OutboxKind::Rating,
            local_id,
            now,
            now,
        ))?;
        (&self.orders, &self.outbox, &self.audit, &self.meta)
            .transaction(|(orders, outbox, audit, meta)| {
                let mut map = record_in(orders, local_id)?;
                map.insert("rating".into(), Value::from(stars));
                match comment {
                    Some(c) => map.insert("rating_comment".into(), Value::from(c)),
                    None => map.remove("rating_comment"),
                };
                orders.insert(local_id, encode_record(map).map_err(abort)?)?;
                outbox.insert(key.as_bytes(), entry_raw.as_slice())?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "rated",
                    local_id,
                    json!({ "stars": stars }),
                )?;
                Ok(())
            })
            .map_err(tx_err("record a rating"))?;
        self.db.flush().map_err(sled_err("flush a rating"))?;
        Ok(())
    }

    /// Queues the rating of a service without a local order (a paid bill,
    /// a progress query) under `rating-<subject>`; audits `rated`.
    pub fn enqueue_service_rating(&self, rating: outbox::ServiceRating) -> Result<()> {
        if !(1..=5).contains(&rating.stars) {
            return Err(StoreError::InvalidRating {
                stars: rating.stars,
            });
        }
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let key = outbox::rating_key(&rating.subject);
        let subject = rating.subject.clone();
        let stars = rating.stars;
        let entry_raw = outbox::encode(&OutboxEntry {
            rating: Some(rating),
            ..OutboxEntry::new(&key, OutboxKind::ServiceRating, &subject, now, now)
        })?;
        (&self.outbox, &self.audit, &self.meta)
            .transaction(|(outbox, audit, meta)| {
                outbox.insert(key.as_bytes(), entry_raw.as_slice())?;
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "rated",
                    &subject,
                    json!({ "stars": stars }),
                )?;
                Ok(())
            })
            .map_err(tx_err("record a service rating"))?;
        self.db.flush().map_err(sled_err("flush a rating"))?;
        Ok(())
    }

    /// Appends a non-personal event to the audit log (a confirmed payment,
    /// an assistance request) and flushes.
    pub fn audit_event(&self, kind: &str, subject: &str, detail: serde_json::Value) -> Result<()> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        (&self.audit, &self.meta)
            .transaction(|(audit, meta)| {
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    kind,
                    subject,
                    detail.clone(),
                )?;
                Ok(())
            })
            .map_err(tx_err("append an audit event"))?;
        self.db.flush().map_err(sled_err("flush an audit event"))?;
        Ok(())
    }

    /// The staff override's lockout as kept (the default when no try failed).
    pub fn staff_lockout(&self) -> Result<crate::staff::Lockout> {
        decode_lockout(
            self.meta
                .get(STAFF_LOCKOUT_KEY)
                .map_err(sled_err("read the staff lockout"))?
                .as_deref(),
        )
    }

    /// One try of the staff override, at the store's clock: refused
    /// unchecked while locked; otherwise `check` says which credential it
    /// was, if any (it runs outside the transaction: a PIN's hash is slow).
    /// The lockout and an audit record (`staff-auth`: the result, the
    /// credential kind, the failures in a row; nothing of the PIN or card)
    /// change in one transaction, flushed before the verdict is returned.
    pub fn staff_try(
        &self,
        device_id: &str,
        check: impl FnOnce() -> Option<crate::staff::StaffCredential>,
    ) -> Result<crate::staff::StaffVerdict> {
        use crate::staff::StaffVerdict;
        let now = (self.clock)();
        let audit_key = self.audit_key();
        let locked = self.staff_lockout()?.locked(now);
        let credential = if locked.is_some() { None } else { check() };
        let verdict = (&self.meta, &self.audit)
            .transaction(|(meta, audit)| {
                let mut lockout =
                    decode_lockout(meta.get(STAFF_LOCKOUT_KEY)?.as_deref()).map_err(abort)?;
                let verdict = match (lockout.locked(now), credential) {
                    (Some(until), _) => StaffVerdict::LockedOut { until },
                    (None, Some(c)) => {
                        lockout.record(true, now);
                        StaffVerdict::Accepted(c)
                    }
                    (None, None) => {
                        lockout.record(false, now);
                        match lockout.locked(now) {
                            Some(until) => StaffVerdict::LockedOut { until },
                            None => StaffVerdict::Refused,
                        }
                    }
                };
                let raw = serde_json::to_vec(&lockout).map_err(|source| {
                    abort(StoreError::Json {
                        what: "the staff lockout",
                        source,
                    })
                })?;
                meta.insert(STAFF_LOCKOUT_KEY, raw)?;
                let result = match verdict {
                    StaffVerdict::Accepted(_) => "accepted",
                    StaffVerdict::Refused => "refused",
                    StaffVerdict::LockedOut { .. } if locked.is_some() => "refused-locked",
                    StaffVerdict::LockedOut { .. } => "locked",
                };
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "staff-auth",
                    device_id,
                    json!({
                        "result": result,
                        "credential": credential.map(crate::staff::StaffCredential::as_str),
                        "failures": lockout.failures,
                        "locked_until": lockout.locked_until,
                    }),
                )?;
                Ok(verdict)
            })
            .map_err(tx_err("record a staff try"))?;
        self.db.flush().map_err(sled_err("flush a staff try"))?;
        Ok(verdict)
    }

    /// Central acknowledged a non-order entry (a rating): remove it and
    /// audit `delivered`; then flush. Already gone is not an error (a crash
    /// between central's answer and this call). Orders use
    /// [`mark_synced`](Self::mark_synced), which also records the number.
    pub fn outbox_done(&self, key: &str) -> Result<()> {
        let now = (self.clock)();
        let audit_key = self.audit_key();
        (&self.outbox, &self.audit, &self.meta)
            .transaction(|(tree, audit, meta)| {
                let Some(raw) = tree.remove(key)? else {
                    return Ok(());
                };
                let entry = outbox::decode(key.as_bytes(), &raw).map_err(abort)?;
                let detail = json!({ "key": key, "kind": entry.kind, "attempts": entry.attempts });
                audit::append(
                    audit,
                    meta,
                    audit_key.as_ref(),
                    now,
                    "delivered",
                    &entry.local_id,
                    detail,
                )?;
                Ok(())
            })
            .map_err(tx_err("remove a delivered outbox entry"))?;
        self.db
            .flush()
            .map_err(sled_err("flush a delivered entry"))?;
        Ok(())
    }

    /// The earliest `next_attempt_at` among unparked entries (when the sync
    /// task should wake next), or `None` when nothing is pending.
    pub fn next_attempt_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .outbox_all()?
            .iter()
            .filter(|e| !e.parked)
            .map(|e| e.next_attempt_at)
            .min())
    }

    /// Entries waiting to be sent (parked ones excluded).
    pub fn outbox_depth(&self) -> Result<usize> {
        Ok(self.outbox_all()?.iter().filter(|e| !e.parked).count())
    }

    /// Parked entries (waiting for a person).
    pub fn parked_count(&self) -> Result<usize> {
        Ok(self.outbox_all()?.iter().filter(|e| e.parked).count())
    }

    /// How long the oldest unparked entry has been waiting at `now` (zero if
    /// the clock is behind it), or `None` when nothing is pending.
    pub fn oldest_pending_age(&self, now: DateTime<Utc>) -> Result<Option<chrono::Duration>> {
        Ok(self
            .outbox_all()?
            .iter()
            .filter(|e| !e.parked)
            .map(|e| e.enqueued_at)
            .min()
            .map(|oldest| (now - oldest).max(chrono::Duration::zero())))
    }

    /// Every audit record, in sequence order.
    pub fn audit_records(&self) -> Result<Vec<AuditRecord>> {
        self.audit
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(sled_err("read the audit log"))?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: "audit",
                    key: hex::encode(&k),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Verifies the audit chain; reports the first broken link.
    pub fn audit_verify(&self) -> Result<AuditReport> {
        verify_trees(&self.audit, &self.meta, self.audit_key().as_ref())
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db
            .size_on_disk()
            .map_err(sled_err("measure the database"))
    }
}

fn verify_trees(audit: &Tree, meta: &Tree, key: Option<&AuditKey>) -> Result<AuditReport> {
    let head = meta
        .get(audit::HEAD_KEY)
        .map_err(sled_err("read the audit head"))?;
    audit::verify(audit.iter(), head.as_deref(), key)
}

/// The outbox as a technician reads it (`kiosk outbox list`): one line per
/// entry, no personal value (keys are local ids, errors are central's codes).
pub fn outbox_table(entries: &[OutboxEntry]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<36} {:<14} {:>8} {:<8} {:<20} {}\n",
        "KEY", "KIND", "ATTEMPTS", "STATE", "NEXT ATTEMPT (UTC)", "LAST ERROR"
    );
    for e in entries {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<36} {:<14} {:>8} {:<8} {:<20} {}",
            e.key,
            kind,
            e.attempts,
            if e.parked { "parked" } else { "pending" },
            e.next_attempt_at.format("%Y-%m-%d %H:%M:%S"),
            e.last_error.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "{} entries", entries.len());
    out
}

/// Verifies the audit chain of the store in data directory `dir`, for
/// `kiosk audit verify --data DIR`: with `key`, the keyed records' MACs
/// too. Needs no store key; fails if the kiosk holding the store is
/// running (sled locks the database).
pub fn audit_verify_dir(dir: &Path, key: Option<&AuditKey>) -> Result<AuditReport> {
    let path = dir.join("store");
    if !path.is_dir() {
        return Err(StoreError::NoStore { path });
    }
    let db = open_db(&path)?;
    let audit = open_tree(&db, "audit")?;
    let meta = open_tree(&db, "meta")?;
    verify_trees(&audit, &meta, key)
}

/// The chain head of the store in `dir` and the record central
/// acknowledged last, read offline (`kiosk audit verify`).
pub fn audit_anchor_dir(dir: &Path) -> Result<(AuditHead, Option<u64>)> {
    let path = dir.join("store");
    if !path.is_dir() {
        return Err(StoreError::NoStore { path });
    }
    let db = open_db(&path)?;
    let meta = open_tree(&db, "meta")?;
    Ok((read_audit_head(&meta)?, read_central_seq(&meta)?))
}

/// The chain head kept in `meta` (seq 0 and [`GENESIS_PREV_HASH`] when the
/// chain is empty).
fn read_audit_head(meta: &Tree) -> Result<AuditHead> {
    let raw = meta
        .get(audit::HEAD_KEY)
        .map_err(sled_err("read the audit head"))?;
    Ok(match raw.as_deref().and_then(audit::decode_head) {
        Some((seq, hash)) => AuditHead {
            seq,
            hash: hex::encode(hash),
        },
        None => AuditHead {
            seq: 0,
            hash: GENESIS_PREV_HASH.to_owned(),
        },
    })
}

/// The record central acknowledged last, kept in `meta`.
fn read_central_seq(meta: &Tree) -> Result<Option<u64>> {
    Ok(meta
        .get(AUDIT_CENTRAL_KEY)
        .map_err(sled_err("read the audit anchor"))?
        .and_then(|r| <[u8; 8]>::try_from(r.as_ref()).ok())
        .map(u64::from_be_bytes))
}
