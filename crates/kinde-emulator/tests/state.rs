//! Users, organizations and organization users: CRUD with Kinde's shapes, and both pagination
//! styles walked to the end.

mod common;

use std::collections::BTreeSet;

use common::{call, demo_token, send_raw};
use http::{Method, StatusCode};
use kinde_emulator::{Emulator, EmulatorService};
use serde_json::{Value, json};

async fn create_user(emulator: &EmulatorService, token: &str, email: &str, name: &str) -> String {
    let reply = call(
        emulator,
        Method::POST,
        "/api/v1/user",
        token,
        Some(json!({
            "profile": {"given_name": name, "family_name": "Tester"},
            "identities": [{"type": "email", "details": {"email": email}}]
        })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["id"].as_str().expect("an id").to_owned()
}

async fn create_organization(emulator: &EmulatorService, token: &str, name: &str) -> String {
    let reply = call(
        emulator,
        Method::POST,
        "/api/v1/organization",
        token,
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["organization"]["code"]
        .as_str()
        .expect("a code")
        .to_owned()
}

async fn create_role(emulator: &EmulatorService, token: &str, key: &str, name: &str) -> String {
    let reply = call(
        emulator,
        Method::POST,
        "/api/v1/roles",
        token,
        Some(json!({"key": key, "name": name, "description": "A role"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["role"]["id"].as_str().expect("an id").to_owned()
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[tokio::test]
async fn users_are_created_read_updated_listed_and_deleted() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    let reply = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "identities": [{"type": "email", "is_verified": true, "details": {"email": "ada@example.com"}}]
        })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let id = reply.body["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("kp_") && is_hex(&id[3..], 32), "{id}");
    assert_eq!(reply.body["created"], true);
    assert_eq!(
        reply.body["identities"],
        json!([{"type": "email", "result": {"created": true}}])
    );

    let user = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/user?id={id}&expand=organizations"),
        &token,
        None,
    )
    .await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["preferred_email"], "ada@example.com");
    assert_eq!(user.body["first_name"], "Ada");
    assert_eq!(user.body["last_name"], "Lovelace");
    assert_eq!(user.body["is_suspended"], false);
    assert_eq!(user.body["organizations"].as_array().map(Vec::len), Some(1));

    let duplicate = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({"identities": [{"type": "email", "details": {"email": "ADA@example.com"}}]})),
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    assert_eq!(duplicate.body["errors"][0]["code"], "DUPLICATE_EMAIL");

    let updated = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/user?id={id}"),
        &token,
        Some(json!({"given_name": "Augusta", "is_suspended": true})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["given_name"], "Augusta");
    assert_eq!(updated.body["family_name"], "Lovelace");
    assert_eq!(updated.body["email"], "ada@example.com");
    assert_eq!(updated.body["is_suspended"], true);

    let empty = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/user?id={id}"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(empty.body["errors"][0]["code"], "NO_FIELDS_TO_UPDATE");

    let listed = call(
        &emulator,
        Method::GET,
        "/api/v1/users?email=ada%40example.com",
        &token,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["code"], "OK");
    assert_eq!(listed.body["users"][0]["id"], id.as_str());
    assert_eq!(listed.body["users"][0]["email"], "ada@example.com");
    assert_eq!(listed.body["users"][0]["first_name"], "Augusta");
    assert!(listed.body.get("next_token").is_none());

    let found = call(
        &emulator,
        Method::GET,
        "/api/v1/search/users?query=augusta",
        &token,
        None,
    )
    .await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["results"][0]["id"], id.as_str());
    assert!(found.body.get("has_more").is_none());

    let deleted = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/user?id={id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body, json!({"code": "OK", "message": "Success"}));

    let gone = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/user?id={id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    assert_eq!(gone.body["errors"][0]["code"], "USER_NOT_FOUND");
    let again = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/user?id={id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(again.body["errors"][0]["code"], "USER_NOT_FOUND");
}

#[tokio::test]
async fn creating_a_user_in_an_unknown_organization_fails() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let reply = call(
        &emulator,
        Method::POST,
        "/api/v1/user",
        &token,
        Some(json!({"organization_code": "org_00000000000"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["errors"][0]["code"], "ORGANIZATION_NOT_FOUND");
}

#[tokio::test]
async fn organizations_are_created_read_updated_sorted_and_deleted() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    let code = create_organization(&emulator, &token, "Zebra Corp").await;
    assert!(code.starts_with("org_") && is_hex(&code[4..], 11), "{code}");
    create_organization(&emulator, &token, "acme").await;

    let organization = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organization?code={code}"),
        &token,
        None,
    )
    .await;
    assert_eq!(organization.status, StatusCode::OK);
    assert_eq!(organization.body["code"], code.as_str());
    assert_eq!(organization.body["name"], "Zebra Corp");
    assert_eq!(organization.body["is_default"], false);

    let no_code = call(&emulator, Method::GET, "/api/v1/organization", &token, None).await;
    assert_eq!(no_code.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_code.body["errors"][0]["code"], "MISSING_PARAMETER");

    let updated = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/organization/{code}"),
        &token,
        Some(json!({"name": "Zebra Inc", "external_id": "z-1"})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body, json!({"code": "OK", "message": "Success"}));

    let sorted = call(
        &emulator,
        Method::GET,
        "/api/v1/organizations?sort=name_asc",
        &token,
        None,
    )
    .await;
    let names: Vec<&str> = sorted.body["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .filter_map(|organization| organization["name"].as_str())
        .collect();
    assert_eq!(names, ["acme", "Default Organization", "Zebra Inc"]);
    let descending = call(
        &emulator,
        Method::GET,
        "/api/v1/organizations?sort=name_desc",
        &token,
        None,
    )
    .await;
    assert_eq!(descending.body["organizations"][0]["name"], "Zebra Inc");
    assert_eq!(descending.body["organizations"][0]["external_id"], "z-1");

    let deleted = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organization/{code}"),
        &token,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organization?code={code}"),
        &token,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    assert_eq!(gone.body["errors"][0]["code"], "ORGANIZATION_NOT_FOUND");
    let again = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organization/{code}"),
        &token,
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.body["errors"]["code"], "ORGANIZATION_NOT_FOUND");
}

#[tokio::test]
async fn organization_users_are_added_listed_and_removed() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let code = create_organization(&emulator, &token, "Acme").await;
    let ada = create_user(&emulator, &token, "ada@example.com", "Ada").await;
    let bob = create_user(&emulator, &token, "bob@example.com", "Bob").await;
    let unknown_role = call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        Some(json!({"users": [{"id": ada, "roles": ["admin"]}]})),
    )
    .await;
    assert_eq!(unknown_role.body["errors"][0]["code"], "ROLE_NOT_FOUND");
    create_role(&emulator, &token, "admin", "Administrator").await;

    let added = call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        Some(json!({"users": [{"id": ada, "roles": ["admin"]}, {"id": bob}]})),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    assert_eq!(added.body["users_added"], json!([ada, bob]));

    let members = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users?sort=name_desc"),
        &token,
        None,
    )
    .await;
    assert_eq!(members.status, StatusCode::OK);
    let users = members.body["organization_users"]
        .as_array()
        .expect("users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["full_name"], "Bob Tester");
    assert_eq!(users[1]["roles"], json!(["admin"]));

    let admins = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users?roles=admin"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        admins.body["organization_users"].as_array().map(Vec::len),
        Some(1)
    );

    let removed = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organizations/{code}/users/{ada}"),
        &token,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    let members = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        None,
    )
    .await;
    assert_eq!(members.body["organization_users"][0]["id"], bob.as_str());

    let unknown = call(
        &emulator,
        Method::POST,
        "/api/v1/organizations/org_00000000000/users",
        &token,
        Some(json!({"users": [{"id": bob}]})),
    )
    .await;
    assert_eq!(unknown.body["errors"][0]["code"], "ORGANIZATION_NOT_FOUND");
}

/// Follows `next_token` from the first page to the last, returning every item's `field`.
async fn walk_next_token(
    emulator: &EmulatorService,
    token: &str,
    path: &str,
    items: &str,
    field: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = match &next {
            Some(next) => format!("{path}{separator}page_size=7&next_token={next}"),
            None => format!("{path}{separator}page_size=7"),
        };
        let reply = call(emulator, Method::GET, &url, token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let page = reply.body[items].as_array().expect("items");
        assert!(page.len() <= 7);
        seen.extend(
            page.iter()
                .filter_map(|item| item[field].as_str().map(str::to_owned)),
        );
        match reply.body.get("next_token").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => return seen,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn next_token_pagination_walks_every_item_once() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let code = create_organization(&emulator, &token, "Acme").await;
    let mut created = Vec::new();
    for index in 0..30 {
        let id = create_user(
            &emulator,
            &token,
            &format!("user{index}@example.com"),
            &format!("User{index:02}"),
        )
        .await;
        created.push(id);
    }
    let users: Vec<_> = created.iter().map(|id| json!({"id": id})).collect();
    call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        Some(json!({"users": users})),
    )
    .await;
    for index in 0..12 {
        create_organization(&emulator, &token, &format!("Org {index:02}")).await;
    }

    let users = walk_next_token(&emulator, &token, "/api/v1/users", "users", "id").await;
    assert_eq!(users, created);

    let members = walk_next_token(
        &emulator,
        &token,
        &format!("/api/v1/organizations/{code}/users?sort=email_asc"),
        "organization_users",
        "id",
    )
    .await;
    assert_eq!(members.len(), 30);
    assert_eq!(members.iter().collect::<BTreeSet<_>>().len(), 30);

    let organizations = walk_next_token(
        &emulator,
        &token,
        "/api/v1/organizations?sort=name_desc",
        "organizations",
        "name",
    )
    .await;
    assert_eq!(organizations.len(), 14);
    let mut expected = organizations.clone();
    expected.sort_by_key(|name| std::cmp::Reverse(name.to_lowercase()));
    assert_eq!(organizations, expected);
}

#[tokio::test]
async fn cursor_pagination_walks_every_item_once_in_both_directions() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let mut created = Vec::new();
    for index in 0..23 {
        created.push(
            create_user(
                &emulator,
                &token,
                &format!("s{index}@example.com"),
                "Searchable",
            )
            .await,
        );
    }

    let mut seen: Vec<String> = Vec::new();
    loop {
        let cursor = seen
            .last()
            .map(|last| format!("&starting_after={last}"))
            .unwrap_or_default();
        let reply = call(
            &emulator,
            Method::GET,
            &format!("/api/v1/search/users?query=searchable&page_size=5{cursor}"),
            &token,
            None,
        )
        .await;
        let page = reply.body["results"].as_array().expect("results").clone();
        seen.extend(
            page.iter()
                .filter_map(|user| user["id"].as_str().map(str::to_owned)),
        );
        if page.len() < 5 {
            break;
        }
    }
    assert_eq!(seen, created);

    let last = created.last().expect("users");
    let before = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/search/users?page_size=5&ending_before={last}"),
        &token,
        None,
    )
    .await;
    let ids: Vec<&str> = before.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|user| user["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        created[17..22]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );

    let both = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/search/users?starting_after={last}&ending_before={last}"),
        &token,
        None,
    )
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.body["errors"][0]["code"], "TOO_MANY_PARAMETERS");
}

#[tokio::test]
async fn page_sizes_over_the_limit_are_refused() {
    let emulator = Emulator::builder().page_size_limit(50).build_service();
    let token = demo_token(&emulator, None).await;

    for path in [
        "/api/v1/users?page_size=51",
        "/api/v1/organizations?page_size=51",
        "/api/v1/search/users?page_size=51",
    ] {
        let reply = call(&emulator, Method::GET, path, &token, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            reply.body["errors"][0]["code"], "PAGE_SIZE_LIMIT_EXCEEDED",
            "{path}"
        );
    }
    let ok = call(
        &emulator,
        Method::GET,
        "/api/v1/users?page_size=50",
        &token,
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);

    let default = Emulator::builder().build_service();
    let token = demo_token(&default, None).await;
    let over = call(
        &default,
        Method::GET,
        "/api/v1/users?page_size=501",
        &token,
        None,
    )
    .await;
    assert_eq!(over.body["errors"][0]["code"], "PAGE_SIZE_LIMIT_EXCEEDED");
    let bad_token = call(
        &default,
        Method::GET,
        "/api/v1/users?next_token=garbage",
        &token,
        None,
    )
    .await;
    assert_eq!(bad_token.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn roles_and_permissions_are_managed_and_granted_to_members() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;

    for (key, name) in [
        ("read:reports", "Read reports"),
        ("write:reports", "Write reports"),
    ] {
        let reply = call(
            &emulator,
            Method::POST,
            "/api/v1/permissions",
            &token,
            Some(json!({"key": key, "name": name})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        assert_eq!(reply.body, json!({"code": "OK", "message": "Success"}));
    }
    let duplicate = call(
        &emulator,
        Method::POST,
        "/api/v1/permissions",
        &token,
        Some(json!({"key": "read:reports", "name": "Again"})),
    )
    .await;
    assert_eq!(duplicate.body["errors"][0]["code"], "DUPLICATE_KEY");

    let permissions = call(
        &emulator,
        Method::GET,
        "/api/v1/permissions?sort=name_desc",
        &token,
        None,
    )
    .await;
    let listed = permissions.body["permissions"]
        .as_array()
        .expect("permissions")
        .clone();
    assert_eq!(listed[0]["key"], "write:reports");
    let read_id = listed[1]["id"].as_str().expect("an id").to_owned();
    let write_id = listed[0]["id"].as_str().expect("an id").to_owned();
    assert!(
        read_id.starts_with("perm_") && is_hex(&read_id[5..], 32),
        "{read_id}"
    );

    let role = create_role(&emulator, &token, "editor", "Editor").await;
    assert_eq!(role.len(), 36, "{role}");
    let fetched = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/roles/{role}"),
        &token,
        None,
    )
    .await;
    assert_eq!(fetched.body["role"]["key"], "editor");
    assert_eq!(fetched.body["role"]["is_default_role"], false);

    let updated = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/roles/{role}"),
        &token,
        Some(json!({"name": "Chief editor", "key": "chief-editor"})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::CREATED);

    let granted = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/roles/{role}/permissions"),
        &token,
        Some(json!({"permissions": [{"id": read_id}, {"id": write_id}]})),
    )
    .await;
    assert_eq!(granted.status, StatusCode::OK);
    assert_eq!(
        granted.body["permissions_added"],
        json!([read_id, write_id])
    );
    let revoked = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/roles/{role}/permissions/{write_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let role_permissions = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/roles/{role}/permissions"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        role_permissions.body["permissions"][0]["id"],
        read_id.as_str()
    );
    assert_eq!(
        role_permissions.body["permissions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let code = create_organization(&emulator, &token, "Acme").await;
    let ada = create_user(&emulator, &token, "ada@example.com", "Ada").await;
    let bulk = call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        Some(json!({"users": [{"id": ada, "permissions": ["read:reports"]}]})),
    )
    .await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.text);
    assert_eq!(bulk.body["users_added"], json!([ada]));

    let assigned = call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users/{ada}/roles"),
        &token,
        Some(json!({"role_id": role})),
    )
    .await;
    assert_eq!(assigned.status, StatusCode::OK);
    let roles = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users/{ada}/roles"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        roles.body["roles"],
        json!([{"id": role, "key": "chief-editor", "name": "Chief editor"}])
    );

    let unassigned = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organizations/{code}/users/{ada}/roles/{role}"),
        &token,
        None,
    )
    .await;
    assert_eq!(unassigned.status, StatusCode::OK);
    let roles = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users/{ada}/roles"),
        &token,
        None,
    )
    .await;
    assert_eq!(roles.body["roles"], json!([]));

    let deleted = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/roles/{role}"),
        &token,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/roles/{role}"),
        &token,
        None,
    )
    .await;
    assert_eq!(gone.body["errors"][0]["code"], "ROLE_NOT_FOUND");
    let removed = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/permissions/{read_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    let state = send_raw(&emulator, Method::GET, "/_emulator/state", &[], Vec::new()).await;
    assert_eq!(state.body["permissions"].as_array().map(Vec::len), Some(1));
    assert_eq!(state.body["memberships"][1]["permissions"], json!([]));
}

#[tokio::test]
async fn roles_and_permissions_page_by_next_token() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    for index in 0..16 {
        create_role(
            &emulator,
            &token,
            &format!("role-{index:02}"),
            &format!("Role {index:02}"),
        )
        .await;
        call(
            &emulator,
            Method::POST,
            "/api/v1/permissions",
            &token,
            Some(json!({"key": format!("p{index}"), "name": format!("P{index:02}")})),
        )
        .await;
    }
    let roles = walk_next_token(
        &emulator,
        &token,
        "/api/v1/roles?sort=key_desc",
        "roles",
        "key",
    )
    .await;
    let expected: Vec<String> = (0..16)
        .rev()
        .map(|index| format!("role-{index:02}"))
        .collect();
    assert_eq!(roles, expected);
    let permissions = walk_next_token(
        &emulator,
        &token,
        "/api/v1/permissions?sort=name_asc",
        "permissions",
        "name",
    )
    .await;
    assert_eq!(permissions.len(), 16);
    assert_eq!(permissions.iter().collect::<BTreeSet<_>>().len(), 16);
}

#[tokio::test]
async fn a_members_permissions_come_directly_and_from_roles() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    for key in ["read:reports", "write:reports"] {
        call(
            &emulator,
            Method::POST,
            "/api/v1/permissions",
            &token,
            Some(json!({"key": key, "name": key})),
        )
        .await;
    }
    let listed = call(&emulator, Method::GET, "/api/v1/permissions", &token, None).await;
    let read_id = listed.body["permissions"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let write_id = listed.body["permissions"][1]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let role = create_role(&emulator, &token, "reader", "Reader").await;
    call(
        &emulator,
        Method::PATCH,
        &format!("/api/v1/roles/{role}/permissions"),
        &token,
        Some(json!({"permissions": [{"id": read_id}]})),
    )
    .await;

    let code = create_organization(&emulator, &token, "Acme").await;
    let ada = create_user(&emulator, &token, "ada@example.com", "Ada").await;
    call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users"),
        &token,
        Some(json!({"users": [{"id": ada, "roles": ["reader"]}]})),
    )
    .await;
    let granted = call(
        &emulator,
        Method::POST,
        &format!("/api/v1/organizations/{code}/users/{ada}/permissions"),
        &token,
        Some(json!({"permission_id": write_id})),
    )
    .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);

    let permissions = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users/{ada}/permissions?expand=roles"),
        &token,
        None,
    )
    .await;
    assert_eq!(permissions.status, StatusCode::OK);
    assert_eq!(
        permissions.body["permissions"],
        json!([
            {"id": read_id, "key": "read:reports", "name": "read:reports", "roles": [{"id": role, "key": "reader"}]},
            {"id": write_id, "key": "write:reports", "name": "write:reports", "roles": []}
        ])
    );

    let revoked = call(
        &emulator,
        Method::DELETE,
        &format!("/api/v1/organizations/{code}/users/{ada}/permissions/{write_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let permissions = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/organizations/{code}/users/{ada}/permissions"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        permissions.body["permissions"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(permissions.body["permissions"][0].get("roles").is_none());

    let stranger = call(
        &emulator,
        Method::GET,
        &format!(
            "/api/v1/organizations/{code}/users/kp_00000000000000000000000000000000/permissions"
        ),
        &token,
        None,
    )
    .await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST);
    assert_eq!(stranger.body["errors"][0]["code"], "USER_NOT_FOUND");
}

#[tokio::test]
async fn identities_page_by_cursor_with_has_more() {
    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, None).await;
    let user = create_user(&emulator, &token, "ada@example.com", "Ada").await;
    let mut created = Vec::new();
    for index in 0..22 {
        let reply = call(
            &emulator,
            Method::POST,
            &format!("/api/v1/users/{user}/identities"),
            &token,
            Some(json!({"type": "username", "value": format!("ada{index}")})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let id = reply.body["identity"]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        assert!(id.starts_with("identity_") && is_hex(&id[9..], 32), "{id}");
        created.push(id);
    }

    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let cursor = seen
            .last()
            .map(|last| format!("?starting_after={last}"))
            .unwrap_or_default();
        let reply = call(
            &emulator,
            Method::GET,
            &format!("/api/v1/users/{user}/identities{cursor}"),
            &token,
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        pages += 1;
        let page = reply.body["identities"]
            .as_array()
            .expect("identities")
            .clone();
        assert!(page.len() <= 10);
        seen.extend(
            page.iter()
                .filter_map(|identity| identity["id"].as_str().map(str::to_owned)),
        );
        if reply.body["has_more"] == false {
            break;
        }
        assert!(pages < 10, "pagination did not end");
    }
    // The email identity from createUser comes first, then the 22 added ones.
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 23);
    assert_eq!(&seen[1..], created.as_slice());
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 23);

    let first = call(
        &emulator,
        Method::GET,
        &format!("/api/v1/users/{user}/identities"),
        &token,
        None,
    )
    .await;
    assert_eq!(first.body["identities"][0]["type"], "email");
    assert_eq!(first.body["identities"][0]["is_primary"], true);
    let before = call(
        &emulator,
        Method::GET,
        &format!(
            "/api/v1/users/{user}/identities?ending_before={}",
            created[0]
        ),
        &token,
        None,
    )
    .await;
    assert_eq!(before.body["identities"].as_array().map(Vec::len), Some(1));
    assert_eq!(before.body["has_more"], false);
}
