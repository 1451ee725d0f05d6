//! `image-build build`: kiosk binary, root file system, partitions, image,
//! manifest.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

use crate::def::{files_dir, images_dir, BootChain, ImageDef, ModelsPolicy, TokenPolicy};
use crate::layout::{disk_id_from, Disk};
use crate::manifest::{self, Manifest};
use crate::rootfs::{self, Caches};
use crate::step::{run, Step};

/// What `build` needs besides the definition.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Image definition name.
    pub image: String,
    /// Output folder.
    pub out: PathBuf,
    /// Face models folder (else the cache, else `kiosk models fetch`).
    pub models: Option<PathBuf>,
    /// A kiosk binary already built for the target (skips cargo).
    pub kiosk_bin: Option<PathBuf>,
    /// Keep the work folder (root file system tree, partition files).
    pub keep_work: bool,
}

/// The file names of one build's outputs, all in the output folder.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// `kiosk-<version>-<image>`.
    pub prefix: String,
    /// The output folder.
    pub dir: PathBuf,
}

impl Outputs {
    /// Outputs of `image` at this version in `dir`.
    pub fn new(dir: &Path, image: &str) -> Self {
        Self {
            prefix: format!("kiosk-{}-{image}", env!("CARGO_PKG_VERSION")),
            dir: dir.to_path_buf(),
        }
    }

    /// `DIR/<prefix><suffix>`.
    pub fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.prefix))
    }
}

/// Builds the image; returns its manifest (also written next to it).
pub fn build(opts: &BuildOptions) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let commit = manifest::git_commit();
    let def = ImageDef::load(&images_dir(), &opts.image)?;
    let caches = Caches::from_env()?;
    fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let out = Outputs::new(&opts.out, &def.name);

    let kiosk = match &opts.kiosk_bin {
        Some(p) => p.clone(),
        None => cross_build(&def)?,
    };
    check_arch(&kiosk)?;
    // Kept beside the image: the boot test checks it holds no simulator.
    fs::copy(&kiosk, out.file(".kiosk"))
        .with_context(|| format!("cannot copy {} to the outputs", kiosk.display()))?;
    let models = resolve_models(opts.models.as_deref(), def.board.models, &caches)?;
    let key = def.rootfs_key();
    let (tar, rootfs_cached) = rootfs::ensure(&def.debian, &key, &caches)?;

    let work = caches.work.join(&def.name);
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot clear {}", work.display()))?;
    }
    let (root, boot, data) = (work.join("rootfs"), work.join("boot"), work.join("data"));
    for d in [&root, &boot, &data] {
        fs::create_dir_all(d)?;
    }
    let step = Step::start("unpack the root file system");
    run(Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&root))?;
    step.done();

    let disk = Disk::new(
        def.layout,
        disk_id_from(&format!("{} {}", def.name, env!("CARGO_PKG_VERSION"))),
    );
    let kver = kernel_version(&root)?;
    let release = release_version(&commit);
    let keys = crate::rauc::Keys::resolve(&caches)?;
    let config_key = crate::signing::ConfigKey::resolve(&caches)?;
    let step = Step::start("install the kiosk, its config, units, models and RAUC");
    customize(&def, &disk, &root, &kiosk, models.as_deref(), &kver)?;
    crate::rauc::install_config(&def, &disk, &root, &keys)?;
    // The fleet's configuration key: drops on the boot partition are
    // applied only with its signature (provision, `kiosk config verify-drop`).
    fs::copy(&config_key.public, root.join(crate::signing::IMAGE_PATH)).with_context(|| {
        format!(
            "cannot install the configuration key {}",
            config_key.public.display()
        )
    })?;
    write_file(
        &root.join("etc/kiosk/release"),
        &format!("VERSION={release}\nIMAGE={}\n", def.name),
        0o644,
    )?;
    step.done();
    let step = Step::start("boot partition: U-Boot, boot script, slot counters");
    let cmdline = disk
        .cmdline(&def.board.cmdline, "root-a")
        .context("no root-a slot")?;
    boot_partition(&def, &disk, &root, &boot, &work, &kver, &out)?;
    step.done();
    let token = stage_data(&def, &root, &data, &out)?;

    let step = Step::start("file systems (vfat, ext4 -d)");
    let files = crate::disk::make_filesystems(&disk, &work, &boot, &root, &data)?;
    step.done();
    let step = Step::start("assemble the partitioned image");
    let img = out.file(".img");
    crate::disk::assemble(&disk, &files, &img)?;
    let table = run(Command::new("sfdisk").arg("-d").arg(&img))?;
    fs::write(out.file(".sfdisk"), &table)?;
    step.done();
    let step = Step::start("compress (zstd --long=31)");
    let zst = out.file(".img.zst");
    run(Command::new("zstd")
        .args(["-q", "-f", "-6", "--long=31", "-T0"])
        .arg(&img)
        .arg("-o")
        .arg(&zst))?;
    step.done();

    let step = Step::start("checksums and manifest");
    let m = manifest::write(manifest::Inputs {
        def: &def,
        disk: &disk,
        files: &files,
        img: &img,
        zst: &zst,
        kiosk: &kiosk,
        root: &root,
        kernel: &kver,
        cmdline: &cmdline,
        table: &table,
        rootfs_key: &key,
        rootfs_cached,
        models: models.is_some(),
        status_token_preseeded: token.is_some(),
        seconds: started.elapsed().as_secs_f64(),
        out: &out,
        git_commit: commit,
        release: &release,
    })?;
    step.done();
    if !opts.keep_work {
        let _ = fs::remove_dir_all(&work);
    }
    Ok(m)
}

/// Cross-compiles `kiosk` for the definition's target and features, without
/// the default features: the host's `sim` (the simulator and the twins)
/// never reaches the device.
fn cross_build(def: &ImageDef) -> anyhow::Result<PathBuf> {
    let step = Step::start(format!(
        "cargo build --release --target {} -p kiosk --no-default-features --features {}",
        def.kiosk.target,
        def.kiosk.features.join(",")
    ));
    let workspace = crate::def::workspace_dir();
    let stdout = run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&workspace)
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "kiosk",
                "--bin",
                "kiosk",
                "--no-default-features",
            ])
            .args(["--target", &def.kiosk.target])
            .arg("--features")
            .arg(def.kiosk.features.join(","))
            .args(["--message-format", "json-render-diagnostics"]),
    )?;
    step.done();
    executable_from_cargo_json(&stdout, "kiosk").context("cargo reported no kiosk executable")
}

/// The `executable` of the artifact named `name` in cargo's JSON messages.
pub fn executable_from_cargo_json(stdout: &str, name: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == name)
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .next_back()
}

/// Refuses a kiosk binary that is not an aarch64 ELF.
fn check_arch(bin: &Path) -> anyhow::Result<()> {
    let mut head = [0u8; 20];
    let mut f = fs::File::open(bin).with_context(|| format!("cannot open {}", bin.display()))?;
    std::io::Read::read_exact(&mut f, &mut head)
        .with_context(|| format!("{} is too short for an ELF", bin.display()))?;
    // e_machine 183 = EM_AARCH64 (little endian).
    if &head[..4] != b"\x7fELF" || u16::from_le_bytes([head[18], head[19]]) != 183 {
        bail!("{} is not an aarch64 ELF executable", bin.display());
    }
    Ok(())
}

fn has_models(dir: &Path) -> bool {
    fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n.ends_with(".onnx") || n.ends_with(".tflite")
    })
}

/// Where the face models come from: `--models`, `$KIOSK_MODELS_DIR`, the
/// cache, else `kiosk models fetch` into the cache.
fn resolve_models(
    flag: Option<&Path>,
    policy: ModelsPolicy,
    caches: &Caches,
) -> anyhow::Result<Option<PathBuf>> {
    let env = std::env::var_os("KIOSK_MODELS_DIR").map(PathBuf::from);
    if let Some(d) = flag.map(Path::to_path_buf).or(env) {
        if !has_models(&d) {
            bail!("{} holds no .onnx or .tflite model", d.display());
        }
        return Ok(Some(d));
    }
    if has_models(&caches.models) {
        return Ok(Some(caches.models.clone()));
    }
    let step = Step::start("kiosk models fetch (host build of kiosk)");
    let workspace = crate::def::workspace_dir();
    let fetched = run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&workspace)
            .args(["run", "-q", "-p", "kiosk", "--", "models", "fetch", "--dir"])
            .arg(&caches.models),
    );
    step.done();
    match (fetched, policy) {
        (Ok(_), _) if has_models(&caches.models) => Ok(Some(caches.models.clone())),
        (Ok(_), ModelsPolicy::Optional) => Ok(None),
        (Err(e), ModelsPolicy::Optional) => {
            eprintln!("image-build: no face models (optional for this board): {e:#}");
            Ok(None)
        }
        (r, ModelsPolicy::Required) => bail!(
            "this image needs the face models: `kiosk models fetch` {}; pass --models DIR (or set KIOSK_MODELS_DIR) to a folder of them",
            match r {
                Err(e) => format!("failed: {e:#}"),
                Ok(_) => "produced no model".to_string(),
            }
        ),
    }
}

fn kernel_version(root: &Path) -> anyhow::Result<String> {
    let mut v: Vec<String> = fs::read_dir(root.join("usr/lib/modules"))
        .context("the root file system has no /usr/lib/modules")?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    match v.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected one kernel in the root file system, found {v:?}"),
    }
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    run(Command::new("cp")
        .args(["-r", "--preserve=mode", "--no-target-directory"])
        .arg(from)
        .arg(to))?;
    Ok(())
}

fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Host tools working on the root tree (`--root`), so nothing runs under
/// emulation here.
fn customize(
    def: &ImageDef,
    disk: &Disk,
    root: &Path,
    kiosk: &Path,
    models: Option<&Path>,
    kver: &str,
) -> anyhow::Result<()> {
    copy_tree(&files_dir(), root)?;
    fs::copy(kiosk, root.join("usr/bin/kiosk"))?;
    fs::set_permissions(
        root.join("usr/bin/kiosk"),
        fs::Permissions::from_mode(0o755),
    )?;
    let config = fs::read_to_string(images_dir().join(&def.board.kiosk_config))?;
    write_file(&root.join("etc/kiosk/kiosk.toml"), &config, 0o644)?;
    if let Some(ca) = &def.board.central_ca {
        let pem = fs::read_to_string(images_dir().join(ca))?;
        write_file(&root.join("etc/kiosk/central-ca.pem"), &pem, 0o644)?;
    }
    let mdir = root.join("usr/share/kiosk/models");
    fs::create_dir_all(&mdir)?;
    if let Some(m) = models {
        for e in fs::read_dir(m)?.flatten() {
            let n = e.file_name();
            let s = n.to_string_lossy();
            if s.ends_with(".onnx") || s.ends_with(".tflite") {
                fs::copy(e.path(), mdir.join(&n))?;
            }
        }
    }
    write_file(&root.join("etc/fstab"), &disk.fstab(), 0o644)?;
    write_file(&root.join("etc/hostname"), "kiosk\n", 0o644)?;
    write_file(
        &root.join("etc/hosts"),
        "127.0.0.1 localhost\n127.0.1.1 kiosk\n::1 localhost ip6-localhost ip6-loopback\n",
        0o644,
    )?;
    // Empty: systemd makes a transient id on the read-only root.
    write_file(&root.join("etc/machine-id"), "", 0o444)?;
    for d in [
        "data",
        "boot/firmware",
        "var/log/journal",
        "var/lib/systemd/timesync",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    let r = root.as_os_str();
    let group_exists = |g: &str| {
        fs::read_to_string(root.join("etc/group"))
            .map(|t| t.lines().any(|l| l.split(':').next() == Some(g)))
            .unwrap_or(false)
    };
    for g in ["gpio", "video", "dialout", "lp", "input", "render", "audio"] {
        if !group_exists(g) {
            run(Command::new("groupadd")
                .arg("--root")
                .arg(r)
                .args(["--system", g]))?;
        }
    }
    run(Command::new("useradd").arg("--root").arg(r).args([
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/data/kiosk",
        "--shell",
        "/usr/sbin/nologin",
        "--groups",
        "video,dialout,lp,gpio,input,render,audio",
        "kiosk",
    ]))?;
    run(Command::new("usermod")
        .arg("--root")
        .arg(r)
        .args(["--lock", "root"]))?;
    let mut enable = vec![
        "kiosk.service",
        "kiosk-provision.service",
        "kiosk-enroll.service",
        "kiosk-update-confirm.service",
        "kiosk-update-apply.path",
        "systemd-networkd.service",
        "systemd-resolved.service",
        "systemd-timesyncd.service",
    ];
    enable.extend(def.board.extra_units.iter().map(String::as_str));
    run(Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .arg("enable")
        .args(&enable))?;
    // No login anywhere: no getty on the screen or the serial console; and
    // Ctrl-Alt-Del on a keyboard does not reboot the kiosk.
    run(Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .arg("mask")
        .args([
            "ctrl-alt-del.target",
            "getty@.service",
            "serial-getty@.service",
            "console-getty.service",
            "autovt@.service",
            "getty.target",
        ]))?;
    let resolv = root.join("etc/resolv.conf");
    let _ = fs::remove_file(&resolv);
    std::os::unix::fs::symlink("/run/systemd/resolve/stub-resolv.conf", &resolv)?;
    if root.join("usr/share/zoneinfo/Asia/Shanghai").exists() {
        let lt = root.join("etc/localtime");
        let _ = fs::remove_file(&lt);
        std::os::unix::fs::symlink("/usr/share/zoneinfo/Asia/Shanghai", &lt)?;
        write_file(&root.join("etc/timezone"), "Asia/Shanghai\n", 0o644)?;
    }
    slim(def, root, kver)
}

/// Drops what a kiosk never uses: documentation, man pages, translations
/// and the listed kernel module trees (then rebuilds the module index).
fn slim(def: &ImageDef, root: &Path, kver: &str) -> anyhow::Result<()> {
    for d in [
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "usr/share/lintian",
    ] {
        let p = root.join(d);
        if p.exists() {
            for e in fs::read_dir(&p)?.flatten() {
                let path = e.path();
                if path.is_dir() && !path.is_symlink() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
        }
    }
    let mods = root.join("usr/lib/modules").join(kver);
    for d in &def.debian.drop_module_dirs {
        if d.contains("..") {
            bail!("drop_module_dirs: {d:?} leaves the module tree");
        }
        let p = mods.join(d);
        if p.exists() {
            fs::remove_dir_all(&p)?;
        }
    }
    run(Command::new("depmod").arg("-b").arg(root).arg(kver))?;
    Ok(())
}

/// The image's release version: the kiosk's version and the git commit
/// (`0.1.0+g0123abcdef`, `.dirty` with local changes). Bundles carry it and
/// the kiosk reports it (`/etc/kiosk/release`).
pub fn release_version(commit: &str) -> String {
    let (head, dirty) = match commit.strip_suffix("-dirty") {
        Some(h) => (h, ".dirty"),
        None => (commit, ""),
    };
    let short: String = head.chars().take(10).collect();
    format!("{}+g{short}{dirty}", env!("CARGO_PKG_VERSION"))
}

/// The boot partition: on the Pi its firmware (moved out of the root's
/// `/boot/firmware`) and U-Boot; on both boards the boot script and the
/// slot counters. The kernel, initrd and device tree stay in the slots
/// (`/boot/vmlinuz`, `/boot/initrd.img`, `/boot/dtbs`), so the copies the
/// Pi firmware package makes are dropped. The board's U-Boot (and for the
/// Pi the device tree qemu's raspi3b passes it) is also copied next to the
/// image for emulation.
fn boot_partition(
    def: &ImageDef,
    disk: &Disk,
    root: &Path,
    boot: &Path,
    work: &Path,
    kver: &str,
    out: &Outputs,
) -> anyhow::Result<()> {
    let fw = root.join("boot/firmware");
    for e in fs::read_dir(&fw)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let kernel_copy =
            name.starts_with("vmlinuz") || name.starts_with("initrd.img") || name == "cmdline.txt";
        if def.board.boot == BootChain::UBootRpi && !kernel_copy {
            fs::rename(e.path(), boot.join(e.file_name()))?;
        } else if e.path().is_dir() {
            fs::remove_dir_all(e.path())?;
        } else {
            fs::remove_file(e.path())?;
        }
    }
    let uboot = match def.board.boot {
        BootChain::UBootRpi => {
            let u = root.join("usr/lib/u-boot/rpi_arm64/u-boot.bin");
            fs::copy(&u, boot.join("u-boot.bin"))
                .context("the root file system has no U-Boot for the Pi (package u-boot-rpi)")?;
            fs::write(
                boot.join("config.txt"),
                rpi_config_txt(&def.name, &def.board.config_txt),
            )?;
            let dtb = root.join(format!(
                "usr/lib/linux-image-{kver}/broadcom/bcm2837-rpi-3-b.dtb"
            ));
            fs::copy(&dtb, out.file(".raspi3b.dtb"))
                .with_context(|| format!("no {}", dtb.display()))?;
            u
        }
        BootChain::UBootQemu => PathBuf::from(QEMU_UBOOT),
    };
    fs::copy(&uboot, out.file(".u-boot.bin")).with_context(|| {
        format!(
            "cannot copy {} (package {})",
            uboot.display(),
            match def.board.boot {
                BootChain::UBootRpi => "u-boot-rpi",
                BootChain::UBootQemu => "u-boot-qemu",
            }
        )
    })?;
    let script = crate::boot::boot_script(def, disk)?;
    crate::boot::compile_script(&script, work, &boot.join("boot.scr"))?;
    fs::write(out.file(".boot.cmd"), &script)?;
    let env = crate::boot::encode_env(&crate::boot::initial_counters(), crate::boot::ENV_SIZE)?;
    fs::write(boot.join("kiosk.env"), env)?;
    // The slot's own boot files, at names the script knows.
    for (link, target) in [
        ("boot/vmlinuz", format!("vmlinuz-{kver}")),
        ("boot/initrd.img", format!("initrd.img-{kver}")),
        ("boot/dtbs", format!("../usr/lib/linux-image-{kver}")),
    ] {
        let l = root.join(link);
        let _ = fs::remove_file(&l);
        if !l.parent().unwrap_or(root).join(&target).exists() {
            bail!("the root file system has no {target} for /{link}");
        }
        std::os::unix::fs::symlink(&target, &l)?;
    }
    Ok(())
}

/// The host's U-Boot for the emulated board (package u-boot-qemu).
pub const QEMU_UBOOT: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// The Pi firmware's `config.txt` (Pi 3 and Pi 4): U-Boot as the 64-bit
/// kernel, the upstream device trees, the UART U-Boot and the serial
/// console use, then the board's own lines. It replaces the one
/// raspi-firmware writes (which boots a kernel from the FAT partition); that
/// package's kernel hook never runs on the read-only root, where an update
/// replaces a whole slot.
pub fn rpi_config_txt(image: &str, extra: &[String]) -> String {
    let mut s = format!(
        "# Raspberry Pi firmware settings (image-build: {image}).\n\
         # The firmware starts U-Boot, whose boot.scr boots the kernel, initrd\n\
         # and device tree of root slot A or B (see docs/TECHNICIAN.md).\n\
         [all]\narm_64bit=1\nupstream_kernel=1\nkernel=u-boot.bin\nenable_uart=1\n"
    );
    for l in extra {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// `uid:gid` of a user and a group in the root's databases.
fn ids(root: &Path, user: &str, group: &str) -> anyhow::Result<(u32, u32)> {
    let find = |file: &str, name: &str, col: usize| -> anyhow::Result<u32> {
        let text = fs::read_to_string(root.join(file))?;
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name))
            .and_then(|f| f.get(col).and_then(|x| x.parse().ok()))
            .with_context(|| format!("no {name} in {file}"))
    };
    Ok((find("etc/passwd", user, 2)?, find("etc/group", group, 2)?))
}

/// The data partition's first contents: the kiosk's folder, a copy of the
/// image's `/var` with the journal folder (first boot would create them too),
/// and for test images the preseeded status token, also written next to the
/// image (mode 0600).
fn stage_data(
    def: &ImageDef,
    root: &Path,
    data: &Path,
    out: &Outputs,
) -> anyhow::Result<Option<String>> {
    let (uid, gid) = ids(root, "kiosk", "kiosk")?;
    let (_, journal_gid) = ids(root, "root", "systemd-journal")?;
    let k = data.join("kiosk");
    fs::create_dir_all(&k)?;
    fs::set_permissions(&k, fs::Permissions::from_mode(0o700))?;
    chown(&k, Some(uid), Some(gid))?;
    // RAUC's status (data-directory in /etc/rauc/system.conf).
    fs::create_dir_all(data.join("rauc"))?;
    fs::set_permissions(data.join("rauc"), fs::Permissions::from_mode(0o700))?;
    // /var lives on /data (bind mount): start from the image's own /var.
    run(Command::new("cp")
        .arg("-a")
        .arg(root.join("var"))
        .arg(data.join("var")))?;
    let j = data.join("var/log/journal");
    fs::create_dir_all(&j)?;
    fs::set_permissions(&j, fs::Permissions::from_mode(0o2755))?;
    chown(&j, Some(0), Some(journal_gid))?;
    let (tu, tg) = ids(root, "systemd-timesync", "systemd-timesync")?;
    chown(data.join("var/lib/systemd/timesync"), Some(tu), Some(tg))?;
    if def.board.status_token != TokenPolicy::Preseed {
        let _ = fs::remove_file(out.file(".status-token"));
        return Ok(None);
    }
    let mut raw = [0u8; 32];
    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom")?, &mut raw)?;
    let token = hex::encode(raw);
    let t = k.join("status.token");
    write_file(&t, &token, 0o600)?;
    chown(&t, Some(uid), Some(gid))?;
    write_file(&out.file(".status-token"), &token, 0o600)?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kiosk_executable_is_found_in_cargo_messages() {
        let json = r#"{"reason":"compiler-artifact","target":{"name":"kiosk-drivers"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"kiosk"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"kiosk"},"executable":"/t/aarch64-unknown-linux-gnu/release/kiosk"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_from_cargo_json(json, "kiosk"),
            Some(PathBuf::from("/t/aarch64-unknown-linux-gnu/release/kiosk"))
        );
        assert_eq!(executable_from_cargo_json(json, "other"), None);
    }

    #[test]
    fn a_host_binary_is_refused_as_the_device_kiosk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = std::env::current_exe().expect("test binary");
        let err = check_arch(&host).expect_err("x86_64 refused");
        assert!(err.to_string().contains("aarch64"), "{err}");
        let short = dir.path().join("short");
        fs::write(&short, b"\x7fELF").expect("write");
        assert!(check_arch(&short).is_err());
        let mut fake = vec![0u8; 64];
        fake[..4].copy_from_slice(b"\x7fELF");
        fake[18] = 183;
        let arm = dir.path().join("arm");
        fs::write(&arm, &fake).expect("write");
        assert!(check_arch(&arm).is_ok());
    }

    #[test]
    fn the_release_version_is_the_kiosks_and_the_commits() {
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(
            release_version("0123456789abcdef0123"),
            format!("{v}+g0123456789")
        );
        assert_eq!(
            release_version("0123456789abcdef0123-dirty"),
            format!("{v}+g0123456789.dirty")
        );
    }

    #[test]
    fn the_pi_firmware_starts_u_boot_in_64_bit_mode() {
        let c = rpi_config_txt("rpi4", &["dtparam=watchdog=on".to_string()]);
        let lines: Vec<&str> = c.lines().filter(|l| !l.starts_with('#')).collect();
        for want in [
            "[all]",
            "arm_64bit=1",
            "kernel=u-boot.bin",
            "enable_uart=1",
            "upstream_kernel=1",
            "dtparam=watchdog=on",
        ] {
            assert!(lines.contains(&want), "{want}: {c}");
        }
        assert!(!c.contains("initramfs"), "{c}");
    }

    #[test]
    fn output_names_carry_version_and_image() {
        let o = Outputs::new(Path::new("/o"), "rpi4");
        assert_eq!(
            o.file(".img.zst"),
            PathBuf::from(format!(
                "/o/kiosk-{}-rpi4.img.zst",
                env!("CARGO_PKG_VERSION")
            ))
        );
    }
}
