//! [`Emulator`]: a running emulator on a socket.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::builder::EmulatorBuilder;
use crate::endpoints::Endpoints;
use crate::faults::CloseConnection;

/// How long [`Emulator::shutdown`] waits for in-flight requests before closing their
/// connections. Emulated requests finish in microseconds unless latency is injected.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running emulator. Dropping it stops accepting connections; [`shutdown`](Self::shutdown)
/// also waits for in-flight requests to finish.
pub struct Emulator {
    address: SocketAddr,
    endpoints: Endpoints,
    ca_certificate: Option<(String, PathBuf)>,
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
        tls: Option<(TlsAcceptor, String, PathBuf)>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (acceptor, ca_certificate) = match tls {
            Some((acceptor, pem, path)) => (Some(acceptor), Some((pem, path))),
            None => (None, None),
        };
        let server = tokio::spawn(accept_loop(listener, router, acceptor, stopped));
        Self {
            address,
            endpoints,
            ca_certificate,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://<bound address>` (`https://` with TLS), without a trailing slash: the token issuer
    /// (`iss`).
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

    /// The CA certificate (PEM) that signed the server certificate, when serving HTTPS.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_certificate.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// Where the CA certificate was written, when serving HTTPS.
    pub fn ca_certificate_path(&self) -> Option<&Path> {
        self.ca_certificate.as_ref().map(|(_, path)| path.as_path())
    }

    /// Stops accepting connections and waits (a few seconds at most) for in-flight requests.
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

/// Accepts connections until told to stop, then drains them.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let router = router.clone();
                    let watcher = graceful.watcher();
                    match tls.clone() {
                        None => {
                            tokio::spawn(serve_connection(stream, router, watcher));
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                match acceptor.accept(stream).await {
                                    Ok(stream) => serve_connection(stream, router, watcher).await,
                                    Err(error) => {
                                        tracing::debug!(error = %error, "TLS handshake failed");
                                    }
                                }
                            });
                        }
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Serves one HTTP/1.1 connection. A response marked [`CloseConnection`] is never written: the
/// connection is dropped instead, as a crashed or partitioned server would.
async fn serve_connection<I>(stream: I, router: Router, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let close = Arc::new(Notify::new());
    let closer = Arc::clone(&close);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let closer = Arc::clone(&closer);
        async move {
            let response = router
                .oneshot(request.map(axum::body::Body::new))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if response.extensions().get::<CloseConnection>().is_some() {
                closer.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(response)
        }
    });

    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let connection = watcher.watch(connection);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::trace!(error = %error, "connection ended with an error");
            }
        }
        () = close.notified() => tracing::trace!("connection closed by an injected fault"),
    }
}
