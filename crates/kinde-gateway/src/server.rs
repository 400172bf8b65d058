//! The tonic server: every Kinde service, health, reflection, TLS, and graceful shutdown.
//!
//! - **Health** (`grpc.health.v1`): the overall service `""` is `SERVING` until shutdown
//!   starts; each credential profile has a service named [`profile_health_name`]
//!   (`profile/<name>`), `NOT_SERVING` while the breaker of the upstream it calls is open (or
//!   half-open), `SERVING` otherwise.
//! - **Reflection**: both `grpc.reflection.v1` and `v1alpha`, from the compiled descriptor set.
//! - **Connections**: `TCP_NODELAY`, HTTP/2 keepalive pings, and a maximum connection age after
//!   which clients are asked to reconnect, so long-lived clients spread over replicas.
//! - **Audit of early answers**: calls tonic answers before the gateway reads them (a message
//!   that does not decode or is over 4 MiB, an expired deadline) get an audit line too
//!   ([`audit`](crate::audit), the fallback layer).
//! - **Shutdown**: when the shutdown future completes, the server stops accepting, reports
//!   `NOT_SERVING`, and lets in-flight calls finish for at most the drain timeout.
//!
//! # Notes
//!
//! A breaker turns half-open on the next call after its open period, not on a timer, so a
//! profile stays `NOT_SERVING` until a call probes the upstream.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_m2m::breaker::CircuitState;

use crate::Gateway;
use crate::audit::FallbackLayer;
use crate::config::{ServerConfig, TlsConfig};

/// The health service name of a credential profile: `profile/<name>`.
pub fn profile_health_name(profile: &str) -> String {
    format!("profile/{profile}")
}

/// How a server is run.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Keepalive, connection age and drain settings.
    pub server: ServerConfig,
    /// TLS, or plaintext when `None`.
    pub tls: Option<TlsConfig>,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub struct ServeError(String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Serves `gateway` on `listener` until `shutdown` completes, then drains. See the [module
/// docs](self).
///
/// # Errors
///
/// [`ServeError`] when the TLS files cannot be read or used, or the server fails.
pub async fn serve(
    gateway: Gateway,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let mut watchers = watch_breakers(&gateway, &reporter).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServeError(format!("reflection: {e}")))?;

    let routes = crate::routes::kinde(&gateway, Routes::new(health))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let settings = &options.server;
    let mut server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(settings.keepalive_interval()))
        .http2_keepalive_timeout(Some(settings.keepalive_timeout()))
        .max_connection_age(settings.max_connection_age());
    if let Some(tls) = &options.tls {
        server = server
            .tls_config(tls_config(tls)?)
            .map_err(|e| ServeError(format!("tls: {e}")))?;
    }

    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown_reporter = reporter.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, draining in-flight calls");
        shutdown_reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let _ = draining_tx.send(());
    };
    // An incoming stream of our own ignores the builder's `tcp_nodelay`, so it is set here:
    // with Nagle's algorithm on, a response's trailers wait for the client's delayed ACK
    // (40 ms on Linux) and every unary call at low concurrency takes that long.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let serving = server
        .layer(FallbackLayer::new(gateway.clone()))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, signal);

    let drain = settings.drain_timeout();
    let result = tokio::select! {
        result = serving => result.map_err(|e| ServeError(format!("server: {e}"))),
        () = drain_bound(draining_rx, drain) => {
            tracing::warn!(drain_timeout_ms = drain.as_millis() as u64, "drain timeout; closing remaining calls");
            Ok(())
        }
    };
    watchers.shutdown().await;
    result
}

/// Completes `drain` after draining starts; never if it does not.
async fn drain_bound(draining: tokio::sync::oneshot::Receiver<()>, drain: Duration) {
    if draining.await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(drain).await;
}

/// Keeps each profile's health in step with its upstream's breaker.
async fn watch_breakers(gateway: &Gateway, reporter: &HealthReporter) -> JoinSet<()> {
    let mut watchers = JoinSet::new();
    for (name, profile) in gateway.profiles() {
        let service = profile_health_name(name);
        let Some(upstream) = profile.upstream_ref() else {
            reporter
                .set_service_status(&service, ServingStatus::Serving)
                .await;
            continue;
        };
        let mut states = upstream.breaker().subscribe();
        let reporter = reporter.clone();
        watchers.spawn(async move {
            loop {
                let state = *states.borrow_and_update();
                let status = match state {
                    CircuitState::Closed => ServingStatus::Serving,
                    CircuitState::Open | CircuitState::HalfOpen => ServingStatus::NotServing,
                };
                reporter.set_service_status(&service, status).await;
                if states.changed().await.is_err() {
                    break;
                }
            }
        });
        // The first status is set before serving starts.
        tokio::task::yield_now().await;
    }
    watchers
}

fn tls_config(tls: &TlsConfig) -> Result<ServerTlsConfig, ServeError> {
    let read = |path: &std::path::Path, key: &str| {
        std::fs::read(path).map_err(|e| ServeError(format!("tls.{key}: {}: {e}", path.display())))
    };
    let identity = Identity::from_pem(
        read(&tls.cert_file, "cert_file")?,
        read(&tls.key_file, "key_file")?,
    );
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &tls.client_ca_file {
        // Optional: callers with API keys need no certificate; those without one and without a
        // key are refused as unauthenticated.
        config = config
            .client_ca_root(Certificate::from_pem(read(ca, "client_ca_file")?))
            .client_auth_optional(true);
    }
    Ok(config)
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
