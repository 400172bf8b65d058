//! [`EmulatorBuilder`]: configure an emulator, then start it on a socket or use it in memory.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::application::Application;
use crate::clock::Clock;
use crate::config::Config;
use crate::context::{Context, Settings};
use crate::endpoints::Endpoints;
use crate::faults::Faults;
use crate::handle::Emulator;
use crate::router::router;
use crate::service::EmulatorService;
use crate::tls::Tls;

/// The token lifetime unless configured: Kinde's default of one hour (`expires_in: 3600`).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The largest `page_size` unless configured: the maximum Kinde's rate-limit docs state.
pub const DEFAULT_PAGE_SIZE_LIMIT: u32 = 500;

/// The largest request body unless configured. Kinde's bulk endpoints take at most 100 objects,
/// which fit well inside 1 MiB; anything larger is a mistake or an attack.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The base URL of an in-memory service unless configured. It is never resolved: requests go
/// straight to the service, so only the issuer and audience it names matter. It is a loopback
/// name because clients (tower-m2m among them) refuse to send a client secret over plain `http`
/// to anything else.
pub const DEFAULT_IN_MEMORY_BASE_URL: &str = "http://localhost";

/// Configures an emulator. Made by [`Emulator::builder`].
///
/// The demo application ([`DEMO_CLIENT_ID`](crate::DEMO_CLIENT_ID)) is enabled unless
/// [`demo_application(false)`](Self::demo_application) turns it off; while it is enabled the
/// emulator only listens on loopback addresses.
#[derive(Clone)]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    base_url: Option<String>,
    demo_application: bool,
    applications: Vec<Application>,
    settings: Settings,
    faults: Faults,
    tls: bool,
    ca_certificate_path: Option<PathBuf>,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("demo_application", &self.demo_application)
            .field("applications", &self.applications)
            .field("settings", &self.settings)
            .field("faults", &self.faults)
            .field("tls", &self.tls)
            .field("ca_certificate_path", &self.ca_certificate_path)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            base_url: None,
            demo_application: true,
            applications: Vec::new(),
            settings: Settings {
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                page_size_limit: DEFAULT_PAGE_SIZE_LIMIT,
                body_limit: DEFAULT_BODY_LIMIT,
            },
            faults: Faults::default(),
            tls: false,
            ca_certificate_path: None,
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// The base URL of an in-memory service (default [`DEFAULT_IN_MEMORY_BASE_URL`]). A started
    /// emulator's base URL is always `http://<bound address>`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Whether the demo application exists (default `true`).
    pub fn demo_application(mut self, enabled: bool) -> Self {
        self.demo_application = enabled;
        self
    }

    /// Adds an application.
    pub fn application(mut self, application: Application) -> Self {
        self.applications.push(application);
        self
    }

    /// The lifetime of issued tokens (default [`DEFAULT_TOKEN_LIFETIME`]; whole seconds).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.token_lifetime = lifetime;
        self
    }

    /// The largest `page_size` accepted (default [`DEFAULT_PAGE_SIZE_LIMIT`]); larger ones get
    /// `PAGE_SIZE_LIMIT_EXCEEDED`.
    pub fn page_size_limit(mut self, limit: u32) -> Self {
        self.settings.page_size_limit = limit.max(1);
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// Serves HTTPS with a certificate for `localhost` and the loopback addresses, signed by a CA
    /// made at start (default: plain HTTP). The CA certificate is written to a file (see
    /// [`ca_certificate_path`](Self::ca_certificate_path)) for clients to trust. Only
    /// [`start`](Self::start) uses this.
    pub fn tls(mut self, enabled: bool) -> Self {
        self.tls = enabled;
        self
    }

    /// Where [`start`](Self::start) writes the CA certificate when serving HTTPS (default: a
    /// file named after the port in the system's temporary directory).
    pub fn ca_certificate_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certificate_path = Some(path.into());
        self
    }

    /// Applies a [`Config`]: its settings, its applications (added to any already set) and its
    /// faults.
    ///
    /// # Panics
    ///
    /// As [`faults`](Self::faults); [`Config::from_toml`] has already rejected invalid faults.
    pub fn config(mut self, config: Config) -> Self {
        if let Some(seconds) = config.token_lifetime_secs {
            self = self.token_lifetime(Duration::from_secs(seconds));
        }
        if let Some(limit) = config.page_size_limit {
            self = self.page_size_limit(limit);
        }
        if let Some(bytes) = config.body_limit_bytes {
            self = self.body_limit(bytes);
        }
        if let Some(enabled) = config.demo_application {
            self = self.demo_application(enabled);
        }
        for application in &config.applications {
            self = self.application(application.to_application());
        }
        if let Some(faults) = config.faults {
            self = self.faults(faults);
        }
        self
    }

    /// The applications the emulator will know, the demo application first when enabled.
    pub fn applications(&self) -> Vec<Application> {
        let mut applications = self.applications.clone();
        if self.demo_application {
            applications.insert(0, Application::demo());
        }
        applications
    }

    /// The faults and limits in force at start (default: none). `PUT /_emulator/faults` replaces
    /// them at run time and `POST /_emulator/reset` clears them.
    ///
    /// # Panics
    ///
    /// If [`Faults::validate`] rejects them: a ratio outside 0 to 1 or an inverted latency range.
    pub fn faults(mut self, faults: Faults) -> Self {
        if let Err(problem) = faults.validate() {
            panic!("invalid faults: {problem}");
        }
        self.faults = faults;
        self
    }

    /// Binds the listen address and serves until [`Emulator::shutdown`] or drop.
    ///
    /// # Errors
    ///
    /// [`StartError::DemoOffLoopback`] when the demo application is enabled and the address is
    /// not a loopback address; [`StartError::Bind`] when the address cannot be bound;
    /// [`StartError::Tls`] when HTTPS is on and the certificate cannot be made or written.
    pub async fn start(self) -> Result<Emulator, StartError> {
        let demo = self.demo_application || self.applications.iter().any(Application::is_demo);
        if demo && !self.listen.ip().is_loopback() {
            return Err(StartError::DemoOffLoopback(self.listen));
        }
        let listener = bind(self.listen).map_err(StartError::Bind)?;
        let address = listener.local_addr().map_err(StartError::Bind)?;
        let tls = if self.tls {
            let material = Tls::generate(address.ip()).map_err(StartError::Tls)?;
            let path = self.ca_certificate_path.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("kinde-emulator-ca-{}.pem", address.port()))
            });
            std::fs::write(&path, &material.ca_pem).map_err(|error| {
                StartError::Tls(format!("cannot write {}: {error}", path.display()))
            })?;
            Some((material.acceptor, material.ca_pem, path))
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{address}");

        let router = router(self.context(base_url.clone()));
        Ok(Emulator::serve(
            listener,
            address,
            Endpoints::new(base_url),
            router,
            tls,
        ))
    }

    /// The emulator as an in-memory service, without a socket.
    pub fn build_service(self) -> EmulatorService {
        let base_url = self
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_IN_MEMORY_BASE_URL.to_owned());
        let router = router(self.context(base_url.clone()));
        EmulatorService::new(router, Endpoints::new(base_url))
    }

    fn context(self, base_url: String) -> Arc<Context> {
        let applications = self.applications();
        Arc::new(Context::new(
            base_url,
            self.settings,
            applications,
            self.faults,
            Clock::new(),
        ))
    }
}

/// Why an emulator could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The demo credentials are enabled and the address is not loopback. Listen on a loopback
    /// address, or turn the demo application off and configure your own.
    DemoOffLoopback(SocketAddr),
    /// The address could not be bound (in use, or not permitted).
    Bind(std::io::Error),
    /// HTTPS was asked for and the certificate could not be made or its CA written out; the
    /// message says which. Check that the CA path is writable.
    Tls(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DemoOffLoopback(address) => write!(
                f,
                "demo credentials are only served on loopback, not on {address}"
            ),
            Self::Bind(_) => f.write_str("cannot bind the listen address"),
            Self::Tls(problem) => write!(f, "cannot serve HTTPS: {problem}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind(error) => Some(error),
            Self::DemoOffLoopback(_) | Self::Tls(_) => None,
        }
    }
}

/// Connections the kernel queues before the emulator accepts them: room for a benchmark's burst
/// of thousands of first calls, which would overflow tokio's default of 1,024 and wait for SYN
/// retransmits (1 s, then 3 s). The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 16_384;

/// Binds `address` as `tokio::net::TcpListener::bind` does, with [`LISTEN_BACKLOG`].
fn bind(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}
