//! The core's path over a stand-in for Kinde: who gets through, what goes upstream, what is
//! audited.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kinde_management::params::GetUsersParams;
use tower_m2m::ReplayBody;

use super::*;
use crate::caller::ApiKeyHash;
use crate::{AuditLog, Profile};

const KEY: &str = "the-billing-key";

fn get_users_rpc() -> &'static Rpc {
    static RPC: std::sync::OnceLock<Rpc> = std::sync::OnceLock::new();
    RPC.get_or_init(|| Rpc {
        service: "kinde.management.v1.UsersService",
        method: "GetUsers",
        operation: kinde_api::operation("getUsers").unwrap(),
        streaming: false,
    })
}

fn get_organization_rpc() -> &'static Rpc {
    static RPC: std::sync::OnceLock<Rpc> = std::sync::OnceLock::new();
    RPC.get_or_init(|| Rpc {
        service: "kinde.management.v1.OrganizationsService",
        method: "GetOrganization",
        operation: kinde_api::operation("getOrganization").unwrap(),
        streaming: false,
    })
}

/// What reached the stand-in for Kinde.
#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<http::Request<ReplayBody>>>,
}

fn gateway(seen: Arc<Seen>, audit: AuditLog) -> Gateway {
    let kinde = tower::service_fn(move |request: http::Request<ReplayBody>| {
        let seen = seen.clone();
        async move {
            seen.requests.lock().unwrap().push(request);
            let page = r#"{"code":"OK","users":[{"id":"kp_1"}],"next_token":null}"#;
            Ok::<_, Infallible>(http::Response::new(page.to_owned()))
        }
    });
    let client = Client::from_service("https://mybusiness.kinde.com", kinde).unwrap();
    Gateway::builder()
        .profile("reader", Profile::new(client))
        .caller(
            Caller::new("billing", "reader")
                .api_key_hash(ApiKeyHash::of_key(KEY))
                .allow("kinde.management.v1.UsersService/*"),
        )
        .audit_log(audit)
        .build()
        .unwrap()
}

fn request(key: Option<&str>) -> tonic::Request<()> {
    let mut request = tonic::Request::new(());
    if let Some(key) = key {
        let value = format!("Bearer {key}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

async fn call(
    gateway: &Gateway,
    rpc: &'static Rpc,
    request: tonic::Request<()>,
) -> Result<tonic::Response<usize>, tonic::Status> {
    gateway
        .unary(rpc, request, |client: Client, ()| async move {
            let page = client.get_users(&GetUsersParams::default()).await?;
            Ok(page.users.unwrap_or_default().len())
        })
        .await
}

fn audit_lines(audit: &AuditLog) -> Vec<serde_json::Value> {
    audit
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn unknown_wrong_and_disallowed_callers_never_reach_kinde() {
    let seen = Arc::new(Seen::default());
    let audit = AuditLog::memory();
    let gateway = gateway(seen.clone(), audit.clone());

    let missing = call(&gateway, get_users_rpc(), request(None))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    let wrong = call(&gateway, get_users_rpc(), request(Some("nope")))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let mut basic = request(None);
    basic
        .metadata_mut()
        .insert("authorization", format!("Basic {KEY}").parse().unwrap());
    assert_eq!(
        call(&gateway, get_users_rpc(), basic)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let denied = call(&gateway, get_organization_rpc(), request(Some(KEY)))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    assert!(seen.requests.lock().unwrap().is_empty());
    let lines = audit_lines(&audit);
    let statuses: Vec<_> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "PERMISSION_DENIED"
        ]
    );
    assert_eq!(lines[3]["caller"], "billing");
    assert_eq!(lines[0]["caller"], serde_json::Value::Null);
    assert!(lines.iter().all(|l| l["attempts"] == 0));
}

#[tokio::test]
async fn an_allowed_call_carries_the_request_id_and_not_the_callers_key() {
    let seen = Arc::new(Seen::default());
    let audit = AuditLog::memory();
    let gateway = gateway(seen.clone(), audit.clone());

    let mut request = request(Some(KEY));
    request
        .metadata_mut()
        .insert(REQUEST_ID, "trace-me-42".parse().unwrap());
    let response = call(&gateway, get_users_rpc(), request).await.unwrap();
    assert_eq!(*response.get_ref(), 1);
    assert_eq!(response.metadata().get(REQUEST_ID).unwrap(), "trace-me-42");

    let requests = seen.requests.lock().unwrap();
    let upstream = &requests[0];
    assert_eq!(
        upstream
            .extensions()
            .get::<RequestId>()
            .unwrap()
            .header_value(),
        "trace-me-42"
    );
    assert!(upstream.headers().get("authorization").is_none());
    assert!(!format!("{:?}", upstream.headers()).contains(KEY));

    let line = &audit_lines(&audit)[0];
    assert_eq!(line["status"], "OK");
    assert_eq!(line["caller"], "billing");
    assert_eq!(line["operation"], "getUsers");
    assert_eq!(line["rpc"], "kinde.management.v1.UsersService/GetUsers");
    assert_eq!(line["request_id"], "trace-me-42");
    assert!(!audit.lines()[0].contains(KEY));
}

#[tokio::test]
async fn a_failure_carries_the_minted_request_id() {
    let gateway = gateway(Arc::default(), AuditLog::memory());
    let status = call(&gateway, get_users_rpc(), request(None))
        .await
        .unwrap_err();
    let id = status.metadata().get(REQUEST_ID).unwrap().to_str().unwrap();
    assert_eq!(id.len(), 36);
}

#[tokio::test]
async fn the_callers_deadline_ends_a_slow_call() {
    let gateway = gateway(Arc::default(), AuditLog::memory());
    let mut request = request(Some(KEY));
    request
        .metadata_mut()
        .insert("grpc-timeout", "50m".parse().unwrap());
    let started = std::time::Instant::now();
    let status = gateway
        .unary(get_users_rpc(), request, |_client: Client, ()| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_caller_over_its_quota_is_refused_at_once() {
    let client = Client::from_service(
        "https://mybusiness.kinde.com",
        tower::service_fn(|_: http::Request<ReplayBody>| async {
            Ok::<_, Infallible>(http::Response::new(String::from("{}")))
        }),
    )
    .unwrap();
    let gateway = Gateway::builder()
        .profile("reader", Profile::new(client))
        .caller(
            Caller::new("noisy", "reader")
                .api_key_hash(ApiKeyHash::of_key(KEY))
                .allow("*")
                .max_in_flight(1),
        )
        .audit_log(AuditLog::memory())
        .build()
        .unwrap();

    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            gateway
                .unary(
                    get_users_rpc(),
                    request(Some(KEY)),
                    |_client: Client, ()| async move {
                        entered_tx.send(()).unwrap();
                        release_rx.await.unwrap();
                        Ok(())
                    },
                )
                .await
        })
    };
    entered_rx.await.unwrap();
    let second = gateway
        .unary(
            get_users_rpc(),
            request(Some(KEY)),
            |_client: Client, ()| async { Ok(()) },
        )
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::ResourceExhausted);
    release_tx.send(()).unwrap();
    first.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stream_is_pulled_only_as_the_caller_reads_and_audited_at_its_end() {
    let audit = AuditLog::memory();
    let gateway = gateway(Arc::default(), audit.clone());
    let pulled = Arc::new(AtomicUsize::new(0));

    let counter = pulled.clone();
    let response = gateway
        .server_stream(
            get_users_rpc(),
            request(Some(KEY)),
            move |_client: Client, ()| {
                let items = futures_util::stream::iter(0..1000).map(move |i| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, kinde_management::Error>(i)
                });
                Ok(items)
            },
        )
        .await
        .unwrap();
    let mut stream = response.into_inner();
    let first: Vec<_> = (&mut stream).take(3).collect().await;
    assert_eq!(first.len(), 3);
    assert_eq!(pulled.load(Ordering::SeqCst), 3, "nothing is read ahead");
    assert!(audit.lines().is_empty(), "audited when the stream ends");

    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest.len(), 997);
    let line = &audit_lines(&audit)[0];
    assert_eq!(line["status"], "OK");
    assert_eq!(line["items"], 1000);
}

#[tokio::test]
async fn a_stream_dropped_by_the_caller_is_audited_as_cancelled() {
    let audit = AuditLog::memory();
    let gateway = gateway(Arc::default(), audit.clone());
    let response = gateway
        .server_stream(
            get_users_rpc(),
            request(Some(KEY)),
            |_client: Client, ()| {
                Ok(futures_util::stream::iter(
                    (0..10).map(Ok::<_, kinde_management::Error>),
                ))
            },
        )
        .await
        .unwrap();
    let mut stream = response.into_inner();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let line = &audit_lines(&audit)[0];
    assert_eq!(line["status"], "CANCELLED");
    assert_eq!(line["items"], 1);
}

#[tokio::test]
async fn a_refused_stream_call_is_audited_once() {
    let audit = AuditLog::memory();
    let gateway = gateway(Arc::default(), audit.clone());
    let refused = gateway
        .server_stream(get_users_rpc(), request(None), |_client: Client, ()| {
            Ok(futures_util::stream::empty::<
                Result<(), kinde_management::Error>,
            >())
        })
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(audit.lines().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_unary_call_the_caller_cancels_is_still_audited() {
    let audit = AuditLog::memory();
    let gateway = gateway(Arc::default(), audit.clone());
    let call = gateway.unary(
        get_users_rpc(),
        request(Some(KEY)),
        |_client: Client, ()| async { std::future::pending::<Result<(), CallError>>().await },
    );

    // The caller gives up: tonic drops the handler's future.
    let outcome = tokio::time::timeout(Duration::from_secs(1), call).await;
    assert!(outcome.is_err(), "the call never finishes on its own");

    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "CANCELLED");
    assert_eq!(lines[0]["caller"], "billing");
}
