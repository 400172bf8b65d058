//! The Management API under `/api/v1`: routing, authentication, scopes, then an answer.
//!
//! Every operation in [`kinde_api::OPERATIONS`] is routed. Operations with real state (users,
//! organizations, organization users and their roles, roles, permissions, feature flags) answer from the [`Store`](crate::state::Store); every other
//! operation answers its generated example body with its first documented success status.

mod flags;
mod identities;
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
        tracing::debug!(
            emulator.operation = matched.operation.id,
            emulator.client_id = claims.as_ref().map(|claims| claims.azp.as_str()),
            "bearer token rejected"
        );
        info.client_id = claims.as_ref().map(|claims| claims.azp.clone());
        info.jti = claims.map(|claims| claims.jti);
        error
    })?;
    info.client_id = Some(caller.claims.azp.clone());
    info.jti = Some(caller.claims.jti.clone());
    caller.require(matched.operation.scope).inspect_err(|_| {
        tracing::debug!(
            emulator.operation = matched.operation.id,
            emulator.client_id = caller.claims.azp.as_str(),
            emulator.scope = matched.operation.scope,
            "required scope missing"
        );
    })?;
    context.admit(&caller.claims.azp)?;

    let bytes = axum::body::to_bytes(body, context.settings.body_limit)
        .await
        .map_err(|_| {
            ApiError::bad_request(BODY_TOO_LARGE, "the request body is larger than allowed")
        })?;
    let request = ApiRequest::parse(matched.operation, matched.params, parts.uri.query(), &bytes)?;
    answer(context, &request)
}

/// A handler of an operation with real state.
type Handler = fn(&Context, &ApiRequest) -> ApiResult;

/// The operations with real state and their handlers; every other operation answers its example.
const HANDLERS: &[(&str, Handler)] = &[
    ("createUser", users::create),
    ("getUserData", users::get),
    ("updateUser", users::update),
    ("deleteUser", users::delete),
    ("getUsers", users::list),
    ("searchUsers", users::search),
    ("GetUserIdentities", identities::list),
    ("CreateUserIdentity", identities::create),
    ("createOrganization", organizations::create),
    ("getOrganization", organizations::get),
    ("getOrganizations", organizations::list),
    ("updateOrganization", organizations::update),
    ("deleteOrganization", organizations::delete),
    ("AddOrganizationUsers", organization_users::add),
    ("GetOrganizationUsers", organization_users::list),
    ("RemoveOrganizationUser", organization_users::remove),
    ("UpdateOrganizationUsers", organization_users::update),
    ("GetOrganizationUserRoles", member_grants::roles),
    ("CreateOrganizationUserRole", member_grants::add_role),
    ("DeleteOrganizationUserRole", member_grants::remove_role),
    ("GetOrganizationUserPermissions", member_grants::permissions),
    (
        "CreateOrganizationUserPermission",
        member_grants::add_permission,
    ),
    (
        "DeleteOrganizationUserPermission",
        member_grants::remove_permission,
    ),
    ("GetRoles", roles::list),
    ("CreateRole", roles::create),
    ("GetRole", roles::get),
    ("UpdateRoles", roles::update),
    ("DeleteRole", roles::delete),
    ("GetRolePermissions", roles::permissions),
    ("UpdateRolePermissions", roles::update_permissions),
    ("RemoveRolePermission", roles::remove_permission),
    ("GetPermissions", permissions::list),
    ("CreatePermission", permissions::create),
    ("UpdatePermissions", permissions::update),
    ("DeletePermission", permissions::delete),
    ("CreateFeatureFlag", flags::create),
    ("UpdateFeatureFlag", flags::update),
    ("DeleteFeatureFlag", flags::delete),
    ("GetEnvironementFeatureFlags", flags::environment),
    (
        "UpdateEnvironementFeatureFlagOverride",
        flags::override_environment,
    ),
    (
        "DeleteEnvironementFeatureFlagOverride",
        flags::reset_environment,
    ),
    (
        "DeleteEnvironementFeatureFlagOverrides",
        flags::reset_environment_all,
    ),
    ("GetOrganizationFeatureFlags", flags::organization),
    (
        "UpdateOrganizationFeatureFlagOverride",
        flags::override_organization,
    ),
    (
        "DeleteOrganizationFeatureFlagOverride",
        flags::reset_organization,
    ),
    (
        "DeleteOrganizationFeatureFlagOverrides",
        flags::reset_organization_all,
    ),
    ("UpdateUserFeatureFlagOverride", flags::override_user),
];

/// Answers a checked request from state, or with the operation's example.
fn answer(context: &Context, request: &ApiRequest) -> ApiResult {
    match HANDLERS.iter().find(|(id, _)| *id == request.operation.id) {
        Some((_, handler)) => handler(context, request),
        None => Ok(example(request.operation)),
    }
}

/// Whether an operation answers from state rather than with its example.
pub(crate) fn is_stateful(operation_id: &str) -> bool {
    HANDLERS.iter().any(|(id, _)| *id == operation_id)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_names_an_operation_of_the_table_once() {
        for (index, (id, _)) in HANDLERS.iter().enumerate() {
            assert!(
                kinde_api::operation(id).is_some(),
                "{id} is not in the table"
            );
            assert!(
                HANDLERS[..index].iter().all(|(other, _)| other != id),
                "{id} is handled twice"
            );
        }
    }
}
