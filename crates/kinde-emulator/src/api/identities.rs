//! A user's identities: `GetUserIdentities` (paged by cursor, with `has_more`) and
//! `CreateUserIdentity`.

use http::StatusCode;
use kinde_api::models::{
    CreateIdentityResponse, CreateIdentityResponseIdentity, CreateUserIdentityRequest,
    GetIdentitiesResponse, Identity,
};

use super::page::cursor_page;
use super::request::MISSING_PARAMETER;
use super::{ApiRequest, ApiResult, first_success, not_found_status, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{IdentityRecord, identity_id};

/// The code of the error for an unknown user.
const USER_NOT_FOUND: &str = "USER_NOT_FOUND";

/// `GET /api/v1/users/{user_id}/identities`: oldest first, ten a page, `has_more` on every page.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let user_id = request.path("user_id");
    let store = context.store();
    if store.user(user_id).is_none() {
        return Err(user_not_found(request));
    }
    let identities: Vec<&IdentityRecord> = store
        .identities
        .iter()
        .filter(|identity| identity.user_id == user_id)
        .collect();
    let (page, has_more) = cursor_page(
        request,
        context.settings.page_size_limit,
        identities,
        |identity| identity.id.as_str(),
    )?;
    let identities = page
        .into_iter()
        .map(|identity| Identity {
            id: Some(identity.id.clone()),
            r#type: Some(identity.kind.clone()),
            is_confirmed: Some(true),
            created_on: Some(identity.created_on.clone()),
            last_login_on: None,
            total_logins: Some(0),
            name: Some(identity.name.clone()),
            email: (identity.kind == "email").then(|| identity.name.clone()),
            connection_id: identity.connection_id.clone(),
            is_primary: Some(identity.is_primary),
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetIdentitiesResponse {
        code,
        message,
        identities: Some(identities),
        has_more: Some(has_more),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/users/{user_id}/identities` (201).
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateUserIdentityRequest = request.body_as()?;
    let (Some(value), Some(kind)) = (body.value, body.r#type) else {
        return Err(ApiError::bad_request(
            MISSING_PARAMETER,
            "value and type are required",
        ));
    };
    let user_id = request.path("user_id");
    let mut store = context.store();
    if store.user(user_id).is_none() {
        return Err(user_not_found(request));
    }
    let is_primary = !store
        .identities
        .iter()
        .any(|identity| identity.user_id == user_id);
    let id = identity_id();
    store.identities.push(IdentityRecord {
        id: id.clone(),
        user_id: user_id.to_owned(),
        kind: kind.as_str().to_owned(),
        name: value,
        connection_id: body.connection_id,
        is_primary,
        created_on: context.clock.rfc3339(),
    });
    drop(store);

    let (code, message) = ok_code();
    let body = CreateIdentityResponse {
        message,
        code,
        identity: Some(CreateIdentityResponseIdentity { id: Some(id) }),
    };
    Ok(json_response(first_success(request.operation), &body))
}

fn user_not_found(request: &ApiRequest) -> ApiError {
    ApiError::new(
        not_found_status(request.operation),
        USER_NOT_FOUND,
        "User not found",
    )
}
