//! Checking a [`Config`] and building the [`Gateway`] it describes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kinde_api::Operation;
use prost::Message as _;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::stack::Upstream;

use super::{Config, ConfigError};
use crate::caller::{Allowed, ApiKeyHash, Caller};
use crate::{AuditLog, Gateway, Profile};

/// The package of the contract.
const PACKAGE: &str = "kinde.management.v1";

impl Config {
    /// Checks everything that does not need the environment.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_url("kinde.base_url", &self.kinde.base_url)?;

        for (name, profile) in &self.profiles {
            let key = |field: &str| format!("profiles.{name}.{field}");
            if profile.client_secret.is_some() {
                return Err(ConfigError::new(
                    key("client_secret"),
                    "secrets are never read from the TOML; set client_secret_env or \
                     client_secret_file",
                ));
            }
            if profile.client_id.trim().is_empty() {
                return Err(ConfigError::new(key("client_id"), "empty"));
            }
            match (&profile.client_secret_env, &profile.client_secret_file) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError::new(
                        format!("profiles.{name}"),
                        "set exactly one of client_secret_env and client_secret_file",
                    ));
                }
            }
            if let Some(base_url) = &profile.base_url {
                check_url(&key("base_url"), base_url)?;
            }
        }

        for (name, caller) in &self.callers {
            let key = |field: &str| format!("callers.{name}.{field}");
            if !self.profiles.contains_key(&caller.profile) {
                return Err(ConfigError::new(
                    key("profile"),
                    format!("no profile named `{}`", caller.profile),
                ));
            }
            if caller.api_key_sha256.is_empty() && caller.client_cert_subject.is_empty() {
                return Err(ConfigError::new(
                    format!("callers.{name}"),
                    "no api_key_sha256 and no client_cert_subject: it could never authenticate",
                ));
            }
            for (index, hash) in caller.api_key_sha256.iter().enumerate() {
                ApiKeyHash::from_hex(hash).map_err(|e| {
                    ConfigError::new(format!("{}[{index}]", key("api_key_sha256")), e.to_string())
                })?;
            }
            for (index, entry) in caller.allow.iter().enumerate() {
                let key = format!("{}[{index}]", key("allow"));
                let allowed = Allowed::parse(entry).map_err(|e| ConfigError::new(&key, e))?;
                if !rpcs().iter().any(|rpc| allowed.allows(rpc)) {
                    return Err(ConfigError::new(key, format!("`{entry}` matches no RPC")));
                }
            }
            if caller.max_in_flight == Some(0) {
                return Err(ConfigError::new(key("max_in_flight"), "must be at least 1"));
            }
        }
        Ok(())
    }

    /// Builds the gateway: resolves each profile's secret with `lookup` (an environment) or
    /// from its file, and makes one upstream per Kinde business, shared by its profiles.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key: a secret variable that is unset, a secret file that
    /// cannot be read, credentials the token layer refuses, an audit file that cannot be
    /// opened.
    pub fn gateway(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<Gateway, ConfigError> {
        let mut upstreams: BTreeMap<String, Upstream> = BTreeMap::new();
        let mut builder = Gateway::builder();

        for (name, profile) in &self.profiles {
            let key = |field: &str| format!("profiles.{name}.{field}");
            let secret = match (&profile.client_secret_env, &profile.client_secret_file) {
                (Some(variable), _) => lookup(variable)
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(
                            key("client_secret_env"),
                            format!("the variable {variable} is not set"),
                        )
                    })?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| {
                        ConfigError::new(
                            key("client_secret_file"),
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?,
                (None, None) => unreachable!("validated"),
            };
            let base_url = profile
                .base_url
                .as_deref()
                .unwrap_or(&self.kinde.base_url)
                .trim_end_matches('/')
                .to_owned();
            let upstream = upstreams
                .entry(base_url.clone())
                .or_insert_with(|| Upstream::new(base_url.clone()))
                .clone();

            let mut credentials = KindeCredentials::new()
                .domain(base_url.clone())
                .client_id(profile.client_id.clone())
                .client_secret(secret)
                .scopes(profile.scopes.iter().cloned());
            if let Some(audience) = &profile.audience {
                credentials = credentials.audience(audience.clone());
            }
            let credentials = credentials
                .build()
                .map_err(|e| ConfigError::new(format!("profiles.{name}"), e.to_string()))?;
            let built = Profile::kinde(&base_url, credentials, upstream)
                .map_err(|e| ConfigError::new(key("base_url"), e.to_string()))?;
            builder = builder.profile(name.clone(), built);
        }

        for (name, config) in &self.callers {
            let mut caller = Caller::new(name.clone(), config.profile.clone());
            for hash in &config.api_key_sha256 {
                caller = caller.api_key_hash(ApiKeyHash::from_hex(hash).expect("validated"));
            }
            for subject in &config.client_cert_subject {
                caller = caller.certificate_subject(subject.clone());
            }
            for entry in &config.allow {
                caller = caller.allowed(Allowed::parse(entry).expect("validated"));
            }
            if let Some(max) = config.max_in_flight {
                caller = caller.max_in_flight(max);
            }
            builder = builder.caller(caller);
        }

        let audit = match self.audit_log.as_str() {
            "stdout" => AuditLog::stdout(),
            path => AuditLog::file(std::path::Path::new(path))
                .map_err(|e| ConfigError::new("audit_log", format!("cannot open {path}: {e}")))?,
        };
        builder
            .audit_log(audit)
            .build()
            .map_err(|e| ConfigError::new("callers", e.to_string()))
    }
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ConfigError::new(key, "not a URL"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(ConfigError::new(
            key,
            "not an http or https URL with a host",
        )),
    }
}

/// Every RPC of the contract, as `kinde.management.v1.Service/Method`, read from the compiled
/// descriptor set.
pub(crate) fn rpcs() -> &'static [String] {
    static RPCS: OnceLock<Vec<String>> = OnceLock::new();
    RPCS.get_or_init(|| {
        let set = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
            .expect("the build script encodes a valid descriptor set");
        let mut rpcs = Vec::new();
        for file in set.file.iter().filter(|f| f.package() == PACKAGE) {
            for service in &file.service {
                for method in &service.method {
                    rpcs.push(format!("{PACKAGE}.{}/{}", service.name(), method.name()));
                }
            }
        }
        rpcs.sort();
        rpcs
    })
}

/// The Kinde operation behind an RPC (`Service/StreamGetUsers` and `Service/GetUsers` both
/// call `getUsers`), matched by name as the generator derives RPC names from operation ids.
pub(crate) fn operation_of(rpc: &str) -> Option<&'static Operation> {
    let method = rpc.rsplit('/').next()?;
    let normalize = |s: &str| s.to_ascii_lowercase().replace('_', "");
    let wanted = normalize(method);
    let find = |name: &str| {
        kinde_api::OPERATIONS
            .iter()
            .find(|op| normalize(op.id) == name)
    };
    find(&wanted).or_else(|| wanted.strip_prefix("stream").and_then(find))
}

/// An allowed RPC whose Kinde scope the caller's profile does not ask for: the call would be
/// refused by Kinde with 403.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeGap {
    /// The caller.
    pub caller: String,
    /// The profile.
    pub profile: String,
    /// The RPC, `package.Service/Method`.
    pub rpc: String,
    /// The scope the operation needs.
    pub scope: &'static str,
}

/// Every allowed RPC of every caller whose required scope its profile lacks.
pub fn scope_gaps(config: &Config) -> Vec<ScopeGap> {
    let mut gaps = Vec::new();
    for (name, caller) in &config.callers {
        let Some(profile) = config.profiles.get(&caller.profile) else {
            continue;
        };
        let allowed: Vec<Allowed> = caller
            .allow
            .iter()
            .filter_map(|entry| Allowed::parse(entry).ok())
            .collect();
        for rpc in rpcs() {
            if !allowed.iter().any(|entry| entry.allows(rpc)) {
                continue;
            }
            let Some(scope) = operation_of(rpc).and_then(|op| op.scope) else {
                continue;
            };
            if !profile.scopes.iter().any(|s| s == scope) {
                gaps.push(ScopeGap {
                    caller: name.clone(),
                    profile: caller.profile.clone(),
                    rpc: rpc.clone(),
                    scope,
                });
            }
        }
    }
    gaps
}

#[cfg(test)]
mod tests;
