//! Every row of the mapping table, with errors made by a real client over stand-ins for Kinde.

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::time::Duration;

use kinde_management::Client;
use kinde_management::params::GetUsersParams;
use tonic_types::StatusExt;
use tower::ServiceBuilder;
use tower_m2m::breaker::{BreakerConfig, CircuitBreakerLayer};
use tower_m2m::ratelimit::{RateLimitConfig, RateLimitLayer};
use tower_m2m::timeout::{Deadline, OverallTimeoutLayer};
use tower_m2m::{BoxError, ReplayBody};

use super::*;

const BASE: &str = "https://mybusiness.kinde.com";

/// A client whose every request gets `status` with `body` and `headers`.
fn answering(status: u16, headers: &'static [(&'static str, &'static str)]) -> Client {
    let kinde = tower::service_fn(move |_: http::Request<ReplayBody>| async move {
        let mut response = http::Response::builder().status(status);
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        let body = r#"{"errors":[{"code":"SOME_CODE","message":"ada@example.com is bad"}]}"#;
        Ok::<_, Infallible>(response.body(body.to_owned()).unwrap())
    });
    Client::from_service(BASE, kinde).unwrap()
}

/// A client whose every request fails in the transport with `kind`.
fn failing(kind: io::ErrorKind) -> Client {
    let kinde = tower::service_fn(move |_: http::Request<ReplayBody>| async move {
        Err::<http::Response<String>, BoxError>(Box::new(io::Error::from(kind)))
    });
    Client::from_service(BASE, kinde).unwrap()
}

fn get() -> &'static Operation {
    kinde_api::operation("getUsers").unwrap()
}

fn create() -> &'static Operation {
    kinde_api::operation("createUser").unwrap()
}

async fn get_users(client: &Client) -> Error {
    client
        .get_users(&GetUsersParams::default())
        .await
        .unwrap_err()
}

async fn create_user(client: &Client) -> Error {
    client.create_user(None).await.unwrap_err()
}

/// The code, the `ErrorInfo` reason and the `RetryInfo` delay of `failure`.
fn map(failure: Failure, operation: &Operation) -> (Code, String, Option<Duration>, tonic::Status) {
    let status = to_status(&failure, operation);
    let details = status.get_error_details();
    let info = details.error_info().expect("every status has ErrorInfo");
    assert_eq!(info.domain, ERROR_DOMAIN);
    assert_eq!(info.metadata["operation"], operation.id);
    let delay = details.retry_info().and_then(|r| r.retry_delay);
    (status.code(), info.reason.clone(), delay, status)
}

fn kinde(error: Error) -> Failure {
    Failure::Call(CallError::Kinde(error))
}

#[tokio::test]
async fn statuses_map_by_the_table() {
    let rows: [(u16, Code, &str); 5] = [
        (400, Code::InvalidArgument, "KINDE_BAD_REQUEST"),
        (403, Code::PermissionDenied, "KINDE_SCOPE_MISSING"),
        (404, Code::NotFound, "KINDE_NOT_FOUND"),
        (409, Code::AlreadyExists, "KINDE_CONFLICT"),
        (401, Code::Internal, "KINDE_CREDENTIALS_REJECTED"),
    ];
    for (http, code, reason) in rows {
        let error = get_users(&answering(http, &[])).await;
        let (got, got_reason, delay, status) = map(kinde(error), get());
        assert_eq!((got, got_reason.as_str()), (code, reason), "{http}");
        assert_eq!(delay, None, "{http}");
        assert!(
            !status.message().contains("ada@"),
            "Kinde's message is never copied"
        );
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.metadata["kinde_code"], "SOME_CODE");
    }
}

#[tokio::test]
async fn a_403_names_the_required_scope() {
    let error = get_users(&answering(403, &[])).await;
    let (_, _, _, status) = map(kinde(error), get());
    let info = status.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata["required_scope"], "read:users");
}

#[tokio::test]
async fn throttling_is_resource_exhausted_with_the_servers_delay_for_any_operation() {
    let throttled = || answering(429, &[("retry-after", "7")]);
    for (error, operation) in [
        (get_users(&throttled()).await, get()),
        (create_user(&throttled()).await, create()),
    ] {
        let (code, reason, delay, _) = map(kinde(error), operation);
        assert_eq!(
            (code, reason.as_str()),
            (Code::ResourceExhausted, "RATE_LIMITED")
        );
        assert_eq!(delay, Some(Duration::from_secs(7)));
    }
}

#[tokio::test]
async fn server_errors_are_unavailable_only_when_repeating_is_safe() {
    let error = get_users(&answering(503, &[])).await;
    let (code, reason, delay, _) = map(kinde(error), get());
    assert_eq!(
        (code, reason.as_str()),
        (Code::Unavailable, "KINDE_UNAVAILABLE")
    );
    assert_eq!(delay, Some(DEFAULT_RETRY_DELAY));

    let error = create_user(&answering(500, &[])).await;
    let (code, reason, delay, _) = map(kinde(error), create());
    assert_eq!((code, reason.as_str()), (Code::Unknown, "OUTCOME_UNKNOWN"));
    assert_eq!(delay, None);
}

#[tokio::test]
async fn transport_failures_depend_on_whether_the_request_left() {
    let refused = create_user(&failing(io::ErrorKind::ConnectionRefused)).await;
    let (code, reason, _, _) = map(kinde(refused), create());
    assert_eq!(
        (code, reason.as_str()),
        (Code::Unavailable, "KINDE_UNREACHABLE")
    );

    let reset = create_user(&failing(io::ErrorKind::ConnectionReset)).await;
    let (code, reason, _, _) = map(kinde(reset), create());
    assert_eq!((code, reason.as_str()), (Code::Unknown, "OUTCOME_UNKNOWN"));

    let reset = get_users(&failing(io::ErrorKind::ConnectionReset)).await;
    let (code, reason, _, _) = map(kinde(reset), get());
    assert_eq!(
        (code, reason.as_str()),
        (Code::Unavailable, "KINDE_UNAVAILABLE")
    );
}

#[tokio::test]
async fn the_callers_deadline_is_deadline_exceeded() {
    let never = tower::service_fn(|_: http::Request<ReplayBody>| async {
        std::future::pending::<Result<http::Response<String>, Infallible>>().await
    });
    let service = ServiceBuilder::new()
        .layer(OverallTimeoutLayer::caller_deadline_only())
        .service(never);
    let client = Client::from_service(BASE, service)
        .unwrap()
        .with_extension(Deadline::after(Duration::from_millis(1)));
    let error = create_user(&client).await;
    let (code, reason, _, _) = map(kinde(error), create());
    assert_eq!(
        (code, reason.as_str()),
        (Code::DeadlineExceeded, "DEADLINE_EXCEEDED")
    );

    let (code, _, _, _) = map(Failure::Deadline, create());
    assert_eq!(code, Code::DeadlineExceeded);
}

#[tokio::test]
async fn an_open_breaker_is_unavailable_with_retry_info_even_for_creates() {
    let breaker = BreakerConfig::default()
        .minimum_calls(1)
        .open_duration(Duration::from_secs(30))
        .build("test")
        .unwrap();
    let failing_kinde = tower::service_fn(|_: http::Request<ReplayBody>| async {
        let response = http::Response::builder().status(500).body(String::new());
        Ok::<_, Infallible>(response.unwrap())
    });
    let service = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker))
        .service(failing_kinde);
    let client = Client::from_service(BASE, service).unwrap();
    let _opens = create_user(&client).await;

    let error = create_user(&client).await;
    let (code, reason, delay, _) = map(kinde(error), create());
    assert_eq!((code, reason.as_str()), (Code::Unavailable, "CIRCUIT_OPEN"));
    assert!(delay.is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(30)));
}

#[tokio::test]
async fn the_local_rate_limit_is_resource_exhausted() {
    let limiter = RateLimitConfig::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60))
        .unwrap()
        .burst(NonZeroU32::new(1).unwrap())
        .max_wait(Duration::ZERO)
        .build();
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter))
        .service(answering_service());
    let client = Client::from_service(BASE, service).unwrap();
    client.get_users(&GetUsersParams::default()).await.unwrap();

    let error = get_users(&client).await;
    let (code, reason, delay, _) = map(kinde(error), get());
    assert_eq!(
        (code, reason.as_str()),
        (Code::ResourceExhausted, "RATE_LIMITED")
    );
    assert!(delay.is_some());
}

fn answering_service() -> impl tower::Service<
    http::Request<ReplayBody>,
    Response = http::Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|_: http::Request<ReplayBody>| async {
        Ok::<_, Infallible>(http::Response::new(String::from("{}")))
    })
}

#[test]
fn gateway_rejections_map_by_the_table() {
    let rows = [
        (
            Failure::Unauthenticated,
            Code::Unauthenticated,
            "CALLER_UNAUTHENTICATED",
        ),
        (
            Failure::NotAllowed,
            Code::PermissionDenied,
            "RPC_NOT_ALLOWED",
        ),
        (
            Failure::QuotaExceeded,
            Code::ResourceExhausted,
            "CALLER_QUOTA_EXCEEDED",
        ),
    ];
    for (failure, code, reason) in rows {
        let (got, got_reason, _, _) = map(failure, get());
        assert_eq!((got, got_reason.as_str()), (code, reason));
    }

    let invalid = Failure::Call(CallError::InvalidArgument {
        field: "code",
        description: "required".to_owned(),
    });
    let (code, reason, _, status) = map(invalid, get());
    assert_eq!(
        (code, reason.as_str()),
        (Code::InvalidArgument, "INVALID_ARGUMENT")
    );
    let violations = status.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(violations.field_violations[0].field, "code");
}
