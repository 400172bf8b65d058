//! Property tests of the breaker's state machine: half-open probes never exceed their bound,
//! and whatever happens to them, the breaker never sticks.

use std::time::Duration;

use proptest::prelude::*;

use super::permit::Permit;
use super::state::Outcome;
use super::{Breaker, BreakerConfig, CircuitState};

const PROBES: u32 = 3;
const OPEN: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
enum Step {
    Admit,
    Settle(usize, Outcome),
    Drop(usize),
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Ignored)
    ];
    prop_oneof![
        3 => Just(Step::Admit),
        3 => (0..8usize, outcome).prop_map(|(i, o)| Step::Settle(i, o)),
        1 => (0..8usize).prop_map(Step::Drop),
        1 => (0..7_000u64).prop_map(Step::Advance),
    ]
}

fn breaker() -> Breaker {
    BreakerConfig::default()
        .minimum_calls(4)
        .open_duration(OPEN)
        .half_open_probes(PROBES)
        .build("property")
        .unwrap()
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();

    runtime.block_on(async move {
        let breaker = breaker();
        let mut permits: Vec<Permit> = Vec::new();

        for step in steps {
            match step {
                Step::Admit => permits.extend(breaker.admit().ok()),
                Step::Settle(i, outcome) if i < permits.len() => {
                    permits.swap_remove(i).settle(outcome, Duration::ZERO);
                }
                Step::Drop(i) if i < permits.len() => drop(permits.swap_remove(i)),
                Step::Advance(ms) => tokio::time::advance(Duration::from_millis(ms)).await,
                _ => {}
            }

            let in_flight = breaker.probes_in_flight().unwrap_or(0);
            prop_assert!(in_flight <= PROBES, "{in_flight} probes in flight");
        }

        // Whatever became of the permits, once they are gone and the open period has passed,
        // a caller gets through.
        permits.clear();
        tokio::time::advance(OPEN + Duration::from_secs(1)).await;
        let admitted = breaker.admit();
        prop_assert!(admitted.is_ok(), "stuck in {:?}", breaker.state());
        prop_assert_ne!(breaker.state(), CircuitState::Open);
        Ok(())
    })
}

proptest! {
    #[test]
    fn probes_stay_bounded_and_the_breaker_never_sticks(steps in prop::collection::vec(step(), 0..200)) {
        run(steps)?;
    }
}
