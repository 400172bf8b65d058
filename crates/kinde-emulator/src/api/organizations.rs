//! Organizations: `createOrganization`, `getOrganization`, `getOrganizations`,
//! `updateOrganization`, `deleteOrganization`.

use http::StatusCode;
use kinde_api::models::{
    CreateOrganizationRequest, CreateOrganizationResponse, CreateOrganizationResponseOrganization,
    GetOrganizationResponse, GetOrganizationsResponse, OrganizationItemSchema, SuccessResponse,
    UpdateOrganizationRequest,
};

use super::page::Window;
use super::users::ORGANIZATION_NOT_FOUND;
use super::{ApiRequest, ApiResult, first_success, not_found_status, ok_code};
use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::state::{OrganizationRecord, organization_code};

/// The code of the 400 for deleting the business's default organization.
const DEFAULT_ORGANIZATION: &str = "CANNOT_DELETE_DEFAULT_ORGANIZATION";
/// The code of the 400 for a handle another organization already has.
const DUPLICATE_HANDLE: &str = "DUPLICATE_HANDLE";

/// `POST /api/v1/organization`.
pub(super) fn create(context: &Context, request: &ApiRequest) -> ApiResult {
    let body: CreateOrganizationRequest = request.body_as()?;
    let mut store = context.store();
    if let Some(handle) = &body.handle {
        check_handle(&store.organizations, handle, None)?;
    }

    let organization = OrganizationRecord {
        code: organization_code(),
        name: body.name,
        handle: body.handle,
        external_id: body.external_id,
        is_default: false,
        is_auto_membership_enabled: body.is_auto_membership_enabled.unwrap_or(false),
        is_allow_registrations: body.is_allow_registrations.unwrap_or(false),
        is_suspended: false,
        sender_name: body.sender_name.flatten(),
        sender_email: body.sender_email.flatten(),
        allowed_domains: Vec::new(),
        created_on: context.clock.rfc3339(),
    };
    let code = organization.code.clone();
    store.organizations.push(organization);
    drop(store);

    let (status, message) = ok_code();
    let body = CreateOrganizationResponse {
        message,
        code: status,
        organization: Some(CreateOrganizationResponseOrganization {
            code: Some(code),
            billing_customer_id: None,
        }),
    };
    Ok(json_response(first_success(request.operation), &body))
}

/// `GET /api/v1/organization?code=`.
pub(super) fn get(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.required_query("code")?;
    let store = context.store();
    let organization = store.organization(code).ok_or_else(|| not_found(request))?;

    let body = GetOrganizationResponse {
        code: Some(organization.code.clone()),
        name: Some(organization.name.clone()),
        handle: organization.handle.clone(),
        is_default: Some(organization.is_default),
        external_id: organization.external_id.clone(),
        is_auto_membership_enabled: Some(organization.is_auto_membership_enabled),
        allowed_domains: Some(organization.allowed_domains.clone()),
        created_on: Some(organization.created_on.clone()),
        is_allow_registrations: Some(organization.is_allow_registrations),
        sender_name: organization.sender_name.clone(),
        sender_email: organization.sender_email.clone(),
        is_suspended: Some(organization.is_suspended),
        ..GetOrganizationResponse::default()
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/organizations`: sorted and paged by `next_token`.
pub(super) fn list(context: &Context, request: &ApiRequest) -> ApiResult {
    let window = Window::from_request(request, context.settings.page_size_limit)?;
    let sort = request.query("sort").unwrap_or_default();

    let store = context.store();
    let mut organizations: Vec<&OrganizationRecord> = store.organizations.iter().collect();
    match sort {
        "name_asc" => organizations.sort_by_key(|organization| organization.name.to_lowercase()),
        "name_desc" => {
            organizations.sort_by_key(|organization| organization.name.to_lowercase());
            organizations.reverse();
        }
        _ => {}
    }
    let (page, next_token) = window.apply(organizations, sort);
    let organizations = page
        .into_iter()
        .map(|organization| OrganizationItemSchema {
            code: Some(organization.code.clone()),
            name: Some(organization.name.clone()),
            handle: organization.handle.clone(),
            is_default: Some(organization.is_default),
            external_id: organization.external_id.clone(),
            is_auto_membership_enabled: Some(organization.is_auto_membership_enabled),
        })
        .collect();
    drop(store);

    let (code, message) = ok_code();
    let body = GetOrganizationsResponse {
        code,
        message,
        organizations: Some(organizations),
        next_token,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `PATCH /api/v1/organization/{org_code}`.
pub(super) fn update(context: &Context, request: &ApiRequest) -> ApiResult {
    let changes: UpdateOrganizationRequest = request.body_as()?;
    let code = request.path("org_code");
    let mut store = context.store();
    if let Some(handle) = &changes.handle {
        check_handle(&store.organizations, handle, Some(code))?;
    }
    let organization = store
        .organizations
        .iter_mut()
        .find(|organization| organization.code == code)
        .ok_or_else(|| not_found(request))?;

    if let Some(name) = changes.name {
        organization.name = name;
    }
    if let Some(external_id) = changes.external_id {
        organization.external_id = Some(external_id);
    }
    if let Some(handle) = changes.handle {
        organization.handle = Some(handle);
    }
    if let Some(enabled) = changes.is_auto_membership_enabled {
        organization.is_auto_membership_enabled = enabled;
    }
    if let Some(allowed) = changes.is_allow_registrations {
        organization.is_allow_registrations = allowed;
    }
    if let Some(domains) = changes.allowed_domains {
        organization.allowed_domains = domains;
    }
    if let Some(suspended) = changes.is_suspended {
        organization.is_suspended = suspended;
    }
    if let Some(sender_name) = changes.sender_name {
        organization.sender_name = sender_name;
    }
    if let Some(sender_email) = changes.sender_email {
        organization.sender_email = sender_email;
    }
    drop(store);

    let (code, message) = ok_code();
    Ok(json_response(
        StatusCode::OK,
        &SuccessResponse { message, code },
    ))
}

/// `DELETE /api/v1/organization/{org_code}`.
pub(super) fn delete(context: &Context, request: &ApiRequest) -> ApiResult {
    let code = request.path("org_code");
    let mut store = context.store();
    let index = store
        .organizations
        .iter()
        .position(|organization| organization.code == code)
        .ok_or_else(|| not_found(request))?;
    if store.organizations[index].is_default {
        return Err(ApiError::bad_request(
            DEFAULT_ORGANIZATION,
            "The default organization cannot be deleted",
        ));
    }
    store.organizations.remove(index);
    store
        .memberships
        .retain(|membership| membership.org_code != code);
    store.organization_flags.retain(|value| value.owner != code);
    drop(store);

    let (code, message) = ok_code();
    Ok(json_response(
        StatusCode::OK,
        &SuccessResponse { message, code },
    ))
}

fn check_handle(
    organizations: &[OrganizationRecord],
    handle: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let taken = organizations.iter().any(|organization| {
        organization.handle.as_deref() == Some(handle) && Some(organization.code.as_str()) != except
    });
    if taken {
        return Err(ApiError::bad_request(
            DUPLICATE_HANDLE,
            "An organization with this handle already exists",
        ));
    }
    Ok(())
}

/// The error for an unknown organization code.
pub(super) fn not_found(request: &ApiRequest) -> ApiError {
    ApiError::new(
        not_found_status(request.operation),
        ORGANIZATION_NOT_FOUND,
        "Organization not found",
    )
}
