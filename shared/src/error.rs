//! The API's error type and its mapping to the contract's status codes and bodies.
//! What a client may see is [`ApiError::detail`]; causes are kept as sources for the
//! log ([`ApiError::chain`]) and never shown.

use lambda_http::http::StatusCode;
use serde::Serialize;

/// A cause kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

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

/// Every way a request can fail.
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
    /// 405: a known path with a method it does not serve.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path serves (`Allow` header).
        allow: &'static str,
    },
    /// 409: the change would break a rule of the current state (last owner, already a
    /// member, not pending).
    #[error("{0}")]
    Conflict(String),
    /// 409 with `Retry-After`: the same request (idempotency key) is still running.
    #[error("request in flight")]
    InFlight {
        /// Seconds after which a retry may find it finished.
        retry_after: u64,
    },
    /// 412: `If-Match` does not match the current `ETag`; nothing changed.
    #[error("precondition failed")]
    PreconditionFailed,
    /// 429: a throttle is closed for this many seconds.
    #[error("too many attempts")]
    TooManyRequests {
        /// Seconds until the window passes.
        retry_after: u64,
        /// What was counted ("failed login attempts").
        what: &'static str,
    },
    /// 413: the body is larger than the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 503: the route exists to send email, and no email is configured.
    #[error("email is not configured")]
    EmailNotConfigured,
    /// 503: the database does not answer.
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// 503: another operation in flight on the organization keeps it busy for a moment.
    #[error("organization busy")]
    Busy(#[source] Cause),
    /// 500: anything unexpected.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl ApiError {
    /// A 422 with a single field error.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(loc, msg, "value_error")])
    }

    /// A 500 whose cause goes to the log.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// A 503 for an organization busy with another operation; the cause goes to the log.
    pub fn busy(cause: impl Into<Cause>) -> Self {
        Self::Busy(cause.into())
    }

    /// A 503 whose cause goes to the log.
    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Duplicate(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) | Self::Busy(_) | Self::EmailNotConfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `detail` value of the response body: what the client may see.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            Self::Validation(errors) => serde_json::json!(errors),
            Self::Duplicate(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m) => m.as_str().into(),
            Self::InFlight { retry_after } => format!(
                "A request with this Idempotency-Key is still in flight; retry in {retry_after} seconds"
            )
            .into(),
            Self::PreconditionFailed => {
                "If-Match does not match the current ETag; nothing was changed".into()
            }
            Self::MethodNotAllowed { .. } => "Method Not Allowed".into(),
            Self::TooManyRequests { retry_after, what } => {
                format!("Too many {what}; try again in {retry_after} seconds").into()
            }
            Self::EmailNotConfigured => "Email is not configured".into(),
            Self::PayloadTooLarge => "Request body too large".into(),
            Self::Unavailable(_) => "Service temporarily unavailable: database unreachable".into(),
            Self::Busy(_) => {
                "The organization is busy with another operation; try again in a moment".into()
            }
            Self::Internal(_) => "Internal server error".into(),
        }
    }

    /// The error and every cause under it, for the log: `internal error: a: b`.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        let unavailable = matches!(
            *err.kind,
            ErrorKind::ServerSelection { .. }
                | ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
        ) || err.contains_label(mongodb::error::RETRYABLE_WRITE_ERROR);
        if unavailable {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Internal(Box::new(err))
        }
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_reach_the_log_but_never_the_client() {
        let err = ApiError::internal(std::io::Error::other("driver said: secret detail"));
        assert_eq!(err.detail(), "Internal server error");
        assert_eq!(err.chain(), "internal error: driver said: secret detail");
    }
}
