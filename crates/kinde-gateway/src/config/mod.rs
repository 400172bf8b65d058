//! The gateway's configuration: a TOML file, overridden by `KINDE_GATEWAY_*` environment
//! variables, validated at start with errors that name the key.
//!
//! Secrets are never read from the TOML: a profile's client secret comes from the environment
//! variable named by `client_secret_env` or the file named by `client_secret_file`, and callers'
//! API keys are stored only as SHA-256 hashes.
//!
//! ```
//! use kinde_gateway::config::Config;
//!
//! let toml = r#"
//! listen = "127.0.0.1:50051"
//! audit_log = "stdout"
//!
//! [kinde]
//! base_url = "https://mybusiness.kinde.com"
//!
//! [profiles.billing-sync]
//! client_id = "0123456789abcdef0123456789abcdef"
//! client_secret_env = "BILLING_SYNC_SECRET"
//! scopes = ["read:users", "read:organizations"]
//!
//! [callers.billing]
//! api_key_sha256 = ["b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"]
//! profile = "billing-sync"
//! allow = ["kinde.management.v1.UsersService/*"]
//! "#;
//! let env = [("KINDE_GATEWAY_LISTEN", "0.0.0.0:8443")];
//! let config = Config::from_toml(toml, env.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
//! assert_eq!(config.listen.port(), 8443);
//! # Ok::<(), kinde_gateway::config::ConfigError>(())
//! ```
//!
//! # Environment overrides
//!
//! `KINDE_GATEWAY_<KEY>` sets a top-level key (`KINDE_GATEWAY_LISTEN`); `__` separates the
//! levels of a nested key (`KINDE_GATEWAY_KINDE__BASE_URL`,
//! `KINDE_GATEWAY_PROFILES__BILLING_SYNC__CLIENT_ID`). Names match case-insensitively, with `_`
//! matching `-`. A value replaces a string as a string; lists are written as TOML
//! (`["a", "b"]`).

mod build;
mod env;
mod error;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use build::{ScopeGap, scope_gaps};
pub use error::ConfigError;

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "KINDE_GATEWAY_";

/// The address the gateway listens on unless configured: loopback only, so a gateway started
/// without thought is not reachable from the network in plaintext.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// The whole configuration. See the [module docs](self).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The address to listen on (default [`DEFAULT_LISTEN`]).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `stdout` or a file path for the audit log (default `stdout`).
    #[serde(default = "default_audit_log")]
    pub audit_log: String,
    /// The Kinde business most profiles call.
    pub kinde: KindeConfig,
    /// Credential profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Callers by name.
    #[serde(default)]
    pub callers: BTreeMap<String, CallerConfig>,
    /// TLS; plaintext when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Connection settings.
    #[serde(default)]
    pub server: ServerConfig,
}

/// `[kinde]`: the default Kinde business.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindeConfig {
    /// `https://<subdomain>.kinde.com`; the token URL (`/oauth2/token`) and audience (`/api`)
    /// derive from it unless a profile gives them.
    pub base_url: String,
}

/// `[profiles.NAME]`: one Kinde M2M application.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The application's client id.
    pub client_id: String,
    /// The environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// A file holding the client secret (surrounding whitespace is trimmed).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Only here to be refused with a clear message: secrets never come from the TOML.
    #[serde(default)]
    client_secret: Option<toml::Value>,
    /// The scopes to ask for.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Another Kinde business for this profile (its own upstream: limits, breaker, budget).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The token audience, if not `<base_url>/api`.
    #[serde(default)]
    pub audience: Option<String>,
}

/// `[callers.NAME]`: a service allowed to call the gateway.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// SHA-256 hashes (hex) of its API keys; several while a key rotates.
    #[serde(default)]
    pub api_key_sha256: Vec<String>,
    /// Client certificate subjects (full DN or common name) mapped to this caller.
    #[serde(default)]
    pub client_cert_subject: Vec<String>,
    /// The credential profile its calls use.
    pub profile: String,
    /// Allowed RPCs: `package.Service/Method`, `package.Service/*` or `*`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// At most this many calls in flight for this caller; none when absent.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
}

/// `[tls]`: serve TLS, and mutual TLS when a client CA is given.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA certificates that sign client certificates; client certificates are then
    /// requested and verified (optional for callers that use API keys).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// `[server]`: connection management.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds between HTTP/2 keepalive pings (default 30): dead peers are noticed, and idle
    /// connections through NATs and load balancers stay open.
    #[serde(default = "default_keepalive_interval")]
    pub keepalive_interval_secs: u64,
    /// Seconds to wait for a keepalive ack before closing (default 10).
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_secs: u64,
    /// Seconds a connection may live before the server asks the client to reconnect (default
    /// 300), so long-lived clients spread over replicas behind a load balancer.
    #[serde(default = "default_max_connection_age")]
    pub max_connection_age_secs: u64,
    /// Seconds in-flight calls get to finish on shutdown (default 10). With OTLP export on,
    /// flushing the last spans and metrics takes at most
    /// [`SHUTDOWN_TIMEOUT`](crate::telemetry::SHUTDOWN_TIMEOUT) (2 s) more, so the process exits
    /// within `drain_timeout_secs` + 2 s of SIGTERM.
    #[serde(default = "default_drain")]
    pub drain_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            keepalive_interval_secs: default_keepalive_interval(),
            keepalive_timeout_secs: default_keepalive_timeout(),
            max_connection_age_secs: default_max_connection_age(),
            drain_timeout_secs: default_drain(),
        }
    }
}

impl ServerConfig {
    /// The keepalive interval.
    pub fn keepalive_interval(&self) -> Duration {
        Duration::from_secs(self.keepalive_interval_secs)
    }

    /// The keepalive timeout.
    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs)
    }

    /// The maximum connection age.
    pub fn max_connection_age(&self) -> Duration {
        Duration::from_secs(self.max_connection_age_secs)
    }

    /// The drain bound on shutdown.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().expect("a valid address")
}

fn default_audit_log() -> String {
    "stdout".to_owned()
}

fn default_keepalive_interval() -> u64 {
    30
}

fn default_keepalive_timeout() -> u64 {
    10
}

fn default_max_connection_age() -> u64 {
    300
}

fn default_drain() -> u64 {
    10
}

impl Config {
    /// Reads the file at `path`, applies overrides from the process environment and validates.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key: unreadable file, invalid TOML, an unknown key, an inline
    /// secret, a missing secret variable or file, an invalid hash or allow-list entry, a caller
    /// naming a missing profile.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("(file)", format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_toml(&text, std::env::vars())
    }

    /// Parses `text`, applies `KINDE_GATEWAY_*` overrides from `env` and validates the
    /// structure: known keys, no inline secret, valid hashes and allow-list entries, callers
    /// naming existing profiles. Secrets are resolved later, by [`Config::gateway`].
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::new("(file)", e.to_string()))?;
        env::apply_overrides(&mut table, env)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::new("(config)", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}
