//! Service routes: health, the index, the OpenAPI document and its offline viewer,
//! and the JSON 404 for paths no route serves.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{handle, json, route_path};

/// The OpenAPI 3 document of the contract.
pub const OPENAPI: &str = include_str!("../static/openapi.json");
const DOCS_HTML: &str = include_str!("../static/docs.html");

/// `GET /health`: 200 when MongoDB answers a ping, else 503 `unhealthy`.
pub async fn health(app: &App, req: Request) -> Response<Body> {
    handle(req, |_| async move {
        let (status, state, database) = match app.store.ping().await {
            Ok(()) => (StatusCode::OK, "healthy", "connected"),
            Err(e) => {
                tracing::warn!(error = %e, "health check: database does not answer");
                (StatusCode::SERVICE_UNAVAILABLE, "unhealthy", "disconnected")
            }
        };
        json(
            status,
            &json!({
                "status": state,
                "service": app.config.service_name,
                "version": env!("CARGO_PKG_VERSION"),
                "database": database,
            }),
        )
    })
    .await
}

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

/// `GET /`, `/openapi.json`, `/docs`, `/redoc` (with or without `/api/v1`).
pub async fn docs(_app: &App, req: Request) -> Response<Body> {
    handle(req, |req| async move {
        // Without the stage prefix that lambda_http adds for named API Gateway stages.
        let path = route_path(&req).trim_end_matches('/');
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        match path {
            "" => json(
                StatusCode::OK,
                &json!({
                    "message": "Organization management service: see /docs for the API",
                    "docs": "/docs",
                    "redoc": "/redoc",
                }),
            ),
            "/openapi.json" => raw("application/json", OPENAPI),
            "/docs" | "/redoc" => raw("text/html; charset=utf-8", DOCS_HTML),
            _ => Err(not_found()),
        }
    })
    .await
}

fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

/// Any path no route serves: the contract's JSON 404.
pub async fn not_found_route(_app: &App, req: Request) -> Response<Body> {
    handle(req, |_| async { Err(not_found()) }).await
}
