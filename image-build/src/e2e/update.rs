//! `image-build update-test`: updates over the air on the emulated board,
//! with the e2e test's wiring (central simulator, twins, touchscreen), plus
//! the Pi image on qemu's `raspi3b`. Writes `DIR/update.json`.
//!
//! The bundles come from the built image's root file system, changed the
//! way a new release would be: `update2` carries another release version
//! and an initrd with one more file (so its slot boots a different initrd
//! than slot A), `update3` a kiosk that never starts, and a copy of
//! `update2` is signed with another company's key.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use super::{
    conclude, record, BeforeConfirm, E2eReport, Lab, Plan, Running, ScenarioResult, CENTRAL_TOKEN,
};
use crate::boot_test::{start_central, CENTRAL_PORT};
use crate::qmp::read_ppm;
use crate::rauc::{development_keys, make_bundle, root_from_image, shrink, Keys};
use crate::rootfs::Caches;
use crate::step::{run, Step};

/// The scenarios, in the order.
pub const UPDATE_SCENARIOS: [&str; 7] = [
    "update-ok",
    "rollback-unhealthy",
    "bad-signature",
    "power-cut-install",
    "power-cut-first-boot",
    "kernel-in-slot",
    "rpi-boot",
];

/// The technician's taps on the emulated touchscreen (1280×800, the
/// Chinese screens): the title five times, the PIN, the menu's buttons.
/// `ui/tests/technician.rs` taps the same points on the same screens.
const TECHNICIAN_TITLE: (u32, u32) = (120, 42);
const TECHNICIAN_PIN: &str = "2468";
const TECHNICIAN_PIN_KEYS: [(u32, u32); 4] = [(635, 334), (516, 393), (759, 393), (635, 452)];
const TECHNICIAN_INSTALL: (u32, u32) = (278, 765);
const TECHNICIAN_RESTART: (u32, u32) = (573, 765);
const TECHNICIAN_CLOSE: (u32, u32) = (1080, 765);
/// Points inside the install and restart buttons, left of their labels:
/// their fill says whether they are enabled (the same test checks them).
const TECHNICIAN_INSTALL_FILL: (u32, u32) = (130, 765);
const TECHNICIAN_RESTART_FILL: (u32, u32) = (465, 765);

/// `update-test`'s options.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The emulated board's image (`qemu-virt`).
    pub image: String,
    /// The build folder; `update.json` goes there.
    pub out: PathBuf,
    /// The Pi image booted on `raspi3b` (built in the same folder).
    pub pi_image: String,
}

/// A bundle the test offers.
struct Offer {
    version: String,
    file: PathBuf,
}

/// Runs the scenarios; writes `update.json` whatever happens.
pub fn update_test(opts: &UpdateOptions) -> anyhow::Result<E2eReport> {
    let mut results: Vec<ScenarioResult> = Vec::new();
    let outcome = run_all(opts, &mut results);
    // Scenarios not built yet are left out of a run that completed (the
    // issue stays open until all seven run); a run that stopped lists
    // every one it did not reach.
    if let Err(e) = &outcome {
        for name in UPDATE_SCENARIOS {
            if !results.iter().any(|r| r.name == name) {
                results.push(ScenarioResult {
                    name: name.into(),
                    passed: false,
                    detail: format!("not run: the run stopped: {e:#}"),
                });
            }
        }
    }
    let rank = |n: &str| UPDATE_SCENARIOS.iter().position(|s| *s == n).unwrap_or(99);
    results.sort_by_key(|r| rank(&r.name));
    conclude(&opts.out.join("update.json"), results, outcome)
}

fn run_all(opts: &UpdateOptions, results: &mut Vec<ScenarioResult>) -> anyhow::Result<()> {
    // Booted already, beside the test suite (`image-build rpi-boot` after
    // the images were built): its result is taken as it is.
    if let Some(done) = rpi_boot_done(&opts.out, &opts.pi_image) {
        let outcome = run_board(opts, results);
        results.push(done);
        return outcome;
    }
    // The Pi boots on its own qemu (no network, no ports) beside the
    // emulated board's scenarios: most of their time the board waits.
    let pi = {
        let (out, image) = (opts.out.clone(), opts.pi_image.clone());
        std::thread::Builder::new()
            .name("rpi-boot".into())
            .spawn(move || rpi_boot(&out, &image).map_err(|e| format!("{e:#}")))?
    };
    let outcome = run_board(opts, results);
    let pi = pi
        .join()
        .unwrap_or_else(|_| Err("the rpi-boot thread panicked".into()));
    record(results, "rpi-boot", pi.map_err(|e| anyhow::anyhow!(e)));
    outcome
}

/// Where `image-build rpi-boot` leaves its result for the update test.
pub fn rpi_boot_file(dir: &Path) -> PathBuf {
    dir.join("rpi-boot.json")
}

/// `image-build rpi-boot`: the `rpi-boot` scenario on its own, its result
/// in `DIR/rpi-boot.json` for the update test to report (CI runs it as
/// soon as the Pi image is built, beside the test suite).
pub fn rpi_boot_alone(dir: &Path, image: &str) -> anyhow::Result<ScenarioResult> {
    let _ = std::fs::remove_file(rpi_boot_file(dir));
    let result = match rpi_boot(dir, image) {
        Ok(detail) => ScenarioResult {
            name: "rpi-boot".into(),
            passed: true,
            detail,
        },
        Err(e) => ScenarioResult {
            name: "rpi-boot".into(),
            passed: false,
            detail: format!("{e:#}"),
        },
    };
    std::fs::write(rpi_boot_file(dir), serde_json::to_vec_pretty(&result)?)?;
    Ok(result)
}

/// The result `image-build rpi-boot` left, if it is newer than the Pi
/// image it booted (an older one is not this image's).
fn rpi_boot_done(dir: &Path, image: &str) -> Option<ScenarioResult> {
    let def = crate::def::ImageDef::load(&crate::def::images_dir(), image).ok()?;
    let img = crate::build::Outputs::new(dir, &def.name).file(".img");
    let file = rpi_boot_file(dir);
    let newer = std::fs::metadata(&file).ok()?.modified().ok()?
        >= std::fs::metadata(&img).ok()?.modified().ok()?;
    if !newer {
        return None;
    }
    serde_json::from_slice(&std::fs::read(&file).ok()?).ok()
}

fn run_board(opts: &UpdateOptions, results: &mut Vec<ScenarioResult>) -> anyhow::Result<()> {
    let mut lab = Lab::open(&opts.image, &opts.out, "update", true)?;
    let release = lab.release()?;
    let bundles = Bundles::make(&lab, &release)?;
    // The site's config, as in the e2e test: touchscreen on, central's
    // device token.
    // The technician PIN opens the menu the USB stick's installs use.
    let mut site: toml::Table =
        toml::from_str(&super::drop_config(&lab.base_config()?, super::Drop::Good)?)?;
    if let Some(toml::Value::Table(ui)) = site.get_mut("ui") {
        ui.insert("technician_pin".into(), TECHNICIAN_PIN.into());
    }
    lab.put_drop(&format!(
        "# Left on the boot partition by image-build update-test.\n{}",
        toml::to_string(&site)?
    ))?;
    let mut vm = lab.boot()?;
    let first = lab.wait_system(
        &mut vm,
        "slot A running the image's release",
        Duration::from_secs(300),
        |s| s["slot"] == "A" && s["release"] == release.as_str(),
    )?;
    let _ = first;
    record(
        results,
        "bad-signature",
        lab.bad_signature(&mut vm, &bundles, &release),
    );
    let ok = lab.update_ok(&mut vm, &bundles);
    let ok_passed = ok.is_ok();
    record(results, "update-ok", ok);
    if ok_passed {
        record(results, "kernel-in-slot", lab.kernel_in_slot(&vm, &bundles));
        // Slot B runs update2 from here on: update3 goes to slot A and
        // never becomes healthy; then the image's own release is offered to
        // go back to slot A, its install cut, retried, and its first boot
        // cut.
        let rolled = lab.rollback_unhealthy(&mut vm, &bundles);
        let rolled_passed = rolled.is_ok();
        record(results, "rollback-unhealthy", rolled);
        if rolled_passed {
            let cut = lab.power_cut_install(&mut vm, &bundles);
            let cut_passed = cut.is_ok();
            record(results, "power-cut-install", cut);
            if cut_passed {
                record(
                    results,
                    "power-cut-first-boot",
                    lab.power_cut_first_boot(&mut vm, &bundles),
                );
            }
        }
    }
    for (name, after) in [
        ("kernel-in-slot", "update-ok"),
        ("rollback-unhealthy", "update-ok"),
        ("power-cut-install", "rollback-unhealthy"),
        ("power-cut-first-boot", "power-cut-install"),
    ] {
        if !results.iter().any(|r| r.name == name) {
            results.push(ScenarioResult {
                name: name.into(),
                passed: false,
                detail: format!(
                    "not run: it starts from the board {after} leaves, and {after} failed"
                ),
            });
        }
    }
    drop(vm);
    drop(lab);
    Ok(())
}

/// The test's bundles.
struct Bundles {
    update2: Offer,
    other_key: Offer,
    /// A release whose kiosk never starts.
    update3: Offer,
    /// The image's own release (`image-build bundle`), offered to go back
    /// from update2: the install that is cut and retried.
    v1: Offer,
    initrd_sha: (String, String),
}

impl Bundles {
    fn make(lab: &Lab, release: &str) -> anyhow::Result<Self> {
        let work = lab.tmp.path().join("bundles");
        std::fs::create_dir_all(&work)?;
        let caches = Caches::from_env()?;
        let keys = Keys::resolve(&caches)?;
        let other = development_keys(&work.join("other-key"), "Another company")?;
        let step = Step::start("the image's root file system, as a release's bundles start");
        let manifest: Value = serde_json::from_str(&std::fs::read_to_string(
            lab.built.out.file(".manifest.json"),
        )?)?;
        let part = manifest["partitions"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == "root-a"))
            .context("no root-a in the manifest")?;
        let (offset, size) = (
            part["offset"].as_u64().context("offset")?,
            part["size"].as_u64().context("size")?,
        );
        let v1 = work.join("v1.ext4");
        root_from_image(&lab.built.img, offset, size, &v1)?;
        let kernel = manifest["kernel"].as_str().context("kernel")?.to_string();
        step.done();

        let step = Step::start("update2: another release version, an initrd with one more file");
        let v2 = work.join("v2.ext4");
        run(Command::new("cp").arg("--sparse=always").arg(&v1).arg(&v2))?;
        let version2 = format!("{release}.update2");
        set_release(&v2, &version2, &work)?;
        let initrd = format!("/boot/initrd.img-{kernel}");
        let old = work.join("initrd.old");
        debugfs(&v2, &format!("dump {initrd} {}", old.display()), false)?;
        let mut new = std::fs::read(&old)?;
        let old_sha = crate::manifest::sha256_file(&old)?;
        // initramfs-tools' init sources every conf/conf.d file early: this
        // one says on the console which initrd booted.
        append_cpio(
            &mut new,
            &newc_archive(&[(
                "conf/conf.d/kiosk-initrd-stamp",
                b"echo \"<4>kiosk-initrd-stamp: update2\" > /dev/kmsg\n".as_slice(),
            )]),
        );
        let new_file = work.join("initrd.new");
        std::fs::write(&new_file, &new)?;
        let new_sha = crate::manifest::sha256_file(&new_file)?;
        debugfs(
            &v2,
            &format!("rm {initrd}\nwrite {} {initrd}", new_file.display()),
            true,
        )?;
        shrink(&v2)?;
        step.done();

        let step = Step::start("bundles (rauc bundle, verity)");
        let update2 = Offer {
            file: work.join("update2.raucb"),
            version: version2.clone(),
        };
        let compat = crate::rauc::compatible(&lab.built.def);
        make_bundle(&v2, &compat, &version2, &keys, &work, &update2.file)?;
        let other_key = Offer {
            file: work.join("update2-other-key.raucb"),
            version: format!("{release}.update2-other-key"),
        };
        // The same bundle, signed again by another company's CA (`rauc
        // resign` replaces only the signature).
        run(Command::new("rauc")
            .arg(format!("--keyring={}", keys.keyring.display()))
            .arg(format!("--signing-keyring={}", other.keyring.display()))
            .arg(format!("--cert={}", other.cert.display()))
            .arg(format!("--key={}", other.key.display()))
            .arg("resign")
            .arg(&update2.file)
            .arg(&other_key.file))
        .context("rauc resign")?;
        step.done();

        let step = Step::start("update3: a release whose kiosk never starts");
        let v3 = work.join("v3.ext4");
        run(Command::new("cp").arg("--sparse=always").arg(&v1).arg(&v3))?;
        let version3 = format!("{release}.update3");
        set_release(&v3, &version3, &work)?;
        let dropin = work.join("never-healthy.conf");
        std::fs::write(
            &dropin,
            "# update-test: this release's kiosk exits at once, every time.\n[Service]\nExecStart=\nExecStart=/bin/sh -c 'echo kiosk-update3: the kiosk of this release never starts; exit 70'\n",
        )?;
        // `mkdir` fails harmlessly when the folder exists.
        debugfs(
            &v3,
            &format!(
                "mkdir /etc/systemd/system/kiosk.service.d\nwrite {} /etc/systemd/system/kiosk.service.d/never-healthy.conf",
                dropin.display()
            ),
            true,
        )?;
        let check = debugfs(
            &v3,
            "cat /etc/systemd/system/kiosk.service.d/never-healthy.conf",
            false,
        )?;
        if !check.contains("exit 70") {
            bail!("update3's drop-in did not land in its root file system: {check}");
        }
        shrink(&v3)?;
        let update3 = Offer {
            file: work.join("update3.raucb"),
            version: version3.clone(),
        };
        make_bundle(&v3, &compat, &version3, &keys, &work, &update3.file)?;
        let _ = std::fs::remove_file(&v3);
        step.done();

        let v1 = image_bundle(lab, release)?;
        Ok(Self {
            update2,
            other_key,
            update3,
            v1,
            initrd_sha: (old_sha, new_sha),
        })
    }
}

/// The image's own bundle (`image-build bundle`, which `.ci/run` runs
/// before this test), made here when missing or of another release.
fn image_bundle(lab: &Lab, release: &str) -> anyhow::Result<Offer> {
    let out = &lab.built.out;
    let info: Option<Value> = std::fs::read_to_string(out.file(".raucb.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let current = info
        .as_ref()
        .is_some_and(|i| i["version"] == release && out.file(".raucb").is_file());
    if !current {
        let step = Step::start("the image's own bundle (image-build bundle)");
        let dir = lab.built.img.parent().context("image folder")?;
        crate::rauc::bundle(&lab.built.def.name, dir)?;
        step.done();
    }
    Ok(Offer {
        file: out.file(".raucb"),
        version: release.to_string(),
    })
}

/// Runs debugfs on an ext4 image (`-w` to write), commands from a file.
fn debugfs(img: &Path, commands: &str, write: bool) -> anyhow::Result<String> {
    let cmds = img.with_extension("debugfs");
    std::fs::write(&cmds, format!("{commands}\n"))?;
    let mut c = Command::new("debugfs");
    if write {
        c.arg("-w");
    }
    let out = run(c.arg("-f").arg(&cmds).arg(img))?;
    Ok(out)
}

/// Rewrites `/etc/kiosk/release` in an ext4 image with `version`.
fn set_release(img: &Path, version: &str, work: &Path) -> anyhow::Result<()> {
    let file = work.join("release");
    std::fs::write(&file, format!("VERSION={version}\nIMAGE=qemu-virt\n"))?;
    debugfs(
        img,
        &format!(
            "rm /etc/kiosk/release\nwrite {} /etc/kiosk/release",
            file.display()
        ),
        true,
    )?;
    Ok(())
}

/// Appends a cpio `archive` to an `initrd`. The kernel reads an archive
/// after a compressed one only at a 4-byte aligned offset (it skips zeros
/// to get there): without the padding an initrd of unaligned length ends in
/// "Initramfs unpacking failed: invalid magic at start of compressed
/// archive" (seen when a fresh root file system's initrd came out 3 bytes
/// past a multiple of 4).
pub fn append_cpio(initrd: &mut Vec<u8>, archive: &[u8]) {
    initrd.resize(initrd.len().next_multiple_of(4), 0);
    initrd.extend_from_slice(archive);
}

/// A cpio archive in the kernel's `newc` format holding `files` (mode
/// 0644, root's), with its trailer: appended to an initrd, the kernel
/// unpacks it over the others.
pub fn newc_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    for (i, (name, data)) in files.iter().enumerate() {
        entry(&mut out, i as u32 + 1, 0o100644, name, data);
    }
    entry(&mut out, 0, 0, "TRAILER!!!", &[]);
    while out.len() % 512 != 0 {
        out.push(0);
    }
    out
}

impl Lab {
    /// The release the built image runs (its manifest).
    fn release(&self) -> anyhow::Result<String> {
        let m: Value = serde_json::from_str(&std::fs::read_to_string(
            self.built.out.file(".manifest.json"),
        )?)?;
        m["release"]
            .as_str()
            .map(str::to_string)
            .context("the manifest has no release: rebuild the image")
    }

    /// Polls `/status`'s `system` until `ok` holds.
    fn wait_system(
        &self,
        vm: &mut Running,
        what: &str,
        timeout: Duration,
        mut ok: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let started = Instant::now();
        let mut last = Value::Null;
        loop {
            if let Some(st) = vm.vm.0.try_wait()? {
                bail!(
                    "qemu exited ({st}) waiting for {what}\n{}",
                    super::console_tail(&vm.console)
                );
            }
            if let Some(s) = self.status() {
                last = s["system"].clone();
                if ok(&last) {
                    return Ok(last);
                }
            }
            if started.elapsed() > timeout {
                bail!(
                    "no {what} within {} s; /status system: {last}\n{}",
                    timeout.as_secs(),
                    super::console_tail(&vm.console)
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Offers `offer` through central (`PUT /sim/update`).
    fn offer(
        &self,
        offer: &Offer,
        canary: &[String],
        percent: u8,
        cut: Option<u64>,
    ) -> anyhow::Result<()> {
        run(self
            .curl()
            .args([
                "-X",
                "PUT",
                "-H",
                "content-type: application/json",
                "--data",
            ])
            .arg(
                serde_json::json!({
                    "version": offer.version, "bundle": offer.file, "canary": canary,
                    "percent": percent, "cut_after_bytes": cut,
                })
                .to_string(),
            )
            .arg(format!("https://127.0.0.1:{CENTRAL_PORT}/sim/update")))?;
        Ok(())
    }

    fn downloads(&self) -> anyhow::Result<Value> {
        let body = run(self
            .curl()
            .arg(format!("https://127.0.0.1:{CENTRAL_PORT}/sim/downloads")))?;
        Ok(serde_json::from_str(&body)?)
    }

    fn bad_signature(
        &mut self,
        vm: &mut Running,
        b: &Bundles,
        release: &str,
    ) -> anyhow::Result<String> {
        let before = self.status().context("no /status")?;
        self.offer(&b.other_key, &[], 100, None)?;
        let s = self.wait_system(vm, "RAUC's refusal", Duration::from_secs(300), |s| {
            s["last_update"]["version"] == b.other_key.version.as_str()
                && s["last_update"]["outcome"] == "refused"
        })?;
        if s["slot"] != "A" || s["release"] != release {
            bail!(
                "after the refusal the kiosk runs {} on slot {}",
                s["release"],
                s["slot"]
            );
        }
        // RAUC takes the target slot out of the boot order only once the
        // bundle passed its checks: slot B must still be a good slot.
        if s["other_slot"] != "good" {
            bail!(
                "slot B is {} after the refusal (was {})",
                s["other_slot"],
                before["system"]["other_slot"]
            );
        }
        if s["update_failures_total"] != 1 {
            bail!(
                "update_failures_total is {}, expected 1",
                s["update_failures_total"]
            );
        }
        let metrics = crate::boot_test::http_get(self.status, "/metrics", Some(&self.built.token))
            .map(|r| r.body)
            .unwrap_or_default();
        if !metrics.contains("kiosk_update_failures_total 1") {
            bail!("/metrics does not count the failure");
        }
        let network = format!(
            "a bundle signed by another CA was downloaded, refused by RAUC ({}); slot A still runs {release}, slot B stays {}, kiosk_update_failures_total 1",
            s["last_update"]["detail"].as_str().unwrap_or("").chars().take(160).collect::<String>(),
            s["other_slot"]
        );
        // The same bundle from a technician's USB stick, through the
        // technician menu: refused the same way, and the menu says why.
        let stick = self.insert_stick(vm, &b.other_key.file, "kiosk-other-key.raucb", "stick1")?;
        let usb = self
            .install_from_stick(vm, "the stick seen")
            .and_then(|()| {
                let s = self.wait_system(
                    vm,
                    "RAUC's refusal of the stick's bundle",
                    Duration::from_secs(300),
                    |s| {
                        s["last_update"]["version"] == "kiosk-other-key.raucb"
                            && s["last_update"]["outcome"] == "refused"
                    },
                )?;
                Ok((self.shot(vm, "bad-signature", "technician-refused")?, s))
            });
        // Whatever happened, the menu closes and the stick comes out: the
        // next scenarios need the citizen's screens.
        let _ = vm.qmp.tap(TECHNICIAN_CLOSE.0, TECHNICIAN_CLOSE.1);
        self.remove_stick(vm, &stick)?;
        let (screen, s) = usb?;
        if s["slot"] != "A" || s["other_slot"] != "good" || s["update_failures_total"] != 2 {
            bail!(
                "after the stick's refusal: slot {}, other slot {}, failures {}",
                s["slot"],
                s["other_slot"],
                s["update_failures_total"]
            );
        }
        Ok(format!(
            "{network}; the same bundle on a USB stick (hot-plugged usb-storage), installed from the technician menu (PIN, \"从 U 盘安装更新\"): refused by RAUC, the menu shows it ({}), slot B stays good, kiosk_update_failures_total 2",
            screen.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ))
    }

    /// A FAT USB stick holding `bundle` as `name`, hot-plugged into the
    /// board's USB controller (qemu `usb-storage`); its qemu id.
    fn insert_stick(
        &self,
        vm: &mut Running,
        bundle: &Path,
        name: &str,
        id: &str,
    ) -> anyhow::Result<String> {
        let img = self.tmp.path().join(format!("{id}.img"));
        let size = std::fs::metadata(bundle)?.len() + 32 * 1024 * 1024;
        let _ = std::fs::remove_file(&img);
        std::fs::File::create(&img)?.set_len(size.div_ceil(1 << 20) << 20)?;
        run(Command::new("mkfs.vfat")
            .args(["-F", "32", "-n", "KIOSKUSB"])
            .arg(&img))?;
        run(Command::new("mcopy")
            .arg("-i")
            .arg(&img)
            .arg(bundle)
            .arg(format!("::/{name}")))?;
        vm.qmp.execute(
            "blockdev-add",
            Some(serde_json::json!({
                "driver": "raw", "node-name": id, "read-only": true,
                "file": {"driver": "file", "filename": img.to_string_lossy()},
            })),
        )?;
        vm.qmp.execute(
            "device_add",
            Some(serde_json::json!({
                "driver": "usb-storage", "bus": "xhci.0", "drive": id, "id": id,
            })),
        )?;
        Ok(id.to_string())
    }

    /// Pulls the stick out (the guest unmounts it).
    fn remove_stick(&self, vm: &mut Running, id: &str) -> anyhow::Result<()> {
        vm.qmp
            .execute("device_del", Some(serde_json::json!({ "id": id })))?;
        Ok(())
    }

    /// Polls the console (every 200 ms) until a line holds `needle`; those
    /// lines, or an error naming `what` with `/status` and the console's
    /// tail.
    fn wait_console(
        &self,
        vm: &mut Running,
        needle: &str,
        timeout: Duration,
        what: &str,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let line = console_lines(&vm.console, needle);
            if !line.is_empty() {
                return Ok(line);
            }
            if let Some(st) = vm.vm.0.try_wait()? {
                bail!("qemu exited ({st}) waiting for {what}");
            }
            if started.elapsed() > timeout {
                bail!(
                    "no {what} within {} s; /status system: {}\n{}",
                    timeout.as_secs(),
                    self.status()
                        .map(|s| s["system"].clone())
                        .unwrap_or_default(),
                    super::console_tail(&vm.console)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Opens the technician menu, waits for its install button (the stick
    /// mounted, the kiosk idle) and taps it.
    fn install_from_stick(&mut self, vm: &mut Running, what: &str) -> anyhow::Result<()> {
        self.open_technician_menu(vm)?;
        self.wait_pixel(
            vm,
            TECHNICIAN_INSTALL_FILL,
            Duration::from_secs(120),
            is_primary,
            &format!("the menu's install button enabled ({what})"),
        )?;
        vm.qmp.tap(TECHNICIAN_INSTALL.0, TECHNICIAN_INSTALL.1)
    }

    /// Five taps on the title, then the PIN: the technician menu.
    fn open_technician_menu(&self, vm: &mut Running) -> anyhow::Result<()> {
        for _ in 0..5 {
            vm.qmp.tap(TECHNICIAN_TITLE.0, TECHNICIAN_TITLE.1)?;
            std::thread::sleep(Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_secs(1));
        for (x, y) in TECHNICIAN_PIN_KEYS {
            vm.qmp.tap(x, y)?;
            std::thread::sleep(Duration::from_millis(400));
        }
        Ok(())
    }

    /// Polls the framebuffer until the pixel at `at` passes `ok`.
    fn wait_pixel(
        &self,
        vm: &mut Running,
        at: (u32, u32),
        timeout: Duration,
        ok: fn([u8; 3]) -> bool,
        what: &str,
    ) -> anyhow::Result<()> {
        let ppm = self.tmp.path().join("pixel.ppm");
        let started = Instant::now();
        loop {
            vm.qmp.screendump(&ppm)?;
            let rgb = read_ppm(&std::fs::read(&ppm)?)?;
            let i = ((at.1 * rgb.width + at.0) * 3) as usize;
            let px = [rgb.data[i], rgb.data[i + 1], rgb.data[i + 2]];
            if ok(px) {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let png = self.screens.join(format!("timeout-{}.png", at.0));
                std::fs::write(&png, crate::qmp::to_png(&rgb)?)?;
                bail!(
                    "no {what} within {} s (pixel {at:?} is {px:?}; the screen: {})",
                    timeout.as_secs(),
                    png.display()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn update_ok(&mut self, vm: &mut Running, b: &Bundles) -> anyhow::Result<String> {
        // An order accepted while central is down waits in the outbox.
        let before = self.submissions()?;
        let t = self.transaction(
            vm,
            "update-ok",
            Plan {
                before_confirm: BeforeConfirm::StopCentral,
                ..Plan::default()
            },
        );
        let waiting = self.status().map(|s| s["outbox_depth"].clone());
        self.central = Some(start_central(&self.central_state, Some(CENTRAL_TOKEN))?);
        t?;
        if waiting.as_ref().and_then(Value::as_u64).unwrap_or(0) == 0 {
            bail!("central was down, yet the kiosk's outbox was {waiting:?}");
        }
        // Delivered once central is back; its key names this kiosk.
        let delivered_before = self.delivered_once(&before, 1, Duration::from_secs(180))?;
        let device = self.device_id()?;
        let size = std::fs::metadata(&b.update2.file)?.len();
        let started = Instant::now();
        self.offer(&b.update2, std::slice::from_ref(&device), 0, Some(size / 3))?;
        let s = self.wait_system(
            vm,
            "slot B running update2, marked good",
            Duration::from_secs(1200),
            |s| {
                s["slot"] == "B"
                    && s["release"] == b.update2.version.as_str()
                    && s["last_update"]["outcome"] == "good"
            },
        )?;
        let took = started.elapsed().as_secs();
        let downloads = self.downloads()?;
        let resumed = downloads.as_array().is_some_and(|d| {
            d.iter()
                .any(|x| x["status"] == 206 && x["from"].as_u64().unwrap_or(0) > 0)
        });
        if !resumed {
            bail!("the cut download was not resumed with a range: {downloads}");
        }
        // After the update: still one order, stored once (the new slot's
        // kiosk did not lose it, nor send it again). (`orders_accepted_total`
        // counts since the kiosk started, not the store's orders.)
        let delivered = self.delivered_once(&before, 1, Duration::from_secs(60))?;
        let st = self.status().context("no /status")?;
        if st["outbox_depth"] != 0 {
            bail!("slot B's outbox holds {}", st["outbox_depth"]);
        }
        let metrics = crate::boot_test::http_get(self.status, "/metrics", Some(&self.built.token))
            .map(|r| r.body)
            .unwrap_or_default();
        let build_info = format!(
            "kiosk_build_info{{version=\"{}\",slot=\"B\"}} 1",
            b.update2.version
        );
        if !metrics.contains(&build_info) {
            bail!("/metrics lacks {build_info}");
        }
        Ok(format!(
            "canary {device} offered {} ({size} bytes); the download was cut at a third and resumed (206 from byte {}); installed while idle at attract, rebooted, slot B runs it and was marked good {took} s after the offer; other slot {}; the order accepted while central was down, before the update: {delivered_before}; after the update on slot B: {delivered}, outbox empty (nothing lost, nothing sent twice); {build_info}",
            b.update2.version,
            downloads
                .as_array()
                .and_then(|d| d.iter().find(|x| x["status"] == 206))
                .map(|x| x["from"].to_string())
                .unwrap_or_default(),
            s["other_slot"]
        ))
    }

    fn kernel_in_slot(&self, vm: &Running, b: &Bundles) -> anyhow::Result<String> {
        let console = std::fs::read_to_string(&vm.console).unwrap_or_default();
        let boots: Vec<(usize, &str)> = console
            .match_indices("kiosk-boot: slot ")
            .map(|(i, _)| (i, &console[i + 17..i + 18]))
            .collect();
        let stamps: Vec<usize> = console
            .match_indices("kiosk-initrd-stamp: update2")
            .map(|(i, _)| i)
            .collect();
        let slot_of = |pos: usize| boots.iter().rev().find(|(i, _)| *i < pos).map(|(_, s)| *s);
        let a_boots = boots.iter().filter(|(_, s)| *s == "A").count();
        let b_boots = boots.iter().filter(|(_, s)| *s == "B").count();
        if stamps.is_empty() {
            bail!("no boot printed update2's initrd stamp ({a_boots} boots of A, {b_boots} of B)");
        }
        if let Some(p) = stamps.iter().find(|p| slot_of(**p) != Some("B")) {
            bail!(
                "update2's initrd stamp appeared in a boot of slot {:?}",
                slot_of(*p)
            );
        }
        let a_without = boots
            .iter()
            .filter(|(i, s)| {
                *s == "A" && {
                    let next = boots
                        .iter()
                        .map(|(j, _)| *j)
                        .find(|j| j > i)
                        .unwrap_or(console.len());
                    !stamps.iter().any(|p| p > i && *p < next)
                }
            })
            .count();
        if a_without == 0 {
            bail!("no boot of slot A without the stamp");
        }
        Ok(format!(
            "slot A booted its initrd (sha256 {}…) without the stamp ({a_without} boots); slot B booted update2's initrd (sha256 {}…, one more file in conf/conf.d) which printed \"kiosk-initrd-stamp: update2\" ({} times): U-Boot loads kernel and initrd from the booted slot",
            &b.initrd_sha.0[..12],
            &b.initrd_sha.1[..12],
            stamps.len()
        ))
    }

    /// `rollback-unhealthy`: update3 (a kiosk that exits at once) is
    /// installed into slot A; each of its boots ends with `kiosk update
    /// confirm` giving up and rebooting, U-Boot spends A's three tries and
    /// falls back to B by itself, whose kiosk reports the rollback.
    fn rollback_unhealthy(&mut self, vm: &mut Running, b: &Bundles) -> anyhow::Result<String> {
        let before = self.status().context("no /status")?;
        let failures = before["system"]["update_failures_total"]
            .as_u64()
            .unwrap_or(0);
        let from = console_len(&vm.console);
        let started = Instant::now();
        // A technician installs update3 from a USB stick and restarts into
        // it from the menu, then leaves: the board is on its own.
        let stick = self.insert_stick(vm, &b.update3.file, "kiosk-update3.raucb", "stick2")?;
        let usb = self
            .install_from_stick(vm, "update3's stick seen")
            .and_then(|()| {
                let installed = self.wait_system(
                    vm,
                    "update3 installed from the stick",
                    Duration::from_secs(600),
                    |s| {
                        s["last_update"]["version"] == b.update3.version.as_str()
                            && s["last_update"]["outcome"] == "installed"
                    },
                )?;
                self.wait_pixel(
                    vm,
                    TECHNICIAN_RESTART_FILL,
                    Duration::from_secs(30),
                    is_primary,
                    "the menu's restart button enabled",
                )?;
                Ok((
                    self.shot(vm, "rollback-unhealthy", "technician-installed")?,
                    installed,
                ))
            });
        // The stick comes out once the menu says installed (or the try
        // failed: then the menu closes too).
        self.remove_stick(vm, &stick)?;
        let (screen, installed) = match usb {
            Ok(x) => x,
            Err(e) => {
                let _ = vm.qmp.tap(TECHNICIAN_CLOSE.0, TECHNICIAN_CLOSE.1);
                return Err(e);
            }
        };
        vm.qmp.tap(TECHNICIAN_RESTART.0, TECHNICIAN_RESTART.1)?;
        let s = self.wait_system(
            vm,
            "the board back on slot B, update3 rolled back",
            Duration::from_secs(1800),
            |s| {
                s["last_update"]["version"] == b.update3.version.as_str()
                    && s["last_update"]["outcome"] == "rolled-back"
            },
        )?;
        let took = started.elapsed().as_secs();
        if s["slot"] != "B" || s["release"] != b.update2.version.as_str() {
            bail!(
                "after the rollback slot {} runs {} (expected B running {})",
                s["slot"],
                s["release"],
                b.update2.version
            );
        }
        if s["update_failures_total"].as_u64() != Some(failures + 1) {
            bail!(
                "update_failures_total is {}, expected {}",
                s["update_failures_total"],
                failures + 1
            );
        }
        let console = console_since(&vm.console, from);
        let boot_lines: Vec<&str> = console
            .lines()
            .filter(|l| l.contains("kiosk-boot: slot "))
            .collect();
        let a_boots = boot_lines
            .iter()
            .filter(|l| l.contains("kiosk-boot: slot A"))
            .count();
        if a_boots != 3 {
            bail!(
                "slot A booted {a_boots} times, expected its three tries: {}",
                boot_lines.join(" | ")
            );
        }
        let gave_up = console
            .lines()
            .filter(|l| l.contains("not healthy within"))
            .count();
        let fallback = boot_lines.last().copied().unwrap_or_default().trim();
        if !fallback.contains("kiosk-boot: slot B") {
            bail!("the last boot was not slot B: {fallback}");
        }
        let metrics = crate::boot_test::http_get(self.status, "/metrics", Some(&self.built.token))
            .map(|r| r.body)
            .unwrap_or_default();
        let counter = format!("kiosk_update_failures_total {}", failures + 1);
        if !metrics.contains(&counter) {
            bail!("/metrics lacks {counter}");
        }
        Ok(format!(
            "update3 (its kiosk exits at once) on a USB stick, installed by a technician from the menu ({}: {}) and restarted into with \"立即重启\"; slot A booted 3 times, `kiosk update confirm` gave up and rebooted {gave_up} times; U-Boot then booted slot B by itself ({fallback}); slot B runs {} again and reports {} ({}); slot A is {}; {counter}; {took} s from the stick going in",
            screen.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            installed["last_update"]["detail"].as_str().unwrap_or(""),
            b.update2.version,
            s["last_update"]["outcome"].as_str().unwrap_or(""),
            s["last_update"]["detail"].as_str().unwrap_or(""),
            s["other_slot"],
        ))
    }

    /// `power-cut-install`: the image's own release is offered (back from
    /// update2); qemu is killed while RAUC writes slot A. The board boots
    /// slot B (RAUC took A out of the boot order before writing it), the
    /// kiosk sees the install was cut short and installs again.
    fn power_cut_install(&mut self, vm: &mut Running, b: &Bundles) -> anyhow::Result<String> {
        self.offer(&b.v1, &[], 100, None)?;
        self.wait_system(
            vm,
            "rauc install of the image's release",
            Duration::from_secs(900),
            |s| s["request"] == "installing",
        )?;
        // RAUC checks the bundle for a few seconds, marks slot A bad, then
        // writes it for about a minute: cut in the middle of that.
        std::thread::sleep(Duration::from_secs(25));
        if self
            .status()
            .is_some_and(|s| s["system"]["request"] != "installing")
        {
            bail!("the install ended within 25 s, before the cut: the cut missed the slot write");
        }
        vm.vm.0.kill()?;
        vm.vm.0.wait()?;
        *vm = self.boot()?;
        let counters = console_lines(&vm.console, "kiosk-boot: counters");
        let booted = console_lines(&vm.console, "kiosk-boot: slot ");
        if !booted.contains("kiosk-boot: slot B") {
            bail!("after the cut the board booted {booted} (expected slot B)");
        }
        let order = counters
            .split("BOOT_ORDER=")
            .nth(1)
            .and_then(|r| r.split(" BOOT_").next())
            .unwrap_or("")
            .to_string();
        let a_left = counters
            .split("BOOT_A_LEFT=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("");
        if order.starts_with('A') || (order.contains('A') && a_left != "0") {
            bail!("slot A, half written, was still bootable after the cut ({counters})");
        }
        // The retry runs and ends with the kiosk asking for the reboot into
        // slot A (said on the console just before): read from the console,
        // not /status, so the first boot that follows is not missed.
        let started = Instant::now();
        let rebooting = self.wait_console(
            vm,
            "kiosk: rebooting into the installed update",
            Duration::from_secs(900),
            "the install tried again and done",
        )?;
        let said = console_lines(&vm.console, "was cut short");
        if said.is_empty() {
            bail!("the kiosk did not say on the console that the install was cut short");
        }
        Ok(format!(
            "the image's release {} offered to go back from update2; qemu killed 25 s into `rauc install` (slot A being written); the board booted slot B again ({counters} | {booted}: RAUC marks the slot it writes bad before writing, so U-Boot never picks the half-written slot A); {said}; installed again {} s after the board was back at attract, then \"{rebooting}\"",
            b.v1.version,
            started.elapsed().as_secs()
        ))
    }

    /// `power-cut-first-boot`: after power-cut-install's retry the kiosk
    /// reboots into slot A; qemu is killed during that first boot. U-Boot
    /// spent one of A's tries on it, so the next boot runs A with one try
    /// less, and the kiosk, healthy, marks it good.
    fn power_cut_first_boot(&mut self, vm: &mut Running, b: &Bundles) -> anyhow::Result<String> {
        let first = self.wait_console(
            vm,
            "kiosk-boot: slot A",
            Duration::from_secs(600),
            "the reboot into slot A",
        )?;
        // Into the kernel and systemd, before the kiosk could answer.
        std::thread::sleep(Duration::from_secs(15));
        let reached = console_lines(&vm.console, "kiosk: slot A");
        if !reached.is_empty() {
            bail!("slot A was confirmed before the cut: {reached}");
        }
        vm.vm.0.kill()?;
        vm.vm.0.wait()?;
        *vm = self.boot()?;
        let counters = console_lines(&vm.console, "kiosk-boot: counters");
        let booted = console_lines(&vm.console, "kiosk-boot: slot ");
        let s = self.wait_system(
            vm,
            "slot A running the image's release, marked good",
            Duration::from_secs(300),
            |s| {
                s["slot"] == "A"
                    && s["release"] == b.v1.version.as_str()
                    && s["last_update"]["outcome"] == "good"
            },
        )?;
        if !counters.contains("BOOT_A_LEFT=2") || !booted.contains("tries left A=1") {
            bail!("the counters did not show one try spent by the cut boot: {counters} | {booted}");
        }
        let good = console_lines(&vm.console, "update marked good");
        Ok(format!(
            "first boot of slot A cut 15 s after U-Boot chose it ({first}); the next power-on: {counters} (the cut boot spent one of A's three tries), {booted}: slot A ran because it was first in BOOT_ORDER with tries left, and its kiosk became healthy: {good}; /status: slot {} runs {}, other slot {}",
            s["slot"], s["release"], s["other_slot"]
        ))
    }

    /// This kiosk's device id, from the local order id of its orders
    /// (`K-6F283B7D-20261205-0001`: the id before the date).
    fn device_id(&self) -> anyhow::Result<String> {
        let subs = self.submissions()?;
        let key = subs.last().map(|s| s.key.clone()).context("no order yet")?;
        let parts: Vec<&str> = key.rsplitn(3, '-').collect();
        parts
            .get(2)
            .map(|s| s.to_string())
            .with_context(|| format!("cannot read a device id from {key}"))
    }
}

/// `rpi-boot`: the Pi image on qemu's raspi3b (U-Boot as the firmware
/// would start it, the card on the Pi's SD controller, the Pi 3's device
/// tree), up to the kiosk's own line on the serial console.
pub fn rpi_boot(dir: &Path, image: &str) -> anyhow::Result<String> {
    let def = crate::def::ImageDef::load(&crate::def::images_dir(), image)?;
    let out = crate::build::Outputs::new(dir, &def.name);
    crate::boot_test::ensure_raw(&out)?;
    let img = out.file(".img");
    let card = dir.join("rpi-boot-card.img");
    let step = Step::start("the Pi card, padded to a power of two, watchdog held back");
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg(&img)
        .arg(&card))?;
    let len = std::fs::metadata(&card)?.len();
    let f = std::fs::OpenOptions::new().write(true).open(&card)?;
    f.set_len(len.next_power_of_two())?;
    drop(f);
    // qemu 7.2's raspi3b resets the board at the first write to the
    // BCM2835 watchdog (its power-management model has no countdown), and
    // systemd arms that watchdog at boot (RuntimeWatchdogSec): the card's
    // copy boots with the watchdog driver held back, the one change from
    // the image as flashed.
    let script = std::fs::read_to_string(out.file(".boot.cmd"))?;
    let held = script
        .replace(
            " rauc.slot=A\"",
            " modprobe.blacklist=bcm2835_wdt rauc.slot=A\"",
        )
        .replace(
            " rauc.slot=B\"",
            " modprobe.blacklist=bcm2835_wdt rauc.slot=B\"",
        );
    if held == script {
        bail!(
            "{} has no rauc.slot= arguments",
            out.file(".boot.cmd").display()
        );
    }
    let work = tempfile::tempdir()?;
    let scr = work.path().join("boot.scr");
    crate::boot::compile_script(&held, work.path(), &scr)?;
    run(Command::new("mcopy")
        .arg("-o")
        .arg("-i")
        .arg(format!("{}@@1048576", card.display()))
        .arg(&scr)
        .arg("::/boot.scr"))?;
    step.done();
    let uart1 = dir.join("rpi-boot-serial.log");
    let uart0 = dir.join("rpi-boot-uart0.log");
    // A log left by an earlier run must not answer for this one (qemu
    // truncates it only once it has started).
    for f in [&uart0, &uart1] {
        let _ = std::fs::remove_file(f);
    }
    let step = Step::start(format!("boot {} on qemu raspi3b", card.display()));
    let started = Instant::now();
    let mut vm = super::Vm(
        Command::new("qemu-system-aarch64")
            .args(["-M", "raspi3b", "-kernel"])
            .arg(out.file(".u-boot.bin"))
            .arg("-dtb")
            .arg(out.file(".raspi3b.dtb"))
            .arg("-drive")
            .arg(format!("file={},if=sd,format=raw", card.display()))
            .arg("-serial")
            .arg(format!("file:{}", uart0.display()))
            .arg("-serial")
            .arg(format!("file:{}", uart1.display()))
            .args(["-display", "none", "-monitor", "none"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start qemu-system-aarch64 -M raspi3b")?,
    );
    let timeout = Duration::from_secs(600);
    let line = loop {
        let text = String::from_utf8_lossy(&std::fs::read(&uart1).unwrap_or_default()).into_owned();
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("kiosk: slot ") && l.contains("kiosk active"))
        {
            break l.trim().to_string();
        }
        if let Some(st) = vm.0.try_wait()? {
            bail!(
                "qemu exited ({st}) before the kiosk was active\n{}",
                tail_text(&text, 30)
            );
        }
        if started.elapsed() > timeout {
            bail!(
                "the kiosk was not active on the serial console within {} s\n{}",
                timeout.as_secs(),
                tail_text(&text, 30)
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let secs = started.elapsed().as_secs();
    step.done();
    let _ = vm.0.kill();
    let text = String::from_utf8_lossy(&std::fs::read(&uart1).unwrap_or_default()).into_owned();
    let chain: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("kiosk-boot:"))
        .map(str::trim)
        .collect();
    if !chain
        .iter()
        .any(|l| l.contains("device tree broadcom/bcm2837-rpi-3-b.dtb from slot A"))
    {
        bail!("U-Boot did not load the Pi 3's device tree from slot A: {chain:?}");
    }
    // The counters as Linux left them (through fw_setenv): the slot's
    // tries given back once the kiosk answered.
    let _ = vm.0.wait();
    let env_file = dir.join("rpi-boot-kiosk.env");
    run(Command::new("mcopy")
        .arg("-o")
        .arg("-i")
        .arg(format!("{}@@1048576", card.display()))
        .arg("::/kiosk.env")
        .arg(&env_file))?;
    let env = crate::boot::decode_env(&std::fs::read(&env_file)?)?;
    let _ = std::fs::remove_file(&card);
    if env.get("BOOT_A_LEFT").map(String::as_str) != Some("3") {
        bail!(
            "after the kiosk was active kiosk.env says {env:?}: slot A did not get its tries back"
        );
    }
    Ok(format!(
        "{secs} s from power-on to \"{line}\" on the serial console (mini UART, ttyS1; the card copy boots with modprobe.blacklist=bcm2835_wdt: qemu's raspi3b resets at the first watchdog write); U-Boot rpi_arm64 ran boot.scr: {}; kiosk.env afterwards {env:?} (mark-good through fw_setenv)",
        chain.join(" | ")
    ))
}

/// A primary button's fill (an enabled install or restart button), not the
/// grey of a disabled one.
fn is_primary([r, g, b]: [u8; 3]) -> bool {
    b > 120 && r < 60 && g < 120
}

/// The console file's length now (what a later look starts from).
fn console_len(console: &Path) -> usize {
    std::fs::metadata(console)
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}

/// The console's text written after byte `from`.
fn console_since(console: &Path, from: usize) -> String {
    let bytes = std::fs::read(console).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(from..).unwrap_or_default()).into_owned()
}

/// The console's lines holding `needle`, trimmed, joined with " | ".
fn console_lines(console: &Path, needle: &str) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(console).unwrap_or_default()).into_owned();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(|l| l.trim().trim_start_matches("\u{1b}c").to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn tail_text(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn an_archive_appended_to_an_initrd_starts_4_byte_aligned() {
        let archive = newc_archive(&[("conf/conf.d/x", b"echo hi\n")]);
        for len in [0, 1, 3, 4, 6355151] {
            let mut initrd = vec![0x28u8; len];
            append_cpio(&mut initrd, &archive);
            let at = initrd.len() - archive.len();
            assert_eq!(at % 4, 0, "initrd of {len} bytes");
            assert!(initrd[len..at].iter().all(|b| *b == 0), "zeros between");
            assert!(initrd[at..].starts_with(b"070701"));
        }
    }

    #[test]
    fn a_newc_archive_has_its_entries_and_trailer_aligned() {
        let a = newc_archive(&[("conf/conf.d/x", b"echo hi\n")]);
        assert_eq!(a.len() % 512, 0);
        assert!(a.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("conf/conf.d/x\0"));
        assert!(text.contains("echo hi\n"));
        assert!(text.contains("TRAILER!!!\0"));
        // The name size field counts the NUL: "conf/conf.d/x" + 1 = 0xe.
        assert_eq!(&a[94..102], b"0000000e");
        // File size field: 8 bytes.
        assert_eq!(&a[54..62], b"00000008");
        // cpio (if installed) lists it.
        let listed = Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().map(|mut i| i.write_all(&a));
                c.wait_with_output()
            });
        match listed {
            Ok(o) if o.status.success() => {
                assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "conf/conf.d/x");
            }
            _ => eprintln!(
                "SKIPPED: cpio is not installed; the archive is checked by its bytes only"
            ),
        }
    }
}
