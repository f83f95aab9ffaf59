//! The handler tests' harness: the shared test support ([`testkit`]).

pub use testkit::*;
