//! JSON bodies: size, content type, syntax, then field by field into domain values.

use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Largest body accepted, in bytes (the contract's 64 KiB item limit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The body as a JSON object: 413 when too large, 422 for a wrong content type,
/// malformed JSON or anything but an object.
pub fn json_body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::Validation(vec![FieldError::new(
            &["header", "content-type"],
            "Content-Type must be application/json",
            "value_error",
        )]));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError::new(
            &["body"],
            "Field required",
            "missing",
        )]));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Validation(vec![FieldError::new(
            &["body"],
            "Input should be a valid dictionary or object",
            "dict_type",
        )])),
        Err(_) => Err(ApiError::Validation(vec![FieldError::new(
            &["body"],
            "JSON decode error",
            "json_invalid",
        )])),
    }
}

/// Reads string fields of a JSON object into domain values, collecting every error.
pub struct Form {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Form {
    /// Parses the request body as a form.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        Ok(Self {
            map: json_body(req)?,
            errors: Vec::new(),
        })
    }

    /// Whether a field is absent or null.
    pub fn is_absent(&self, key: &str) -> bool {
        self.map.get(key).is_none_or(Value::is_null)
    }

    /// A field that must be present.
    pub fn required<T>(&mut self, key: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        if self.is_absent(key) {
            self.errors
                .push(FieldError::new(&["body", key], "Field required", "missing"));
            return None;
        }
        self.optional(key, parse)
    }

    /// A field that may be absent or null.
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

    /// Adds an error not tied to one field's syntax.
    pub fn reject(&mut self, loc: &[&str], msg: &str) {
        self.errors.push(FieldError::new(loc, msg, "value_error"));
    }

    /// 422 with every error found, or the values read (`None` only when an error was
    /// recorded for it).
    pub fn finish<T>(self, values: Option<T>) -> Result<T, ApiError> {
        match values {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ if self.errors.is_empty() => {
                Err(ApiError::internal("form value missing without error"))
            }
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}
