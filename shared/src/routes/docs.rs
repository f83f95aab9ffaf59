//! The API's own documentation: the index, the OpenAPI document and its offline viewer.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, route_path};

/// The OpenAPI 3 document of the contract.
pub const OPENAPI: &str = include_str!("../../static/openapi.json");
const DOCS_HTML: &str = include_str!("../../static/docs.html");

fn raw(content_type: &'static str, body: &'static str) -> ApiResult<Response<Body>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(
            "content-security-policy",
            "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(body.to_owned()))
        .map_err(ApiError::internal)
}

/// The body of `GET /`: where the documentation is.
pub fn index() -> ApiResult<Response<Body>> {
    json(
        StatusCode::OK,
        &json!({
            "message": "Organization management service: see /docs for the API",
            "docs": "/docs",
            "redoc": "/redoc",
        }),
    )
}

/// `GET /`, `/openapi.json`, `/docs`, `/redoc` (with or without `/api/v1`).
pub async fn docs(_app: &App, req: Request) -> ApiResult<Response<Body>> {
    // Without the stage prefix that lambda_http adds for named API Gateway stages.
    let path = route_path(&req).trim_end_matches('/');
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    match path {
        "" => index(),
        "/openapi.json" => raw("application/json", OPENAPI),
        "/docs" | "/redoc" => raw("text/html; charset=utf-8", DOCS_HTML),
        _ => Err(ApiError::NotFound("Not Found".into())),
    }
}
