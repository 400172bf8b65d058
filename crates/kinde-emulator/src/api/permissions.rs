//! Permissions: `GetPermissions`, `CreatePermission`, `UpdatePermissions`, `DeletePermission`.

use http::StatusCode;
use kinde_api::models::{
    CreatePermissionRequest, GetPermissionsResponse, Permissions, UpdatePermissionsRequest,
};

use super::page::Window;
use super::request::MISSING_PARAMETER;
use super::roles::{DUPLICATE_KEY, permission_not_found, success};
use super::{ApiRequest, ApiResult, first_success, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{PermissionRecord, Store, permission_id};

/// `GET /api/v1/permissions`: sorted and paged by `next_token`.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let sort = request.query("sort").unwrap_or_default();
    let store = context.store();
    let mut permissions: Vec<&PermissionRecord> = store.permissions.iter().collect();
    sort_permissions(&mut permissions, sort);
    let (page, next_token) = window.apply(permissions, sort);
    let permissions = page.into_iter().map(permission_item).collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetPermissionsResponse {
        code,
        message,
        permissions: Some(permissions),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/permissions` (201, with no id in the answer, as Kinde's spec has it).
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreatePermissionRequest = request.body_as()?;
    let (Some(name), Some(key)) = (body.name, body.key) else {
        return Err(ApiError::bad_request(
            MISSING_PARAMETER,
            "name and key are required",
        ));
    };
    let mut store = context.store();
    check_key(&store, &key, None)?;
    store.permissions.push(PermissionRecord {
        id: permission_id(),
        key,
        name,
        description: body.description,
    });
    drop(store);
    success(first_success(request.operation))
}

/// `PATCH /api/v1/permissions/{permission_id}`.
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let changes: UpdatePermissionsRequest = request.body_as()?;
    let id = request.path("permission_id");
    let mut store = context.store();
    if let Some(key) = &changes.key {
        check_key(&store, key, Some(id))?;
    }
    let permission = store
        .permissions
        .iter_mut()
        .find(|permission| permission.id == id)
        .ok_or_else(permission_not_found)?;
    let old_key = permission.key.clone();
    if let Some(name) = changes.name {
        permission.name = name;
    }
    if let Some(description) = changes.description {
        permission.description = Some(description);
    }
    if let Some(key) = changes.key {
        permission.key.clone_from(&key);
        for membership in &mut store.memberships {
            for granted in &mut membership.permissions {
                if *granted == old_key {
                    granted.clone_from(&key);
                }
            }
        }
    }
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/permissions/{permission_id}`: also takes it from every role and member.
pub(super) fn delete(context: &Context, request: &ApiRequest) -> ApiResult {
    let id = request.path("permission_id");
    let mut store = context.store();
    let index = store
        .permissions
        .iter()
        .position(|permission| permission.id == id)
        .ok_or_else(permission_not_found)?;
    let permission = store.permissions.remove(index);
    for role in &mut store.roles {
        role.permissions.retain(|granted| *granted != permission.id);
    }
    for membership in &mut store.memberships {
        membership.permissions.retain(|key| *key != permission.key);
    }
    drop(store);
    success(StatusCode::OK)
}

/// Sorts by `name_*` or `id_*`; any other value keeps creation order.
pub(super) fn sort_permissions(permissions: &mut [&PermissionRecord], sort: &str) {
    match sort {
        "name_asc" | "name_desc" => {
            permissions.sort_by_key(|permission| permission.name.to_lowercase());
        }
        "id_asc" | "id_desc" => permissions.sort_by_key(|permission| permission.id.clone()),
        _ => {}
    }
    if sort.ends_with("_desc") {
        permissions.reverse();
    }
}

/// A permission as list items show it.
pub(super) fn permission_item(permission: &PermissionRecord) -> Permissions {
    Permissions {
        id: Some(permission.id.clone()),
        key: Some(permission.key.clone()),
        name: Some(permission.name.clone()),
        description: permission.description.clone(),
    }
}

/// Rejects a permission key that another permission (other than `except`) has.
fn check_key(store: &Store, key: &str, except: Option<&str>) -> Result<(), ApiError> {
    let taken = store
        .permissions
        .iter()
        .any(|permission| permission.key == key && Some(permission.id.as_str()) != except);
    if taken {
        return Err(ApiError::bad_request(
            DUPLICATE_KEY,
            "A permission with this key already exists",
        ));
    }
    Ok(())
}
