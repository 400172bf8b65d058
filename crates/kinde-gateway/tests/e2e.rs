//! The gateway over real loopback sockets in front of a real emulator, called through tonic
//! clients. Real time: counts, codes and order are asserted, durations only with wide bounds.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, demo_request, has_retry_info, pb, reason, seeding_client, with_key};
use futures_util::StreamExt;
use kinde_emulator::{Application, Emulator};
use kinde_gateway::caller::{ApiKeyHash, Caller};
use kinde_gateway::{AuditLog, Gateway, Profile, demo};
use serde_json::json;
use tonic::Code;
use tower_m2m::breaker::BreakerConfig;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::stack::Upstream;

fn get_users() -> pb::GetUsersRequest {
    pb::GetUsersRequest::default()
}

#[tokio::test]
async fn the_request_id_round_trips_to_kinde_and_back() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;

    let mut request = demo_request(get_users());
    request
        .metadata_mut()
        .insert("x-request-id", "e2e-request-7".parse().unwrap());
    let response = users.get_users(request).await.unwrap();
    assert_eq!(
        response.metadata().get("x-request-id").unwrap(),
        "e2e-request-7"
    );

    let api = harness.api_requests().await;
    assert_eq!(api.len(), 1);
    assert_eq!(api[0]["headers"]["x-request-id"], "e2e-request-7");
    harness.stop().await;
}

#[tokio::test]
async fn the_callers_trace_continues_to_kinde_without_its_authorization() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;

    let mut request = demo_request(get_users());
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    request
        .metadata_mut()
        .insert("traceparent", parent.parse().unwrap());
    users.get_users(request).await.unwrap();

    let api = harness.api_requests().await;
    let sent = api[0]["headers"]["traceparent"].as_str().unwrap();
    assert!(
        sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{sent}"
    );
    let headers = api[0]["headers"].to_string();
    assert!(!headers.contains(common::DEMO_API_KEY), "{headers}");
    harness.stop().await;
}

#[tokio::test]
async fn unknown_callers_wrong_keys_and_disallowed_rpcs_never_reach_kinde() {
    let emulator = Emulator::builder().start().await.unwrap();
    let audit = AuditLog::memory();
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url())
        .client_id(kinde_emulator::DEMO_CLIENT_ID)
        .client_secret(kinde_emulator::DEMO_CLIENT_SECRET)
        .build()
        .unwrap();
    let profile = Profile::kinde(emulator.base_url(), credentials, Upstream::new("kinde")).unwrap();
    let gateway = Gateway::builder()
        .profile("reader", profile)
        .caller(
            Caller::new("reader", "reader")
                .api_key_hash(ApiKeyHash::of_key("reader-key"))
                .allow("kinde.management.v1.UsersService/GetUsers"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut users = harness.users().await;
    let mut organizations = harness.organizations().await;

    let missing = users
        .get_users(tonic::Request::new(get_users()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    let wrong = users
        .get_users(with_key(get_users(), "not-a-key"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let disallowed = organizations
        .get_organizations(with_key(
            pb::GetOrganizationsRequest::default(),
            "reader-key",
        ))
        .await
        .unwrap_err();
    assert_eq!(disallowed.code(), Code::PermissionDenied);
    let stream = users
        .stream_get_users(with_key(pb::StreamGetUsersRequest::default(), "reader-key"))
        .await
        .err()
        .unwrap();
    assert_eq!(stream.code(), Code::PermissionDenied);

    let stats = harness.stats().await;
    assert_eq!(stats["api_requests"], 0, "{stats}");
    assert_eq!(stats["token_requests"], 0, "{stats}");

    users
        .get_users(with_key(get_users(), "reader-key"))
        .await
        .unwrap();
    assert_eq!(harness.stats().await["api_requests"], 1);
    harness.stop().await;
}

#[tokio::test]
async fn two_callers_on_two_profiles_use_two_kinde_applications() {
    const OTHER_ID: &str = "otherapp000000000000000000000001";
    common::sweep::secret("other-secret-value");
    let emulator = Emulator::builder()
        .application(Application::new(OTHER_ID, "other-secret-value").scopes(["read:users"]))
        .start()
        .await
        .unwrap();
    let audit = AuditLog::memory();
    let upstream = Upstream::new("kinde");
    let profile = |id: &str, secret: &str| {
        let credentials = KindeCredentials::new()
            .domain(emulator.base_url())
            .client_id(id)
            .client_secret(secret.to_owned())
            .build()
            .unwrap();
        Profile::kinde(emulator.base_url(), credentials, upstream.clone()).unwrap()
    };
    let gateway = Gateway::builder()
        .profile(
            "demo",
            profile(
                kinde_emulator::DEMO_CLIENT_ID,
                kinde_emulator::DEMO_CLIENT_SECRET,
            ),
        )
        .profile("other", profile(OTHER_ID, "other-secret-value"))
        .caller(
            Caller::new("a", "demo")
                .api_key_hash(ApiKeyHash::of_key("key-a"))
                .allow("*"),
        )
        .caller(
            Caller::new("b", "other")
                .api_key_hash(ApiKeyHash::of_key("key-b"))
                .allow("*"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut users = harness.users().await;

    users
        .get_users(with_key(get_users(), "key-a"))
        .await
        .unwrap();
    users
        .get_users(with_key(get_users(), "key-b"))
        .await
        .unwrap();

    let clients: Vec<String> = harness
        .api_requests()
        .await
        .iter()
        .map(|r| r["client_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(clients, [kinde_emulator::DEMO_CLIENT_ID, OTHER_ID]);
    harness.stop().await;
}

#[tokio::test]
async fn two_hundred_concurrent_cold_calls_cost_one_token() {
    let harness = Harness::demo().await;
    let channel = harness.channel().await;

    let calls = (0..200).map(|_| {
        let mut users = pb::users_service_client::UsersServiceClient::new(channel.clone());
        tokio::spawn(async move { users.get_users(demo_request(get_users())).await })
    });
    let results = futures_util::future::join_all(calls).await;
    for result in results {
        result.unwrap().unwrap();
    }

    let stats = harness.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["api_requests"], 200, "{stats}");
    harness.stop().await;
}

#[tokio::test]
async fn a_stream_of_a_thousand_organization_users_yields_each_once() {
    let harness = Harness::demo().await;
    let seed = seeding_client(&harness.emulator);
    let organization = seed
        .create_organization(&kinde_api::models::CreateOrganizationRequest {
            name: "Streamers".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let org_code = organization.organization.unwrap().code.unwrap();
    let created = futures_util::stream::iter(0..1000)
        .map(|_| seed.create_user(None))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let ids: Vec<String> = created
        .into_iter()
        .map(|r| r.unwrap().id.unwrap())
        .collect();
    for batch in ids.chunks(100) {
        let users = batch
            .iter()
            .map(|id| kinde_api::models::AddOrganizationUsersRequestUser {
                id: Some(id.clone()),
                ..Default::default()
            })
            .collect();
        seed.add_organization_users(
            &kinde_management::params::AddOrganizationUsersParams {
                org_code: org_code.clone(),
            },
            Some(&kinde_api::models::AddOrganizationUsersRequest { users: Some(users) }),
        )
        .await
        .unwrap();
    }

    let before = harness.stats().await["api_requests"].as_u64().unwrap();
    let mut organizations = harness.organizations().await;
    let request = pb::StreamGetOrganizationUsersRequest {
        org_code: org_code.clone(),
        page_size: Some(10),
        ..Default::default()
    };
    let mut stream = organizations
        .stream_get_organization_users(demo_request(request))
        .await
        .unwrap()
        .into_inner();
    let mut seen = std::collections::BTreeSet::new();
    let mut count = 0;
    while let Some(item) = stream.next().await {
        let user = item.unwrap().organization_user.unwrap();
        seen.insert(user.id.unwrap());
        count += 1;
    }
    assert_eq!(count, 1000);
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen, ids.into_iter().collect());
    let pages = harness.stats().await["api_requests"].as_u64().unwrap() - before;
    assert!((100..=101).contains(&pages), "{pages} pages of 10");
    harness.stop().await;
}

#[tokio::test]
async fn health_is_not_serving_while_the_breaker_is_open_and_recovers() {
    let emulator = Emulator::builder().start().await.unwrap();
    let audit = AuditLog::memory();
    let upstream = demo::upstream(emulator.base_url())
        .breaker(
            BreakerConfig::default()
                .minimum_calls(2)
                .open_duration(Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    let gateway = demo::gateway_with(emulator.base_url(), upstream, audit.clone()).unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(harness.channel().await);
    let check = |service: &str| tonic_health::pb::HealthCheckRequest {
        service: service.to_owned(),
    };
    let status = |response: tonic::Response<tonic_health::pb::HealthCheckResponse>| {
        response.into_inner().status
    };
    const SERVING: i32 = 1;
    const NOT_SERVING: i32 = 2;
    assert_eq!(status(health.check(check("")).await.unwrap()), SERVING);
    assert_eq!(
        status(health.check(check("profile/demo")).await.unwrap()),
        SERVING
    );

    harness
        .faults(json!({"target": "api", "error_ratio": 1.0}))
        .await;
    let mut users = harness.users().await;
    let mut opened = false;
    for _ in 0..10 {
        let error = users
            .get_users(demo_request(get_users()))
            .await
            .unwrap_err();
        if reason(&error) == "CIRCUIT_OPEN" {
            assert_eq!(error.code(), Code::Unavailable);
            assert!(has_retry_info(&error));
            opened = true;
            break;
        }
    }
    assert!(opened, "the breaker opened");
    // While open, calls are refused without reaching Kinde.
    let before = harness.stats().await["api_requests"].clone();
    let refused = users
        .get_users(demo_request(get_users()))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "CIRCUIT_OPEN");
    assert_eq!(harness.stats().await["api_requests"], before);
    assert_eq!(
        status(health.check(check("profile/demo")).await.unwrap()),
        NOT_SERVING
    );
    assert_eq!(status(health.check(check("")).await.unwrap()), SERVING);

    harness.faults(json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _probe = users.get_users(demo_request(get_users())).await;
        if status(health.check(check("profile/demo")).await.unwrap()) == SERVING {
            break;
        }
        assert!(Instant::now() < deadline, "health recovered");
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_short_grpc_timeout_beats_a_slow_kinde() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;
    users.get_users(demo_request(get_users())).await.unwrap();
    harness
        .faults(json!({"target": "api", "latency": {"min_ms": 5000, "max_ms": 5000}}))
        .await;

    let mut request = demo_request(get_users());
    request.set_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let error = users.get_users(request).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    harness.stop().await;
}

#[tokio::test]
async fn kinde_statuses_map_to_the_table() {
    let harness = Harness::demo().await;
    let mut users = harness.users().await;
    let mut organizations = harness.organizations().await;

    let missing = organizations
        .delete_organization(demo_request(pb::DeleteOrganizationRequest {
            org_code: "org_nope".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "KINDE_NOT_FOUND")
    );

    // Kinde answers an unknown code here with 400, as its spec documents no 404.
    let unknown = organizations
        .get_organization(demo_request(pb::GetOrganizationRequest {
            code: "org_nope".to_owned(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), reason(&unknown).as_str()),
        (Code::InvalidArgument, "KINDE_BAD_REQUEST")
    );

    let too_big = users
        .get_users(demo_request(pb::GetUsersRequest {
            page_size: Some(100_000),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(too_big.code(), Code::InvalidArgument, "{too_big:?}");

    harness
        .faults(json!({"target": "api", "rate_limited_ratio": 1.0}))
        .await;
    let throttled = users
        .get_users(demo_request(get_users()))
        .await
        .unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted, "{throttled:?}");
    assert_eq!(reason(&throttled), "RATE_LIMITED");
    assert!(has_retry_info(&throttled));

    harness
        .faults(json!({"target": "api", "error_ratio": 1.0}))
        .await;
    let create = users
        .create_user(demo_request(pb::CreateUserRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        (create.code(), reason(&create).as_str()),
        (Code::Unknown, "OUTCOME_UNKNOWN")
    );
    let read = users
        .get_users(demo_request(get_users()))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::Unavailable, "{read:?}");
    assert_eq!(reason(&read), "KINDE_UNAVAILABLE");
    assert!(has_retry_info(&read));
    harness.stop().await;
}

#[tokio::test]
async fn a_profile_missing_a_scope_is_permission_denied_naming_it() {
    const READER: &str = "readerapp00000000000000000000001";
    common::sweep::secret("reader-secret-value");
    let emulator = Emulator::builder()
        .application(Application::new(READER, "reader-secret-value").scopes(["read:users"]))
        .start()
        .await
        .unwrap();
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url())
        .client_id(READER)
        .client_secret("reader-secret-value")
        .build()
        .unwrap();
    let audit = AuditLog::memory();
    let gateway = Gateway::builder()
        .profile(
            "reader",
            Profile::kinde(emulator.base_url(), credentials, Upstream::new("kinde")).unwrap(),
        )
        .caller(
            Caller::new("c", "reader")
                .api_key_hash(ApiKeyHash::of_key("k"))
                .allow("*"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut organizations = harness.organizations().await;

    let denied = organizations
        .get_organizations(with_key(pb::GetOrganizationsRequest::default(), "k"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(reason(&denied), "KINDE_SCOPE_MISSING");
    use tonic_types::StatusExt;
    let info = denied.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata["required_scope"], "read:organizations");
    harness.stop().await;
}

#[tokio::test]
async fn rejected_credentials_and_an_unreachable_kinde_are_told_apart() {
    common::sweep::secret("wrong-secret");
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = |base: &str, secret: &str| {
        KindeCredentials::new()
            .domain(base)
            .client_id(kinde_emulator::DEMO_CLIENT_ID)
            .client_secret(secret.to_owned())
            .build()
            .unwrap()
    };
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let audit = AuditLog::memory();
    let base = emulator.base_url().to_owned();
    let gateway = Gateway::builder()
        .profile(
            "wrong",
            Profile::kinde(
                &base,
                credentials(&base, "wrong-secret"),
                Upstream::new("kinde"),
            )
            .unwrap(),
        )
        .profile(
            "nowhere",
            Profile::kinde(
                &closed,
                credentials(&closed, kinde_emulator::DEMO_CLIENT_SECRET),
                Upstream::new("nowhere"),
            )
            .unwrap(),
        )
        .caller(
            Caller::new("w", "wrong")
                .api_key_hash(ApiKeyHash::of_key("w"))
                .allow("*"),
        )
        .caller(
            Caller::new("n", "nowhere")
                .api_key_hash(ApiKeyHash::of_key("n"))
                .allow("*"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let harness = Harness::serve(emulator, gateway, audit).await;
    let mut users = harness.users().await;

    let rejected = users
        .get_users(with_key(get_users(), "w"))
        .await
        .unwrap_err();
    assert_eq!(
        (rejected.code(), reason(&rejected).as_str()),
        (Code::Internal, "KINDE_CREDENTIALS_REJECTED")
    );
    assert!(!rejected.message().contains("wrong-secret"));
    assert_eq!(
        harness.stats().await["api_requests"],
        0,
        "no token, no API call"
    );

    let unreachable = users
        .create_user(with_key(pb::CreateUserRequest::default(), "n"))
        .await
        .unwrap_err();
    assert_eq!(unreachable.code(), Code::Unavailable, "{unreachable:?}");
    // Its token endpoint is as unreachable as its API.
    assert_eq!(reason(&unreachable), "TOKEN_UNAVAILABLE");
    assert!(has_retry_info(&unreachable));
    harness.stop().await;
}

#[tokio::test]
async fn a_token_outage_is_unavailable() {
    let harness = Harness::demo().await;
    harness.faults(json!({"token_outage": "unavailable"})).await;
    let mut users = harness.users().await;
    let error = users
        .get_users(demo_request(get_users()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    assert_eq!(reason(&error), "TOKEN_UNAVAILABLE");
    assert!(has_retry_info(&error));
    assert_eq!(harness.stats().await["api_requests"], 0);
    harness.stop().await;
}

#[tokio::test]
async fn reflection_lists_every_service_in_both_versions() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let harness = Harness::demo().await;
    let mut reflection = ServerReflectionClient::new(harness.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    let kinde = names
        .iter()
        .filter(|n| n.starts_with("kinde.management.v1."))
        .count();
    assert_eq!(kinde, 27, "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );

    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
    let mut alpha = Alpha::new(harness.channel().await);
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut responses = alpha
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    assert!(responses.next().await.unwrap().is_ok());
    harness.stop().await;
}

#[tokio::test]
async fn audit_lines_have_every_field_and_no_secret() {
    common::sweep::secret("ada.lovelace@example.com");
    let harness = Harness::demo().await;
    let mut users = harness.users().await;
    let mut organizations = harness.organizations().await;
    users.get_users(demo_request(get_users())).await.unwrap();
    let mut lookup = demo_request(pb::GetUsersRequest {
        email: Some("ada.lovelace@example.com".to_owned()),
        ..Default::default()
    });
    lookup
        .metadata_mut()
        .insert("x-request-id", "audit-1".parse().unwrap());
    users.get_users(lookup).await.unwrap();
    let _ = organizations
        .delete_organization(demo_request(pb::DeleteOrganizationRequest {
            org_code: "org_audited".to_owned(),
        }))
        .await;
    let _ = users.get_users(with_key(get_users(), "guess")).await;

    // Every line's fields are checked by the audit sweep when the harness stops.
    let lines = harness.audit_lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["request_id"], "audit-1");
    assert_eq!(lines[2]["targets"]["org_code"], "org_audited");
    assert_eq!(lines[2]["status"], "NOT_FOUND");
    assert_eq!(lines[2]["attempts"], 1);
    assert_eq!(lines[3]["status"], "UNAUTHENTICATED");

    let everything = harness.audit.lines().join("\n");
    for secret in [
        kinde_emulator::DEMO_CLIENT_SECRET,
        common::DEMO_API_KEY,
        "guess",
        "ada.lovelace",
        "example.com",
        "eyJ",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked into the audit log"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_missing_required_field_is_refused_before_kinde_naming_the_field() {
    use tonic_types::StatusExt;

    let harness = Harness::demo().await;
    let mut organizations = harness.organizations().await;
    let error = organizations
        .delete_organization(demo_request(pb::DeleteOrganizationRequest {
            org_code: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let violations = error.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(violations.field_violations[0].field, "org_code");

    let stats = harness.stats().await;
    assert_eq!(stats["api_requests"], 0, "{stats}");
    assert_eq!(harness.audit_lines()[0]["status"], "INVALID_ARGUMENT");
    harness.stop().await;
}

#[tokio::test]
async fn undecodable_oversized_and_expired_calls_are_answered_and_audited() {
    /// Field 1 is a number here and a string in `GetUsersRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct NotGetUsers {
        #[prost(uint64, tag = "1")]
        user_id: u64,
    }

    let harness = Harness::demo().await;
    let mut grpc = tonic::client::Grpc::new(harness.channel().await);
    grpc.ready().await.unwrap();
    let mut request = demo_request(NotGetUsers { user_id: 7 });
    request
        .metadata_mut()
        .insert("x-request-id", "hostile-decode".parse().unwrap());
    let path = http::uri::PathAndQuery::from_static("/kinde.management.v1.UsersService/GetUsers");
    let codec = tonic_prost::ProstCodec::<NotGetUsers, pb::GetUsersResponse>::default();
    let undecodable = grpc.unary(request, path, codec).await.unwrap_err();
    // gRPC's own code for a request that does not parse.
    assert_eq!(undecodable.code(), Code::Internal, "{undecodable:?}");
    assert_eq!(
        undecodable.metadata().get("x-request-id").unwrap(),
        "hostile-decode"
    );

    let mut users = harness.users().await;
    let oversized = pb::GetUsersRequest {
        user_id: Some("x".repeat(5 << 20)),
        ..Default::default()
    };
    let oversized = users.get_users(demo_request(oversized)).await.unwrap_err();
    assert_eq!(oversized.code(), Code::ResourceExhausted, "{oversized:?}");
    assert!(oversized.metadata().get("x-request-id").is_some());

    // Over plain HTTP/2: tonic's own client would give up on a 1 ns deadline before sending.
    let http2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<tonic::body::Body>();
    let origin: http::Uri = format!("http://{}", harness.address).parse().unwrap();
    let mut raw = pb::users_service_client::UsersServiceClient::with_origin(http2, origin);
    let mut expired = demo_request(get_users());
    expired.set_timeout(Duration::from_nanos(1));
    let expired = raw.get_users(expired).await.unwrap_err();
    assert_eq!(expired.code(), Code::DeadlineExceeded, "{expired:?}");
    assert_eq!(reason(&expired), "DEADLINE_EXCEEDED");

    // A deadline that passes while the message is still being read: tonic's timer answers
    // (CANCELLED), or the gateway if it got to the call first; either way, one audit line.
    let mut slow = demo_request(pb::GetUsersRequest {
        user_id: Some("y".repeat(3 << 20)),
        ..Default::default()
    });
    slow.set_timeout(Duration::from_millis(2));
    let slow = raw.get_users(slow).await.unwrap_err();
    assert!(
        matches!(slow.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{slow:?}"
    );
    // The line of a call dropped by tonic's timer is written as the call is dropped.
    let waited = Instant::now();
    while harness.audit.lines().len() < 4 && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let stats = harness.stats().await;
    assert_eq!(stats["api_requests"], 0, "{stats}");
    let lines = harness.audit_lines();
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    let slow_status = kinde_gateway::status::code_name(slow.code());
    assert_eq!(
        statuses,
        [
            "INTERNAL",
            "RESOURCE_EXHAUSTED",
            "DEADLINE_EXCEEDED",
            slow_status
        ]
    );
    assert_eq!(lines[0]["request_id"], "hostile-decode");
    for line in &lines[..3] {
        assert_eq!(line["rpc"], "kinde.management.v1.UsersService/GetUsers");
        assert!(line["caller"].is_null(), "{line}");
        assert_eq!(line["attempts"], 0, "{line}");
    }
    harness.stop().await;
}
