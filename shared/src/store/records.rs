//! The documents of the registry.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use mongodb::bson::{Bson, DateTime, Document, oid::ObjectId};
use serde::{Deserialize, Serialize};

use crate::domain::Role;

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
    /// (v3) A deleted organization coming back: data and accounts on their way; not
    /// visible until done.
    Restore,
    /// (v3) An organization of the Python service moving in (the import): account and
    /// documents on their way; not visible until done.
    Import,
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
    #[serde(deserialize_with = "lenient::required")]
    pub since: DateTime,
    /// The audit event of the operation (JSON text), moved into the outbox by the
    /// write that makes it take effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// One member of an organization, as its document holds it: what every authenticated
/// request checks, in the same read as the organization itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The role.
    #[serde(rename = "r")]
    pub role: Role,
    /// Token version: tokens of this membership that carry another are revoked.
    #[serde(rename = "v")]
    pub ver: i64,
    /// When the user joined (tokens issued before are not this membership's).
    #[serde(rename = "j", deserialize_with = "lenient::required")]
    pub joined_at: DateTime,
    /// The user's email, as shown in member lists and in the organization's `email`.
    #[serde(rename = "e")]
    pub email: String,
    /// Whether the user has proved the address (a copy of the account's flag).
    #[serde(
        rename = "ev",
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::flag"
    )]
    pub verified: bool,
}

/// The key of a user in an organization's member map.
pub fn member_key(user: ObjectId) -> String {
    format!("u{}", user.to_hex())
}

/// (v3) Whether an organization may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    /// Its members and keys work.
    #[default]
    Active,
    /// Every login, token and key of it is 403; its webhook deliveries wait.
    Suspended,
}

impl OrgStatus {
    /// As the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// (v3) Why an organization is suspended, since when and by whom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suspension {
    /// When.
    pub at: DateTime,
    /// The operator's reason.
    pub reason: String,
    /// The operator (IAM principal, or `local`).
    pub by: String,
}

/// An organization and its members: one document, so that the token check, a role
/// change and the last-owner rule are single-document reads and atomic writes.
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
    /// Members by [`member_key`].
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// How many members are owners (decremented only where it stays above zero).
    #[serde(default)]
    pub owners: i64,
    /// Bumped by every change of the document: the `ETag` of the organization.
    #[serde(default)]
    pub version: i64,
    /// Creation time.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
    /// Last update, if any.
    #[serde(default, deserialize_with = "lenient::deserialize")]
    pub updated_at: Option<DateTime>,
    /// The multi-step operation in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// The latest audit events of changes to this document, as JSON text, written in
    /// the same write as their change (see [`crate::core::audit`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_outbox: Vec<String>,
    /// (v3) Its creation time and id as one sortable text, `<ms, 13 digits>.<id hex>`:
    /// the operator list's creation order, on an index of one field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_key: String,
    /// (v3) How many members it has (kept by every write of the member map; filled in
    /// for older documents by the migration), for the operator's list.
    #[serde(default)]
    pub member_count: i64,
    /// (v3) Active or suspended (absent: active, as every organization before v3).
    #[serde(default)]
    pub status: OrgStatus,
    /// (v3) Why and by whom it is suspended, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// (v3) The caller's own id for the organization, unique where set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// (v3) Its `metadata`, as JSON text ([`crate::domain::Metadata`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// First release: the single admin's id (it becomes the user's id). The admin
    /// fields are moved into `users` and `members` by [`crate::jobs::migrate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<ObjectId>,
    /// First release: the admin's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First release: bcrypt hash of the admin's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// First release: the admin's token version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_version: Option<i64>,
}

impl OrgDoc {
    /// A new registry document: `name` in `placement`, with one member, the owner
    /// `owner` (`member`), made at `created_at`, marked with the operation `op` in flight
    /// (a create or an import) until it is done.
    pub fn founded(
        (id, name, placement): (ObjectId, &str, Placement),
        (owner, member): (ObjectId, Member),
        created_at: DateTime,
        op: PendingOp,
    ) -> Self {
        Self {
            id,
            name: name.to_owned(),
            collection_name: placement.collection.clone(),
            placement,
            members: [(member_key(owner), member)].into(),
            owners: 1,
            version: 0,
            created_at,
            updated_at: None,
            pending: Some(Pending {
                op,
                from: None,
                from_name: None,
                since: DateTime::now(),
                event: None,
            }),
            audit_outbox: Vec::new(),
            created_key: Self::creation_key(created_at, id),
            member_count: 1,
            status: OrgStatus::Active,
            suspension: None,
            external_id: None,
            metadata: None,
            admin_id: None,
            email: None,
            password_hash: None,
            token_version: None,
        }
    }

    /// Reads a registry document. One this release did not write (a field missing or
    /// of another type, left by an older release or another service) is `None`, with
    /// a warning logged once per document and process: callers treat it as absent.
    pub fn from_document(mut doc: Document) -> Option<Self> {
        // A projection of `members.<key>` comes back nested from MongoDB, and as one
        // dotted field from some compatible servers: read both.
        let dotted: Vec<String> = doc
            .keys()
            .filter(|k| k.starts_with("members."))
            .cloned()
            .collect();
        for key in dotted {
            if let (Some(value), Some(member)) = (doc.remove(&key), key.strip_prefix("members.")) {
                if !matches!(doc.get("members"), Some(Bson::Document(_))) {
                    doc.insert("members", Document::new());
                }
                if let Ok(members) = doc.get_document_mut("members") {
                    members.insert(member, value);
                }
            }
        }
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

    /// (v3) The `created_key` of an organization made at `created_at` with `id`.
    pub fn creation_key(created_at: DateTime, id: ObjectId) -> String {
        format!(
            "{:013}.{}",
            created_at.timestamp_millis().max(0),
            id.to_hex()
        )
    }

    /// The member entry of a user.
    pub fn member(&self, user: ObjectId) -> Option<&Member> {
        self.members.get(&member_key(user))
    }

    /// The email of its earliest-joined current owner (the organization's `email`).
    pub fn owner_email(&self) -> &str {
        self.members
            .values()
            .filter(|m| m.role == Role::Owner)
            .min_by_key(|m| m.joined_at)
            .map_or("", |m| m.email.as_str())
    }

    /// Its members as (user id, entry), by user id.
    pub fn member_list(&self) -> impl Iterator<Item = (ObjectId, &Member)> {
        self.members.iter().filter_map(|(key, m)| {
            let id = ObjectId::parse_str(key.strip_prefix('u')?).ok()?;
            Some((id, m))
        })
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

/// Serde adapters for values that MongoDB-compatible servers store in other forms: a
/// timestamp as text (read by [`millis_of`]), `true` as 1.
pub mod lenient {
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

    /// Reads a flag stored as a boolean, or as a number by servers that store `true`
    /// as 1.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(match Option::<Bson>::deserialize(d)? {
            Some(Bson::Boolean(b)) => b,
            Some(Bson::Int32(n)) => n != 0,
            Some(Bson::Int64(n)) => n != 0,
            _ => false,
        })
    }

    /// Reads a date or a date-as-text that must be there.
    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
        deserialize(d)?.ok_or_else(|| serde::de::Error::custom("a date is required"))
    }
}
