//! Feature flags: definitions, environment, organization and user overrides.

mod common;

use common::{call, demo_token};
use http::{Method, StatusCode};
use kinde_emulator::Emulator;
use serde_json::json;

#[tokio::test]
async fn flags_resolve_through_environment_and_organization_overrides() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    let created = call(
        &emulator,
        Method::POST,
        "/api/v1/feature_flags",
        &token,
        Some(json!({"name": "Theme", "key": "theme", "type": "str", "allow_override_level": "org", "default_value": "light"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let limit = call(
        &emulator,
        Method::POST,
        "/api/v1/feature_flags",
        &token,
        Some(json!({"name": "Seats", "key": "seats", "type": "int", "allow_override_level": "usr", "default_value": "5"})),
    )
    .await;
    assert_eq!(limit.status, StatusCode::CREATED);
    let duplicate = call(
        &emulator,
        Method::POST,
        "/api/v1/feature_flags",
        &token,
        Some(json!({"name": "Theme", "key": "theme", "type": "str", "default_value": "x"})),
    )
    .await;
    assert_eq!(duplicate.body["errors"][0]["code"], "DUPLICATE_KEY");
    let mistyped = call(
        &emulator,
        Method::POST,
        "/api/v1/feature_flags",
        &token,
        Some(json!({"name": "Beta", "key": "beta", "type": "bool", "default_value": "maybe"})),
    )
    .await;
    assert_eq!(mistyped.status, StatusCode::BAD_REQUEST);

    let organization = call(
        &emulator,
        Method::POST,
        "/api/v1/organization",
        &token,
        Some(json!({"name": "Acme"})),
    )
    .await;
    let code = organization.body["organization"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();

    let overridden = call(
        &emulator,
        Method::PATCH,
        "/api/v1/environment/feature_flags/theme",
        &token,
        Some(json!({"value": "dark"})),
    )
    .await;
    assert_eq!(overridden.status, StatusCode::OK);
    let environment = call(
        &emulator,
        Method::GET,
        "/api/v1/environment/feature_flags",
        &token,
        None,
    )
    .await;
    assert_eq!(
        environment.body["feature_flags"]["theme"],
        json!({"type": "str", "value": "dark"})
    );
    assert_eq!(
        environment.body["feature_flags"]["seats"],
        json!({"type": "int", "value": "5"})
    );

    let org_override = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/organizations/{code}/feature_flags/theme?value=contrast"),
        &token,
        None,
    )
    .await;
    assert_eq!(org_override.status, StatusCode::OK, "{}", org_override.text);
    let flags = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/feature_flags"),
        &token,
        None,
    )
    .await;
    assert_eq!(flags.body["feature_flags"]["theme"]["value"], "contrast");
    assert_eq!(flags.body["feature_flags"]["seats"]["value"], "5");

    call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organizations/{code}/feature_flags/theme"),
        &token,
        None,
    )
    .await;
    let flags = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/feature_flags"),
        &token,
        None,
    )
    .await;
    assert_eq!(flags.body["feature_flags"]["theme"]["value"], "dark");

    call(
        &emulator,
        Method::DELETE,
        "/api/v1/environment/feature_flags",
        &token,
        None,
    )
    .await;
    let environment = call(
        &emulator,
        Method::GET,
        "/api/v1/environment/feature_flags",
        &token,
        None,
    )
    .await;
    assert_eq!(environment.body["feature_flags"]["theme"]["value"], "light");

    let user = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({"identities": [{"type": "email", "details": {"email": "ada@example.com"}}]})),
    )
    .await;
    let user_id = user.body["id"].as_str().expect("an id").to_owned();
    let not_allowed = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/users/{user_id}/feature_flags/theme?value=dark"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        not_allowed.body["errors"][0]["code"],
        "FEATURE_FLAG_OVERRIDE_NOT_ALLOWED"
    );
    let allowed = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/users/{user_id}/feature_flags/seats?value=9"),
        &token,
        None,
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
    let state = common::send_raw(&emulator, Method::GET, "/_emulator/state", &[], Vec::new()).await;
    assert_eq!(
        state.body["user_flags"],
        json!([{"owner": user_id, "key": "seats", "value": "9"}])
    );

    let updated = call(
        &emulator,
        Method::PUT,
        "/api/v1/feature_flags/theme?name=Theme&description=Colours&type=str&allow_override_level=env&default_value=sepia",
        &token,
        None,
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let refused = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/organizations/{code}/feature_flags/theme?value=x"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        refused.body["errors"][0]["code"],
        "FEATURE_FLAG_OVERRIDE_NOT_ALLOWED"
    );

    let deleted = call(
        &emulator,
        Method::DELETE,
        "/api/v1/feature_flags/theme",
        &token,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = call(
        &emulator,
        Method::DELETE,
        "/api/v1/feature_flags/theme",
        &token,
        None,
    )
    .await;
    assert_eq!(gone.body["errors"][0]["code"], "FEATURE_FLAG_NOT_FOUND");
    let environment = call(
        &emulator,
        Method::GET,
        "/api/v1/environment/feature_flags",
        &token,
        None,
    )
    .await;
    assert!(environment.body["feature_flags"].get("theme").is_none());

    call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/user?id={user_id}"),
        &token,
        None,
    )
    .await;
    let state = common::send_raw(&emulator, Method::GET, "/_emulator/state", &[], Vec::new()).await;
    assert_eq!(state.body["user_flags"], json!([]));
}
