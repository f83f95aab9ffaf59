//! The API's error type and its mapping to the contract's status codes and bodies.

use lambda_http::http::StatusCode;
use serde::Serialize;

/// One entry of a 422 `detail` list, shaped like FastAPI's validation errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the bad value is: `["body", "email"]`, `["query", "limit"]`.
    pub loc: Vec<String>,
    /// What is wrong, for a person.
    pub msg: String,
    /// A machine-readable kind: `missing`, `value_error`, `json_invalid`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    /// An error at `loc` with a message and a kind.
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &'static str) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind,
        }
    }
}

/// Every way a request can fail. Internal causes are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the body or query failed validation.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400: a unique name or email is taken.
    #[error("{0}")]
    Duplicate(String),
    /// 401: no valid token (or wrong credentials).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid token acting on another tenant.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such organization, item or route.
    #[error("{0}")]
    NotFound(String),
    /// 429: the login throttle is closed for this many seconds.
    #[error("too many attempts")]
    TooManyRequests {
        /// Seconds until the window passes.
        retry_after: u64,
    },
    /// 413: the body is larger than the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 503: the database does not answer.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// 500: anything unexpected; the text is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 with a single field error.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(loc, msg, "value_error")])
    }

    /// A 500 whose cause goes to the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Duplicate(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `detail` value of the response body: what the client may see.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            Self::Validation(errors) => serde_json::json!(errors),
            Self::Duplicate(m) | Self::Unauthorized(m) | Self::Forbidden(m) | Self::NotFound(m) => {
                m.as_str().into()
            }
            Self::TooManyRequests { retry_after } => {
                format!("Too many failed login attempts; try again in {retry_after} seconds").into()
            }
            Self::PayloadTooLarge => "Request body too large".into(),
            Self::Unavailable(_) => "Service temporarily unavailable: database unreachable".into(),
            Self::Internal(_) => "Internal server error".into(),
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        match *err.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. } => Self::Unavailable(err.to_string()),
            _ if err.contains_label(mongodb::error::RETRYABLE_WRITE_ERROR) => {
                Self::Unavailable(err.to_string())
            }
            _ => Self::Internal(err.to_string()),
        }
    }
}

/// The result of a handler's inner work.
pub type ApiResult<T> = Result<T, ApiError>;
