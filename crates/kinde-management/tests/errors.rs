//! Failures a caller must be able to act on: Kinde's error answers, an oversized response,
//! rejected credentials, and lists whose pagination goes wrong.
//!
//! Tests against the emulator run over loopback in real time; tests against a stand-in service
//! run in memory on paused time. None asserts a duration.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use http::StatusCode;
use http_body_util::StreamBody;
use kinde_management::params::{
    DeleteOrganizationParams, GetOrganizationUsersParams, GetUsersParams, SearchUsersParams,
};
use kinde_management::{Client, ErrorKind};
use serde_json::json;
use tower_m2m::ReplayBody;
use tower_m2m::token::CredentialsRejected;

use common::{Kinde, create_user};

/// A stand-in for Kinde: answers each request with `answer(n, request)`, `n` counting from 0.
fn stand_in<F>(answer: F) -> (Client, Arc<AtomicUsize>)
where
    F: Fn(usize, &http::Request<ReplayBody>) -> String + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let answer = Arc::new(answer);
    let service = tower::service_fn(move |request: http::Request<ReplayBody>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let body = answer(n, &request);
        async move { Ok::<_, Infallible>(http::Response::new(body)) }
    });
    let client = Client::from_service("https://example.kinde.com", service).expect("base url");
    (client, calls)
}

/// The value of the query parameter `name` in `request`.
fn query_value(request: &http::Request<ReplayBody>, name: &str) -> Option<String> {
    let query = request.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_organization_is_a_404_with_kindes_code_and_the_request_id() {
    let kinde = Kinde::start().await;
    let client = kinde.client();

    let error = client
        .delete_organization(&DeleteOrganizationParams {
            org_code: "org_doesnotexist".to_owned(),
        })
        .await
        .expect_err("no such organization");

    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(error.code(), Some("ORGANIZATION_NOT_FOUND"));
    assert_eq!(error.operation(), "deleteOrganization");
    assert!(!error.is_retryable());
    // The request id is the one that reached Kinde, so both sides' logs can be joined.
    let sent = kinde.api_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, 404);
    let request_id = error.request_id().expect("a request id");
    assert_eq!(
        sent[0].headers.get("x-request-id").map(String::as_str),
        Some(request_id)
    );
    assert!(
        error.to_string().contains("ORGANIZATION_NOT_FOUND"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_page_is_refused_with_page_size_limit_exceeded() {
    let kinde = Kinde::start_with(kinde_emulator::Emulator::builder().page_size_limit(50)).await;
    let client = kinde.client();
    let too_big = GetUsersParams {
        page_size: Some(51),
        ..Default::default()
    };

    let error = client
        .get_users(&too_big)
        .await
        .expect_err("over the limit");
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(error.code(), Some("PAGE_SIZE_LIMIT_EXCEEDED"));
    assert!(!error.kinde_errors()[0].message.is_empty());

    // The stream gives the same error as its only item, and stops.
    let mut users = client.get_users_stream(too_big);
    let first = users.next().await.expect("one item");
    assert_eq!(
        first.expect_err("an error").code(),
        Some("PAGE_SIZE_LIMIT_EXCEEDED")
    );
    assert!(users.next().await.is_none());
    assert_eq!(kinde.api_requests().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_the_size_limit_is_refused_unread() {
    let kinde = Kinde::start().await;
    let client = kinde.client();
    for n in 0..5 {
        create_user(&client, &format!("user{n}@example.com"), "Test", "User").await;
    }
    let small = client.clone().max_response_bytes(256);

    let error = small
        .get_users(&GetUsersParams::default())
        .await
        .expect_err("five users are more than 256 bytes");
    assert_eq!(error.kind(), ErrorKind::ResponseTooLarge);
    assert_eq!(error.status(), None);
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("256"), "{error}");

    // The same client, under the default limit, reads it.
    let users = client
        .get_users(&GetUsersParams::default())
        .await
        .expect("getUsers");
    assert_eq!(users.users.map(|users| users.len()), Some(5));
}

#[tokio::test(start_paused = true)]
async fn a_body_of_unknown_length_is_cut_off_at_the_limit() {
    // No content-length: the limit has to be enforced while reading.
    let frames_sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&frames_sent);
    let service = tower::service_fn(move |_request: http::Request<ReplayBody>| {
        let counter = Arc::clone(&counter);
        let frames = stream::iter(0..1_000).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(&[b' '; 1024])))
        });
        let body = StreamBody::new(frames);
        async move { Ok::<_, Infallible>(http::Response::new(body)) }
    });
    let client = Client::from_service("https://example.kinde.com", service)
        .expect("base url")
        .max_response_bytes(10 * 1024);

    let error = client
        .get_users(&GetUsersParams::default())
        .await
        .expect_err("a megabyte is over ten kilobytes");

    assert_eq!(error.kind(), ErrorKind::ResponseTooLarge);
    let read = frames_sent.load(Ordering::SeqCst);
    assert!(read <= 11, "read {read} frames of a 10-frame limit");
}

#[tokio::test(start_paused = true)]
async fn an_error_status_with_an_oversized_body_keeps_its_status() {
    let service = tower::service_fn(|_request: http::Request<ReplayBody>| async {
        let page = "<html>".to_owned() + &"busy ".repeat(1_000) + "</html>";
        let response = http::Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(page)
            .expect("a response");
        Ok::<_, Infallible>(response)
    });
    let client = Client::from_service("https://example.kinde.com", service)
        .expect("base url")
        .max_response_bytes(1024);

    let error = client
        .get_users(&GetUsersParams::default())
        .await
        .expect_err("503");

    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(error.kinde_errors().is_empty());
    assert!(
        error.is_retryable(),
        "a 503 of an idempotent call may be retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_credentials_rejected_and_asked_once() {
    const WRONG_SECRET: &str = "not-the-demo-secret-4f2a";
    let kinde = Kinde::start().await;
    let client = kinde.client_with_secret(WRONG_SECRET);

    for _ in 0..3 {
        let error = client
            .get_users(&GetUsersParams::default())
            .await
            .expect_err("the secret is wrong");
        assert_eq!(error.kind(), ErrorKind::CredentialsRejected);
        assert!(!error.is_retryable());
        let rejected = error
            .middleware_error::<CredentialsRejected>()
            .expect("the token layer's error is kept");
        assert_eq!(rejected.status(), StatusCode::UNAUTHORIZED);
        assert!(!format!("{error} {error:?}").contains(WRONG_SECRET));
    }

    // The rejection is remembered: one token request, and nothing reached the API.
    let stats = kinde.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["api_requests"], 0, "{stats}");
}

#[tokio::test(start_paused = true)]
async fn a_next_token_that_repeats_ends_the_stream_with_an_error() {
    // Page 1 hands out `again`, and so does every page after it.
    let (client, calls) = stand_in(|n, _request| {
        json!({"code": "OK", "users": [{"id": format!("kp_{n}")}], "next_token": "again"})
            .to_string()
    });

    let items: Vec<_> = client
        .get_users_stream(GetUsersParams::default())
        .take(10)
        .collect()
        .await;

    assert_eq!(items.len(), 2, "{items:?}");
    let first = items[0].as_ref().expect("the first page's user");
    assert_eq!(first.id.as_deref(), Some("kp_0"));
    let error = items[1].as_ref().expect_err("the repeat is an error");
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.operation(), "getUsers");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_next_token_pointing_back_to_the_start_ends_the_stream() {
    // Resuming from `resume`, the page points back to `resume`: reading on would loop.
    let (client, calls) = stand_in(|_n, request| {
        assert_eq!(
            query_value(request, "next_token").as_deref(),
            Some("resume")
        );
        json!({"users": [{"id": "kp_1"}], "next_token": "resume"}).to_string()
    });

    let outcome: Result<Vec<_>, _> = client
        .get_users_stream(GetUsersParams {
            next_token: Some("resume".to_owned()),
            ..Default::default()
        })
        .try_collect()
        .await;

    assert_eq!(outcome.expect_err("a loop").kind(), ErrorKind::Decode);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_fetches_the_next_page_only_when_asked() {
    let (client, calls) = stand_in(|n, request| {
        assert_eq!(query_value(request, "page_size").as_deref(), Some("2"));
        let token = (n > 0).then(|| format!("page{n}"));
        assert_eq!(query_value(request, "next_token"), token);
        json!({
            "organization_users": [{"id": format!("kp_{n}a")}, {"id": format!("kp_{n}b")}],
            "next_token": format!("page{}", n + 1),
        })
        .to_string()
    });

    let mut members = client.get_organization_users_stream(GetOrganizationUsersParams {
        org_code: "org_1".to_owned(),
        page_size: Some(2),
        ..Default::default()
    });
    let three: Vec<_> = (&mut members).take(3).try_collect().await.expect("pages");

    let ids: Vec<_> = three.iter().filter_map(|user| user.id.as_deref()).collect();
    assert_eq!(ids, ["kp_0a", "kp_0b", "kp_1a"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "no page fetched ahead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_users_stops_at_the_short_page() {
    let kinde = Kinde::start().await;
    let client = kinde.client();
    let mut ids = Vec::new();
    for n in 0..10 {
        let email = format!("searchable{n}@example.com");
        ids.push(create_user(&client, &email, "Test", "User").await);
    }

    let found: Vec<_> = client
        .search_users_stream(SearchUsersParams {
            query: Some("searchable".to_owned()),
            page_size: Some(4),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("every page");

    let found: Vec<_> = found.into_iter().filter_map(|user| user.id).collect();
    assert_eq!(found, ids);
    // Pages of 4, 4 and 2: the third is short, so there is no fourth request.
    let searches: Vec<_> = kinde
        .api_requests()
        .await
        .into_iter()
        .filter(|request| request.operation_id.as_deref() == Some("searchUsers"))
        .collect();
    assert_eq!(searches.len(), 3);
    let cursors: Vec<_> = searches
        .iter()
        .map(|request| request.query_value("starting_after"))
        .collect();
    assert_eq!(
        cursors,
        [None, Some(ids[3].clone()), Some(ids[7].clone())],
        "each page starts after the last user of the one before"
    );
}

#[tokio::test(start_paused = true)]
async fn search_users_stops_at_an_empty_page_after_full_ones() {
    // Eight results in pages of four: the third page is empty and ends the stream.
    let (client, calls) = stand_in(|n, request| {
        assert_eq!(query_value(request, "page_size").as_deref(), Some("4"));
        let results: Vec<_> = if n < 2 {
            (0..4)
                .map(|i| json!({"id": format!("kp_{n}{i}")}))
                .collect()
        } else {
            Vec::new()
        };
        json!({"code": "OK", "results": results}).to_string()
    });

    let found: Vec<_> = client
        .search_users_stream(SearchUsersParams {
            page_size: Some(4),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("every page");

    assert_eq!(found.len(), 8);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_full_page_without_an_id_to_continue_after_ends_the_stream() {
    let (client, calls) = stand_in(|_n, _request| {
        json!({"code": "OK", "results": [{"id": "kp_1"}, {"email": "no-id@example.com"}]})
            .to_string()
    });

    let items: Vec<_> = client
        .search_users_stream(SearchUsersParams {
            page_size: Some(2),
            ..Default::default()
        })
        .collect()
        .await;

    assert_eq!(items.len(), 1, "the page cannot be continued: {items:?}");
    let error = items[0].as_ref().expect_err("an error");
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert!(error.to_string().contains("no id"), "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
