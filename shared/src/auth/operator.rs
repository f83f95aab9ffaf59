//! (v3) Who may call the operator routes: an IAM principal that API Gateway authorized
//! (`AWS_IAM` on each route in the template; the function also refuses a request whose
//! context carries none, in case a route is misconfigured), or, under `make run` only
//! (`APP_ENV=local`), the bearer token `make run` generates into `.local/operator-token`
//! (`OPERATOR_TOKEN`). No credential: 401. A member's token or an API key: 403.

use aws_lc_rs::constant_time;
use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use secrecy::ExposeSecret;

use crate::app::App;
use crate::auth::{jwt, keys};
use crate::error::{ApiError, ApiResult};
use crate::http::bearer_token;

/// An operator: its IAM principal ARN, or `local`.
#[derive(Debug, Clone)]
pub struct Operator {
    /// As the audit log names it.
    pub id: String,
}

/// The operator behind `req`, or 401 (no credential) or 403 (a member's or a key's).
pub fn authenticate(app: &App, req: &Request) -> ApiResult<Operator> {
    if let Some(arn) = iam_principal(req) {
        return Ok(Operator { id: arn });
    }
    let Some(token) = bearer_token(req) else {
        return Err(ApiError::Unauthorized("Not authenticated".into()));
    };
    if let Some(expected) = &app.config.operator_token {
        let same = constant_time::verify_slices_are_equal(
            token.as_bytes(),
            expected.expose_secret().as_bytes(),
        );
        if same.is_ok() {
            return Ok(Operator { id: "local".into() });
        }
    }
    if keys::well_formed(token) || jwt::verify(&app.config.jwt, token).is_ok() {
        return Err(ApiError::Forbidden(
            "Only the service's operators may do this".into(),
        ));
    }
    Err(ApiError::Unauthorized(
        "Could not validate credentials".into(),
    ))
}

/// The IAM principal API Gateway authorized the request as, if any.
fn iam_principal(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone())
            .filter(|arn| !arn.is_empty()),
        _ => None,
    }
}
