//! Callers: who may call the gateway, how they prove it, and what each may do.
//!
//! A caller is a named service. It proves who it is with an API key (`authorization: Bearer
//! <key>`), of which the gateway stores only the SHA-256 hash, or with a client certificate whose
//! subject is mapped to it. Each caller has an allow-list of RPCs and a credential profile: the
//! Kinde M2M application its calls use.
//!
//! ```
//! use kinde_gateway::caller::{ApiKeyHash, Caller};
//!
//! let caller = Caller::new("billing", "billing-sync")
//!     .api_key_hash(ApiKeyHash::of_key("a-long-random-key"))
//!     .allow("kinde.management.v1.UsersService/*")
//!     .allow("kinde.management.v1.OrganizationsService/GetOrganization");
//! assert!(caller.is_allowed("kinde.management.v1.UsersService/GetUsers"));
//! assert!(!caller.is_allowed("kinde.management.v1.OrganizationsService/DeleteOrganization"));
//! ```

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tokio::sync::Semaphore;

/// The SHA-256 hash of a caller's API key: all the gateway stores of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    /// The hash of `key`.
    pub fn of_key(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Parses 64 hexadecimal digits (either case), as `sha256sum` prints them.
    ///
    /// # Errors
    ///
    /// [`InvalidApiKeyHash`] for anything else.
    pub fn from_hex(hex: &str) -> Result<Self, InvalidApiKeyHash> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 64 {
            return Err(InvalidApiKeyHash(()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let high = hex_digit(pair[0]).ok_or(InvalidApiKeyHash(()))?;
            let low = hex_digit(pair[1]).ok_or(InvalidApiKeyHash(()))?;
            *byte = (high << 4) | low;
        }
        Ok(Self(bytes))
    }

    /// Lowercase hexadecimal, for configuration files.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but a prefix is enough to tell two apart.
        write!(f, "ApiKeyHash({}..)", &self.to_hex()[..8])
    }
}

/// An API key hash that is not 64 hexadecimal digits.
#[derive(Debug)]
pub struct InvalidApiKeyHash(());

impl fmt::Display for InvalidApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a SHA-256 hash in hexadecimal (64 digits)")
    }
}

impl std::error::Error for InvalidApiKeyHash {}

/// One entry of an allow-list: an RPC (`package.Service/Method`), every RPC of a service
/// (`package.Service/*`), or everything (`*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Every RPC.
    Everything,
    /// Every RPC of the named service.
    Service(String),
    /// One RPC.
    Rpc(String),
}

impl Allowed {
    /// Parses an allow-list entry.
    ///
    /// # Errors
    ///
    /// A description when `entry` is not `*`, `Service/*` or `Service/Method`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        if entry == "*" {
            return Ok(Self::Everything);
        }
        let Some((service, method)) = entry.split_once('/') else {
            return Err(format!(
                "`{entry}` is not `package.Service/Method` or `Service/*`"
            ));
        };
        if service.is_empty() || method.is_empty() || method.contains('/') {
            return Err(format!(
                "`{entry}` is not `package.Service/Method` or `Service/*`"
            ));
        }
        Ok(if method == "*" {
            Self::Service(service.to_owned())
        } else {
            Self::Rpc(entry.to_owned())
        })
    }

    /// Whether this entry allows `rpc` (`package.Service/Method`).
    pub fn allows(&self, rpc: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Service(service) => rpc
                .strip_prefix(service.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            Self::Rpc(name) => name == rpc,
        }
    }
}

/// A service allowed to call the gateway. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Caller {
    name: Arc<str>,
    profile: String,
    api_key_hashes: Vec<ApiKeyHash>,
    certificate_subjects: Vec<String>,
    allow: Vec<Allowed>,
    quota: Option<Arc<Semaphore>>,
}

impl Caller {
    /// A caller named `name` whose calls use the credential profile `profile`; it has no
    /// credentials and may call nothing until given some.
    pub fn new(name: impl Into<String>, profile: impl Into<String>) -> Self {
        Self {
            name: name.into().into(),
            profile: profile.into(),
            api_key_hashes: Vec::new(),
            certificate_subjects: Vec::new(),
            allow: Vec::new(),
            quota: None,
        }
    }

    /// Accepts the API key with this hash. Give several while a key rotates.
    pub fn api_key_hash(mut self, hash: ApiKeyHash) -> Self {
        self.api_key_hashes.push(hash);
        self
    }

    /// Accepts a client certificate with this subject: the whole distinguished name as
    /// `CN=billing, O=Acme` (RFC 4514 order as the certificate holds it), or only its common
    /// name.
    pub fn certificate_subject(mut self, subject: impl Into<String>) -> Self {
        self.certificate_subjects.push(subject.into());
        self
    }

    /// Allows an RPC, a service (`Service/*`) or everything (`*`).
    ///
    /// # Panics
    ///
    /// If `entry` is none of these; configuration files are checked with [`Allowed::parse`].
    pub fn allow(mut self, entry: &str) -> Self {
        self.allow
            .push(Allowed::parse(entry).expect("a valid allow-list entry"));
        self
    }

    /// Allows a parsed entry.
    pub fn allowed(mut self, entry: Allowed) -> Self {
        self.allow.push(entry);
        self
    }

    /// At most `calls` calls of this caller in flight at once; more fail with
    /// `RESOURCE_EXHAUSTED` at once, so one noisy caller cannot take every upstream permit.
    ///
    /// # Panics
    ///
    /// If `calls` is zero.
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        assert!(calls > 0, "a caller needs at least one call in flight");
        self.quota = Some(Arc::new(Semaphore::new(calls)));
        self
    }

    /// The caller's name, as the audit log records it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The credential profile its calls use.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The allow-list.
    pub fn allow_list(&self) -> &[Allowed] {
        &self.allow
    }

    /// Whether the caller may call `rpc` (`package.Service/Method`).
    pub fn is_allowed(&self, rpc: &str) -> bool {
        self.allow.iter().any(|entry| entry.allows(rpc))
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    pub(crate) fn quota(&self) -> Option<&Arc<Semaphore>> {
        self.quota.as_ref()
    }
}

/// Every caller, and the lookups that authenticate one.
#[derive(Debug, Default)]
pub(crate) struct Callers {
    callers: Vec<Caller>,
}

impl Callers {
    pub(crate) fn new(callers: Vec<Caller>) -> Self {
        Self { callers }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Caller> {
        self.callers.iter()
    }

    /// The caller whose key is `key`.
    ///
    /// Every stored hash is compared, in constant time, whatever matches, so the time taken
    /// says nothing about which caller or how much of a hash matched.
    pub(crate) fn by_api_key(&self, key: &str) -> Option<&Caller> {
        let presented = ApiKeyHash::of_key(key);
        let mut found = None;
        for caller in &self.callers {
            let mut matched = Choice::from(0);
            for hash in &caller.api_key_hashes {
                matched |= hash.ct_eq(&presented);
            }
            if bool::from(matched) && found.is_none() {
                found = Some(caller);
            }
        }
        found
    }

    /// The caller mapped to a client certificate with this subject and common name.
    pub(crate) fn by_certificate(
        &self,
        subject: &str,
        common_name: Option<&str>,
    ) -> Option<&Caller> {
        self.callers.iter().find(|caller| {
            caller
                .certificate_subjects
                .iter()
                .any(|s| s == subject || Some(s.as_str()) == common_name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = ApiKeyHash::of_key("key");
        assert_eq!(ApiKeyHash::from_hex(&hash.to_hex()).unwrap(), hash);
        assert_eq!(
            ApiKeyHash::from_hex(&hash.to_hex().to_uppercase()).unwrap(),
            hash
        );
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
            assert!(ApiKeyHash::from_hex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_find_their_caller_and_no_other() {
        let callers = Callers::new(vec![
            Caller::new("a", "p")
                .api_key_hash(ApiKeyHash::of_key("old"))
                .api_key_hash(ApiKeyHash::of_key("new")),
            Caller::new("b", "p").api_key_hash(ApiKeyHash::of_key("b-key")),
        ]);
        assert_eq!(callers.by_api_key("old").unwrap().name(), "a");
        assert_eq!(callers.by_api_key("new").unwrap().name(), "a");
        assert_eq!(callers.by_api_key("b-key").unwrap().name(), "b");
        assert!(callers.by_api_key("").is_none());
        assert!(callers.by_api_key("b-key ").is_none());
    }

    #[test]
    fn allow_lists_match_services_and_methods_exactly() {
        let service = Allowed::parse("kinde.management.v1.UsersService/*").unwrap();
        assert!(service.allows("kinde.management.v1.UsersService/GetUsers"));
        assert!(!service.allows("kinde.management.v1.UsersServiceX/GetUsers"));
        let rpc = Allowed::parse("kinde.management.v1.UsersService/GetUsers").unwrap();
        assert!(rpc.allows("kinde.management.v1.UsersService/GetUsers"));
        assert!(!rpc.allows("kinde.management.v1.UsersService/GetUsersX"));
        assert!(Allowed::parse("*").unwrap().allows("anything/At"));
        for bad in ["", "Service", "/Method", "Service/", "a/b/c"] {
            assert!(Allowed::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn certificates_match_by_subject_or_common_name() {
        let callers = Callers::new(vec![
            Caller::new("a", "p").certificate_subject("CN=billing, O=Acme"),
            Caller::new("b", "p").certificate_subject("reports"),
        ]);
        assert_eq!(
            callers
                .by_certificate("CN=billing, O=Acme", Some("billing"))
                .unwrap()
                .name(),
            "a"
        );
        assert_eq!(
            callers
                .by_certificate("CN=reports, O=Acme", Some("reports"))
                .unwrap()
                .name(),
            "b"
        );
        assert!(
            callers
                .by_certificate("CN=billing", Some("billing"))
                .is_none()
        );
    }
}
