//! An axum service whose handlers call Kinde directly, through the `tower-m2m` stack, with no
//! gateway: the layer composed into an existing application.
//!
//! Inbound, `InboundCorrelationLayer` keeps the caller's `x-request-id` (or mints one) and
//! echoes it; the handler hands that id to the Kinde client, whose stack sends it on every
//! attempt to Kinde. One request id then finds the call in this service's logs, in Kinde's,
//! and in the answer the caller got.
//!
//! The credentials come from the variables Kinde's management SDKs read, through the
//! `tower-m2m` Kinde preset (`KindeCredentials::build_with_env`): `KINDE_DOMAIN`,
//! `KINDE_MANAGEMENT_CLIENT_ID`, `KINDE_MANAGEMENT_CLIENT_SECRET`, optionally `KINDE_AUDIENCE`
//! and `KINDE_SCOPES`. Only when none of them is set and `--kinde-domain` is a loopback URL does
//! it use the emulator's demo credentials, and it says so on standard error; they are never
//! sent anywhere else.
//!
//! ```sh
//! # Against a real business (see docs/real-kinde.md for the M2M application):
//! export KINDE_DOMAIN=https://mybusiness.kinde.com
//! export KINDE_MANAGEMENT_CLIENT_ID=... KINDE_MANAGEMENT_CLIENT_SECRET=...
//! cargo run -p examples --bin axum_outbound            # serves 127.0.0.1:3000
//! curl -H 'x-request-id: my-id-1' http://127.0.0.1:3000/users
//!
//! # Against the emulator that `kinde-gateway --emulator` prints ("emulator base_url: ..."),
//! # with no KINDE_* variable set; --once serves, calls itself once, prints the answer and
//! # exits:
//! cargo run -p examples --bin axum_outbound -- --kinde-domain http://127.0.0.1:PORT --once
//! ```

use std::net::{IpAddr, SocketAddr};
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
use tower_m2m::kinde::{self, KindeCredentials};
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::token::ClientCredentials;
use tower_m2m::transport::ReqwestTransport;

/// The request id `--once` sends, so that it can be found in Kinde's request log.
const ONCE_REQUEST_ID: &str = "axum-outbound-once-1";

/// Every variable the `tower-m2m` Kinde preset reads: when one is set, the credentials come
/// from them, and never from the emulator's demo.
const KINDE_VARIABLES: [&str; 7] = [
    kinde::ENV_DOMAIN,
    kinde::ENV_MANAGEMENT_CLIENT_ID,
    kinde::ENV_MANAGEMENT_CLIENT_SECRET,
    kinde::ENV_CLIENT_ID,
    kinde::ENV_CLIENT_SECRET,
    kinde::ENV_AUDIENCE,
    kinde::ENV_SCOPES,
];

/// What to do when no credentials are set, in one line.
const HOW_TO_CONFIGURE: &str = "set KINDE_DOMAIN, KINDE_MANAGEMENT_CLIENT_ID and \
    KINDE_MANAGEMENT_CLIENT_SECRET (docs/real-kinde.md), or pass --kinde-domain with the \
    emulator's loopback URL to use its demo credentials";

/// What to do when some of [`KINDE_VARIABLES`] are set but not enough, in one line.
const INCOMPLETE: &str = "a KINDE_* variable is set, so KINDE_DOMAIN (or --kinde-domain), \
    KINDE_MANAGEMENT_CLIENT_ID and KINDE_MANAGEMENT_CLIENT_SECRET are needed; unset them all to \
    use the emulator's demo credentials on loopback";

/// Serve an axum application that calls Kinde through the tower-m2m stack.
#[derive(Debug, Parser)]
struct Args {
    /// The Kinde business (https://mybusiness.kinde.com) or the emulator's base URL
    /// [default: $KINDE_DOMAIN].
    #[arg(long)]
    kinde_domain: Option<String>,
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
    let kinde = kinde_client(args.kinde_domain.as_deref())?;
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

/// The typed Kinde client over the `tower-m2m` stack, with the credentials of [`kinde_credentials`].
fn kinde_client(domain: Option<&str>) -> Result<Client, Failure> {
    let doing = "configure the Kinde client";
    let (credentials, demo) = kinde_credentials(domain, |name| std::env::var(name).ok())
        .map_err(|e| Failure::new(doing, e))?;
    // The API lives at the origin of the token URL: `<business>/oauth2/token`.
    let token_url = credentials.token_url();
    let (Some(scheme), Some(authority)) = (token_url.scheme_str(), token_url.authority()) else {
        return Err(Failure::new(doing, "the Kinde domain has no origin"));
    };
    let base_url = format!("{scheme}://{authority}");
    if demo {
        eprintln!(
            "note: no KINDE_* variable is set: using the emulator's demo credentials for \
             {base_url}"
        );
    }

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
    Client::from_service(&base_url, stack).map_err(|e| Failure::new(doing, e))
}

/// The credentials, and whether they are the emulator's demo ones.
///
/// When any of [`KINDE_VARIABLES`] is set (in `lookup`), they come from the variables through
/// the `tower-m2m` Kinde preset, `domain` taking the place of `KINDE_DOMAIN` if given, and a
/// missing one is an error. When none is set and `domain` is a loopback URL, they are the
/// emulator's demo credentials. Otherwise there are none, and the error says what to set.
fn kinde_credentials<F>(
    domain: Option<&str>,
    lookup: F,
) -> Result<(ClientCredentials, bool), String>
where
    F: Fn(&str) -> Option<String>,
{
    let is_set = |name: &&str| lookup(name).is_some_and(|value| !value.trim().is_empty());
    let mut preset = KindeCredentials::new();
    if let Some(domain) = domain {
        preset = preset.domain(domain);
    }

    if KINDE_VARIABLES.iter().any(is_set) {
        let credentials = preset
            .build_with_env(lookup)
            .map_err(|e| format!("{e}; {INCOMPLETE}"))?;
        return Ok((credentials, false));
    }
    match domain {
        Some(domain) if is_loopback(domain) => {
            let credentials = preset
                .client_id(kinde_emulator::DEMO_CLIENT_ID)
                .client_secret(kinde_emulator::DEMO_CLIENT_SECRET)
                .build()
                .map_err(|e| e.to_string())?;
            Ok((credentials, true))
        }
        Some(domain) => Err(format!(
            "no credentials for {domain}: the emulator's demo credentials are only sent to a \
             loopback address; {HOW_TO_CONFIGURE}"
        )),
        None => Err(format!("no Kinde business given: {HOW_TO_CONFIGURE}")),
    }
}

/// Whether `domain` is an `http` or `https` URL whose host is this machine: `localhost` or a
/// loopback IP address. The URL is parsed, so `http://127.0.0.1:80@evil.example` (whose host is
/// `evil.example`) is not; user information is refused outright.
fn is_loopback(domain: &str) -> bool {
    let Ok(url) = domain.trim().parse::<http::Uri>() else {
        return false;
    };
    let (Some("http" | "https"), Some(authority)) = (url.scheme_str(), url.authority()) else {
        return false;
    };
    if authority.as_str().contains('@') {
        return false;
    }
    let host = authority.host();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn only_a_loopback_host_is_loopback() {
        for url in [
            "http://127.0.0.1:8799",
            "http://127.0.0.2:1/",
            "http://localhost:3000",
            "https://LOCALHOST",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:x@evil.example",
            "http://127.0.0.1:80@evil.example/",
            "http://user@127.0.0.1:80",
            "http://127.0.0.1.evil.example:80",
            "http://localhost.evil.example",
            "https://mybusiness.kinde.com",
            "127.0.0.1:8799",
            "ftp://127.0.0.1",
            "http://[::ffff:1.2.3.4]:80",
            "",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn demo_credentials_only_for_loopback_and_only_without_kinde_variables() {
        let (credentials, demo) =
            kinde_credentials(Some("http://127.0.0.1:8799"), env(&[])).unwrap();
        assert!(demo);
        assert_eq!(credentials.client_id(), kinde_emulator::DEMO_CLIENT_ID);
        assert_eq!(
            credentials.token_url(),
            "http://127.0.0.1:8799/oauth2/token"
        );

        // The old prefix check let this one through: its host is evil.example.
        let error =
            kinde_credentials(Some("http://127.0.0.1:x@evil.example"), env(&[])).unwrap_err();
        assert!(error.starts_with("no credentials for http://127.0.0.1:x@evil.example"));
        assert!(kinde_credentials(Some("https://mybusiness.kinde.com"), env(&[])).is_err());
        assert!(
            kinde_credentials(None, env(&[]))
                .unwrap_err()
                .contains("KINDE_DOMAIN")
        );

        // One Kinde variable set: the variables are meant, so a missing one is an error.
        let partial = [(kinde::ENV_MANAGEMENT_CLIENT_ID, "my-client")];
        let error = kinde_credentials(Some("http://127.0.0.1:8799"), env(&partial)).unwrap_err();
        assert_eq!(
            error,
            format!("invalid client credentials: client secret is missing; {INCOMPLETE}")
        );

        // Variables of other tools do not count.
        let unrelated = [("KINDE_OPENAPI_SPEC", "/tmp/spec.yaml")];
        assert!(
            kinde_credentials(Some("http://[::1]:1"), env(&unrelated))
                .unwrap()
                .1
        );
    }

    #[test]
    fn the_kinde_variables_are_read_through_the_preset() {
        let business = [
            (kinde::ENV_DOMAIN, "mybusiness.kinde.com"),
            (kinde::ENV_CLIENT_ID, "sdk-client"),
            (kinde::ENV_MANAGEMENT_CLIENT_SECRET, "sdk-secret"),
        ];
        let (credentials, demo) = kinde_credentials(None, env(&business)).unwrap();
        assert!(!demo);
        assert_eq!(credentials.client_id(), "sdk-client");
        assert_eq!(
            credentials.token_url(),
            "https://mybusiness.kinde.com/oauth2/token"
        );

        let (credentials, _) = kinde_credentials(Some("other.kinde.com"), env(&business)).unwrap();
        assert_eq!(
            credentials.token_url(),
            "https://other.kinde.com/oauth2/token"
        );
    }
}
