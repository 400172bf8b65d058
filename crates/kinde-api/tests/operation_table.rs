//! The generated operation table against a hand-checked fixture.
//!
//! The rows below were written from `shared/kinde/operations.md` (an independent reading of the
//! spec), not from the generator's output, and chosen for the spec's quirks: the singular
//! `/user` and `/organization` paths beside the plural ones, `{organization_code}` where most
//! routes say `{org_code}`, a misspelt operation id, creates answering 200 or 201, updates that
//! take query parameters, a PATCH answering 201, an operation without a scope, path-level
//! parameters, both pagination styles, and an idempotency override.

use std::collections::BTreeMap;

use kinde_api::{MediaType, Method, OPERATIONS, PageStyle, operation};

/// Operations per spec tag.
const COUNTS: &[(&str, usize)] = &[
    ("API Keys", 6),
    ("APIs", 12),
    ("Applications", 14),
    ("Billing Entitlements", 1),
    ("Billing Agreements", 2),
    ("Billing Meter Usage", 1),
    ("Business", 2),
    ("Industries", 1),
    ("Timezones", 1),
    ("Callbacks", 8),
    ("Connected Apps", 3),
    ("Connections", 6),
    ("Directories", 5),
    ("Environments", 10),
    ("Environment variables", 5),
    ("Feature Flags", 3),
    ("Identities", 3),
    ("Organizations", 45),
    ("MFA", 1),
    ("Permissions", 4),
    ("Properties", 4),
    ("Property Categories", 3),
    ("Roles", 15),
    ("Search", 1),
    ("Subscribers", 3),
    ("Users", 18),
    ("Webhooks", 6),
];

/// One hand-checked row.
struct Row {
    id: &'static str,
    tag: &'static str,
    method: Method,
    path: &'static str,
    scope: Option<&'static str>,
    success: &'static [u16],
    response: Option<&'static str>,
    /// Required parameters other than path parameters.
    required_query: &'static [&'static str],
    body: Option<(MediaType, bool)>,
    pagination: Option<PageStyle>,
    idempotent: bool,
}

const ROWS: &[Row] = &[
    Row {
        id: "getUserData",
        tag: "Users",
        method: Method::Get,
        path: "/api/v1/user",
        scope: Some("read:users"),
        success: &[200],
        response: Some("User"),
        required_query: &["id"],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "getUsers",
        tag: "Users",
        method: Method::Get,
        path: "/api/v1/users",
        scope: Some("read:users"),
        success: &[200],
        response: Some("UsersResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::NextToken),
        idempotent: true,
    },
    Row {
        id: "createUser",
        tag: "Users",
        method: Method::Post,
        path: "/api/v1/user",
        scope: Some("create:users"),
        success: &[200],
        response: Some("CreateUserResponse"),
        required_query: &[],
        body: Some((MediaType::Json, false)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "GetUserIdentities",
        tag: "Users",
        method: Method::Get,
        path: "/api/v1/users/{user_id}/identities",
        scope: Some("read:user_identities"),
        success: &[200],
        response: Some("GetIdentitiesResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::Cursor),
        idempotent: true,
    },
    Row {
        id: "getOrganization",
        tag: "Organizations",
        method: Method::Get,
        path: "/api/v1/organization",
        scope: Some("read:organizations"),
        success: &[200],
        response: Some("GetOrganizationResponse"),
        required_query: &["code"],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "createOrganization",
        tag: "Organizations",
        method: Method::Post,
        path: "/api/v1/organization",
        scope: Some("create:organizations"),
        success: &[200],
        response: Some("CreateOrganizationResponse"),
        required_query: &[],
        body: Some((MediaType::Json, true)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "getOrganizations",
        tag: "Organizations",
        method: Method::Get,
        path: "/api/v1/organizations",
        scope: Some("read:organizations"),
        success: &[200],
        response: Some("GetOrganizationsResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::NextToken),
        idempotent: true,
    },
    Row {
        id: "updateOrganization",
        tag: "Organizations",
        method: Method::Patch,
        path: "/api/v1/organization/{org_code}",
        scope: Some("update:organizations"),
        success: &[200],
        response: Some("SuccessResponse"),
        required_query: &[],
        body: Some((MediaType::Json, false)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "GetOrganizationUsers",
        tag: "Organizations",
        method: Method::Get,
        path: "/api/v1/organizations/{org_code}/users",
        scope: Some("read:organization_users"),
        success: &[200],
        response: Some("GetOrganizationUsersResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::NextToken),
        idempotent: true,
    },
    Row {
        id: "EnableOrgConnection",
        tag: "Organizations",
        method: Method::Post,
        path: "/api/v1/organizations/{organization_code}/connections/{connection_id}",
        scope: Some("create:organization_connections"),
        success: &[200],
        response: None,
        required_query: &[],
        body: None,
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "AddOrganizationLogo",
        tag: "Organizations",
        method: Method::Post,
        path: "/api/v1/organizations/{org_code}/logos/{type}",
        scope: Some("update:organizations"),
        success: &[200],
        response: Some("SuccessResponse"),
        required_query: &[],
        body: Some((MediaType::Multipart, true)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "GetEnvironementFeatureFlags",
        tag: "Environments",
        method: Method::Get,
        path: "/api/v1/environment/feature_flags",
        scope: Some("read:environment_feature_flags"),
        success: &[200],
        response: Some("GetEnvironmentFeatureFlagsResponse"),
        required_query: &[],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "DeleteLogo",
        tag: "Environments",
        method: Method::Delete,
        path: "/api/v1/environment/logos/{type}",
        scope: Some("update:environments"),
        success: &[200, 204],
        response: Some("SuccessResponse"),
        required_query: &[],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "createApplication",
        tag: "Applications",
        method: Method::Post,
        path: "/api/v1/applications",
        scope: Some("create:applications"),
        success: &[201],
        response: Some("CreateApplicationResponse"),
        required_query: &[],
        body: Some((MediaType::Json, true)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "UpdateFeatureFlag",
        tag: "Feature Flags",
        method: Method::Put,
        path: "/api/v1/feature_flags/{feature_flag_key}",
        scope: Some("update:feature_flags"),
        success: &[200],
        response: Some("SuccessResponse"),
        required_query: &[
            "name",
            "description",
            "type",
            "allow_override_level",
            "default_value",
        ],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "verifyApiKey",
        tag: "API Keys",
        method: Method::Post,
        path: "/api/v1/api_keys/verify",
        scope: None,
        success: &[200],
        response: Some("VerifyApiKeyResponse"),
        required_query: &[],
        body: Some((MediaType::Json, true)),
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "rotateApiKey",
        tag: "API Keys",
        method: Method::Put,
        path: "/api/v1/api_keys/{key_id}",
        scope: Some("update:api_keys"),
        success: &[201],
        response: Some("RotateApiKeyResponse"),
        required_query: &[],
        body: None,
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "getApiKeys",
        tag: "API Keys",
        method: Method::Get,
        path: "/api/v1/api_keys",
        scope: Some("read:api_keys"),
        success: &[200],
        response: Some("GetApiKeysResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::Cursor),
        idempotent: true,
    },
    Row {
        id: "deleteAPIScope",
        tag: "APIs",
        method: Method::Delete,
        path: "/api/v1/apis/{api_id}/scopes/{scope_id}",
        scope: Some("delete:apis_scopes"),
        success: &[200],
        response: None,
        required_query: &[],
        body: None,
        pagination: None,
        idempotent: true,
    },
    Row {
        id: "UpdateRoles",
        tag: "Roles",
        method: Method::Patch,
        path: "/api/v1/roles/{role_id}",
        scope: Some("update:roles"),
        success: &[201],
        response: Some("SuccessResponse"),
        required_query: &[],
        body: Some((MediaType::Json, false)),
        pagination: None,
        idempotent: false,
    },
    Row {
        id: "searchUsers",
        tag: "Search",
        method: Method::Get,
        path: "/api/v1/search/users",
        scope: Some("read:users"),
        success: &[200],
        response: Some("SearchUsersResponse"),
        required_query: &[],
        body: None,
        pagination: Some(PageStyle::Cursor),
        idempotent: true,
    },
    Row {
        id: "CreateSubscriber",
        tag: "Subscribers",
        method: Method::Post,
        path: "/api/v1/subscribers",
        scope: Some("create:subscribers"),
        success: &[201],
        response: Some("CreateSubscriberSuccessResponse"),
        required_query: &["first_name", "last_name", "email"],
        body: None,
        pagination: None,
        idempotent: false,
    },
];

#[test]
fn operation_counts_per_tag_match_the_fixture() {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for op in OPERATIONS {
        *counts.entry(op.tag).or_default() += 1;
    }
    let expected: BTreeMap<&str, usize> = COUNTS.iter().copied().collect();
    assert_eq!(counts, expected);
    assert_eq!(OPERATIONS.len(), 183);
}

#[test]
fn quirky_rows_match_the_fixture() {
    for row in ROWS {
        let op = operation(row.id).unwrap_or_else(|| panic!("{} is missing", row.id));
        assert_eq!(op.tag, row.tag, "{}: tag", row.id);
        assert_eq!(op.method, row.method, "{}: method", row.id);
        assert_eq!(op.path, row.path, "{}: path", row.id);
        assert_eq!(op.scope, row.scope, "{}: scope", row.id);
        assert_eq!(op.success, row.success, "{}: success statuses", row.id);
        assert_eq!(op.response, row.response, "{}: response type", row.id);
        assert_eq!(op.idempotent, row.idempotent, "{}: idempotency", row.id);
        assert_eq!(
            op.pagination.map(|p| p.style),
            row.pagination,
            "{}: pagination",
            row.id
        );
        assert_eq!(
            op.body.map(|b| (b.media_type, b.required)),
            row.body,
            "{}: body",
            row.id
        );

        let path_params: Vec<&str> = op.path_params().collect();
        let required_query: Vec<&str> = op
            .required_params()
            .map(|p| p.name)
            .filter(|name| !path_params.contains(name))
            .collect();
        assert_eq!(
            required_query, row.required_query,
            "{}: required query",
            row.id
        );
        for name in &path_params {
            assert!(
                op.params.iter().any(|p| p.name == *name && p.required),
                "{}: path parameter {name} is not declared",
                row.id
            );
        }
    }
}

#[test]
fn exactly_23_operations_paginate_and_every_one_names_its_items() {
    let paginated: Vec<_> = OPERATIONS
        .iter()
        .filter(|op| op.pagination.is_some())
        .collect();
    assert_eq!(paginated.len(), 23);
    let next_token = paginated
        .iter()
        .filter(|op| {
            op.pagination
                .is_some_and(|p| p.style == PageStyle::NextToken)
        })
        .count();
    assert_eq!(next_token, 13);
    // searchUsers is the one cursor-paged list without `has_more`.
    let without_has_more: Vec<_> = paginated
        .iter()
        .filter(|op| {
            op.pagination
                .is_some_and(|p| p.style == PageStyle::Cursor && !p.has_more)
        })
        .map(|op| op.id)
        .collect();
    assert_eq!(without_has_more, ["searchUsers"]);
}

#[test]
fn every_operation_but_verify_api_key_needs_a_scope() {
    let unscoped: Vec<_> = OPERATIONS
        .iter()
        .filter(|op| op.scope.is_none())
        .map(|op| op.id)
        .collect();
    assert_eq!(unscoped, ["verifyApiKey"]);
}

#[test]
fn every_declared_response_type_has_an_example() {
    for op in OPERATIONS {
        if op.response.is_some() {
            assert!(op.response_example().is_some(), "{} has no example", op.id);
        }
    }
}
