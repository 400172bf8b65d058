//! Untrusted input never makes the emulator fail: any token request body, any query string, any
//! path and any request body get an answer below 500, never a panic.

mod common;

use std::sync::OnceLock;

use common::{demo_token, send_raw};
use http::Method;
use kinde_api::OPERATIONS;
use kinde_emulator::{Emulator, EmulatorService};
use proptest::prelude::*;
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// One emulator and a token with every scope, shared by all cases.
fn emulator() -> &'static (EmulatorService, String) {
    static EMULATOR: OnceLock<(EmulatorService, String)> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let emulator = Emulator::builder().body_limit(4096).build_service();
        let token = runtime().block_on(demo_token(&emulator, None));
        (emulator, token)
    })
}

fn status_of(method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Option<u16> {
    let (emulator, _) = emulator();
    // Some generated paths are not valid URIs at all; the HTTP layer rejects those first.
    http::Uri::try_from(format!("{}{path}", emulator.base_url())).ok()?;
    let reply = runtime().block_on(send_raw(emulator, method, path, headers, body));
    Some(reply.status.as_u16())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_token_request_gets_an_answer_below_500(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        form in "[a-z_=&%0-9A-F+:. ]{0,120}",
        basic in proptest::option::of("[ -~]{0,40}"),
    ) {
        let authorization = basic.map(|value| format!("Basic {value}"));
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        for body in [body, form.into_bytes()] {
            if let Some(status) = status_of(Method::POST, "/oauth2/token", &headers, body) {
                prop_assert!(status < 500, "status {status}");
            }
        }
    }

    #[test]
    fn any_query_and_body_for_any_operation_get_an_answer_below_500(
        index in 0..OPERATIONS.len(),
        query in "[a-z_=&%0-9A-F+,.\\[\\]]{0,80}",
        body in proptest::collection::vec(any::<u8>(), 0..200),
        json in "[{}\\[\\]\":,a-z0-9 ]{0,80}",
    ) {
        let operation = &OPERATIONS[index];
        let (method, path, _) = common::sample_request(operation);
        let path = path.split('?').next().unwrap_or_default().to_owned();
        let (_, token) = emulator();
        let authorization = format!("Bearer {token}");
        let headers = [("authorization", authorization.as_str()), ("content-type", "application/json")];
        for body in [body, json.into_bytes()] {
            if let Some(status) = status_of(method.clone(), &format!("{path}?{query}"), &headers, body) {
                prop_assert!(status < 500, "{}: status {status}", operation.id);
            }
        }
    }

    #[test]
    fn any_path_gets_an_answer_below_500(path in "/[a-z_{}0-9/%.\\-]{0,60}") {
        let (_, token) = emulator();
        let authorization = format!("Bearer {token}");
        for method in [Method::GET, Method::POST, Method::DELETE] {
            if let Some(status) = status_of(method, &path, &[("authorization", authorization.as_str())], Vec::new()) {
                prop_assert!(status < 500, "{path}: status {status}");
            }
        }
    }
}
