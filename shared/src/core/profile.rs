//! (v3) An organization's profile: `metadata` (merged: a key set to `null` is removed)
//! and `external_id` (unique across organizations), changed in one write conditional on
//! the version read, with its audit event.

use mongodb::bson::{Bson, oid::ObjectId};

use crate::core::audit::{self, Event};
use crate::domain::{ExternalId, Metadata, MetadataChanges};
use crate::error::{ApiError, ApiResult};
use crate::http::JsonBody;
use crate::store::{Store, is_duplicate, registry};

/// What a request changes of a profile.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    /// Keys to set or (with `None`) remove.
    pub metadata: Option<MetadataChanges>,
    /// A new external id, or (with `Some(None)`) none.
    pub external_id: Option<Option<ExternalId>>,
}

impl ProfileChanges {
    /// The profile fields of a request body (`metadata`, `external_id`; errors are the
    /// body's, reported when it is finished).
    pub fn read(body: &mut JsonBody) -> Self {
        Self {
            metadata: body.nullable("metadata", Metadata::changes).flatten(),
            external_id: body.nullable("external_id", |v| {
                v.as_str()
                    .ok_or_else(|| "External id must be a string".to_owned())
                    .and_then(ExternalId::parse)
            }),
        }
    }

    /// Whether the request changes nothing of the profile.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_none() && self.external_id.is_none()
    }
}

/// Applies `changes` to the organization `id`: 422 when the merged metadata break
/// their limits, 400 when another organization has the external id. A write that
/// meets a newer version reads again (up to 32 times, then 503 busy).
pub async fn update(
    store: &Store,
    id: ObjectId,
    changes: &ProfileChanges,
    event: &Event,
) -> ApiResult<()> {
    let text = event.to_outbox();
    for _ in 0..32 {
        let Some(current) = registry::profile(store, id).await? else {
            return Err(ApiError::NotFound("Organization not found".into()));
        };
        let metadata = Metadata::from_json(current.get_str("metadata").ok());
        let metadata = match &changes.metadata {
            Some(c) => metadata
                .merged(c)
                .map_err(|msg| ApiError::invalid(&["body", "metadata"], msg))?,
            None => metadata,
        };
        let external_id = match &changes.external_id {
            Some(new) => new.as_ref().map(|e| e.as_str().to_owned()),
            None => current.get_str("external_id").ok().map(str::to_owned),
        };
        if let Some(Some(new)) = &changes.external_id {
            registry::external_id_free(store, id, new.as_str()).await?;
        }
        let version = match current.get("version") {
            Some(Bson::Int64(v)) => *v,
            Some(Bson::Int32(v)) => i64::from(*v),
            _ => 0,
        };
        let stored = (!metadata.is_empty()).then(|| metadata.to_json());
        let fields = (stored.as_deref(), external_id.as_deref());
        match registry::set_profile(store, id, version, fields, &text).await {
            Ok(Some(org)) => return Ok(audit::drain(store, &org).await?),
            Ok(None) => continue,
            Err(e) if is_duplicate(&e) => {
                let taken = external_id.unwrap_or_default();
                return Err(ApiError::Duplicate(format!(
                    "Organization with external_id '{taken}' already exists"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::busy("the organization kept changing"))
}
