/// The state of a circuit breaker, as published to subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls flow; outcomes are counted.
    Closed,
    /// Calls are rejected until the open period ends.
    Open,
    /// A bounded number of probes test the upstream; everything else is rejected.
    HalfOpen,
}

impl CircuitState {
    /// The metric value of this state: 0 closed, 1 half-open, 2 open.
    pub(super) fn gauge(self) -> u64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::HalfOpen => 1,
            CircuitState::Open => 2,
        }
    }
}

/// How one call ended, as the breaker counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The upstream answered (any status below 500).
    Success,
    /// The upstream failed: 5xx, timeout, connection error.
    Failure,
    /// Decided locally (rate limit, token, deadline): says nothing about the upstream.
    Ignored,
}
