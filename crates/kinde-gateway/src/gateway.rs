//! [`Gateway`]: the callers, the credential profiles and the audit log that every RPC uses.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use kinde_management::{Client, InvalidBaseUrl};
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::token::{ClientCredentials, TokenSource};
use tower_m2m::transport::ReqwestTransport;

use crate::audit::AuditLog;
use crate::caller::{Caller, Callers};
use crate::tap::AttemptTap;

/// The gateway's core: it implements every service of the contract (in the generated code)
/// through `Gateway::unary` and `Gateway::server_stream`, which authenticate the caller, check
/// its allow-list, call Kinde with the caller's credential profile, map errors and write the
/// audit line.
///
/// Cheap to clone: clones share everything.
///
/// ```
/// use kinde_gateway::{AuditLog, Gateway, Profile};
/// use kinde_gateway::caller::{ApiKeyHash, Caller};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kinde = tower::service_fn(|_: http::Request<tower_m2m::ReplayBody>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("{}")))
/// });
/// let client = kinde_management::Client::from_service("https://mybusiness.kinde.com", kinde)?;
/// let gateway = Gateway::builder()
///     .profile("reader", Profile::new(client))
///     .caller(
///         Caller::new("billing", "reader")
///             .api_key_hash(ApiKeyHash::of_key("a-long-random-key"))
///             .allow("kinde.management.v1.UsersService/*"),
///     )
///     .audit_log(AuditLog::memory())
///     .build()?;
/// assert_eq!(gateway.profiles().count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) callers: Callers,
    pub(crate) profiles: BTreeMap<String, Profile>,
    pub(crate) audit: AuditLog,
}

impl Gateway {
    /// Starts a gateway with no callers and no profiles.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// The credential profiles, by name.
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &Profile)> {
        self.inner
            .profiles
            .iter()
            .map(|(name, p)| (name.as_str(), p))
    }

    /// The callers.
    pub fn callers(&self) -> impl Iterator<Item = &Caller> {
        self.inner.callers.iter()
    }

    /// The audit log.
    pub fn audit_log(&self) -> &AuditLog {
        &self.inner.audit
    }
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("profiles", &self.inner.profiles.keys().collect::<Vec<_>>())
            .field(
                "callers",
                &self
                    .inner
                    .callers
                    .iter()
                    .map(Caller::name)
                    .collect::<Vec<_>>(),
            )
            .field("audit", &self.inner.audit)
            .finish()
    }
}

/// A credential profile: one Kinde M2M application's client, with its own token cache, and the
/// upstream (Kinde business) it calls, whose limits and breaker it shares with other profiles.
#[derive(Clone, Debug)]
pub struct Profile {
    client: Client,
    upstream: Option<Upstream>,
    scopes: Vec<String>,
}

impl Profile {
    /// A profile over any client, for example one from `Client::from_service`. It reports no
    /// breaker to health checks unless given its [`upstream`](Self::upstream).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            upstream: None,
            scopes: Vec::new(),
        }
    }

    /// A profile calling the Kinde business at `base_url` with `credentials`, through the full
    /// `tower-m2m` stack over reqwest, sharing `upstream` with the other profiles of that
    /// business.
    ///
    /// # Errors
    ///
    /// [`InvalidBaseUrl`] when `base_url` is not an `http` or `https` URL.
    pub fn kinde(
        base_url: &str,
        credentials: ClientCredentials,
        upstream: Upstream,
    ) -> Result<Self, InvalidBaseUrl> {
        let scopes = credentials.scopes().to_vec();
        let transport = ReqwestTransport::new();
        let tokens = TokenSource::new(credentials, transport.clone());
        let service = M2mStack::builder(upstream.clone())
            .token_source(tokens)
            .service(AttemptTap::new(transport));
        let client = Client::from_service(base_url, service)?;
        Ok(Self {
            client,
            upstream: Some(upstream),
            scopes,
        })
    }

    /// The upstream this profile calls, whose breaker health checks report.
    pub fn upstream(mut self, upstream: Upstream) -> Self {
        self.upstream = Some(upstream);
        self
    }

    /// The client its calls use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The upstream, if known.
    pub fn upstream_ref(&self) -> Option<&Upstream> {
        self.upstream.as_ref()
    }

    /// The scopes its token asks for (empty when unknown).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// Builds a [`Gateway`].
#[derive(Debug, Default)]
pub struct GatewayBuilder {
    profiles: BTreeMap<String, Profile>,
    callers: Vec<Caller>,
    audit: Option<AuditLog>,
}

impl GatewayBuilder {
    /// Adds a credential profile named `name`.
    pub fn profile(mut self, name: impl Into<String>, profile: Profile) -> Self {
        self.profiles.insert(name.into(), profile);
        self
    }

    /// Adds a caller.
    pub fn caller(mut self, caller: Caller) -> Self {
        self.callers.push(caller);
        self
    }

    /// Where audit lines go (default: standard output).
    pub fn audit_log(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Builds the gateway.
    ///
    /// # Errors
    ///
    /// [`GatewayError`] when a caller names a profile that does not exist, or two callers have
    /// the same name.
    pub fn build(self) -> Result<Gateway, GatewayError> {
        for (index, caller) in self.callers.iter().enumerate() {
            if !self.profiles.contains_key(caller.profile()) {
                return Err(GatewayError(format!(
                    "caller `{}` names profile `{}`, which does not exist",
                    caller.name(),
                    caller.profile()
                )));
            }
            if self.callers[..index]
                .iter()
                .any(|c| c.name() == caller.name())
            {
                return Err(GatewayError(format!(
                    "caller `{}` is defined twice",
                    caller.name()
                )));
            }
        }
        Ok(Gateway {
            inner: Arc::new(Inner {
                callers: Callers::new(self.callers),
                profiles: self.profiles,
                audit: self.audit.unwrap_or_else(AuditLog::stdout),
            }),
        })
    }
}

/// A [`Gateway`] whose callers and profiles do not fit together. The message names the caller
/// and profile; fix the configuration.
#[derive(Debug)]
pub struct GatewayError(String);

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GatewayError {}
