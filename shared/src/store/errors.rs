//! Reading the server's errors.

use mongodb::error::{Error, ErrorKind, WriteFailure};

/// Server error codes this crate reacts to.
pub mod codes {
    /// A unique index refused a write.
    pub const DUPLICATE_KEY: i32 = 11000;
    /// The collection or database does not exist.
    pub const NAMESPACE_NOT_FOUND: i32 = 26;
    /// The collection exists already.
    pub const NAMESPACE_EXISTS: i32 = 48;
    /// The server does not know the command.
    pub const COMMAND_NOT_FOUND: i32 = 59;
}

/// The server's error code, if the error carries one.
pub fn error_code(err: &Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|w| w.first().map(|w| w.code)),
        _ => None,
    }
}

/// True when a unique index refused the write.
pub fn is_duplicate(err: &Error) -> bool {
    error_code(err) == Some(codes::DUPLICATE_KEY)
}
