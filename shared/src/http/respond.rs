//! Responses: JSON bodies, and the one place where a handler's result becomes the
//! response (request id, error mapping, panics caught, one log line per request).

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// A route handler: `async fn(&App, Request) -> ApiResult<Response<Body>>`.
pub trait Handler<'a>: Fn(&'a App, Request) -> Self::Future {
    /// The handler's future.
    type Future: Future<Output = ApiResult<Response<Body>>> + Send + 'a;
}

impl<'a, F, Fut> Handler<'a> for F
where
    F: Fn(&'a App, Request) -> Fut,
    Fut: Future<Output = ApiResult<Response<Body>>> + Send + 'a,
{
    type Future = Fut;
}

/// A JSON response with a status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response<Body>> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    json_text(status, body)
}

/// A JSON response with the `ETag` of `version`.
pub fn json_tagged<T: Serialize>(
    status: StatusCode,
    value: &T,
    version: i64,
) -> ApiResult<Response<Body>> {
    let mut resp = json(status, value)?;
    let tag = HeaderValue::from_str(&super::etag(version)).map_err(ApiError::internal)?;
    resp.headers_mut().insert(header::ETAG, tag);
    Ok(resp)
}

/// A response whose body is already JSON text.
pub fn json_text(status: StatusCode, body: String) -> ApiResult<Response<Body>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .map_err(ApiError::internal)
}

/// 204 with an empty body.
pub fn no_content() -> ApiResult<Response<Body>> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .map_err(ApiError::internal)
}

impl ApiError {
    /// The contract's response for this error: JSON `{"detail": ...}`, with
    /// `WWW-Authenticate`, `Allow` or `Retry-After` where the status calls for one.
    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({ "detail": self.detail() }).to_string();
        let mut resp = Response::new(Body::Text(body));
        *resp.status_mut() = self.status();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::TooManyRequests { retry_after, .. } | ApiError::InFlight { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            ApiError::Busy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        resp
    }
}

/// The id of a request, as [`run`] stamped it on the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id that ties a response to its log line and audit events: API Gateway's, else
/// Lambda's, else new (as [`run`] chose it).
pub fn request_id(req: &Request) -> String {
    if let Some(RequestId(id)) = req.extensions().get::<RequestId>() {
        return id.clone();
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    match req.lambda_context_ref() {
        Some(ctx) if !ctx.request_id.is_empty() => ctx.request_id.clone(),
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

/// Serves one request with `handler`: maps errors to the contract's responses (their
/// causes go to the log, never to the client), turns a panic into a 500, stamps
/// `x-request-id` and logs one structured line.
pub async fn run<H>(app: &App, req: Request, handler: &H) -> Response<Body>
where
    H: for<'a> Handler<'a> + Sync,
{
    let started = Instant::now();
    let mut req = req;
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = super::route_path(&req).to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let outcome = AssertUnwindSafe(handler(app, req).instrument(span.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("handler panicked")));
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(err) => {
            span.in_scope(|| match &err {
                ApiError::Internal(_) => tracing::error!(error = %err.chain(), "internal error"),
                ApiError::Unavailable(_) => {
                    tracing::warn!(error = %err.chain(), "database unavailable")
                }
                ApiError::Busy(_) => tracing::info!(error = %err.chain(), "organization busy"),
                _ => {}
            });
            err.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request done"));
    resp
}
