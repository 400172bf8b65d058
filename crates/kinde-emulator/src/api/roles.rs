//! Roles and their permissions: `GetRoles`, `CreateRole`, `GetRole`, `UpdateRoles`,
//! `DeleteRole`, `GetRolePermissions`, `UpdateRolePermissions`, `RemoveRolePermission`.

use http::StatusCode;
use kinde_api::models::{
    CreateRoleRequest, CreateRolesResponse, CreateRolesResponseRole, GetRoleResponse,
    GetRoleResponseRole, GetRolesResponse, Permissions, RolePermissionsResponse, Roles,
    SuccessResponse, UpdateRolePermissionsRequest, UpdateRolePermissionsResponse,
    UpdateRolesRequest,
};

use super::page::Window;
use super::permissions::{permission_item, sort_permissions};
use super::request::MISSING_PARAMETER;
use super::{ApiRequest, ApiResult, first_success, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{PermissionRecord, RoleRecord, Store, role_id};

/// The code of the 400 for an unknown role.
pub(super) const ROLE_NOT_FOUND: &str = "ROLE_NOT_FOUND";
/// The code of the 400 for a key another role or permission already has.
pub(super) const DUPLICATE_KEY: &str = "DUPLICATE_KEY";
/// The code of the 400 for an unknown permission.
pub(super) const PERMISSION_NOT_FOUND: &str = "PERMISSION_NOT_FOUND";

/// `GET /api/v1/roles`: sorted and paged by `next_token`.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let sort = request.query("sort").unwrap_or_default();
    let store = context.store();
    let mut roles: Vec<&RoleRecord> = store.roles.iter().collect();
    match sort {
        "name_asc" | "name_desc" => roles.sort_by_key(|role| role.name.to_lowercase()),
        "key_asc" | "key_desc" => roles.sort_by_key(|role| role.key.clone()),
        _ => {}
    }
    if sort.ends_with("_desc") {
        roles.reverse();
    }
    let (page, next_token) = window.apply(roles, sort);
    let roles = page
        .into_iter()
        .map(|role| Roles {
            id: Some(role.id.clone()),
            key: Some(role.key.clone()),
            name: Some(role.name.clone()),
            description: role.description.clone(),
            is_default_role: Some(role.is_default_role),
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetRolesResponse {
        code,
        message,
        roles: Some(roles),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/roles` (201).
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateRoleRequest = request.body_as()?;
    let (Some(name), Some(key)) = (body.name, body.key) else {
        return Err(ApiError::bad_request(
            MISSING_PARAMETER,
            "name and key are required",
        ));
    };
    let mut store = context.store();
    check_key(&store, &key, None)?;
    let role = RoleRecord {
        id: role_id(),
        key,
        name,
        description: body.description,
        is_default_role: body.is_default_role.unwrap_or(false),
        permissions: Vec::new(),
    };
    let id = role.id.clone();
    store.roles.push(role);
    drop(store);

    let (code, message) = ok_code();
    let body = CreateRolesResponse {
        code,
        message,
        role: Some(CreateRolesResponseRole { id: Some(id) }),
    };
    Ok(json_response(first_success(request.operation), &body))
}

/// `GET /api/v1/roles/{role_id}`.
pub(super) fn get(context: &Context, request: &ApiRequest) -> ApiResult {
    let store = context.store();
    let role = store
        .role(request.path("role_id"))
        .ok_or_else(role_not_found)?;
    let (code, message) = ok_code();
    let body = GetRoleResponse {
        code,
        message,
        role: Some(GetRoleResponseRole {
            id: Some(role.id.clone()),
            key: Some(role.key.clone()),
            name: Some(role.name.clone()),
            description: role.description.clone(),
            is_default_role: Some(role.is_default_role),
        }),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/roles/{role_id}` (201, as the spec says).
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let changes: UpdateRolesRequest = request.body_as()?;
    let id = request.path("role_id");
    let mut store = context.store();
    check_key(&store, &changes.key, Some(id))?;
    let role = store
        .roles
        .iter_mut()
        .find(|role| role.id == id)
        .ok_or_else(role_not_found)?;
    let old_key = std::mem::replace(&mut role.key, changes.key.clone());
    role.name = changes.name;
    if let Some(description) = changes.description {
        role.description = Some(description);
    }
    if let Some(is_default) = changes.is_default_role {
        role.is_default_role = is_default;
    }
    for membership in &mut store.memberships {
        for key in &mut membership.roles {
            if *key == old_key {
                key.clone_from(&changes.key);
            }
        }
    }
    drop(store);
    success(first_success(request.operation))
}

/// `DELETE /api/v1/roles/{role_id}`: also takes the role from every member who had it.
pub(super) fn delete(context: &Context, request: &ApiRequest) -> ApiResult {
    let id = request.path("role_id");
    let mut store = context.store();
    let index = store
        .roles
        .iter()
        .position(|role| role.id == id)
        .ok_or_else(role_not_found)?;
    let role = store.roles.remove(index);
    for membership in &mut store.memberships {
        membership.roles.retain(|key| *key != role.key);
    }
    drop(store);
    success(StatusCode::OK)
}

/// `GET /api/v1/roles/{role_id}/permissions`: sorted and paged by `next_token`.
pub(super) fn permissions(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let sort = request.query("sort").unwrap_or_default();
    let store = context.store();
    let role = store
        .role(request.path("role_id"))
        .ok_or_else(role_not_found)?;
    let mut permissions: Vec<&PermissionRecord> = role
        .permissions
        .iter()
        .filter_map(|id| store.permission(id))
        .collect();
    sort_permissions(&mut permissions, sort);
    let (page, next_token) = window.apply(permissions, sort);
    let permissions: Vec<Permissions> = page.into_iter().map(permission_item).collect();
    drop(store);

    let (code, message) = ok_code();
    let body = RolePermissionsResponse {
        code,
        message,
        permissions: Some(permissions),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/roles/{role_id}/permissions`: adds, or with `"operation": "delete"` removes.
pub(super) fn update_permissions(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: UpdateRolePermissionsRequest = request.body_as()?;
    let changes = body.permissions.unwrap_or_default();
    let role_id = request.path("role_id");
    let mut store = context.store();
    if store.role(role_id).is_none() {
        return Err(role_not_found());
    }
    for change in &changes {
        let id = change.id.as_deref().unwrap_or_default();
        if store.permission(id).is_none() {
            return Err(permission_not_found());
        }
    }

    let role = store
        .roles
        .iter_mut()
        .find(|role| role.id == role_id)
        .ok_or_else(role_not_found)?;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for change in changes {
        let id = change.id.unwrap_or_default();
        if change.operation.as_deref() == Some("delete") {
            role.permissions.retain(|existing| *existing != id);
            removed.push(id);
        } else {
            if !role.permissions.contains(&id) {
                role.permissions.push(id.clone());
            }
            added.push(id);
        }
    }
    drop(store);

    let (code, message) = ok_code();
    let body = UpdateRolePermissionsResponse {
        code,
        message,
        permissions_added: Some(added),
        permissions_removed: Some(removed),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/v1/roles/{role_id}/permissions/{permission_id}`.
pub(super) fn remove_permission(context: &Context, request: &ApiRequest) -> ApiResult {
    let permission_id = request.path("permission_id");
    let mut store = context.store();
    let role = store
        .roles
        .iter_mut()
        .find(|role| role.id == request.path("role_id"))
        .ok_or_else(role_not_found)?;
    let before = role.permissions.len();
    role.permissions.retain(|id| id != permission_id);
    if role.permissions.len() == before {
        return Err(permission_not_found());
    }
    drop(store);
    success(StatusCode::OK)
}

/// `{code: "OK", message: "Success"}` with this status.
pub(super) fn success(status: StatusCode) -> ApiResult {
    let (code, message) = ok_code();
    Ok(json_response(status, &SuccessResponse { message, code }))
}

/// Rejects a role key that another role (other than `except`) has.
fn check_key(store: &Store, key: &str, except: Option<&str>) -> Result<(), ApiError> {
    let taken = store
        .roles
        .iter()
        .any(|role| role.key == key && Some(role.id.as_str()) != except);
    if taken {
        return Err(ApiError::bad_request(
            DUPLICATE_KEY,
            "A role with this key already exists",
        ));
    }
    Ok(())
}

pub(super) fn role_not_found() -> ApiError {
    ApiError::bad_request(ROLE_NOT_FOUND, "Role not found")
}

pub(super) fn permission_not_found() -> ApiError {
    ApiError::bad_request(PERMISSION_NOT_FOUND, "Permission not found")
}
