//! Writing generated files, or comparing them with what is on disk.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::emit_proto;
use crate::error::{Error, Result};
use crate::generate::{API_GENERATED_DIR, EXAMPLES_DIR, Files};

/// Directories the generator owns entirely: a file there that it did not generate is stale.
const OWNED_DIRS: [(&str, &str); 5] = [
    (crate::emit_gateway::GATEWAY_GENERATED_DIR, "rs"),
    (API_GENERATED_DIR, "rs"),
    (crate::emit_client::CLIENT_GENERATED_DIR, "rs"),
    (EXAMPLES_DIR, "json"),
    (emit_proto::DIR, "proto"),
];

/// Formats Rust sources with rustfmt (the same formatter `cargo fmt` runs), so generated files
/// pass the format check.
fn formatted(files: &Files) -> Result<Files> {
    let mut out = Files::new();
    for (path, text) in files {
        let text = if path.ends_with(".rs") {
            rustfmt(text).map_err(|e| Error::new(format!("{path}: {e}")))?
        } else {
            text.clone()
        };
        out.insert(path.clone(), text);
    }
    Ok(out)
}

fn rustfmt(source: &str) -> Result<String> {
    let program = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
    let mut child = Command::new(&program)
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("cannot run {program}: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| Error::new("rustfmt input thread panicked"))??;
    if !output.status.success() {
        return Err(Error::new(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8(output.stdout).map_err(|_| Error::new("rustfmt wrote invalid UTF-8"))
}

/// Writes every file that changed and removes stale ones; returns one line per change.
pub(crate) fn write(root: &Path, files: &Files) -> Result<Vec<String>> {
    let files = formatted(files)?;
    let mut report = Vec::new();
    for (path, text) in &files {
        let full = root.join(path);
        if std::fs::read_to_string(&full).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, text)?;
        report.push(format!("wrote {path}"));
    }
    for stale in stale_files(root, &files)? {
        std::fs::remove_file(root.join(&stale))?;
        report.push(format!("removed {stale}"));
    }
    Ok(report)
}

/// Compares every file with the disk; returns one line per difference.
pub(crate) fn check(root: &Path, files: &Files) -> Result<Vec<String>> {
    let files = formatted(files)?;
    let mut report = Vec::new();
    for (path, text) in &files {
        match std::fs::read_to_string(root.join(path)) {
            Ok(existing) if existing == *text => {}
            Ok(_) => report.push(format!("differs: {path}")),
            Err(_) => report.push(format!("missing: {path}")),
        }
    }
    for stale in stale_files(root, &files)? {
        report.push(format!("stale: {stale}"));
    }
    Ok(report)
}

fn stale_files(root: &Path, files: &Files) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (dir, extension) in OWNED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let path = format!("{dir}/{name}");
            if name.ends_with(&format!(".{extension}")) && !files.contains_key(&path) {
                stale.push(path);
            }
        }
    }
    stale.sort();
    Ok(stale)
}
