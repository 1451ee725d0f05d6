//! `bench-transaction [N] [SCENARIO]`: runs a demo scenario N times (default
//! 20, `new-connection-idcard`) and reports the machine time of one scripted
//! transaction, from the citizen's "start" to the receipt printed, as the
//! transcript's own timestamps record it; plus the whole scenario's wall time
//! (which includes starting the simulator, the pty twin and the status server).
//!
//! `cargo run -p kiosk-testbed --bin bench-transaction -- 20`

use std::time::Instant;

use anyhow::Context;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let scenario = args
        .next()
        .unwrap_or_else(|| "new-connection-idcard".into());
    let rt = tokio::runtime::Runtime::new()?;
    let mut txn_ms = Vec::new();
    let mut per_state: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut total_ms = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir()?;
        let t0 = Instant::now();
        let summary = rt.block_on(kiosk_sim::demo::run(kiosk_sim::demo::DemoOptions {
            scenario: scenario.clone(),
            out: dir.path().join("out"),
            data: Some(dir.path().join("data")),
        }))?;
        total_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(summary.passed, "scenario failed: {:?}", summary.failures);
        let text = std::fs::read_to_string(dir.path().join("out/transcript.jsonl"))?;
        let mut start = None;
        let mut printed = None;
        let mut prev: Option<(String, chrono::DateTime<chrono::FixedOffset>)> = None;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let t = chrono::DateTime::parse_from_rfc3339(v["t"].as_str().context("t")?)?;
            if let Some((state, since)) = prev.take() {
                let ms = (t - since).num_microseconds().unwrap_or(0) as f64 / 1e3;
                per_state.entry(state).or_default().push(ms);
            }
            prev = Some((v["state"].as_str().unwrap_or("?").to_string(), t));
            match v["event"].as_str() {
                Some("start") if start.is_none() => start = Some(t),
                Some("receipt-printed") => printed = Some(t),
                _ => {}
            }
        }
        let (s, p) = (start.context("no start")?, printed.context("no receipt")?);
        txn_ms.push((p - s).num_microseconds().context("span")? as f64 / 1e3);
    }
    for v in [&mut txn_ms, &mut total_ms] {
        v.sort_by(f64::total_cmp);
    }
    println!("scenario {scenario}, {n} runs");
    println!(
        "start -> receipt printed: median {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms",
        percentile(&txn_ms, 0.5),
        percentile(&txn_ms, 0.9),
        txn_ms[0],
        txn_ms[n - 1]
    );
    println!("time on each screen until the next event (median per visit, ms):");
    for (state, v) in &mut per_state {
        v.sort_by(f64::total_cmp);
        println!("  {state:<24} {:8.2}", percentile(v, 0.5));
    }
    println!(
        "whole scenario (incl. set-up, sync drain, /status): median {:.1} ms, max {:.1} ms",
        percentile(&total_ms, 0.5),
        total_ms[n - 1]
    );
    Ok(())
}
