//! The Auth layer over an in-memory upstream, with an in-memory token endpoint, on paused time.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Answer, Endpoint, HOUR, source, token_body};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::token::{
    AuthLayer, CredentialsRejected, NoAuthReplay, ReplayHeldAbove, TokenRejected, TokenUnavailable,
};

/// An upstream API that records the `Authorization` header of every request and answers with
/// the status `respond` picks for it (after `delay`, if the request says so).
#[derive(Clone)]
struct Upstream {
    seen: Arc<Mutex<Vec<HeaderValue>>>,
    calls: Arc<AtomicUsize>,
}

impl Upstream {
    fn new() -> Self {
        Self {
            seen: Arc::default(),
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn tokens(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn service(
        &self,
        respond: fn(&str) -> StatusCode,
    ) -> impl Service<
        Request<ReplayBody>,
        Response = Response<String>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        let upstream = self.clone();
        service_fn(move |request: Request<ReplayBody>| {
            let upstream = upstream.clone();
            async move {
                upstream.calls.fetch_add(1, Ordering::SeqCst);
                let header = request.headers()[AUTHORIZATION].clone();
                upstream.seen.lock().unwrap().push(header.clone());
                if let Some(delay) = request.headers().get("x-delay-ms") {
                    let millis = delay.to_str().unwrap().parse().unwrap();
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                }
                let status = respond(header.to_str().unwrap());
                Ok::<_, Infallible>(
                    Response::builder()
                        .status(status)
                        .body(String::new())
                        .unwrap(),
                )
            }
        })
    }
}

/// Fetches the first token and lets a minute pass, as in a service that has been running:
/// upstream's rejections then concern a token past its invalidation grace.
async fn warm(source: &tower_m2m::token::TokenSource) {
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
}

fn get() -> Request<ReplayBody> {
    Request::get("https://api.test/users")
        .body(ReplayBody::empty())
        .unwrap()
}

/// 401 for the first token, 200 for any other.
fn reject_first_token(header: &str) -> StatusCode {
    if header == "Bearer token-1" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    }
}

#[tokio::test(start_paused = true)]
async fn every_request_carries_a_sensitive_bearer_header() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let mut client = AuthLayer::new(source(&endpoint)).layer(upstream.service(|_| StatusCode::OK));

    for _ in 0..3 {
        let response = client.ready().await.unwrap().call(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    assert_eq!(upstream.tokens(), ["Bearer token-1"; 3]);
    assert!(
        upstream
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(HeaderValue::is_sensitive)
    );
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_kept_token_is_not_sent_once_the_source_has_invalidated_it() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    let first = source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
    let mut client = AuthLayer::new(source.clone()).layer(upstream.service(|_| StatusCode::OK));
    client.ready().await.unwrap().call(get()).await.unwrap();

    // Another service sharing the source (here: the test) reports the token rejected.
    assert!(source.invalidate(&first));
    let mut clone = client.clone();
    client.ready().await.unwrap().call(get()).await.unwrap();
    clone.ready().await.unwrap().call(get()).await.unwrap();

    assert_eq!(
        upstream.tokens(),
        ["Bearer token-1", "Bearer token-2", "Bearer token-2"]
    );
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_kept_token_is_replaced_after_the_background_refresh() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let mut client = AuthLayer::new(source(&endpoint)).layer(upstream.service(|_| StatusCode::OK));
    client.ready().await.unwrap().call(get()).await.unwrap();

    // Past the refresh point (80% of the hour, no jitter): the request does not wait for the
    // refresh it starts, and the next one, once it is done, carries the new token.
    tokio::time::advance(HOUR.mul_f64(0.8) + Duration::from_secs(1)).await;
    endpoint.delay(Duration::from_secs(5));
    client.ready().await.unwrap().call(get()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.ready().await.unwrap().call(get()).await.unwrap();
    client.ready().await.unwrap().call(get()).await.unwrap();

    assert_eq!(
        upstream.tokens(),
        [
            "Bearer token-1",
            "Bearer token-1",
            "Bearer token-2",
            "Bearer token-2"
        ]
    );
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_401_replays_once_with_a_fresh_token() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let mut client = AuthLayer::new(source).layer(upstream.service(reject_first_token));

    let response = client.ready().await.unwrap().call(get()).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.tokens(), ["Bearer token-1", "Bearer token-2"]);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_persistent_401_is_replayed_only_once() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let mut client = AuthLayer::new(source).layer(upstream.service(|_| StatusCode::UNAUTHORIZED));

    let response = client.ready().await.unwrap().call(get()).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.calls(), 2);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_late_401_replays_with_the_current_token_without_another_fetch() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let client = AuthLayer::new(source).layer(upstream.service(reject_first_token));

    // Both requests carry token-1; the first is rejected at once, the second seven seconds
    // later, after the cache has moved on to token-2 and past token-2's invalidation grace, so
    // only the check of which token is current keeps token-2.
    let mut early = get();
    early
        .headers_mut()
        .insert("x-delay-ms", HeaderValue::from_static("10"));
    let mut late = get();
    late.headers_mut()
        .insert("x-delay-ms", HeaderValue::from_static("7000"));
    let (early, late) = tokio::join!(client.clone().oneshot(early), client.clone().oneshot(late));

    assert_eq!(early.unwrap().status(), StatusCode::OK);
    assert_eq!(late.unwrap().status(), StatusCode::OK);
    assert_eq!(endpoint.calls(), 2, "one fetch for the first 401 only");
    let mut tokens = upstream.tokens();
    tokens.sort();
    assert_eq!(
        tokens,
        [
            "Bearer token-1",
            "Bearer token-1",
            "Bearer token-2",
            "Bearer token-2"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_401s_for_the_current_token_share_one_fetch() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_millis(100));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let client = AuthLayer::new(source).layer(upstream.service(reject_first_token));

    // Twenty requests carry token-1, still current; upstream rejects them all 10 ms later.
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut request = get();
        request
            .headers_mut()
            .insert("x-delay-ms", HeaderValue::from_static("10"));
        callers.spawn(client.clone().oneshot(request));
    }
    for response in callers.join_all().await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }

    assert_eq!(endpoint.calls(), 2, "one fetch for twenty rejections");
    assert_eq!(upstream.calls(), 40, "each replayed once");
    let tokens = upstream.tokens();
    assert_eq!(tokens.iter().filter(|t| *t == "Bearer token-2").count(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_streaming_body_is_never_replayed() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let mut client = AuthLayer::new(source).layer(upstream.service(reject_first_token));

    let chunk = http_body_util::Full::new(Bytes::from_static(b"chunk"));
    let streaming = Request::post("https://api.test/upload")
        .body(ReplayBody::streaming(chunk))
        .unwrap();
    let response = client.ready().await.unwrap().call(streaming).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.calls(), 1);

    // The rejected token was still dropped: the next request gets a fresh one.
    let response = client.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.tokens(), ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test(start_paused = true)]
async fn a_request_can_opt_out_of_the_replay() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let mut client = AuthLayer::new(source(&endpoint)).layer(upstream.service(reject_first_token));

    let mut request = get();
    request.extensions_mut().insert(NoAuthReplay);
    let response = client.ready().await.unwrap().call(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn replay_can_be_disabled_for_the_layer() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let layer = AuthLayer::new(source(&endpoint)).replay(false);
    let mut client = layer.layer(upstream.service(reject_first_token));

    let response = client.ready().await.unwrap().call(get()).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.calls(), 1);
}

/// A replayable request marked as copied by a layer above.
fn held_above() -> Request<ReplayBody> {
    let mut request = get();
    request.extensions_mut().insert(ReplayHeldAbove);
    request
}

#[tokio::test(start_paused = true)]
async fn a_request_held_above_is_left_to_that_layer_to_replay() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;
    let mut client = AuthLayer::new(source).layer(upstream.service(reject_first_token));

    // Rejected: marked, not replayed here. Then the layer above's replay: a fresh token.
    for (status, marked) in [(StatusCode::UNAUTHORIZED, true), (StatusCode::OK, false)] {
        let response = client.ready().await.unwrap().call(held_above()).await;
        let response = response.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(
            response.extensions().get::<TokenRejected>().is_some(),
            marked
        );
    }
    assert_eq!(upstream.calls(), 2, "one send per call");
    assert_eq!(upstream.tokens(), ["Bearer token-1", "Bearer token-2"]);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_not_marked_for_a_replay_when_no_replay_is_wanted() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);
    warm(&source).await;
    let rejected = |layer: AuthLayer, request: Request<ReplayBody>| async move {
        let upstream = Upstream::new();
        let mut client = layer.layer(upstream.service(|_| StatusCode::UNAUTHORIZED));
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(upstream.calls(), 1);
        response.extensions().get::<TokenRejected>().is_some()
    };

    let mut opted_out = held_above();
    opted_out.extensions_mut().insert(NoAuthReplay);
    assert!(!rejected(AuthLayer::new(source.clone()), opted_out).await);
    let layer = AuthLayer::new(source.clone()).replay(false);
    assert!(!rejected(layer, held_above()).await);
    // A token issued a moment ago is within its invalidation grace: it is kept, not replaced.
    assert!(!rejected(AuthLayer::new(source.clone()), held_above()).await);
    assert_eq!(
        endpoint.calls(),
        2,
        "the first token and the one after the first rejection"
    );
}

#[tokio::test(start_paused = true)]
async fn a_403_counts_as_a_rejected_token_only_when_configured() {
    fn forbid_first_token(header: &str) -> StatusCode {
        if header == "Bearer token-1" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        }
    }
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let source = source(&endpoint);
    warm(&source).await;

    let mut default = AuthLayer::new(source.clone()).layer(upstream.service(forbid_first_token));
    let response = default.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let layer =
        AuthLayer::new(source).rejected_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
    let mut configured = layer.layer(upstream.service(forbid_first_token));
    let response = configured.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_fail_the_call_with_a_typed_error_not_poll_ready() {
    let endpoint = Endpoint::new(Answer::Status(400, r#"{"error":"invalid_scope"}"#.into()));
    let upstream = Upstream::new();
    let mut client = AuthLayer::new(source(&endpoint)).layer(upstream.service(|_| StatusCode::OK));

    let ready = client
        .ready()
        .await
        .expect("poll_ready never fails for a token error");
    let error = ready.call(get()).await.unwrap_err();

    let rejected = error
        .downcast_ref::<CredentialsRejected>()
        .expect("typed error");
    assert_eq!(rejected.code().as_str(), "invalid_scope");
    assert_eq!(
        upstream.calls(),
        0,
        "no request goes upstream without a token"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unavailable_token_endpoint_fails_the_call_with_token_unavailable() {
    let endpoint = Endpoint::new(Answer::Status(503, String::new()));
    let upstream = Upstream::new();
    let mut client = AuthLayer::new(source(&endpoint)).layer(upstream.service(|_| StatusCode::OK));

    let error = client.ready().await.unwrap().call(get()).await.unwrap_err();

    assert!(
        error.downcast_ref::<TokenUnavailable>().is_some(),
        "{error}"
    );
    assert_eq!(upstream.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn concurrent_cold_requests_through_the_layer_make_one_fetch() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_millis(50));
    let upstream = Upstream::new();
    let client: tower_m2m::token::Auth<_> =
        AuthLayer::new(source(&endpoint)).layer(upstream.service(|_| StatusCode::OK));

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..200 {
        requests.spawn(client.clone().oneshot(get()));
    }
    let responses = requests.join_all().await;

    assert!(
        responses
            .iter()
            .all(|r| r.as_ref().unwrap().status() == StatusCode::OK)
    );
    assert_eq!(endpoint.calls(), 1);
    assert_eq!(upstream.calls(), 200);
}

/// An upstream that is not ready until `ready_at`, then records the token it is sent.
#[derive(Clone)]
struct SlowToBeReady {
    ready_at: tokio::time::Instant,
    sleep: Option<Arc<Mutex<std::pin::Pin<Box<tokio::time::Sleep>>>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Service<Request<ReplayBody>> for SlowToBeReady {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        let ready_at = self.ready_at;
        let sleep = self.sleep.get_or_insert_with(|| {
            Arc::new(Mutex::new(Box::pin(tokio::time::sleep_until(ready_at))))
        });
        sleep.lock().unwrap().as_mut().poll(cx).map(Ok)
    }

    fn call(&mut self, request: Request<ReplayBody>) -> Self::Future {
        let header = request.headers()[AUTHORIZATION]
            .to_str()
            .unwrap()
            .to_owned();
        self.seen.lock().unwrap().push(header);
        std::future::ready(Ok(Response::new(String::new())))
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_that_expires_while_upstream_is_not_ready_is_not_sent() {
    let endpoint = Endpoint::new(token_body(100));
    let source = source(&endpoint);
    source.token().await.unwrap();
    let upstream = SlowToBeReady {
        // token-1 is sent until 90 s (100 s less the 10 s leeway, clamped to a quarter).
        ready_at: tokio::time::Instant::now() + Duration::from_secs(95),
        sleep: None,
        seen: Arc::default(),
    };
    let seen = Arc::clone(&upstream.seen);
    let client = AuthLayer::new(source).layer(upstream);

    let response = client.oneshot(get()).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["Bearer token-2"]);
}

#[tokio::test(start_paused = true)]
async fn a_token_invalidated_while_upstream_is_not_ready_is_not_sent() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);
    let first = source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
    let upstream = SlowToBeReady {
        ready_at: tokio::time::Instant::now() + Duration::from_secs(10),
        sleep: None,
        seen: Arc::default(),
    };
    let seen = Arc::clone(&upstream.seen);
    let client = AuthLayer::new(source.clone()).layer(upstream);
    let call = tokio::spawn(client.oneshot(get()));
    // The call holds token-1 and waits for upstream's readiness...
    tokio::time::sleep(Duration::from_secs(1)).await;
    // ...while another service sharing the source has token-1 rejected.
    assert!(source.invalidate(&first));

    let response = call.await.unwrap().unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["Bearer token-2"]);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_as_soon_as_issued_is_not_renewed_per_request() {
    // A scope the application lacks: upstream answers 403 to every token, and 403 is configured
    // as a rejection. Each renewal would cost a token and change nothing.
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new();
    let layer = AuthLayer::new(source(&endpoint))
        .rejected_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
    let mut client = layer.layer(upstream.service(|_| StatusCode::FORBIDDEN));

    for _ in 0..600 {
        let response = client.ready().await.unwrap().call(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One minute: one fetch per five-second grace at most, not one per request.
    assert!(endpoint.calls() <= 13, "{} fetches", endpoint.calls());
    assert!(
        upstream.calls() <= 600 + 12,
        "{} upstream requests",
        upstream.calls()
    );
}
