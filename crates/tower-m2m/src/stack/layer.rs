use std::time::Duration;

use tower::Layer;
use tower::limit::ConcurrencyLimit;

use super::Upstream;
use crate::breaker::CircuitBreaker;
use crate::correlation::Correlation;
use crate::ratelimit::RateLimit;
use crate::retry::{Retry, RetryPolicy};
use crate::timeout::{AttemptTimeout, OverallTimeout};
use crate::trace::{AttemptTrace, CallTrace};

/// The whole stack as one tower [`Layer`], from [`StackBuilder::layer`](super::StackBuilder::layer):
/// for a `ServiceBuilder`, or to keep the composed service unboxed.
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tower_m2m::stack::{M2mStack, Upstream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let transport = service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// });
/// let client = ServiceBuilder::new()
///     .layer(M2mStack::builder(Upstream::new("kinde")).layer())
///     .service(transport);
///
/// let request = http::Request::get("https://example.kinde.com/api/v1/users")
///     .body(String::new())
///     .unwrap();
/// assert_eq!(client.oneshot(request).await.unwrap().status(), 200);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct M2mLayer<A> {
    pub(super) upstream: Upstream,
    pub(super) policy: RetryPolicy,
    pub(super) overall_timeout: Option<Duration>,
    pub(super) attempt_timeout: Duration,
    pub(super) auth: A,
}

/// The service [`M2mLayer`] builds over a transport `T` with the auth layer `A`, outermost first.
pub type M2mStackService<A, T> = Correlation<
    CallTrace<
        OverallTimeout<
            Retry<
                AttemptTrace<
                    CircuitBreaker<
                        ConcurrencyLimit<RateLimit<<A as Layer<AttemptTimeout<T>>>::Service>>,
                    >,
                >,
            >,
        >,
    >,
>;

impl<A, T> Layer<T> for M2mLayer<A>
where
    A: Layer<AttemptTimeout<T>>,
{
    type Service = M2mStackService<A, T>;

    fn layer(&self, transport: T) -> Self::Service {
        let attempt = AttemptTimeout::new(transport, self.attempt_timeout);
        let limited = ConcurrencyLimit::with_semaphore(
            RateLimit::new(self.auth.layer(attempt), self.upstream.limiter().clone()),
            self.upstream.in_flight(),
        );
        let guarded = CircuitBreaker::new(limited, self.upstream.breaker().clone());
        let retried = Retry::new(AttemptTrace::new(guarded), self.policy.clone());

        Correlation::new(CallTrace::new(OverallTimeout::new(
            retried,
            self.overall_timeout,
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{Request, Response};
    use tower::Layer;
    use tower::layer::util::Identity;

    use super::super::{M2mService, M2mStack, Upstream};
    use crate::ReplayBody;
    use crate::token::{ClientCredentials, TokenSource};

    fn assert_send_sync_clone<T: Send + Sync + Clone>(_: &T) {}

    #[tokio::test]
    async fn without_auth_the_stack_is_send_sync_and_clone() {
        let transport = tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        let service = M2mStack::builder(Upstream::new("kinde"))
            .auth(Identity::new())
            .layer()
            .layer(transport);
        assert_send_sync_clone(&service);
    }

    #[tokio::test]
    async fn with_the_token_layer_the_stack_is_send_sync_and_clone() {
        let transport = tower::service_fn(|_: Request<ReplayBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        let endpoint = tower::service_fn(|_: Request<ReplayBody>| async {
            Ok::<_, Infallible>(Response::new(String::from(r#"{"access_token":"t"}"#)))
        });
        let credentials = ClientCredentials::builder("https://auth.test/token", "id", "secret")
            .build()
            .unwrap();
        let builder = M2mStack::builder(Upstream::new("kinde"))
            .token_source(TokenSource::new(credentials, endpoint));

        let unboxed = builder.clone().layer().layer(transport);
        assert_send_sync_clone(&unboxed);
        let boxed: M2mService<ReplayBody, String> = builder.service(transport);
        assert_send_sync_clone(&boxed);
    }
}
