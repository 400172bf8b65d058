//! What every handler shares: configuration, the clock, the state and the request log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::application::Application;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::faults::{FaultState, Faults};
use crate::record::RequestLog;
use crate::state::Store;

/// Settings fixed when the emulator is built.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The lifetime of an access token.
    pub(crate) token_lifetime: Duration,
    /// The largest `page_size` a list operation accepts.
    pub(crate) page_size_limit: u32,
    /// The largest request body accepted, in bytes.
    pub(crate) body_limit: usize,
}

/// One emulated Kinde business.
#[derive(Debug)]
pub(crate) struct Context {
    /// The base URL, without a trailing slash: the token issuer.
    pub(crate) base_url: String,
    /// The clock for token times and timestamps.
    pub(crate) clock: Clock,
    /// The fixed settings.
    pub(crate) settings: Settings,
    /// The known applications.
    pub(crate) applications: Vec<Application>,
    /// The stateful resources.
    store: Mutex<Store>,
    /// Counters and the request log.
    log: Mutex<RequestLog>,
    /// The faults in force.
    faults: Mutex<FaultState>,
    /// Requests per application in the current one-second window: `(window, count)`.
    windows: Mutex<HashMap<String, (u64, u32)>>,
    /// Management API requests in flight.
    in_flight: AtomicUsize,
}

impl Context {
    /// A business at `base_url` with fresh state.
    pub(crate) fn new(
        base_url: String,
        settings: Settings,
        applications: Vec<Application>,
        faults: Faults,
        clock: Clock,
    ) -> Self {
        let store = Store::new(&clock);
        Self {
            base_url,
            clock,
            settings,
            applications,
            store: Mutex::new(store),
            log: Mutex::new(RequestLog::default()),
            faults: Mutex::new(FaultState::new(faults)),
            windows: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The Management API audience, `<base URL>/api`.
    pub(crate) fn management_audience(&self) -> String {
        format!("{}/api", self.base_url)
    }

    /// The application with this client id.
    pub(crate) fn application(&self, client_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|app| app.client_id() == client_id)
    }

    /// The state, locked. Never held across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Clears the state, the counters, the log and the faults.
    pub(crate) fn reset(&self) {
        *self.store() = Store::new(&self.clock);
        *self.log() = RequestLog::default();
        *self.faults() = FaultState::new(Faults::default());
        lock(&self.windows).clear();
    }

    /// The faults in force, locked. Never held across an `.await`.
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    /// Admits a Management API request from `client_id` under the rate limit.
    ///
    /// # Errors
    ///
    /// Kinde's 429 with `RateLimit-Reset` when the application used up this second's requests.
    pub(crate) fn admit(&self, client_id: &str) -> Result<(), ApiError> {
        let Some(limit) = self.faults().faults().rate_limit_per_second else {
            return Ok(());
        };
        let window = self.clock.now().as_secs();
        let mut windows = lock(&self.windows);
        let entry = windows.entry(client_id.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return Err(ApiError::too_many_requests(1));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Counts a Management API request in flight under the concurrency limit.
    ///
    /// # Errors
    ///
    /// Kinde's 429 with `RateLimit-Reset` when the limit is reached.
    pub(crate) fn enter(&self) -> Result<InFlight<'_>, ApiError> {
        let limit = self.faults().faults().concurrency_limit;
        let previous = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(&self.in_flight);
        if limit.is_some_and(|limit| previous >= limit as usize) {
            return Err(ApiError::too_many_requests(1));
        }
        Ok(guard)
    }

    /// The request log, locked. Never held across an `.await`.
    pub(crate) fn log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.log)
    }
}

/// One Management API request in flight; counted until dropped.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Locks a mutex, taking the data even if a panic poisoned it: every update here is one
/// assignment, so the data is never half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
