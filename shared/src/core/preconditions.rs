//! `If-Match` preconditions on the organization's version (its `ETag`): checked and
//! kept in one conditional write, so that of two requests with the same `If-Match` one
//! goes on and the other is 412.

use mongodb::bson::oid::ObjectId;

use crate::error::{ApiError, ApiResult};
use crate::http::IfMatch;
use crate::store::{Store, registry};

/// Moves the organization `id` on from the version `condition` names, in one write;
/// 412 when it names another. Nothing to do without a condition, or with `*`. The
/// version claimed, for [`release`] when the request then changes nothing.
pub async fn claim(store: &Store, id: ObjectId, condition: &IfMatch) -> ApiResult<Option<i64>> {
    match condition {
        IfMatch::Absent | IfMatch::Any => Ok(None),
        IfMatch::Versions(versions) => registry::claim_version(store, id, versions)
            .await?
            .map(Some)
            .ok_or(ApiError::PreconditionFailed),
    }
}

/// Gives back the version a request claimed and then changed nothing with (a refusal):
/// only a change moves the `ETag` on.
pub async fn release(store: &Store, id: ObjectId, claimed: Option<i64>) -> ApiResult<()> {
    if let Some(version) = claimed {
        registry::release_version(store, id, version).await?;
    }
    Ok(())
}

/// The same precondition for a request that changes nothing, against the version of
/// the organization as read.
pub fn unchanged(condition: &IfMatch, version: i64) -> ApiResult<()> {
    match condition {
        IfMatch::Versions(versions) if !versions.contains(&version) => {
            Err(ApiError::PreconditionFailed)
        }
        _ => Ok(()),
    }
}
