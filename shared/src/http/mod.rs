//! Request in, response out: input parsing, JSON responses, the per-request wrapper.

mod body;
mod respond;

pub use body::{JsonBody, MAX_BODY_BYTES, body_bytes};
pub use respond::{Handler, RequestId, json, json_tagged, json_text, no_content, request_id, run};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::error::{ApiError, FieldError};

/// A query parameter, if given and not empty.
pub fn query(req: &Request, key: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(key))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A required query parameter, else 422 in the contract's shape.
pub fn required_query(req: &Request, key: &str) -> Result<String, ApiError> {
    query(req, key).ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            &["query", key],
            "Field required",
            "missing",
        )])
    })
}

/// Items per page by default, and at most.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit` of a page.
pub const MAX_LIMIT: usize = 100;

/// The `limit` query parameter of a paged list: 1–100, 20 when absent, else 422.
pub fn page_limit(req: &Request) -> Result<usize, ApiError> {
    match query(req, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    &["query", "limit"],
                    "limit must be a whole number from 1 to 100",
                )
            }),
    }
}

/// A path parameter such as `{id}`.
pub fn path_param(req: &Request, key: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(key))
        .map(str::to_owned)
}

/// The request's path as routed, without the `/{stage}` prefix that a named API
/// Gateway stage adds. (lambda_http's `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` does not do
/// this for HTTP APIs: it only stops lambda_http from adding the stage, while an HTTP
/// API's `rawPath` already holds it for a named stage; aws-lambda-rust-runtime issue
/// 919, open. `events/docs_openapi_named_stage.json` is such an event.)
pub fn route_path(req: &Request) -> &str {
    let path = req.uri().path();
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    match stage.filter(|s| !s.is_empty() && *s != "$default") {
        Some(stage) => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| if rest.is_empty() { "/" } else { rest })
            .unwrap_or(path),
        None => path,
    }
}

/// The console's address, the base of the links of the service's messages: `APP_URL`,
/// else the API's own `/dashboard` on the domain (and stage) API Gateway served this
/// request on. Never the client's `Host` header, which would let anyone point a reset
/// link, token included, at their own site.
pub fn app_url(settings: &crate::config::EmailSettings, req: &Request) -> String {
    if let Some(url) = &settings.app_url {
        return url.clone();
    }
    let (domain, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.domain_name.clone(), ctx.stage.clone()),
        _ => (None, None),
    };
    let stage = stage
        .filter(|s| !s.is_empty() && s != "$default")
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    let domain = domain.unwrap_or_else(|| "localhost".into());
    format!("https://{domain}{stage}/dashboard")
}

/// The client's address as API Gateway saw it (never a client-supplied header).
pub fn source_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".to_owned())
}

/// The strong `ETag` of a version of a resource.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// An `If-Match` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the request is unconditional.
    Absent,
    /// `*`: any current version.
    Any,
    /// The versions its tags name. RFC 9110's strong comparison: a tag matches only
    /// when it is byte for byte one of ours (`"7"`, not `"07"`, `"+7"` or `W/"7"`), so
    /// a tag that is not one of ours names none and never matches.
    Versions(Vec<i64>),
}

impl IfMatch {
    /// The versions a write must find, if the header names any (`None` without a
    /// header, or with `*`).
    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            Self::Versions(versions) => Some(versions),
            Self::Absent | Self::Any => None,
        }
    }
}

/// The request's `If-Match` header.
pub fn if_match(req: &Request) -> IfMatch {
    let Some(value) = req.headers().get("if-match") else {
        return IfMatch::Absent;
    };
    let value = value.to_str().unwrap_or("");
    if value.trim() == "*" {
        return IfMatch::Any;
    }
    let versions = value
        .split(',')
        .map(str::trim)
        .filter_map(|tag| {
            let version: i64 = tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()?;
            (etag(version) == tag).then_some(version)
        })
        .collect();
    IfMatch::Versions(versions)
}

/// The `User-Agent` header, if any.
pub fn user_agent(req: &Request) -> String {
    req.headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect()
}

/// The bearer token of the `Authorization` header.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> Request {
        let mut req = Request::default();
        req.headers_mut()
            .insert("if-match", value.parse().expect("a header value"));
        req
    }

    #[test]
    fn if_match_compares_tags_byte_for_byte() {
        assert_eq!(
            if_match(&with_if_match("\"7\"")),
            IfMatch::Versions(vec![7])
        );
        assert_eq!(
            if_match(&with_if_match("\"3\", \"7\"")),
            IfMatch::Versions(vec![3, 7])
        );
        assert_eq!(if_match(&with_if_match(" * ")), IfMatch::Any);
        for other in ["\"07\"", "\"+7\"", "W/\"7\"", "7", "\" 7\"", "\"7.0\""] {
            assert_eq!(
                if_match(&with_if_match(other)),
                IfMatch::Versions(vec![]),
                "{other}"
            );
        }
        assert_eq!(if_match(&Request::default()), IfMatch::Absent);
    }
}
