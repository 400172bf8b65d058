//! The token layer against the emulator, on paused time with the emulator as an in-memory
//! transport: every count is taken at the emulator's token endpoint and API.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use kinde_emulator::{Application, EmulatorService, FaultTarget, Faults, Latency};
use tests::{Control, SECRET, claims, demo_credentials, get, in_memory, post_json};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_m2m::ReplayBody;
use tower_m2m::token::{
    Auth, AuthLayer, ClientCredentials, CredentialsRejected, OAuthErrorCode, RefreshPolicy,
    TokenCache, TokenSource, TokenUnavailable,
};

const USERS: &str = "/api/v1/users";

/// A token source for the demo application with no jitter, so refresh points are exact.
fn source(emulator: &EmulatorService, policy: RefreshPolicy) -> TokenSource {
    TokenSource::builder(demo_credentials(emulator.base_url(), SECRET))
        .policy(policy)
        .jitter(())
        .build(emulator.clone())
}

fn client(emulator: &EmulatorService, source: TokenSource) -> Auth<EmulatorService> {
    ServiceBuilder::new()
        .layer(AuthLayer::new(source))
        .service(emulator.clone())
}

/// Faults that delay every token request by `millis`.
fn slow_token_endpoint(millis: u64) -> Faults {
    Faults {
        target: FaultTarget::Token,
        latency: Some(Latency {
            min_ms: millis,
            max_ms: millis,
        }),
        ..Faults::default()
    }
}

async fn list_users(client: &Auth<EmulatorService>, emulator: &EmulatorService) -> StatusCode {
    let response = client
        .clone()
        .oneshot(get(emulator.base_url(), USERS))
        .await
        .expect("an answer");
    response.status()
}

/// The `jti`s the API requests presented, in order.
async fn presented(control: &Control) -> Vec<String> {
    control
        .api_requests()
        .await
        .into_iter()
        .map(|request| request.jti.expect("a token the emulator could read"))
        .collect()
}

/// The `jti`s the token endpoint issued, in order.
async fn issued(control: &Control) -> Vec<Option<String>> {
    control
        .token_requests()
        .await
        .into_iter()
        .map(|request| request.jti)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_cold_callers_make_one_token_request() {
    let emulator = in_memory().faults(slow_token_endpoint(100)).build_service();
    let control = Control::in_memory(&emulator);
    let client = client(&emulator, source(&emulator, RefreshPolicy::new()));

    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let request = get(emulator.base_url(), USERS);
        callers.spawn(client.clone().oneshot(request));
    }
    while let Some(answer) = callers.join_next().await {
        assert_eq!(answer.unwrap().unwrap().status(), StatusCode::OK);
    }

    let stats = control.stats().await;
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.api_requests, 1000);
    let issued = issued(&control).await;
    let presented: BTreeSet<_> = presented(&control).await.into_iter().collect();
    assert_eq!(presented.len(), 1, "every caller got the one token");
    assert_eq!(Some(presented.first().unwrap()), issued[0].as_ref());
}

#[tokio::test(start_paused = true)]
async fn callers_crossing_the_refresh_point_start_one_background_refresh_and_never_wait() {
    // 100 s tokens: refreshed after 80 s (no jitter), usable until 90 s.
    let emulator = in_memory()
        .token_lifetime(Duration::from_secs(100))
        .build_service();
    let control = Control::in_memory(&emulator);
    let client = client(&emulator, source(&emulator, RefreshPolicy::new()));
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);

    // The refresh takes 5 s; 200 callers cross the refresh point together.
    control.set_faults(&slow_token_endpoint(5_000)).await;
    tokio::time::sleep(Duration::from_secs(81)).await;
    let crossing = Instant::now();
    let mut callers = JoinSet::new();
    for _ in 0..200 {
        let client = client.clone();
        let request = get(emulator.base_url(), USERS);
        callers.spawn(async move {
            let status = client.oneshot(request).await.unwrap().status();
            (status, Instant::now())
        });
    }
    while let Some(answer) = callers.join_next().await {
        let (status, finished) = answer.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(finished, crossing, "a caller waited for the refresh");
    }
    let during: BTreeSet<_> = presented(&control).await.into_iter().collect();
    assert_eq!(during.len(), 1, "the current token kept serving");

    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(control.stats().await.token_requests, 2, "one refresh");
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);
    let issued = issued(&control).await;
    let presented = presented(&control).await;
    assert_eq!(presented.len(), 202);
    assert_eq!(Some(presented.last().unwrap()), issued[1].as_ref());
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_does_not_cancel_the_fetch_for_the_next() {
    let emulator = in_memory()
        .faults(slow_token_endpoint(2_000))
        .build_service();
    let control = Control::in_memory(&emulator);
    let client = client(&emulator, source(&emulator, RefreshPolicy::new()));

    let first = client.clone().oneshot(get(emulator.base_url(), USERS));
    let gave_up = tokio::time::timeout(Duration::from_secs(1), first).await;
    assert!(
        gave_up.is_err(),
        "the first caller gave up while the fetch ran"
    );
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);

    let stats = control.stats().await;
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.api_requests, 1);
}

#[tokio::test(start_paused = true)]
async fn two_scopes_or_two_audiences_never_share_a_token() {
    const BILLING: &str = "https://billing.example/api";
    let emulator = in_memory()
        .application(
            Application::new("profiles000000000000000000000001", "profiles-secret")
                .scopes(["read:users", "read:organizations"])
                .audience(BILLING),
        )
        .faults(slow_token_endpoint(100))
        .build_service();
    let control = Control::in_memory(&emulator);
    let management = emulator.api_audience();
    let credentials = |audience: &str, scope: Option<&str>| {
        let builder = ClientCredentials::builder(
            emulator.token_url(),
            "profiles000000000000000000000001",
            "profiles-secret",
        )
        .audience(audience);
        match scope {
            Some(scope) => builder.scope(scope),
            None => builder,
        }
        .build()
        .unwrap()
    };
    // One shared cache: only the key keeps these apart.
    let cache = TokenCache::new();
    let sources = [
        credentials(&management, Some("read:users")),
        credentials(&management, Some("read:organizations")),
        credentials(&management, None),
        credentials(BILLING, None),
    ]
    .map(|credentials| {
        TokenSource::builder(credentials)
            .cache(&cache)
            .build(emulator.clone())
    });

    let mut callers = JoinSet::new();
    for (index, source) in sources.iter().enumerate() {
        for _ in 0..10 {
            let token = source.token();
            callers.spawn(async move { (index, token.await.unwrap()) });
        }
    }
    let mut tokens = vec![BTreeSet::new(); sources.len()];
    while let Some(answer) = callers.join_next().await {
        let (index, token) = answer.unwrap();
        tokens[index].insert(token.expose_secret().to_owned());
    }

    assert_eq!(control.stats().await.token_requests, 4);
    let tokens: Vec<String> = tokens
        .into_iter()
        .map(|set| {
            assert_eq!(set.len(), 1, "callers of one key share one token");
            set.into_iter().next().unwrap()
        })
        .collect();
    let distinct: BTreeSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), 4, "no two keys share a token");
    assert_eq!(claims(&tokens[0])["scp"], serde_json::json!(["read:users"]));
    assert_eq!(
        claims(&tokens[1])["scp"],
        serde_json::json!(["read:organizations"])
    );
    assert_eq!(claims(&tokens[2])["aud"], serde_json::json!([management]));
    assert_eq!(claims(&tokens[3])["aud"], serde_json::json!([BILLING]));

    // The token for the other scope really lacks this one at the API.
    let readers = client(&emulator, sources[0].clone());
    let organizers = client(&emulator, sources[1].clone());
    assert_eq!(list_users(&readers, &emulator).await, StatusCode::OK);
    assert_eq!(
        list_users(&organizers, &emulator).await,
        StatusCode::FORBIDDEN
    );

    // A fifth source with the first key reuses its token.
    let again = TokenSource::builder(credentials(&management, Some("read:users")))
        .cache(&cache)
        .build(emulator.clone());
    assert_eq!(again.token().await.unwrap().expose_secret(), tokens[0]);
    assert_eq!(control.stats().await.token_requests, 4);
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_outage_serves_the_valid_token_then_fails_cleanly_after_expiry() {
    // 100 s tokens: refreshed after 80 s (no jitter), usable until 90 s.
    let emulator = in_memory()
        .token_lifetime(Duration::from_secs(100))
        .build_service();
    let control = Control::in_memory(&emulator);
    let client = client(&emulator, source(&emulator, RefreshPolicy::new()));
    let start = Instant::now();
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);

    control
        .set_faults(&Faults {
            target: FaultTarget::Token,
            token_outage: Some(kinde_emulator::TokenOutage::Unavailable),
            ..Faults::default()
        })
        .await;

    // From the refresh point to the end of use, callers keep getting the current token.
    tokio::time::sleep_until(start + Duration::from_secs(80)).await;
    let mut calls = 0;
    while Instant::now() < start + Duration::from_secs(90) {
        assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let served = control.stats().await;
    assert_eq!(calls, 100);
    assert_eq!(served.api_requests, 1 + calls);
    assert_eq!(
        served.status(200),
        1 + 1 + calls,
        "the token and every call"
    );
    assert!(served.token_requests > 1, "the refresh was attempted");
    let before_expiry: BTreeSet<_> = presented(&control).await.into_iter().collect();
    assert_eq!(before_expiry.len(), 1);

    // Past its end of use the token is never sent: callers fail at once, typed.
    tokio::time::sleep_until(start + Duration::from_secs(90)).await;
    for _ in 0..100 {
        let error = client
            .clone()
            .oneshot(get(emulator.base_url(), USERS))
            .await
            .unwrap_err();
        assert!(error.is::<TokenUnavailable>(), "{error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outage = control.stats().await;
    assert_eq!(
        outage.api_requests, served.api_requests,
        "no expired token sent"
    );
    assert_eq!(outage.status(401), 0);
    // Backoff from 0.5 s doubling: 80.0, 80.5, 81.5, 83.5, 87.5, 95.5 s; nothing like one per
    // caller (200 callers in those 20 s).
    assert!(outage.token_requests <= 1 + 6, "{outage:?}");
    assert_eq!(outage.status(503), outage.token_requests - 1);

    // The endpoint recovers: the next caller after the backoff gets a new token.
    control.clear_faults().await;
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);
    let issued = issued(&control).await;
    let presented = presented(&control).await;
    assert_eq!(
        Some(presented.last().unwrap()),
        issued.last().unwrap().as_ref()
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_secret_makes_a_bounded_number_of_token_requests() {
    let emulator = in_memory().build_service();
    let control = Control::in_memory(&emulator);
    let wrong = TokenSource::builder(demo_credentials(emulator.base_url(), "not-the-secret"))
        .jitter(())
        .build(emulator.clone());
    let client = client(&emulator, wrong);

    // 50 callers retry every second for 65 s: 3,300 calls.
    let mut callers = JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        let base_url = emulator.base_url().to_owned();
        callers.spawn(async move {
            for _ in 0..66 {
                let error = client
                    .clone()
                    .oneshot(get(&base_url, USERS))
                    .await
                    .unwrap_err();
                let rejected = error.downcast_ref::<CredentialsRejected>().expect("typed");
                assert_eq!(rejected.code(), OAuthErrorCode::InvalidClient);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    while let Some(caller) = callers.join_next().await {
        caller.unwrap();
    }

    // The rejection is remembered for 30 s: requests at 0, 30 and 60 s.
    let stats = control.stats().await;
    assert!((1..=3).contains(&stats.token_requests), "{stats:?}");
    assert_eq!(stats.status(401), stats.token_requests, "each one rejected");
    assert_eq!(stats.api_requests, 0);
}

/// The emulator's clock in milliseconds now, read from the timestamp of a request it records.
async fn emulator_millis(emulator: &EmulatorService, control: &Control) -> u64 {
    let jwks = get(emulator.base_url(), "/.well-known/jwks");
    emulator.clone().oneshot(jwks).await.unwrap();
    control.requests().await.last().unwrap().timestamp_ms
}

#[tokio::test(start_paused = true)]
async fn a_token_the_emulator_expired_is_replayed_once_and_late_401s_fetch_nothing() {
    // The emulator's `exp` is whole seconds, so it expires a token up to a second before the
    // client, which here sends a token until the last instant of its lifetime (no leeway).
    // Requests in that second meet a real 401.
    let emulator = in_memory()
        .token_lifetime(Duration::from_secs(60))
        .build_service();
    let control = Control::in_memory(&emulator);
    let policy = RefreshPolicy::new()
        .refresh_share(1.0)
        .refresh_jitter(0.0)
        .expiry_leeway(Duration::ZERO);
    // The first caller in that second also starts the background refresh (due 6 s before the
    // end of use, a tenth of the lifetime). Every token after the first reaches the client
    // 500 ms after the emulator issued it, so that refresh is still in flight when the 401s
    // come back: they invalidate the current token and share that one fetch.
    let fetches = Arc::new(AtomicUsize::new(0));
    let token_transport = tower::service_fn({
        let emulator = emulator.clone();
        move |request| {
            let emulator = emulator.clone();
            let later = fetches.fetch_add(1, Ordering::SeqCst) > 0;
            async move {
                let response = emulator.oneshot(request).await;
                if later {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                response
            }
        }
    });
    let source = TokenSource::builder(demo_credentials(emulator.base_url(), SECRET))
        .policy(policy)
        .jitter(())
        .build(token_transport);
    let client = client(&emulator, source.clone());
    // A caller whose answers reach it seven seconds after the emulator sent them: its 401 comes
    // back after the cache has moved on, and past the new token's invalidation grace.
    let late = AuthLayer::new(source.clone()).layer(tower::service_fn({
        let emulator = emulator.clone();
        move |request| {
            let emulator = emulator.clone();
            async move {
                let response = emulator.oneshot(request).await;
                tokio::time::sleep(Duration::from_secs(7)).await;
                response
            }
        }
    }));

    // Fetch the token half-way through an emulator second.
    let now = emulator_millis(&emulator, &control).await;
    tokio::time::sleep(Duration::from_millis((1_500 - now % 1_000) % 1_000)).await;
    assert_eq!(list_users(&client, &emulator).await, StatusCode::OK);
    let fetched_at = control.token_requests().await[0].timestamp_ms;
    assert_eq!(fetched_at % 1_000, 500);

    // 250 ms into the second in which the emulator's exp falls; the client's token has 250 ms
    // left. The API answers after 100 ms, so all 20 callers and the late one send the old token
    // before any 401 comes back.
    let expired_at_emulator = fetched_at / 1_000 * 1_000 + 60_000;
    tokio::time::sleep(Duration::from_millis(
        expired_at_emulator + 250 - fetched_at,
    ))
    .await;
    control
        .set_faults(&Faults {
            target: FaultTarget::Api,
            latency: Some(Latency {
                min_ms: 100,
                max_ms: 100,
            }),
            ..Faults::default()
        })
        .await;
    let mut callers = JoinSet::new();
    for _ in 0..20 {
        let request = get(emulator.base_url(), USERS);
        callers.spawn(client.clone().oneshot(request));
    }
    callers.spawn(late.oneshot(get(emulator.base_url(), USERS)));
    // The 401s are back, the refresh is not: the rejected token, still the current one, is gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        source.cached().is_none(),
        "the rejected token was invalidated"
    );
    while let Some(answer) = callers.join_next().await {
        assert_eq!(answer.unwrap().unwrap().status(), StatusCode::OK);
    }

    let stats = control.stats().await;
    assert_eq!(
        stats.token_requests, 2,
        "one new token for 21 rejections, the late one included"
    );
    assert_eq!(stats.status(401), 21, "each caller's first attempt");
    assert_eq!(
        stats.status(200),
        2 + 1 + 21,
        "two tokens, the first call, each replay"
    );
    assert_eq!(stats.api_requests, 1 + 42, "each caller replayed once");
    let issued = issued(&control).await;
    let api = control.api_requests().await;
    for request in &api[1..] {
        let expected = if request.status == 401 {
            &issued[0]
        } else {
            &issued[1]
        };
        assert_eq!(&request.jti, expected, "{request:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_that_is_always_rejected_is_replayed_at_most_once_and_a_stream_never() {
    // The application may get tokens for another API only: the Management API rejects them.
    const BILLING: &str = "https://billing.example/api";
    let emulator = in_memory()
        .application(
            Application::new("billing0000000000000000000000001", "billing-secret")
                .management_api(false)
                .audience(BILLING),
        )
        .build_service();
    let control = Control::in_memory(&emulator);
    let credentials = ClientCredentials::builder(
        emulator.token_url(),
        "billing0000000000000000000000001",
        "billing-secret",
    )
    .audience(BILLING)
    .build()
    .unwrap();

    // With the default grace, a token rejected as soon as it is issued is not replayed.
    let graceful = client(
        &emulator,
        TokenSource::builder(credentials.clone()).build(emulator.clone()),
    );
    for _ in 0..10 {
        assert_eq!(
            list_users(&graceful, &emulator).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let stats = control.stats().await;
    assert_eq!((stats.token_requests, stats.api_requests), (1, 10));

    // With no grace, each call replays once with a new token, and no more.
    let eager = client(
        &emulator,
        TokenSource::builder(credentials)
            .policy(RefreshPolicy::new().invalidation_grace(Duration::ZERO))
            .build(emulator.clone()),
    );
    assert_eq!(
        list_users(&eager, &emulator).await,
        StatusCode::UNAUTHORIZED
    );
    let stats = control.stats().await;
    assert_eq!(stats.api_requests, 10 + 2, "the attempt and one replay");
    assert_eq!(stats.token_requests, 1 + 2);

    // A streaming body cannot be sent again: its 401 is returned as it is.
    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"{}"));
    let request = http::Request::post(format!("{}/api/v1/user", emulator.base_url()))
        .header("content-type", "application/json")
        .body(ReplayBody::streaming(body))
        .unwrap();
    let response = eager.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(control.stats().await.api_requests, 12 + 1, "sent once");

    // The same request, buffered, is replayed.
    let buffered = post_json(emulator.base_url(), "/api/v1/user", &serde_json::json!({}));
    let response = eager.clone().oneshot(buffered).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(control.stats().await.api_requests, 13 + 2);
}
