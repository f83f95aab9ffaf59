//! Handler tests: every route called in-process against a real MongoDB-compatible
//! server over the wire (no mocks), each test with its own databases and names.

mod common;

mod accounts;
mod api_keys;
mod audit;
mod auth;
mod faults;
mod import;
mod integrity;
mod items;
mod limits;
mod migration;
mod operator;
mod org;
mod permissions;
mod profile;
mod red_team;
mod restore;
mod retries;
mod round_trips;
mod service;
mod teams;
mod webhooks;
