//! What every handler shares: configuration, the clock, the state and the request log.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::application::Application;
use crate::clock::Clock;
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
}

impl Context {
    /// A business at `base_url` with fresh state.
    pub(crate) fn new(
        base_url: String,
        settings: Settings,
        applications: Vec<Application>,
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
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears the state, the counters and the log.
    pub(crate) fn reset(&self) {
        *self.store() = Store::new(&self.clock);
        *self.log() = RequestLog::default();
    }

    /// The request log, locked. Never held across an `.await`.
    pub(crate) fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
