//! An in-memory token endpoint and upstream API for the token tests.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::Service;
use tower_m2m::ReplayBody;
use tower_m2m::token::{ClientCredentials, RefreshPolicy, TokenSource};

pub const TOKEN_URL: &str = "https://auth.test/oauth2/token";
pub const SECRET: &str = "S3CRET-do-not-print-8f2c";
pub const HOUR: Duration = Duration::from_secs(3600);

/// What the endpoint answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `{"access_token":"<prefix><n>","expires_in":<secs>}` where n counts requests from 1.
    Token { expires_in: u64 },
    /// A status with a body.
    Status(u16, String),
}

/// A token endpoint that counts requests, records their forms and answers as told.
#[derive(Clone)]
pub struct Endpoint {
    state: Arc<State>,
}

struct State {
    calls: AtomicUsize,
    answer: Mutex<Answer>,
    delay: Mutex<Duration>,
    forms: Mutex<Vec<String>>,
    printed: Mutex<Vec<String>>,
    token_prefix: String,
}

impl Endpoint {
    pub fn new(answer: Answer) -> Self {
        Self::with_prefix(answer, "token-")
    }

    pub fn with_prefix(answer: Answer, prefix: &str) -> Self {
        Self {
            state: Arc::new(State {
                calls: AtomicUsize::new(0),
                answer: Mutex::new(answer),
                delay: Mutex::new(Duration::ZERO),
                forms: Mutex::new(Vec::new()),
                printed: Mutex::new(Vec::new()),
                token_prefix: prefix.to_owned(),
            }),
        }
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// The form of the n-th request (from 1).
    pub fn form(&self, n: usize) -> String {
        self.state.forms.lock().unwrap()[n - 1].clone()
    }

    /// Every request as `Debug` printed it.
    pub fn printed_requests(&self) -> Vec<String> {
        self.state.printed.lock().unwrap().clone()
    }

    /// The number that a token string from this endpoint carries.
    pub fn number_of(&self, token: &str) -> usize {
        token
            .strip_prefix(&self.state.token_prefix)
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Service<Request<ReplayBody>> for Endpoint {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody>) -> Self::Future {
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
            state.printed.lock().unwrap().push(format!("{request:?}"));
            let form = request.into_body().collect().await.unwrap().to_bytes();
            state
                .forms
                .lock()
                .unwrap()
                .push(String::from_utf8(form.to_vec()).unwrap());
            let delay = *state.delay.lock().unwrap();
            tokio::time::sleep(delay).await;

            let answer = state.answer.lock().unwrap().clone();
            let (status, body) = match answer {
                Answer::Token { expires_in } => (
                    200,
                    format!(
                        r#"{{"access_token":"{}{n}","token_type":"Bearer","expires_in":{expires_in}}}"#,
                        state.token_prefix
                    ),
                ),
                Answer::Status(status, body) => (status, body),
            };
            Ok(Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .body(body)
                .unwrap())
        })
    }
}

pub fn credentials() -> ClientCredentials {
    ClientCredentials::builder(TOKEN_URL, "client-1", SECRET)
        .audience("https://api.test")
        .build()
        .unwrap()
}

/// A source with no jitter, so refresh points are exact.
pub fn source(endpoint: &Endpoint) -> TokenSource {
    source_with(endpoint, RefreshPolicy::new())
}

pub fn source_with(endpoint: &Endpoint, policy: RefreshPolicy) -> TokenSource {
    TokenSource::builder(credentials())
        .policy(policy)
        .jitter(())
        .build(endpoint.clone())
}

pub fn token_body(expires_in: u64) -> Answer {
    Answer::Token { expires_in }
}
