//! Bearer token checks for the Management API: 401 for a bad token, 403 for a missing scope.

use http::{HeaderMap, StatusCode, header};
use jsonwebtoken::{Algorithm, Validation};

use crate::context::Context;
use crate::error::ApiError;
use crate::keys::signing_key;
use crate::token::Claims;

/// The caller behind a valid token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token's claims.
    pub(crate) claims: Claims,
}

/// Why a request was not authenticated, for the 401 body.
const UNAUTHORIZED: &str = "UNAUTHORIZED";

/// The code of the 403 for a token without the operation's scope.
const FORBIDDEN: &str = "FORBIDDEN";

/// Verifies the bearer token of a Management API request.
///
/// # Errors
///
/// A 401 when the header is missing or malformed, or the token is badly signed, for another
/// issuer or audience, or expired on the emulator's clock. The [`ApiError`] carries the client id
/// (`azp`) and `jti` if the token could be read, so the log can still name the caller.
pub(crate) fn authenticate(
    context: &Context,
    headers: &HeaderMap,
) -> Result<Caller, (ApiError, Option<Box<Claims>>)> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED, message);

    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| (unauthorized("a bearer token is required"), None))?;

    let key = signing_key();
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| (unauthorized("the token is malformed"), None))?;
    if header.kid.as_deref() != Some(key.kid()) || header.alg != Algorithm::RS256 {
        return Err((
            unauthorized("the token was not signed by this issuer"),
            None,
        ));
    }

    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_audience(&[context.management_audience()]);
    validation.set_issuer(&[context.base_url.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &validation)
        .map_err(|_| (unauthorized("the token is invalid"), None))?
        .claims;

    if claims.exp <= context.clock.unix_seconds() {
        return Err((
            unauthorized("the token has expired"),
            Some(Box::new(claims)),
        ));
    }
    Ok(Caller { claims })
}

impl Caller {
    /// Checks that the token carries `scope`.
    ///
    /// # Errors
    ///
    /// A 403 naming the missing scope.
    pub(crate) fn require(&self, scope: Option<&str>) -> Result<(), ApiError> {
        let Some(scope) = scope else {
            return Ok(());
        };
        if self.claims.scp.iter().any(|granted| granted == scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            FORBIDDEN,
            format!("The access token is missing the required scope: {scope}"),
        ))
    }
}
