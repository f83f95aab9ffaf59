//! What a request costs inside the function process, apart from the database:
//! `cargo bench -p tenant --bench handlers` (`make bench` runs it).
//!
//! - `request/*`: the per-request work that needs no database: an API Gateway event
//!   read into a request, a body parsed into a typed request, a token issued and
//!   checked, a response built;
//! - `cpu/*`: handlers called for real against the server named by `MONGODB_URI`, in CPU
//!   time of this process (waiting on the server is not counted, the driver's own work
//!   is), on a single-threaded runtime as a Lambda instance runs them;
//! - `bcrypt/*`: one verify at cost 12.
//!
//! Under `cargo test` (criterion's test mode) each benchmark runs once, untimed.

mod cpu;
mod request;

use criterion::{criterion_group, criterion_main};

criterion_group!(benches, request::bench, cpu::bench);
criterion_main!(benches);
