//! `peer`: the baseline a user would write, reqwest + reqwest-middleware + reqwest-retry, with
//! the token handled as Kinde's JS management SDK does.
//!
//! The SDK (`@kinde/management-api-js`, `lib/utilities/getToken.ts`) asks for its token before
//! every request: it decodes the cached JWT without checking it, and fetches a new one with a
//! form POST (`scope` empty, `framework` headers) when there is none, when its `aud` lacks the
//! audience, or when `exp` has passed. There is no refresh margin and no single-flight: every
//! request that finds no valid token fetches one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use serde::Deserialize;

use crate::children::EmulatorChild;
use crate::drive::CallResult;
use crate::ours::PAGE_SIZE;

/// Retries reqwest-retry's transient policy makes: its documented example's value.
const MAX_RETRIES: u32 = 3;

/// The JS SDK's per-request timeout is the platform default; this bounds a stuck call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer client. Clones share the connection pool and the token.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    http: ClientWithMiddleware,
    base_url: Arc<str>,
    audience: Arc<str>,
    form: Arc<str>,
    token: Arc<Mutex<Option<CachedToken>>>,
}

#[derive(Clone, Debug)]
struct CachedToken {
    value: String,
    audiences: Vec<String>,
    expires_at_secs: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

#[derive(Deserialize)]
struct Claims {
    exp: u64,
    #[serde(default)]
    aud: Audiences,
}

#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Audiences {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Peer {
    /// A peer client for the emulator with an empty token cache.
    pub(crate) fn new(emulator: &EmulatorChild) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("peer client: {e}"))?;
        let policy = ExponentialBackoff::builder().build_with_max_retries(MAX_RETRIES);
        let http = ClientBuilder::new(client)
            .with(RetryTransientMiddleware::new_with_policy(policy))
            .build();
        let audience = format!("{}/api", emulator.base_url);
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &emulator.client_id)
            .append_pair("client_secret", &emulator.client_secret)
            .append_pair("audience", &audience)
            .append_pair("scope", "")
            .finish();
        Ok(Self {
            http,
            base_url: emulator.base_url.as_str().into(),
            audience: audience.into(),
            form: form.into(),
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// One `GET /api/v1/users?page_size=10`, the body parsed into the typed model.
    pub(crate) async fn get_users(self) -> CallResult {
        let token = self.token().await?;
        let url = format!("{}/api/v1/users?page_size={PAGE_SIZE}", self.base_url);
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|_| "transport".to_owned())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = response.bytes().await.map_err(|_| "transport".to_owned())?;
        serde_json::from_slice::<kinde_api::models::UsersResponse>(&body)
            .map(drop)
            .map_err(|_| "bad body".to_owned())
    }

    async fn token(&self) -> Result<String, String> {
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("framework", "management-api-js")
            .header("frameworkVersion", "0.19.0")
            .body(self.form.to_string())
            .send()
            .await
            .map_err(|_| "token transport".to_owned())?;
        // Like the SDK, the status is not checked: a body without a token is the error.
        let token: TokenResponse = response.json().await.map_err(|_| "token body".to_owned())?;
        let claims = decode_claims(&token.access_token).ok_or("token claims")?;
        let audiences = match claims.aud {
            Audiences::None => Vec::new(),
            Audiences::One(audience) => vec![audience],
            Audiences::Many(audiences) => audiences,
        };
        *self.token.lock().expect("not poisoned") = Some(CachedToken {
            value: token.access_token.clone(),
            audiences,
            expires_at_secs: claims.exp,
        });
        Ok(token.access_token)
    }

    fn cached(&self) -> Option<String> {
        let now_millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let cached = self.token.lock().expect("not poisoned");
        let token = cached.as_ref()?;
        let expired = u128::from(token.expires_at_secs) * 1000 < now_millis;
        let audience_ok = token.audiences.iter().any(|a| **a == *self.audience);
        (!expired && audience_ok).then(|| token.value.clone())
    }
}

/// The JWT's payload, decoded without checking the signature (as the SDK does).
fn decode_claims(jwt: &str) -> Option<Claims> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
