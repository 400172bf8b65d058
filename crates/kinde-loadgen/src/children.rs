//! The emulator and the gateway as child processes on free loopback ports.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long a child may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How much of a child's standard error is kept, to show when it fails.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// A child process that is killed when dropped.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    name: &'static str,
    child: Child,
    pid: u32,
    stderr: Arc<Mutex<String>>,
}

/// The emulator child and what it printed.
#[derive(Debug)]
pub(crate) struct EmulatorChild {
    /// The process.
    pub(crate) process: ChildProcess,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// The demo application's client id.
    pub(crate) client_id: String,
    /// The demo application's secret (fixed, documented, loopback only).
    pub(crate) client_secret: String,
}

/// The gateway child.
#[derive(Debug)]
pub(crate) struct GatewayChild {
    /// The process.
    pub(crate) process: ChildProcess,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
}

/// `name` next to this executable, for `cargo build` output directories.
pub(crate) fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join(name);
    path.is_file().then_some(path)
}

/// Finds a child binary: the flag's path, else next to this executable.
///
/// # Errors
///
/// A message that says how to build it.
pub(crate) fn locate(flag: Option<&Path>, name: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!("{} is not a file", path.display()))
        };
    }
    sibling(name).ok_or_else(|| {
        format!(
            "cannot find `{name}` next to this executable; build it with \
             `cargo build --release -p {package}` (same profile as kinde-loadgen) or pass its path"
        )
    })
}

/// Starts `kinde-emulator --listen 127.0.0.1:0` and reads its credentials.
pub(crate) async fn start_emulator(binary: &Path) -> Result<EmulatorChild, String> {
    let mut command = Command::new(binary);
    command.args(["--listen", "127.0.0.1:0"]);
    // The emulator does not watch its standard input; it is killed on drop.
    let (process, mut lines) = ChildProcess::spawn("kinde-emulator", command, Stdio::null())?;

    let base_url = process.expect_line(&mut lines, "base_url: ").await?;
    let client_id = process.expect_line(&mut lines, "client_id: ").await?;
    let client_secret = process.expect_line(&mut lines, "client_secret: ").await?;
    if !base_url.starts_with("http://127.0.0.1:") {
        return Err(format!("kinde-emulator is not on loopback: {base_url}"));
    }
    drain(lines);
    Ok(EmulatorChild {
        process,
        base_url,
        client_id,
        client_secret,
    })
}

/// Starts the gateway host in front of the emulator at `emulator_url`.
pub(crate) async fn start_gateway(
    binary: &Path,
    emulator_url: &str,
    audit: &Path,
) -> Result<GatewayChild, String> {
    let mut command = Command::new(binary);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--emulator-url",
            emulator_url,
            "--audit-log",
        ])
        .arg(audit)
        .env("KINDE_GATEWAY_LOG", "warn");
    // The gateway host stops when its standard input closes, so it cannot outlive this process.
    let (process, mut lines) =
        ChildProcess::spawn("kinde-loadgen-gateway", command, Stdio::piped())?;

    let address = process.expect_line(&mut lines, "listening on ").await?;
    if !address.starts_with("127.0.0.1:") {
        return Err(format!("the gateway is not on loopback: {address}"));
    }
    drain(lines);
    Ok(GatewayChild {
        process,
        url: format!("http://{address}"),
    })
}

/// Reads the rest of a child's output so that a full pipe never stalls it.
fn drain(mut lines: Lines<BufReader<ChildStdout>>) {
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}

impl ChildProcess {
    fn spawn(
        name: &'static str,
        mut command: Command,
        stdin: Stdio,
    ) -> Result<(Self, Lines<BufReader<ChildStdout>>), String> {
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;

        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(read) = pipe.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    let mut tail = tail.lock().expect("not poisoned");
                    tail.push_str(&String::from_utf8_lossy(&buffer[..read]));
                    if tail.len() > STDERR_TAIL_BYTES {
                        let cut = tail.len() - STDERR_TAIL_BYTES;
                        let cut = (cut..tail.len())
                            .find(|&i| tail.is_char_boundary(i))
                            .unwrap_or(0);
                        tail.drain(..cut);
                    }
                }
            });
        }
        let stdout = child.stdout.take().expect("piped");
        let process = Self {
            name,
            child,
            pid,
            stderr,
        };
        Ok((process, BufReader::new(stdout).lines()))
    }

    async fn expect_line(
        &self,
        lines: &mut Lines<BufReader<ChildStdout>>,
        prefix: &str,
    ) -> Result<String, String> {
        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => match line.strip_prefix(prefix) {
                Some(value) => Ok(value.trim().to_owned()),
                None => Err(format!(
                    "{}: expected `{prefix}...`, got `{line}`",
                    self.name
                )),
            },
            Ok(Ok(None)) | Ok(Err(_)) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(format!("{} stopped: {}", self.name, self.stderr_tail()))
            }
            Err(_) => Err(format!(
                "{} printed nothing for {START_TIMEOUT:?}",
                self.name
            )),
        }
    }

    /// The last part of what the child wrote to standard error.
    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr.lock().expect("not poisoned").trim().to_owned()
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Peak resident set size in bytes (`VmHWM` in `/proc/PID/status`).
    pub(crate) fn peak_rss(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmHWM:").map(|kib| kib * 1024)
    }

    /// Resets the peak resident set size to the current one (`5` to `/proc/PID/clear_refs`), so
    /// that the next peak belongs to the next scenario. Returns whether the kernel allowed it.
    pub(crate) fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// Whether the child is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the child and waits for it.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}
