//! The shapes the API answers with that several routes share, and its timestamps.

use mongodb::bson::{DateTime, oid::ObjectId};
use serde::Serialize;

use crate::auth::jwt;
use crate::config::Config;
use crate::domain::Metadata;
use crate::error::{ApiError, ApiResult};
use crate::store::{Member, OrgDoc};

/// RFC 3339 in UTC with exactly three fractional digits, as the contract shows
/// timestamps: fixed width, so timestamps also sort as strings.
pub fn timestamp(t: DateTime) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let millis = t.timestamp_millis();
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|at| at.format(FORMAT).ok())
        .unwrap_or_else(|| millis.to_string())
}

/// The organization as the API shows it (never a hash or secret).
#[derive(Debug, Serialize)]
pub struct OrgView {
    id: String,
    organization_name: String,
    email: String,
    collection_name: String,
    connection_details: String,
    created_at: String,
    updated_at: Option<String>,
}

impl From<&OrgDoc> for OrgView {
    fn from(org: &OrgDoc) -> Self {
        Self {
            id: org.id.to_hex(),
            organization_name: org.name.clone(),
            email: org.owner_email().to_owned(),
            collection_name: org.collection_name.clone(),
            connection_details: format!("Collection: {}", org.collection_name),
            created_at: timestamp(org.created_at),
            updated_at: org.updated_at.map(timestamp),
        }
    }
}

/// The organization as its own members see it: with (v3) its `metadata` and
/// `external_id` (never on the public `GET /org/get`).
pub fn profiled(org: &OrgDoc) -> serde_json::Value {
    let mut view = serde_json::to_value(OrgView::from(org)).unwrap_or_default();
    if let Some(fields) = view.as_object_mut() {
        let metadata = Metadata::from_json(org.metadata.as_deref()).to_value();
        fields.insert("metadata".into(), metadata);
        fields.insert("external_id".into(), serde_json::json!(org.external_id));
    }
    view
}

/// The answer of `POST /org/create`: as the first releases answered, with the profile
/// only for an organization created with one.
pub fn created(org: &OrgDoc) -> serde_json::Value {
    if org.external_id.is_some() || org.metadata.is_some() {
        profiled(org)
    } else {
        serde_json::to_value(OrgView::from(org)).unwrap_or_default()
    }
}

/// One membership of the user, as login shows it.
#[derive(Debug, Serialize)]
struct MembershipView {
    organization_name: String,
    role: &'static str,
}

/// The body of a successful login (and of an accepted invitation).
#[derive(Debug, Serialize)]
pub struct LoginView {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    admin_id: String,
    organization_id: String,
    organization_name: String,
    role: &'static str,
    organizations: Vec<MembershipView>,
}

impl LoginView {
    /// A token for `user` in `org` (where it has `member`), and every membership.
    pub fn issue(
        config: &Config,
        user: ObjectId,
        org: &OrgDoc,
        member: &Member,
        all: &[(OrgDoc, Member)],
    ) -> ApiResult<Self> {
        let token = jwt::issue(&config.jwt, org, user, member).map_err(ApiError::internal)?;
        Ok(Self {
            access_token: token,
            token_type: "bearer",
            expires_in: config.jwt.ttl.as_secs(),
            admin_id: user.to_hex(),
            organization_id: org.id.to_hex(),
            organization_name: org.name.clone(),
            role: member.role.as_str(),
            organizations: all
                .iter()
                .map(|(o, m)| MembershipView {
                    organization_name: o.name.clone(),
                    role: m.role.as_str(),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_three_fractional_digits_so_they_sort_as_strings() {
        let at = |ms| timestamp(DateTime::from_millis(ms));
        assert_eq!(at(1_767_263_400_120), "2026-01-01T10:30:00.120Z");
        assert_eq!(at(1_767_263_400_000), "2026-01-01T10:30:00.000Z");
        assert!(at(1_767_263_400_120) < at(1_767_263_400_123));
    }
}
