//! The retention job: once an hour (and at start), the personal fields of
//! synced orders older than `sync.retention_days` are deleted from the
//! store (see [`Store::purge_personal`]). Central holds the record; the
//! kiosk keeps only what it needs for reprints and progress queries.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use crate::store::Store;

/// Runs the job until `shutdown` turns true; `days == 0` keeps everything.
pub async fn run(store: Arc<Store>, days: u32, mut shutdown: watch::Receiver<bool>) {
    if days == 0 {
        return;
    }
    loop {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.purge_personal(cutoff)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("retention job: {e}"),
            Err(e) => warn!("retention job stopped: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
