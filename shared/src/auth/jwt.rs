//! Access tokens: HS256 only, with `iss`, `aud`, `exp`, the role and the membership's
//! token version.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use mongodb::bson::oid::ObjectId;

use crate::config::JwtSettings;
use crate::store::{Member, OrgDoc};

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Organization id.
    pub org_id: String,
    /// Organization name when issued.
    pub organization_name: String,
    /// The user's email when issued.
    pub email: String,
    /// The role when issued (the stored one decides; tokens of the first release
    /// have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Token version of the membership; a token with another one is revoked.
    pub ver: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// Issues a token for `user`, a member of `org`.
pub fn issue(
    settings: &JwtSettings,
    org: &OrgDoc,
    user: ObjectId,
    member: &Member,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let claims = Claims {
        sub: user.to_hex(),
        org_id: org.id.to_hex(),
        organization_name: org.name.clone(),
        email: member.email.clone(),
        role: Some(member.role.as_str().to_owned()),
        ver: member.ver,
        iat: now,
        exp: now + settings.ttl.as_secs() as i64,
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(settings.key()),
    )
}

/// Checks signature (HS256 only), expiry, not-before, issuer and audience.
pub fn verify(settings: &JwtSettings, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(settings.key()),
        &validation,
    )
    .map(|data| data.claims)
}
