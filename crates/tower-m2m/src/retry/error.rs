use std::error::Error;
use std::fmt;

use crate::BoxError;

/// The last attempt failed and the upstream's retry budget refused another.
///
/// Many calls to this upstream are failing at once; more retries would only add load. The
/// [source](Error::source) is the last attempt's error. Back off, or fail the caller; the
/// gateway maps it to `RESOURCE_EXHAUSTED`.
#[derive(Debug)]
pub struct RetryBudgetExhausted {
    source: BoxError,
}

impl RetryBudgetExhausted {
    pub(crate) fn new(source: BoxError) -> Self {
        Self { source }
    }
}

impl fmt::Display for RetryBudgetExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry budget exhausted")
    }
}

impl Error for RetryBudgetExhausted {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}
