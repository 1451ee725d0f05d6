//! The append-only, hash-chained audit log.
//!
//! Every event that matters to a citizen or an inspector (an order accepted,
//! synced, rated, parked) appends one [`AuditRecord`] to the `audit` tree,
//! inside the same sled transaction as the change it describes, so the log
//! and the data can never disagree. Records are keyed by their sequence
//! number in big-endian bytes (so sled's key order is sequence order) and
//! numbered from 1 without gaps.
//!
//! Each record carries `prev_hash`, the hash of the record before it (64
//! zeros for the first), and its own `hash`: SHA-256 over a canonical,
//! length-prefixed encoding of `(seq, at, event, local_id, detail,
//! prev_hash)` (see [`record_hash`]). The chain head (last seq and hash) is
//! kept in the `meta` tree and updated in the same transaction, so
//! truncating the tail is caught too. Editing, deleting, reordering or
//! back-dating a record therefore shows up in `Store::audit_verify` as the first broken
//! link, unless the attacker rewrites every later record and the head as
//! well, which the central service's copy of the events would contradict.
//!
//! `detail` is non-personal by contract: local ids, business codes, central
//! order numbers, error classes. Never a name, ID number, address or phone.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::StoreError;

/// `prev_hash` of the first record.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Key of the chain head in the `meta` tree: 8-byte big-endian seq ‖ 32-byte hash.
pub(crate) const HEAD_KEY: &[u8] = b"audit/head";

/// Domain separation for the record hash, so it can never collide with a
/// hash computed for another purpose.
const HASH_DOMAIN: &[u8] = b"kiosk-audit-v1\0";

/// The sequence number of an audit record (1, 2, 3, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuditSeq(pub u64);

impl fmt::Display for AuditSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One audit record, as stored (JSON) under its big-endian seq.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When the event was recorded.
    pub at: DateTime<Utc>,
    /// What happened: `accepted`, `synced`, `rated`, `parked`.
    pub event: String,
    /// The order concerned.
    pub local_id: String,
    /// Non-personal details of the event.
    pub detail: serde_json::Value,
    /// Hash (hex) of the previous record; 64 zeros for the first.
    pub prev_hash: String,
    /// Hash (hex) of this record; see [`record_hash`].
    pub hash: String,
}

/// The outcome of verifying the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditReport {
    /// Every link holds.
    Ok {
        /// Number of records checked.
        records: u64,
    },
    /// The first broken link.
    Broken {
        /// The record at which the chain breaks.
        seq: u64,
        /// What is wrong there.
        reason: String,
    },
}

impl AuditReport {
    /// Whether the chain is intact.
    pub fn is_ok(&self) -> bool {
        matches!(self, AuditReport::Ok { .. })
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditReport::Ok { records } => write!(f, "ok ({records} records)"),
            AuditReport::Broken { seq, reason } => write!(f, "broken at record {seq}: {reason}"),
        }
    }
}

/// SHA-256 (hex) over the canonical encoding of a record's fields.
///
/// The encoding is a fixed domain tag, `seq` as 8 big-endian bytes, then each
/// of `at` (RFC 3339, UTC, nanoseconds, `Z`), `event`, `local_id`, `detail`
/// (canonical JSON: object keys sorted, no whitespace) and `prev_hash`, each
/// preceded by its length as 8 big-endian bytes. Length prefixes make the
/// encoding unambiguous (`("ab","c")` and `("a","bc")` differ).
pub fn record_hash(
    seq: u64,
    at: &DateTime<Utc>,
    event: &str,
    local_id: &str,
    detail: &serde_json::Value,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(HASH_DOMAIN);
    h.update(seq.to_be_bytes());
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(at.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
    field(event.as_bytes());
    field(local_id.as_bytes());
    let mut json = String::new();
    canonical_json(detail, &mut json);
    field(json.as_bytes());
    field(prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Writes `v` as JSON with object keys sorted, whatever map type serde_json
/// was built with (a `preserve_order` feature turned on elsewhere in the
/// dependency graph must not change hashes).
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Decodes the chain head stored in `meta`.
pub(crate) fn decode_head(raw: &[u8]) -> Option<(u64, [u8; 32])> {
    if raw.len() != 40 {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&raw[..8]);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&raw[8..]);
    Some((u64::from_be_bytes(seq), hash))
}

fn encode_head(seq: u64, hash: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&seq.to_be_bytes());
    out[8..].copy_from_slice(hash);
    out
}

/// Appends a record inside a transaction over the `audit` and `meta` trees.
pub(crate) fn append(
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    at: DateTime<Utc>,
    event: &str,
    local_id: &str,
    detail: serde_json::Value,
) -> Result<AuditSeq, ConflictableTransactionError<StoreError>> {
    let (last_seq, prev_hash) = match meta.get(HEAD_KEY)? {
        None => (0, GENESIS_PREV_HASH.to_owned()),
        Some(raw) => {
            let (seq, hash) = decode_head(&raw).ok_or_else(|| {
                ConflictableTransactionError::Abort(StoreError::Corrupt {
                    tree: "meta",
                    key: "audit/head".into(),
                    reason: format!("the chain head has {} bytes, not 40", raw.len()),
                })
            })?;
            (seq, hex::encode(hash))
        }
    };
    let seq = last_seq + 1;
    let hash = record_hash(seq, &at, event, local_id, &detail, &prev_hash);
    let record = AuditRecord {
        seq,
        at,
        event: event.to_owned(),
        local_id: local_id.to_owned(),
        detail,
        prev_hash,
        hash,
    };
    let json = serde_json::to_vec(&record).map_err(|source| {
        ConflictableTransactionError::Abort(StoreError::Json {
            what: "an audit record",
            source,
        })
    })?;
    let mut raw_hash = [0u8; 32];
    hex::decode_to_slice(&record.hash, &mut raw_hash).map_err(|_| {
        // record_hash always returns 64 hex digits; kept as an error, not a panic.
        ConflictableTransactionError::Abort(StoreError::Corrupt {
            tree: "audit",
            key: seq.to_string(),
            reason: "computed hash is not 32 bytes of hex".into(),
        })
    })?;
    audit.insert(&seq.to_be_bytes(), json)?;
    meta.insert(HEAD_KEY, &encode_head(seq, &raw_hash)[..])?;
    Ok(AuditSeq(seq))
}

/// Walks the chain in key order and reports the first broken link.
///
/// `head` is the chain head from `meta` (absent on an empty store).
pub(crate) fn verify(
    records: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    head: Option<&[u8]>,
) -> Result<AuditReport, StoreError> {
    let mut expected = 1u64;
    let mut prev = GENESIS_PREV_HASH.to_owned();
    let broken = |seq: u64, reason: String| Ok(AuditReport::Broken { seq, reason });
    for item in records {
        let (k, v) = item.map_err(|source| StoreError::Sled {
            context: "read the audit log",
            source,
        })?;
        let key_seq = match <[u8; 8]>::try_from(k.as_ref()) {
            Ok(b) => u64::from_be_bytes(b),
            Err(_) => {
                return broken(
                    expected,
                    format!("a key of {} bytes is not a sequence number", k.len()),
                )
            }
        };
        if key_seq != expected {
            return broken(
                expected,
                if key_seq > expected {
                    format!("record {expected} is missing (the next one is {key_seq})")
                } else {
                    format!("record {key_seq} is out of sequence")
                },
            );
        }
        let rec: AuditRecord = match serde_json::from_slice(&v) {
            Ok(r) => r,
            Err(e) => return broken(key_seq, format!("the record is not readable: {e}")),
        };
        if rec.seq != key_seq {
            return broken(
                key_seq,
                format!("the record says seq {} but is stored as {key_seq}", rec.seq),
            );
        }
        if rec.prev_hash != prev {
            return broken(
                key_seq,
                format!(
                    "prev_hash does not match the hash of record {}",
                    key_seq - 1
                ),
            );
        }
        let recomputed = record_hash(
            rec.seq,
            &rec.at,
            &rec.event,
            &rec.local_id,
            &rec.detail,
            &rec.prev_hash,
        );
        if recomputed != rec.hash {
            return broken(key_seq, "hash mismatch: the record was altered".into());
        }
        prev = rec.hash;
        expected += 1;
    }
    let count = expected - 1;
    match head {
        None if count == 0 => Ok(AuditReport::Ok { records: 0 }),
        None => broken(count, "the chain head is missing".into()),
        Some(raw) => {
            let Some((head_seq, head_hash)) = decode_head(raw) else {
                return broken(count, "the chain head is malformed".into());
            };
            if head_seq > count {
                return broken(
                    count + 1,
                    format!(
                        "records {}..={head_seq} are missing (the chain head says {head_seq})",
                        count + 1
                    ),
                );
            }
            if head_seq < count {
                return broken(
                    head_seq + 1,
                    format!("record {} was appended behind the chain head", head_seq + 1),
                );
            }
            if count > 0 && hex::encode(head_hash) != prev {
                return broken(
                    count,
                    "the last record's hash does not match the chain head".into(),
                );
            }
            Ok(AuditReport::Ok { records: count })
        }
    }
}
