//! The child process of the crash harness (`tests/tests/crash.rs`): the
//! kiosk's runtime on the twins against an outside central simulator,
//! doing transactions until killed (see `kiosk_sim::demo::soak`).
//!
//! `crash-worker CENTRAL_URL DATA_DIR TRANSACTIONS`

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [central, data, transactions] = args.as_slice() else {
        eprintln!("usage: crash-worker CENTRAL_URL DATA_DIR TRANSACTIONS");
        return std::process::ExitCode::from(2);
    };
    let Ok(transactions) = transactions.parse() else {
        eprintln!("TRANSACTIONS must be a number");
        return std::process::ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let opts = kiosk_sim::demo::soak::SoakOptions {
        central: central.clone(),
        data: data.into(),
        transactions,
    };
    match runtime.block_on(kiosk_sim::demo::soak::run(opts)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-worker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
