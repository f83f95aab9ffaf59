//! MongoDB access: one client per cold start, the registry and the tenant collections.
//!
//! Every filter and update the service sends lives in this module and its children,
//! as named operations: [`registry`] (organizations and their members), [`users`]
//! (accounts), [`invitations`], [`tenants`] (tenant collections and their items),
//! [`attempts`] (the throttles' counters), [`mail`] (messages to send) and [`tokens`]
//! (reset and verification links).

pub mod api_keys;
pub mod attempts;
pub mod audit;
mod errors;
pub mod events;
pub mod idempotency;
pub mod indexes;
pub mod invitations;
pub mod mail;
mod records;
pub mod registry;
pub mod tenants;
pub mod tokens;
pub mod trash;
pub mod users;
pub mod webhooks;

pub use errors::{codes, error_code, is_duplicate};
pub use records::{
    Member, OrgDoc, OrgStatus, Pending, PendingOp, Placement, Suspension, member_key, millis_of,
};

use mongodb::bson::{Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use secrecy::ExposeSecret;

use crate::config::{Config, ConfigError};

/// Fails the current step if the failpoint `$name` of `$store` is armed (see
/// [`crate::hooks`]); expands to nothing without the `test-hooks` feature, so release
/// builds hold no failpoint name.
macro_rules! failpoint {
    ($store:expr, $name:literal) => {
        #[cfg(feature = "test-hooks")]
        $store.hooks().check($name)?;
    };
}
pub(crate) use failpoint;

/// Holds the first request that reaches the gate `$name` of `$store` until the test
/// that set it opens it (see [`crate::hooks::Hooks::gate`]): a race, made to happen at
/// that point. Expands to nothing without the `test-hooks` feature.
macro_rules! gate {
    ($store:expr, $name:literal) => {
        #[cfg(feature = "test-hooks")]
        $store.hooks().wait_at($name).await;
    };
}
pub(crate) use gate;

/// Every document of a query's cursor that reads as a `T` (one that does not, such as a
/// fence among events, is skipped).
pub(crate) async fn typed<T: serde::de::DeserializeOwned>(
    cursor: mongodb::Cursor<Document>,
) -> Result<Vec<T>, mongodb::error::Error> {
    use futures_util::TryStreamExt;
    let docs: Vec<Document> = cursor.try_collect().await?;
    Ok(docs
        .into_iter()
        .filter_map(|d| mongodb::bson::from_document(d).ok())
        .collect())
}

/// The MongoDB client and the databases of the service.
pub struct Store {
    client: Client,
    master: Database,
    tenants: Database,
    audit_retention: std::time::Duration,
    events_retention: std::time::Duration,
    delete_grace: std::time::Duration,
    #[cfg(feature = "test-hooks")]
    hooks: crate::hooks::Hooks,
}

impl Store {
    /// Builds the client (no network traffic until the first operation, but a
    /// `mongodb+srv` URI is resolved here).
    pub async fn connect(config: &Config) -> Result<Self, ConfigError> {
        let invalid = |_| ConfigError::Invalid {
            name: "MONGODB_URI",
            why: "not a valid MongoDB connection string".into(),
        };
        let mut options = ClientOptions::parse(config.mongodb_uri.expose_secret())
            .await
            .map_err(invalid)?;
        options.app_name = Some(config.service_name.clone());
        options.max_pool_size = Some(config.max_pool_size);
        options.min_pool_size = Some(0);
        options.max_idle_time = Some(std::time::Duration::from_secs(60));
        options.server_selection_timeout = Some(config.db_timeout);
        options.connect_timeout = Some(config.db_timeout);
        #[cfg(feature = "test-hooks")]
        let hooks = crate::hooks::Hooks::default();
        #[cfg(feature = "test-hooks")]
        hooks.count_commands(&mut options);
        let client = Client::with_options(options).map_err(invalid)?;
        Ok(Self {
            master: client.database(&config.master_db),
            tenants: client.database(&config.tenant_db),
            audit_retention: config.audit_retention,
            events_retention: config.webhooks.events_retention,
            delete_grace: config.delete_grace,
            client,
            #[cfg(feature = "test-hooks")]
            hooks,
        })
    }

    /// Fault injection and command counting (tests and benchmarks only).
    #[cfg(feature = "test-hooks")]
    pub fn hooks(&self) -> &crate::hooks::Hooks {
        &self.hooks
    }

    /// A collection of the master database.
    pub(crate) fn master_collection(&self, name: &str) -> Collection<Document> {
        self.master.collection(name)
    }

    /// The registry of organizations.
    pub(crate) fn organizations(&self) -> Collection<Document> {
        self.master_collection("organizations")
    }

    /// User accounts.
    pub(crate) fn users(&self) -> Collection<Document> {
        self.master_collection("users")
    }

    /// Invitations.
    pub(crate) fn invitations(&self) -> Collection<Document> {
        self.master_collection("invitations")
    }

    /// Idempotency records.
    pub(crate) fn idempotency(&self) -> Collection<Document> {
        self.master_collection("idempotency")
    }

    /// Audit events.
    pub(crate) fn audit_events(&self) -> Collection<Document> {
        self.master_collection("audit_events")
    }

    /// How long events and their deliveries are kept.
    pub fn events_retention(&self) -> std::time::Duration {
        self.events_retention
    }

    /// How long audit events are kept.
    pub fn audit_retention(&self) -> std::time::Duration {
        self.audit_retention
    }

    /// (v3) How long a deleted organization can be restored (zero: purged at once).
    pub fn delete_grace(&self) -> std::time::Duration {
        self.delete_grace
    }

    /// (v3) Deleted organizations, kept for their grace period (see [`trash`]).
    pub(crate) fn deleted_organizations(&self) -> Collection<Document> {
        self.master_collection("deleted_organizations")
    }

    /// API keys (hashed).
    pub(crate) fn api_keys(&self) -> Collection<Document> {
        self.master_collection("api_keys")
    }

    /// Events of the organizations' streams.
    pub(crate) fn events(&self) -> Collection<Document> {
        self.master_collection("events")
    }

    /// Each organization's stream of events: its sequences and who may add to it.
    pub(crate) fn event_streams(&self) -> Collection<Document> {
        self.master_collection("event_streams")
    }

    /// Webhook endpoints.
    pub(crate) fn webhooks(&self) -> Collection<Document> {
        self.master_collection("webhooks")
    }

    /// Webhook deliveries and their attempts.
    pub(crate) fn deliveries(&self) -> Collection<Document> {
        self.master_collection("webhook_deliveries")
    }

    /// Messages waiting for the dispatcher.
    pub(crate) fn mail_outbox(&self) -> Collection<Document> {
        self.master_collection("mail_outbox")
    }

    /// Password reset and verification tokens (hashed).
    pub(crate) fn account_tokens(&self) -> Collection<Document> {
        self.master_collection("account_tokens")
    }

    /// Failed-login counters.
    pub(crate) fn login_attempts(&self) -> Collection<Document> {
        self.master_collection("login_attempts")
    }

    /// A database by name.
    pub(crate) fn database(&self, name: &str) -> Database {
        self.client.database(name)
    }

    /// A collection of a database by name.
    pub(crate) fn collection(&self, database: &str, name: &str) -> Collection<Document> {
        self.client.database(database).collection(name)
    }

    /// The raw driver handles of the master and tenant databases, for tests that
    /// plant or inspect documents directly.
    #[cfg(feature = "test-hooks")]
    pub fn databases(&self) -> (&Database, &Database) {
        (&self.master, &self.tenants)
    }

    /// Where a new tenant collection goes.
    pub fn placement_for(&self, collection: &str) -> Placement {
        Placement {
            database: self.tenants.name().to_owned(),
            collection: collection.to_owned(),
        }
    }

    /// Answers whether the server is reachable.
    pub async fn ping(&self) -> Result<(), mongodb::error::Error> {
        self.master
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
    }
}
