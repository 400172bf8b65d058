//! The `kinde-gateway` binary as a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary cargo built for the tests.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_kinde-gateway");

/// A fresh path in the temporary directory, unique to this process and moment.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "kinde-gateway-{}-{nanos}-{name}",
        std::process::id()
    ))
}

/// The three lines `--emulator` prints, in order.
pub(crate) struct Started {
    pub(crate) child: Child,
    /// Everything the gateway wrote to standard error, once it exits.
    pub(crate) logs: tokio::task::JoinHandle<String>,
    pub(crate) base_url: String,
    pub(crate) key: String,
    pub(crate) address: String,
}

/// Starts `kinde-gateway --emulator` on a free loopback port, auditing to `audit`, logging at
/// trace level, with `envs` added to its environment; waits for its three lines.
pub(crate) async fn start_emulator_mode(audit: &Path, envs: &[(&str, &str)]) -> Started {
    let mut child = Command::new(BINARY)
        .args(["--emulator", "--listen", "127.0.0.1:0", "--audit-log"])
        .arg(audit)
        .env("KINDE_GATEWAY_LOG", "trace")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the logs as they come, or a full pipe would stall the gateway.
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs).await;
        logs
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line within a minute")
            .unwrap()
            .expect("a line")
    };
    let base_url = next().await;
    let key = next().await;
    let address = next().await;

    let base_url = base_url
        .strip_prefix("emulator base_url: ")
        .unwrap()
        .to_owned();
    let key = key.strip_prefix("demo api key: ").unwrap().to_owned();
    let address = address.strip_prefix("listening on ").unwrap().to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(
        key.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{key}"
    );
    Started {
        child,
        logs,
        base_url,
        key,
        address,
    }
}
