//! Invitations (`invitations` in the master database): at most one per (organization,
//! email), whose id is derived from both, so that a new invitation to the same email
//! replaces the pending one in a single upsert. The token is stored only as its SHA-256;
//! expiry is decided by comparing `expires_ms` in the query, never by a TTL monitor.

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::Store;
use super::records::lenient;
use crate::domain::Role;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its token (shown as `expired` once `expires_ms` has passed).
    Pending,
    /// Being accepted by a request (claimed; taken back if that request gives up).
    Accepting,
    /// Accepted: the email got the membership.
    Accepted,
    /// Revoked by an admin or owner.
    Revoked,
}

impl From<Status> for Bson {
    fn from(status: Status) -> Self {
        mongodb::bson::to_bson(&status).unwrap_or(Bson::Null)
    }
}

/// An invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationDoc {
    /// Derived from (organization, email): see [`id_for`].
    #[serde(rename = "_id")]
    pub id: String,
    /// The inviting organization's id, as hex (some MongoDB-compatible servers cannot
    /// query a field holding an ObjectId other than `_id`).
    pub org_id: String,
    /// Who is invited (lowercased).
    pub email: String,
    /// The role the membership gets.
    pub role: Role,
    /// Where it stands.
    pub status: Status,
    /// SHA-256 (hex) of the current token.
    pub token_hash: String,
    /// The user who invited, as hex.
    pub invited_by: String,
    /// When it was (last) sent.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
    /// Expiry, as a date (shown) and in ms since the epoch (compared).
    #[serde(deserialize_with = "lenient::required")]
    pub expires_at: DateTime,
    /// Expiry in ms since the epoch.
    pub expires_ms: i64,
    /// When a request claimed it for accepting (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_ms: Option<i64>,
    /// Delivered by the service's own email (`send_email`): its token is made by the
    /// dispatcher and never shown to the inviter.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::flag"
    )]
    pub send_email: bool,
    /// The mail job (hex) whose message carries the current token; another job of
    /// this invitation (superseded by a resend) sends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_job: Option<String>,
}

/// The id of the invitation of `email` to `org`: 32 hex digits of SHA-256 (not 24,
/// which some MongoDB-compatible servers take for an ObjectId and store as one).
pub fn id_for(org: ObjectId, email: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{}:{email}", org.to_hex()).as_bytes(),
    );
    hex(&digest.as_ref()[..16])
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl InvitationDoc {
    /// The inviting organization's id.
    pub fn org(&self) -> Option<ObjectId> {
        ObjectId::parse_str(&self.org_id).ok()
    }
}

fn parse(doc: Option<Document>) -> Option<InvitationDoc> {
    doc.and_then(|d| mongodb::bson::from_document(d).ok())
}

/// Creates the pending invitation of `email` to `org`, or replaces the one there is
/// (whatever its state: its old token stops working). An insert, and on a duplicate id
/// an update of what changes (the organization and email are the id's own; no upsert,
/// which not every MongoDB-compatible server stores faithfully).
pub async fn save_pending(
    store: &Store,
    invitation: &InvitationDoc,
) -> Result<InvitationDoc, Error> {
    let doc = mongodb::bson::to_document(invitation).map_err(Error::custom)?;
    match store.invitations().insert_one(doc).await {
        Ok(_) => return Ok(invitation.clone()),
        Err(e) if !super::is_duplicate(&e) => return Err(e),
        Err(_) => {}
    }
    let saved = store
        .invitations()
        .find_one_and_update(
            doc! { "_id": &invitation.id },
            doc! {
                "$set": {
                    "role": invitation.role.as_str(),
                    "status": Status::Pending,
                    "token_hash": &invitation.token_hash,
                    "invited_by": &invitation.invited_by,
                    "created_at": invitation.created_at,
                    "expires_at": invitation.expires_at,
                    "expires_ms": invitation.expires_ms,
                    "send_email": invitation.send_email,
                    "mail_job": invitation.mail_job.as_deref(),
                },
                "$unset": { "claimed_ms": "" },
            },
        )
        .return_document(ReturnDocument::After)
        .await?;
    parse(saved).ok_or_else(|| Error::custom("the invitation vanished while being replaced"))
}

/// One invitation of `org`.
pub async fn by_id(store: &Store, org: ObjectId, id: &str) -> Result<Option<InvitationDoc>, Error> {
    Ok(parse(
        store
            .invitations()
            .find_one(doc! { "_id": id, "org_id": org.to_hex() })
            .await?,
    ))
}

/// Up to `limit` invitations of `org` after id `after`, by id; `status` filters
/// (`expired` is a pending one past its expiry; `pending` excludes those).
pub async fn list(
    store: &Store,
    org: ObjectId,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
    now_ms: i64,
) -> Result<Vec<InvitationDoc>, Error> {
    let mut filter = doc! { "org_id": org.to_hex() };
    // An invitation being accepted is still pending (until its accept ends), and
    // expired once its time has passed.
    let open = doc! { "$in": [Status::Pending, Status::Accepting] };
    match status {
        Some("pending") => {
            filter.insert("status", open);
            filter.insert("expires_ms", doc! { "$gt": now_ms });
        }
        Some("expired") => {
            filter.insert("status", open);
            filter.insert("expires_ms", doc! { "$lte": now_ms });
        }
        Some(other) => {
            filter.insert("status", other);
        }
        None => {}
    }
    if let Some(after) = after {
        filter.insert("_id", doc! { "$gt": after });
    }
    let docs: Vec<Document> = store
        .invitations()
        .find(filter)
        .sort(doc! { "_id": 1 })
        .limit(limit)
        .await?
        .try_collect()
        .await?;
    Ok(docs.into_iter().filter_map(|d| parse(Some(d))).collect())
}

/// Marks a pending invitation revoked; `None` if there is no pending one.
pub async fn revoke(
    store: &Store,
    org: ObjectId,
    id: &str,
) -> Result<Option<InvitationDoc>, Error> {
    let done = store
        .invitations()
        .find_one_and_update(
            doc! { "_id": id, "org_id": org.to_hex(), "status": Status::Pending },
            doc! { "$set": { "status": Status::Revoked } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(done))
}

/// Gives a pending (or expired) invitation a new token and expiry; `None` if there is
/// no pending one.
pub async fn resend(
    store: &Store,
    org: ObjectId,
    id: &str,
    token_hash: &str,
    (now, expires_at): (DateTime, DateTime),
    mail_job: Option<&str>,
) -> Result<Option<InvitationDoc>, Error> {
    let done = store
        .invitations()
        .find_one_and_update(
            doc! { "_id": id, "org_id": org.to_hex(), "status": Status::Pending },
            doc! { "$set": {
                "token_hash": token_hash,
                "created_at": now,
                "expires_at": expires_at,
                "expires_ms": expires_at.timestamp_millis(),
                "mail_job": mail_job,
            } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(done))
}

/// Gives the invitation of mail job `job` the token its message carries, while it is
/// pending, unexpired and still that job's; `None` otherwise (nothing to send).
pub async fn set_mailed_token(
    store: &Store,
    id: &str,
    job: &str,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    let done = store
        .invitations()
        .find_one_and_update(
            doc! {
                "_id": id, "mail_job": job, "status": Status::Pending,
                "expires_ms": { "$gt": now_ms },
            },
            doc! { "$set": { "token_hash": token_hash } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(done))
}

/// The invitation of a token that can be accepted now: pending and not expired, or
/// claimed by a request that died longer ago than `lease_ms` (which
/// [`crate::core::acceptance::claim`] settles before it takes it over).
pub async fn pending(
    store: &Store,
    token_hash: &str,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    // A read: `$or` beside other fields is read right by every server.
    let filter = doc! {
        "token_hash": token_hash,
        "expires_ms": { "$gt": now_ms },
        "$or": [
            { "status": Status::Pending },
            { "status": Status::Accepting, "claimed_ms": { "$lt": now_ms - lease_ms } },
        ],
    };
    Ok(parse(store.invitations().find_one(filter).await?))
}

/// Claims the pending invitation of a token for accepting it: one request at a time,
/// once. `None` when the token has no pending, unexpired invitation. (A plain filter:
/// NX-27017 misreads a write filter with `$or` beside other fields, and a claim must
/// never match another invitation.)
pub async fn claim(
    store: &Store,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    let pending = doc! { "token_hash": token_hash, "expires_ms": { "$gt": now_ms }, "status": Status::Pending };
    claim_where(store, pending, now_ms).await
}

/// The unexpired invitation of a token whose claim is older than `lease_ms` (the
/// request that claimed it died), if any.
pub async fn stuck(
    store: &Store,
    token_hash: &str,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    let filter = doc! {
        "token_hash": token_hash,
        "expires_ms": { "$gt": now_ms },
        "status": Status::Accepting,
        "claimed_ms": { "$lt": now_ms - lease_ms },
    };
    Ok(parse(store.invitations().find_one(filter).await?))
}

/// Takes over the claim of `stuck` for a request of `now_ms`, unless someone else did.
pub async fn take_over(
    store: &Store,
    stuck: &InvitationDoc,
    now_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    let same_claim =
        doc! { "_id": &stuck.id, "status": Status::Accepting, "claimed_ms": stuck.claimed_ms };
    claim_where(store, same_claim, now_ms).await
}

/// Marks the invitation `filter` matches as claimed at `now_ms`: it, after.
async fn claim_where(
    store: &Store,
    filter: Document,
    now_ms: i64,
) -> Result<Option<InvitationDoc>, Error> {
    let claimed = store
        .invitations()
        .find_one_and_update(
            filter,
            doc! { "$set": { "status": Status::Accepting, "claimed_ms": now_ms } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(claimed))
}

/// Gives a claim back (the accept did not go through).
pub async fn unclaim(store: &Store, invitation: &InvitationDoc) -> Result<(), Error> {
    store
        .invitations()
        .update_one(
            doc! { "_id": &invitation.id, "status": Status::Accepting, "claimed_ms": invitation.claimed_ms },
            doc! { "$set": { "status": Status::Pending }, "$unset": { "claimed_ms": "" } },
        )
        .await
        .map(|_| ())
}

/// Marks a claimed invitation accepted (the claim of `invitation`, not a later one).
pub async fn accepted(store: &Store, invitation: &InvitationDoc) -> Result<(), Error> {
    store
        .invitations()
        .update_one(
            doc! { "_id": &invitation.id, "status": Status::Accepting, "claimed_ms": invitation.claimed_ms },
            doc! { "$set": { "status": Status::Accepted }, "$unset": { "claimed_ms": "" } },
        )
        .await
        .map(|_| ())
}

/// Removes every invitation of an organization.
pub async fn delete_for_org(store: &Store, org: ObjectId) -> Result<(), Error> {
    store
        .invitations()
        .delete_many(doc! { "org_id": org.to_hex() })
        .await
        .map(|_| ())
}
