//! The Management API's gate and routing: 401 vs 403, scope enforcement for every operation,
//! the example responder, `ROUTE_NOT_FOUND`, and bad input.

mod common;

use common::{call, claims, demo_token, sample_request, send_raw, token_form, token_request};
use http::{Method, StatusCode};
use kinde_api::OPERATIONS;
use kinde_emulator::{Application, Emulator, EmulatorService, all_scopes, is_stateful};
use serde_json::json;

fn emulator() -> EmulatorService {
    Emulator::builder()
        .application(Application::new("noscope01", "noscope-secret"))
        .build_service()
}

#[tokio::test]
async fn bad_tokens_get_401_and_missing_scopes_get_403() {
    let emulator = emulator();
    let token = demo_token(&emulator, Some("read:users")).await;

    let other = Emulator::builder()
        .base_url("http://other-business.localhost")
        .build_service();
    let foreign = demo_token(&other, None).await;

    let mut tampered = token.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    let forged_claims = {
        use base64::Engine as _;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload = claims(&token);
        payload["scp"] = json!(all_scopes());
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
        parts.join(".")
    };

    let unauthorized = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Basic abc".to_owned()),
        Some("Bearer not.a.jwt".to_owned()),
        Some(format!("Bearer {tampered}")),
        Some(format!("Bearer {forged_claims}")),
        Some(format!("Bearer {foreign}")),
    ];
    for authorization in unauthorized {
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|value| vec![("authorization", value)])
            .unwrap_or_default();
        let reply = send_raw(
            &emulator,
            Method::GET,
            "/api/v1/users",
            &headers,
            Vec::new(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(reply.body["errors"][0]["code"], "UNAUTHORIZED");
    }

    let reply = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(reply.status, StatusCode::OK);

    let reply = call(
        &emulator,
        Method::GET,
        "/api/v1/organizations",
        &token,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["errors"][0]["code"], "FORBIDDEN");
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("a message");
    assert!(message.contains("read:organizations"), "{message}");
}

#[tokio::test]
async fn every_operation_enforces_its_own_scope() {
    let emulator = emulator();
    let everything = demo_token(&emulator, None).await;
    let reply = token_request(
        &emulator,
        &token_form(&emulator, "noscope01", "noscope-secret"),
    )
    .await;
    let nothing = reply.body["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let scopes = all_scopes();

    for operation in OPERATIONS {
        let (method, path, body) = sample_request(operation);

        let without_any = call(&emulator, method.clone(), &path, &nothing, body.clone()).await;
        let with_all = call(&emulator, method.clone(), &path, &everything, body.clone()).await;
        assert!(
            !matches!(with_all.status.as_u16(), 401 | 403),
            "{}: {} {}",
            operation.id,
            with_all.status,
            with_all.text
        );

        let Some(scope) = operation.scope else {
            assert_eq!(without_any.status, with_all.status, "{}", operation.id);
            continue;
        };
        assert_eq!(
            without_any.status,
            StatusCode::FORBIDDEN,
            "{}",
            operation.id
        );
        assert!(without_any.text.contains(scope), "{}", operation.id);

        let all_but_one = scopes
            .iter()
            .filter(|granted| **granted != scope)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let lacking = demo_token(&emulator, Some(&all_but_one)).await;
        let reply = call(&emulator, method.clone(), &path, &lacking, body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", operation.id);

        let only = demo_token(&emulator, Some(scope)).await;
        let reply = call(&emulator, method, &path, &only, body).await;
        if is_stateful(operation.id) {
            // The first call may have changed state (a create), so only the gate is compared.
            assert!(
                !matches!(reply.status.as_u16(), 401 | 403),
                "{}",
                operation.id
            );
        } else {
            assert_eq!(reply.status, with_all.status, "{}", operation.id);
        }
    }
}

#[tokio::test]
async fn every_operation_without_state_answers_its_example_and_success_status() {
    let emulator = emulator();
    let token = demo_token(&emulator, None).await;
    let mut answered = 0;

    for operation in OPERATIONS.iter().filter(|op| !is_stateful(op.id)) {
        let (method, path, body) = sample_request(operation);
        let reply = call(&emulator, method, &path, &token, body).await;

        assert_eq!(
            reply.status.as_u16(),
            operation.success[0],
            "{}: {}",
            operation.id,
            reply.text
        );
        match operation.response_example() {
            Some(example) => {
                let example: serde_json::Value =
                    serde_json::from_str(example).expect("example JSON");
                assert_eq!(reply.body, example, "{}", operation.id);
            }
            None => assert!(reply.text.is_empty(), "{}", operation.id),
        }
        answered += 1;
    }
    let stateful = OPERATIONS.iter().filter(|op| is_stateful(op.id)).count();
    assert_eq!(answered + stateful, OPERATIONS.len());
    assert!(answered > 100, "{answered}");
}

#[tokio::test]
async fn unknown_routes_answer_route_not_found() {
    let emulator = emulator();
    let token = demo_token(&emulator, None).await;
    let expected = json!({
        "errors": {"code": "ROUTE_NOT_FOUND", "message": "The requested API route does not exist"}
    });

    for (method, path) in [
        (Method::GET, "/api/v1/nope"),
        (Method::GET, "/api/v1/users/"),
        (Method::PUT, "/api/v1/users"),
        (Method::GET, "/api/v2/users"),
        (Method::GET, "/nothing-here"),
    ] {
        let reply = call(&emulator, method, path, &token, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body, expected, "{path}");
    }
}

#[tokio::test]
async fn bad_input_gets_400_with_kindes_error_body() {
    let emulator = Emulator::builder().body_limit(4096).build_service();
    let token = demo_token(&emulator, None).await;
    let authorization = format!("Bearer {token}");
    let json_headers = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
    ];

    let bodies: [(&str, Vec<u8>); 6] = [
        ("malformed JSON", b"{\"name\": ".to_vec()),
        ("wrong type", br#"{"name": 42}"#.to_vec()),
        ("not an object", b"[1, 2]".to_vec()),
        ("missing required field", br#"{"handle": "acme"}"#.to_vec()),
        ("invalid UTF-8", b"{\"name\": \"\xff\xfe\"}".to_vec()),
        (
            "huge",
            format!("{{\"name\": \"{}\"}}", "a".repeat(10_000)).into_bytes(),
        ),
    ];
    for (case, body) in bodies {
        let reply = send_raw(
            &emulator,
            Method::POST,
            "/api/v1/organization",
            &json_headers,
            body,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.text
        );
        assert!(reply.body["errors"][0]["code"].is_string(), "{case}");
    }

    for path in [
        "/api/v1/users?colour=blue",
        "/api/v1/users?page_size=ten",
        "/api/v1/users?email=%ff",
        "/api/v1/organizations?sort=sideways",
        "/api/v1/user",
    ] {
        let reply = call(&emulator, Method::GET, path, &token, None).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert!(reply.body["errors"][0]["code"].is_string(), "{path}");
    }

    let wrong_nested_type = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({"profile": {"given_name": ["not", "a", "string"]}})),
    )
    .await;
    assert_eq!(wrong_nested_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong_nested_type.body["errors"][0]["code"],
        "INVALID_REQUEST_BODY"
    );
}
