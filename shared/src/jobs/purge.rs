//! The `purge` function's run (an EventBridge schedule): creates, renames and deletes
//! whose requests died and that no request met since are settled (rolled back or
//! finished, as the next request would), restores cut short are finished, then deleted
//! organizations past their grace period are removed for good (see
//! [`crate::core::trash`]).

use mongodb::bson::DateTime;
use serde::Serialize;

use crate::core::lifecycle::{LEASE, settle};
use crate::core::trash::{finish_restore, purge};
use crate::error::ApiResult;
use crate::store::{Store, registry, trash};

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Organizations purged.
    pub purged: usize,
    /// Restores cut short that it finished.
    pub restored: usize,
    /// Creates, renames and deletes left in flight that it settled.
    pub settled: usize,
}

/// Finishes restores begun longer ago than the lease, then purges every deleted
/// organization whose grace period is over (at most `limit`; the next run goes on).
pub async fn run(store: &Store, limit: usize) -> ApiResult<Report> {
    let mut report = Report::default();
    let before = DateTime::now().timestamp_millis() - LEASE.as_millis() as i64;
    for org in registry::stalled(store, before, limit as i64).await? {
        settle(store, org).await?;
        report.settled += 1;
    }
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
