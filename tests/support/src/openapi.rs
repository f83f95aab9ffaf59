//! Every response that a handler test or an end-to-end test receives is checked against
//! the OpenAPI document (`shared/static/openapi.json`, the one `GET /openapi.json`
//! serves): its status must be documented for the route and method, its content type
//! must be one the document names for that status, and its body must match that
//! content's schema. A response the document does not describe fails the test that
//! received it, so the document cannot drift from the code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(tenant::routes::docs::OPENAPI).expect("openapi.json is JSON")
    })
}

/// Panics, naming the request and what the document says, when the response of
/// `method path` is not one the OpenAPI document describes.
pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &str) {
    if let Err(why) = conforms(method, path, status, content_type, body) {
        panic!(
            "{method} {path} answered {status}, which openapi.json does not describe: {why}\n\
             body: {}",
            body.chars().take(2000).collect::<String>()
        );
    }
}

/// Whether the response of `method path` is one the OpenAPI document describes, and if
/// not, why.
pub fn conforms(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or_default();
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let method = method.to_ascii_lowercase();
    let Some(template) = template_of(path).filter(|t| document()["paths"][t][&method].is_object())
    else {
        // No documented operation: the fallback's answers (API Gateway's $default route),
        // 404 for an unknown path and 405 for a known path's other methods.
        if matches!(status, 404 | 405) {
            return validate("/components/schemas/HTTPError", &json_body(body)?);
        }
        return Err(format!(
            "no operation {method} of a documented path matches {path}"
        ));
    };
    let responses = &document()["paths"][&template][&method]["responses"];
    let key = [status.to_string(), "default".to_owned()]
        .into_iter()
        .find(|k| responses.get(k).is_some())
        .ok_or_else(|| {
            let documented: Vec<&String> = responses
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            format!(
                "status {status} is not documented for {method} {template} (only {documented:?})"
            )
        })?;
    let Some(content) = responses[&key].get("content").and_then(Value::as_object) else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "a body, where {key} of {method} {template} has none"
            ))
        };
    };
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .ok_or("no content type")?;
    if !content.contains_key(&media) {
        let documented: Vec<&String> = content.keys().collect();
        return Err(format!(
            "content type {media} is not documented for {key} of {method} {template} (only {documented:?})"
        ));
    }
    let instance = if media.ends_with("json") {
        json_body(body)?
    } else {
        Value::String(body.to_owned())
    };
    let pointer = format!(
        "/paths/{}/{method}/responses/{key}/content/{}/schema",
        escape(&template),
        escape(&media)
    );
    validate(&pointer, &instance)
}

fn json_body(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))
}

/// The documented path template that `path` is an instance of (`/org/items/{id}` for
/// `/org/items/abc`), preferring literal segments over parameters.
fn template_of(path: &str) -> Option<String> {
    let wanted: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let paths = document()["paths"].as_object()?;
    paths
        .keys()
        .filter_map(|template| {
            let segments: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
            if segments.len() != wanted.len() {
                return None;
            }
            let mut literal = 0;
            for (t, w) in segments.iter().zip(&wanted) {
                if t.starts_with('{') && t.ends_with('}') {
                    continue;
                }
                if t != w {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template.clone())
}

/// A JSON pointer token: `~` as `~0`, `/` as `~1`.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment (`{id}` as `%7Bid%7D`).
fn fragment(pointer: &str) -> String {
    pointer
        .replace('%', "%25")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Validates `instance` against the schema at `pointer` of the document, its `$ref`s
/// resolved within the document (validators are built once per schema).
fn validate(pointer: &str, instance: &Value) -> Result<(), String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let cache = VALIDATORS.get_or_init(Default::default);
    let cached = cache.lock().ok().and_then(|c| c.get(pointer).cloned());
    let validator = match cached {
        Some(v) => v,
        None => {
            // The whole document as the root schema, pointing at the wanted one: the
            // document's own `#/components/...` references then resolve.
            let mut root = document().clone();
            root["$ref"] = Value::String(format!("#{}", fragment(pointer)));
            let built = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .map_err(|e| format!("the schema at {pointer} does not compile: {e}"))?;
            let built = Arc::new(built);
            if let Ok(mut c) = cache.lock() {
                c.insert(pointer.to_owned(), Arc::clone(&built));
            }
            built
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the body does not match {pointer}: {}",
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::conforms;

    #[test]
    fn documented_answers_pass_and_drift_fails() {
        let org = r#"{"id":"6b1680a128877e92d8b4c627","organization_name":"acme","email":"a@acme.com","collection_name":"org_acme","connection_details":"Collection: org_acme","created_at":"2026-12-07T09:47:13.251Z","updated_at":null}"#;
        let json = Some("application/json");
        assert_eq!(
            conforms("GET", "/org/get?organization_name=acme", 200, json, org),
            Ok(())
        );
        assert_eq!(conforms("GET", "/api/v1/org/get", 200, json, org), Ok(()));
        // A field of the wrong type, a status the route never answers, a body on 204.
        let drift = org.replace("\"updated_at\":null", "\"updated_at\":7");
        assert!(conforms("GET", "/org/get", 200, json, &drift).is_err());
        assert!(conforms("GET", "/org/get", 201, json, org).is_err());
        assert!(conforms("DELETE", "/org/items/abc", 204, None, "{}").is_err());
        assert_eq!(conforms("DELETE", "/org/items/abc", 204, None, ""), Ok(()));
        let not_found = r#"{"detail":"Not Found"}"#;
        assert_eq!(conforms("GET", "/nowhere", 404, json, not_found), Ok(()));
        assert!(conforms("GET", "/nowhere", 200, json, not_found).is_err());
    }
}
