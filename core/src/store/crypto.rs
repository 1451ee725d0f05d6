//! The device key and the sealing of personal fields.
//!
//! One 32-byte key per device lives in `DATA/keys/store.key`. It is created
//! once, on first run, from the operating system's random source: written to
//! a temporary file opened with `create_new` and mode 0600 (so it is never
//! readable by anyone else, not even for an instant), synced, then
//! hard-linked into place (a link never overwrites, so two racing first
//! runs cannot end up with different keys, and a crash mid-write leaves only
//! the temporary file, never a short key). The `keys` directory is created
//! with mode 0700. On every open the key file must be a regular file of
//! exactly 32 bytes with no group/other permission bits; anything else is
//! refused with an error that says what to fix, because silently creating a
//! new key would make every stored order unreadable.
//!
//! The key is held in [`Zeroizing`] memory and never logged or printed
//! (`DeviceKey`'s `Debug` is redacted). Sealing is ChaCha20-Poly1305 with a
//! fresh random 96-bit nonce per record; the sealed form is
//! `nonce ‖ ciphertext ‖ tag`. The associated data binds a record to its
//! order id, so a sealed blob copied under another id does not decrypt.

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::StoreError;

/// Length of the device key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the nonce prepended to every sealed record.
pub const NONCE_LEN: usize = 12;
/// Name of the key file inside the keys directory.
pub const KEY_FILE: &str = "store.key";

/// The device key that seals personal fields. Zeroized on drop; its `Debug`
/// never shows the bytes.
pub struct DeviceKey {
    /// The key bytes.
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl DeviceKey {
    /// Loads the key from `keys_dir/store.key`, creating the directory (0700)
    /// and, when `may_create` (first run: nothing sealed yet), the key (0600,
    /// 32 random bytes).
    pub fn load_or_create(keys_dir: &Path, may_create: bool) -> Result<Self, StoreError> {
        ensure_private_dir(keys_dir)?;
        let path = keys_dir.join(KEY_FILE);
        match fs::symlink_metadata(&path) {
            Ok(_) => Self::load(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_create => {
                Err(StoreError::KeyMissing { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::create(keys_dir, &path)?;
                Self::load(&path)
            }
            Err(e) => Err(io_err("inspect the key file", &path)(e)),
        }
    }

    /// Reads and checks an existing key file.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let meta = fs::symlink_metadata(path).map_err(io_err("inspect the key file", path))?;
        if !meta.file_type().is_file() {
            return Err(StoreError::KeyNotAFile {
                path: path.to_path_buf(),
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() != KEY_LEN as u64 {
            return Err(StoreError::KeyLength {
                path: path.to_path_buf(),
                len: meta.len(),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(io_err("open the key file", path))?;
        // Read at most one byte more than a key so a file that grew between
        // the check and the read is still caught.
        let mut buf = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
        (&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(io_err("read the key file", path))?;
        if buf.len() != KEY_LEN {
            return Err(StoreError::KeyLength {
                path: path.to_path_buf(),
                len: buf.len() as u64,
            });
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&buf);
        Ok(Self { bytes })
    }

    /// Creates a fresh key file atomically (see the module docs).
    fn create(keys_dir: &Path, path: &Path) -> Result<(), StoreError> {
        let tmp = keys_dir.join(format!("{KEY_FILE}.tmp"));
        // A leftover from a crash during an earlier first run: never linked,
        // so never used; safe to discard.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove a stale temporary key", &tmp)(e)),
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("create the key file", &tmp))?;
            file.write_all(&bytes[..])
                .map_err(io_err("write the key file", &tmp))?;
            file.sync_all().map_err(io_err("sync the key file", &tmp))?;
        }
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            // Another process won the race: its key is the key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("install the key file", path)(e)),
        }
        fs::remove_file(&tmp).map_err(io_err("remove the temporary key", &tmp))?;
        if let Ok(dir) = fs::File::open(keys_dir) {
            // Best effort: make the new directory entry durable.
            let _ = dir.sync_all();
        }
        tracing::info!(path = %path.display(), "created a new device key");
        Ok(())
    }

    /// The key from raw bytes (tests and tooling).
    #[doc(hidden)]
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> Self {
        Self {
            bytes: Zeroizing::new(raw),
        }
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.bytes[..]))
    }

    /// Seals `plain` bound to `aad`: `nonce ‖ ciphertext ‖ tag`.
    ///
    /// `local_id` is only used for the error.
    pub fn seal(&self, aad: &[u8], plain: &[u8], local_id: &str) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| StoreError::Encrypt {
                local_id: local_id.to_owned(),
            })?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a sealed blob bound to `aad`. A wrong key, a tampered blob or a
    /// blob sealed for another id all give [`StoreError::Decrypt`], never
    /// garbage.
    pub fn open(
        &self,
        aad: &[u8],
        sealed: &[u8],
        local_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let err = || StoreError::Decrypt {
            local_id: local_id.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(err());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| err())
    }
}

/// Creates `dir` with mode 0700 if missing; refuses an existing directory
/// that others can read, enter or write.
fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("create the keys directory", dir)(e)),
    }
    let meta = fs::metadata(dir).map_err(io_err("inspect the keys directory", dir))?;
    if !meta.is_dir() {
        return Err(StoreError::KeysDirNotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::KeysDirPermissions {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The key file's path under a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join(KEY_FILE)
}
