//! Feature flags and their overrides: `CreateFeatureFlag`, `UpdateFeatureFlag`,
//! `DeleteFeatureFlag`, the environment's flags and overrides, an organization's flags and
//! overrides, and a user's override.
//!
//! A flag's value for an organization is its organization override, else the environment's
//! override, else its default.

use std::collections::BTreeMap;

use http::StatusCode;
use kinde_api::models::{
    CreateFeatureFlagRequest, GetEnvironmentFeatureFlagsResponse,
    GetEnvironmentFeatureFlagsResponseFeatureFlagsValue, GetOrganizationFeatureFlagsResponse,
    GetOrganizationFeatureFlagsResponseFeatureFlagsValue,
    UpdateEnvironementFeatureFlagOverrideRequest,
};

use super::organizations::not_found as organization_not_found;
use super::request::INVALID_PARAMETER;
use super::roles::{DUPLICATE_KEY, success};
use super::{ApiRequest, ApiResult, first_success, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{FlagOverride, FlagRecord, Store};

/// The code of the 400 for an unknown flag key.
const FLAG_NOT_FOUND: &str = "FEATURE_FLAG_NOT_FOUND";
/// The code of the 400 for an override at a level the flag does not allow.
const OVERRIDE_NOT_ALLOWED: &str = "FEATURE_FLAG_OVERRIDE_NOT_ALLOWED";
/// The code of the 400 for an unknown user.
const USER_NOT_FOUND: &str = "USER_NOT_FOUND";

/// `POST /api/v1/feature_flags` (201).
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateFeatureFlagRequest = request.body_as()?;
    let kind = body.r#type.as_str().to_owned();
    check_value(&kind, &body.default_value)?;
    let mut store = context.store();
    if store.flags.iter().any(|flag| flag.key == body.key) {
        return Err(ApiError::bad_request(
            DUPLICATE_KEY,
            "A feature flag with this key already exists",
        ));
    }
    store.flags.push(FlagRecord {
        key: body.key,
        name: body.name,
        description: body.description,
        kind,
        allow_override_level: body
            .allow_override_level
            .map(|level| level.as_str().to_owned()),
        default_value: body.default_value,
        environment_value: None,
    });
    drop(store);
    success(first_success(request.operation))
}

/// `PUT /api/v1/feature_flags/{feature_flag_key}`, with the new definition in the query.
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let kind = request.required_query("type")?.to_owned();
    let default_value = request.required_query("default_value")?.to_owned();
    check_value(&kind, &default_value)?;
    let mut store = context.store();
    let flag = flag_mut(&mut store, request.path("feature_flag_key"))?;
    flag.name = request.required_query("name")?.to_owned();
    flag.description = request.query("description").map(str::to_owned);
    flag.allow_override_level = request.query("allow_override_level").map(str::to_owned);
    flag.kind = kind;
    flag.default_value = default_value;
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/feature_flags/{feature_flag_key}`: the flag and all its overrides.
pub(super) fn delete(context: &Context, request: &ApiRequest) -> ApiResult {
    let key = request.path("feature_flag_key");
    let mut store = context.store();
    flag_mut(&mut store, key)?;
    store.flags.retain(|flag| flag.key != key);
    store.organization_flags.retain(|value| value.key != key);
    store.user_flags.retain(|value| value.key != key);
    drop(store);
    success(StatusCode::OK)
}

/// `GET /api/v1/environment/feature_flags`.
pub(super) fn environment(context: &Context, _request: &ApiRequest) -> ApiResult {
    let store = context.store();
    let flags: BTreeMap<_, _> = store
        .flags
        .iter()
        .map(|flag| {
            let value = flag
                .environment_value
                .as_ref()
                .unwrap_or(&flag.default_value);
            (
                flag.key.clone(),
                GetEnvironmentFeatureFlagsResponseFeatureFlagsValue {
                    r#type: Some(flag.kind.as_str().into()),
                    value: Some(value.clone()),
                },
            )
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetEnvironmentFeatureFlagsResponse {
        code,
        message,
        feature_flags: Some(flags),
        next_token: None,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/environment/feature_flags/{feature_flag_key}` with `{"value": ...}`.
pub(super) fn override_environment(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: UpdateEnvironementFeatureFlagOverrideRequest = request.body_as()?;
    let mut store = context.store();
    let flag = flag_mut(&mut store, request.path("feature_flag_key"))?;
    check_value(&flag.kind, &body.value)?;
    flag.environment_value = Some(body.value);
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/environment/feature_flags/{feature_flag_key}`.
pub(super) fn reset_environment(context: &Context, request: &ApiRequest) -> ApiResult {
    let mut store = context.store();
    flag_mut(&mut store, request.path("feature_flag_key"))?.environment_value = None;
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/environment/feature_flags`.
pub(super) fn reset_environment_all(context: &Context, _request: &ApiRequest) -> ApiResult {
    let mut store = context.store();
    for flag in &mut store.flags {
        flag.environment_value = None;
    }
    drop(store);
    success(StatusCode::OK)
}

/// `GET /api/v1/organizations/{org_code}/feature_flags`: every flag's value for the
/// organization.
pub(super) fn organization(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let store = context.store();
    if store.organization(code).is_none() {
        return Err(organization_not_found(request));
    }
    let flags: BTreeMap<_, _> = store
        .flags
        .iter()
        .map(|flag| {
            let value = store
                .organization_flags
                .iter()
                .find(|value| value.owner == code && value.key == flag.key)
                .map(|value| &value.value)
                .or(flag.environment_value.as_ref())
                .unwrap_or(&flag.default_value);
            (
                flag.key.clone(),
                GetOrganizationFeatureFlagsResponseFeatureFlagsValue {
                    r#type: Some(flag.kind.as_str().into()),
                    value: Some(value.clone()),
                },
            )
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetOrganizationFeatureFlagsResponse {
        code,
        message,
        feature_flags: Some(flags),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/organizations/{org_code}/feature_flags/{feature_flag_key}?value=`.
pub(super) fn override_organization(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let key = request.path("feature_flag_key");
    let value = request.required_query("value")?.to_owned();
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(organization_not_found(request));
    }
    let flag = flag_mut(&mut store, key)?;
    check_value(&flag.kind, &value)?;
    if flag.allow_override_level.as_deref() == Some("env") {
        return Err(ApiError::bad_request(
            OVERRIDE_NOT_ALLOWED,
            "This feature flag cannot be overridden for an organization",
        ));
    }
    set_override(&mut store.organization_flags, code, key, value);
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/organizations/{org_code}/feature_flags/{feature_flag_key}`.
pub(super) fn reset_organization(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let key = request.path("feature_flag_key");
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(organization_not_found(request));
    }
    flag_mut(&mut store, key)?;
    store
        .organization_flags
        .retain(|value| !(value.owner == code && value.key == key));
    drop(store);
    success(StatusCode::OK)
}

/// `DELETE /api/v1/organizations/{org_code}/feature_flags`.
pub(super) fn reset_organization_all(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let mut store = context.store();
    if store.organization(code).is_none() {
        return Err(organization_not_found(request));
    }
    store.organization_flags.retain(|value| value.owner != code);
    drop(store);
    success(StatusCode::OK)
}

/// `PATCH /api/v1/users/{user_id}/feature_flags/{feature_flag_key}?value=`.
pub(super) fn override_user(context: &Context, request: &ApiRequest) -> ApiResult {
    let user_id = request.path("user_id");
    let key = request.path("feature_flag_key");
    let value = request.required_query("value")?.to_owned();
    let mut store = context.store();
    if store.user(user_id).is_none() {
        return Err(ApiError::bad_request(USER_NOT_FOUND, "User not found"));
    }
    let flag = flag_mut(&mut store, key)?;
    check_value(&flag.kind, &value)?;
    if flag.allow_override_level.as_deref() != Some("usr") {
        return Err(ApiError::bad_request(
            OVERRIDE_NOT_ALLOWED,
            "This feature flag cannot be overridden for a user",
        ));
    }
    set_override(&mut store.user_flags, user_id, key, value);
    drop(store);
    success(StatusCode::OK)
}

fn flag_mut<'a>(store: &'a mut Store, key: &str) -> Result<&'a mut FlagRecord, ApiError> {
    store
        .flags
        .iter_mut()
        .find(|flag| flag.key == key)
        .ok_or_else(|| ApiError::bad_request(FLAG_NOT_FOUND, "Feature flag not found"))
}

fn set_override(overrides: &mut Vec<FlagOverride>, owner: &str, key: &str, value: String) {
    match overrides
        .iter_mut()
        .find(|existing| existing.owner == owner && existing.key == key)
    {
        Some(existing) => existing.value = value,
        None => overrides.push(FlagOverride {
            owner: owner.to_owned(),
            key: key.to_owned(),
            value,
        }),
    }
}

/// Checks that `value` reads as the flag's type.
fn check_value(kind: &str, value: &str) -> Result<(), ApiError> {
    let fits = match kind {
        "int" => value.parse::<i64>().is_ok(),
        "bool" => matches!(value, "true" | "false"),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            INVALID_PARAMETER,
            format!("the value must be of type {kind}"),
        ))
    }
}
