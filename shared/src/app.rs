//! The state every handler shares: configuration and the MongoDB client, built once
//! per cold start.

use crate::config::{Config, ConfigError};
use crate::store::Store;

/// Configuration plus store.
pub struct App {
    /// Settings.
    pub config: Config,
    /// MongoDB access.
    pub store: Store,
}

impl App {
    /// Reads the environment (and AWS secrets) and builds the client.
    pub async fn init() -> Result<Self, ConfigError> {
        Self::with_config(Config::load().await?).await
    }

    /// Builds the client for given settings.
    pub async fn with_config(config: Config) -> Result<Self, ConfigError> {
        let store = Store::connect(&config).await?;
        Ok(Self { config, store })
    }
}
