//! What runs without a route: the deploy-time migration (the `migrate` function) and
//! the dispatcher that sends the service's email (the `dispatcher` function, on a
//! schedule).

pub mod dispatch;
pub mod migrate;
