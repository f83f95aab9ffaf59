//! Accounts: `POST /auth/password-reset` and `/auth/password-reset/confirm`, `POST
//! /auth/verify-email` (bearer) and `/auth/verify-email/confirm`. Requests queue mail
//! for the dispatcher and answer at once; links are good once (see
//! [`crate::core::accounts`]).

use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::links::token_text;
use crate::auth::{Action, authenticate, password, throttle};
use crate::core::accounts;
use crate::core::audit::Context;
use crate::domain::{Email, Password};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, app_url, json, source_ip};
use crate::store::attempts;

/// Reset requests one client address may make per hour.
const RESETS_PER_IP_HOUR: i64 = 20;

fn email_configured(app: &App) -> ApiResult<()> {
    if app.mailer.settings().configured() {
        Ok(())
    } else {
        Err(ApiError::EmailNotConfigured)
    }
}

/// `POST /auth/password-reset` body `{"email"}`: always 202 with the same body, and the
/// same work (one counter, one queued job) whether or not the address has an account;
/// the dispatcher looks the account up, keeps to 3 messages an hour per address, and
/// sends the link. 429 past 20 requests an hour from one client address, or past its
/// write limit (the two counted at once).
pub async fn request_reset(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let mut body = JsonBody::parse(&req)?;
    let email = body.required("email", Email::parse);
    let email = body.finish(|| email)?;
    email_configured(app)?;
    let key = format!("reset-ip:{}", source_ip(&req));
    let (hourly, minute) = tokio::join!(
        attempts::count(&app.store, &key, Duration::from_secs(3600)),
        throttle::anonymous_write(app, &req),
    );
    minute?;
    if let Some(retry_after) = throttle::past(hourly?, RESETS_PER_IP_HOUR) {
        return Err(ApiError::TooManyRequests {
            retry_after,
            what: "password reset requests",
        });
    }
    accounts::request_reset(
        &app.store,
        email.as_str(),
        &app_url(&app.config.email, &req),
    )
    .await?;
    json(
        StatusCode::ACCEPTED,
        &json!({ "detail": "If an account exists for this email, a message is on its way" }),
    )
}

/// `POST /auth/password-reset/confirm` body `{"token", "password"}`: the password rules
/// of create; every token of the user is revoked in every organization; 404 for an
/// unknown, used, replaced or expired link.
pub async fn confirm_reset(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let mut body = JsonBody::parse(&req)?;
    let token = body.required("token", token_text);
    let new_password = body.required("password", Password::parse);
    let (token, new_password) = body.finish(|| Some((token?, new_password?)))?;
    throttle::anonymous_write(app, &req).await?;
    let hash = password::hash(new_password.expose(), app.config.bcrypt_cost).await?;
    accounts::confirm_reset(&app.store, &token, &hash, &Context::of(&req)).await?;
    tracing::info!("password reset");
    json(StatusCode::OK, &json!({ "detail": "Password changed" }))
}

/// `POST /auth/verify-email` (bearer): 202, a verification link to the caller's address.
pub async fn request_verification(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "user.verification_requested");
    caller
        .authorize(app, Action::ChangeOwnAccount, &event)
        .await?;
    email_configured(app)?;
    let whose = (caller.user, caller.org.id, caller.email.as_str());
    accounts::request_verification(&app.store, whose, &app_url(&app.config.email, &req)).await?;
    json(
        StatusCode::ACCEPTED,
        &json!({ "detail": format!("A verification link is on its way to {}", caller.email) }),
    )
}

/// `POST /auth/verify-email/confirm` body `{"token"}`: 200, the address is verified (or
/// the address the account was changing to takes effect); 404 for an unknown, used,
/// replaced or expired link.
pub async fn confirm_verification(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let mut body = JsonBody::parse(&req)?;
    let token = body.required("token", token_text);
    let token = body.finish(|| token)?;
    let email = accounts::confirm_verification(&app.store, &token, &Context::of(&req)).await?;
    tracing::info!("email verified");
    json(
        StatusCode::OK,
        &json!({ "detail": "Email verified", "email": email, "email_verified": true }),
    )
}
