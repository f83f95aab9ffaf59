//! The audit log: `GET /org/audit`, the organization's events, newest first, as JSON or
//! CSV.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use mongodb::bson::{DateTime, Document};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::auth::{Action, authenticate};
use crate::core::{audit, lifecycle};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, page_limit, query};
use crate::routes::views::timestamp;
use crate::store::{self, audit::Query};

/// An event as the API shows it.
#[derive(Debug, Serialize)]
struct EventView {
    id: String,
    occurred_at: String,
    organization_id: String,
    action: String,
    outcome: String,
    actor: Value,
    targets: Value,
    context: Value,
    metadata: Value,
}

impl EventView {
    fn new(doc: &Document) -> Self {
        let text = |k: &str| doc.get_str(k).unwrap_or_default().to_owned();
        let value = |k: &str| {
            doc.get(k)
                .cloned()
                .map(mongodb::bson::Bson::into_relaxed_extjson)
                .unwrap_or(Value::Null)
        };
        let at = doc
            .get_i64("occurred_ms")
            .or_else(|_| doc.get_i32("occurred_ms").map(i64::from))
            .unwrap_or_default();
        Self {
            id: text("event_id"),
            occurred_at: timestamp(DateTime::from_millis(at)),
            organization_id: text("organization_id"),
            action: text("action"),
            outcome: text("outcome"),
            actor: value("actor"),
            targets: value("targets"),
            context: value("context"),
            metadata: value("metadata"),
        }
    }
}

#[derive(Debug, Serialize)]
struct Page {
    events: Vec<EventView>,
    next: Option<String>,
}

/// A time filter: RFC 3339, or milliseconds since the epoch.
fn time(req: &Request, key: &str) -> ApiResult<Option<i64>> {
    let Some(raw) = query(req, key) else {
        return Ok(None);
    };
    raw.parse::<i64>()
        .ok()
        .or_else(|| {
            DateTime::parse_rfc3339_str(&raw)
                .ok()
                .map(|t| t.timestamp_millis())
        })
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                &["query", key],
                format!("{key} must be an RFC 3339 time or milliseconds since the epoch"),
            )
        })
}

/// The `next` cursor of an event: its time and id.
fn cursor(doc: &Document) -> Option<String> {
    let at = doc
        .get_i64("occurred_ms")
        .or_else(|_| doc.get_i32("occurred_ms").map(i64::from))
        .ok()?;
    Some(format!("{at}.{}", doc.get_str("event_id").ok()?))
}

fn after(req: &Request) -> ApiResult<Option<(i64, String)>> {
    let Some(raw) = query(req, "after") else {
        return Ok(None);
    };
    raw.split_once('.')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.to_owned())))
        .map(Some)
        .ok_or_else(|| ApiError::invalid(&["query", "after"], "after must be a `next` of this log"))
}

/// `GET /org/audit?limit=&after=&action=&actor_id=&since=&until=[&format=csv]`: the
/// organization's events, newest first (owners and admins).
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "audit.read");
    caller.authorize(app, Action::ReadAudit, &event).await?;
    let csv = match query(&req, "format").as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                &["query", "format"],
                "format must be json or csv",
            ));
        }
    };
    let limit = page_limit(&req)?;
    let filter = Query {
        action: query(&req, "action"),
        actor_id: query(&req, "actor_id"),
        since_ms: time(&req, "since")?,
        until_ms: time(&req, "until")?,
        after: after(&req)?,
    };
    // Events whose copy into the log a crash interrupted are in the outbox: copy first.
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    audit::drain(&app.store, &org).await?;
    let mut docs = store::audit::page(&app.store, org.id, &filter, limit as i64 + 1).await?;
    let more = docs.len() > limit;
    docs.truncate(limit);
    let next = more.then(|| docs.last().and_then(cursor)).flatten();
    let events: Vec<EventView> = docs.iter().map(EventView::new).collect();
    if csv {
        return csv_page(&req, &events, next.as_deref());
    }
    json(StatusCode::OK, &Page { events, next })
}

/// One CSV cell: quoted when it must be, and defused when a spreadsheet would take it
/// for a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The page as `text/csv`, with a `Link` to the next one.
fn csv_page(req: &Request, events: &[EventView], next: Option<&str>) -> ApiResult<Response<Body>> {
    let mut out = String::from(
        "id,occurred_at,action,outcome,actor_type,actor_id,actor_email,targets,ip,user_agent,request_id,metadata\r\n",
    );
    for e in events {
        let field = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let row = [
            e.id.clone(),
            e.occurred_at.clone(),
            e.action.clone(),
            e.outcome.clone(),
            field(&e.actor, "type"),
            field(&e.actor, "id"),
            field(&e.actor, "email"),
            e.targets.to_string(),
            field(&e.context, "ip"),
            field(&e.context, "user_agent"),
            field(&e.context, "request_id"),
            e.metadata.to_string(),
        ];
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .body(Body::Text(out))
        .map_err(ApiError::internal)?;
    if let Some(next) = next {
        let link = format!(
            "<{}?{}>; rel=\"next\"",
            req.uri().path(),
            next_query(req, next)
        );
        let value = HeaderValue::from_str(&link).map_err(ApiError::internal)?;
        resp.headers_mut().insert(header::LINK, value);
    }
    Ok(resp)
}

/// The query of the next page: this one's, with `after` moved on.
fn next_query(req: &Request, next: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for key in ["limit", "action", "actor_id", "since", "until", "format"] {
        if let Some(value) = crate::http::query(req, key) {
            query.append_pair(key, &value);
        }
    }
    query.append_pair("after", next);
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1,2"), "\"'-1,2\"");
    }
}
