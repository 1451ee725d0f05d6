//! Files the kiosk replaces whole (update state, its identity): a synced
//! temporary file renamed into place, so a power cut leaves the old file
//! or the new one, never half of either.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a file could not be replaced: the step, the file, the error.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct ReplaceError {
    /// The step (`cannot write`, `cannot sync`, `cannot replace`).
    pub what: &'static str,
    /// The file it was done to.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Replaces `path` (its folder must exist) with `bytes`: `PATH.tmp`
/// created with `mode`, written and synced, given the owner of its folder
/// (root writes files the unprivileged kiosk must rewrite), renamed into
/// place, the folder synced.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ReplaceError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| ReplaceError { what, path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    // A leftover keeps its mode when opened again: start afresh.
    let _ = std::fs::remove_file(&tmp);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(err("cannot write", &tmp))?;
        f.write_all(bytes).map_err(err("cannot write", &tmp))?;
        f.sync_all().map_err(err("cannot sync", &tmp))?;
    }
    own_like_folder(&tmp, dir);
    std::fs::rename(&tmp, path).map_err(err("cannot replace", path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Gives `file` the owner and group of `dir` (best effort: only root can).
pub fn own_like_folder(file: &Path, dir: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    if let Ok(m) = std::fs::metadata(dir) {
        let _ = std::os::unix::fs::chown(file, Some(m.uid()), Some(m.gid()));
    }
}
