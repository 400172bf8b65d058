//! `POST /oauth2/token`: the client-credentials grant, with Kinde's claims and error codes.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::application::Application;
use crate::context::Context;
use crate::error::{OAuthError, json_response};
use crate::keys::signing_key;
use crate::record::RecordInfo;

/// The claims of an M2M access token, as Kinde issues them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The issuer: the base URL without a trailing slash.
    pub(crate) iss: String,
    /// The audiences asked for.
    pub(crate) aud: Vec<String>,
    /// The client id.
    pub(crate) azp: String,
    /// The grant types: `["client_credentials"]`.
    pub(crate) gty: Vec<String>,
    /// The granted scopes, space-separated.
    pub(crate) scope: String,
    /// The granted scopes, as a list.
    pub(crate) scp: Vec<String>,
    /// Expiry, Unix seconds.
    pub(crate) exp: u64,
    /// Issued at, Unix seconds.
    pub(crate) iat: u64,
    /// The token id.
    pub(crate) jti: String,
    /// The token format version, `"2"`.
    pub(crate) v: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// The form of a token request, with the client authenticated.
struct TokenRequest<'a> {
    application: &'a Application,
    audiences: Vec<String>,
    scope: Option<String>,
}

/// Handles `POST /oauth2/token`.
pub(crate) async fn issue(
    State(context): State<Arc<Context>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match authorize(&context, &headers, &body) {
        Ok(request) => {
            let client_id = request.application.client_id().to_owned();
            let (claims, response) = grant(&context, request);
            tracing::trace!(
                emulator.client_id = client_id.as_str(),
                emulator.jti = claims.jti.as_str(),
                "token issued"
            );
            let mut response = response.into_response();
            response.extensions_mut().insert(RecordInfo {
                operation_id: None,
                client_id: Some(client_id),
                jti: Some(claims.jti),
            });
            response
        }
        Err((error, client_id)) => {
            tracing::debug!(
                emulator.error = error.code(),
                emulator.client_id = client_id.as_deref(),
                "token request rejected"
            );
            let mut response = error.into_response();
            response.extensions_mut().insert(RecordInfo {
                operation_id: None,
                client_id,
                jti: None,
            });
            response
        }
    }
}

type Rejection = (OAuthError, Option<String>);

/// Checks the request: content type, grant type, client, audiences and scopes.
fn authorize<'a>(
    context: &'a Context,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenRequest<'a>, Rejection> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err((
            OAuthError::invalid_request(
                "the content type must be application/x-www-form-urlencoded",
            ),
            None,
        ));
    }

    let form = Form::parse(body);
    match form.first("grant_type") {
        None => {
            return Err((
                OAuthError::invalid_request("the grant_type parameter is missing"),
                None,
            ));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err((
                OAuthError::unsupported_grant_type("only client_credentials is supported"),
                None,
            ));
        }
    }

    let (client_id, secret) = client_credentials(headers, &form).ok_or((
        OAuthError::invalid_client("client authentication failed"),
        None,
    ))?;
    let application = context
        .application(&client_id)
        .filter(|app| app.secret_matches(&secret))
        .ok_or_else(|| {
            (
                OAuthError::invalid_client("client authentication failed"),
                Some(client_id.clone()),
            )
        })?;
    let reject = |error| (error, Some(client_id.clone()));

    let audiences: Vec<String> = form.all("audience").map(str::to_owned).collect();
    if audiences.is_empty() {
        return Err(reject(OAuthError::invalid_request(
            "the audience parameter is missing",
        )));
    }
    let management = context.management_audience();
    if !audiences
        .iter()
        .all(|audience| application.authorized_for(audience, &management))
    {
        return Err(reject(OAuthError::unauthorized_client(
            "the application is not authorized for the requested audience",
        )));
    }

    let scope = form.first("scope").map(str::to_owned);
    if let Some(scope) = &scope {
        let granted = application.granted_scopes();
        if !scope
            .split_whitespace()
            .all(|wanted| granted.iter().any(|scope| scope == wanted))
        {
            return Err(reject(OAuthError::invalid_scope(
                "a requested scope is not granted to the application",
            )));
        }
    }

    Ok(TokenRequest {
        application,
        audiences,
        scope,
    })
}

/// Signs a token for an authorized request.
fn grant(context: &Context, request: TokenRequest<'_>) -> (Claims, Response) {
    let scp: Vec<String> = match request.scope {
        Some(scope) if !scope.trim().is_empty() => {
            scope.split_whitespace().map(str::to_owned).collect()
        }
        _ => request.application.granted_scopes().to_vec(),
    };
    let iat = context.clock.unix_seconds();
    let lifetime = context.settings.token_lifetime.as_secs();
    let claims = Claims {
        iss: context.base_url.clone(),
        aud: request.audiences,
        azp: request.application.client_id().to_owned(),
        gty: vec!["client_credentials".to_owned()],
        scope: scp.join(" "),
        scp,
        exp: iat + lifetime,
        iat,
        jti: uuid::Uuid::new_v4().to_string(),
        v: "2".to_owned(),
    };

    let body = TokenResponse {
        access_token: signing_key().sign(&claims),
        token_type: "Bearer",
        expires_in: lifetime,
    };
    let mut response = json_response(StatusCode::OK, &body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    (claims, response)
}

/// The client id and secret, from HTTP Basic or else from the form.
fn client_credentials(headers: &HeaderMap, form: &Form) -> Option<(String, String)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(encoded.trim()).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (id, secret) = decoded.split_once(':')?;
            // RFC 6749 section 2.3.1: both parts are form-urlencoded before joining.
            return Some((form_decode(id), form_decode(secret)));
        }
    }

    let id = form.first("client_id")?;
    let secret = form.first("client_secret")?;
    Some((id.to_owned(), secret.to_owned()))
}

fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}

/// A parsed `application/x-www-form-urlencoded` body.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// The first non-empty value of `key`.
    fn first<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).next()
    }

    /// Every non-empty value of `key`, in order.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(name, value)| name == key && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }
}
