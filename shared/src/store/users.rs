//! User accounts (`users` in the master database): one per email, which may belong to
//! several organizations. `orgs` lists them, so that what spans a user's memberships
//! (logout, a password or email change, the organizations shown at login) needs no
//! scan; the organization's own member map is what grants access, and an entry here
//! without one there is ignored and cleaned up by whoever meets it.

use mongodb::bson::{DateTime, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::Store;
use super::records::lenient;

/// A user account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDoc {
    /// User id (the JWT `sub`).
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// Lowercased email, unique.
    pub email: String,
    /// bcrypt hash of the password.
    pub password_hash: String,
    /// The organizations the user belongs to (or is joining or leaving).
    #[serde(default)]
    pub orgs: Vec<ObjectId>,
    /// Creation time.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
    /// Set with a new email until every organization's copy of it is updated.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::flag"
    )]
    pub email_sync: bool,
    /// The audit event of that email change (JSON text), written with the copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_event: Option<String>,
    /// Whether the user has proved that the address is theirs.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::flag"
    )]
    pub email_verified: bool,
    /// An address the user is changing to, once its link is confirmed
    /// (`EMAIL_CHANGE_VERIFICATION=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_email: Option<String>,
    /// The audit event of a password change (JSON text), set with the new hash until
    /// the tokens of the old one are revoked and the event is in the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_event: Option<String>,
}

fn parse(doc: Option<mongodb::bson::Document>) -> Option<UserDoc> {
    doc.and_then(|d| mongodb::bson::from_document(d).ok())
}

/// The user with this (lowercased) email.
pub async fn by_email(store: &Store, email: &str) -> Result<Option<UserDoc>, Error> {
    Ok(parse(
        store.users().find_one(doc! { "email": email }).await?,
    ))
}

/// The user with this id.
pub async fn by_id(store: &Store, id: ObjectId) -> Result<Option<UserDoc>, Error> {
    Ok(parse(store.users().find_one(doc! { "_id": id }).await?))
}

/// The users with these ids.
pub async fn by_ids(store: &Store, ids: &[ObjectId]) -> Result<Vec<UserDoc>, Error> {
    let cursor = store.users().find(doc! { "_id": { "$in": ids } }).await?;
    super::typed(cursor).await
}

/// Inserts a new user (error 11000 when the email has an account).
pub async fn insert(store: &Store, user: &UserDoc) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(user).map_err(Error::custom)?;
    store.users().insert_one(doc).await.map(|_| ())
}

/// Records that the user belongs to (or is joining) an organization.
pub async fn add_org(store: &Store, user: ObjectId, org: ObjectId) -> Result<(), Error> {
    store
        .users()
        .update_one(doc! { "_id": user }, doc! { "$addToSet": { "orgs": org } })
        .await
        .map(|_| ())
}

/// Forgets an organization of the user.
pub async fn remove_org(store: &Store, user: ObjectId, org: ObjectId) -> Result<(), Error> {
    store
        .users()
        .update_one(doc! { "_id": user }, doc! { "$pull": { "orgs": org } })
        .await
        .map(|_| ())
}

/// Removes the user if it belongs to no organization; true if it did.
pub async fn delete_if_orphan(store: &Store, user: ObjectId) -> Result<bool, Error> {
    let gone = store
        .users()
        .delete_one(doc! { "_id": user, "orgs": { "$size": 0 } })
        .await?;
    Ok(gone.deleted_count == 1)
}

/// Sets a new email, proved (`verified`) or not, marked (with its audit event) for
/// copying into the user's organizations (error 11000 when another account has it).
/// `None` if the user is gone.
pub async fn set_email(
    store: &Store,
    user: ObjectId,
    email: &str,
    verified: bool,
    event: &str,
) -> Result<Option<UserDoc>, Error> {
    let set = doc! {
        "email": email, "email_verified": verified, "email_sync": true, "email_event": event,
        "updated_at": DateTime::now(),
    };
    let updated = store
        .users()
        .find_one_and_update(
            doc! { "_id": user },
            doc! { "$set": set, "$unset": { "pending_email": "" } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(updated))
}

/// Marks the account's address as proved, if it is still `email`, and marks it for
/// copying into its organizations (the flag shows in member lists). `None` if the
/// account has another address now.
pub async fn set_verified(
    store: &Store,
    user: ObjectId,
    email: &str,
) -> Result<Option<UserDoc>, Error> {
    let updated = store
        .users()
        .find_one_and_update(
            doc! { "_id": user, "email": email },
            doc! { "$set": { "email_verified": true, "email_sync": true } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(updated))
}

/// Records the address the user is changing to (it takes effect once confirmed).
pub async fn set_pending_email(store: &Store, user: ObjectId, email: &str) -> Result<(), Error> {
    store
        .users()
        .update_one(
            doc! { "_id": user },
            doc! { "$set": { "pending_email": email } },
        )
        .await
        .map(|_| ())
}

/// Clears the mark once every organization holds the new email.
pub async fn email_synced(store: &Store, user: ObjectId, email: &str) -> Result<(), Error> {
    store
        .users()
        .update_one(
            doc! { "_id": user, "email": email },
            doc! { "$unset": { "email_sync": "", "email_event": "" } },
        )
        .await
        .map(|_| ())
}

/// Sets a new password hash, with the change's audit event until it is logged.
pub async fn set_password(
    store: &Store,
    user: ObjectId,
    hash: &str,
    event: &str,
) -> Result<(), Error> {
    let set =
        doc! { "password_hash": hash, "password_event": event, "updated_at": DateTime::now() };
    store
        .users()
        .update_one(doc! { "_id": user }, doc! { "$set": set })
        .await
        .map(|_| ())
}

/// Replaces a hash by the same password's hash at another cost, unless the password
/// changed meanwhile.
pub async fn rehash(store: &Store, user: ObjectId, old: &str, new: &str) -> Result<(), Error> {
    store
        .users()
        .update_one(
            doc! { "_id": user, "password_hash": old },
            doc! { "$set": { "password_hash": new } },
        )
        .await
        .map(|_| ())
}

/// Clears a password change's event once it is logged (unless a newer change set
/// another).
pub async fn password_logged(store: &Store, user: ObjectId, event: &str) -> Result<(), Error> {
    store
        .users()
        .update_one(
            doc! { "_id": user, "password_event": event },
            doc! { "$unset": { "password_event": "" } },
        )
        .await
        .map(|_| ())
}
