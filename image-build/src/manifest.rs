//! The build manifest: what is in the image and how to check it.

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::build::Outputs;
use crate::def::ImageDef;
use crate::disk::PartFiles;
use crate::layout::Disk;
use crate::step::run;

/// A file and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// File name (in the output folder).
    pub file: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One partition as built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSum {
    /// `boot`, `root-a`, `root-b`, `data`.
    pub name: String,
    /// PARTUUID.
    pub partuuid: String,
    /// First byte in the image.
    pub offset: u64,
    /// Partition size, bytes.
    pub size: u64,
    /// File system.
    pub fs: String,
    /// SHA-256 of the file system image written there (hex).
    pub sha256: String,
}

/// One installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub arch: String,
}

/// The manifest written as `kiosk-<version>-<image>.manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Image definition name.
    pub image: String,
    /// Firmware version.
    pub version: String,
    /// Git commit the image was built from (`-dirty` with local changes).
    pub git_commit: String,
    /// Release version (`/etc/kiosk/release`, the bundle's version).
    pub release: String,
    /// Debian suite.
    pub debian_suite: String,
    /// Kernel version.
    pub kernel: String,
    /// Kernel command line (slot A active).
    pub cmdline: String,
    /// MBR disk identifier.
    pub disk_id: String,
    /// The kiosk binary.
    pub kiosk: FileSum,
    /// Cargo features of the kiosk binary.
    pub kiosk_features: Vec<String>,
    /// Whether the face models are installed.
    pub models: bool,
    /// Whether a status token was preseeded (test images).
    pub status_token_preseeded: bool,
    /// The raw image.
    pub image_raw: FileSum,
    /// The compressed image (`zstd -d --long=31`).
    pub image_zst: FileSum,
    /// Partitions.
    pub partitions: Vec<PartitionSum>,
    /// `sfdisk -d` of the image.
    pub partition_table: String,
    /// Hash of the root file system recipe (cache key).
    pub rootfs_key: String,
    /// Whether the root file system came from the cache.
    pub rootfs_cached: bool,
    /// Build time, seconds.
    pub build_seconds: f64,
    /// Installed packages with versions.
    pub packages: Vec<Package>,
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn file_sum(path: &Path) -> anyhow::Result<FileSum> {
    Ok(FileSum {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: fs::metadata(path)?.len(),
        sha256: sha256_file(path)?,
    })
}

/// `dpkg-query` output (`name\tversion\tarch` lines) as packages.
pub fn parse_packages(text: &str) -> Vec<Package> {
    let mut v: Vec<Package> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some(Package {
                name: f.next()?.to_string(),
                version: f.next()?.to_string(),
                arch: f.next()?.to_string(),
            })
        })
        .filter(|p| !p.name.is_empty())
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The commit the build starts from (`-dirty` with local changes), taken
/// before the build so edits made while it runs do not show.
pub fn git_commit() -> String {
    let dir = crate::def::source_dir();
    let dir = dir.as_path();
    let head = run(Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"]))
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|_| "unknown".into());
    let dirty = run(Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain"]))
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

/// What goes into the manifest.
pub struct Inputs<'a> {
    /// Definition.
    pub def: &'a ImageDef,
    /// Layout.
    pub disk: &'a Disk,
    /// Partition files.
    pub files: &'a PartFiles,
    /// Raw image.
    pub img: &'a Path,
    /// Compressed image.
    pub zst: &'a Path,
    /// Kiosk binary.
    pub kiosk: &'a Path,
    /// Root tree (for the package list).
    pub root: &'a Path,
    /// Kernel version.
    pub kernel: &'a str,
    /// Kernel command line.
    pub cmdline: &'a str,
    /// `sfdisk -d`.
    pub table: &'a str,
    /// Root file system cache key.
    pub rootfs_key: &'a str,
    /// From the cache?
    pub rootfs_cached: bool,
    /// Models installed?
    pub models: bool,
    /// Token preseeded?
    pub status_token_preseeded: bool,
    /// Build time so far.
    pub seconds: f64,
    /// Output names.
    pub out: &'a Outputs,
    /// [`git_commit`] when the build started.
    pub git_commit: String,
    /// The release version.
    pub release: &'a str,
}

/// Computes the checksums and writes the manifest and a `sha256sum` file.
pub fn write(i: Inputs<'_>) -> anyhow::Result<Manifest> {
    let pkgs = run(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            i.root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"]))?;
    let mut partitions = Vec::new();
    for p in &i.disk.parts {
        let (_, file, fs) = i
            .files
            .files
            .iter()
            .find(|(n, _, _)| *n == p.name)
            .context("partition without a file")?;
        partitions.push(PartitionSum {
            name: p.name.to_string(),
            partuuid: p.partuuid.clone(),
            offset: p.offset,
            size: p.size,
            fs: fs.to_string(),
            sha256: sha256_file(file)?,
        });
    }
    let m = Manifest {
        image: i.def.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: i.git_commit,
        release: i.release.to_string(),
        debian_suite: i.def.debian.suite.clone(),
        kernel: i.kernel.to_string(),
        cmdline: i.cmdline.to_string(),
        disk_id: format!("0x{:08x}", i.disk.disk_id),
        kiosk: file_sum(i.kiosk)?,
        kiosk_features: i.def.kiosk.features.clone(),
        models: i.models,
        status_token_preseeded: i.status_token_preseeded,
        image_raw: file_sum(i.img)?,
        image_zst: file_sum(i.zst)?,
        partitions,
        partition_table: i.table.to_string(),
        rootfs_key: i.rootfs_key.to_string(),
        rootfs_cached: i.rootfs_cached,
        build_seconds: (i.seconds * 10.0).round() / 10.0,
        packages: parse_packages(&pkgs),
    };
    fs::write(
        i.out.file(".manifest.json"),
        serde_json::to_string_pretty(&m)? + "\n",
    )?;
    fs::write(
        i.out.file(".img.zst.sha256"),
        format!("{}  {}\n", m.image_zst.sha256, m.image_zst.file),
    )?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_lines_become_sorted_packages() {
        let p = parse_packages("zstd\t1.5.4\tarm64\nbash\t5.2.15-2+b2\tarm64\n\nbroken\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "bash");
        assert_eq!(p[1].version, "1.5.4");
    }

    #[test]
    fn file_checksums_match_a_known_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("abc");
        fs::write(&f, b"abc").expect("write");
        assert_eq!(
            sha256_file(&f).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let s = file_sum(&f).expect("sum");
        assert_eq!((s.file.as_str(), s.bytes), ("abc", 3));
    }
}
