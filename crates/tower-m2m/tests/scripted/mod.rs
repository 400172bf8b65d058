//! A scripted upstream that records every attempt that reaches it.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::Service;
use tower_m2m::BoxError;

/// One attempt as the upstream saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub method: Method,
    pub headers: HeaderMap,
    pub caller: Option<String>,
}

type Reply = Pin<Box<dyn Future<Output = Result<Response<String>, BoxError>> + Send>>;
type Script = dyn Fn(usize, &Request<String>) -> Reply + Send + Sync;

/// A transport whose answers come from a script, given the attempt's index (from 0).
#[derive(Clone)]
pub struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<Arc<Script>>>,
}

impl Upstream {
    pub fn new<F, Fut>(script: F) -> Self
    where
        F: Fn(usize, &Request<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<String>, BoxError>> + Send + 'static,
    {
        let upstream = Self {
            seen: Arc::default(),
            script: Arc::new(Mutex::new(Arc::new(|_, _| -> Reply {
                Box::pin(async { Ok(status(200)) })
            }))),
        };
        upstream.set_script(script);
        upstream
    }

    /// Always answers `code`.
    pub fn always(code: u16) -> Self {
        Self::new(move |_, _| async move { Ok(status(code)) })
    }

    pub fn set_script<F, Fut>(&self, script: F)
    where
        F: Fn(usize, &Request<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<String>, BoxError>> + Send + 'static,
    {
        let script: Arc<Script> =
            Arc::new(move |n, request| -> Reply { Box::pin(script(n, request)) });
        *self.script.lock().unwrap() = script;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Service<Request<String>> for Upstream {
    type Response = Response<String>;
    type Error = BoxError;
    type Future = Reply;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let index = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Seen {
                at: Instant::now(),
                method: request.method().clone(),
                headers: request.headers().clone(),
                caller: request
                    .headers()
                    .get("x-caller")
                    .map(|v| v.to_str().unwrap().to_owned()),
            });
            seen.len() - 1
        };
        let script = self.script.lock().unwrap().clone();
        script(index, &request)
    }
}

pub fn status(code: u16) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
}

pub fn get(caller: &str) -> Request<String> {
    Request::get("https://kinde.test/api/v1/users")
        .header("x-caller", caller)
        .body(String::new())
        .unwrap()
}

pub fn post(caller: &str) -> Request<String> {
    Request::post("https://kinde.test/api/v1/user")
        .header("x-caller", caller)
        .body(String::from("{}"))
        .unwrap()
}
