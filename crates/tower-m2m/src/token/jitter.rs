//! Where the token source's randomness comes from.

/// A source of random fractions in `[0, 1]`, used to spread refresh points and backoff delays.
///
/// Spreading matters when many processes start together (a deployment): without jitter they
/// would all refresh at the same instant, and all retry a failing endpoint in lockstep.
/// [`RandomJitter`] is the default; tests inject a closure returning a fixed value, and `()`
/// means no jitter. Values outside `[0, 1]` are clamped.
pub trait Jitter: Send + Sync + 'static {
    /// The next fraction in `[0, 1]`.
    fn fraction(&self) -> f64;
}

impl<F> Jitter for F
where
    F: Fn() -> f64 + Send + Sync + 'static,
{
    fn fraction(&self) -> f64 {
        self()
    }
}

/// No jitter: always `0`.
impl Jitter for () {
    fn fraction(&self) -> f64 {
        0.0
    }
}

/// Uniform fractions from the thread-local generator of `rand`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn fraction(&self) -> f64 {
        rand::random::<f64>()
    }
}

/// A fraction from `jitter`, clamped into `[0, 1]` (NaN becomes 0).
pub(crate) fn sample(jitter: &dyn Jitter) -> f64 {
    let fraction = jitter.fraction();
    if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    }
}
