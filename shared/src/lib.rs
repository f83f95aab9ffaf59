//! The tenant crate: everything the organization service does, as plain async
//! handlers over an [`App`] (configuration + MongoDB client built once per cold start).
//! Each Lambda binary in `functions/` wires one handler through [`lambda::serve`].
//!
//! The layers, each calling only the ones below it:
//! - [`routes`]: one file per resource of the API (`POST /org/items` is
//!   [`routes::items::create`]); a handler parses, authorizes, calls the core and shapes
//!   the answer;
//! - [`auth`]: who is calling (tokens, passwords, the login throttle) and what the
//!   caller's role allows;
//! - [`core`]: what the service does across documents: organization lifecycle,
//!   memberships, the audit trail, idempotent requests, `If-Match` preconditions;
//! - [`store`]: every MongoDB query, as a named operation.
//!
//! Beside them: [`http`] (request parsing, responses), [`domain`] (values parsed from
//! input), [`config`], [`error`], [`email`] (messages, their templates and transports),
//! [`jobs`] (what runs without a route: the deploy-time migration, the dispatcher that
//! sends email) and [`lambda`] (the entry point of every function).

#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod config;
pub mod core;
pub mod domain;
pub mod email;
pub mod error;
#[cfg(feature = "test-hooks")]
pub mod hooks;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod metrics;
pub mod routes;
pub mod store;

pub use app::App;
