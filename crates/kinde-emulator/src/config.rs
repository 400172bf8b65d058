//! [`Config`]: an emulator's settings, applications and faults, from a TOML file.
//!
//! ```
//! use kinde_emulator::{Config, Emulator};
//!
//! let config = Config::from_toml(r#"
//!     token_lifetime_secs = 60
//!     page_size_limit = 100
//!
//!     [[applications]]
//!     client_id = "reader0000000000000000000000000001"
//!     client_secret = "reader-secret"
//!     scopes = ["read:users"]
//!
//!     [faults]
//!     seed = 7
//!     error_ratio = 0.05
//! "#)?;
//! let emulator = Emulator::builder().config(config).build_service();
//! # let _ = emulator;
//! # Ok::<(), kinde_emulator::ConfigError>(())
//! ```

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::application::Application;
use crate::faults::Faults;

/// What a config file sets. Every field is optional; absent ones keep the builder's defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The lifetime of issued tokens, in seconds.
    pub token_lifetime_secs: Option<u64>,
    /// The largest `page_size` accepted.
    pub page_size_limit: Option<u32>,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: Option<usize>,
    /// Whether the demo application exists (default `true`).
    pub demo_application: Option<bool>,
    /// More applications.
    pub applications: Vec<ApplicationConfig>,
    /// The faults and limits in force at start.
    pub faults: Option<Faults>,
}

/// One application in a config file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationConfig {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Whether it may ask for the Management API audience (default `true`).
    #[serde(default = "yes")]
    pub management_api: bool,
    /// Other audiences it may ask for.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The scopes it was granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Grants every scope instead of `scopes`.
    #[serde(default)]
    pub all_scopes: bool,
}

fn yes() -> bool {
    true
}

impl fmt::Debug for ApplicationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("management_api", &self.management_api)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .field("all_scopes", &self.all_scopes)
            .finish()
    }
}

impl ApplicationConfig {
    /// The application this entry describes.
    pub fn to_application(&self) -> Application {
        let application = Application::new(&self.client_id, &self.client_secret)
            .management_api(self.management_api);
        let application = self
            .audiences
            .iter()
            .fold(application, |application, audience| {
                application.audience(audience)
            });
        if self.all_scopes {
            application.all_scopes()
        } else {
            application.scopes(self.scopes.iter().cloned())
        }
    }
}

impl Config {
    /// Parses a config from TOML text.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for invalid TOML, an unknown field or invalid faults.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| ConfigError(error.to_string()))?;
        if let Some(faults) = &config.faults {
            faults.validate().map_err(ConfigError)?;
        }
        Ok(config)
    }

    /// Reads and parses a TOML config file.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file cannot be read, or as [`from_toml`](Self::from_toml).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
        Self::from_toml(&text)
    }
}

/// A config file that cannot be used. The message names the problem and, for TOML errors, where
/// it is; fix the file.
#[derive(Debug, Clone)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid emulator config: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}
