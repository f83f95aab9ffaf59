//! The deploy-time step: the indexes every collection needs, and the move of
//! first-release documents (an organization with its single admin embedded) to accounts
//! and member maps. Run by the `migrate` function after each deploy (and by `make run`
//! and the tests before anything else); each step is idempotent, so running it again
//! changes nothing, and a crash midway is finished by the next run. Request paths never
//! create indexes: each function checks once per cold start that they are there, and
//! refuses to start when they are not. (A first-release document written meanwhile by
//! an older function still serving is migrated when a request first touches it.)

use serde::Serialize;

use crate::config::ConfigError;
use crate::store::{Store, indexes};

/// What a migration run did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The indexes ensured, as `collection.name`.
    pub indexes: Vec<String>,
    /// First-release organizations moved to accounts and member maps.
    pub migrated: usize,
}

/// Makes sure of the indexes (see [`indexes::ensure`]) and migrates first-release
/// organizations.
pub async fn run(store: &Store) -> Result<Report, crate::error::ApiError> {
    let indexes = indexes::ensure(store).await?;
    let legacy = crate::store::registry::legacy(store).await?;
    for org in &legacy {
        crate::core::membership::migrate_admin(store, org).await?;
    }
    crate::store::registry::backfill(store).await?;
    Ok(Report {
        indexes,
        migrated: legacy.len(),
    })
}

/// Checks that the indexes are there and the first release's obsolete ones gone: an
/// error names the first one wrong. A database that does not answer is not an error
/// here (the requests answer 503 until it does); a warning is logged and the check is
/// skipped.
pub async fn check(store: &Store) -> Result<(), ConfigError> {
    match indexes::wrong(store).await {
        Ok(None) => Ok(()),
        Ok(Some(why)) => Err(ConfigError::Invalid {
            name: "MASTER_DB",
            why: format!(
                "{why}: run the migrate function (make migrate STACK=<stack> after a deploy)"
            ),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "index check skipped: the database does not answer");
            Ok(())
        }
    }
}
