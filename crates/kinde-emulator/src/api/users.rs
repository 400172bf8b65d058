//! Users: `createUser`, `getUserData`, `updateUser`, `deleteUser`, `getUsers`, `searchUsers`.

use http::StatusCode;
use kinde_api::models::{
    CreateUserRequest, CreateUserRequestIdentityType, CreateUserResponse, SearchUsersResponse,
    SearchUsersResponseResult, SearchUsersResponseResultIdentity, SuccessResponse,
    UpdateUserRequest, UpdateUserResponse, User, UserIdentitiesItem, UserIdentity,
    UserIdentityResult, UsersResponse, UsersResponseUser, UsersResponseUserIdentity,
};

use super::page::{Window, cursor_page};
use super::{ApiRequest, ApiResult, first_success, not_found_status, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{IdentityRecord, UserRecord, identity_id, user_id};

/// The code of the error for an unknown user id.
const USER_NOT_FOUND: &str = "USER_NOT_FOUND";
/// The code of the 400 for an email address another user already has.
const DUPLICATE_EMAIL: &str = "DUPLICATE_EMAIL";
/// The code of the 400 for an unknown organization code.
pub(super) const ORGANIZATION_NOT_FOUND: &str = "ORGANIZATION_NOT_FOUND";
/// The code of the 400 for an update that changes nothing.
const NO_FIELDS_TO_UPDATE: &str = "NO_FIELDS_TO_UPDATE";

/// `POST /api/v1/user`.
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateUserRequest = request.body_as()?;
    let profile = body.profile.unwrap_or_default();
    let mut user = UserRecord {
        id: user_id(),
        provided_id: body.provided_id,
        email: None,
        phone: None,
        username: None,
        first_name: profile.given_name,
        last_name: profile.family_name,
        picture: profile.picture,
        is_suspended: false,
        is_password_reset_requested: false,
        created_on: context.clock.rfc3339(),
    };

    let mut identities = Vec::new();
    for identity in body.identities.unwrap_or_default() {
        let details = identity.details.unwrap_or_default();
        let kind = identity
            .r#type
            .unwrap_or(CreateUserRequestIdentityType::Email);
        match kind {
            CreateUserRequestIdentityType::Email => user.email = details.email,
            CreateUserRequestIdentityType::Phone => user.phone = details.phone,
            CreateUserRequestIdentityType::Username => user.username = details.username,
            CreateUserRequestIdentityType::Unknown(_) => {}
        }
        identities.push(UserIdentity {
            r#type: Some(kind.as_str().to_owned()),
            result: Some(UserIdentityResult {
                created: Some(true),
            }),
        });
    }

    let mut store = context.store();
    if let Some(email) = &user.email {
        let taken = store.users.iter().any(|other| {
            other
                .email
                .as_deref()
                .is_some_and(|other| other.eq_ignore_ascii_case(email))
        });
        if taken {
            return Err(ApiError::bad_request(
                DUPLICATE_EMAIL,
                "A user with this email already exists",
            ));
        }
    }
    let org_code = match &body.organization_code {
        Some(code) => store
            .organization(code)
            .map(|organization| organization.code.clone())
            .ok_or_else(|| {
                ApiError::bad_request(ORGANIZATION_NOT_FOUND, "Organization not found")
            })?,
        None => match store.default_organization() {
            Some(organization) => organization.code.clone(),
            None => String::new(),
        },
    };

    let id = user.id.clone();
    if !org_code.is_empty() {
        store.join(&org_code, &id, user.created_on.clone());
    }
    for (index, (kind, name)) in identities_of(&user).enumerate() {
        store.identities.push(IdentityRecord {
            id: identity_id(),
            user_id: id.clone(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            connection_id: None,
            is_primary: index == 0,
            created_on: user.created_on.clone(),
        });
    }
    store.users.push(user);
    drop(store);

    let body = CreateUserResponse {
        id: Some(id),
        created: Some(true),
        identities: Some(identities),
    };
    Ok(json_response(first_success(request.operation), &body))
}

/// `GET /api/v1/user?id=`.
pub(super) fn get(context: &Context, request: &ApiRequest) -> ApiResult {
    let id = request.required_query("id")?;
    let expand = request.query_list("expand");
    let store = context.store();
    let user = store.user(id).ok_or_else(|| not_found(request))?;

    let body = User {
        id: Some(user.id.clone()),
        provided_id: user.provided_id.clone(),
        preferred_email: user.email.clone(),
        phone: user.phone.clone(),
        username: user.username.clone(),
        last_name: user.last_name.clone(),
        first_name: user.first_name.clone(),
        is_suspended: Some(user.is_suspended),
        picture: user.picture.clone(),
        total_sign_ins: Some(0),
        failed_sign_ins: Some(0),
        last_signed_in: None,
        created_on: Some(user.created_on.clone()),
        organizations: expand
            .contains(&"organizations")
            .then(|| store.organizations_of(&user.id)),
        identities: expand.contains(&"identities").then(|| {
            identities_of(user)
                .map(|(kind, identity)| UserIdentitiesItem {
                    r#type: Some(kind.to_owned()),
                    identity: Some(identity.to_owned()),
                })
                .collect()
        }),
        billing: None,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/user?id=`.
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let id = request.required_query("id")?;
    let changes: UpdateUserRequest = request.body_as()?;
    if changes == UpdateUserRequest::default() {
        return Err(ApiError::bad_request(
            NO_FIELDS_TO_UPDATE,
            "At least one field must be provided for update",
        ));
    }

    let mut store = context.store();
    let user = store
        .users
        .iter_mut()
        .find(|user| user.id == id)
        .ok_or_else(|| not_found(request))?;
    if let Some(given_name) = changes.given_name {
        user.first_name = Some(given_name);
    }
    if let Some(family_name) = changes.family_name {
        user.last_name = Some(family_name);
    }
    if let Some(picture) = changes.picture {
        user.picture = Some(picture);
    }
    if let Some(is_suspended) = changes.is_suspended {
        user.is_suspended = is_suspended;
    }
    if let Some(reset) = changes.is_password_reset_requested {
        user.is_password_reset_requested = reset;
    }
    if let Some(provided_id) = changes.provided_id {
        user.provided_id = Some(provided_id);
    }

    let body = UpdateUserResponse {
        id: Some(user.id.clone()),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        email: user.email.clone(),
        is_suspended: Some(user.is_suspended),
        is_password_reset_requested: Some(user.is_password_reset_requested),
        picture: user.picture.clone(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/v1/user?id=`.
pub(super) fn delete(context: &Context, request: &ApiRequest) -> ApiResult {
    let id = request.required_query("id")?;
    let mut store = context.store();
    let index = store
        .users
        .iter()
        .position(|user| user.id == id)
        .ok_or_else(|| not_found(request))?;
    store.users.remove(index);
    store
        .memberships
        .retain(|membership| membership.user_id != id);
    store.user_flags.retain(|value| value.owner != id);
    store.identities.retain(|identity| identity.user_id != id);
    drop(store);

    let (code, message) = ok_code();
    Ok(json_response(
        StatusCode::OK,
        &SuccessResponse { message, code },
    ))
}

/// `GET /api/v1/users`: filtered, in creation order, paged by `next_token`.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let ids = request.query_list("user_id");
    let emails = request.query_list("email");
    let usernames = request.query_list("username");
    let phones = request.query_list("phone");
    let has_organization = request
        .query("has_organization")
        .map(|value| value == "true");
    let expand = request.query_list("expand");

    let store = context.store();
    let matching: Vec<&UserRecord> = store
        .users
        .iter()
        .filter(|user| ids.is_empty() || ids.contains(&user.id.as_str()))
        .filter(|user| matches_any(&emails, user.email.as_deref()))
        .filter(|user| matches_any(&usernames, user.username.as_deref()))
        .filter(|user| matches_any(&phones, user.phone.as_deref()))
        .filter(|user| {
            has_organization.is_none_or(|wanted| {
                let member = store.memberships.iter().any(|m| m.user_id == user.id);
                member == wanted
            })
        })
        .collect();
    let (page, next_token) = window.apply(matching, "");

    let users = page
        .into_iter()
        .map(|user| UsersResponseUser {
            id: Some(user.id.clone()),
            provided_id: user.provided_id.clone(),
            email: user.email.clone(),
            phone: user.phone.clone(),
            username: user.username.clone(),
            last_name: user.last_name.clone(),
            first_name: user.first_name.clone(),
            is_suspended: Some(user.is_suspended),
            picture: user.picture.clone(),
            total_sign_ins: Some(0),
            failed_sign_ins: Some(0),
            last_signed_in: None,
            created_on: Some(user.created_on.clone()),
            last_organization_sign_ins: None,
            organizations: expand
                .contains(&"organizations")
                .then(|| store.organizations_of(&user.id)),
            identities: expand.contains(&"identities").then(|| {
                identities_of(user)
                    .map(|(kind, identity)| UsersResponseUserIdentity {
                        r#type: Some(kind.to_owned()),
                        identity: Some(identity.to_owned()),
                        connection_id: None,
                    })
                    .collect()
            }),
            billing: None,
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = UsersResponse {
        code,
        message,
        users: Some(users),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/search/users`: a case-insensitive substring search, paged by cursor.
pub(super) fn search(context: &Context, request: &ApiRequest) -> ApiResult {
    let needle = request.query("query").unwrap_or_default().to_lowercase();
    let expand = request.query_list("expand");
    let store = context.store();
    let matching: Vec<&UserRecord> = store
        .users
        .iter()
        .filter(|user| needle.is_empty() || needle == "*" || searchable(user).contains(&needle))
        .collect();
    let (page, _has_more) = cursor_page(
        request,
        context.settings.page_size_limit,
        matching,
        |user| user.id.as_str(),
    )?;

    let results = page
        .into_iter()
        .map(|user| SearchUsersResponseResult {
            id: Some(user.id.clone()),
            provided_id: user.provided_id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            last_name: user.last_name.clone(),
            first_name: user.first_name.clone(),
            is_suspended: Some(user.is_suspended),
            picture: user.picture.clone(),
            total_sign_ins: Some(0),
            failed_sign_ins: Some(0),
            last_signed_in: None,
            created_on: Some(user.created_on.clone()),
            organizations: expand
                .contains(&"organizations")
                .then(|| store.organizations_of(&user.id)),
            identities: expand.contains(&"identities").then(|| {
                identities_of(user)
                    .map(|(kind, identity)| SearchUsersResponseResultIdentity {
                        r#type: Some(kind.to_owned()),
                        identity: Some(identity.to_owned()),
                    })
                    .collect()
            }),
            properties: None,
            api_scopes: None,
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = SearchUsersResponse {
        code,
        message,
        results: Some(results),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn not_found(request: &ApiRequest) -> ApiError {
    ApiError::new(
        not_found_status(request.operation),
        USER_NOT_FOUND,
        "User not found",
    )
}

/// Whether a filter list is empty or holds `value` (case-insensitive).
fn matches_any(filter: &[&str], value: Option<&str>) -> bool {
    filter.is_empty()
        || value.is_some_and(|value| filter.iter().any(|item| item.eq_ignore_ascii_case(value)))
}

/// The lowercase text a search matches against.
fn searchable(user: &UserRecord) -> String {
    [
        Some(user.id.as_str()),
        user.email.as_deref(),
        user.username.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
        user.phone.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

/// A user's identities as `(type, identity)` pairs.
fn identities_of(user: &UserRecord) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("email", user.email.as_deref()),
        ("phone", user.phone.as_deref()),
        ("username", user.username.as_deref()),
    ]
    .into_iter()
    .filter_map(|(kind, value)| Some((kind, value?)))
}
