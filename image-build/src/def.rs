//! Image definitions: `images/<name>.toml`, data not code.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One image definition.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDef {
    /// Image name (`rpi4`, `qemu-virt`); must match the file name.
    pub name: String,
    /// The Debian root file system.
    pub debian: Debian,
    /// Partition sizes.
    pub layout: Layout,
    /// How the kiosk binary is built.
    pub kiosk: KioskBuild,
    /// What differs per board.
    pub board: Board,
    /// How the emulated board is booted (test boards only).
    pub qemu: Option<Qemu>,
}

/// The Debian root file system recipe.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Debian {
    /// Suite, e.g. `bookworm`.
    pub suite: String,
    /// Main mirror.
    pub mirror: String,
    /// Security mirror.
    pub security_mirror: String,
    /// Archive components.
    pub components: Vec<String>,
    /// Packages installed on top of `minbase`.
    pub packages: Vec<String>,
    /// Modules the initramfs carries (`MODULES=list`).
    pub initramfs_modules: Vec<String>,
    /// Module trees (relative to `/usr/lib/modules/<version>/`) removed.
    pub drop_module_dirs: Vec<String>,
}

/// Partition sizes in MiB. Order on disk: boot, root A, root B, data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Boot partition (FAT32, firmware, kernel, initrd).
    pub boot_mib: u64,
    /// Each root slot (ext4, read-only at run time).
    pub root_mib: u64,
    /// Data partition (ext4, `/data`).
    pub data_mib: u64,
}

/// The kiosk binary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KioskBuild {
    /// Rust target triple.
    pub target: String,
    /// Cargo features of the `kiosk` package.
    pub features: Vec<String>,
}

/// Whether the face models must be in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelsPolicy {
    /// The build fails without them.
    Required,
    /// Installed when available.
    Optional,
}

/// How the status token gets onto the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenPolicy {
    /// First boot writes a random one.
    Provision,
    /// The build writes a random one into the data partition and a copy
    /// next to the image (test images, so the boot test can authenticate).
    Preseed,
}

/// How the board reaches U-Boot, which runs the boot script on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootChain {
    /// The Pi firmware on the FAT partition starts Debian's `u-boot-rpi`
    /// (`rpi_arm64`) from there (`kernel=u-boot.bin`).
    UBootRpi,
    /// qemu's `-bios` runs the host's `u-boot-qemu` (`qemu_arm64`): the
    /// emulated board's flash.
    UBootQemu,
}

/// What differs per board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// `rpi4` or `qemu-virt`.
    pub kind: String,
    /// The boot chain up to U-Boot.
    pub boot: BootChain,
    /// Kernel command line; `{root}` becomes the root slot's PARTUUID.
    pub cmdline: String,
    /// Lines appended to the firmware's `config.txt`.
    pub config_txt: Vec<String>,
    /// The kiosk's default config, relative to the images folder.
    pub kiosk_config: PathBuf,
    /// Status token policy.
    pub status_token: TokenPolicy,
    /// Face models policy.
    pub models: ModelsPolicy,
    /// Extra systemd units (from `image-build/files`) enabled on this board.
    #[serde(default)]
    pub extra_units: Vec<String>,
    /// A CA certificate (PEM, relative to the images folder) installed as
    /// `/etc/kiosk/central-ca.pem` and pinned by the default config: the
    /// emulated board's test central. A real site pins its own.
    #[serde(default)]
    pub central_ca: Option<PathBuf>,
}

/// How `boot-test` runs the image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    /// `-M`.
    pub machine: String,
    /// `-cpu`.
    pub cpu: String,
    /// `-smp`.
    pub smp: u32,
    /// `-m`, MiB.
    pub memory_mib: u32,
}

/// The `image-build` folder of the checkout being built, found at run time:
/// `$KIOSK_IMAGE_BUILD_DIR`, else the first `image-build/images` above the
/// current folder, else the folder this binary was compiled in. (Compiled-in
/// alone is wrong when a warm target directory serves two checkouts: cargo
/// does not rebuild for a new path, so the binary would read the old one's
/// definitions and sources.)
pub fn source_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KIOSK_IMAGE_BUILD_DIR") {
        return PathBuf::from(d);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            for candidate in [dir.to_path_buf(), dir.join("image-build")] {
                if candidate.join("images").is_dir() && candidate.join("Cargo.toml").is_file() {
                    return candidate;
                }
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace holding `image-build` (where `cargo build -p kiosk` runs).
pub fn workspace_dir() -> PathBuf {
    source_dir().join("..")
}

/// The folder holding the definitions (`image-build/images`).
pub fn images_dir() -> PathBuf {
    source_dir().join("images")
}

/// The rootfs overlay (`image-build/files`).
pub fn files_dir() -> PathBuf {
    source_dir().join("files")
}

impl ImageDef {
    /// Loads and checks `DIR/<name>.toml`.
    pub fn load(dir: &Path, name: &str) -> anyhow::Result<Self> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("image name {name:?}: use letters, digits and '-'");
        }
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no image definition {} (known: {})",
                path.display(),
                known(dir).join(", ")
            )
        })?;
        let def: ImageDef =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        def.validate(name)?;
        Ok(def)
    }

    fn validate(&self, file_name: &str) -> anyhow::Result<()> {
        if self.name != file_name {
            bail!("{file_name}.toml says name = {:?}", self.name);
        }
        if !self.board.cmdline.contains("root=PARTUUID={root}") {
            bail!("board.cmdline must select the root slot by root=PARTUUID={{root}}");
        }
        if !self.board.cmdline.split_whitespace().any(|w| w == "ro") {
            bail!("board.cmdline must mount the root read-only (`ro`)");
        }
        let l = self.layout;
        if l.boot_mib < 64 || l.root_mib < 256 || l.data_mib < 32 {
            bail!("layout: boot >= 64 MiB, root >= 256 MiB, data >= 32 MiB");
        }
        if self.debian.packages.is_empty() {
            bail!("debian.packages is empty");
        }
        Ok(())
    }

    /// Hash of everything the cached root file system depends on.
    pub fn rootfs_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"kiosk-rootfs-v1\n");
        h.update(toml::to_string(&self.debian).unwrap_or_default().as_bytes());
        h.update(crate::rootfs::ESSENTIAL_HOOK.as_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

fn known(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".toml")?;
            (!stem.ends_with("-kiosk")).then(|| stem.to_string())
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> ImageDef {
        ImageDef::load(&images_dir(), name).expect("definition loads")
    }

    #[test]
    fn both_boards_share_the_root_file_system_layout_and_binary() {
        let pi = load("rpi4");
        let virt = load("qemu-virt");
        assert_eq!(pi.debian, virt.debian);
        assert_eq!(pi.layout, virt.layout);
        assert_eq!(pi.kiosk, virt.kiosk);
        assert_eq!(pi.rootfs_key(), virt.rootfs_key(), "one cached rootfs");
        assert!(pi.qemu.is_none());
        assert!(virt.qemu.is_some());
    }

    #[test]
    fn the_rpi4_image_has_fonts_firmware_and_device_features() {
        let pi = load("rpi4");
        for p in ["fonts-wqy-microhei", "fonts-dejavu-core", "raspi-firmware"] {
            assert!(pi.debian.packages.iter().any(|x| x == p), "{p}");
        }
        assert_eq!(pi.kiosk.features, vec!["device".to_string()]);
        assert_eq!(pi.board.models, ModelsPolicy::Required);
    }

    #[test]
    fn default_kiosk_configs_are_valid_kiosk_configs() {
        for name in ["rpi4", "qemu-virt"] {
            let def = load(name);
            let path = images_dir().join(&def.board.kiosk_config);
            let cfg = kiosk::config::Config::from_file(&path).expect("valid kiosk config");
            assert_eq!(cfg.data_dir, Path::new("/data/kiosk"), "{name}");
            // What the image ships must start: no twin, no simulator, no
            // clear text, a token for the status endpoint.
            assert_eq!(cfg.check_deployable(), Ok(()), "{name}");
            if let Some(ca) = &def.board.central_ca {
                assert!(images_dir().join(ca).is_file(), "{name}: {}", ca.display());
                assert_eq!(
                    cfg.central.ca_cert.as_deref(),
                    Some(Path::new("/etc/kiosk/central-ca.pem")),
                    "{name} pins the CA it ships"
                );
            }
        }
    }

    #[test]
    fn an_unknown_image_names_the_known_ones() {
        let err = ImageDef::load(&images_dir(), "rpi5").expect_err("no such image");
        let msg = format!("{err:#}");
        assert!(msg.contains("qemu-virt, rpi4"), "{msg}");
        assert!(ImageDef::load(&images_dir(), "../x").is_err());
    }

    #[test]
    fn a_writable_root_or_label_selected_root_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = std::fs::read_to_string(images_dir().join("rpi4.toml")).expect("read");
        for (from, to) in [
            (" ro rootwait", " rw rootwait"),
            ("root=PARTUUID={root}", "root=LABEL=root"),
        ] {
            std::fs::write(dir.path().join("rpi4.toml"), text.replace(from, to)).expect("write");
            assert!(ImageDef::load(dir.path(), "rpi4").is_err(), "{to}");
        }
    }
}
