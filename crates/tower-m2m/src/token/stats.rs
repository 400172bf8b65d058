//! Counters of token fetches by outcome.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many token requests ended in each outcome, since the token source was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchCounts {
    /// Requests that produced a token.
    pub succeeded: u64,
    /// Requests that failed transiently (timeout, transport, 5xx, 429, unusable response).
    pub failed: u64,
    /// Requests whose credentials were rejected.
    pub rejected: u64,
}

impl FetchCounts {
    /// All requests made to the token endpoint.
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.rejected
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    succeeded: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

impl Stats {
    pub(crate) fn record_success(&self) {
        self.succeeded.fetch_add(1, Ordering::Relaxed);
        crate::metrics::token_fetch("refreshed");
    }

    pub(crate) fn record_failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        crate::metrics::token_fetch("failed");
    }

    pub(crate) fn record_rejection(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        crate::metrics::token_fetch("rejected");
    }

    pub(crate) fn snapshot(&self) -> FetchCounts {
        FetchCounts {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}
