//! Admin session routes: login (throttled) and logout (revokes every token).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::App;
use crate::auth::{authenticate, jwt, password, throttle};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json, no_content, source_ip};
use crate::org::lifecycle::{self, Settled};
use crate::store::registry;

/// The body of a successful login.
#[derive(Debug, Serialize)]
struct LoginView {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    admin_id: String,
    organization_id: String,
    organization_name: String,
}

/// The body of `POST /admin/login`.
pub struct Credentials {
    email: Email,
    password: String,
}

impl TryFrom<JsonBody> for Credentials {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let email = body.required("email", Email::parse);
        let password = body.required("password", any_password);
        body.finish(|| {
            Some(Self {
                email: email?,
                password: password?,
            })
        })
    }
}

/// Any string up to a sane length: login does not apply the password rules, it
/// only compares.
fn any_password(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 1024 {
        return Err("Password must be 1 to 1024 bytes long".into());
    }
    Ok(raw.to_owned())
}

/// `POST /admin/login`: a JWT for the admin, or 401 with the same text and timing
/// whether or not the email exists; 429 once the throttle closes.
pub async fn login(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let Credentials {
        email,
        password: given,
    } = Credentials::try_from(JsonBody::parse(&req)?)?;
    let ip = source_ip(&req);
    throttle::enter(&app.store, email.as_str(), &ip).await?;
    let org = match registry::by_email(&app.store, email.as_str()).await? {
        Some(org) => match lifecycle::settle(&app.store, org).await? {
            Settled::Ready(org) => Some(org),
            Settled::Creating(_) | Settled::Gone => None,
        },
        None => None,
    };
    let stored = org.as_ref().map(|o| o.password_hash.clone());
    let ok = password::verify(&given, stored, app.config.bcrypt_cost).await?;
    let org = match org {
        Some(org) if ok => org,
        _ => return Err(ApiError::Unauthorized("Incorrect email or password".into())),
    };
    throttle::succeeded(&app.store, email.as_str(), &ip).await?;
    let token = jwt::issue(&app.config.jwt, &org).map_err(ApiError::internal)?;
    tracing::info!(org_id = %org.id, "admin logged in");
    json(
        StatusCode::OK,
        &LoginView {
            access_token: token,
            token_type: "bearer",
            expires_in: app.config.jwt.ttl.as_secs(),
            admin_id: org.admin_id.to_hex(),
            organization_id: org.id.to_hex(),
            organization_name: org.name,
        },
    )
}

/// `POST /admin/logout`: revokes every token of the admin issued so far.
pub async fn logout(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let org = authenticate(app, &req).await?;
    registry::bump_token_version(&app.store, org.id).await?;
    tracing::info!(org_id = %org.id, "admin logged out");
    no_content()
}
