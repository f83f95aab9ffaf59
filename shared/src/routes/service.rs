//! `GET /health`: whether the service and its database answer.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::App;
use crate::error::ApiResult;
use crate::http::json;

/// `GET /health`: 200 when MongoDB answers a ping, else 503 `unhealthy`.
pub async fn health(app: &App, _req: Request) -> ApiResult<Response<Body>> {
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
}
