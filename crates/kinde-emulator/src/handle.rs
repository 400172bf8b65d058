//! [`Emulator`]: a running emulator on a socket.

use std::fmt;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::builder::EmulatorBuilder;
use crate::endpoints::Endpoints;

/// A running emulator. Dropping it stops the server; [`shutdown`](Self::shutdown) also waits
/// for in-flight requests to finish.
pub struct Emulator {
    address: SocketAddr,
    endpoints: Endpoints,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.endpoints.base_url())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, the demo application, one-hour tokens.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    pub(crate) fn serve(
        listener: TcpListener,
        address: SocketAddr,
        endpoints: Endpoints,
        router: Router,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::debug!(error = %error, "emulator server stopped with an error");
            }
        });
        Self {
            address,
            endpoints,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://<bound address>`, without a trailing slash: the token issuer (`iss`).
    pub fn base_url(&self) -> &str {
        self.endpoints.base_url()
    }

    /// `<base URL>/oauth2/token`.
    pub fn token_url(&self) -> String {
        self.endpoints.token_url()
    }

    /// The Management API audience, `<base URL>/api`.
    pub fn api_audience(&self) -> String {
        self.endpoints.api_audience()
    }

    /// The issuer's JWK Set, as served at `/.well-known/jwks`.
    pub fn jwks(&self) -> serde_json::Value {
        self.endpoints.jwks()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
