//! What runs without a route: the deploy-time migration (the `migrate` function) and the
//! import from the Python services (its `import` event), the dispatcher that sends the
//! service's email (the `dispatcher` function, on a schedule) and the purge of deleted
//! organizations (the `purge` function, on a schedule).

pub mod dispatch;
pub mod import;
pub mod migrate;
pub mod purge;
