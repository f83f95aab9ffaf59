//! JSON request bodies: size, content type, syntax, then field by field into domain
//! values, every fault collected into one 422.

use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, FieldError};

/// Largest body accepted, in bytes (the contract's 64 KiB item limit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The raw bytes of a request body.
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

/// A request body parsed as a JSON object, read field by field into domain values;
/// every field's fault is collected, and [`JsonBody::finish`] answers them all at once.
pub struct JsonBody {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl JsonBody {
    /// The body as a JSON object: 413 when too large, 422 for a wrong content type,
    /// malformed JSON or anything but an object.
    pub fn parse(req: &Request) -> ApiResult<Self> {
        let bytes = body_bytes(req);
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        let fault = |loc: &[&str], msg: &str, kind| {
            ApiError::Validation(vec![FieldError::new(loc, msg, kind)])
        };
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(fault(
                &["header", "content-type"],
                "Content-Type must be application/json",
                "value_error",
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(fault(&["body"], "Field required", "missing"));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self {
                map,
                errors: Vec::new(),
            }),
            Ok(_) => Err(fault(
                &["body"],
                "Input should be a valid dictionary or object",
                "dict_type",
            )),
            Err(_) => Err(fault(&["body"], "JSON decode error", "json_invalid")),
        }
    }

    /// The whole object (for bodies that are data, not fields).
    pub fn into_object(self) -> Map<String, Value> {
        self.map
    }

    /// Whether a field is absent or null.
    pub fn is_absent(&self, key: &str) -> bool {
        self.map.get(key).is_none_or(Value::is_null)
    }

    /// A string field that must be present, parsed by `parse`.
    pub fn required<T>(&mut self, key: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        if self.is_absent(key) {
            self.errors
                .push(FieldError::new(&["body", key], "Field required", "missing"));
            return None;
        }
        self.optional(key, parse)
    }

    /// A string field that may be absent or null, parsed by `parse`.
    pub fn optional<T>(&mut self, key: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match parse(s) {
                Ok(v) => Some(v),
                Err(msg) => {
                    self.errors
                        .push(FieldError::new(&["body", key], msg, "value_error"));
                    None
                }
            },
            Some(_) => {
                self.errors.push(FieldError::new(
                    &["body", key],
                    "Input should be a valid string",
                    "string_type",
                ));
                None
            }
        }
    }

    /// A whole-number field that may be absent or null, within `range`.
    pub fn optional_integer(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| range.contains(&v)) => n.as_i64(),
            Some(_) => {
                self.errors.push(FieldError::new(
                    &["body", key],
                    format!(
                        "Input should be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    "value_error",
                ));
                None
            }
        }
    }

    /// A field of any JSON type, if present and not null (its check is the caller's).
    pub fn value(&self, key: &str) -> Option<Value> {
        self.map.get(key).filter(|v| !v.is_null()).cloned()
    }

    /// A field of any JSON type checked by `parse`: `None` when absent, `Some(None)`
    /// when `null`, `Some(Some(_))` when it passes (a fault is recorded otherwise).
    pub fn nullable<T>(
        &mut self,
        key: &str,
        parse: fn(&Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.map.get(key)? {
            Value::Null => Some(None),
            value => match parse(value) {
                Ok(v) => Some(Some(v)),
                Err(msg) => {
                    self.errors
                        .push(FieldError::new(&["body", key], msg, "value_error"));
                    None
                }
            },
        }
    }

    /// A `true`/`false` field that may be absent or null.
    pub fn optional_bool(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.errors.push(FieldError::new(
                    &["body", key],
                    "Input should be a valid boolean",
                    "bool_type",
                ));
                None
            }
        }
    }

    /// Records a fault not tied to one field's syntax.
    pub fn reject(&mut self, loc: &[&str], msg: &str) {
        self.errors.push(FieldError::new(loc, msg, "value_error"));
    }

    /// 422 with every fault found, else the value `build` makes of the fields read
    /// (`build` sees a `None` only for a field whose fault was recorded).
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> ApiResult<T> {
        if !self.errors.is_empty() {
            return Err(ApiError::Validation(self.errors));
        }
        build().ok_or_else(|| ApiError::internal("a field was missing without a fault"))
    }
}
