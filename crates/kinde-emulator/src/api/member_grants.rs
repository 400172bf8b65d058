//! An organization member's roles and permissions: `GetOrganizationUserRoles`,
//! `CreateOrganizationUserRole`, `DeleteOrganizationUserRole`, `GetOrganizationUserPermissions`,
//! `CreateOrganizationUserPermission`, `DeleteOrganizationUserPermission`.
//!
//! A member's permissions are those granted to them directly and those of their roles.

use http::StatusCode;
use kinde_api::models::{
    CreateOrganizationUserPermissionRequest, CreateOrganizationUserRoleRequest,
    GetOrganizationsUserPermissionsResponse, GetOrganizationsUserRolesResponse,
    OrganizationUserPermission, OrganizationUserPermissionRole, OrganizationUserRole,
};

use super::organization_users::{membership, merge};
use super::roles::{permission_not_found, role_not_found, success};
use super::{ApiRequest, ApiResult, ok_code};
use crate::context::Context;
use crate::error::json_response;
use crate::state::RoleRecord;

/// `GET /api/v1/organizations/{org_code}/users/{user_id}/roles`.
pub(super) fn roles(context: &Context, request: &ApiRequest) -> ApiResult {
    let store = context.store();
    let membership = membership(&store, request)?;
    let roles = membership
        .roles
        .iter()
        .filter_map(|key| store.role_by_key(key))
        .map(|role| OrganizationUserRole {
            id: Some(role.id.clone()),
            key: Some(role.key.clone()),
            name: Some(role.name.clone()),
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetOrganizationsUserRolesResponse {
        code,
        message,
        roles: Some(roles),
        next_token: None,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/organizations/{org_code}/users/{user_id}/roles` with `{"role_id": ...}`.
pub(super) fn add_role(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateOrganizationUserRoleRequest = request.body_as()?;
    let mut store = context.store();
    let key = store
        .role(body.role_id.as_deref().unwrap_or_default())
        .map(|role| role.key.clone())
        .ok_or_else(role_not_found)?;
    membership(&store, request)?;
    if let Some(membership) =
        store.membership_mut(request.path("org_code"), request.path("user_id"))
    {
        merge(&mut membership.roles, vec![key]);
    }
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/organizations/{org_code}/users/{user_id}/roles/{role_id}`.
pub(super) fn remove_role(context: &Context, request: &ApiRequest) -> ApiResult {
    let mut store = context.store();
    let key = store
        .role(request.path("role_id"))
        .map(|role| role.key.clone())
        .ok_or_else(role_not_found)?;
    membership(&store, request)?;
    if let Some(membership) =
        store.membership_mut(request.path("org_code"), request.path("user_id"))
    {
        membership.roles.retain(|granted| *granted != key);
    }
    drop(store);
    success(StatusCode::OK)
}

/// `GET /api/v1/organizations/{org_code}/users/{user_id}/permissions`, with the roles that grant
/// each permission when `expand=roles`.
pub(super) fn permissions(context: &Context, request: &ApiRequest) -> ApiResult {
    let expand_roles = request.query_list("expand").contains(&"roles");
    let store = context.store();
    let membership = membership(&store, request)?;
    let roles: Vec<&RoleRecord> = membership
        .roles
        .iter()
        .filter_map(|key| store.role_by_key(key))
        .collect();

    let permissions = store
        .permissions
        .iter()
        .filter_map(|permission| {
            let granting: Vec<&RoleRecord> = roles
                .iter()
                .copied()
                .filter(|role| role.permissions.contains(&permission.id))
                .collect();
            let direct = membership.permissions.contains(&permission.key);
            (direct || !granting.is_empty()).then(|| OrganizationUserPermission {
                id: Some(permission.id.clone()),
                key: Some(permission.key.clone()),
                name: Some(permission.name.clone()),
                description: permission.description.clone(),
                roles: expand_roles.then(|| {
                    granting
                        .iter()
                        .map(|role| OrganizationUserPermissionRole {
                            id: Some(role.id.clone()),
                            key: Some(role.key.clone()),
                        })
                        .collect()
                }),
            })
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetOrganizationsUserPermissionsResponse {
        code,
        message,
        permissions: Some(permissions),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/organizations/{org_code}/users/{user_id}/permissions` with
/// `{"permission_id": ...}`.
pub(super) fn add_permission(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateOrganizationUserPermissionRequest = request.body_as()?;
    let mut store = context.store();
    let key = store
        .permission(body.permission_id.as_deref().unwrap_or_default())
        .map(|permission| permission.key.clone())
        .ok_or_else(permission_not_found)?;
    membership(&store, request)?;
    if let Some(membership) =
        store.membership_mut(request.path("org_code"), request.path("user_id"))
    {
        merge(&mut membership.permissions, vec![key]);
    }
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/organizations/{org_code}/users/{user_id}/permissions/{permission_id}`.
pub(super) fn remove_permission(context: &Context, request: &ApiRequest) -> ApiResult {
    let mut store = context.store();
    let key = store
        .permission(request.path("permission_id"))
        .map(|permission| permission.key.clone())
        .ok_or_else(permission_not_found)?;
    membership(&store, request)?;
    if let Some(membership) =
        store.membership_mut(request.path("org_code"), request.path("user_id"))
    {
        membership.permissions.retain(|granted| *granted != key);
    }
    drop(store);
    success(StatusCode::OK)
}
