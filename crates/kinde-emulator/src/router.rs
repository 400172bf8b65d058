//! The emulator's routes, shared by the socket server and the in-memory service.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::context::Context;
use crate::{api, control, faults, record, token};

/// Every route of one emulated business.
pub(crate) fn router(context: Arc<Context>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token::issue))
        .route("/.well-known/jwks", get(control::jwks))
        .route("/.well-known/jwks.json", get(control::jwks))
        .route("/.well-known/openid-configuration", get(control::discovery))
        .route("/_emulator/stats", get(control::stats))
        .route("/_emulator/requests", get(control::requests))
        .route("/_emulator/state", get(control::state))
        .route("/_emulator/reset", post(control::reset))
        .route(
            "/_emulator/faults",
            get(control::faults).put(control::set_faults),
        )
        .fallback(api::handle)
        .layer(from_fn_with_state(context.clone(), faults::inject))
        .layer(from_fn_with_state(context.clone(), record::record))
        .with_state(context)
}
