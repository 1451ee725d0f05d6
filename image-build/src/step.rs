//! Running the build's steps: external commands with clear errors, and a
//! spinner with the elapsed time for each long step (a plain line per step
//! when stderr is not a terminal, as in CI logs).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

/// A step in progress.
pub struct Step {
    bar: ProgressBar,
    name: String,
    started: Instant,
}

impl Step {
    /// Starts a step with a spinner.
    pub fn start(name: impl Into<String>) -> Self {
        let name = name.into();
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(name.clone());
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            name,
            started: Instant::now(),
        }
    }

    /// Ends the step and prints how long it took; returns the seconds.
    pub fn done(self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        self.bar.finish_and_clear();
        eprintln!("image-build: {} ({secs:.1} s)", self.name);
        secs
    }
}

/// Runs a command to completion; on failure the error names the command and
/// ends with the tail of its output.
pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let shown = show(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{shown}` (is it installed? scripts/setup.sh --image installs the image tools)"))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        bail!("`{shown}` failed ({}):\n{}", out.status, tail(&text, 40));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A command line as text, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_is_named_with_its_output() {
        let err = run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"])).expect_err("fails");
        let msg = err.to_string();
        assert!(msg.contains("sh -c"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let err = run(&mut Command::new("no-such-tool-kiosk")).expect_err("fails");
        assert!(err.to_string().contains("setup.sh"), "{err}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
