//! What runs without a route: the deploy-time migration (the `migrate` function).

pub mod migrate;
