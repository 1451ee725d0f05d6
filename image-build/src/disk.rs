//! File system images and the partitioned disk image, without loop devices:
//! `mkfs.vfat -C` + `mcopy`, `mkfs.ext4 -d`, `sfdisk` on a sparse file and
//! `dd conv=notrunc,sparse` into place.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::layout::Disk;
use crate::step::run;

/// The file system image of each partition, by partition name.
#[derive(Debug, Clone)]
pub struct PartFiles {
    /// `(partition name, file, file system)`.
    pub files: Vec<(&'static str, PathBuf, &'static str)>,
}

impl PartFiles {
    /// The file holding partition `name`.
    pub fn get(&self, name: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, p, _)| p.as_path())
    }
}

/// A filesystem UUID derived from the disk id (stable per version).
fn fs_uuid(disk_id: u32, n: u8) -> String {
    format!("{disk_id:08x}-4b49-4f53-{:04x}-4b494f534b00", n)
}

/// Makes `boot.vfat`, `root.ext4` and `data.ext4` in `work` (root B is a
/// copy of root A, so one file serves both slots) and checks the ext4 ones.
pub fn make_filesystems(
    disk: &Disk,
    work: &Path,
    boot: &Path,
    root: &Path,
    data: &Path,
) -> anyhow::Result<PartFiles> {
    let size = |n: &str| {
        disk.part(n)
            .map(|p| p.size)
            .context("layout lacks a partition")
    };
    let vfat = work.join("boot.vfat");
    run(Command::new("mkfs.vfat")
        .args(["-C", "-F", "32", "-n", "BOOT", "-i"])
        .arg(format!("{:08x}", disk.disk_id))
        .arg(&vfat)
        .arg((size("boot")? / 1024).to_string()))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(boot)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    if entries.is_empty() {
        bail!("the boot partition would be empty (no /boot/firmware from raspi-firmware)");
    }
    run(Command::new("mcopy")
        .args(["-s", "-p", "-m", "-i"])
        .arg(&vfat)
        .args(&entries)
        .arg("::/"))?;
    let ext4 = |name: &str, label: &str, dir: &Path, n: u8| -> anyhow::Result<PathBuf> {
        let file = work.join(format!("{name}.ext4"));
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", label, "-U", &fs_uuid(disk.disk_id, n)])
            .args(["-E", "root_owner=0:0", "-d"])
            .arg(dir)
            .arg(&file)
            .arg(format!("{}k", size(name)? / 1024)))?;
        run(Command::new("e2fsck").arg("-fn").arg(&file))
            .with_context(|| format!("{name}.ext4 is not clean"))?;
        Ok(file)
    };
    let rootfs = ext4("root-a", "root", root, 2)?;
    let datafs = ext4("data", "data", data, 4)?;
    Ok(PartFiles {
        files: vec![
            ("boot", vfat, "vfat"),
            ("root-a", rootfs.clone(), "ext4"),
            ("root-b", rootfs, "ext4"),
            ("data", datafs, "ext4"),
        ],
    })
}

/// Writes the partition table into a sparse file of the disk's size and
/// copies each file system into place.
pub fn assemble(disk: &Disk, files: &PartFiles, img: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(img);
    let f =
        std::fs::File::create(img).with_context(|| format!("cannot create {}", img.display()))?;
    f.set_len(disk.size)?;
    drop(f);
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(img)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start sfdisk (package fdisk)")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(disk.sfdisk_script().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("sfdisk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    for p in &disk.parts {
        let file = files
            .get(p.name)
            .with_context(|| format!("no file for {}", p.name))?;
        let len = std::fs::metadata(file)?.len();
        if len > p.size {
            bail!(
                "{} is {len} bytes, its partition {} bytes",
                file.display(),
                p.size
            );
        }
        run(Command::new("dd")
            .arg(format!("if={}", file.display()))
            .arg(format!("of={}", img.display()))
            .args(["bs=1M", "conv=notrunc,sparse", "status=none"])
            .arg(format!("seek={}", p.offset / (1024 * 1024))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::Layout;

    fn have(tool: &str) -> bool {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// A small disk from real tools: the table reads back and each
    /// partition holds its file system at the right offset.
    #[test]
    fn a_small_disk_assembles_and_reads_back() {
        if !["mkfs.vfat", "mcopy", "mkfs.ext4", "sfdisk", "e2fsck"]
            .iter()
            .all(|t| have(t))
        {
            eprintln!("skipped: image tools not installed (scripts/setup.sh --image)");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let w = dir.path();
        let (boot, root, data) = (w.join("b"), w.join("r"), w.join("d"));
        for d in [&boot, &root, &data] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(boot.join("cmdline.txt"), "root=PARTUUID=x ro\n").expect("write");
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::write(root.join("etc/hostname"), "kiosk\n").expect("write");
        let disk = Disk::new(
            Layout {
                boot_mib: 64,
                root_mib: 256,
                data_mib: 32,
            },
            0xabcd_0001,
        );
        let files = make_filesystems(&disk, w, &boot, &root, &data).expect("file systems");
        let img = w.join("disk.img");
        assemble(&disk, &files, &img).expect("assembled");
        assert_eq!(std::fs::metadata(&img).expect("meta").len(), disk.size);
        let dump = run(Command::new("sfdisk").arg("-d").arg(&img)).expect("sfdisk -d");
        assert!(dump.contains("label-id: 0xabcd0001"), "{dump}");
        assert_eq!(dump.matches("start=").count(), 4, "{dump}");
        let boot_at = disk.part("boot").expect("boot").offset;
        let listing = run(Command::new("mdir")
            .arg("-i")
            .arg(format!("{}@@{boot_at}", img.display()))
            .arg("::/"))
        .expect("mdir");
        assert!(listing.to_uppercase().contains("CMDLINE"), "{listing}");
        let root_b = disk.part("root-b").expect("root-b").offset;
        let host = run(Command::new("debugfs")
            .args(["-R", "cat /etc/hostname"])
            .arg(format!("{}", files.get("root-b").expect("file").display())))
        .expect("debugfs");
        assert_eq!(host, "kiosk\n");
        // Root B on disk is byte-identical to root A's file system.
        let mut buf = vec![0u8; 4096];
        let read_at = |off: u64, buf: &mut [u8]| {
            use std::os::unix::fs::FileExt;
            std::fs::File::open(&img)
                .expect("open")
                .read_exact_at(buf, off)
                .expect("read");
        };
        let mut a = vec![0u8; 4096];
        read_at(disk.part("root-a").expect("a").offset + 1024, &mut a);
        read_at(root_b + 1024, &mut buf);
        assert_eq!(a, buf, "superblocks of A and B match");
        assert_eq!(&a[56..58], &[0x53, 0xef], "ext4 magic");
    }
}
