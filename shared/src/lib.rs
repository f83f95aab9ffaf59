//! The tenant crate: everything the organization service does, as plain async
//! handlers over an [`App`] (configuration + MongoDB client built once per cold start).
//! Each Lambda binary in `functions/` wires one handler through [`lambda::serve`].

#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod docs;
pub mod domain;
pub mod error;
pub mod fallback;
#[cfg(feature = "test-hooks")]
pub mod hooks;
pub mod http;
pub mod idempotency;
pub mod invitations;
pub mod items;
pub mod lambda;
pub mod members;
pub mod migrate;
pub mod org;
pub mod secrets;
pub mod service;
pub mod store;

pub use app::App;
