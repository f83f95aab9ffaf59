//! Tenant data: documents in the tenant's own collection and nowhere else.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::http::{handle, json, json_body, no_content, path_param, query};
use crate::org::timestamp;

/// Deepest nesting of objects and arrays accepted in an item.
pub const MAX_DEPTH: usize = 20;

/// Items per page by default, and at most.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Serialize)]
struct ItemView {
    id: String,
    data: Value,
    created_at: String,
}

#[derive(Debug, Serialize)]
struct Page {
    items: Vec<ItemView>,
    next: Option<String>,
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

fn view(doc: &Document) -> ItemView {
    let id = doc
        .get_object_id("_id")
        .map(|id| id.to_hex())
        .unwrap_or_default();
    let data = doc
        .get("data")
        .cloned()
        .map(Bson::into_relaxed_extjson)
        .unwrap_or(Value::Object(Map::new()));
    let created_at = doc
        .get_datetime("created_at")
        .map(|t| timestamp(*t))
        .unwrap_or_default();
    ItemView {
        id,
        data,
        created_at,
    }
}

fn item_id(req: &Request) -> ApiResult<ObjectId> {
    path_param(req, "id")
        .and_then(|raw| ObjectId::parse_str(raw).ok())
        .ok_or_else(not_found)
}

/// `POST /org/items`: stores a JSON object in the caller's collection.
pub async fn create(app: &App, req: Request) -> Response<Body> {
    handle(req, |req| async move {
        let org = authenticate(app, &req).await?;
        let data = Value::Object(json_body(&req)?);
        check_item(&data, &mut Vec::new())?;
        let bson = mongodb::bson::to_bson(&data).map_err(|_| {
            ApiError::invalid(&["body"], "Item holds a number MongoDB cannot store")
        })?;
        let id = ObjectId::new();
        let created_at = DateTime::now();
        app.store
            .tenant(&org.placement)
            .insert_one(doc! { "_id": id, "data": bson, "created_at": created_at })
            .await?;
        let item = ItemView {
            id: id.to_hex(),
            data,
            created_at: timestamp(created_at),
        };
        json(StatusCode::CREATED, &item)
    })
    .await
}

/// `GET /org/items?limit=N&after=ID`: a page of the caller's items, by id.
pub async fn list(app: &App, req: Request) -> Response<Body> {
    handle(req, |req| async move {
        let org = authenticate(app, &req).await?;
        let limit = match query(&req, "limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        &["query", "limit"],
                        "limit must be a whole number from 1 to 100",
                    )
                })?,
        };
        let after =
            match query(&req, "after") {
                None => None,
                Some(raw) => Some(ObjectId::parse_str(&raw).map_err(|_| {
                    ApiError::invalid(&["query", "after"], "after must be an item id")
                })?),
            };
        let filter = match after {
            Some(id) => doc! { "_id": { "$gt": id } },
            None => doc! {},
        };
        use futures_util::TryStreamExt;
        let mut docs: Vec<Document> = app
            .store
            .tenant(&org.placement)
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(limit + 1)
            .await?
            .try_collect()
            .await?;
        let more = docs.len() as i64 > limit;
        docs.truncate(limit as usize);
        let items: Vec<ItemView> = docs.iter().map(view).collect();
        let next = if more {
            items.last().map(|i| i.id.clone())
        } else {
            None
        };
        json(StatusCode::OK, &Page { items, next })
    })
    .await
}

/// `GET /org/items/{id}`: one of the caller's items; 404 for any other id.
pub async fn get(app: &App, req: Request) -> Response<Body> {
    handle(req, |req| async move {
        let org = authenticate(app, &req).await?;
        let id = item_id(&req)?;
        let doc = app
            .store
            .tenant(&org.placement)
            .find_one(doc! { "_id": id })
            .await?
            .ok_or_else(not_found)?;
        json(StatusCode::OK, &view(&doc))
    })
    .await
}

/// `DELETE /org/items/{id}`: removes one of the caller's items; 404 for any other id.
pub async fn delete(app: &App, req: Request) -> Response<Body> {
    handle(req, |req| async move {
        let org = authenticate(app, &req).await?;
        let id = item_id(&req)?;
        let gone = app
            .store
            .tenant(&org.placement)
            .delete_one(doc! { "_id": id })
            .await?;
        if gone.deleted_count == 0 {
            return Err(not_found());
        }
        no_content()
    })
    .await
}
