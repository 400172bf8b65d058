use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

/// Default share of traffic that retries may add: 20%, Envoy's default retry budget. An outage
/// then costs the upstream at most 1.2 times the normal request count.
pub const DEFAULT_RETRY_RATIO: f32 = 0.2;

/// Default retries always allowed per second, however little traffic there is: 1, so that a
/// quiet service still retries its occasional failure.
pub const DEFAULT_MIN_RETRIES_PER_SECOND: u32 = 1;

/// Default window over which requests earn retries: 10 s, tower's and Finagle's choice.
pub const DEFAULT_BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// A retry budget shared by every request to one upstream.
///
/// Attempt counts bound one call; only a budget bounds the whole service. Each original
/// request deposits, each retry withdraws, so retries add at most the configured ratio of
/// traffic plus a small floor, and a failing upstream sees no retry storm. Clones share the
/// budget. Built on tower's [`TpsBudget`], which runs on tokio's clock.
#[derive(Clone)]
pub struct RetryBudget {
    budget: Arc<TpsBudget>,
    ratio: f32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(
            DEFAULT_BUDGET_WINDOW,
            DEFAULT_MIN_RETRIES_PER_SECOND,
            DEFAULT_RETRY_RATIO,
        )
    }
}

impl RetryBudget {
    /// Retries may add `ratio` of the requests seen over `window`, plus `min_per_second`.
    ///
    /// # Panics
    ///
    /// If `window` is under 1 s or over 60 s, or `ratio` is outside 0 to 1000 (tower's limits).
    pub fn new(window: Duration, min_per_second: u32, ratio: f32) -> Self {
        Self {
            budget: Arc::new(TpsBudget::new(window, min_per_second, ratio)),
            ratio,
        }
    }

    /// The share of traffic retries may add.
    pub fn ratio(&self) -> f32 {
        self.ratio
    }

    pub(crate) fn deposit(&self) {
        self.budget.deposit();
    }

    pub(crate) fn withdraw(&self) -> bool {
        self.budget.withdraw()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .finish_non_exhaustive()
    }
}
