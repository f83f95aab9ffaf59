//! The wrapper every handler runs in: request id, error mapping, one log line, no panics out.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::error::{ApiError, ApiResult};

/// A JSON response with a status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response<Body>> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
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

/// The id that ties a response to its log line: API Gateway's, else Lambda's, else new.
fn request_id(req: &Request) -> String {
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

/// Turns an error into its contract response.
fn error_response(err: &ApiError) -> Response<Body> {
    let body = serde_json::json!({ "detail": err.detail() }).to_string();
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = err.status();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    match err {
        ApiError::Unauthorized(_) => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::TooManyRequests { retry_after } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    resp
}

/// Runs a handler's work for one request: maps errors to the contract's responses,
/// turns a panic into a 500, stamps `x-request-id` and logs one structured line.
pub async fn handle<F>(req: Request, work: impl FnOnce(Request) -> F) -> Response<Body>
where
    F: Future<Output = ApiResult<Response<Body>>>,
{
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = super::route_path(&req).to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let outcome = AssertUnwindSafe(work(req).instrument(span.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("handler panicked")));
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(err) => {
            span.in_scope(|| match &err {
                ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
                ApiError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
                _ => {}
            });
            error_response(&err)
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
