//! What runs without a route: the deploy-time migration (the `migrate` function), the
//! dispatcher that sends the service's email (the `dispatcher` function, on a schedule)
//! and the purge of deleted organizations (the `purge` function, on a schedule).

pub mod dispatch;
pub mod migrate;
pub mod purge;
