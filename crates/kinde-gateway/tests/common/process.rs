//! The `kinde-gateway` binary as a child process: started with none of the parent's
//! OpenTelemetry variables, stopped with SIGTERM, and swept for secrets once it exits.

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

/// `kinde-gateway`, without any `OTEL_*` variable of the test's own environment, so a
/// developer's OpenTelemetry settings cannot change what a test sees; a test adds the ones it
/// means.
pub(crate) fn command() -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.kill_on_drop(true);
    command
}

/// Sends SIGTERM to `child` and waits for it to exit successfully, within 30 s.
pub(crate) async fn terminate(child: &mut Child) {
    let pid = child.id().expect("the gateway is running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the gateway exits within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// A gateway started by [`start_emulator_mode`], with the three lines it printed.
pub(crate) struct Started {
    pub(crate) child: Child,
    /// Everything the gateway wrote to standard error, once it exits.
    logs: tokio::task::JoinHandle<String>,
    audit: PathBuf,
    pub(crate) base_url: String,
    pub(crate) key: String,
    pub(crate) address: String,
}

/// Starts `kinde-gateway --emulator` on a free loopback port, auditing to `audit`, logging at
/// trace level, with `envs` added to its environment; waits for its three lines.
pub(crate) async fn start_emulator_mode(audit: &Path, envs: &[(&str, &str)]) -> Started {
    let mut child = command()
        .args(["--emulator", "--listen", "127.0.0.1:0", "--audit-log"])
        .arg(audit)
        .env("KINDE_GATEWAY_LOG", "trace")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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
        audit: audit.to_owned(),
        base_url,
        key,
        address,
    }
}

/// What a gateway process left behind.
pub(crate) struct Stopped {
    /// Its audit lines.
    pub(crate) audit_lines: Vec<String>,
    /// Its standard error, at trace level.
    pub(crate) logs: String,
}

impl Started {
    /// SIGTERM, a clean exit, then the [audit sweep](super::sweep) over the audit file and the
    /// logs; the audit file is removed.
    pub(crate) async fn stop(mut self) -> Stopped {
        terminate(&mut self.child).await;
        let logs = self.logs.await.unwrap();
        let audit = std::fs::read_to_string(&self.audit).unwrap_or_default();
        let _ = std::fs::remove_file(&self.audit);
        super::sweep::sweep_process(&audit, &logs);
        Stopped {
            audit_lines: audit.lines().map(str::to_owned).collect(),
            logs,
        }
    }
}
