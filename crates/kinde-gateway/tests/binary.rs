//! The `kinde-gateway` binary as an operator runs it: `--emulator`, SIGTERM, `check-config`.

mod common;

use std::time::{Duration, Instant};

use common::process::{command, start_emulator_mode, temp_path};
use common::{pb, with_key};
use tonic::transport::Channel;

#[tokio::test]
async fn emulator_mode_prints_its_addresses_serves_and_drains_on_sigterm() {
    let audit = temp_path("audit.jsonl");
    let started = start_emulator_mode(&audit, &[]).await;
    assert_eq!(started.key, kinde_gateway::demo::DEMO_API_KEY);

    let channel = Channel::from_shared(format!("http://{}", started.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut users = pb::users_service_client::UsersServiceClient::new(channel);
    users
        .get_users(with_key(pb::GetUsersRequest::default(), &started.key))
        .await
        .unwrap();

    // A slow Kinde, so a call is still in flight when SIGTERM arrives.
    let faults = r#"{"target": "api", "latency": {"min_ms": 1500, "max_ms": 1500}}"#;
    let response = reqwest::Client::new()
        .put(format!("{}/_emulator/faults", started.base_url))
        .body(faults)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let in_flight = {
        let mut users = users.clone();
        let key = started.key.clone();
        tokio::spawn(async move {
            users
                .get_users(with_key(pb::GetUsersRequest::default(), &key))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = tokio::spawn(started.stop());

    in_flight
        .await
        .unwrap()
        .expect("the in-flight call finishes");
    // The gateway exits after draining; its audit lines and trace-level logs pass the sweep.
    let stopped = stopping.await.unwrap();
    assert_eq!(stopped.audit_lines.len(), 2);
    for line in &stopped.audit_lines {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["caller"], "demo");
        assert_eq!(record["status"], "OK");
    }
    assert!(
        stopped.logs.contains("TRACE"),
        "the gateway logged at trace"
    );
}

#[tokio::test]
async fn emulator_mode_refuses_a_non_loopback_address() {
    let output = command()
        .args(["--emulator", "--listen", "0.0.0.0:0"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}

#[tokio::test]
async fn check_config_validates_and_reports_missing_scopes() {
    let file = temp_path("gateway.toml");
    std::fs::write(
        &file,
        r#"
[kinde]
base_url = "https://mybusiness.kinde.com"

[profiles.billing-sync]
client_id = "0123456789abcdef0123456789abcdef"
client_secret_env = "CHECK_CONFIG_TEST_SECRET"
scopes = ["read:users"]

[callers.billing]
api_key_sha256 = ["b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"]
profile = "billing-sync"
allow = ["kinde.management.v1.OrganizationsService/GetOrganization"]
"#,
    )
    .unwrap();

    let started = Instant::now();
    let ok = command()
        .arg("check-config")
        .arg(&file)
        .env(
            "CHECK_CONFIG_TEST_SECRET",
            common::sweep::secret("s3cr3t-value"),
        )
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("GetOrganization"), "{stdout}");
    assert!(stdout.contains("read:organizations"), "{stdout}");
    common::sweep::assert_clean("output", &stdout);
    common::sweep::assert_clean("logs", &String::from_utf8_lossy(&ok.stderr));

    let missing = command()
        .arg("check-config")
        .arg(&file)
        .env_remove("CHECK_CONFIG_TEST_SECRET")
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("profiles.billing-sync.client_secret_env"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    let _ = std::fs::remove_file(file);
}
