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
//! From enrollment on, the chain is keyed: each record's `hash` is an
//! HMAC-SHA256 ([`record_mac`]) under the audit key central gave the kiosk
//! with its certificate (central keeps it too), and the record says
//! `keyed`. Records from before enrollment keep their plain SHA-256; once a
//! keyed record exists, an unkeyed one after it is a break (a writer
//! without the key). The key sits on the same card as the chain, so it
//! stops a forger without the card's secrets, not one who holds the card:
//! against that, central anchors the chain. The kiosk reports its head
//! (seq, hash) after every sync, proving the record central saw last
//! ([`AuditHead`]); a chain cut short, deleted or rewritten no longer holds
//! that record, and central records an audit gap for the device.
//!
//! `detail` is non-personal by contract: local ids, business codes, central
//! order numbers, error classes. Never a name, ID number, address or phone.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::digest::Update;
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use zeroize::Zeroizing;

use super::StoreError;

/// `prev_hash` of the first record.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Key of the chain head in the `meta` tree: 8-byte big-endian seq ‖ 32-byte hash.
pub(crate) const HEAD_KEY: &[u8] = b"audit/head";

/// Domain separation for the record hash, so it can never collide with a
/// hash computed for another purpose.
const HASH_DOMAIN: &[u8] = b"kiosk-audit-v1\0";

/// Domain separation for the keyed record MAC.
const MAC_DOMAIN: &[u8] = b"kiosk-audit-v2\0";

/// The audit chain's key (32 bytes): given by central at enrollment, kept
/// in the kiosk's identity file beside its private key. Wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl AuditKey {
    /// The key from 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_digits.trim(), &mut key[..]).ok()?;
        Some(Self(key))
    }

    /// A new random key (central's side of enrollment).
    pub fn random() -> Self {
        use rand::RngCore as _;
        let mut key = Zeroizing::new([0u8; 32]);
        rand::thread_rng().fill_bytes(&mut key[..]);
        Self(key)
    }

    /// The key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0[..])
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The head of a chain (its last record), or the record central saw last:
/// what the kiosk reports to central and central keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// The record's sequence number (0: an empty chain).
    pub seq: u64,
    /// Its hash (hex); [`GENESIS_PREV_HASH`] for an empty chain.
    pub hash: String,
}

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
    /// Hash (hex) of this record: [`record_hash`], or [`record_mac`] when
    /// `keyed`.
    pub hash: String,
    /// The hash is the keyed MAC (records written after enrollment).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keyed: bool,
}

/// The outcome of verifying the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditReport {
    /// Every link holds.
    Ok {
        /// Number of records checked.
        records: u64,
        /// Keyed records whose MAC could not be checked (no key given):
        /// their links and order were checked, not their content.
        unkeyed_check: u64,
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
            AuditReport::Ok {
                records,
                unkeyed_check: 0,
            } => write!(f, "ok ({records} records)"),
            AuditReport::Ok {
                records,
                unkeyed_check,
            } => write!(
                f,
                "ok ({records} records; the MACs of {unkeyed_check} keyed records not checked: no audit key)"
            ),
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
    encode_fields(
        &mut h,
        HASH_DOMAIN,
        seq,
        at,
        event,
        local_id,
        detail,
        prev_hash,
    );
    hex::encode(h.finalize())
}

/// HMAC-SHA256 (hex) under `key` over the same encoding as [`record_hash`],
/// with its own domain tag: the hash of a keyed record.
#[allow(clippy::too_many_arguments)]
pub fn record_mac(
    key: &AuditKey,
    seq: u64,
    at: &DateTime<Utc>,
    event: &str,
    local_id: &str,
    detail: &serde_json::Value,
    prev_hash: &str,
) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key.0[..]) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    encode_fields(
        &mut mac, MAC_DOMAIN, seq, at, event, local_id, detail, prev_hash,
    );
    hex::encode(mac.finalize().into_bytes())
}

#[allow(clippy::too_many_arguments)]
fn encode_fields(
    h: &mut impl Update,
    domain: &[u8],
    seq: u64,
    at: &DateTime<Utc>,
    event: &str,
    local_id: &str,
    detail: &serde_json::Value,
    prev_hash: &str,
) {
    h.update(domain);
    h.update(&seq.to_be_bytes());
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(at.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
    field(event.as_bytes());
    field(local_id.as_bytes());
    let mut json = String::new();
    canonical_json(detail, &mut json);
    field(json.as_bytes());
    field(prev_hash.as_bytes());
}

/// The hash of record `rec` as it should be: keyed with `key`, or plain.
/// `None` for a keyed record when no key is given.
fn expected_hash(rec: &AuditRecord, key: Option<&AuditKey>) -> Option<String> {
    if rec.keyed {
        key.map(|k| {
            record_mac(
                k,
                rec.seq,
                &rec.at,
                &rec.event,
                &rec.local_id,
                &rec.detail,
                &rec.prev_hash,
            )
        })
    } else {
        Some(record_hash(
            rec.seq,
            &rec.at,
            &rec.event,
            &rec.local_id,
            &rec.detail,
            &rec.prev_hash,
        ))
    }
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
    key: Option<&AuditKey>,
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
    let hash = match key {
        Some(k) => record_mac(k, seq, &at, event, local_id, &detail, &prev_hash),
        None => record_hash(seq, &at, event, local_id, &detail, &prev_hash),
    };
    let record = AuditRecord {
        seq,
        at,
        event: event.to_owned(),
        local_id: local_id.to_owned(),
        detail,
        prev_hash,
        hash,
        keyed: key.is_some(),
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
/// `head` is the chain head from `meta` (absent on an empty store); `key`
/// checks the keyed records' MACs (without it they are counted in
/// `unkeyed_check`).
pub(crate) fn verify(
    records: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    head: Option<&[u8]>,
    key: Option<&AuditKey>,
) -> Result<AuditReport, StoreError> {
    let mut expected = 1u64;
    let mut prev = GENESIS_PREV_HASH.to_owned();
    let mut unkeyed_check = 0u64;
    let mut keyed_from: Option<u64> = None;
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
        match (rec.keyed, keyed_from) {
            (true, None) => keyed_from = Some(key_seq),
            (false, Some(from)) => {
                return broken(
                    key_seq,
                    format!("the record is not keyed, though the chain is keyed from record {from} on: written without the audit key"),
                )
            }
            _ => {}
        }
        match expected_hash(&rec, key) {
            Some(recomputed) if recomputed != rec.hash => {
                return broken(
                    key_seq,
                    if rec.keyed {
                        "MAC mismatch: the record was altered, or keyed with another key".into()
                    } else {
                        "hash mismatch: the record was altered".into()
                    },
                );
            }
            Some(_) => {}
            None => unkeyed_check += 1,
        }
        prev = rec.hash;
        expected += 1;
    }
    let count = expected - 1;
    match head {
        None if count == 0 => Ok(AuditReport::Ok {
            records: 0,
            unkeyed_check: 0,
        }),
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
            Ok(AuditReport::Ok {
                records: count,
                unkeyed_check,
            })
        }
    }
}

/// What `kiosk audit verify` could check offline and what needs central,
/// after `report` on a chain whose head is `head`; `central_seq` is the
/// record central acknowledged last, `with_key` whether the audit key was
/// at hand.
pub fn verify_scope(
    report: &AuditReport,
    head: &AuditHead,
    central_seq: Option<u64>,
    with_key: bool,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let keyed = match report {
        AuditReport::Ok { unkeyed_check, .. } if *unkeyed_check > 0 => format!(
            "not the MACs of {unkeyed_check} keyed records (no audit key: identity.json is not in this data folder)"
        ),
        _ if with_key => "the MACs of keyed records, with the audit key from identity.json".into(),
        _ => "no keyed record needed a key".into(),
    };
    let _ = writeln!(
        out,
        "checked here: every record's sequence and link to the one before, the chain head (record {}), the hashes of unkeyed records, {keyed}",
        head.seq
    );
    let _ = writeln!(
        out,
        "needs central: {}; a chain cut short, deleted, or rewritten whole (with the key, which sits on this card) verifies here, and only central's anchor shows it (its audit gaps for this device)",
        match central_seq {
            Some(seq) => format!("that the chain still holds record {seq} as central saw it (acknowledged at the last report)"),
            None => "the chain was never reported to central: nothing anchors it yet".into(),
        }
    );
    out
}
