//! A client in another language that knows only the address: Python's grpcio-reflection
//! discovers every type through reflection and calls `GetUsers`.
//!
//! Needs `python3` with `grpcio`, `grpcio-reflection` and `protobuf`. `scripts/test` prepares a
//! virtual environment with them and sets `KINDE_M2M_REQUIRE_PYTHON`, which turns a missing
//! module into a failure; run alone without them, the test says so and passes.

mod common;

use common::{DEMO_API_KEY, Harness};
use tokio::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reflection_client.py");

async fn python_has_grpc_reflection() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_reflection, google.protobuf"])
        .output()
        .await
        .is_ok_and(|output| output.status.success())
}

#[tokio::test]
async fn a_python_client_using_only_reflection_calls_get_users() {
    if !python_has_grpc_reflection().await {
        assert!(
            std::env::var_os("KINDE_M2M_REQUIRE_PYTHON").is_none(),
            "KINDE_M2M_REQUIRE_PYTHON is set but python3 lacks grpcio or grpcio-reflection"
        );
        eprintln!("skipped: python3 with grpcio, grpcio-reflection and protobuf is not installed");
        return;
    }
    let harness = Harness::demo().await;

    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg(harness.address.to_string())
        .arg(DEMO_API_KEY)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("services: 27"), "{stdout}");
    assert!(stdout.contains("users: 0"), "{stdout}");
    assert_eq!(harness.stats().await["api_requests"], 1);
    harness.stop().await;
}
