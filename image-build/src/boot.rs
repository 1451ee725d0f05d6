//! The boot chain's files on the FAT partition: the U-Boot boot script
//! (`boot/boot.cmd.in`, filled per board and compiled to `boot.scr`) and
//! `kiosk.env`, the slot counters in U-Boot's binary environment format,
//! which the script and Linux's `fw_setenv` (through RAUC) share.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use crate::def::ImageDef;
use crate::layout::Disk;
use crate::step::run;

/// The script's template.
pub const BOOT_CMD_IN: &str = include_str!("../boot/boot.cmd.in");

/// Size of `kiosk.env` (U-Boot's `env export -s`, `/etc/fw_env.config`).
pub const ENV_SIZE: usize = 0x4000;

/// The counters a new image starts with: slot A first, three tries each
/// (RAUC's U-Boot backend gives a slot three when it marks it good).
pub fn initial_counters() -> BTreeMap<String, String> {
    [
        ("BOOT_ORDER", "A B"),
        ("BOOT_A_LEFT", "3"),
        ("BOOT_B_LEFT", "3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The boot script for `def` on `disk`: each slot's partition number and
/// kernel command line (`{root}` its PARTUUID).
pub fn boot_script(def: &ImageDef, disk: &Disk) -> anyhow::Result<String> {
    let mut s = BOOT_CMD_IN.replace("@BOARD@", &def.name);
    for (slot, part) in [("A", "root-a"), ("B", "root-b")] {
        let p = disk.part(part).with_context(|| format!("no {part} slot"))?;
        let args = disk
            .cmdline(&def.board.cmdline, part)
            .with_context(|| format!("no {part} slot"))?;
        if args.contains('"') || args.contains('$') {
            bail!("board.cmdline must not hold '\"' or '$' (it goes into a U-Boot script)");
        }
        s = s
            .replace(&format!("@PART_{slot}@"), &p.number.to_string())
            .replace(&format!("@ARGS_{slot}@"), &args);
    }
    if let Some(field) = unfilled_field(&s) {
        bail!("boot.cmd.in has a field image-build does not fill: @{field}@");
    }
    Ok(s)
}

/// The first `@NAME@` (capitals and `_`) left in `s`.
fn unfilled_field(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(i) = rest.find('@') {
        let after = &rest[i + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('@') {
            return Some(&after[..name_len]);
        }
        rest = after;
    }
    None
}

/// The script as U-Boot runs it: without comment lines (U-Boot's shell
/// reads a quote inside a comment as the start of a string) and blank lines.
pub fn strip_comments(script: &str) -> String {
    script
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Compiles `script` into `scr` (`mkimage -T script`, package u-boot-tools),
/// comments stripped.
pub fn compile_script(script: &str, work: &Path, scr: &Path) -> anyhow::Result<()> {
    let cmd = work.join("boot.cmd");
    std::fs::write(&cmd, strip_comments(script))?;
    run(Command::new("mkimage")
        .args(["-A", "arm64", "-O", "linux", "-T", "script", "-C", "none"])
        .args(["-n", "kiosk boot script", "-d"])
        .arg(&cmd)
        .arg(scr))
    .context("mkimage (package u-boot-tools) failed")?;
    Ok(())
}

/// U-Boot's binary environment: CRC32 (little endian) of the data area,
/// then `name=value` strings each ended by NUL, padded with NUL to `size`.
pub fn encode_env(vars: &BTreeMap<String, String>, size: usize) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(size - 4);
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            bail!("environment variable {k:?} cannot be encoded");
        }
        data.extend_from_slice(k.as_bytes());
        data.push(b'=');
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    // The list ends with an empty string.
    data.push(0);
    if data.len() > size - 4 {
        bail!(
            "the environment needs {} bytes, more than {size}",
            data.len() + 4
        );
    }
    data.resize(size - 4, 0);
    let mut out = crc32fast::hash(&data).to_le_bytes().to_vec();
    out.extend_from_slice(&data);
    Ok(out)
}

/// Reads U-Boot's binary environment; refuses a bad CRC (what U-Boot and
/// fw_printenv do with a half-written one).
pub fn decode_env(bytes: &[u8]) -> anyhow::Result<BTreeMap<String, String>> {
    if bytes.len() < 5 {
        bail!("an environment of {} bytes is too short", bytes.len());
    }
    let (crc, data) = bytes.split_at(4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(data) != want {
        bail!("the environment's CRC does not match (half-written or not an environment)");
    }
    let mut vars = BTreeMap::new();
    for entry in data.split(|&b| b == 0) {
        if entry.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(entry);
        let (k, v) = text
            .split_once('=')
            .with_context(|| format!("environment entry {text:?} has no '='"))?;
        vars.insert(k.to_string(), v.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::images_dir;

    #[test]
    fn the_environment_round_trips_and_a_torn_write_is_refused() {
        let vars = initial_counters();
        let bytes = encode_env(&vars, ENV_SIZE).expect("encode");
        assert_eq!(bytes.len(), ENV_SIZE);
        assert_eq!(decode_env(&bytes).expect("decode"), vars);
        assert_eq!(&bytes[4..16], b"BOOT_A_LEFT=");
        let mut torn = bytes.clone();
        torn[20] ^= 0x01;
        assert!(decode_env(&torn).is_err());
        assert!(decode_env(&bytes[..3]).is_err());
        let mut big = BTreeMap::new();
        big.insert("X".to_string(), "y".repeat(ENV_SIZE));
        assert!(encode_env(&big, ENV_SIZE).is_err());
    }

    #[test]
    fn the_environment_matches_u_boot_tools_mkenvimage() {
        // mkenvimage (u-boot-tools) is the reference; skip loudly without it.
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("env.txt");
        std::fs::write(&text, "BOOT_A_LEFT=3\nBOOT_B_LEFT=3\nBOOT_ORDER=A B\n").expect("write");
        let bin = dir.path().join("env.bin");
        let made = Command::new("mkenvimage")
            .args(["-s", "16384", "-p", "0", "-o"])
            .arg(&bin)
            .arg(&text)
            .status();
        match made {
            Ok(s) if s.success() => {
                let theirs = std::fs::read(&bin).expect("read");
                let vars = decode_env(&theirs).expect("mkenvimage's output decodes");
                assert_eq!(vars, initial_counters());
                // Same variables in the same (sorted, as U-Boot exports them) order:
                // same bytes.
                assert_eq!(
                    encode_env(&initial_counters(), ENV_SIZE).expect("encode"),
                    theirs
                );
            }
            _ => eprintln!(
                "SKIPPED: mkenvimage (package u-boot-tools) is not installed; \
                 the environment format is checked against it only where it is"
            ),
        }
    }

    #[test]
    fn each_slot_boots_its_own_partition_and_tells_rauc_which() {
        for name in ["rpi4", "qemu-virt"] {
            let def = ImageDef::load(&images_dir(), name).expect("definition");
            let disk = Disk::new(def.layout, 0x1234_abcd);
            let s = boot_script(&def, &disk).expect("script");
            assert!(s.contains("setenv kiosk_part 2\n"), "{name}");
            assert!(s.contains("setenv kiosk_part 3\n"), "{name}");
            assert!(
                s.contains("root=PARTUUID=1234abcd-02 ro") && s.contains("rauc.slot=A\""),
                "{name}"
            );
            assert!(
                s.contains("root=PARTUUID=1234abcd-03 ro") && s.contains("rauc.slot=B\""),
                "{name}"
            );
            assert_eq!(unfilled_field(&s), None, "{name}");
            // What U-Boot runs has no comment (a quote in one breaks its
            // shell) and no quote outside a string.
            let run = strip_comments(&s);
            assert!(!run.lines().any(|l| l.trim_start().starts_with('#')));
            assert!(!run.contains('\''), "{name}: a single quote in the script");
            // The kernel and initrd come from the slot, never the FAT.
            assert!(
                s.contains("ext4load ${kiosk_dev}:${kiosk_part} ${kernel_addr_r} /boot/vmlinuz")
            );
            assert!(!s.contains("fatload ${kiosk_dev}:${distro_bootpart} ${kernel_addr_r} vmlinuz"));
        }
    }
}
