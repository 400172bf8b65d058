//! A user's life in an organization, against the emulator's real state on loopback, through the
//! whole client: create, find, join, get a role, list page by page, delete. What is asserted is
//! what a caller notices: the ids returned, the counts, the statuses Kinde answered, and the one
//! token the client fetched for all of it.
//!
//! Real time over a real socket; nothing here depends on how fast it runs.

mod common;

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use kinde_api::models;
use kinde_management::ErrorKind;
use kinde_management::params::{
    AddOrganizationUsersParams, CreateOrganizationUserRoleParams, DeleteOrganizationParams,
    DeleteOrganizationUserRoleParams, DeleteRoleParams, DeleteUserParams, GetOrganizationParams,
    GetOrganizationUserRolesParams, GetOrganizationUsersParams, GetUsersParams,
    RemoveOrganizationUserParams, SearchUsersParams,
};
use serde_json::{Value, json};

use common::{Kinde, create_user};

/// How many members the organization gets, and how many a page lists: 25 members in pages of 4
/// is six full pages and a short one.
const MEMBERS: usize = 25;
const PAGE_SIZE: i64 = 4;

/// A JSON value as the generated request model `T`.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid request body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_found_given_a_role_listed_by_page_and_deleted() {
    let kinde = Kinde::start().await;
    let client = kinde.client();

    // A user, found by an email filter and by a search.
    let ada = create_user(&client, "ada@example.com", "Ada", "Lovelace").await;
    assert!(ada.starts_with("kp_"), "{ada}");
    let by_email = client
        .get_users(&GetUsersParams {
            email: Some("ada@example.com".to_owned()),
            ..Default::default()
        })
        .await
        .expect("getUsers");
    let by_email = by_email.users.unwrap_or_default();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0].id.as_deref(), Some(ada.as_str()));
    assert_eq!(by_email[0].email.as_deref(), Some("ada@example.com"));
    let searched = client
        .search_users(&SearchUsersParams {
            query: Some("lovelace".to_owned()),
            ..Default::default()
        })
        .await
        .expect("searchUsers");
    let searched: Vec<_> = searched.results.unwrap_or_default();
    assert_eq!(searched.len(), 1);
    assert_eq!(searched[0].id.as_deref(), Some(ada.as_str()));

    // An organization with the user in it, holding a new role.
    let organization = client
        .create_organization(&body(json!({"name": "Analytical Engines"})))
        .await
        .expect("createOrganization");
    let org_code = organization
        .organization
        .and_then(|organization| organization.code)
        .expect("a new organization has a code");
    let added = client
        .add_organization_users(
            &AddOrganizationUsersParams {
                org_code: org_code.clone(),
            },
            Some(&body(json!({"users": [{"id": ada}]}))),
        )
        .await
        .expect("AddOrganizationUsers");
    assert_eq!(added.users_added, Some(vec![ada.clone()]));
    let role = client
        .create_role(Some(&body(json!({"name": "Engineer", "key": "engineer"}))))
        .await
        .expect("CreateRole");
    let role_id = role.role.and_then(|role| role.id).expect("a role id");
    let granted = client
        .create_organization_user_role(
            &CreateOrganizationUserRoleParams {
                org_code: org_code.clone(),
                user_id: ada.clone(),
            },
            &models::CreateOrganizationUserRoleRequest {
                role_id: Some(role_id.clone()),
            },
        )
        .await
        .expect("CreateOrganizationUserRole");
    assert_eq!(granted.code.as_deref(), Some("OK"));
    let roles = client
        .get_organization_user_roles(&GetOrganizationUserRolesParams {
            org_code: org_code.clone(),
            user_id: ada.clone(),
        })
        .await
        .expect("GetOrganizationUserRoles");
    let roles = roles.roles.unwrap_or_default();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].id.as_deref(), Some(role_id.as_str()));
    assert_eq!(roles[0].key.as_deref(), Some("engineer"));

    // More members, added in one call, then listed four at a time.
    let mut members = vec![ada.clone()];
    for n in 1..MEMBERS {
        let email = format!("member{n:02}@example.com");
        members.push(create_user(&client, &email, "Member", &format!("{n:02}")).await);
    }
    let others: Vec<Value> = members[1..].iter().map(|id| json!({"id": id})).collect();
    let added = client
        .add_organization_users(
            &AddOrganizationUsersParams {
                org_code: org_code.clone(),
            },
            Some(&body(json!({ "users": others }))),
        )
        .await
        .expect("AddOrganizationUsers");
    assert_eq!(added.users_added.map(|ids| ids.len()), Some(MEMBERS - 1));

    let listed: Vec<models::OrganizationUser> = client
        .get_organization_users_stream(GetOrganizationUsersParams {
            org_code: org_code.clone(),
            page_size: Some(PAGE_SIZE),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("every page of GetOrganizationUsers");
    let listed_ids: Vec<String> = listed.iter().filter_map(|user| user.id.clone()).collect();
    assert_eq!(listed_ids, members, "every member once, in joining order");
    assert_eq!(listed[0].roles, Some(vec!["engineer".to_owned()]));

    let pages: Vec<_> = kinde
        .api_requests()
        .await
        .into_iter()
        .filter(|request| request.operation_id.as_deref() == Some("GetOrganizationUsers"))
        .collect();
    assert_eq!(pages.len(), MEMBERS.div_ceil(PAGE_SIZE as usize));
    assert!(pages.iter().all(|page| page.status == 200));
    assert!(
        pages
            .iter()
            .all(|page| page.query_value("page_size").as_deref() == Some("4"))
    );
    assert_eq!(pages[0].query_value("next_token"), None);
    let tokens: BTreeSet<String> = pages[1..]
        .iter()
        .map(|page| page.query_value("next_token").expect("a next_token"))
        .collect();
    assert_eq!(
        tokens.len(),
        pages.len() - 1,
        "each page asked with a new token"
    );

    // Every user of the business, streamed ten at a time.
    let users: Vec<models::UsersResponseUser> = client
        .get_users_stream(GetUsersParams {
            page_size: Some(10),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("every page of getUsers");
    let user_ids: Vec<String> = users.iter().filter_map(|user| user.id.clone()).collect();
    assert_eq!(user_ids, members);

    // Delete everything: the role grant, the membership, the role, the users, the organization.
    let revoked = client
        .delete_organization_user_role(&DeleteOrganizationUserRoleParams {
            org_code: org_code.clone(),
            user_id: ada.clone(),
            role_id: role_id.clone(),
        })
        .await
        .expect("DeleteOrganizationUserRole");
    assert_eq!(revoked.code.as_deref(), Some("OK"));
    client
        .remove_organization_user(&RemoveOrganizationUserParams {
            org_code: org_code.clone(),
            user_id: ada.clone(),
        })
        .await
        .expect("RemoveOrganizationUser");
    client
        .delete_role(&DeleteRoleParams {
            role_id: role_id.clone(),
        })
        .await
        .expect("DeleteRole");
    for id in &members {
        client
            .delete_user(&DeleteUserParams {
                id: id.clone(),
                ..Default::default()
            })
            .await
            .expect("deleteUser");
    }
    client
        .delete_organization(&DeleteOrganizationParams {
            org_code: org_code.clone(),
        })
        .await
        .expect("deleteOrganization");

    // Nothing is left, to the client or in the emulator's state.
    let remaining = client
        .get_users(&GetUsersParams::default())
        .await
        .expect("getUsers");
    assert_eq!(remaining.users.map(|users| users.len()), Some(0));
    let gone = client
        .get_organization(&GetOrganizationParams {
            code: org_code.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the organization is deleted");
    assert_eq!(gone.kind(), ErrorKind::Api);
    assert_eq!(gone.code(), Some("ORGANIZATION_NOT_FOUND"));

    let state = kinde.state().await;
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["memberships"], json!([]));
    assert_eq!(state["roles"], json!([]));
    let organizations = state["organizations"].as_array().expect("organizations");
    assert_eq!(
        organizations.len(),
        1,
        "only the default organization: {state}"
    );
    assert_eq!(organizations[0]["is_default"], true);

    // One token for the whole test, and every request but the last lookup succeeded.
    let stats = kinde.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    let requests = kinde.api_requests().await;
    let failed: Vec<_> = requests
        .iter()
        .filter(|request| !(200..300).contains(&request.status))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].operation_id.as_deref(), Some("getOrganization"));
}
