//! Events: `GET /org/events?after=&limit=&types=` (owners and admins), the
//! organization's stream, oldest first. Resuming with `after=<next_after>` never misses
//! an event (see [`crate::core::events`]).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::App;
use crate::auth::{Action, authenticate};
use crate::core::{audit, events, lifecycle};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query};
use crate::store::events as stored;

/// Events a page holds by default, and at most.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Serialize)]
struct Page {
    events: Vec<serde_json::Value>,
    next_after: i64,
}

fn number(
    req: &Request,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> ApiResult<i64> {
    match query(req, key) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    &["query", key],
                    format!(
                        "{key} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// The `types` filter: comma-separated event types.
fn types(req: &Request) -> ApiResult<Vec<String>> {
    let Some(raw) = query(req, "types") else {
        return Ok(Vec::new());
    };
    let list: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let valid = |t: &String| {
        t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if list.len() > 50 || !list.iter().all(valid) {
        return Err(ApiError::invalid(
            &["query", "types"],
            "types must be up to 50 comma-separated event types",
        ));
    }
    Ok(list)
}

/// `GET /org/events`: up to `limit` events with a sequence above `after`, oldest first,
/// of `types` when given; `next_after` is the sequence to resume after.
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "event.listed");
    caller.authorize(app, Action::ReadEvents, &event).await?;
    let after = number(&req, "after", 0, 0..=i64::MAX)?;
    let limit = number(&req, "limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
    let types = types(&req)?;
    // Events still in the organization's outbox go to the log, then the log's marked
    // events into the stream: the page is as fresh as the last change.
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    audit::drain(&app.store, &org).await?;
    let hex = org.id.to_hex();
    events::stream(&app.store, &hex).await?;
    let upto = stored::stream(&app.store, &hex).await?.committed;
    let page = stored::page(&app.store, &hex, (after, upto), &types, limit).await?;
    let next_after = page.last().map_or(after, |e| e.seq);
    let events = page
        .iter()
        .filter_map(|e| serde_json::from_str(&e.body).ok())
        .collect();
    json(StatusCode::OK, &Page { events, next_after })
}
