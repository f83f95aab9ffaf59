//! The documents of the registry.

use std::collections::HashSet;
use std::sync::Mutex;

use mongodb::bson::{Bson, DateTime, Document, oid::ObjectId};
use serde::{Deserialize, Serialize};

/// Where a tenant's data lives: a later move to its own database or cluster is a
/// change of this record plus a data move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Database of the tenant collection.
    pub database: String,
    /// The tenant collection.
    pub collection: String,
}

/// A multi-step operation in flight, recorded so that whoever meets it can finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingOp {
    /// Registry document inserted; collection may not exist yet.
    Create,
    /// A create being undone: collection and document being removed.
    #[serde(rename = "rollback")]
    RollBack,
    /// Name reserved; collection may still be under its old name (`from`).
    Rename,
    /// Collection and document being removed.
    Delete,
}

impl From<PendingOp> for Bson {
    /// The operation's stored name, as serde spells it (for filters on `pending.op`).
    fn from(op: PendingOp) -> Self {
        mongodb::bson::to_bson(&op).unwrap_or(Bson::Null)
    }
}

/// The operation in flight on an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// What is in flight.
    pub op: PendingOp,
    /// For a rename: the collection the data is moving from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// For a rename: the name before it, restored if the rename is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// When it began (a create older than the lease is abandoned).
    #[serde(deserialize_with = "lenient_time::required")]
    pub since: DateTime,
}

/// An organization and its single admin: one document, so that creating, renaming,
/// changing credentials and revoking tokens are single-document atomic writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgDoc {
    /// Organization id.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// Lowercased name, unique.
    pub name: String,
    /// `org_<name>`, unique: the reservation that two names mapping to one collection conflict on.
    pub collection_name: String,
    /// Where the data is now (differs from `collection_name` only mid-rename).
    pub placement: Placement,
    /// The admin's id (the JWT `sub`).
    pub admin_id: ObjectId,
    /// The admin's lowercased email, unique.
    pub email: String,
    /// bcrypt hash of the admin's password.
    pub password_hash: String,
    /// Tokens carrying another `ver` are revoked.
    pub token_version: i64,
    /// Creation time.
    pub created_at: DateTime,
    /// Last update, if any.
    #[serde(default, deserialize_with = "lenient_time::deserialize")]
    pub updated_at: Option<DateTime>,
    /// The multi-step operation in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

impl OrgDoc {
    /// Reads a registry document. One this release did not write (a field missing or
    /// of another type, left by an older release or another service) is `None`, with
    /// a warning logged once per document and process: callers treat it as absent.
    pub fn from_document(doc: Document) -> Option<Self> {
        let id = doc.get("_id").cloned();
        match mongodb::bson::from_document(doc) {
            Ok(org) => Some(org),
            Err(err) => {
                static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
                let key = id.map(|v| v.to_string()).unwrap_or_default();
                let first = WARNED
                    .lock()
                    .map(|mut seen| seen.get_or_insert_default().insert(key.clone()))
                    .unwrap_or(true);
                if first {
                    tracing::warn!(id = %key, error = %err, "registry document in an unknown shape; ignored");
                }
                None
            }
        }
    }

    /// The pending operation, if any.
    pub fn pending_op(&self) -> Option<PendingOp> {
        self.pending.as_ref().map(|p| p.op)
    }
}

/// Milliseconds since the epoch of a stored timestamp. A BSON date normally; some
/// MongoDB-compatible servers store a date written by `$set` as text
/// (`2026-01-01 10:30:00.000000`, UTC), which is read back too.
pub fn millis_of(value: &mongodb::bson::Bson) -> Option<i64> {
    match value {
        mongodb::bson::Bson::DateTime(t) => Some(t.timestamp_millis()),
        mongodb::bson::Bson::String(s) => {
            let iso = format!("{}Z", s.trim().replacen(' ', "T", 1));
            DateTime::parse_rfc3339_str(iso)
                .ok()
                .map(|t| t.timestamp_millis())
        }
        _ => None,
    }
}

/// Serde adapter for an optional timestamp stored by either form [`millis_of`] reads.
pub mod lenient_time {
    use mongodb::bson::{Bson, DateTime};
    use serde::{Deserialize, Deserializer};

    /// Reads a date, a date-as-text, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime>, D::Error> {
        let value = Option::<Bson>::deserialize(d)?;
        Ok(value
            .as_ref()
            .and_then(super::millis_of)
            .map(DateTime::from_millis))
    }

    /// Reads a date or a date-as-text that must be there.
    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
        deserialize(d)?.ok_or_else(|| serde::de::Error::custom("a date is required"))
    }
}
