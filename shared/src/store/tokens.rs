//! One-time account tokens (`account_tokens` in the master database): password reset
//! and address verification links. One document per (purpose, user), so a newer token
//! replaces the older one in a single upsert; the token itself is stored only as its
//! SHA-256, and taking one is a single `findOneAndDelete` on that hash while it has not
//! expired, so of concurrent confirms exactly one gets it.

use mongodb::bson::{DateTime, doc, oid::ObjectId};
use mongodb::error::Error;
use serde::{Deserialize, Serialize};

use super::Store;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Choose a new password.
    Reset,
    /// Prove an address (the account's, or the one it is changing to).
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Verify => "verify",
        }
    }
}

/// A stored token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountToken {
    /// `<purpose>:<user id>`.
    #[serde(rename = "_id")]
    pub id: String,
    /// What it is for.
    pub purpose: Purpose,
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// The account, as hex.
    pub user: String,
    /// The address the link was sent to.
    pub email: String,
    /// Expiry, in ms since the epoch.
    pub expires_ms: i64,
}

impl AccountToken {
    /// The account's id.
    pub fn user_id(&self) -> Option<ObjectId> {
        ObjectId::parse_str(&self.user).ok()
    }
}

/// Stores a new token of `purpose` for `user`, replacing the one before (whose link
/// stops working).
pub async fn replace(
    store: &Store,
    purpose: Purpose,
    user: ObjectId,
    email: &str,
    token_hash: &str,
    expires_ms: i64,
) -> Result<(), Error> {
    let token = AccountToken {
        id: format!("{}:{}", purpose.as_str(), user.to_hex()),
        purpose,
        token_hash: token_hash.to_owned(),
        user: user.to_hex(),
        email: email.to_owned(),
        expires_ms,
    };
    let mut doc = mongodb::bson::to_document(&token).map_err(Error::custom)?;
    doc.insert("created_at", DateTime::now());
    store
        .account_tokens()
        .replace_one(doc! { "_id": &token.id }, doc)
        .upsert(true)
        .await
        .map(|_| ())
}

/// Takes (deletes and returns) the token of `purpose` with this hash, unless it has
/// expired: `None` for an unknown, used, replaced or expired token.
pub async fn take(
    store: &Store,
    purpose: Purpose,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<AccountToken>, Error> {
    let taken = store
        .account_tokens()
        .find_one_and_delete(doc! {
            "token_hash": token_hash,
            "purpose": purpose.as_str(),
            "expires_ms": { "$gt": now_ms },
        })
        .await?;
    Ok(taken.and_then(|d| mongodb::bson::from_document(d).ok()))
}

/// Ends every token of `user` (after a password reset: a verification link sent before
/// it proves nothing about who holds the account now).
pub async fn forget_user(store: &Store, user: ObjectId) -> Result<(), Error> {
    store
        .account_tokens()
        .delete_many(doc! { "_id": { "$in": [
            format!("reset:{}", user.to_hex()),
            format!("verify:{}", user.to_hex()),
        ] } })
        .await
        .map(|_| ())
}
