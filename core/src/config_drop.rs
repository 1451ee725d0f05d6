//! A configuration left on the boot partition (`kiosk.toml`) is applied
//! only when it is signed with the fleet's configuration key: an ed25519
//! signature of the file's exact bytes in `kiosk.toml.sig` beside it (64
//! bytes, as `openssl pkeyutl -sign -rawin` writes it). The image names the
//! key's public half (`/etc/kiosk/config-signing.pub.pem`); the private
//! half stays with whoever runs the fleet. Provisioning calls `kiosk config
//! verify-drop` before anything else looks at the file, and removes it
//! once applied (it may hold the central token in clear).

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;

/// DER of an ed25519 SubjectPublicKeyInfo up to the key itself (RFC 8410).
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a drop is refused (one line, naming no value of the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropRefusal {
    /// The image's public key is missing or not an ed25519 key.
    #[error("the fleet's configuration key {path}: {why}")]
    Key {
        /// Where the key should be.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// No signature file beside the drop.
    #[error("not signed: no {sig} beside it (sign it with the fleet's configuration key)")]
    Unsigned {
        /// The signature file looked for.
        sig: String,
    },
    /// The signature file is not an ed25519 signature at all.
    #[error("not signed: {sig} is {len} bytes, not a 64-byte ed25519 signature")]
    Malformed {
        /// The signature file.
        sig: String,
        /// Its length.
        len: usize,
    },
    /// A signature, but not of this file by this key.
    #[error("the signature does not match: the file was changed after signing, or signed with another key than the fleet's")]
    Mismatch,
    /// The drop or its signature could not be read.
    #[error("cannot read {path}: {why}")]
    Io {
        /// Which file.
        path: String,
        /// Why.
        why: String,
    },
}

/// The fleet's configuration key (public half).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetKey([u8; 32]);

impl FleetKey {
    /// From a PEM `PUBLIC KEY` (as `openssl pkey -pubout` writes it).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|e| format!("not a PEM public key: {e}"))?;
        let raw = der
            .as_ref()
            .strip_prefix(&SPKI_ED25519_PREFIX[..])
            .filter(|k| k.len() == 32)
            .ok_or("not an ed25519 public key")?;
        let mut key = [0u8; 32];
        key.copy_from_slice(raw);
        Ok(Self(key))
    }

    /// Whether `sig` is this key's signature of exactly `text`.
    pub fn verify(&self, text: &[u8], sig: &[u8]) -> Result<(), DropRefusal> {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.0)
            .verify(text, sig)
            .map_err(|_| DropRefusal::Mismatch)
    }
}

/// Provisioning's verdict on the last drop, if it refused it: the one line
/// of `drop-refused.txt` in the kiosk's data folder (shown in `/status` and
/// on the technician menu).
pub fn refusal(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("drop-refused.txt"))
        .ok()
        .map(|why| why.trim().to_string())
        .filter(|why| !why.is_empty())
}

/// Checks the drop `file` against its `sig` file (by default `file` +
/// `.sig`) and the public key in `pubkey`.
pub fn verify_drop(pubkey: &Path, file: &Path, sig: Option<&Path>) -> Result<(), DropRefusal> {
    let key_pem = std::fs::read(pubkey).map_err(|e| DropRefusal::Key {
        path: pubkey.display().to_string(),
        why: e.to_string(),
    })?;
    let key = FleetKey::from_pem(&key_pem).map_err(|why| DropRefusal::Key {
        path: pubkey.display().to_string(),
        why,
    })?;
    let sig_path = sig.map_or_else(
        || {
            let mut p = file.as_os_str().to_owned();
            p.push(".sig");
            std::path::PathBuf::from(p)
        },
        Path::to_path_buf,
    );
    let sig_name = sig_path.file_name().map_or_else(
        || sig_path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let signature = match std::fs::read(&sig_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DropRefusal::Unsigned { sig: sig_name });
        }
        Err(e) => {
            return Err(DropRefusal::Io {
                path: sig_path.display().to_string(),
                why: e.to_string(),
            })
        }
    };
    if signature.len() != 64 {
        return Err(DropRefusal::Malformed {
            sig: sig_name,
            len: signature.len(),
        });
    }
    let text = std::fs::read(file).map_err(|e| DropRefusal::Io {
        path: file.display().to_string(),
        why: e.to_string(),
    })?;
    key.verify(&text, &signature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn pair(seed: u8) -> (Ed25519KeyPair, Vec<u8>) {
        let kp = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        let mut der = SPKI_ED25519_PREFIX.to_vec();
        der.extend_from_slice(kp.public_key().as_ref());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64_encode(&der)
        );
        (kp, pem.into_bytes())
    }

    /// Standard base64 with padding (the PEM body), for the test keys.
    fn base64_encode(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn openssls_public_key_pem_reads_as_the_fleet_key() {
        // `openssl genpkey -algorithm ed25519 | openssl pkey -pubout`.
        let pem = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAk7jbrHlUAnpEAzik3LwrbiixkSwPpw+/yIIjgqZirHs=\n-----END PUBLIC KEY-----\n";
        let key = FleetKey::from_pem(pem).unwrap();
        assert_eq!(key.0[..4], [0x93, 0xb8, 0xdb, 0xac]);
        // An EC P-256 key is not the fleet's kind of key.
        let ec = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhmSDu2QzcfHCz3Hjbyz5ZRJ4kM2Hh3Xm3ntZhCPxlEv8UHbLzCL4t3TEDtmUWk1zH4uN0mbr5f3U0V6sMYqLxw==\n-----END PUBLIC KEY-----\n";
        assert!(FleetKey::from_pem(ec).is_err());
        assert!(FleetKey::from_pem(b"garbage").is_err());
    }

    #[test]
    fn only_the_fleet_keys_signature_of_the_exact_bytes_passes() {
        let dir = tempfile::tempdir().unwrap();
        let (kp, pem) = pair(7);
        let (other, _) = pair(8);
        let pubkey = dir.path().join("fleet.pub.pem");
        std::fs::write(&pubkey, &pem).unwrap();
        let drop = dir.path().join("kiosk.toml");
        let sig = dir.path().join("kiosk.toml.sig");
        let text = b"[central]\nurl = \"https://central.example\"\n";
        std::fs::write(&drop, text).unwrap();

        assert!(matches!(
            verify_drop(&pubkey, &drop, None),
            Err(DropRefusal::Unsigned { .. })
        ));
        std::fs::write(&sig, b"short").unwrap();
        assert!(matches!(
            verify_drop(&pubkey, &drop, None),
            Err(DropRefusal::Malformed { len: 5, .. })
        ));
        std::fs::write(&sig, other.sign(text).as_ref()).unwrap();
        assert_eq!(
            verify_drop(&pubkey, &drop, None),
            Err(DropRefusal::Mismatch)
        );
        std::fs::write(&sig, kp.sign(text).as_ref()).unwrap();
        assert_eq!(verify_drop(&pubkey, &drop, None), Ok(()));
        // One byte changed after signing.
        std::fs::write(&drop, b"[central]\nurl = \"https://central.exampl3\"\n").unwrap();
        assert_eq!(
            verify_drop(&pubkey, &drop, None),
            Err(DropRefusal::Mismatch)
        );
        // No key in the image: refused, saying so.
        let err = verify_drop(&dir.path().join("none.pem"), &drop, None).unwrap_err();
        assert!(matches!(err, DropRefusal::Key { .. }), "{err}");
        // The messages name files and causes, never the file's values.
        for e in [
            DropRefusal::Mismatch,
            DropRefusal::Unsigned {
                sig: "kiosk.toml.sig".into(),
            },
        ] {
            assert!(!e.to_string().contains("central.example"));
        }
    }
}
