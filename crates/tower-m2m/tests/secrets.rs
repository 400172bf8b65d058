//! Neither the client secret nor any token appears in logs, spans, errors or `Debug` output.

mod common;

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Answer, Endpoint, SECRET, TOKEN_URL};
use http::{Request, Response, StatusCode};
use tokio::time::{advance, sleep};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::token::{
    AuthLayer, ClientAuthentication, ClientCredentials, RefreshPolicy, TokenSource,
};
use tracing::Level;
use tracing_subscriber::fmt::format::FmtSpan;

const TOKEN_PREFIX: &str = "tok-LEAKCHECK-";

/// Everything written by the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Display, Debug and every source of an error.
fn describe(error: &dyn Error) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause} / {cause:?}"));
        source = cause.source();
    }
    text
}

fn source(endpoint: &Endpoint, authentication: ClientAuthentication) -> TokenSource {
    let credentials = ClientCredentials::builder(TOKEN_URL, "client-1", SECRET)
        .audience("https://api.test")
        .scope("read:users")
        .authentication(authentication)
        .build()
        .unwrap();
    TokenSource::builder(credentials)
        .policy(RefreshPolicy::new())
        .jitter(())
        .build(endpoint.clone())
}

/// Captures every log line and span event at TRACE on this thread while the guard lives.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// Asserts that the capture and the printed text hold every `expected` text (so the scenarios
/// ran and were captured) and neither the secret nor any of `tokens`.
fn assert_nothing_leaked(
    captured: &Captured,
    printed: &[String],
    tokens: &[String],
    expected: &[&str],
) {
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token.fetch"), "spans are captured");
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for expected in expected {
        assert!(
            everything.contains(expected),
            "every scenario ran: {expected:?} missing"
        );
    }
    assert!(!everything.contains(SECRET), "the secret leaked");
    assert!(!everything.contains(TOKEN_PREFIX), "a token leaked");
    for token in tokens {
        assert!(!everything.contains(token.as_str()), "{token} leaked");
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_or_token_reaches_logs_spans_errors_or_debug_output() {
    let (captured, _guard) = capture();

    let mut printed: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let upstream_requests = Arc::new(Mutex::new(Vec::<String>::new()));

    for authentication in [
        ClientAuthentication::RequestBody,
        ClientAuthentication::BasicHeader,
    ] {
        let endpoint = Endpoint::with_prefix(Answer::Token { expires_in: 100 }, TOKEN_PREFIX);
        let source = source(&endpoint, authentication);
        printed.push(format!("{source:?} {:?}", source.key()));

        // Cold fetch, then (past the invalidation grace) a 401 and its replay through the layer.
        source.token().await.unwrap();
        advance(Duration::from_secs(6)).await;
        let upstream = rejecting_the_first_token(Arc::clone(&upstream_requests));
        let layer = AuthLayer::new(source.clone());
        let mut client = layer.layer(upstream);
        printed.push(format!("{layer:?} {client:?}"));
        let request = Request::get("https://api.test/users")
            .body(ReplayBody::empty())
            .unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        let token = source.token().await.unwrap();
        printed.push(format!("{token:?} {token} {:?}", token.header_value()));

        // A background refresh, then a failed one whose body echoes the secret and a token.
        advance(Duration::from_secs(81)).await;
        source.token().await.unwrap();
        sleep(Duration::from_millis(10)).await;
        let echo =
            format!(r#"{{"error":"server_error","error_description":"{SECRET} {TOKEN_PREFIX}1"}}"#);
        endpoint.answer(Answer::Status(503, echo.clone()));
        advance(Duration::from_secs(81)).await;
        source.token().await.unwrap();
        sleep(Duration::from_secs(20)).await;
        let error = source.token().await.unwrap_err();
        printed.push(describe(&error));
        printed.push(describe(&*error.clone().into_box_error()));

        // The layer's error for an expired token.
        let request = Request::get("https://api.test/users")
            .body(ReplayBody::empty())
            .unwrap();
        let error = client
            .ready()
            .await
            .unwrap()
            .call(request)
            .await
            .unwrap_err();
        printed.push(describe(&*error));

        // A success body that is not a token response but carries the secret.
        endpoint.answer(Answer::Status(
            200,
            format!(r#"{{"access_token":7,"note":"{SECRET}"}}"#),
        ));
        sleep(Duration::from_secs(60)).await;
        printed.push(describe(&source.token().await.unwrap_err()));

        // Rejected credentials, with the secret echoed in the description.
        endpoint.answer(Answer::Status(
            401,
            format!(r#"{{"error":"invalid_client","error_description":"{SECRET}"}}"#),
        ));
        sleep(Duration::from_secs(60)).await;
        printed.push(describe(&source.token().await.unwrap_err()));

        printed.extend(endpoint.printed_requests());
        tokens.extend((1..=endpoint.calls()).map(|n| format!("{TOKEN_PREFIX}{n}")));
    }
    printed.extend(upstream_requests.lock().unwrap().iter().cloned());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "token refreshed",
        "token refresh failed",
        "client credentials rejected",
    ] {
        assert!(
            logs.contains(expected),
            "the capture works: {expected:?} missing"
        );
    }
    assert_nothing_leaked(
        &captured,
        &printed,
        &tokens,
        &[
            "no valid access token available",
            "token endpoint answered 503",
            "token response is not usable",
            "client credentials rejected (invalid_client)",
            "Sensitive",
        ],
    );
}

/// The upstream of the scenarios below: `401` for the first token, after `x-delay-ms`
/// milliseconds when the request has that header; `200` for any other token.
fn rejecting_the_first_token(
    seen: Arc<Mutex<Vec<String>>>,
) -> impl Service<
    Request<ReplayBody>,
    Response = Response<()>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<()>, Infallible>> + Send,
> + Clone
+ std::fmt::Debug {
    service_fn(move |request: Request<ReplayBody>| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(format!("{request:?}"));
            if let Some(delay) = request.headers().get("x-delay-ms") {
                let millis = delay.to_str().unwrap().parse().unwrap();
                sleep(Duration::from_millis(millis)).await;
            }
            let first = request.headers()["authorization"]
                .to_str()
                .unwrap()
                .ends_with("-1");
            let status = if first {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            Ok::<_, Infallible>(Response::builder().status(status).body(()).unwrap())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn the_other_scenarios_leak_nothing_either() {
    let (captured, _guard) = capture();
    let mut printed: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));

    // 100 concurrent cold callers, the first of them dropped while the fetch is in flight.
    let endpoint = Endpoint::with_prefix(Answer::Token { expires_in: 3600 }, TOKEN_PREFIX);
    endpoint.delay(Duration::from_millis(100));
    let cold = source(&endpoint, ClientAuthentication::RequestBody);
    let dropped = tokio::spawn({
        let cold = cold.clone();
        async move { cold.token().await }
    });
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let cold = cold.clone();
        callers.spawn(async move { cold.token().await });
    }
    sleep(Duration::from_millis(10)).await;
    dropped.abort();
    printed.push(format!("{:?}", dropped.await));
    for token in callers.join_all().await {
        printed.push(format!("{token:?}"));
    }

    // A second scope: another key, another token.
    let other = TokenSource::builder(
        ClientCredentials::builder(TOKEN_URL, "client-1", SECRET)
            .audience("https://api.test")
            .scope("write:users")
            .build()
            .unwrap(),
    )
    .jitter(())
    .build(endpoint.clone());
    let token = other.token().await.unwrap();
    printed.push(format!("{other:?} {:?} {token:?}", other.key()));

    // A streaming body's 401, a 401 that is replayed, and one that comes back after the cache
    // moved on: all three sent with the cold source's first token.
    advance(Duration::from_secs(6)).await;
    let client = AuthLayer::new(cold).layer(rejecting_the_first_token(Arc::clone(&seen)));
    let streaming = Request::post("https://api.test/users")
        .body(ReplayBody::streaming(http_body_util::Full::new(
            bytes::Bytes::from_static(b"{}"),
        )))
        .unwrap();
    let early = Request::get("https://api.test/users")
        .header("x-delay-ms", "10")
        .body(ReplayBody::empty())
        .unwrap();
    let late = Request::get("https://api.test/users")
        .header("x-delay-ms", "7000")
        .body(ReplayBody::empty())
        .unwrap();
    let (streaming, early, late) = tokio::join!(
        client.clone().oneshot(streaming),
        client.clone().oneshot(early),
        client.clone().oneshot(late)
    );
    printed.push(format!("{streaming:?} {early:?} {late:?}"));
    let statuses = [streaming, early, late].map(|response| response.unwrap().status());
    assert_eq!(statuses, [401, 200, 200]);
    assert_eq!(
        endpoint.calls(),
        3,
        "cold, second scope, one after the rejections"
    );
    printed.extend(endpoint.printed_requests());
    tokens.extend((1..=endpoint.calls()).map(|n| format!("{TOKEN_PREFIX}{n}")));

    // A token endpoint that does not answer in time.
    let slow = Endpoint::with_prefix(Answer::Token { expires_in: 3600 }, TOKEN_PREFIX);
    slow.delay(Duration::from_secs(60));
    let error = source(&slow, ClientAuthentication::BasicHeader)
        .token()
        .await
        .unwrap_err();
    printed.push(describe(&error));

    // A transport that fails with an error describing the request it was given.
    let credentials = ClientCredentials::builder(TOKEN_URL, "client-1", SECRET)
        .audience("https://api.test")
        .build()
        .unwrap();
    let failing = service_fn(|request: Request<ReplayBody>| async move {
        let error = io::Error::new(io::ErrorKind::ConnectionRefused, format!("{request:?}"));
        Err::<Response<String>, _>(error)
    });
    let error = TokenSource::builder(credentials)
        .jitter(())
        .build(failing)
        .token()
        .await
        .unwrap_err();
    printed.push(describe(&error));
    printed.extend(seen.lock().unwrap().iter().cloned());

    assert_nothing_leaked(
        &captured,
        &printed,
        &tokens,
        &[
            "JoinError::Cancelled",
            "write:users",
            "token request timed out",
            "token request failed in transport",
            "oauth2/token",
            "Sensitive",
        ],
    );
}
