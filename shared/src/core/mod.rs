//! What the service does across documents, under the routes: the organization's
//! lifecycle (create, rename, delete, without transactions), memberships, accepting
//! invitations, account recovery and proof of address, the audit trail, idempotent
//! requests and `If-Match` preconditions.

pub mod acceptance;
pub mod accounts;
pub mod audit;
pub mod events;
pub mod idempotency;
pub mod lifecycle;
pub mod membership;
pub mod preconditions;
pub mod profile;
pub mod trash;
pub mod webhooks;
