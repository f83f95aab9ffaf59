//! The state every handler shares: configuration and the MongoDB client, built once
//! per cold start.

use crate::config::{Config, ConfigError};
use crate::email::Mailer;
use crate::store::Store;

/// Configuration plus store.
pub struct App {
    /// Settings.
    pub config: Config,
    /// MongoDB access.
    pub store: Store,
    /// Email (sent by the dispatcher).
    pub mailer: Mailer,
}

impl App {
    /// Reads the environment (and AWS secrets), builds the client and checks that
    /// the database has the indexes the service relies on (see [`crate::jobs::migrate`]).
    pub async fn init() -> Result<Self, ConfigError> {
        let app = Self::with_config(Config::load().await?).await?;
        crate::jobs::migrate::check(&app.store).await?;
        Ok(app)
    }

    /// Builds the client for given settings.
    pub async fn with_config(config: Config) -> Result<Self, ConfigError> {
        let store = Store::connect(&config).await?;
        let mailer = Mailer::new(config.email.clone());
        Ok(Self {
            config,
            store,
            mailer,
        })
    }
}
