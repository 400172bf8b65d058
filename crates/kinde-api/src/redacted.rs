//! [`Redacted`]: a field value that never shows in `Debug` output.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that carries a secret (a client secret, an API key, a secret environment variable).
///
/// It serializes and deserializes as the inner value, so it travels to and from Kinde unchanged,
/// but its `Debug` output is a fixed marker. Reading the value takes an explicit call to
/// [`expose`](Self::expose), which makes every use easy to find in review.
///
/// ```
/// use kinde_api::Redacted;
///
/// let secret = Redacted::new("s3cr3t".to_owned());
/// assert_eq!(format!("{secret:?}"), "[redacted]");
/// assert_eq!(secret.expose(), "s3cr3t");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a secret value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value. Do not log or display it.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value. Do not log or display it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: Serialize> Serialize for Redacted<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Redacted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}
