//! The emulator over real loopback sockets, in real time, as a client or the binary's user sees
//! it. Bounds are generous; nothing here asserts a duration.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, StartError};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("a client")
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn token(base_url: &str, client_id: &str, secret: &str) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&audience={}",
        encode(&format!("{base_url}/api"))
    );
    let response = client()
        .post(format!("{base_url}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&response.text().await.expect("a body")).expect("JSON");
    body["access_token"].as_str().expect("a token").to_owned()
}

async fn api(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_gets_a_token_and_manages_users_and_organizations() {
    let emulator = Emulator::builder().start().await.expect("started");
    let base = emulator.base_url().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"));
    let token = token(&base, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;

    let (status, created) = api(
        reqwest::Method::POST,
        format!("{base}/api/v1/user"),
        &token,
        Some(json!({"identities": [{"type": "email", "details": {"email": "ada@example.com"}}]})),
    )
    .await;
    assert_eq!(status, 200);
    let id = created["id"].as_str().expect("an id").to_owned();

    let (status, users) = api(
        reqwest::Method::GET,
        format!("{base}/api/v1/users"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(users["users"][0]["id"], id.as_str());

    let (status, organization) = api(
        reqwest::Method::POST,
        format!("{base}/api/v1/organization"),
        &token,
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(status, 200);
    let code = organization["organization"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();
    let (status, _) = api(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/organization/{code}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/user?id={id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);

    let (status, _) = api(
        reqwest::Method::GET,
        format!("{base}/api/v1/users"),
        "not-a-token",
        None,
    )
    .await;
    assert_eq!(status, 401);

    let stats = json(
        client()
            .get(format!("{base}/_emulator/stats"))
            .send()
            .await
            .expect("a response"),
    )
    .await;
    assert_eq!(stats["token_requests"], 1);
    assert_eq!(stats["api_requests"], 6);
    assert_eq!(stats["by_status"]["401"], 1);

    emulator.shutdown().await;
    let refused = client()
        .get(format!("{base}/.well-known/jwks"))
        .send()
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_closed_connection_fault_reaches_the_client_as_a_transport_error() {
    let emulator = Emulator::builder().start().await.expect("started");
    let base = emulator.base_url().to_owned();
    let faults = client()
        .put(format!("{base}/_emulator/faults"))
        .body(r#"{"target": "token", "token_outage": "close"}"#)
        .send()
        .await
        .expect("a response");
    assert_eq!(faults.status(), 200);

    let outcome = client()
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await;
    assert!(outcome.is_err(), "{outcome:?}");

    let jwks = client()
        .get(format!("{base}/.well-known/jwks"))
        .send()
        .await
        .expect("a response");
    assert_eq!(jwks.status(), 200);
}

#[tokio::test]
async fn demo_credentials_are_refused_off_loopback() {
    let outcome = Emulator::builder()
        .listen("0.0.0.0:0".parse().expect("an address"))
        .start()
        .await;
    assert!(
        matches!(outcome, Err(StartError::DemoOffLoopback(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_binary_prints_its_credentials_first_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kinde-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(3)
        .map(|line| line.expect("a line"))
        .collect();

    let base = lines[0]
        .strip_prefix("base_url: ")
        .expect("base_url first")
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    assert_eq!(lines[1], format!("client_id: {DEMO_CLIENT_ID}"));
    assert_eq!(lines[2], format!("client_secret: {DEMO_CLIENT_SECRET}"));

    let token = token(&base, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    let (status, _) = api(
        reqwest::Method::GET,
        format!("{base}/api/v1/organizations"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);

    child.kill().expect("the child stops");
    child.wait().expect("the child is reaped");
}

/// Reads a body as JSON (or `null`).
async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_binary_takes_a_config_file() {
    let directory = std::env::temp_dir().join(format!("kinde-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temp dir");
    let path = directory.join("emulator.toml");
    std::fs::write(
        &path,
        r#"
demo_application = false
token_lifetime_secs = 120

[[applications]]
client_id = "configured00000000000000000000001"
client_secret = "configured-secret-never-printed"
scopes = ["read:users"]
"#,
    )
    .expect("the config is written");

    let mut child = Command::new(env!("CARGO_BIN_EXE_kinde-emulator"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(3)
        .map(|line| line.expect("a line"))
        .collect();
    let base = lines[0]
        .strip_prefix("base_url: ")
        .expect("base_url first")
        .to_owned();
    assert_eq!(lines[1], "client_id: configured00000000000000000000001");
    assert_eq!(lines[2], "client_secret: [redacted]");

    let form = format!(
        "grant_type=client_credentials&client_id=configured00000000000000000000001\
         &client_secret=configured-secret-never-printed&audience={}",
        encode(&format!("{base}/api"))
    );
    let response = client()
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["expires_in"], 120);
    let demo = client()
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&audience=x"
        ))
        .send()
        .await
        .expect("a response");
    assert_eq!(demo.status(), 401);

    child.kill().expect("the child stops");
    child.wait().expect("the child is reaped");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn a_config_with_an_unknown_field_or_bad_faults_is_refused() {
    assert!(kinde_emulator::Config::from_toml("colour = \"blue\"").is_err());
    assert!(kinde_emulator::Config::from_toml("[faults]\nerror_ratio = 2.0").is_err());
    let config = kinde_emulator::Config::from_toml(
        "[faults]\ntarget = { operation = \"getUsers\" }\nlatency = { min_ms = 1, max_ms = 5 }",
    )
    .expect("valid");
    assert_eq!(
        config.faults.expect("faults").target,
        kinde_emulator::FaultTarget::Operation("getUsers".to_owned())
    );
}

#[tokio::test]
async fn https_works_for_a_client_that_trusts_the_written_ca() {
    let emulator = Emulator::builder()
        .tls(true)
        .start()
        .await
        .expect("started");
    let base = emulator.base_url().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let path = emulator
        .ca_certificate_path()
        .expect("a CA path")
        .to_owned();
    let pem = std::fs::read(&path).expect("the CA was written");
    assert_eq!(pem, emulator.ca_certificate_pem().expect("a CA").as_bytes());

    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")])
        .build()
        .expect("a client");
    let form = format!(
        "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&audience={}",
        encode(&emulator.api_audience())
    );
    let response = trusting
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("a response over TLS");
    assert_eq!(response.status(), 200);
    let token = json(response).await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let users = trusting
        .get(format!("{base}/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response over TLS");
    assert_eq!(users.status(), 200);

    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("a client");
    assert!(
        untrusting
            .get(format!("{base}/.well-known/jwks"))
            .send()
            .await
            .is_err()
    );

    emulator.shutdown().await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn the_binary_serves_https_and_names_its_ca() {
    let directory = std::env::temp_dir().join(format!("kinde-emulator-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temp dir");
    let ca = directory.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kinde-emulator"))
        .args(["--listen", "127.0.0.1:0", "--tls", "--ca-certificate"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|line| line.expect("a line"))
        .collect();
    assert!(
        lines[0].starts_with("base_url: https://127.0.0.1:"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[3], format!("ca_certificate: {}", ca.display()));
    let pem = std::fs::read_to_string(&ca).expect("the CA was written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    child.kill().expect("the child stops");
    child.wait().expect("the child is reaped");
    let _ = std::fs::remove_dir_all(&directory);
}
