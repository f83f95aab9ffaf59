//! What answers a request that no route serves: API Gateway's `$default` route, and the
//! local router's catch-all. A known path with a method it does not serve is 405 with
//! `Allow`; `/api/v1/` is the index, as `/api/v1` is; anything else is the JSON 404.
//!
//! The routes are read from the OpenAPI document, whose paths the route check keeps
//! equal to those of `template.yaml` and of the local router table.

use std::sync::OnceLock;

use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::route_path;
use crate::routes::docs::{OPENAPI, index};

/// A documented path, split into segments (`{id}` matches any one segment), and the
/// methods it serves as an `Allow` value.
struct Route {
    segments: Vec<String>,
    allow: String,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(path, ops)| {
                let methods: Vec<String> = ["get", "post", "put", "patch", "delete"]
                    .into_iter()
                    .filter(|m| ops.get(*m).is_some())
                    .map(str::to_uppercase)
                    .collect();
                Route {
                    segments: segments(path).map(str::to_owned).collect(),
                    allow: methods.join(", "),
                }
            })
            .collect()
    })
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The `Allow` value of a documented path (without `/api/v1` or a stage prefix).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    let wanted: Vec<&str> = segments(path).collect();
    routes()
        .iter()
        .find(|route| {
            route.segments.len() == wanted.len()
                && route
                    .segments
                    .iter()
                    .zip(&wanted)
                    .all(|(r, w)| r == w || (r.starts_with('{') && r.ends_with('}')))
        })
        .map(|route| route.allow.as_str())
}

/// Any request no route serves: 405 with `Allow` for a documented path, the index for
/// `GET /api/v1/`, else 404.
pub async fn fallback(_app: &App, req: Request) -> ApiResult<Response<Body>> {
    let path = route_path(&req);
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let index_path = path.is_empty() || path.chars().all(|c| c == '/');
    if index_path && req.method() == lambda_http::http::Method::GET {
        return index();
    }
    match allowed_methods(path) {
        Some(allow) if !path.ends_with('/') || index_path => {
            Err(ApiError::MethodNotAllowed { allow })
        }
        _ => Err(ApiError::NotFound("Not Found".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn documented_paths_and_their_methods() {
        assert_eq!(allowed_methods("/org/create"), Some("POST"));
        assert_eq!(allowed_methods("/org/items"), Some("GET, POST"));
        assert_eq!(allowed_methods("/org/items/abc"), Some("GET, DELETE"));
        assert_eq!(allowed_methods("/"), Some("GET"));
        assert_eq!(allowed_methods("/org/items/abc/def"), None);
        assert_eq!(allowed_methods("/nope"), None);
    }
}
