//! No secret and no token reaches a log, a span or a `Debug` output, across the token
//! scenarios, with real tokens from the emulator and every log at TRACE.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use kinde_emulator::{Application, EmulatorService, FaultTarget, Faults, TokenOutage};
use tests::{Control, SECRET, demo_credentials, get, in_memory};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_m2m::token::{AuthLayer, ClientCredentials, RefreshPolicy, TokenSource};
use tower_m2m::{BoxError, ReplayBody};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

const WRONG_SECRET: &str = "wrong-S3CRET-7f3a91";
const BILLING_SECRET: &str = "billing-S3CRET-c0ffee";
const BILLING: &str = "https://billing.example/api";

/// Everything written, shared between the subscriber and the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn push(&self, text: &str) {
        let mut buffer = self.0.lock().unwrap();
        buffer.extend_from_slice(text.as_bytes());
        buffer.push(b'\n');
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The emulator as a transport that also prints every request it is given, as it left the
/// layers above.
fn printing(
    emulator: &EmulatorService,
    capture: &Capture,
) -> impl tower::Service<
    http::Request<ReplayBody>,
    Response = http::Response<axum::body::Body>,
    Error = BoxError,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    let emulator = emulator.clone();
    let capture = capture.clone();
    service_fn(move |request: http::Request<ReplayBody>| {
        capture.push(&format!("{request:?}"));
        let emulator = emulator.clone();
        async move { emulator.oneshot(request).await.map_err(BoxError::from) }
    })
}

#[tokio::test(start_paused = true)]
async fn no_secret_or_token_is_logged_or_printed_in_any_token_scenario() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_writer(capture.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let emulator = in_memory()
        .application(
            Application::new("billing0000000000000000000000001", BILLING_SECRET)
                .management_api(false)
                .audience(BILLING),
        )
        .build_service();
    let control = Control::in_memory(&emulator);
    let base = emulator.base_url().to_owned();
    let mut tokens = Vec::new();

    // A cold fetch and a call.
    let credentials = demo_credentials(&base, SECRET);
    capture.push(&format!("{credentials:?}"));
    let source = TokenSource::new(credentials, emulator.clone());
    let client = ServiceBuilder::new()
        .layer(AuthLayer::new(source.clone()))
        .service(printing(&emulator, &capture));
    let response = client.clone().oneshot(get(&base, "/api/v1/users")).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let token = source.token().await.unwrap();
    capture.push(&format!("{token:?} {token} {source:?}"));
    tokens.push(token.expose_secret().to_owned());

    // A token the API always rejects: replayed once with a new token.
    let rejected = ClientCredentials::builder(
        emulator.token_url(),
        "billing0000000000000000000000001",
        BILLING_SECRET,
    )
    .audience(BILLING)
    .build()
    .unwrap();
    capture.push(&format!("{rejected:?}"));
    let billing = TokenSource::builder(rejected)
        .policy(RefreshPolicy::new().invalidation_grace(Duration::ZERO))
        .build(emulator.clone());
    let client = ServiceBuilder::new()
        .layer(AuthLayer::new(billing.clone()))
        .service(printing(&emulator, &capture));
    let response = client.oneshot(get(&base, "/api/v1/users")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let token = billing.token().await.unwrap();
    capture.push(&format!("{token:?} {token}"));
    tokens.push(token.expose_secret().to_owned());

    // A wrong secret.
    let wrong = TokenSource::new(demo_credentials(&base, WRONG_SECRET), emulator.clone());
    let client = ServiceBuilder::new()
        .layer(AuthLayer::new(wrong))
        .service(printing(&emulator, &capture));
    let error = client
        .oneshot(get(&base, "/api/v1/users"))
        .await
        .unwrap_err();
    capture.push(&format!("{error:?} {error}"));

    // The token endpoint down.
    control
        .set_faults(&Faults {
            target: FaultTarget::Token,
            token_outage: Some(TokenOutage::Unavailable),
            ..Faults::default()
        })
        .await;
    let down = TokenSource::new(demo_credentials(&base, SECRET), emulator.clone());
    let error = down.token().await.unwrap_err();
    capture.push(&format!("{error:?} {error}"));

    let stats = control.stats().await;
    assert_eq!(stats.token_requests, 1 + 2 + 1 + 1);
    let text = capture.text();
    assert!(
        text.contains("token.fetch"),
        "the capture saw the fetch spans"
    );
    assert!(
        text.contains("authorization"),
        "the capture saw the requests"
    );
    for secret in [SECRET, BILLING_SECRET, WRONG_SECRET] {
        assert!(!text.contains(secret), "a client secret was printed");
    }
    for token in &tokens {
        // The signature alone would already give the token away.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a token was printed");
    }
}
