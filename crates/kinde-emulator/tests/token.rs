//! The token endpoint: success, claims, every error code, and expiry on paused time.

mod common;

use std::time::Duration;

use common::{basic, call, claims, demo_token, encode, token_form, token_request};
use http::{Method, StatusCode};
use kinde_emulator::{Application, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorService};

fn emulator() -> EmulatorService {
    Emulator::builder()
        .application(Application::new("reader01", "reader-secret").scopes(["read:users"]))
        .application(
            Application::new("elsewhere01", "elsewhere-secret")
                .management_api(false)
                .audience("https://api.example.com"),
        )
        .build_service()
}

#[tokio::test]
async fn issues_a_bearer_token_with_kindes_m2m_claims() {
    let emulator = emulator();
    let reply = token_request(
        &emulator,
        &token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let token = reply.body["access_token"].as_str().expect("a token");
    let claims = claims(token);
    assert_eq!(claims["iss"], emulator.base_url());
    assert_eq!(claims["aud"], serde_json::json!([emulator.api_audience()]));
    assert_eq!(claims["azp"], DEMO_CLIENT_ID);
    assert_eq!(claims["gty"], serde_json::json!(["client_credentials"]));
    assert_eq!(claims["v"], "2");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        3600
    );
    let scp = claims["scp"].as_array().expect("scp");
    assert_eq!(scp.len(), kinde_emulator::all_scopes().len());
    assert_eq!(
        claims["scope"].as_str().expect("scope").split(' ').count(),
        scp.len()
    );
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() == 36));
    assert!(claims.get("sub").is_none());

    let header: serde_json::Value = {
        use base64::Engine as _;
        let part = token.split('.').next().expect("a header");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], emulator.jwks()["keys"][0]["kid"]);
}

#[tokio::test]
async fn accepts_http_basic_client_authentication() {
    let emulator = emulator();
    let form = format!(
        "grant_type=client_credentials&audience={}",
        encode(&emulator.api_audience())
    );
    let authorization = basic("reader01", "reader-secret");
    let reply = common::send_raw(
        &emulator,
        Method::POST,
        "/oauth2/token",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &authorization),
        ],
        form.into_bytes(),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let claims = claims(reply.body["access_token"].as_str().expect("a token"));
    assert_eq!(claims["azp"], "reader01");
    assert_eq!(claims["scp"], serde_json::json!(["read:users"]));
}

#[tokio::test]
async fn narrows_scopes_to_the_requested_subset_and_takes_several_audiences() {
    let emulator = emulator();
    let token = demo_token(&emulator, Some("read:users read:organizations")).await;
    assert_eq!(
        claims(&token)["scp"],
        serde_json::json!(["read:users", "read:organizations"])
    );

    let form = format!(
        "{}&audience={}",
        token_form(&emulator, "elsewhere01", "elsewhere-secret").replace(
            &encode(&emulator.api_audience()),
            &encode("https://api.example.com")
        ),
        encode("https://api.example.com"),
    );
    let reply = token_request(&emulator, &form).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        claims(reply.body["access_token"].as_str().expect("a token"))["aud"],
        serde_json::json!(["https://api.example.com", "https://api.example.com"])
    );
}

#[tokio::test]
async fn answers_each_error_code_with_its_status() {
    let emulator = emulator();
    let audience = encode(&emulator.api_audience());
    let good = token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    let cases = [
        (
            format!(
                "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret=wrong&audience={audience}"
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id=nobody&client_secret=x&audience={audience}"
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!("grant_type=client_credentials&audience={audience}"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            good.replace("grant_type=client_credentials", "grant_type=password"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            good.replace("grant_type=client_credentials", ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}"
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            good.replace(&audience, &encode("https://api.example.com")),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            token_form(&emulator, "elsewhere01", "elsewhere-secret"),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            format!("{good}&scope=read%3Ausers%20write%3Aeverything"),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            format!(
                "{}&scope=read%3Aorganizations",
                token_form(&emulator, "reader01", "reader-secret")
            ),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];

    for (form, status, error) in cases {
        let reply = token_request(&emulator, &form).await;
        assert_eq!(reply.status, status, "{form}: {}", reply.text);
        assert_eq!(reply.body["error"], error, "{form}");
        assert!(reply.body["error_description"].is_string(), "{form}");
        assert!(!reply.text.contains(DEMO_CLIENT_SECRET));
    }
}

#[tokio::test]
async fn rejects_a_body_that_is_not_form_encoded() {
    let emulator = emulator();
    let form = token_form(&emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    let reply = common::send_raw(
        &emulator,
        Method::POST,
        "/oauth2/token",
        &[("content-type", "application/json")],
        form.into_bytes(),
    )
    .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_request");
}

#[tokio::test(start_paused = true)]
async fn a_token_expires_on_tokio_time() {
    let emulator = Emulator::builder()
        .token_lifetime(Duration::from_secs(30))
        .build_service();
    let token = demo_token(&emulator, None).await;

    let fresh = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(fresh.status, StatusCode::OK);

    tokio::time::advance(Duration::from_secs(29)).await;
    let almost = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(almost.status, StatusCode::OK);

    tokio::time::advance(Duration::from_secs(2)).await;
    let expired = call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["errors"][0]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn serves_the_jwks_and_discovery_document() {
    let emulator = emulator();
    for path in ["/.well-known/jwks", "/.well-known/jwks.json"] {
        let reply = common::send_raw(&emulator, Method::GET, path, &[], Vec::new()).await;
        assert_eq!(reply.status, StatusCode::OK);
        let key = &reply.body["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert!(key["n"].as_str().is_some_and(|n| n.len() > 300));
        assert_eq!(key["e"], "AQAB");
    }

    let reply = common::send_raw(
        &emulator,
        Method::GET,
        "/.well-known/openid-configuration",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.body["issuer"], emulator.base_url());
    assert_eq!(reply.body["token_endpoint"], emulator.token_url());
    assert_eq!(
        reply.body["jwks_uri"],
        format!("{}/.well-known/jwks", emulator.base_url())
    );
}
