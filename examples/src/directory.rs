//! Find-or-create steps over the gateway, so that running an example again reuses what the
//! last run made instead of failing on it.

use kinde_gateway::pb;

use crate::{Failure, GatewaySession};

/// Whether a step found what it needed or made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It existed already; nothing changed.
    Found,
    /// The step created it.
    Created,
}

impl Outcome {
    /// `found` or `created`, for output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::Created => "created",
        }
    }
}

/// What a find-or-create step got: the id, whether it was made, and the request id of the
/// call that decided (the create if there was one, else the lookup).
#[derive(Clone, Debug)]
pub struct Step {
    /// The id (or organization code) of the thing.
    pub id: String,
    /// Found or created.
    pub outcome: Outcome,
    /// The request id of the deciding call.
    pub request_id: String,
}

/// A person to find by email or create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The email address, which identifies the user.
    pub email: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
}

/// An organization's external id made from its name: `Acme Corp` -> `acme-corp`. Letters and
/// digits are kept (lowercased); every run of anything else becomes one `-`.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    words.join("-")
}

/// The organization whose `external_id` is `external_id`, else a new one named `name`.
///
/// # Errors
///
/// A [`Failure`] when listing or creating fails.
pub async fn organization(
    session: &GatewaySession,
    name: &str,
    external_id: &str,
) -> Result<Step, Failure> {
    let (request, request_id) = session.request(pb::StreamGetOrganizationsRequest::default());
    let stream = session
        .organizations()
        .stream_get_organizations(request)
        .await;
    let organizations = session
        .collect("list organizations", &request_id, stream)
        .await?;
    let existing = organizations
        .into_iter()
        .filter_map(|item| item.organization)
        .find(|organization| organization.external_id.as_deref() == Some(external_id));
    if let Some(code) = existing.and_then(|organization| organization.code) {
        return Ok(found(code, request_id));
    }

    let (request, request_id) = session.request(pb::CreateOrganizationRequest {
        name: name.to_owned(),
        external_id: Some(external_id.to_owned()),
        ..Default::default()
    });
    let created = session.organizations().create_organization(request).await;
    let doing = format!("create organization {name}");
    let created = session.check(&doing, &request_id, created)?;
    let code = created
        .organization
        .and_then(|organization| organization.code)
        .ok_or_else(|| Failure::call(&doing, &request_id, "the answer has no code"))?;
    Ok(Step {
        id: code,
        outcome: Outcome::Created,
        request_id,
    })
}

/// The role whose key is `key`, else a new one named `name`.
///
/// # Errors
///
/// A [`Failure`] when listing or creating fails.
pub async fn role(session: &GatewaySession, key: &str, name: &str) -> Result<Step, Failure> {
    let (request, request_id) = session.request(pb::StreamGetRolesRequest::default());
    let stream = session.roles().stream_get_roles(request).await;
    let roles = session.collect("list roles", &request_id, stream).await?;
    let existing = roles
        .into_iter()
        .filter_map(|item| item.role)
        .find(|role| role.key.as_deref() == Some(key));
    if let Some(id) = existing.and_then(|role| role.id) {
        return Ok(found(id, request_id));
    }

    let (request, request_id) = session.request(pb::CreateRoleRequest {
        name: Some(name.to_owned()),
        key: Some(key.to_owned()),
        ..Default::default()
    });
    let created = session.roles().create_role(request).await;
    let doing = format!("create role {key}");
    let created = session.check(&doing, &request_id, created)?;
    let id = created
        .role
        .and_then(|role| role.id)
        .ok_or_else(|| Failure::call(&doing, &request_id, "the answer has no role id"))?;
    Ok(Step {
        id,
        outcome: Outcome::Created,
        request_id,
    })
}

/// The user whose email is `person.email` (compared without regard to case), else a new user
/// with a verified email identity.
///
/// # Errors
///
/// A [`Failure`] when the lookup or the create fails, or when more than one user has the
/// email, since the step cannot tell which one is meant.
pub async fn user(session: &GatewaySession, person: &Person) -> Result<Step, Failure> {
    let (request, request_id) = session.request(pb::GetUsersRequest {
        email: Some(person.email.clone()),
        ..Default::default()
    });
    let answer = session.users().get_users(request).await;
    let doing = format!("look up user {}", person.email);
    let answer = session.check(&doing, &request_id, answer)?;
    match with_email(answer.users, &person.email)[..] {
        [] => {}
        [ref id] => return Ok(found(id.clone(), request_id)),
        ref ids => {
            let reason = format!("{} users have this email: {}", ids.len(), ids.join(", "));
            return Err(Failure::call(&doing, &request_id, reason));
        }
    }

    let (request, request_id) = session.request(pb::CreateUserRequest {
        profile: Some(pb::CreateUserRequestProfile {
            given_name: Some(person.given_name.clone()),
            family_name: Some(person.family_name.clone()),
            ..Default::default()
        }),
        identities: vec![pb::CreateUserRequestIdentity {
            r#type: Some("email".to_owned()),
            is_verified: Some(true),
            details: Some(pb::CreateUserRequestIdentityDetails {
                email: Some(person.email.clone()),
                ..Default::default()
            }),
        }],
        ..Default::default()
    });
    let created = session.users().create_user(request).await;
    let doing = format!("create user {}", person.email);
    let created = session.check(&doing, &request_id, created)?;
    let id = created
        .id
        .ok_or_else(|| Failure::call(&doing, &request_id, "the answer has no user id"))?;
    Ok(Step {
        id,
        outcome: Outcome::Created,
        request_id,
    })
}

/// Every member of the organization `code`, through the streaming RPC.
///
/// # Errors
///
/// A [`Failure`] when the stream fails.
pub async fn members(
    session: &GatewaySession,
    code: &str,
) -> Result<(Vec<pb::OrganizationUser>, String), Failure> {
    let (request, request_id) = session.request(pb::StreamGetOrganizationUsersRequest {
        org_code: code.to_owned(),
        sort: Some("email_asc".to_owned()),
        ..Default::default()
    });
    let stream = session
        .organizations()
        .stream_get_organization_users(request)
        .await;
    let doing = format!("list the members of {code}");
    let members = session.collect(&doing, &request_id, stream).await?;
    let members = members
        .into_iter()
        .filter_map(|item| item.organization_user)
        .collect();
    Ok((members, request_id))
}

/// The ids of the users whose email is `email`, ignoring case: a lookup answers what the
/// upstream matched, which need not be exactly that address.
fn with_email(users: Vec<pb::UsersResponseUser>, email: &str) -> Vec<String> {
    users
        .into_iter()
        .filter(|user| {
            user.email
                .as_deref()
                .is_some_and(|found| found.eq_ignore_ascii_case(email))
        })
        .filter_map(|user| user.id)
        .collect()
}

fn found(id: String, request_id: String) -> Step {
    Step {
        id,
        outcome: Outcome::Found,
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_letters_and_digits() {
        assert_eq!(slug("Acme Corp"), "acme-corp");
        assert_eq!(slug("  Initech, Inc. 2 "), "initech-inc-2");
        assert_eq!(slug("Globex"), "globex");
    }

    fn user(id: &str, email: Option<&str>) -> pb::UsersResponseUser {
        pb::UsersResponseUser {
            id: Some(id.to_owned()),
            email: email.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_user_with_the_same_email_is_found() {
        let answer = vec![
            user("kp_1", Some("ada.lovelace@acme.example")),
            user("kp_2", None),
            user("kp_3", Some("Ada@Acme.example")),
        ];
        assert_eq!(with_email(answer, "ada@acme.example"), ["kp_3"]);

        let unrelated = vec![user("kp_1", Some("grace@acme.example"))];
        assert!(with_email(unrelated, "ada@acme.example").is_empty());
    }
}
