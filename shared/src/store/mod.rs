//! MongoDB access: one client per cold start, the registry and the tenant collections.
//!
//! Every filter and update the service sends lives in this module and its children,
//! as named operations: [`registry`] (organizations), [`tenants`] (tenant collections
//! and their items) and [`attempts`] (the login throttle's counters).

pub mod attempts;
mod errors;
mod records;
pub mod registry;
pub mod tenants;

pub use errors::{codes, error_code, is_duplicate};
pub use records::{OrgDoc, Pending, PendingOp, Placement, millis_of};

use mongodb::bson::{Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

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

/// The MongoDB client and the databases of the service.
pub struct Store {
    client: Client,
    master: Database,
    tenants: Database,
    indexes: OnceCell<()>,
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
            client,
            indexes: OnceCell::new(),
            #[cfg(feature = "test-hooks")]
            hooks,
        })
    }

    /// Fault injection and command counting (tests and benchmarks only).
    #[cfg(feature = "test-hooks")]
    pub fn hooks(&self) -> &crate::hooks::Hooks {
        &self.hooks
    }

    /// The registry of organizations.
    pub(crate) fn organizations(&self) -> Collection<Document> {
        self.master.collection("organizations")
    }

    /// Failed-login counters.
    pub(crate) fn login_attempts(&self) -> Collection<Document> {
        self.master.collection("login_attempts")
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

    /// Creates the unique and TTL indexes once per process (idempotent on the server).
    pub async fn ensure_indexes(&self) -> Result<(), mongodb::error::Error> {
        self.indexes
            .get_or_try_init(|| async {
                let unique = |field: &str| {
                    IndexModel::builder()
                        .keys(doc! { field: 1 })
                        .options(IndexOptions::builder().unique(true).build())
                        .build()
                };
                self.organizations()
                    .create_indexes([unique("name"), unique("collection_name"), unique("email")])
                    .await?;
                let ttl = IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .expire_after(std::time::Duration::ZERO)
                            .build(),
                    )
                    .build();
                self.login_attempts().create_index(ttl).await?;
                Ok(())
            })
            .await
            .copied()
    }
}
