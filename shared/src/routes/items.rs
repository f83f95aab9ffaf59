//! Items, the tenant's data (`/org/items` and `/org/items/{id}`): documents in the
//! tenant's own collection and nowhere else.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{Bson, DateTime, Document, oid::ObjectId};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{Action, Caller, authenticate};
use crate::core::audit::{self, Target};
use crate::core::{idempotency, lifecycle};
use crate::error::{ApiError, ApiResult};
use crate::http::{
    JsonBody, body_bytes, json, json_text, no_content, page_limit, path_param, query,
};
use crate::routes::views::timestamp;
use crate::store::{failpoint, tenants};

/// Deepest nesting of objects and arrays accepted in an item.
pub const MAX_DEPTH: usize = 20;

/// Largest page body sent, in bytes: a page stops before it would pass this, well
/// under Lambda's 6 MB response limit.
pub const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Serialize)]
struct ItemView {
    id: String,
    data: Value,
    created_at: String,
}

fn not_found() -> ApiError {
    ApiError::NotFound("Item not found".into())
}

/// Checks keys (no leading `$`, no `.`, no NUL) and depth, saying where the fault is.
pub fn check_item(value: &Value, path: &mut Vec<String>) -> Result<(), ApiError> {
    if path.len() > MAX_DEPTH {
        return Err(ApiError::invalid(
            &["body"],
            format!("Item nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    let at = |path: &[String], msg: String| {
        let mut loc = vec!["body"];
        loc.extend(path.iter().map(String::as_str));
        ApiError::invalid(&loc, msg)
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key.starts_with('$') || key.contains('.') || key.contains('\0') {
                    return Err(at(
                        path,
                        format!(
                            "Key '{}' may not start with '$' or contain '.' or NUL",
                            key.replace('\0', "\\0")
                        ),
                    ));
                }
                path.push(key.clone());
                check_item(child, path)?;
                path.pop();
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                path.push(i.to_string());
                check_item(child, path)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks every number of a JSON text: each must be stored exactly, as an int64, or
/// as a finite double whose shortest decimal form is the number as sent (so `1e2` and
/// `0.1` pass, `2^64`, `-2^63-1` and `1e-400` do not). The text is valid JSON.
pub fn check_numbers(text: &[u8]) -> Result<(), ApiError> {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let literal = std::str::from_utf8(&text[start..i]).unwrap_or_default();
                if !stored_exactly(literal) {
                    return Err(ApiError::invalid(
                        &["body"],
                        format!(
                            "Number {literal} cannot be stored exactly (an int64, or a double that reads back the same)"
                        ),
                    ));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Whether a JSON number literal survives storage unchanged.
fn stored_exactly(literal: &str) -> bool {
    if literal.parse::<i64>().is_ok() {
        return true;
    }
    match literal.parse::<f64>() {
        Ok(value) if value.is_finite() => decimal(literal) == decimal(&format!("{value:e}")),
        _ => false,
    }
}

/// A decimal number as (negative, significant digits, exponent of the last digit),
/// for comparing two spellings of one value.
fn decimal(literal: &str) -> (bool, String, i64) {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let exponent = exponent - fraction.len() as i64;
    let trailing = digits.len() - digits.trim_end_matches('0').len();
    let digits = digits.trim_end_matches('0').trim_start_matches('0');
    if digits.is_empty() {
        return (false, String::new(), 0);
    }
    (negative, digits.to_owned(), exponent + trailing as i64)
}

/// An item as the API shows it. A document of this service holds its data under
/// `data`; (v3) one imported from the Python services as it was (no `organization_id`,
/// fields beside `_id`) shows those fields, and its id's time as `created_at`.
fn view(doc: &Document) -> ItemView {
    let oid = doc.get_object_id("_id").ok();
    let id = oid.map(|id| id.to_hex()).unwrap_or_default();
    let ours = doc.contains_key("organization_id")
        || (doc.contains_key("data")
            && doc
                .keys()
                .all(|k| ["_id", "data", "created_at"].contains(&k.as_str())));
    let data = if ours {
        doc.get("data")
            .cloned()
            .map(Bson::into_relaxed_extjson)
            .unwrap_or(Value::Object(Map::new()))
    } else {
        let mut fields = doc.clone();
        fields.remove("_id");
        Bson::Document(fields).into_relaxed_extjson()
    };
    let created_at = match (doc.get_datetime("created_at"), oid) {
        (Ok(t), _) if ours => timestamp(*t),
        (_, Some(oid)) if !ours => timestamp(oid.timestamp()),
        _ => String::new(),
    };
    ItemView {
        id,
        data,
        created_at,
    }
}

/// The caller, a member who may use items (every role may).
async fn member(app: &App, req: &Request) -> ApiResult<Caller> {
    let caller = authenticate(app, req).await?;
    let event = caller.event(req, "item.used");
    caller.authorize(app, Action::UseItems, &event).await?;
    Ok(caller)
}

fn item_id(req: &Request) -> ApiResult<ObjectId> {
    path_param(req, "id")
        .and_then(|raw| ObjectId::parse_str(raw).ok())
        .ok_or_else(not_found)
}

/// `POST /org/items`: stores a JSON object in the caller's collection.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = member(app, &req).await?;
    let key = idempotency::key(&req)?;
    let org = caller.org.id.to_hex();
    let scope = format!("items:{org}");
    idempotency::once(app, &req, (&scope, Some(&org)), key.as_deref(), |derived| {
        store(app, &req, &caller, derived)
    })
    .await
}

/// Stores the item of a `POST /org/items` (with the id derived from its idempotency key,
/// if any: an item made before with that id, by an earlier try, is the answer).
async fn store(
    app: &App,
    req: &Request,
    caller: &Caller,
    derived: Option<ObjectId>,
) -> ApiResult<Response<Body>> {
    let org = &caller.org;
    let data = Value::Object(JsonBody::parse(req)?.into_object());
    check_item(&data, &mut Vec::new())?;
    check_numbers(body_bytes(req))?;
    let bson = mongodb::bson::to_bson(&data)
        .map_err(|_| ApiError::invalid(&["body"], "Item holds a number MongoDB cannot store"))?;
    // (`ObjectId::default()` is a new id.)
    let id = derived.unwrap_or_default();
    let event = caller
        .event(req, "item.created")
        .target(Target::new("item", id, None))
        .once_per_target();
    if derived.is_some()
        && let Some(made) = tenants::find_item(&app.store, &org.placement, org.id, id).await?
    {
        // Made by an earlier try, which may have died before its event.
        audit::record(&app.store, org.id, &[event]).await?;
        return json(StatusCode::CREATED, &view(&made));
    }
    let created_at = DateTime::now();
    lifecycle::store_item(
        &app.store,
        org.id,
        org.placement.clone(),
        id,
        bson,
        created_at,
    )
    .await?;
    failpoint!(app.store, "item.before_event");
    audit::record(&app.store, org.id, &[event]).await?;
    let item = ItemView {
        id: id.to_hex(),
        data,
        created_at: timestamp(created_at),
    };
    json(StatusCode::CREATED, &item)
}

/// `GET /org/items?limit=N&after=ID`: a page of the caller's items, by id, at most
/// `limit` of them and at most [`MAX_PAGE_BYTES`] of body.
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let org = member(app, &req).await?.org;
    let limit = page_limit(&req)?;
    let after = match query(&req, "after") {
        None => None,
        Some(raw) => Some(
            ObjectId::parse_str(&raw)
                .map_err(|_| ApiError::invalid(&["query", "after"], "after must be an item id"))?,
        ),
    };
    let docs =
        tenants::items_after(&app.store, &org.placement, org.id, after, limit as i64 + 1).await?;
    page(&docs, limit)
}

/// The page body of `docs` (fetched one past the limit): items until the limit or the
/// byte bound, and `next` when more follow.
fn page(docs: &[Document], limit: usize) -> ApiResult<Response<Body>> {
    const CLOSE: &str = "],\"next\":";
    let mut body = String::from("{\"items\":[");
    let mut last = None;
    for (n, doc) in docs.iter().take(limit).enumerate() {
        let item = view(doc);
        let text = serde_json::to_string(&item).map_err(ApiError::internal)?;
        // Room for the separator, the close and the longest `next` (a quoted id).
        if n > 0 && body.len() + 1 + text.len() + CLOSE.len() + 27 > MAX_PAGE_BYTES {
            break;
        }
        if n > 0 {
            body.push(',');
        }
        body.push_str(&text);
        last = Some((n, item.id));
    }
    body.push_str(CLOSE);
    match last {
        Some((n, id)) if n + 1 < docs.len() => {
            body.push('"');
            body.push_str(&id);
            body.push('"');
        }
        _ => body.push_str("null"),
    }
    body.push('}');
    json_text(StatusCode::OK, body)
}

/// `GET /org/items/{id}`: one of the caller's items; 404 for any other id.
pub async fn get(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let org = member(app, &req).await?.org;
    let id = item_id(&req)?;
    let doc = tenants::find_item(&app.store, &org.placement, org.id, id)
        .await?
        .ok_or_else(not_found)?;
    json(StatusCode::OK, &view(&doc))
}

/// `DELETE /org/items/{id}`: removes one of the caller's items; 404 for any other id.
pub async fn delete(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = member(app, &req).await?;
    let id = item_id(&req)?;
    let org = &caller.org;
    if !tenants::delete_item(&app.store, &org.placement, org.id, id).await? {
        return Err(not_found());
    }
    let event = caller
        .event(&req, "item.deleted")
        .target(Target::new("item", id, None));
    audit::record(&app.store, caller.org.id, &[event]).await?;
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_kept_only_when_stored_exactly() {
        for good in [
            "0",
            "-0",
            "1",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "1e2",
            "0.1",
            "1.5",
            "-2.5e-3",
            "1e308",
            "1e20",
            "123456789.125",
            "5e-324",
        ] {
            assert!(stored_exactly(good), "{good} refused");
        }
        for bad in [
            "9223372036854775808",
            "18446744073709551616",
            "-9223372036854775809",
            "1e309",
            "1e-400",
            "1.00000000000000000001",
            "0.1000000000000000000001",
        ] {
            assert!(!stored_exactly(bad), "{bad} accepted");
        }
        assert!(check_numbers(br#"{"a": [1, 2.5, {"b": -3}], "s": "1e-400 \" 2e999"}"#).is_ok());
        assert!(check_numbers(br#"{"a": {"b": [1, 1e-400]}}"#).is_err());
    }
}
