//! The Management API under `/api/v1`: routing, authentication, scopes, then an answer.
//!
//! Every operation in [`kinde_api::OPERATIONS`] is routed. Operations with real state (users,
//! organizations, organization users and their roles, roles, permissions, feature flags) answer from the [`Store`](crate::state::Store); every other
//! operation answers its generated example body with its first documented success status.

mod flags;
mod member_grants;
mod organization_users;
mod organizations;
mod page;
mod permissions;
mod request;
mod roles;
mod users;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use kinde_api::Operation;

use crate::auth::authenticate;
use crate::context::Context;
use crate::error::{ApiError, raw_json_response, route_not_found};
use crate::record::RecordInfo;
use crate::routes::{Matched, match_route};

pub(crate) use request::ApiRequest;

/// What a stateful handler returns.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// The code of a 400 for a body larger than the configured limit.
const BODY_TOO_LARGE: &str = "REQUEST_BODY_TOO_LARGE";

/// Handles every request that no other route took.
pub(crate) async fn handle(State(context): State<Arc<Context>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(matched) = match_route(&parts.method, parts.uri.path()) else {
        return route_not_found();
    };
    let mut info = RecordInfo {
        operation_id: Some(matched.operation.id),
        ..RecordInfo::default()
    };

    let mut response = serve(&context, &parts, body, matched, &mut info)
        .await
        .unwrap_or_else(IntoResponse::into_response);

    response.extensions_mut().insert(info);
    response
}

/// Authenticates, authorizes, reads and answers a matched request.
async fn serve(
    context: &Context,
    parts: &http::request::Parts,
    body: axum::body::Body,
    matched: Matched,
    info: &mut RecordInfo,
) -> ApiResult {
    let caller = authenticate(context, &parts.headers).map_err(|(error, claims)| {
        info.client_id = claims.as_ref().map(|claims| claims.azp.clone());
        info.jti = claims.map(|claims| claims.jti);
        error
    })?;
    info.client_id = Some(caller.claims.azp.clone());
    info.jti = Some(caller.claims.jti.clone());
    caller.require(matched.operation.scope)?;
    context.admit(&caller.claims.azp)?;

    let bytes = axum::body::to_bytes(body, context.settings.body_limit)
        .await
        .map_err(|_| {
            ApiError::bad_request(BODY_TOO_LARGE, "the request body is larger than allowed")
        })?;
    let request = ApiRequest::parse(matched.operation, matched.params, parts.uri.query(), &bytes)?;
    answer(context, &request)
}

/// Answers a checked request from state, or with the operation's example.
fn answer(context: &Context, request: &ApiRequest) -> ApiResult {
    match request.operation.id {
        "createUser" => users::create(context, request),
        "getUserData" => users::get(context, request),
        "updateUser" => users::update(context, request),
        "deleteUser" => users::delete(context, request),
        "getUsers" => users::list(context, request),
        "searchUsers" => users::search(context, request),
        "createOrganization" => organizations::create(context, request),
        "getOrganization" => organizations::get(context, request),
        "getOrganizations" => organizations::list(context, request),
        "updateOrganization" => organizations::update(context, request),
        "deleteOrganization" => organizations::delete(context, request),
        "AddOrganizationUsers" => organization_users::add(context, request),
        "GetOrganizationUsers" => organization_users::list(context, request),
        "RemoveOrganizationUser" => organization_users::remove(context, request),
        "UpdateOrganizationUsers" => organization_users::update(context, request),
        "GetOrganizationUserRoles" => member_grants::roles(context, request),
        "CreateOrganizationUserRole" => member_grants::add_role(context, request),
        "DeleteOrganizationUserRole" => member_grants::remove_role(context, request),
        "GetOrganizationUserPermissions" => member_grants::permissions(context, request),
        "CreateOrganizationUserPermission" => member_grants::add_permission(context, request),
        "DeleteOrganizationUserPermission" => member_grants::remove_permission(context, request),
        "GetRoles" => roles::list(context, request),
        "CreateRole" => roles::create(context, request),
        "GetRole" => roles::get(context, request),
        "UpdateRoles" => roles::update(context, request),
        "DeleteRole" => roles::delete(context, request),
        "GetRolePermissions" => roles::permissions(context, request),
        "UpdateRolePermissions" => roles::update_permissions(context, request),
        "RemoveRolePermission" => roles::remove_permission(context, request),
        "GetPermissions" => permissions::list(context, request),
        "CreatePermission" => permissions::create(context, request),
        "UpdatePermissions" => permissions::update(context, request),
        "DeletePermission" => permissions::delete(context, request),
        "CreateFeatureFlag" => flags::create(context, request),
        "UpdateFeatureFlag" => flags::update(context, request),
        "DeleteFeatureFlag" => flags::delete(context, request),
        "GetEnvironementFeatureFlags" => flags::environment(context, request),
        "UpdateEnvironementFeatureFlagOverride" => flags::override_environment(context, request),
        "DeleteEnvironementFeatureFlagOverride" => flags::reset_environment(context, request),
        "DeleteEnvironementFeatureFlagOverrides" => flags::reset_environment_all(context, request),
        "GetOrganizationFeatureFlags" => flags::organization(context, request),
        "UpdateOrganizationFeatureFlagOverride" => flags::override_organization(context, request),
        "DeleteOrganizationFeatureFlagOverride" => flags::reset_organization(context, request),
        "DeleteOrganizationFeatureFlagOverrides" => flags::reset_organization_all(context, request),
        "UpdateUserFeatureFlagOverride" => flags::override_user(context, request),
        _ => Ok(example(request.operation)),
    }
}

/// Whether an operation answers from state rather than with its example.
pub(crate) fn is_stateful(operation_id: &str) -> bool {
    STATEFUL.contains(&operation_id)
}

/// The operations with real state.
const STATEFUL: &[&str] = &[
    "createUser",
    "getUserData",
    "updateUser",
    "deleteUser",
    "getUsers",
    "searchUsers",
    "createOrganization",
    "getOrganization",
    "getOrganizations",
    "updateOrganization",
    "deleteOrganization",
    "AddOrganizationUsers",
    "GetOrganizationUsers",
    "RemoveOrganizationUser",
    "UpdateOrganizationUsers",
    "GetOrganizationUserRoles",
    "CreateOrganizationUserRole",
    "DeleteOrganizationUserRole",
    "GetOrganizationUserPermissions",
    "CreateOrganizationUserPermission",
    "DeleteOrganizationUserPermission",
    "GetRoles",
    "CreateRole",
    "GetRole",
    "UpdateRoles",
    "DeleteRole",
    "GetRolePermissions",
    "UpdateRolePermissions",
    "RemoveRolePermission",
    "GetPermissions",
    "CreatePermission",
    "UpdatePermissions",
    "DeletePermission",
    "CreateFeatureFlag",
    "UpdateFeatureFlag",
    "DeleteFeatureFlag",
    "GetEnvironementFeatureFlags",
    "UpdateEnvironementFeatureFlagOverride",
    "DeleteEnvironementFeatureFlagOverride",
    "DeleteEnvironementFeatureFlagOverrides",
    "GetOrganizationFeatureFlags",
    "UpdateOrganizationFeatureFlagOverride",
    "DeleteOrganizationFeatureFlagOverride",
    "DeleteOrganizationFeatureFlagOverrides",
    "UpdateUserFeatureFlagOverride",
];

/// The operation's first documented success status with its generated example body.
fn example(operation: &Operation) -> Response {
    let status = first_success(operation);
    match operation.response_example() {
        Some(body) if status != StatusCode::NO_CONTENT => raw_json_response(status, body),
        _ => {
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = status;
            response
        }
    }
}

/// The first documented success status of an operation.
pub(crate) fn first_success(operation: &Operation) -> StatusCode {
    operation
        .success
        .first()
        .and_then(|status| StatusCode::from_u16(*status).ok())
        .unwrap_or(StatusCode::OK)
}

/// The status for "no such resource": 404 where the operation declares it, else 400.
pub(crate) fn not_found_status(operation: &Operation) -> StatusCode {
    if operation.errors.contains(&404) {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// Kinde's `{code: "OK", message: "Success"}` pair, as most bodies carry it.
pub(crate) fn ok_code() -> (Option<String>, Option<String>) {
    (Some("OK".to_owned()), Some("Success".to_owned()))
}
