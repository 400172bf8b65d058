//! Helpers for driving the in-memory emulator.

#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use kinde_api::{Operation, Param, ParamLocation, ValueKind};
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorService};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A response as a test sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Sends a request with raw bytes.
pub async fn send_raw(
    emulator: &EmulatorService,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{}{path}", emulator.base_url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = emulator.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Sends a token request with this form body.
pub async fn token_request(emulator: &EmulatorService, form: &str) -> Reply {
    send_raw(
        emulator,
        Method::POST,
        "/oauth2/token",
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )],
        form.as_bytes().to_vec(),
    )
    .await
}

/// The form of a client-credentials request for the Management API.
pub fn token_form(emulator: &EmulatorService, client_id: &str, secret: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&audience={}",
        encode(&emulator.api_audience())
    )
}

/// A token for the demo application, optionally narrowed to `scope`.
pub async fn demo_token(emulator: &EmulatorService, scope: Option<&str>) -> String {
    let mut form = token_form(emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    if let Some(scope) = scope {
        form.push_str("&scope=");
        form.push_str(&encode(scope));
    }
    let reply = token_request(emulator, &form).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// Sends a Management API request with a bearer token and an optional JSON body.
pub async fn call(
    emulator: &EmulatorService,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let authorization = format!("Bearer {token}");
    let mut headers = vec![(header::AUTHORIZATION.as_str(), authorization.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let bytes = body
        .map(|body| body.to_string().into_bytes())
        .unwrap_or_default();
    send_raw(emulator, method, path, &headers, bytes).await
}

/// Basic credentials.
pub fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")))
}

/// Form-urlencodes one value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A request for `operation` that passes parameter checks: path and required query parameters
/// filled with placeholder values, and a body with the required fields.
pub fn sample_request(operation: &Operation) -> (Method, String, Option<Value>) {
    let path = operation
        .path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x1".to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let query: Vec<String> = operation
        .params
        .iter()
        .filter(|param| param.location == ParamLocation::Query && param.required)
        .map(|param| format!("{}={}", param.name, sample_query_value(param)))
        .collect();
    let path = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };

    let body = operation
        .body
        .filter(|body| body.media_type == kinde_api::MediaType::Json)
        .map(|body| {
            let fields = body
                .fields
                .iter()
                .filter(|field| field.required)
                .map(|field| (field.name.to_owned(), sample_json_value(field)))
                .collect::<serde_json::Map<_, _>>();
            Value::Object(fields)
        });
    let method = Method::from_bytes(operation.method.as_str().as_bytes()).expect("a method");
    (method, path, body)
}

fn sample_query_value(param: &Param) -> String {
    match param.kind {
        ValueKind::Integer | ValueKind::Number => "1".to_owned(),
        ValueKind::Boolean => "true".to_owned(),
        _ => param.values.first().copied().unwrap_or("x1").to_owned(),
    }
}

fn sample_json_value(field: &Param) -> Value {
    match field.kind {
        ValueKind::Integer | ValueKind::Number => json!(1),
        ValueKind::Boolean => json!(true),
        ValueKind::Array => json!([]),
        ValueKind::Object => json!({}),
        _ => json!(field.values.first().copied().unwrap_or("x1")),
    }
}
