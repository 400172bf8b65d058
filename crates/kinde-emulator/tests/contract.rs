//! Every response body the emulator produces validates against the schema the official spec
//! declares for that operation and status.
//!
//! Runs when `KINDE_OPENAPI_SPEC` points at Kinde's spec (the test script sets it). The spec's
//! schemas are converted to closed JSON Schema as in `kinde-api`'s contract test: references
//! inlined, `nullable` as a `null` type, `allOf` merged, and every object given
//! `additionalProperties: false`, so an invented or misspelt field fails. A status the spec does
//! not declare for the operation (401 everywhere but `verifyApiKey`), or declares without a body,
//! is validated against `error_response`; `ROUTE_NOT_FOUND` against `not_found_response`; a 2xx
//! the spec does not declare fails.

mod common;

use common::{call, demo_token, sample_request, send_raw, token_form, token_request};
use http::Method;
use kinde_api::{OPERATIONS, operation};
use kinde_emulator::{Application, Emulator, EmulatorService, Faults, is_stateful};
use std::collections::BTreeSet;

use kinde_api::contract::{closed_json_schema, resolve};
use serde_json::{Value, json};

fn load_spec() -> Option<Value> {
    let Ok(path) = std::env::var("KINDE_OPENAPI_SPEC") else {
        println!(
            "skipped: KINDE_OPENAPI_SPEC is not set, so there is no spec to validate the \
             emulator's responses against (point it at kinde-mgmt-api-specs.yaml to run this test)"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    Some(serde_yaml_ng::from_str(&text).expect("the spec is YAML"))
}

/// Validates emulator responses against the spec and collects the mismatches.
struct Contract {
    spec: Value,
    failures: Vec<String>,
    validated: usize,
    /// The operations that answered a 2xx at least once.
    succeeded: BTreeSet<&'static str>,
}

impl Contract {
    /// The schema a response of `operation_id` with `status` must match.
    fn schema_for(&self, operation_id: &str, status: u16) -> Result<Value, String> {
        let op = operation(operation_id).expect("a known operation");
        let declared = self.spec["paths"][op.path][op.method.as_str().to_lowercase()]["responses"]
            .get(status.to_string())
            .map(|response| resolve(&self.spec, response).clone());
        let body_schema = declared.as_ref().and_then(|response| {
            response
                .get("content")?
                .as_object()?
                .values()
                .find_map(|media| media.get("schema").cloned())
        });

        match (declared, body_schema) {
            (None, _) if (200..300).contains(&status) => {
                Err(format!("{operation_id}: answered undeclared {status}"))
            }
            (_, Some(schema)) => Ok(closed_json_schema(&self.spec, &schema)),
            _ => Ok(self.named("error_response")),
        }
    }

    fn named(&self, schema: &str) -> Value {
        closed_json_schema(
            &self.spec,
            &json!({ "$ref": format!("#/components/schemas/{schema}") }),
        )
    }

    fn check(&mut self, operation_id: &str, status: u16, body: &Value, text: &str) {
        if text.is_empty() {
            if (200..300).contains(&status)
                && self
                    .schema_for(operation_id, status)
                    .is_ok_and(|s| s != self.named("error_response"))
            {
                self.failures
                    .push(format!("{operation_id}: {status} with an empty body"));
            }
            return;
        }
        let schema = match self.schema_for(operation_id, status) {
            Ok(schema) => schema,
            Err(failure) => {
                self.failures.push(failure);
                return;
            }
        };
        self.validate(&format!("{operation_id} {status}"), &schema, body);
    }

    fn validate(&mut self, label: &str, schema: &Value, body: &Value) {
        let validator = jsonschema::validator_for(schema)
            .unwrap_or_else(|e| panic!("{label}: converted schema is invalid: {e}"));
        for error in validator.iter_errors(body) {
            self.failures
                .push(format!("{label}: at {}: {error}", error.instance_path()));
        }
        self.validated += 1;
    }

    /// Calls an operation and checks the answer.
    async fn exercise(
        &mut self,
        emulator: &EmulatorService,
        operation_id: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let op = operation(operation_id).expect("a known operation");
        let method = Method::from_bytes(op.method.as_str().as_bytes()).expect("a method");
        let reply = call(emulator, method, path, token, body).await;
        self.check(
            operation_id,
            reply.status.as_u16(),
            &reply.body,
            &reply.text,
        );
        if reply.status.is_success() {
            self.succeeded.insert(op.id);
        }
        reply.body
    }
}

#[tokio::test]
async fn every_response_the_emulator_gives_matches_the_spec() {
    let Some(spec) = load_spec() else { return };
    let mut contract = Contract {
        spec,
        failures: Vec::new(),
        validated: 0,
        succeeded: BTreeSet::new(),
    };
    let emulator = Emulator::builder()
        .page_size_limit(50)
        .application(Application::new("noscope01", "noscope-secret"))
        .build_service();
    let token = demo_token(&emulator, None).await;
    let reply = token_request(
        &emulator,
        &token_form(&emulator, "noscope01", "noscope-secret"),
    )
    .await;
    let no_scope = reply.body["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    // Every operation with placeholders: examples, and the 400s of stateful operations.
    for op in OPERATIONS {
        let (method, path, body) = sample_request(op);
        for bearer in [&token, &no_scope, &"expired-or-garbage".to_owned()] {
            let reply = call(&emulator, method.clone(), &path, bearer, body.clone()).await;
            contract.check(op.id, reply.status.as_u16(), &reply.body, &reply.text);
        }
    }

    // The stateful operations, with real resources.
    let user = contract
        .exercise(&emulator, "createUser", "/api/v1/user", &token, Some(json!({
            "profile": {"given_name": "Ada", "family_name": "Lovelace", "picture": "https://example.com/a.png"},
            "provided_id": "ext-1",
            "identities": [
                {"type": "email", "is_verified": true, "details": {"email": "ada@example.com"}},
                {"type": "username", "details": {"username": "ada"}}
            ]
        })))
        .await;
    let id = user["id"].as_str().expect("an id").to_owned();
    contract
        .exercise(
            &emulator,
            "createUser",
            "/api/v1/user",
            &token,
            Some(json!({
                "identities": [{"type": "email", "details": {"email": "ada@example.com"}}]
            })),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "getUserData",
            &format!("/api/v1/user?id={id}&expand=organizations,identities"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "CreateUserIdentity",
            &format!("/api/v1/users/{id}/identities"),
            &token,
            Some(json!({"type": "phone", "value": "+15555550100", "phone_country_id": "us"})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetUserIdentities",
            &format!("/api/v1/users/{id}/identities"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "updateUser",
            &format!("/api/v1/user?id={id}"),
            &token,
            Some(json!({"given_name": "Augusta", "is_suspended": false})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "getUsers",
            "/api/v1/users?expand=organizations,identities&page_size=1",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "getUsers",
            "/api/v1/users?page_size=51",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "searchUsers",
            "/api/v1/search/users?query=ada&expand=organizations,identities",
            &token,
            None,
        )
        .await;

    let organization = contract
        .exercise(
            &emulator,
            "createOrganization",
            "/api/v1/organization",
            &token,
            Some(json!({"name": "Acme", "handle": "acme", "external_id": "x-1"})),
        )
        .await;
    let code = organization["organization"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();
    contract
        .exercise(
            &emulator,
            "getOrganization",
            &format!("/api/v1/organization?code={code}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "getOrganizations",
            "/api/v1/organizations?sort=name_asc&page_size=1",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "updateOrganization",
            &format!("/api/v1/organization/{code}"),
            &token,
            Some(json!({"name": "Acme Inc"})),
        )
        .await;
    let role = contract
        .exercise(
            &emulator,
            "CreateRole",
            "/api/v1/roles",
            &token,
            Some(json!({"key": "admin", "name": "Admin", "description": "All"})),
        )
        .await;
    let role_id = role["role"]["id"].as_str().expect("a role id").to_owned();
    contract
        .exercise(
            &emulator,
            "CreateRole",
            "/api/v1/roles",
            &token,
            Some(json!({"key": "admin", "name": "Again"})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "CreatePermission",
            "/api/v1/permissions",
            &token,
            Some(json!({"key": "read:reports", "name": "Read reports"})),
        )
        .await;
    let permissions = contract
        .exercise(
            &emulator,
            "GetPermissions",
            "/api/v1/permissions?sort=id_asc",
            &token,
            None,
        )
        .await;
    let permission_id = permissions["permissions"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    contract
        .exercise(
            &emulator,
            "UpdatePermissions",
            &format!("/api/v1/permissions/{permission_id}"),
            &token,
            Some(json!({"description": "Reports"})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetRoles",
            "/api/v1/roles?sort=name_asc",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetRole",
            &format!("/api/v1/roles/{role_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "UpdateRoles",
            &format!("/api/v1/roles/{role_id}"),
            &token,
            Some(json!({"key": "admin", "name": "Administrator"})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "UpdateRolePermissions",
            &format!("/api/v1/roles/{role_id}/permissions"),
            &token,
            Some(json!({"permissions": [{"id": permission_id}]})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetRolePermissions",
            &format!("/api/v1/roles/{role_id}/permissions"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "AddOrganizationUsers",
            &format!("/api/v1/organizations/{code}/users"),
            &token,
            Some(json!({"users": [{"id": id, "roles": ["admin"]}]})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetOrganizationUsers",
            &format!("/api/v1/organizations/{code}/users?sort=email_asc"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "UpdateOrganizationUsers",
            &format!("/api/v1/organizations/{code}/users"),
            &token,
            Some(json!({"users": [{"id": id, "permissions": ["read:reports"]}]})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "CreateOrganizationUserRole",
            &format!("/api/v1/organizations/{code}/users/{id}/roles"),
            &token,
            Some(json!({"role_id": role_id})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetOrganizationUserRoles",
            &format!("/api/v1/organizations/{code}/users/{id}/roles"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "CreateOrganizationUserPermission",
            &format!("/api/v1/organizations/{code}/users/{id}/permissions"),
            &token,
            Some(json!({"permission_id": permission_id})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetOrganizationUserPermissions",
            &format!("/api/v1/organizations/{code}/users/{id}/permissions?expand=roles"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteOrganizationUserPermission",
            &format!("/api/v1/organizations/{code}/users/{id}/permissions/{permission_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteOrganizationUserRole",
            &format!("/api/v1/organizations/{code}/users/{id}/roles/{role_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "RemoveRolePermission",
            &format!("/api/v1/roles/{role_id}/permissions/{permission_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteRole",
            &format!("/api/v1/roles/{role_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteRole",
            &format!("/api/v1/roles/{role_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeletePermission",
            &format!("/api/v1/permissions/{permission_id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "RemoveOrganizationUser",
            &format!("/api/v1/organizations/{code}/users/{id}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "deleteOrganization",
            &format!("/api/v1/organization/{code}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "deleteOrganization",
            &format!("/api/v1/organization/{code}"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "deleteUser",
            &format!("/api/v1/user?id={id}"),
            &token,
            None,
        )
        .await;

    // Feature flags.
    contract.exercise(&emulator, "CreateFeatureFlag", "/api/v1/feature_flags", &token, Some(json!({"name": "Theme", "key": "theme", "type": "str", "allow_override_level": "usr", "default_value": "light"}))).await;
    contract
        .exercise(
            &emulator,
            "UpdateEnvironementFeatureFlagOverride",
            "/api/v1/environment/feature_flags/theme",
            &token,
            Some(json!({"value": "dark"})),
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetEnvironementFeatureFlags",
            "/api/v1/environment/feature_flags",
            &token,
            None,
        )
        .await;
    let organization = contract
        .exercise(
            &emulator,
            "createOrganization",
            "/api/v1/organization",
            &token,
            Some(json!({"name": "Flags"})),
        )
        .await;
    let code = organization["organization"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();
    contract
        .exercise(
            &emulator,
            "UpdateOrganizationFeatureFlagOverride",
            &format!("/api/v1/organizations/{code}/feature_flags/theme?value=blue"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "GetOrganizationFeatureFlags",
            &format!("/api/v1/organizations/{code}/feature_flags"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteOrganizationFeatureFlagOverride",
            &format!("/api/v1/organizations/{code}/feature_flags/theme"),
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteOrganizationFeatureFlagOverrides",
            &format!("/api/v1/organizations/{code}/feature_flags"),
            &token,
            None,
        )
        .await;
    let flagged = contract.exercise(&emulator, "createUser", "/api/v1/user", &token, Some(json!({"identities": [{"type": "email", "details": {"email": "flags@example.com"}}]}))).await;
    let flagged = flagged["id"].as_str().expect("an id").to_owned();
    contract
        .exercise(
            &emulator,
            "UpdateUserFeatureFlagOverride",
            &format!("/api/v1/users/{flagged}/feature_flags/theme?value=dark"),
            &token,
            None,
        )
        .await;
    contract.exercise(&emulator, "UpdateFeatureFlag", "/api/v1/feature_flags/theme?name=Theme&description=x&type=str&allow_override_level=org&default_value=light", &token, None).await;
    contract
        .exercise(
            &emulator,
            "DeleteEnvironementFeatureFlagOverride",
            "/api/v1/environment/feature_flags/theme",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteEnvironementFeatureFlagOverrides",
            "/api/v1/environment/feature_flags",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteFeatureFlag",
            "/api/v1/feature_flags/theme",
            &token,
            None,
        )
        .await;
    contract
        .exercise(
            &emulator,
            "DeleteFeatureFlag",
            "/api/v1/feature_flags/theme",
            &token,
            None,
        )
        .await;

    // Throttling and injected errors.
    let faults = Faults {
        rate_limited_ratio: 1.0,
        ..Faults::default()
    };
    send_raw(
        &emulator,
        Method::PUT,
        "/_emulator/faults",
        &[],
        serde_json::to_vec(&faults).expect("JSON"),
    )
    .await;
    contract
        .exercise(&emulator, "getUsers", "/api/v1/users", &token, None)
        .await;
    let faults = Faults {
        error_ratio: 1.0,
        ..Faults::default()
    };
    send_raw(
        &emulator,
        Method::PUT,
        "/_emulator/faults",
        &[],
        serde_json::to_vec(&faults).expect("JSON"),
    )
    .await;
    contract
        .exercise(&emulator, "getUsers", "/api/v1/users", &token, None)
        .await;

    // An unknown route.
    send_raw(&emulator, Method::POST, "/_emulator/reset", &[], Vec::new()).await;
    let reply = call(&emulator, Method::GET, "/api/v1/nowhere", &token, None).await;
    let not_found = contract.named("not_found_response");
    contract.validate("ROUTE_NOT_FOUND", &not_found, &reply.body);

    assert!(
        contract.failures.is_empty(),
        "{}",
        contract.failures.join("\n")
    );
    let never_succeeded: Vec<&str> = OPERATIONS
        .iter()
        .filter(|op| is_stateful(op.id) && !contract.succeeded.contains(op.id))
        .map(|op| op.id)
        .collect();
    assert!(
        never_succeeded.is_empty(),
        "never answered 2xx: {never_succeeded:?}"
    );
    assert!(
        contract.validated > 500,
        "only {} responses validated",
        contract.validated
    );
    println!(
        "validated {} emulator responses against the spec",
        contract.validated
    );
}
