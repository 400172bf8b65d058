//! An axum service whose handlers call Kinde directly, through the `tower-m2m` stack, with no
//! gateway: the layer composed into an existing application.
//!
//! Inbound, `InboundCorrelationLayer` keeps the caller's `x-request-id` (or mints one) and
//! echoes it; the handler hands that id to the Kinde client, whose stack sends it on every
//! attempt to Kinde. One request id then finds the call in this service's logs, in Kinde's,
//! and in the answer the caller got.
//!
//! ```sh
//! # Against a real business (see docs/real-kinde.md for the M2M application):
//! export KINDE_DOMAIN=https://mybusiness.kinde.com
//! export KINDE_MANAGEMENT_CLIENT_ID=... KINDE_MANAGEMENT_CLIENT_SECRET=...
//! cargo run -p examples --bin axum_outbound            # serves 127.0.0.1:3000
//! curl -H 'x-request-id: my-id-1' http://127.0.0.1:3000/users
//!
//! # Against the emulator that `kinde-gateway --emulator` prints ("emulator base_url: ..."),
//! # whose demo credentials are used when none are set; --once serves, calls itself once,
//! # prints the answer and exits:
//! cargo run -p examples --bin axum_outbound -- --kinde-domain http://127.0.0.1:PORT --once
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use clap::Parser;
use examples::Failure;
use kinde_management::Client;
use kinde_management::params::{GetOrganizationsParams, GetUsersParams};
use tower_http::request_id::RequestId;
use tower_m2m::correlation::InboundCorrelationLayer;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::transport::ReqwestTransport;

/// The request id `--once` sends, so that it can be found in Kinde's request log.
const ONCE_REQUEST_ID: &str = "axum-outbound-once-1";

/// The client id variable Kinde's management SDKs read.
const CLIENT_ID_VAR: &str = "KINDE_MANAGEMENT_CLIENT_ID";

/// The client secret variable Kinde's management SDKs read.
const CLIENT_SECRET_VAR: &str = "KINDE_MANAGEMENT_CLIENT_SECRET";

/// Serve an axum application that calls Kinde through the tower-m2m stack.
#[derive(Debug, Parser)]
struct Args {
    /// The Kinde business (https://mybusiness.kinde.com) or the emulator's base URL.
    #[arg(long, env = "KINDE_DOMAIN")]
    kinde_domain: String,
    /// Where to serve.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Serve on a free loopback port, call GET /users once with a request id, print the
    /// answer and exit.
    #[arg(long)]
    once: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::exit_code(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let kinde = kinde_client(&args.kinde_domain)?;
    let app = Router::new()
        .route("/users", get(users))
        .route("/organizations", get(organizations))
        .with_state(kinde)
        .layer(InboundCorrelationLayer::new());

    let listen = if args.once {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        args.listen
    };
    let doing = format!("listen on {listen}");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::new(&doing, e))?;
    let address = listener.local_addr().map_err(|e| Failure::new(&doing, e))?;
    let server = async move { axum::serve(listener, app).await };

    if !args.once {
        println!("serving http://{address} (GET /users, GET /organizations); Ctrl-C stops");
        return tokio::select! {
            served = server => served.map_err(|e| Failure::new("serve", e)),
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
    }
    tokio::select! {
        served = server => served.map_err(|e| Failure::new("serve", e)),
        called = call_once(address) => called,
    }
}

/// The typed Kinde client over the `tower-m2m` stack: the credentials from the environment
/// variables Kinde's SDKs read, or the emulator's demo credentials for a loopback `http` URL.
fn kinde_client(domain: &str) -> Result<Client, Failure> {
    let doing = "configure the Kinde client";
    let (client_id, client_secret) = match (
        std::env::var(CLIENT_ID_VAR),
        std::env::var(CLIENT_SECRET_VAR),
    ) {
        (Ok(id), Ok(secret)) => (id, secret),
        _ if is_loopback_http(domain) => (
            kinde_emulator::DEMO_CLIENT_ID.to_owned(),
            kinde_emulator::DEMO_CLIENT_SECRET.to_owned(),
        ),
        _ => {
            let reason = format!("set {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR}");
            return Err(Failure::new(doing, reason));
        }
    };
    let credentials = KindeCredentials::new()
        .domain(domain)
        .client_id(client_id)
        .client_secret(client_secret)
        .build()
        .map_err(|e| Failure::new(doing, e))?;

    // One upstream per Kinde business: its rate limit, concurrency bound, breaker and retry
    // budget are shared by every stack that calls it.
    let upstream = Upstream::builder("kinde")
        .max_in_flight(8)
        .build()
        .map_err(|e| Failure::new(doing, e))?;
    let transport = ReqwestTransport::new();
    let stack = M2mStack::builder(upstream)
        .max_attempts(3)
        .attempt_timeout(Duration::from_secs(5))
        .credentials(credentials, transport.clone())
        .service(transport);
    Client::from_service(domain, stack).map_err(|e| Failure::new(doing, e))
}

fn is_loopback_http(domain: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|prefix| domain.starts_with(prefix))
}

/// `GET /users`: the first page of users, one line each, and the request id.
async fn users(
    State(kinde): State<Client>,
    Extension(request_id): Extension<RequestId>,
) -> (StatusCode, String) {
    let id = id_text(&request_id);
    let kinde = kinde.with_extension(request_id);
    match kinde.get_users(&GetUsersParams::default()).await {
        Ok(page) => {
            let users = page.users.unwrap_or_default();
            let mut body = format!("{} users (request id {id})\n", users.len());
            for user in users {
                body.push_str(&describe(user));
                body.push('\n');
            }
            (StatusCode::OK, body)
        }
        Err(error) => failed(&error, &id),
    }
}

/// `GET /organizations`: the first page of organizations, one line each.
async fn organizations(
    State(kinde): State<Client>,
    Extension(request_id): Extension<RequestId>,
) -> (StatusCode, String) {
    let id = id_text(&request_id);
    let kinde = kinde.with_extension(request_id);
    match kinde
        .get_organizations(&GetOrganizationsParams::default())
        .await
    {
        Ok(page) => {
            let organizations = page.organizations.unwrap_or_default();
            let mut body = format!("{} organizations (request id {id})\n", organizations.len());
            for organization in organizations {
                let code = organization.code.unwrap_or_default();
                let name = organization.name.unwrap_or_default();
                body.push_str(&format!("{code}  {name}\n"));
            }
            (StatusCode::OK, body)
        }
        Err(error) => failed(&error, &id),
    }
}

/// A user as its email, else its name, else its id.
fn describe(user: kinde_api::models::UsersResponseUser) -> String {
    let name = [user.first_name, user.last_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    user.email
        .or((!name.is_empty()).then_some(name))
        .or(user.id)
        .unwrap_or_else(|| "(unnamed)".to_owned())
}

/// A failed Kinde call as a 502 with one line: what Kinde said and the request id.
fn failed(error: &kinde_management::Error, id: &str) -> (StatusCode, String) {
    (
        StatusCode::BAD_GATEWAY,
        format!("kinde: {error} (request id {id})\n"),
    )
}

fn id_text(request_id: &RequestId) -> String {
    request_id
        .header_value()
        .to_str()
        .unwrap_or("(not text)")
        .to_owned()
}

/// `--once`: calls this service's `GET /users` with [`ONCE_REQUEST_ID`] and prints the answer.
async fn call_once(address: SocketAddr) -> Result<(), Failure> {
    let url = format!("http://{address}/users");
    let doing = format!("GET {url}");
    let response = reqwest::Client::new()
        .get(&url)
        .header("x-request-id", ONCE_REQUEST_ID)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| Failure::call(&doing, ONCE_REQUEST_ID, e))?;
    let status = response.status();
    let echoed = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("(none)")
        .to_owned();
    let body = response
        .text()
        .await
        .map_err(|e| Failure::call(&doing, ONCE_REQUEST_ID, e))?;

    println!("GET /users -> {status}, x-request-id echoed: {echoed}");
    print!("{body}");
    if !status.is_success() {
        let reason = body.lines().next().unwrap_or_default().to_owned();
        return Err(Failure::call(&doing, ONCE_REQUEST_ID, reason));
    }
    Ok(())
}
