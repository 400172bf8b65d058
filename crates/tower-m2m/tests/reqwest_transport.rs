//! The reqwest transport against a minimal HTTP/1.1 server on loopback, in real time.
#![cfg(feature = "reqwest")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, ServiceExt};
use tower_m2m::ReplayBody;
use tower_m2m::token::{AuthLayer, ClientCredentials, FetchErrorKind, TokenError, TokenSource};
use tower_m2m::transport::ReqwestTransport;

const TOKEN: &str = "loopback-token";

/// Serves `/oauth2/token` (a token) and `/api` (200 with the token, 401 without), one request
/// per connection, recording each request's head and body.
async fn serve(listener: TcpListener, seen: Arc<Mutex<Vec<String>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(answer(stream, Arc::clone(&seen)));
    }
}

async fn answer(mut stream: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed before the request head ended");
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.unwrap();
        buffer.extend_from_slice(&chunk[..read]);
    }
    let request = String::from_utf8_lossy(&buffer).into_owned();
    seen.lock().unwrap().push(request.clone());

    let (status, body) = if head.starts_with("post /moved/token") {
        let response = "HTTP/1.1 307 Temporary Redirect\r\nlocation: /oauth2/token\r\n\
                        content-length: 0\r\nconnection: close\r\n\r\n";
        stream.write_all(response.as_bytes()).await.unwrap();
        return;
    } else if head.starts_with("post /oauth2/token") {
        let body = format!(r#"{{"access_token":"{TOKEN}","expires_in":"3600"}}"#);
        ("200 OK", body)
    } else if head.contains(&format!("authorization: bearer {TOKEN}")) {
        ("200 OK", String::new())
    } else {
        ("401 Unauthorized", String::new())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
}

#[tokio::test]
async fn tokens_are_fetched_and_sent_over_reqwest() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve(listener, Arc::clone(&seen)));

    let transport = ReqwestTransport::new();
    let credentials = ClientCredentials::builder(
        format!("http://{address}/oauth2/token"),
        "client-1",
        "secret",
    )
    .audience("https://api.test")
    .build()
    .unwrap();
    let source = TokenSource::new(credentials, transport.clone());
    let client = AuthLayer::new(source).layer(transport);

    let request = Request::get(format!("http://{address}/api"))
        .body(ReplayBody::empty())
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.oneshot(request))
        .await
        .expect("answered in time")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one token request, one API request");
    let token_request = seen[0].to_lowercase();
    assert!(token_request.contains("content-type: application/x-www-form-urlencoded"));
    assert!(token_request.ends_with(
        "grant_type=client_credentials&client_id=client-1&client_secret=secret\
         &audience=https%3a%2f%2fapi.test"
    ));
    server.abort();
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve(listener, Arc::clone(&seen)));

    let credentials = ClientCredentials::builder(
        format!("http://{address}/moved/token"),
        "client-1",
        "secret",
    )
    .build()
    .unwrap();
    let source = TokenSource::new(credentials, ReqwestTransport::new());
    let error = tokio::time::timeout(Duration::from_secs(10), source.token())
        .await
        .expect("answered in time")
        .unwrap_err();

    let TokenError::Unavailable(unavailable) = error else {
        panic!("expected TokenUnavailable, got {error:?}");
    };
    assert_eq!(
        unavailable.cause().unwrap().kind(),
        FetchErrorKind::Status(StatusCode::TEMPORARY_REDIRECT)
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the secret was sent once, to the configured URL"
    );
    server.abort();
}
