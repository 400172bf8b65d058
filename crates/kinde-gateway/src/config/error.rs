use std::fmt;

/// A configuration the gateway refuses, naming the key at fault (`profiles.billing.client_id`)
/// and what is wrong with it. Fix the file or the `KINDE_GATEWAY_*` variable and start again.
#[derive(Debug)]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key at fault, as a dotted path; `(file)` or `(config)` when the TOML itself is
    /// unreadable.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}
