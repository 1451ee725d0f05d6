//! The Debian root file system: `mmdebstrap` from arm64 packages under
//! qemu-user, cached as a tarball keyed on the recipe, with downloaded
//! `.deb`s kept between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::def::Debian;
use crate::step::{run, Step};

/// Runs inside the new root before the packages are configured: the
/// initramfs carries a fixed module list instead of `MODULES=most`, which
/// takes 20+ minutes under emulation. `$1` is the root; the list follows.
pub const ESSENTIAL_HOOK: &str = r#"set -e
root="$1"; shift
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/usr/share/initramfs-tools/modules.d"
echo MODULES=list > "$root/etc/initramfs-tools/conf.d/kiosk-modules.conf"
printf '%s\n' "$@" > "$root/usr/share/initramfs-tools/modules.d/kiosk.conf"
"#;

/// The caches kept between runs (outside the clone).
pub struct Caches {
    /// Downloaded `.deb`s.
    pub debs: PathBuf,
    /// Root file system tarballs by recipe hash.
    pub rootfs: PathBuf,
    /// Face models fetched by `kiosk models fetch`.
    pub models: PathBuf,
    /// Work folders of builds (one per image, cleared per build).
    pub work: PathBuf,
    /// The development update-signing keys, made on first use.
    pub dev_keys: PathBuf,
}

impl Caches {
    /// `$KIOSK_IMAGE_CACHE`, else `$HOME/.cache/kiosk-image`.
    pub fn from_env() -> anyhow::Result<Self> {
        let base = match std::env::var_os("KIOSK_IMAGE_CACHE") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
                .join(".cache/kiosk-image"),
        };
        let c = Self {
            debs: base.join("debs"),
            rootfs: base.join("rootfs"),
            models: base.join("models"),
            work: base.join("work"),
            dev_keys: base.join("dev-keys"),
        };
        std::fs::create_dir_all(&c.debs)?;
        std::fs::create_dir_all(&c.rootfs)?;
        Ok(c)
    }
}

/// The `mmdebstrap` arguments building `out` from the recipe.
pub fn mmdebstrap_args(d: &Debian, debs: &Path, out: &Path) -> Vec<String> {
    let debs = debs.display();
    let comps = d.components.join(" ");
    let mut hook = String::from("sh -c '");
    hook.push_str(&ESSENTIAL_HOOK.replace('\'', "'\\''"));
    hook.push_str("' hook \"$1\" ");
    hook.push_str(&d.initramfs_modules.join(" "));
    vec![
        "--arch=arm64".into(),
        "--variant=minbase".into(),
        format!("--components={}", d.components.join(",")),
        format!("--include={}", d.packages.join(",")),
        "--skip=download/empty".into(),
        "--skip=essential/unlink".into(),
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/".to_string(),
        format!("--setup-hook=sync-in {debs} /var/cache/apt/archives/"),
        format!("--essential-hook={hook}"),
        format!("--customize-hook=sync-out /var/cache/apt/archives {debs}"),
        "--customize-hook=rm -f \"$1\"/var/cache/apt/archives/*.deb \"$1\"/var/lib/apt/lists/*_Packages".into(),
        d.suite.clone(),
        out.display().to_string(),
        format!("deb {} {} {comps}", d.mirror, d.suite),
        format!("deb {} {}-updates {comps}", d.mirror, d.suite),
        format!("deb {} {}-security {comps}", d.security_mirror, d.suite),
    ]
}

/// Makes sure aarch64 binaries run through qemu-user (binfmt_misc is not
/// mounted by default in this kind of container; machine-wide and harmless).
pub fn enable_binfmt() -> anyhow::Result<()> {
    let dir = Path::new("/proc/sys/fs/binfmt_misc");
    if !dir.join("register").exists() {
        run(Command::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc"])
            .arg(dir))?;
    }
    if !dir.join("qemu-aarch64").exists() {
        run(Command::new("update-binfmts").args(["--enable", "qemu-aarch64"]))?;
    }
    Ok(())
}

/// The cached root file system tarball for `key`, built when missing.
pub fn ensure(d: &Debian, key: &str, caches: &Caches) -> anyhow::Result<(PathBuf, bool)> {
    let tar = caches.rootfs.join(format!("rootfs-{key}.tar"));
    if tar.exists() {
        eprintln!("image-build: root file system from cache {}", tar.display());
        return Ok((tar, true));
    }
    enable_binfmt()?;
    // mmdebstrap picks the output format from the extension: keep `.tar`.
    let partial = caches.rootfs.join(format!("rootfs-{key}.partial.tar"));
    let step = Step::start(format!("mmdebstrap {} arm64 (several minutes)", d.suite));
    run(Command::new("mmdebstrap").args(mmdebstrap_args(d, &caches.debs, &partial)))?;
    std::fs::rename(&partial, &tar)?;
    step.done();
    // Older recipes' tarballs are of no further use.
    for e in std::fs::read_dir(&caches.rootfs)?.flatten() {
        if e.path() != tar {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok((tar, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_gets_the_module_list_and_the_caches_are_wired() {
        let d = crate::def::ImageDef::load(&crate::def::images_dir(), "qemu-virt")
            .expect("loads")
            .debian;
        let a = mmdebstrap_args(&d, Path::new("/c/debs"), Path::new("/o/r.tar"));
        let hook = a
            .iter()
            .find(|x| x.starts_with("--essential-hook="))
            .expect("hook");
        assert!(hook.ends_with(&d.initramfs_modules.join(" ")), "{hook}");
        assert!(a.contains(&"--setup-hook=sync-in /c/debs /var/cache/apt/archives/".to_string()));
        assert!(
            a.contains(&"--customize-hook=sync-out /var/cache/apt/archives /c/debs".to_string())
        );
        assert!(a
            .iter()
            .any(|x| x.starts_with("--include=") && x.contains("linux-image-arm64")));
        assert!(a.contains(
            &"deb http://deb.debian.org/debian-security bookworm-security main non-free-firmware"
                .to_string()
        ));
    }

    #[test]
    fn the_hook_script_writes_the_module_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = Command::new("sh")
            .arg("-c")
            .arg(ESSENTIAL_HOOK)
            .arg("hook")
            .arg(dir.path())
            .args(["ext4", "virtio_blk"])
            .status()
            .expect("sh runs");
        assert!(st.success());
        let list = std::fs::read_to_string(
            dir.path()
                .join("usr/share/initramfs-tools/modules.d/kiosk.conf"),
        )
        .expect("list written");
        assert_eq!(list, "ext4\nvirtio_blk\n");
        let conf = std::fs::read_to_string(
            dir.path()
                .join("etc/initramfs-tools/conf.d/kiosk-modules.conf"),
        )
        .expect("conf written");
        assert_eq!(conf, "MODULES=list\n");
    }
}
