//! Organization users: `AddOrganizationUsers`, `GetOrganizationUsers`,
//! `UpdateOrganizationUsers`, `RemoveOrganizationUser`.

use http::StatusCode;
use kinde_api::models::{
    AddOrganizationUsersRequest, AddOrganizationUsersResponse, GetOrganizationUsersResponse,
    OrganizationUser, SuccessResponse, UpdateOrganizationUsersRequest,
    UpdateOrganizationUsersResponse,
};

use super::organizations::not_found;
use super::page::Window;
use super::request::INVALID_PARAMETER;
use super::roles::{permission_not_found, role_not_found};
use super::{ApiRequest, ApiResult, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{Membership, Store, UserRecord};

/// The most users one bulk request may add, as Kinde's docs state.
const BULK_LIMIT: usize = 100;

/// The code of the 400 for adding a user that does not exist.
const USER_NOT_FOUND: &str = "USER_NOT_FOUND";

/// `POST /api/v1/organizations/{org_code}/users`.
pub(super) fn add(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: AddOrganizationUsersRequest = request.body_as()?;
    let additions = body.users.unwrap_or_default();
    if additions.len() > BULK_LIMIT {
        return Err(ApiError::bad_request(
            INVALID_PARAMETER,
            format!("at most {BULK_LIMIT} users may be added at once"),
        ));
    }

    let code = request.path("org_code");
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(not_found(request));
    }
    for addition in &additions {
        let id = addition.id.as_deref().unwrap_or_default();
        if store.user(id).is_none() {
            return Err(ApiError::bad_request(
                USER_NOT_FOUND,
                format!("User not found: {id}"),
            ));
        }
        check_grants(
            &store,
            addition.roles.as_deref(),
            addition.permissions.as_deref(),
        )?;
    }

    let joined_on = context.clock.rfc3339();
    let mut users_added = Vec::new();
    for addition in additions {
        let id = addition.id.unwrap_or_default();
        store.join(code, &id, joined_on.clone());
        if let Some(membership) = store.membership_mut(code, &id) {
            merge(&mut membership.roles, addition.roles.unwrap_or_default());
            merge(
                &mut membership.permissions,
                addition.permissions.unwrap_or_default(),
            );
        }
        users_added.push(id);
    }
    drop(store);

    let body = AddOrganizationUsersResponse {
        code: Some("OK".to_owned()),
        message: Some("Users successfully added".to_owned()),
        users_added: Some(users_added),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/organizations/{org_code}/users`: sorted, filtered by role or permission, paged
/// by `next_token`.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let sort = request.query("sort").unwrap_or_default();
    let roles = request.query_list("roles");
    let permissions = request.query_list("permissions");
    let code = request.path("org_code");

    let store = context.store();
    if store.organization(code).is_none() {
        return Err(not_found(request));
    }
    let mut members: Vec<(&Membership, &UserRecord)> = store
        .memberships
        .iter()
        .filter(|membership| membership.org_code == code)
        .filter(|membership| {
            roles.is_empty() || membership.roles.iter().any(|r| roles.contains(&r.as_str()))
        })
        .filter(|membership| {
            permissions.is_empty()
                || membership
                    .permissions
                    .iter()
                    .any(|p| permissions.contains(&p.as_str()))
        })
        .filter_map(|membership| Some((membership, store.user(&membership.user_id)?)))
        .collect();
    match sort {
        "name_asc" | "name_desc" => {
            members.sort_by_key(|(_, user)| user.full_name().to_lowercase())
        }
        "email_asc" | "email_desc" => members.sort_by_key(|(_, user)| user.email.clone()),
        _ => {}
    }
    if sort.ends_with("_desc") {
        members.reverse();
    }

    let (page, next_token) = window.apply(members, sort);
    let organization_users = page
        .into_iter()
        .map(|(membership, user)| OrganizationUser {
            id: Some(user.id.clone()),
            email: user.email.clone(),
            full_name: Some(user.full_name()),
            last_name: user.last_name.clone(),
            first_name: user.first_name.clone(),
            picture: user.picture.clone(),
            joined_on: Some(membership.joined_on.clone()),
            last_accessed_on: None,
            is_suspended: Some(user.is_suspended),
            roles: Some(membership.roles.clone()),
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetOrganizationUsersResponse {
        code,
        message,
        organization_users: Some(organization_users),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/v1/organizations/{org_code}/users/{user_id}`.
pub(super) fn remove(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let user_id = request.path("user_id");
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(not_found(request));
    }
    let before = store.memberships.len();
    store
        .memberships
        .retain(|membership| !(membership.org_code == code && membership.user_id == user_id));
    if store.memberships.len() == before {
        return Err(ApiError::bad_request(
            USER_NOT_FOUND,
            "The user is not a member of this organization",
        ));
    }
    drop(store);

    let (code, message) = ok_code();
    Ok(json_response(
        StatusCode::OK,
        &SuccessResponse { message, code },
    ))
}

/// `PATCH /api/v1/organizations/{org_code}/users`: adds, updates or (with
/// `"operation": "delete"`) removes members in bulk.
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: UpdateOrganizationUsersRequest = request.body_as()?;
    let changes = body.users.unwrap_or_default();
    if changes.len() > BULK_LIMIT {
        return Err(ApiError::bad_request(
            INVALID_PARAMETER,
            format!("at most {BULK_LIMIT} users may be updated at once"),
        ));
    }
    let code = request.path("org_code");
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(not_found(request));
    }
    for change in &changes {
        let id = change.id.as_deref().unwrap_or_default();
        if store.user(id).is_none() {
            return Err(ApiError::bad_request(
                USER_NOT_FOUND,
                format!("User not found: {id}"),
            ));
        }
        check_grants(
            &store,
            change.roles.as_deref(),
            change.permissions.as_deref(),
        )?;
    }

    let joined_on = context.clock.rfc3339();
    let (mut added, mut updated, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for change in changes {
        let id = change.id.unwrap_or_default();
        if change.operation.as_deref() == Some("delete") {
            store
                .memberships
                .retain(|membership| !(membership.org_code == code && membership.user_id == id));
            removed.push(id);
            continue;
        }
        if store.join(code, &id, joined_on.clone()) {
            added.push(id.clone());
        } else {
            updated.push(id.clone());
        }
        if let Some(membership) = store.membership_mut(code, &id) {
            merge(&mut membership.roles, change.roles.unwrap_or_default());
            merge(
                &mut membership.permissions,
                change.permissions.unwrap_or_default(),
            );
        }
    }
    drop(store);

    let (code, message) = ok_code();
    let body = UpdateOrganizationUsersResponse {
        message,
        code,
        users_added: Some(added),
        users_updated: Some(updated),
        users_removed: Some(removed),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The membership named by the `org_code` and `user_id` path parameters.
pub(super) fn membership<'a>(
    store: &'a Store,
    request: &ApiRequest,
) -> Result<&'a Membership, ApiError> {
    let code = request.path("org_code");
    if store.organization(code).is_none() {
        return Err(not_found(request));
    }
    let user_id = request.path("user_id");
    store
        .memberships
        .iter()
        .find(|membership| membership.org_code == code && membership.user_id == user_id)
        .ok_or_else(|| {
            ApiError::bad_request(
                USER_NOT_FOUND,
                "The user is not a member of this organization",
            )
        })
}

/// Rejects role keys and permission keys that do not exist.
fn check_grants(
    store: &Store,
    roles: Option<&[String]>,
    permissions: Option<&[String]>,
) -> Result<(), ApiError> {
    if roles
        .unwrap_or_default()
        .iter()
        .any(|key| store.role_by_key(key).is_none())
    {
        return Err(role_not_found());
    }
    if permissions.unwrap_or_default().iter().any(|key| {
        !store
            .permissions
            .iter()
            .any(|permission| permission.key == *key)
    }) {
        return Err(permission_not_found());
    }
    Ok(())
}

/// Appends the values of `more` not already in `list`.
pub(super) fn merge(list: &mut Vec<String>, more: Vec<String>) {
    for value in more {
        if !list.contains(&value) {
            list.push(value);
        }
    }
}
