//! The control API, faults and limits, on the in-memory service and paused time.

mod common;

use std::time::Duration;

use common::{call, demo_token, send_raw, token_form, token_request};
use http::{Method, Request, StatusCode};
use kinde_emulator::{
    ConnectionClosed, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorService, FaultTarget,
    Faults, Latency, TokenBody, TokenOutage,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn control(
    emulator: &EmulatorService,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let bytes = body
        .map(|body| body.to_string().into_bytes())
        .unwrap_or_default();
    let reply = send_raw(
        emulator,
        method,
        path,
        &[("content-type", "application/json")],
        bytes,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    reply.body
}

async fn set_faults(emulator: &EmulatorService, faults: Value) {
    control(emulator, Method::PUT, "/_emulator/faults", Some(faults)).await;
}

/// Sends a request and returns the transport's error instead of panicking on it.
async fn try_call(
    emulator: &EmulatorService,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Result<StatusCode, ConnectionClosed> {
    let request = Request::builder()
        .method(method)
        .uri(format!("{}{path}", emulator.base_url()))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .expect("a request");
    emulator
        .clone()
        .oneshot(request)
        .await
        .map(|response| response.status())
}

#[tokio::test]
async fn stats_count_token_and_api_requests_by_status_and_operation() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, Some("read:users")).await;
    send_raw(&emulator, Method::GET, "/.well-known/jwks", &[], Vec::new()).await;
    token_request(
        &emulator,
        "grant_type=client_credentials&client_id=nobody&client_secret=x&audience=x",
    )
    .await;
    call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    call(
        &emulator,
        Method::GET,
        "/api/v1/organizations",
        &token,
        None,
    )
    .await;
    call(&emulator, Method::GET, "/api/v1/nowhere", &token, None).await;

    let stats = control(&emulator, Method::GET, "/_emulator/stats", None).await;
    assert_eq!(
        stats,
        json!({
            "token_requests": 2,
            "api_requests": 4,
            "by_status": {"200": 3, "401": 1, "403": 1, "404": 1},
            "by_operation": {"getUsers": 2, "getOrganizations": 1},
        })
    );
}

#[tokio::test(start_paused = true)]
async fn the_request_log_redacts_authorization_and_names_the_caller() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    call(
        &emulator,
        Method::GET,
        "/api/v1/users?page_size=2",
        &token,
        None,
    )
    .await;

    let requests = control(&emulator, Method::GET, "/_emulator/requests", None).await;
    let requests = requests.as_array().expect("a list");
    assert_eq!(requests.len(), 2);
    let (token_request, api_request) = (&requests[0], &requests[1]);
    assert_eq!(token_request["path"], "/oauth2/token");
    assert_eq!(token_request["client_id"], DEMO_CLIENT_ID);
    let jti = common::claims(&token)["jti"].clone();
    assert_eq!(token_request["jti"], jti);

    assert_eq!(api_request["method"], "GET");
    assert_eq!(api_request["path"], "/api/v1/users");
    assert_eq!(api_request["query"], "page_size=2");
    assert_eq!(api_request["operation_id"], "getUsers");
    assert_eq!(api_request["status"], 200);
    assert_eq!(api_request["client_id"], DEMO_CLIENT_ID);
    assert_eq!(api_request["jti"], jti);
    assert_eq!(api_request["headers"]["authorization"], "[redacted]");
    let elapsed = api_request["timestamp_ms"].as_u64().expect("a timestamp")
        - token_request["timestamp_ms"].as_u64().expect("a timestamp");
    assert!((5000..5100).contains(&elapsed), "{elapsed}");

    let everything = serde_json::to_string(&requests).expect("JSON");
    assert!(!everything.contains(&token));
    assert!(!everything.contains(DEMO_CLIENT_SECRET));
}

#[tokio::test]
async fn state_dumps_what_exists_and_reset_clears_everything() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let created = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({"identities": [{"type": "email", "details": {"email": "ada@example.com"}}]})),
    )
    .await;
    let id = created.body["id"].clone();
    set_faults(
        &emulator,
        json!({"error_ratio": 0.0, "latency": {"min_ms": 1, "max_ms": 1}}),
    )
    .await;

    let state = control(&emulator, Method::GET, "/_emulator/state", None).await;
    assert_eq!(state["users"][0]["id"], id);
    assert_eq!(state["users"][0]["email"], "ada@example.com");
    assert_eq!(state["organizations"].as_array().map(Vec::len), Some(1));
    assert_eq!(state["memberships"][0]["user_id"], id);

    control(&emulator, Method::POST, "/_emulator/reset", None).await;
    let state = control(&emulator, Method::GET, "/_emulator/state", None).await;
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["memberships"], json!([]));
    let stats = control(&emulator, Method::GET, "/_emulator/stats", None).await;
    assert_eq!(stats["api_requests"], 0);
    assert_eq!(stats["token_requests"], 0);
    let faults = control(&emulator, Method::GET, "/_emulator/faults", None).await;
    assert_eq!(faults["latency"], Value::Null);
}

#[tokio::test]
async fn invalid_faults_are_refused() {
    let emulator = Emulator::builder().build_service();
    for faults in [
        json!({"error_ratio": 1.5}),
        json!({"latency": {"min_ms": 10, "max_ms": 1}}),
        json!({"no_such_fault": true}),
        json!({"target": "everywhere"}),
    ] {
        let reply = send_raw(
            &emulator,
            Method::PUT,
            "/_emulator/faults",
            &[],
            faults.to_string().into_bytes(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{faults}");
        assert_eq!(reply.body["errors"][0]["code"], "INVALID_FAULTS");
    }
}

#[tokio::test(start_paused = true)]
async fn latency_delays_targeted_requests_on_tokio_time() {
    let emulator = Emulator::builder()
        .faults(Faults {
            latency: Some(Latency {
                min_ms: 250,
                max_ms: 250,
            }),
            target: FaultTarget::Operation("getUsers".to_owned()),
            ..Faults::default()
        })
        .build_service();
    let token = demo_token(&emulator, None).await;

    let started = tokio::time::Instant::now();
    call(
        &emulator,
        Method::GET,
        "/api/v1/organizations",
        &token,
        None,
    )
    .await;
    assert_eq!(started.elapsed(), Duration::ZERO);

    let started = tokio::time::Instant::now();
    let reply = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}

#[tokio::test]
async fn error_answers_and_429_bursts_follow_their_ratios() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    set_faults(&emulator, json!({"target": "api", "error_ratio": 1.0})).await;
    for _ in 0..10 {
        let reply = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
        assert!(
            matches!(reply.status.as_u16(), 500 | 502 | 503),
            "{}",
            reply.status
        );
        assert!(reply.body["errors"][0]["code"].is_string());
    }
    let token_still_works = token_request(
        &emulator,
        &token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    .await;
    assert_eq!(token_still_works.status, StatusCode::OK);

    set_faults(&emulator, json!({"rate_limited_ratio": 1.0})).await;
    let reply = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["ratelimit-reset"], "1");
    assert_eq!(reply.body["errors"][0]["code"], "TOO_MANY_REQUESTS");
}

#[tokio::test]
async fn a_seed_makes_faults_repeat() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    let mut runs = Vec::new();
    for _ in 0..2 {
        set_faults(
            &emulator,
            json!({"seed": 42, "target": "api", "error_ratio": 0.5}),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(
                call(&emulator, Method::GET, "/api/v1/users", &token, None)
                    .await
                    .status
                    .as_u16(),
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200));
    assert!(runs[0].iter().any(|status| *status >= 500));
}

#[tokio::test]
async fn closed_connections_happen_before_or_after_the_state_changes() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let create = json!({"identities": [{"type": "email", "details": {"email": "a@example.com"}}]});

    set_faults(
        &emulator,
        json!({"target": {"operation": "createUser"}, "close_before_ratio": 1.0}),
    )
    .await;
    let outcome = try_call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(create.clone()),
    )
    .await;
    assert!(outcome.is_err());
    let state = control(&emulator, Method::GET, "/_emulator/state", None).await;
    assert_eq!(state["users"], json!([]));

    set_faults(
        &emulator,
        json!({"target": {"operation": "createUser"}, "close_after_ratio": 1.0}),
    )
    .await;
    let outcome = try_call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(create),
    )
    .await;
    assert!(outcome.is_err());
    let state = control(&emulator, Method::GET, "/_emulator/state", None).await;
    assert_eq!(state["users"].as_array().map(Vec::len), Some(1));

    let requests = control(&emulator, Method::GET, "/_emulator/requests", None).await;
    let closed = requests
        .as_array()
        .expect("a list")
        .iter()
        .filter(|request| request["connection_closed"] == true)
        .count();
    assert_eq!(closed, 2);
}

#[tokio::test]
async fn a_request_closed_after_processing_is_still_counted_under_its_operation() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    set_faults(
        &emulator,
        json!({"target": {"operation": "createUser"}, "close_after_ratio": 1.0}),
    )
    .await;
    let create = json!({"profile": {"given_name": "Ada"}});
    let outcome = try_call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(create),
    )
    .await;
    assert!(outcome.is_err());

    let stats = control(&emulator, Method::GET, "/_emulator/stats", None).await;
    assert_eq!(stats["by_operation"]["createUser"], 1, "{stats}");
    let requests = control(&emulator, Method::GET, "/_emulator/requests", None).await;
    let closed = requests
        .as_array()
        .expect("a list")
        .last()
        .expect("a request");
    assert_eq!(closed["connection_closed"], true);
    assert_eq!(closed["operation_id"], "createUser");
    assert_eq!(closed["client_id"], DEMO_CLIENT_ID);
}

#[tokio::test]
async fn the_token_endpoint_can_be_down_or_answer_garbage() {
    let emulator = Emulator::builder().build_service();
    let form = token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);

    emulator_faults(
        &emulator,
        Faults {
            token_outage: Some(TokenOutage::Unavailable),
            ..Faults::default()
        },
    )
    .await;
    let reply = token_request(&emulator, &form).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body["error"], "temporarily_unavailable");

    emulator_faults(
        &emulator,
        Faults {
            token_body: Some(TokenBody::Empty),
            ..Faults::default()
        },
    )
    .await;
    let reply = token_request(&emulator, &form).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.is_empty());

    emulator_faults(
        &emulator,
        Faults {
            token_body: Some(TokenBody::NotJson),
            ..Faults::default()
        },
    )
    .await;
    let reply = token_request(&emulator, &form).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/html");
    assert_eq!(reply.body, Value::Null);

    emulator_faults(
        &emulator,
        Faults {
            token_outage: Some(TokenOutage::Close),
            ..Faults::default()
        },
    )
    .await;
    let request = Request::post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .expect("a request");
    assert!(emulator.clone().oneshot(request).await.is_err());
}

async fn emulator_faults(emulator: &EmulatorService, faults: Faults) {
    set_faults(emulator, serde_json::to_value(faults).expect("JSON")).await;
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_answers_429_until_the_window_resets() {
    let emulator = Emulator::builder()
        .faults(Faults {
            rate_limit_per_second: Some(3),
            ..Faults::default()
        })
        .build_service();
    let token = demo_token(&emulator, None).await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            call(&emulator, Method::GET, "/api/v1/users", &token, None)
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let limited = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    let reset: u64 = limited.headers["ratelimit-reset"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert_eq!(reset, 1);

    tokio::time::advance(Duration::from_secs(reset)).await;
    let again = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_sheds_requests_in_flight() {
    let emulator = Emulator::builder()
        .faults(Faults {
            concurrency_limit: Some(2),
            latency: Some(Latency {
                min_ms: 100,
                max_ms: 100,
            }),
            target: FaultTarget::Api,
            ..Faults::default()
        })
        .build_service();
    let token = demo_token(&emulator, None).await;

    let calls = (0..4).map(|_| call(&emulator, Method::GET, "/api/v1/users", &token, None));
    let replies = futures_util::future::join_all(calls).await;
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429]);

    let after = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn latency_spikes_hit_a_share_of_requests_only() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    set_faults(
        &emulator,
        json!({"seed": 11, "target": "api",
               "latency_spikes": {"ratio": 0.3, "min_ms": 200, "max_ms": 200}}),
    )
    .await;

    let mut delays = Vec::new();
    for _ in 0..60 {
        let started = tokio::time::Instant::now();
        let reply = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        delays.push(started.elapsed());
    }
    let spiked = delays
        .iter()
        .filter(|d| **d == Duration::from_millis(200))
        .count();
    let untouched = delays.iter().filter(|d| d.is_zero()).count();
    assert_eq!(spiked + untouched, 60, "{delays:?}");
    assert!((5..=35).contains(&spiked), "{spiked} of 60 spiked");
}

#[tokio::test(start_paused = true)]
async fn rate_limited_bursts_come_in_windows_with_their_reset() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    set_faults(
        &emulator,
        json!({"target": "api", "rate_limit_reset_secs": 2,
               "rate_limited_bursts": {"period_ms": 1000, "burst_ms": 300}}),
    )
    .await;

    let users = async || call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    let in_burst = users().await;
    assert_eq!(in_burst.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(in_burst.headers["ratelimit-reset"], "2");
    tokio::time::advance(Duration::from_millis(400)).await;
    assert_eq!(users().await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_millis(650)).await;
    assert_eq!(users().await.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(users().await.status, StatusCode::OK);

    // A burst longer than the configured reset announces the time it has left.
    set_faults(
        &emulator,
        json!({"target": "api", "rate_limited_bursts": {"period_ms": 10000, "burst_ms": 2500}}),
    )
    .await;
    let long_burst = users().await;
    assert_eq!(long_burst.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(long_burst.headers["ratelimit-reset"], "3");

    // 429s by ratio carry the configured reset too.
    set_faults(
        &emulator,
        json!({"target": "api", "rate_limited_ratio": 1.0, "rate_limit_reset_secs": 7}),
    )
    .await;
    assert_eq!(users().await.headers["ratelimit-reset"], "7");
}

#[tokio::test]
async fn invalid_spikes_and_bursts_are_refused() {
    let emulator = Emulator::builder().build_service();
    for (faults, field) in [
        (
            json!({"latency_spikes": {"ratio": 1.5, "min_ms": 1, "max_ms": 2}}),
            "latency_spikes.ratio",
        ),
        (
            json!({"latency_spikes": {"ratio": 0.5, "min_ms": 3, "max_ms": 2}}),
            "latency_spikes.min_ms",
        ),
        (
            json!({"rate_limited_bursts": {"period_ms": 0, "burst_ms": 0}}),
            "rate_limited_bursts.period_ms",
        ),
        (
            json!({"rate_limited_bursts": {"period_ms": 10, "burst_ms": 20}}),
            "rate_limited_bursts.burst_ms",
        ),
    ] {
        let reply = send_raw(
            &emulator,
            Method::PUT,
            "/_emulator/faults",
            &[("content-type", "application/json")],
            faults.to_string().into_bytes(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{faults}");
        assert!(reply.text.contains(field), "{field}: {}", reply.text);
    }
}

#[tokio::test]
async fn an_injected_answer_replies_with_its_status_and_code_to_its_target_only() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    set_faults(
        &emulator,
        json!({"target": {"operation": "createDirectory"},
               "answer": {"status": 409, "code": "DIRECTORY_EXISTS"}}),
    )
    .await;
    let conflict = call(
        &emulator,
        Method::POST,
        "/api/v1/directories",
        &token,
        Some(json!({"name": "staff", "org_code": "org_x", "provider_code": "okta"})),
    )
    .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["errors"][0]["code"], "DIRECTORY_EXISTS");
    let users = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(users.status, StatusCode::OK);

    set_faults(
        &emulator,
        json!({"target": "api", "answer": {"status": 401}}),
    )
    .await;
    let rejected = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rejected.body["errors"][0]["code"], "INJECTED_ERROR");
    // The token endpoint is not targeted.
    demo_token(&emulator, None).await;

    // At the token endpoint, the answer has the OAuth error shape.
    let form = token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    for (answer, status, error) in [
        (
            json!({"status": 400, "code": "invalid_scope"}),
            400,
            "invalid_scope",
        ),
        (json!({"status": 401}), 401, "invalid_client"),
        (json!({"status": 403}), 403, "invalid_request"),
        (json!({"status": 503}), 503, "temporarily_unavailable"),
        (json!({"status": 500}), 500, "server_error"),
    ] {
        set_faults(&emulator, json!({"target": "token", "answer": answer})).await;
        let reply = token_request(&emulator, &form).await;
        assert_eq!(reply.status.as_u16(), status, "{answer}");
        assert_eq!(reply.body["error"], error, "{answer}");
        assert!(
            reply.body["error_description"].is_string(),
            "{}",
            reply.text
        );
        assert!(reply.body.get("errors").is_none(), "{}", reply.text);
    }

    let reply = send_raw(
        &emulator,
        Method::PUT,
        "/_emulator/faults",
        &[("content-type", "application/json")],
        json!({"answer": {"status": 200}}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("answer.status"), "{}", reply.text);
}
