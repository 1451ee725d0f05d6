//! The simulator's update service: one offered bundle at a time, a staged
//! rollout (canary devices, then a share of the fleet), and the bundle
//! itself served with `Range` (so a kiosk resumes an interrupted download).
//! The emulated update test sets the offer through `PUT /sim/update`.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kiosk::central::{Rollout, RolloutDecision, UpdateAnswer, UpdateOffer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

/// What `PUT /sim/update` takes (`null` withdraws the offer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRequest {
    /// Release version of the bundle.
    pub version: String,
    /// The bundle file on the simulator's machine.
    pub bundle: PathBuf,
    /// Devices that take it first.
    #[serde(default)]
    pub canary: Vec<String>,
    /// Share of the other devices that take it (0–100).
    #[serde(default)]
    pub percent: u8,
    /// Cut the first download after this many bytes (a network fault the
    /// kiosk must resume from).
    #[serde(default)]
    pub cut_after_bytes: Option<u64>,
}

/// The offer being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUpdate {
    /// As requested.
    pub request: OfferRequest,
    /// SHA-256 of the bundle, hex.
    pub sha256: String,
    /// Size, bytes.
    pub size: u64,
    /// Whether the cut has happened.
    pub cut_done: bool,
}

/// One bundle request the simulator answered (for the tests: resumes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadSeen {
    /// First byte asked for.
    pub from: u64,
    /// HTTP status answered.
    pub status: u16,
}

impl SimUpdate {
    /// Reads the bundle's size and checksum.
    pub fn from_request(request: OfferRequest) -> std::io::Result<Self> {
        let sha256 = kiosk::update::sha256_file(&request.bundle)?;
        let size = std::fs::metadata(&request.bundle)?.len();
        Ok(Self {
            request,
            sha256,
            size,
            cut_done: false,
        })
    }

    /// The URL path the bundle is served at.
    pub fn path(&self) -> String {
        format!("/v1/bundles/{}.raucb", &self.sha256[..16])
    }

    /// `device`'s rollout decision.
    pub fn decide(&self, device: &str) -> Rollout {
        let r = &self.request;
        let (decision, stage) = if r.canary.iter().any(|d| d == device) {
            (RolloutDecision::Install, "canary")
        } else if r.percent >= 100 {
            (RolloutDecision::Install, "all")
        } else if bucket(device, &r.version) < r.percent {
            (RolloutDecision::Install, "percentage")
        } else if r.percent == 0 {
            (RolloutDecision::Wait, "canary")
        } else {
            (RolloutDecision::Wait, "percentage")
        };
        Rollout {
            decision,
            stage: stage.to_string(),
        }
    }

    /// The answer to `GET /v1/updates` from `device` running `version`.
    pub fn answer(&self, device: &str, version: &str) -> UpdateAnswer {
        if version == self.request.version {
            return UpdateAnswer { update: None };
        }
        UpdateAnswer {
            update: Some(UpdateOffer {
                version: self.request.version.clone(),
                bundle_url: self.path(),
                sha256: self.sha256.clone(),
                size: self.size,
                rollout: self.decide(device),
            }),
        }
    }
}

/// A device's stable place in a rollout (0–99), per version, so each
/// release picks a different share of the fleet first.
pub fn bucket(device: &str, version: &str) -> u8 {
    let d = Sha256::digest(format!("{device}\n{version}").as_bytes());
    (u16::from_be_bytes([d[0], d[1]]) % 100) as u8
}

/// A `Range` this server does not serve (answered 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The first byte of a `Range: bytes=N-` header; [`Unsatisfiable`] for a
/// range this server does not serve (several ranges, suffix ranges, past
/// the end).
pub fn range_start(headers: &HeaderMap, size: u64) -> Result<u64, Unsatisfiable> {
    let Some(v) = headers.get(header::RANGE) else {
        return Ok(0);
    };
    let v = v.to_str().map_err(|_| Unsatisfiable)?;
    let spec = v.strip_prefix("bytes=").ok_or(Unsatisfiable)?;
    let (from, to) = spec.split_once('-').ok_or(Unsatisfiable)?;
    if spec.contains(',') || !to.is_empty() {
        return Err(Unsatisfiable);
    }
    let from: u64 = from.parse().map_err(|_| Unsatisfiable)?;
    if from >= size {
        return Err(Unsatisfiable);
    }
    Ok(from)
}

/// Serves `path` from `from` on: 200 from the start, 206 with
/// `Content-Range` otherwise; the body ends (abruptly) after `cut` bytes
/// when a cut is asked for.
pub async fn serve(path: &Path, size: u64, from: u64, cut: Option<u64>) -> Response {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    if file.seek(std::io::SeekFrom::Start(from)).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let total = size - from;
    let stream = futures::stream::unfold(
        (file, 0u64, false),
        move |(mut file, sent, done)| async move {
            if done {
                return None;
            }
            if cut.is_some_and(|c| sent >= c) {
                // A dropped connection, as the kiosk sees it.
                let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut");
                return Some((Err(e), (file, sent, true)));
            }
            let mut buf = vec![0u8; 64 * 1024];
            let want = cut.map_or(buf.len(), |c| ((c - sent) as usize).min(buf.len()));
            match file.read(&mut buf[..want]).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, sent + n as u64, false)))
                }
                Err(e) => Some((Err(e), (file, sent, true))),
            }
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&total.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if from > 0 {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = header::HeaderValue::from_str(&format!("bytes {from}-{}/{size}", size - 1)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn offer(percent: u8, canary: &[&str]) -> SimUpdate {
        SimUpdate {
            request: OfferRequest {
                version: "0.2.0".into(),
                bundle: PathBuf::from("/b.raucb"),
                canary: canary.iter().map(|s| s.to_string()).collect(),
                percent,
                cut_after_bytes: None,
            },
            sha256: "ab".repeat(32),
            size: 10,
            cut_done: false,
        }
    }

    #[test]
    fn canaries_first_then_a_stable_share_of_the_fleet() {
        let o = offer(0, &["K-CANARY01"]);
        assert_eq!(o.decide("K-CANARY01").decision, RolloutDecision::Install);
        assert_eq!(o.decide("K-CANARY01").stage, "canary");
        assert_eq!(o.decide("K-OTHER001").decision, RolloutDecision::Wait);
        let fleet: Vec<String> = (0..1000).map(|i| format!("K-{i:08X}")).collect();
        let half = offer(50, &[]);
        let taking = fleet
            .iter()
            .filter(|d| half.decide(d).decision == RolloutDecision::Install)
            .count();
        assert!((400..600).contains(&taking), "{taking} of 1000 at 50 %");
        // The same devices each time; all at 100 %.
        assert_eq!(half.decide(&fleet[7]), half.decide(&fleet[7]));
        assert!(fleet
            .iter()
            .all(|d| offer(100, &[]).decide(d).decision == RolloutDecision::Install));
        // A kiosk already on the version gets no offer.
        assert_eq!(o.answer("K-CANARY01", "0.2.0").update, None);
        let a = o.answer("K-CANARY01", "0.1.0").update.unwrap();
        assert_eq!(
            a.bundle_url,
            format!("/v1/bundles/{}.raucb", "ab".repeat(8))
        );
    }

    #[test]
    fn ranges_are_open_ended_and_inside_the_file() {
        let mut h = HeaderMap::new();
        assert_eq!(range_start(&h, 10), Ok(0));
        h.insert(header::RANGE, "bytes=4-".parse().unwrap());
        assert_eq!(range_start(&h, 10), Ok(4));
        for bad in [
            "bytes=10-",
            "bytes=1-3",
            "bytes=-3",
            "bytes=1-,4-",
            "items=1-",
        ] {
            h.insert(header::RANGE, bad.parse().unwrap());
            assert_eq!(range_start(&h, 10), Err(Unsatisfiable), "{bad}");
        }
    }
}
