//! The `purge` function's run (an EventBridge schedule): restores cut short are
//! finished, then deleted organizations past their grace period are removed for good
//! (see [`crate::core::trash`]).

use mongodb::bson::DateTime;
use serde::Serialize;

use crate::core::lifecycle::LEASE;
use crate::core::trash::{finish_restore, purge};
use crate::error::ApiResult;
use crate::store::{Store, trash};

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Organizations purged.
    pub purged: usize,
    /// Restores cut short that it finished.
    pub restored: usize,
}

/// Finishes restores begun longer ago than the lease, then purges every deleted
/// organization whose grace period is over (at most `limit`; the next run goes on).
pub async fn run(store: &Store, limit: usize) -> ApiResult<Report> {
    let mut report = Report::default();
    let before = DateTime::now().timestamp_millis() - LEASE.as_millis() as i64;
    for record in trash::stalled_restores(store, before).await? {
        finish_restore(store, record).await?;
        report.restored += 1;
    }
    while report.purged < limit {
        let Some(record) = trash::take_due(store, DateTime::now()).await? else {
            break;
        };
        purge(store, &record).await?;
        report.purged += 1;
    }
    Ok(report)
}
