use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::config::BreakerConfig;
use super::permit::Permit;
use super::state::Outcome;
use super::window::Window;
use super::{CircuitOpen, CircuitState};

/// What a caller rejected while half-open is told to wait: the probes usually settle within
/// about a second.
const HALF_OPEN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One upstream's circuit breaker, shared by cloning. See the [module docs](super).
#[derive(Clone)]
pub struct Breaker {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    config: BreakerConfig,
    state: Mutex<State>,
    published: watch::Sender<CircuitState>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Bumped on every transition, so late outcomes of an earlier phase are ignored.
    epoch: u64,
    window: Window,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

impl Breaker {
    pub(super) fn new(name: String, config: BreakerConfig) -> Self {
        let state = State {
            phase: Phase::Closed,
            epoch: 0,
            window: Window::new(config.window),
        };
        let (published, _) = watch::channel(CircuitState::Closed);

        Self {
            shared: Arc::new(Shared {
                name,
                config,
                state: Mutex::new(state),
                published,
            }),
        }
    }

    /// The breaker's current state.
    pub fn state(&self) -> CircuitState {
        *self.shared.published.borrow()
    }

    /// A receiver that sees every state change, for health checks and dashboards.
    ///
    /// An open circuit turns half-open when the next call arrives after the open period, not on
    /// a timer, so a quiet upstream may stay reported as open a little longer than the period.
    pub fn subscribe(&self) -> watch::Receiver<CircuitState> {
        self.shared.published.subscribe()
    }

    /// The name given at construction (the upstream's).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Admits a call now, as a permit to report its outcome on, or rejects it.
    pub(super) fn admit(&self) -> Result<Permit, CircuitOpen> {
        let mut state = self.lock();

        if let Phase::Open { until } = state.phase {
            let now = Instant::now();
            if now < until {
                crate::metrics::breaker_rejected();
                return Err(CircuitOpen::new(until - now));
            }
            self.transition(
                &mut state,
                Phase::HalfOpen {
                    in_flight: 0,
                    succeeded: 0,
                },
            );
        }

        let epoch = state.epoch;
        match &mut state.phase {
            Phase::Closed => Ok(Permit::new(self.clone(), epoch, false)),
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } if *in_flight + *succeeded < self.shared.config.half_open_probes => {
                *in_flight += 1;
                tracing::trace!(breaker.name = %self.shared.name, "probe admitted");
                Ok(Permit::new(self.clone(), epoch, true))
            }
            _ => {
                crate::metrics::breaker_rejected();
                Err(CircuitOpen::new(HALF_OPEN_RETRY_AFTER))
            }
        }
    }

    /// Records the outcome of a call admitted in `epoch`.
    pub(super) fn record(&self, epoch: u64, probe: bool, outcome: Outcome, elapsed: Duration) {
        let now = Instant::now();
        let config = &self.shared.config;
        let slow = elapsed >= config.slow_call_duration;
        let mut state = self.lock();

        if state.epoch != epoch {
            return;
        }

        match state.phase {
            Phase::Closed if outcome != Outcome::Ignored => {
                state.window.record(now, outcome == Outcome::Failure, slow);
                if self.should_open(&state, now) {
                    let until = now + config.open_duration;
                    self.transition(&mut state, Phase::Open { until });
                }
            }
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } if probe => {
                let in_flight = in_flight.saturating_sub(1);
                let next = match outcome {
                    Outcome::Failure => Phase::Open {
                        until: now + config.open_duration,
                    },
                    Outcome::Success if slow => Phase::Open {
                        until: now + config.open_duration,
                    },
                    Outcome::Success if succeeded + 1 >= config.half_open_probes => Phase::Closed,
                    Outcome::Success => Phase::HalfOpen {
                        in_flight,
                        succeeded: succeeded + 1,
                    },
                    Outcome::Ignored => Phase::HalfOpen {
                        in_flight,
                        succeeded,
                    },
                };
                match next {
                    Phase::HalfOpen { .. } => state.phase = next,
                    _ => self.transition(&mut state, next),
                }
            }
            _ => {}
        }
    }

    /// Gives back a probe's permit whose call never finished (dropped, cancelled).
    pub(super) fn release(&self, epoch: u64) {
        let mut state = self.lock();
        if state.epoch != epoch {
            return;
        }

        if let Phase::HalfOpen { in_flight, .. } = &mut state.phase {
            *in_flight = in_flight.saturating_sub(1);
            tracing::trace!(breaker.name = %self.shared.name, "probe released");
        }
    }

    /// Probes in flight while half-open, for tests of the reservation invariant.
    #[cfg(test)]
    pub(super) fn probes_in_flight(&self) -> Option<u32> {
        match self.lock().phase {
            Phase::HalfOpen { in_flight, .. } => Some(in_flight),
            _ => None,
        }
    }

    fn should_open(&self, state: &State, now: Instant) -> bool {
        let config = &self.shared.config;
        let totals = state.window.totals(now);
        if totals.calls < config.minimum_calls {
            return false;
        }

        let calls = f64::from(totals.calls);
        f64::from(totals.failures) / calls >= config.failure_rate
            || f64::from(totals.slow) / calls >= config.slow_call_rate
    }

    fn transition(&self, state: &mut State, phase: Phase) {
        state.phase = phase;
        state.epoch += 1;
        state.window.reset();

        let published = match phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        };
        tracing::info!(
            breaker.name = %self.shared.name,
            breaker.state = ?published,
            "circuit breaker state changed"
        );
        crate::metrics::breaker_state(&self.shared.name, published.gauge());
        self.shared.published.send_replace(published);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent (every update is a
        // single assignment), so a poisoned lock is used as is.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .field("config", &self.shared.config)
            .finish()
    }
}
