//! How a test that cannot run here says so, loudly and countably.
//!
//! A test whose inputs are missing on this machine (the face models and
//! photos of `../shared`, `prometheus`) returns early; returning alone would
//! count it as passed. [`skip`] prints the reason and, when the test runner
//! of `scripts/test.sh` set `KIOSK_TEST_SKIP_LOG`, appends one line to that
//! file, so the suite's closing line reads `N passed, N failed, N skipped`
//! and CI (which must skip nothing) fails on any skip.

use std::io::Write;

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG_ENV: &str = "KIOSK_TEST_SKIP_LOG";

/// Records that the calling test (named by its thread, as the test
/// harness names it) is skipped for `reason`; the caller then returns.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    eprintln!("SKIPPED {test}: {reason}");
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV) {
        // One short line per write, appended: lines from parallel tests do
        // not interleave.
        let line = format!("{test}: {reason}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!("cannot record the skip of {test} in {path:?}: {e}");
        }
    }
}
