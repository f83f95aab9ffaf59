//! MongoDB access: one client per cold start, the registry and the tenant collections.

mod records;

pub use records::{OrgDoc, Pending, PendingOp, Placement, millis_of};

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mongodb::bson::{Document, doc};
use mongodb::error::{Error, ErrorKind, WriteFailure};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use crate::config::{Config, ConfigError};

/// Server error codes this crate reacts to.
pub mod codes {
    /// A unique index refused a write.
    pub const DUPLICATE_KEY: i32 = 11000;
    /// The collection or database does not exist.
    pub const NAMESPACE_NOT_FOUND: i32 = 26;
    /// The collection exists already.
    pub const NAMESPACE_EXISTS: i32 = 48;
    /// The server does not know the command.
    pub const COMMAND_NOT_FOUND: i32 = 59;
}

/// The MongoDB client and the databases of the service.
pub struct Store {
    client: Client,
    master: Database,
    tenants: Database,
    indexes: OnceCell<()>,
    round_trips: Arc<AtomicU64>,
    failpoints: Mutex<HashSet<&'static str>>,
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
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&round_trips);
        options.command_event_handler = Some(EventHandler::callback(move |ev| {
            if matches!(ev, CommandEvent::Started(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
        let client = Client::with_options(options).map_err(invalid)?;
        Ok(Self {
            master: client.database(&config.master_db),
            tenants: client.database(&config.tenant_db),
            client,
            indexes: OnceCell::new(),
            round_trips,
            failpoints: Mutex::default(),
        })
    }

    /// Commands sent to the server by this client so far (for round-trip figures).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Makes the step named `name` of a multi-step operation fail, as a dropped
    /// connection would (fault-injection tests only; nothing arms it otherwise).
    pub fn arm_failpoint(&self, name: &'static str) {
        if let Ok(mut set) = self.failpoints.lock() {
            set.insert(name);
        }
    }

    /// Disarms every failpoint.
    pub fn clear_failpoints(&self) {
        if let Ok(mut set) = self.failpoints.lock() {
            set.clear();
        }
    }

    /// Fails if the failpoint `name` is armed.
    pub fn failpoint(&self, name: &'static str) -> Result<(), crate::error::ApiError> {
        let armed = self
            .failpoints
            .lock()
            .map(|s| s.contains(name))
            .unwrap_or(false);
        if armed {
            Err(crate::error::ApiError::Unavailable(format!(
                "failpoint {name}"
            )))
        } else {
            Ok(())
        }
    }

    /// Renames a collection within one database (server-side `renameCollection`).
    pub async fn rename_collection(
        &self,
        database: &str,
        from: &str,
        to: &str,
    ) -> Result<(), Error> {
        self.client
            .database("admin")
            .run_command(doc! {
                "renameCollection": format!("{database}.{from}"),
                "to": format!("{database}.{to}"),
                "dropTarget": false,
            })
            .await
            .map(|_| ())
    }

    /// Whether a collection exists.
    pub async fn collection_exists(&self, database: &str, name: &str) -> Result<bool, Error> {
        let names = self
            .client
            .database(database)
            .list_collection_names()
            .filter(doc! { "name": name })
            .await?;
        Ok(names.iter().any(|n| n == name))
    }

    /// The registry of organizations (and their admins).
    pub fn organizations(&self) -> Collection<OrgDoc> {
        self.master.collection("organizations")
    }

    /// Failed-login counters (TTL-indexed).
    pub fn login_attempts(&self) -> Collection<Document> {
        self.master.collection("login_attempts")
    }

    /// A tenant's data collection.
    pub fn tenant(&self, placement: &Placement) -> Collection<Document> {
        self.client
            .database(&placement.database)
            .collection(&placement.collection)
    }

    /// A database by name.
    pub fn database(&self, name: &str) -> Database {
        self.client.database(name)
    }

    /// The database new tenant collections are placed in.
    pub fn tenant_db(&self) -> &Database {
        &self.tenants
    }

    /// Where a new tenant collection goes.
    pub fn placement_for(&self, collection: &str) -> Placement {
        Placement {
            database: self.tenants.name().to_owned(),
            collection: collection.to_owned(),
        }
    }

    /// Answers whether the server is reachable.
    pub async fn ping(&self) -> Result<(), Error> {
        self.master
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
    }

    /// Creates the unique and TTL indexes once per process (idempotent on the server).
    pub async fn ensure_indexes(&self) -> Result<(), Error> {
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

/// The server's error code, if the error carries one.
pub fn error_code(err: &Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|w| w.first().map(|w| w.code)),
        _ => None,
    }
}

/// True when a unique index refused the write.
pub fn is_duplicate(err: &Error) -> bool {
    error_code(err) == Some(codes::DUPLICATE_KEY)
}
