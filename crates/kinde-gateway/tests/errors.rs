//! The error table (`kinde_gateway::status`), row by row, over real loopback sockets: each test
//! makes the emulator (or the gateway's own limits) fail one way and asserts the gRPC code, the
//! `ErrorInfo` reason, `RetryInfo` where the table promises it, and what reached the emulator.
//!
//! Rows covered elsewhere: 400, 404, 429, 403, the token endpoint rejecting the profile,
//! connection refused, token unavailable, deadline and the breaker (`e2e.rs`); unknown callers
//! and disallowed RPCs (`e2e.rs`); invalid requests (`e2e.rs`).

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Harness, demo_request, has_retry_info, pb, reason, with_key};
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use kinde_gateway::caller::{ApiKeyHash, Caller};
use kinde_gateway::{AuditLog, Gateway, Profile, demo};
use serde_json::{Value, json};
use tonic::Code;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::retry::RetryBudget;

/// The code, reason and whether a `RetryInfo` is attached.
fn row(status: &tonic::Status) -> (Code, String, bool) {
    (status.code(), reason(status), has_retry_info(status))
}

/// The emulator's log entries for `method path` (faults answer before routing, so the log's
/// operation id is not always known).
async fn requests_for(harness: &Harness, method: &str, path: &str) -> Vec<Value> {
    harness
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == method && r["path"] == path)
        .collect()
}

/// A demo gateway whose upstream is `upstream` (built on the emulator's base URL).
async fn demo_with(
    upstream: impl FnOnce(tower_m2m::stack::UpstreamBuilder) -> tower_m2m::stack::UpstreamBuilder,
) -> Harness {
    let emulator = Emulator::builder().start().await.unwrap();
    let audit = AuditLog::memory();
    let upstream = upstream(demo::upstream(emulator.base_url()))
        .build()
        .unwrap();
    let gateway = demo::gateway_with(emulator.base_url(), upstream, audit.clone()).unwrap();
    Harness::serve(emulator, gateway, audit).await
}

#[tokio::test]
async fn a_conflict_is_already_exists_and_sent_once() {
    let harness = Harness::demo().await;
    // Kinde answers 409 DIRECTORY_EXISTS when the organization has a directory already.
    harness
        .faults(json!({"target": {"operation": "createDirectory"},
                       "answer": {"status": 409, "code": "DIRECTORY_EXISTS"}}))
        .await;
    let mut directories =
        pb::directories_service_client::DirectoriesServiceClient::new(harness.channel().await);
    let error = directories
        .create_directory(demo_request(pb::CreateDirectoryRequest {
            org_code: "org_dir".to_owned(),
            directory_name: "staff".to_owned(),
            provider_code: "okta".to_owned(),
            enterprise_connection_id: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::AlreadyExists, "KINDE_CONFLICT".to_owned(), false)
    );
    use tonic_types::StatusExt;
    let info = error.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata["kinde_code"], "DIRECTORY_EXISTS");
    let sent = requests_for(&harness, "POST", "/api/v1/directories").await;
    assert_eq!(sent.len(), 1, "a conflict is not retried");
    assert_eq!(sent[0]["status"], 409);
    harness.stop().await;
}

#[tokio::test]
async fn another_client_error_is_failed_precondition() {
    let harness = Harness::demo().await;
    harness
        .faults(json!({"target": {"operation": "getUsers"},
                       "answer": {"status": 405, "code": "METHOD_NOT_ALLOWED"}}))
        .await;
    let mut users = harness.users().await;
    let error = users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::FailedPrecondition, "KINDE_REJECTED".to_owned(), false)
    );
    assert_eq!(
        requests_for(&harness, "GET", "/api/v1/users").await.len(),
        1
    );
    harness.stop().await;
}

#[tokio::test]
async fn the_local_rate_limit_is_resource_exhausted_and_never_reaches_kinde() {
    // One request per minute, and a permit wait bounded at 50 ms.
    let rate = RateLimitConfig::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60))
        .unwrap()
        .burst(NonZeroU32::new(1).unwrap())
        .max_wait(Duration::from_millis(50));
    let harness = demo_with(|upstream| upstream.rate_limit(rate)).await;
    let mut users = harness.users().await;
    users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap();
    let error = users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::ResourceExhausted, "RATE_LIMITED".to_owned(), true)
    );
    assert_eq!(harness.stats().await["api_requests"], 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_401_after_the_replay_is_internal_credentials_rejected() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;
    users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap();
    // The stack ignores rejections of a token younger than its invalidation grace (5 s), so
    // that a burst of 401s costs one token fetch; let the token age past it.
    tokio::time::sleep(tower_m2m::token::DEFAULT_INVALIDATION_GRACE + Duration::from_millis(500))
        .await;
    // Kinde stops accepting the profile's tokens, fresh ones included.
    harness
        .faults(json!({"target": "api", "answer": {"status": 401}}))
        .await;
    let error = users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (
            Code::Internal,
            "KINDE_CREDENTIALS_REJECTED".to_owned(),
            false
        )
    );
    let sent = requests_for(&harness, "GET", "/api/v1/users").await;
    let statuses: Vec<&Value> = sent.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [200, 401, 401],
        "one call, then the 401 and its replay"
    );
    // The replay went out with a fresh token.
    assert_eq!(harness.stats().await["token_requests"], 2);
    harness.stop().await;
}

#[tokio::test]
async fn an_exhausted_retry_budget_is_resource_exhausted() {
    // No retries at all: the budget never allows one.
    let harness = demo_with(|upstream| {
        upstream.retry_budget(RetryBudget::new(Duration::from_secs(1), 0, 0.0))
    })
    .await;
    // The connection drops before Kinde processes the read: an idempotent call the stack would
    // retry, if the budget let it.
    harness
        .faults(json!({"target": {"operation": "getUsers"}, "close_before_ratio": 1.0}))
        .await;
    let mut users = harness.users().await;
    let error = users
        .get_users(demo_request(pb::GetUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (
            Code::ResourceExhausted,
            "RETRY_BUDGET_EXHAUSTED".to_owned(),
            true
        )
    );
    let sent = requests_for(&harness, "GET", "/api/v1/users").await;
    assert!(sent.len() <= 1, "no retry: {sent:?}");
    harness.stop().await;
}

#[tokio::test]
async fn a_create_closed_after_processing_is_outcome_unknown_and_sent_once() {
    let harness = Harness::demo().await;
    harness
        .faults(json!({"target": {"operation": "createUser"}, "close_after_ratio": 1.0}))
        .await;
    let mut users = harness.users().await;
    let error = users
        .create_user(demo_request(pb::CreateUserRequest {
            provided_id: Some("outcome-unknown-1".to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::Unknown, "OUTCOME_UNKNOWN".to_owned(), false)
    );
    let sent = requests_for(&harness, "POST", "/api/v1/user").await;
    assert_eq!(sent.len(), 1, "a create is never repeated: {sent:?}");
    assert_eq!(sent[0]["connection_closed"], true);
    // Kinde did create the user: repeating blindly would have made two.
    let state = harness.control_get("state").await;
    let created = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["provided_id"] == "outcome-unknown-1")
        .count();
    assert_eq!(created, 1, "{state}");
    harness.stop().await;
}

#[tokio::test]
async fn a_create_answered_5xx_is_outcome_unknown_and_sent_once() {
    let harness = Harness::demo().await;
    harness
        .faults(json!({"target": {"operation": "createUser"}, "error_ratio": 1.0}))
        .await;
    let mut users = harness.users().await;
    let error = users
        .create_user(demo_request(pb::CreateUserRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::Unknown, "OUTCOME_UNKNOWN".to_owned(), false)
    );
    assert_eq!(
        requests_for(&harness, "POST", "/api/v1/user").await.len(),
        1
    );
    harness.stop().await;
}

#[tokio::test]
async fn an_idempotent_read_failing_with_5xx_or_a_reset_is_unavailable_after_retries() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;
    for fault in [
        json!({"target": {"operation": "getUsers"}, "error_ratio": 1.0}),
        json!({"target": {"operation": "getUsers"}, "close_after_ratio": 1.0}),
    ] {
        harness.reset().await;
        harness.faults(fault.clone()).await;
        let error = users
            .get_users(demo_request(pb::GetUsersRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(
            row(&error),
            (Code::Unavailable, "KINDE_UNAVAILABLE".to_owned(), true),
            "{fault}"
        );
        let sent = requests_for(&harness, "GET", "/api/v1/users").await.len();
        assert!(
            sent >= 2,
            "an idempotent read is retried: {sent} for {fault}"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_caller_over_its_quota_is_resource_exhausted_before_kinde() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let credentials = KindeCredentials::new()
        .domain(&base)
        .client_id(DEMO_CLIENT_ID)
        .client_secret(DEMO_CLIENT_SECRET)
        .build()
        .unwrap();
    let audit = AuditLog::memory();
    let gateway = Gateway::builder()
        .profile(
            "p",
            Profile::kinde(&base, credentials, demo::upstream(&base).build().unwrap()).unwrap(),
        )
        .caller(
            Caller::new("one-at-a-time", "p")
                .api_key_hash(ApiKeyHash::of_key("quota-key"))
                .allow("*")
                .max_in_flight(1),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    harness
        .faults(json!({"target": "api", "latency": {"min_ms": 3000, "max_ms": 3000}}))
        .await;
    let users = harness.users().await;
    let slow = {
        let mut users = users.clone();
        tokio::spawn(async move {
            users
                .get_users(with_key(pb::GetUsersRequest::default(), "quota-key"))
                .await
        })
    };
    // The slow call takes the caller's only slot as soon as the gateway admits it, and keeps it
    // for the three seconds Kinde takes; half a second is plenty for it to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let error = users
        .clone()
        .get_users(with_key(pb::GetUsersRequest::default(), "quota-key"))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (
            Code::ResourceExhausted,
            "CALLER_QUOTA_EXCEEDED".to_owned(),
            true
        )
    );
    slow.await.unwrap().unwrap();
    assert_eq!(harness.stats().await["api_requests"], 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_refused_connection_to_the_api_is_unavailable_even_for_a_create() {
    let emulator = Emulator::builder().start().await.unwrap();
    // Tokens from the emulator, the API at a port that was free a moment ago.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url())
        .client_id(DEMO_CLIENT_ID)
        .client_secret(DEMO_CLIENT_SECRET)
        .build()
        .unwrap();
    let audit = AuditLog::memory();
    let gateway = Gateway::builder()
        .profile(
            "p",
            Profile::kinde(
                &closed,
                credentials,
                demo::upstream(&closed).build().unwrap(),
            )
            .unwrap(),
        )
        .caller(
            Caller::new("c", "p")
                .api_key_hash(ApiKeyHash::of_key("refused-key"))
                .allow("*"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut users = harness.users().await;
    // Nothing was sent, so even a create is safe to repeat.
    let error = users
        .create_user(with_key(pb::CreateUserRequest::default(), "refused-key"))
        .await
        .unwrap_err();
    assert_eq!(
        row(&error),
        (Code::Unavailable, "KINDE_UNREACHABLE".to_owned(), true)
    );
    let stats = harness.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["api_requests"], 0, "{stats}");
    harness.stop().await;
}
