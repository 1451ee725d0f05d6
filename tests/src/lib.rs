//! Test bed: end-to-end scenarios across the kiosk crates, and helpers they
//! share (running a scenario into temp dirs, scanning files for personal
//! data in clear, and [`proxy::FaultProxy`], a fault-injecting HTTP proxy
//! between the kiosk and the central simulator).

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

pub mod proxy;

/// Personal values of the synthetic citizens that must never appear in clear
/// in logs, transcripts, summaries or the store's files.
pub const PERSONAL: &[&str] = &[
    "张伟",
    "李娜",
    "王芳",
    "330106199001010026",
    "330106198503121231",
    "440305197011204562",
    "13812345678",
    "文三路100号",
    "解放路25号",
    "创业路8号",
    "赵强",
    "陈静",
    "周建华",
    "孙丽",
    "110101195805050073",
    "320502199211118881",
    "320502196507150019",
    "330105197803220046",
    "东华门大街1号",
    "人民路88号",
    "湖墅南路66号",
    "建国路1号",
];

/// The personal values in a piece of text (a log, a transcript).
pub fn personal_data_in_text(text: &str) -> Vec<&'static str> {
    PERSONAL
        .iter()
        .copied()
        .filter(|v| text.contains(v))
        .collect()
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The personal values found in clear in any file below `dir`, as
/// `(file, value)` pairs. Searches raw bytes for the UTF-8 encoding.
pub fn personal_data_in(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut found = Vec::new();
    for f in files_below(dir) {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        for v in PERSONAL {
            if bytes.windows(v.len()).any(|w| w == v.as_bytes()) {
                found.push((f.clone(), *v));
            }
        }
    }
    found
}
