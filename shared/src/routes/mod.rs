//! The HTTP handlers, one file per resource as the API names it. Each handler is
//! `async fn(&App, Request) -> ApiResult<Response<Body>>`: it parses the request,
//! authorizes the caller, calls the core and shapes the answer.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod dashboard;
pub mod docs;
pub mod events;
pub mod fallback;
pub mod invitations;
pub mod items;
pub mod members;
pub mod operator;
pub mod organizations;
pub mod service;
pub mod sessions;
pub mod views;
pub mod webhooks;
