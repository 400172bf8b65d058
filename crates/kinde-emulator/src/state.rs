//! The emulator's stateful resources: users and their identities, organizations, memberships,
//! roles, permissions and feature flags.
//!
//! Records keep creation order, which is the order list operations answer in unless a `sort`
//! says otherwise. Lookups scan: the emulator holds test and benchmark data, not a directory.

use rand::Rng as _;
use serde::Serialize;

use crate::clock::Clock;

/// A user.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) provided_id: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) picture: Option<String>,
    pub(crate) is_suspended: bool,
    pub(crate) is_password_reset_requested: bool,
    pub(crate) created_on: String,
}

impl UserRecord {
    /// `first_name last_name`, as Kinde's `full_name`.
    pub(crate) fn full_name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An organization.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct OrganizationRecord {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) handle: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) is_default: bool,
    pub(crate) is_auto_membership_enabled: bool,
    pub(crate) is_allow_registrations: bool,
    pub(crate) is_suspended: bool,
    pub(crate) sender_name: Option<String>,
    pub(crate) sender_email: Option<String>,
    pub(crate) allowed_domains: Vec<String>,
    pub(crate) created_on: String,
}

/// A user's membership of an organization.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Membership {
    pub(crate) org_code: String,
    pub(crate) user_id: String,
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
    pub(crate) joined_on: String,
}

/// A role: a named set of permissions given to organization members.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RoleRecord {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) is_default_role: bool,
    /// The ids of the role's permissions.
    pub(crate) permissions: Vec<String>,
}

/// A permission.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PermissionRecord {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
}

/// One way a user signs in: an email address, phone number, username or connection.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct IdentityRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    /// `email`, `phone`, `username`, `enterprise` or `social`.
    pub(crate) kind: String,
    /// The address, number or name.
    pub(crate) name: String,
    pub(crate) connection_id: Option<String>,
    pub(crate) is_primary: bool,
    pub(crate) created_on: String,
}

/// A feature flag and its environment-level value.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FlagRecord {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    /// `str`, `int` or `bool`.
    pub(crate) kind: String,
    /// `env`, `org` or `usr`: the narrowest level that may override the value.
    pub(crate) allow_override_level: Option<String>,
    pub(crate) default_value: String,
    /// The environment's override of `default_value`.
    pub(crate) environment_value: Option<String>,
}

/// A flag's value overridden for one organization or user.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FlagOverride {
    /// The organization code or user id.
    pub(crate) owner: String,
    pub(crate) key: String,
    pub(crate) value: String,
}

/// Everything that exists in the emulated business.
#[derive(Debug, Serialize)]
pub(crate) struct Store {
    pub(crate) users: Vec<UserRecord>,
    pub(crate) organizations: Vec<OrganizationRecord>,
    /// Memberships; their roles are role keys and their permissions permission keys.
    pub(crate) memberships: Vec<Membership>,
    pub(crate) identities: Vec<IdentityRecord>,
    pub(crate) roles: Vec<RoleRecord>,
    pub(crate) permissions: Vec<PermissionRecord>,
    pub(crate) flags: Vec<FlagRecord>,
    pub(crate) organization_flags: Vec<FlagOverride>,
    pub(crate) user_flags: Vec<FlagOverride>,
}

impl Store {
    /// A fresh business: no users and the default organization every Kinde business has.
    pub(crate) fn new(clock: &Clock) -> Self {
        let default_organization = OrganizationRecord {
            code: organization_code(),
            name: "Default Organization".to_owned(),
            handle: None,
            external_id: None,
            is_default: true,
            is_auto_membership_enabled: true,
            is_allow_registrations: true,
            is_suspended: false,
            sender_name: None,
            sender_email: None,
            allowed_domains: Vec::new(),
            created_on: clock.rfc3339(),
        };
        Self {
            users: Vec::new(),
            organizations: vec![default_organization],
            memberships: Vec::new(),
            identities: Vec::new(),
            roles: Vec::new(),
            permissions: Vec::new(),
            flags: Vec::new(),
            organization_flags: Vec::new(),
            user_flags: Vec::new(),
        }
    }

    /// The user with this id.
    pub(crate) fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.iter().find(|user| user.id == id)
    }

    /// The organization with this code.
    pub(crate) fn organization(&self, code: &str) -> Option<&OrganizationRecord> {
        self.organizations
            .iter()
            .find(|organization| organization.code == code)
    }

    /// The role with this id.
    pub(crate) fn role(&self, id: &str) -> Option<&RoleRecord> {
        self.roles.iter().find(|role| role.id == id)
    }

    /// The role with this key.
    pub(crate) fn role_by_key(&self, key: &str) -> Option<&RoleRecord> {
        self.roles.iter().find(|role| role.key == key)
    }

    /// The permission with this id.
    pub(crate) fn permission(&self, id: &str) -> Option<&PermissionRecord> {
        self.permissions
            .iter()
            .find(|permission| permission.id == id)
    }

    /// The membership of `user_id` in `org_code`.
    pub(crate) fn membership_mut(
        &mut self,
        org_code: &str,
        user_id: &str,
    ) -> Option<&mut Membership> {
        self.memberships
            .iter_mut()
            .find(|membership| membership.org_code == org_code && membership.user_id == user_id)
    }

    /// The default organization, if it still exists.
    pub(crate) fn default_organization(&self) -> Option<&OrganizationRecord> {
        self.organizations
            .iter()
            .find(|organization| organization.is_default)
    }

    /// The codes of the organizations a user belongs to, in joining order.
    pub(crate) fn organizations_of(&self, user_id: &str) -> Vec<String> {
        self.memberships
            .iter()
            .filter(|membership| membership.user_id == user_id)
            .map(|membership| membership.org_code.clone())
            .collect()
    }

    /// Adds `user_id` to `org_code` unless already a member; whether it was added.
    pub(crate) fn join(&mut self, org_code: &str, user_id: &str, joined_on: String) -> bool {
        let already = self
            .memberships
            .iter()
            .any(|membership| membership.org_code == org_code && membership.user_id == user_id);
        if !already {
            self.memberships.push(Membership {
                org_code: org_code.to_owned(),
                user_id: user_id.to_owned(),
                roles: Vec::new(),
                permissions: Vec::new(),
                joined_on,
            });
        }
        !already
    }
}

/// A new user id: `kp_` and 32 hex digits.
pub(crate) fn user_id() -> String {
    format!("kp_{}", hex(16))
}

/// A new identity id: `identity_` and 32 hex digits.
pub(crate) fn identity_id() -> String {
    format!("identity_{}", hex(16))
}

/// A new role id: a UUID, as Kinde's role ids are.
pub(crate) fn role_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new permission id: `perm_` and 32 hex digits.
pub(crate) fn permission_id() -> String {
    format!("perm_{}", hex(16))
}

/// A new organization code: `org_` and 11 hex digits.
pub(crate) fn organization_code() -> String {
    let mut code = hex(6);
    code.truncate(11);
    format!("org_{code}")
}

fn hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}
