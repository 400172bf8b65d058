//! The control API under `/_emulator`, for tests and benchmarks.
//!
//! It needs no token: the emulator is a local test double. It is never under `/api`, so a client
//! of the Management API cannot reach it by accident.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;

use crate::context::Context;
use crate::error::{ApiError, json_response};
use crate::faults::{FaultState, Faults};
use crate::keys::signing_key;

/// `GET /_emulator/stats`: request counters.
pub(crate) async fn stats(State(context): State<Arc<Context>>) -> Response {
    json_response(StatusCode::OK, &context.log().stats())
}

/// `GET /_emulator/requests`: the recorded requests, oldest first.
pub(crate) async fn requests(State(context): State<Arc<Context>>) -> Response {
    json_response(StatusCode::OK, &context.log().requests())
}

/// `GET /_emulator/state`: the stateful resources.
pub(crate) async fn state(State(context): State<Arc<Context>>) -> Response {
    json_response(StatusCode::OK, &*context.store())
}

/// `POST /_emulator/reset`: fresh state, zeroed counters, an empty log.
pub(crate) async fn reset(State(context): State<Arc<Context>>) -> Response {
    context.reset();
    json_response(StatusCode::OK, &serde_json::json!({ "reset": true }))
}

/// `GET /_emulator/faults`: the faults in force.
pub(crate) async fn faults(State(context): State<Arc<Context>>) -> Response {
    json_response(StatusCode::OK, context.faults().faults())
}

/// `PUT /_emulator/faults`: replaces the faults in force with a JSON [`Faults`].
pub(crate) async fn set_faults(State(context): State<Arc<Context>>, body: Bytes) -> Response {
    let faults = serde_json::from_slice::<Faults>(&body)
        .map_err(|error| error.to_string())
        .and_then(|faults| faults.validate().map(|()| faults));
    match faults {
        Ok(faults) => {
            *context.faults() = FaultState::new(faults);
            json_response(StatusCode::OK, context.faults().faults())
        }
        Err(message) => ApiError::bad_request("INVALID_FAULTS", message).into_response(),
    }
}

/// `GET /.well-known/jwks` and `/.well-known/jwks.json`.
pub(crate) async fn jwks() -> Response {
    json_response(StatusCode::OK, &signing_key().jwks())
}

/// `GET /.well-known/openid-configuration`: the parts of discovery a machine client uses.
pub(crate) async fn discovery(State(context): State<Arc<Context>>) -> Response {
    let base = &context.base_url;
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": base,
            "token_endpoint": format!("{base}/oauth2/token"),
            "jwks_uri": format!("{base}/.well-known/jwks"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
        }),
    )
}
