//! The fleet's configuration-signing key (ed25519): the image names its
//! public half (`/etc/kiosk/config-signing.pub.pem`), and provisioning
//! applies a `kiosk.toml` left on the boot partition only with a signature
//! by the private half (`kiosk.toml.sig`, see `kiosk config verify-drop`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::rootfs::Caches;
use crate::step::run;

/// Where the image keeps the public key.
pub const IMAGE_PATH: &str = "etc/kiosk/config-signing.pub.pem";

/// The configuration-signing key an image is built with.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    /// The public half (PEM), installed in the image.
    pub public: PathBuf,
    /// The private half, when image-build holds it (the development key):
    /// the e2e and update tests sign their drops with it.
    pub private: Option<PathBuf>,
}

impl ConfigKey {
    /// A company's public key from `$KIOSK_CONFIG_SIGNING_PUB` (its private
    /// half stays with whoever runs the fleet), else the development key
    /// pair in the cache, made on first use.
    pub fn resolve(caches: &Caches) -> anyhow::Result<Self> {
        if let Some(p) = std::env::var_os("KIOSK_CONFIG_SIGNING_PUB").map(PathBuf::from) {
            if !p.is_file() {
                bail!("KIOSK_CONFIG_SIGNING_PUB: {} does not exist", p.display());
            }
            return Ok(Self {
                public: p,
                private: None,
            });
        }
        development_key(&caches.dev_keys)
    }

    /// The private half, or why the drops cannot be signed here.
    pub fn private(&self) -> anyhow::Result<&Path> {
        self.private.as_deref().context(
            "the image was built with a company's configuration key \
             (KIOSK_CONFIG_SIGNING_PUB): sign drops where its private half is",
        )
    }
}

/// An ed25519 key pair in `dir` (made once with openssl, kept).
fn development_key(dir: &Path) -> anyhow::Result<ConfigKey> {
    let key = ConfigKey {
        public: dir.join("config-signing.pub.pem"),
        private: Some(dir.join("config-signing.key.pem")),
    };
    let private = dir.join("config-signing.key.pem");
    if key.public.is_file() && private.is_file() {
        return Ok(key);
    }
    std::fs::create_dir_all(dir)?;
    run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&private))
    .context("openssl could not make the development configuration key")?;
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&key.public))?;
    Ok(key)
}

/// Signs `file` with the ed25519 key `private` into `file.sig`, as the
/// fleet signs a drop (`openssl pkeyutl -sign -rawin`).
pub fn sign(private: &Path, file: &Path) -> anyhow::Result<PathBuf> {
    let mut sig = file.as_os_str().to_owned();
    sig.push(".sig");
    let sig = PathBuf::from(sig);
    run(Command::new("openssl")
        .args(["pkeyutl", "-sign", "-rawin", "-inkey"])
        .arg(private)
        .arg("-in")
        .arg(file)
        .arg("-out")
        .arg(&sig))
    .context("openssl could not sign the drop")?;
    Ok(sig)
}
