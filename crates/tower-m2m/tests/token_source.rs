//! The token source against an in-memory token endpoint, on paused time.

mod common;

use std::time::Duration;

use common::{Answer, Endpoint, HOUR, SECRET, TOKEN_URL, source, source_with, token_body};
use tokio::task::JoinSet;
use tokio::time::{Instant, advance, sleep};
use tower_m2m::token::{
    ClientCredentials, FetchErrorKind, OAuthErrorCode, RefreshPolicy, TokenCache, TokenError,
    TokenSource,
};

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_cold_callers_make_one_fetch() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_millis(200));
    let source = source(&endpoint);

    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let source = source.clone();
        callers.spawn(async move { source.token().await });
    }
    let tokens: Vec<_> = callers.join_all().await;

    assert_eq!(endpoint.calls(), 1);
    let first = tokens[0].as_ref().unwrap();
    assert!(tokens.iter().all(|t| t.as_ref().unwrap().is_same(first)));
    assert_eq!(first.expose_secret(), "token-1");
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_cold_callers_all_get_the_same_failure() {
    let endpoint = Endpoint::new(Answer::Status(503, String::new()));
    endpoint.delay(Duration::from_millis(200));
    let source = source(&endpoint);

    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let source = source.clone();
        callers.spawn(async move { source.token().await });
    }
    let results: Vec<_> = callers.join_all().await;

    assert_eq!(endpoint.calls(), 1);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TokenError::Unavailable(_))))
    );
}

#[tokio::test(start_paused = true)]
async fn callers_past_the_refresh_point_start_one_background_refresh_and_none_waits() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);
    let first = source.token().await.unwrap();

    // Default policy without jitter: refresh after 80% of the hour.
    advance(HOUR.mul_f64(0.8) + Duration::from_secs(1)).await;
    endpoint.delay(Duration::from_secs(5));

    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let source = source.clone();
        callers.spawn(async move {
            let asked = Instant::now();
            let token = source.token().await.unwrap();
            (token, asked.elapsed())
        });
    }
    let answers: Vec<_> = callers.join_all().await;

    assert!(
        answers
            .iter()
            .all(|(token, waited)| token.is_same(&first) && waited.is_zero())
    );
    sleep(Duration::from_secs(6)).await;
    assert_eq!(endpoint.calls(), 2, "one initial fetch and one refresh");

    let refreshed = source.token().await.unwrap();
    assert_eq!(refreshed.expose_secret(), "token-2");
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_first_caller_does_not_break_the_fetch_for_the_second() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_secs(1));
    let source = source(&endpoint);

    let first = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    sleep(Duration::from_millis(10)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    let deadline = tokio::time::timeout(Duration::from_millis(100), source.token()).await;
    assert!(deadline.is_err(), "a caller whose deadline passes gives up");

    let second = source.token().await.unwrap();
    assert_eq!(second.expose_secret(), "token-1");
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn two_scopes_two_audiences_or_two_secrets_never_share_a_token() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_millis(100));
    let cache = TokenCache::new();
    let build = |scopes: &[&str], audience: &str, secret: &str| {
        let credentials = ClientCredentials::builder(TOKEN_URL, "client-1", secret)
            .scopes(scopes.iter().copied())
            .audience(audience)
            .build()
            .unwrap();
        TokenSource::builder(credentials)
            .cache(&cache)
            .build(endpoint.clone())
    };
    let read = build(&["read:users"], "https://a.test", SECRET);
    let write = build(&["write:users"], "https://a.test", SECRET);
    let other_audience = build(&["read:users"], "https://b.test", SECRET);
    let rotated = build(&["read:users"], "https://a.test", "rotated-secret");
    let read_again = build(&["read:users", "read:users"], "https://a.test", SECRET);

    // All cold at once: each key must get its own fetch, and only its own.
    let (read_token, write_token, other_token, rotated_token, again_token) = tokio::join!(
        read.token(),
        write.token(),
        other_audience.token(),
        rotated.token(),
        read_again.token()
    );
    let tokens = [&read_token, &write_token, &other_token, &rotated_token];
    let tokens: Vec<_> = tokens.iter().map(|t| t.as_ref().unwrap()).collect();

    assert_eq!(endpoint.calls(), 4);
    assert_eq!(cache.len(), 4);
    assert!(again_token.unwrap().is_same(tokens[0]), "equal keys share");
    for (i, a) in tokens.iter().enumerate() {
        for b in &tokens[i + 1..] {
            assert_ne!(a.expose_secret(), b.expose_secret());
        }
    }

    let form_of = |token: &tower_m2m::token::AccessToken| {
        endpoint.form(endpoint.number_of(token.expose_secret()))
    };
    assert!(form_of(tokens[0]).contains("scope=read%3Ausers"));
    assert!(form_of(tokens[0]).contains("audience=https%3A%2F%2Fa.test"));
    assert!(form_of(tokens[1]).contains("scope=write%3Ausers"));
    assert!(form_of(tokens[2]).contains("audience=https%3A%2F%2Fb.test"));
    assert!(form_of(tokens[3]).contains("client_secret=rotated-secret"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_serves_the_valid_token_then_fails_cleanly_after_expiry() {
    let endpoint = Endpoint::new(token_body(100));
    let source = source(&endpoint);
    let token = source.token().await.unwrap();
    // Refresh at 80 s, never sent after 90 s (10 s leeway).
    endpoint.answer(Answer::Status(503, "down".into()));

    advance(Duration::from_secs(81)).await;
    for _ in 0..80 {
        assert!(source.token().await.unwrap().is_same(&token));
        sleep(Duration::from_millis(100)).await;
    }
    let refreshes = endpoint.calls() - 1;
    assert!(
        (2..=5).contains(&refreshes),
        "backed off: {refreshes} refresh attempts"
    );

    sleep(Duration::from_secs(2)).await; // now past 90 s
    let error = source.token().await.unwrap_err();
    let TokenError::Unavailable(unavailable) = error else {
        panic!("expected TokenUnavailable, got {error:?}");
    };
    assert_eq!(
        unavailable.cause().unwrap().kind(),
        FetchErrorKind::Status(http::StatusCode::SERVICE_UNAVAILABLE)
    );

    endpoint.answer(token_body(100));
    sleep(Duration::from_secs(30)).await;
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        format!("token-{}", endpoint.calls())
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_secret_makes_a_bounded_number_of_fetches_however_often_callers_retry() {
    let endpoint = Endpoint::new(Answer::Status(
        401,
        r#"{"error":"invalid_client","error_description":"bad secret"}"#.into(),
    ));
    let source = source(&endpoint);

    let mut callers = JoinSet::new();
    for _ in 0..100 {
        let source = source.clone();
        callers.spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..120 {
                match source.token().await {
                    Err(TokenError::CredentialsRejected(rejected)) => codes.push(rejected.code()),
                    other => panic!("expected a rejection, got {other:?}"),
                }
                sleep(Duration::from_secs(1)).await;
            }
            codes
        });
    }
    let codes: Vec<_> = callers.join_all().await.into_iter().flatten().collect();

    assert_eq!(codes.len(), 12_000);
    assert!(
        codes
            .iter()
            .all(|code| *code == OAuthErrorCode::InvalidClient)
    );
    // Two minutes with a 30 s rejection window: one fetch per window.
    assert!(endpoint.calls() <= 5, "{} fetches", endpoint.calls());
    assert_eq!(source.fetch_counts().rejected, endpoint.calls() as u64);
}

#[tokio::test(start_paused = true)]
async fn an_outage_is_retried_with_backoff_not_per_caller() {
    let endpoint = Endpoint::new(Answer::Status(500, String::new()));
    let source = source(&endpoint);

    for _ in 0..600 {
        let error = source.token().await.unwrap_err();
        assert!(matches!(error, TokenError::Unavailable(_)));
        sleep(Duration::from_millis(100)).await;
    }
    // One minute of callers every 100 ms; backoff 0.5, 1, 2, 4, 8, 15, 15, ... seconds.
    assert!(endpoint.calls() <= 10, "{} fetches", endpoint.calls());
}

#[tokio::test(start_paused = true)]
async fn a_hung_endpoint_times_out() {
    let endpoint = Endpoint::new(token_body(3600));
    endpoint.delay(Duration::from_secs(600));
    let source = source_with(
        &endpoint,
        RefreshPolicy::new().fetch_timeout(Duration::from_secs(2)),
    );

    let asked = Instant::now();
    let error = source.token().await.unwrap_err();
    assert_eq!(asked.elapsed(), Duration::from_secs(2));
    let TokenError::Unavailable(unavailable) = error else {
        panic!("expected TokenUnavailable, got {error:?}");
    };
    assert_eq!(unavailable.cause().unwrap().kind(), FetchErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn invalidate_clears_only_the_current_token() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);

    let first = source.token().await.unwrap();
    assert!(
        !source.invalidate(&first),
        "a token within its grace is kept"
    );
    advance(Duration::from_secs(10)).await;
    assert!(source.invalidate(&first));
    let second = source.token().await.unwrap();
    assert!(!second.is_same(&first));
    // Past the grace of the second token too, so only the check of which token is current keeps
    // it.
    advance(Duration::from_secs(10)).await;
    assert!(!source.invalidate(&first), "a stale token changes nothing");
    assert!(source.token().await.unwrap().is_same(&second));
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_token_does_not_refresh_in_a_loop() {
    let endpoint = Endpoint::new(token_body(2));
    let source = source(&endpoint);

    for _ in 0..100 {
        source.token().await.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    // 100 callers over ten seconds with 2 s tokens. A 2 s token is used for 1.5 s (the leeway is
    // a quarter of it) and refreshed after 1.35 s, never before half its lifetime: about eight
    // fetches, not one per caller.
    assert!(endpoint.calls() <= 11, "{} fetches", endpoint.calls());
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_are_refreshed_in_the_background_too() {
    // Tokens so short that the expiry leeway takes a quarter of them; each fetch takes 50 ms.
    for lifetime in [2, 40] {
        let endpoint = Endpoint::new(token_body(lifetime));
        endpoint.delay(Duration::from_millis(50));
        let source = source(&endpoint);
        source.token().await.unwrap();

        // A caller every 100 ms for five lifetimes: none waits for a fetch.
        let step = Duration::from_millis(100);
        for _ in 0..lifetime * 50 {
            sleep(step).await;
            let asked = Instant::now();
            source.token().await.unwrap();
            assert!(
                asked.elapsed().is_zero(),
                "a caller waited ({lifetime} s tokens)"
            );
        }
        let fetches = endpoint.calls() as u64;
        // The first, then one refresh each 0.675 of a lifetime (nine tenths of the usable three
        // quarters): eight.
        assert!(
            (6..=9).contains(&fetches),
            "{fetches} fetches ({lifetime} s tokens)"
        );
    }
}
