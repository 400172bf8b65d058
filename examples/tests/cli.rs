//! The examples' binaries, run as a user runs them, where they must stop before calling
//! anything: secrets kept out of `--help`, a CSV file that would wipe an organization refused,
//! and the emulator's demo credentials kept off other hosts. Nothing here needs a gateway.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Port 1 on loopback: nothing listens there, so a binary that gets as far as connecting
/// fails at once, and the test sees how far it got.
const NOWHERE: &str = "127.0.0.1:1";

/// The variables the `tower-m2m` Kinde preset reads, removed so the developer's own do not
/// change what a test sees.
const KINDE_VARIABLES: [&str; 7] = [
    "KINDE_DOMAIN",
    "KINDE_MANAGEMENT_CLIENT_ID",
    "KINDE_MANAGEMENT_CLIENT_SECRET",
    "KINDE_CLIENT_ID",
    "KINDE_CLIENT_SECRET",
    "KINDE_AUDIENCE",
    "KINDE_SCOPES",
];

fn example(name: &str) -> Command {
    let binary = match name {
        "access_report" => env!("CARGO_BIN_EXE_access_report"),
        "lifecycle_sync" => env!("CARGO_BIN_EXE_lifecycle_sync"),
        "axum_outbound" => env!("CARGO_BIN_EXE_axum_outbound"),
        _ => unreachable!("no example {name}"),
    };
    let mut command = Command::new(binary);
    for variable in KINDE_VARIABLES
        .iter()
        .chain(&["GATEWAY_ADDRESS", "GATEWAY_API_KEY"])
    {
        command.env_remove(variable);
    }
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the example runs");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A file in this test's scratch directory holding `text`.
fn csv(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the scratch directory is writable");
    path
}

#[test]
fn help_never_shows_the_api_key() {
    let secret = "key-from-the-environment-7f3a";
    let (code, help, _) = run(example("access_report")
        .arg("--help")
        .env("GATEWAY_API_KEY", secret));

    assert_eq!(code, Some(0));
    assert!(help.contains("--api-key"), "{help}");
    assert!(help.contains("GATEWAY_API_KEY"), "{help}");
    assert!(!help.contains(secret), "{help}");
    assert!(!help.contains("demo-key"), "{help}");
}

#[test]
fn a_file_without_users_is_refused_unless_allowed() {
    let empty = csv("header-only.csv", "email,given_name,family_name,role\n");
    let (code, stdout, stderr) = run(example("lifecycle_sync")
        .arg("--file")
        .arg(&empty)
        .args(["--address", NOWHERE]));

    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(
            "it lists no users, and syncing it would remove every member of Globex; \
             pass --allow-empty if that is what you want"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // Allowed, it goes on to the gateway (which is not there).
    let (code, _, stderr) = run(example("lifecycle_sync").arg("--file").arg(&empty).args([
        "--address",
        NOWHERE,
        "--allow-empty",
    ]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("nothing answers there"), "{stderr}");
}

#[test]
fn a_file_without_its_header_is_refused() {
    let headless = csv("headless.csv", "hank@globex.example,Hank,Scorpio,admin\n");
    let (code, _, stderr) = run(example("lifecycle_sync")
        .arg("--file")
        .arg(&headless)
        .args(["--address", NOWHERE]));

    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("expected the columns email,given_name,family_name,role"),
        "{stderr}"
    );
}

#[test]
fn demo_credentials_are_never_sent_off_loopback() {
    let (code, stdout, stderr) = run(example("axum_outbound").args([
        "--kinde-domain",
        "http://127.0.0.1:80@evil.example",
        "--once",
    ]));

    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: configure the Kinde client failed: no credentials for"),
        "{stderr}"
    );
    assert!(!stderr.contains("note:"), "{stderr}");
}

#[test]
fn demo_credentials_on_loopback_are_announced() {
    let (code, _, stderr) = run(example("axum_outbound").args([
        "--kinde-domain",
        &format!("http://{NOWHERE}"),
        "--once",
    ]));

    // The emulator is not there, so the call fails; what matters is the note before it.
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(&format!(
            "note: no KINDE_* variable is set: using the emulator's demo credentials for \
             http://{NOWHERE}\n"
        )),
        "{stderr}"
    );
}
