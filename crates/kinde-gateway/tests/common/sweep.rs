//! The audit sweep: every audit line a test's gateway wrote is parsed and its fields checked,
//! and the audit lines and every log line captured while the test ran (gateway, emulator and
//! client, at trace level) are searched for the secrets, API keys, tokens and email addresses
//! the test used. [`Harness::stop`](super::Harness::stop) runs it for every in-process gateway;
//! the tests of the binary run it on the audit file and standard error of the gateway, which
//! they start logging at trace level ([`process`](super::process)).
//!
//! Secrets are registered as they are used: [`with_key`](super::with_key) registers every API
//! key a test sends (keys under 6 characters are too short to search for), the emulator's demo
//! client secret and the demo API key are always searched for (the demo key is printed on
//! standard output in `--emulator` mode, never logged), and a test registers its own client
//! secrets and emails with [`secret`]. Each is also searched for percent-encoded, as it would
//! appear in a logged URL. Any JWT (`eyJ`) and any email-shaped word are findings whatever was
//! registered.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use kinde_gateway::status::code_name;
use serde_json::Value;

/// The shortest value worth searching for.
const MIN_SECRET_LEN: usize = 6;

fn secrets() -> &'static Mutex<BTreeSet<String>> {
    static SECRETS: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        Mutex::new(BTreeSet::from([
            kinde_emulator::DEMO_CLIENT_SECRET.to_owned(),
            kinde_gateway::demo::DEMO_API_KEY.to_owned(),
        ]))
    })
}

/// Registers `value` (a client secret, an API key, an email address) as one the logs and
/// audit lines must never contain, and returns it.
pub(crate) fn secret(value: &str) -> String {
    if value.len() >= MIN_SECRET_LEN {
        secrets().lock().unwrap().insert(value.to_owned());
    }
    value.to_owned()
}

/// Everything written to the captured log so far.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        // The process's only subscriber: every test of this binary writes here.
        let _ = tracing::subscriber::set_global_default(subscriber);
        captured
    })
}

/// Starts capturing every log line of this process (once) and returns where the log is now.
pub(crate) fn log_mark() -> usize {
    captured().0.lock().unwrap().len()
}

/// The log lines written since `mark`.
pub(crate) fn logs_since(mark: usize) -> String {
    let bytes = captured().0.lock().unwrap();
    String::from_utf8_lossy(&bytes[mark.min(bytes.len())..]).into_owned()
}

/// Checks every field of one audit line.
pub(crate) fn check_audit_line(line: &str) {
    let record: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("audit line {line:?}: {e}"));
    let object = record
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {line}"));
    let known = [
        "timestamp",
        "caller",
        "rpc",
        "operation",
        "targets",
        "status",
        "attempts",
        "duration_ms",
        "request_id",
        "items",
    ];
    for key in object.keys() {
        assert!(
            known.contains(&key.as_str()),
            "unknown field {key} in {line}"
        );
    }
    for field in known.iter().filter(|field| **field != "items") {
        assert!(object.contains_key(*field), "no {field} in {line}");
    }

    let timestamp = record["timestamp"].as_str().unwrap_or_default();
    let bytes = timestamp.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && timestamp.ends_with('Z')
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|range| bytes[range].iter().all(u8::is_ascii_digit));
    assert!(shaped, "timestamp is not RFC 3339 UTC: {line}");

    let caller = &record["caller"];
    assert!(
        caller.is_null() || caller.as_str().is_some_and(|c| !c.is_empty()),
        "caller: {line}"
    );
    if caller.is_null() {
        // Unauthenticated, or answered before the gateway read the call: nothing reached Kinde.
        assert_eq!(record["attempts"], 0, "no caller: {line}");
    }
    let rpc = record["rpc"].as_str().unwrap_or_default();
    assert!(
        rpc.starts_with("kinde.management.v1.") && rpc.contains("Service/"),
        "rpc: {line}"
    );
    assert!(
        record["operation"].as_str().is_some_and(|o| !o.is_empty()),
        "operation: {line}"
    );
    let targets = record["targets"]
        .as_object()
        .unwrap_or_else(|| panic!("targets: {line}"));
    assert!(targets.values().all(Value::is_string), "targets: {line}");
    let status = record["status"].as_str().unwrap_or_default();
    assert!(
        (0..=16).any(|code| code_name(tonic::Code::from_i32(code)) == status),
        "status: {line}"
    );
    assert!(record["attempts"].is_u64(), "attempts: {line}");
    assert!(record["duration_ms"].is_u64(), "duration_ms: {line}");
    assert!(
        record["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "request_id: {line}"
    );
    if let Some(items) = record.get("items") {
        assert!(items.is_u64(), "items: {line}");
    }
}

/// What `text` holds that it must not: registered secrets (as they are, or percent-encoded),
/// JWTs and email addresses, each described.
pub(crate) fn findings(text: &str) -> Vec<String> {
    // A copy, so that a failing assertion never poisons the registry for the other tests.
    let secrets = secrets().lock().unwrap().clone();
    let mut found = Vec::new();
    for secret in &secrets {
        let encoded = percent_encoded(secret);
        if text.contains(secret.as_str()) || text.contains(encoded.as_str()) {
            found.push(format!("{secret:?}"));
        }
    }
    if text.contains("eyJ") {
        found.push("a JWT".to_owned());
    }
    if let Some(email) = find_email(text) {
        found.push(format!("an email address ({email})"));
    }
    found
}

/// Asserts that `text` (named `what` in the failure) has no [findings](findings).
pub(crate) fn assert_clean(what: &str, text: &str) {
    let found = findings(text);
    assert!(found.is_empty(), "in the {what}: {}", found.join(", "));
}

/// The audit sweep over one gateway's audit lines and the logs of its test.
pub(crate) fn sweep(audit_lines: &[String], logs: &str) {
    for line in audit_lines {
        check_audit_line(line);
    }
    assert_clean("audit log", &audit_lines.join("\n"));
    assert_clean("logs", logs);
}

/// The audit sweep over the audit file and standard error of a gateway process.
pub(crate) fn sweep_process(audit: &str, stderr: &str) {
    let lines: Vec<String> = audit.lines().map(str::to_owned).collect();
    sweep(&lines, stderr);
}

/// `value` with every byte outside the URL-safe set as `%XX`, as a query string carries it.
fn percent_encoded(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The first email-shaped word: letters before an `@`, a dot in the domain after it.
fn find_email(text: &str) -> Option<&str> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_word(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = text[at + 1..]
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .map_or(text.len(), |(i, _)| at + 1 + i);
        let (local, domain) = (&text[start..at], &text[at + 1..end]);
        let domain = domain.trim_end_matches('.');
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') {
            return Some(&text[start..end]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-12-03T18:00:00.123Z","caller":"billing","rpc":"kinde.management.v1.OrganizationsService/GetOrganization","operation":"getOrganization","targets":{"code":"org_1"},"status":"OK","attempts":1,"duration_ms":12,"request_id":"r-1"}"#;

    #[test]
    fn emails_are_found_and_other_ats_are_not() {
        assert_eq!(
            find_email("user ada.lovelace@example.com said"),
            Some("ada.lovelace@example.com")
        );
        assert_eq!(
            find_email("x=a+b@mail.example.org."),
            Some("a+b@mail.example.org.")
        );
        assert_eq!(
            find_email("no @ here, nor x@localhost, nor @example.com"),
            None
        );
    }

    #[test]
    fn registered_secrets_jwts_and_emails_are_found_plain_or_encoded() {
        secret("sweep-unit-secret@value");
        assert!(findings("a clean line\nanother").is_empty());
        assert_eq!(
            findings("client_secret=sweep-unit-secret%40value"),
            ["\"sweep-unit-secret@value\"".to_owned()]
        );
        assert_eq!(findings("Bearer eyJhbGciOi"), ["a JWT".to_owned()]);
        assert_eq!(
            findings(&format!("key={}", kinde_gateway::demo::DEMO_API_KEY)).len(),
            1
        );
        assert_eq!(
            findings("to ada@example.com"),
            ["an email address (ada@example.com)".to_owned()]
        );
    }

    #[test]
    fn a_complete_audit_line_passes() {
        check_audit_line(LINE);
    }

    #[test]
    #[should_panic(expected = "unknown field body")]
    fn an_audit_line_with_an_unknown_field_fails() {
        check_audit_line(&LINE.replace(r#""attempts":1"#, r#""attempts":1,"body":"{}""#));
    }

    #[test]
    #[should_panic(expected = "no caller")]
    fn an_audit_line_without_its_caller_fails() {
        check_audit_line(&LINE.replace(r#""caller":"billing","#, ""));
    }

    #[test]
    #[should_panic(expected = "status")]
    fn an_audit_line_with_an_unknown_status_fails() {
        check_audit_line(&LINE.replace(r#""OK""#, r#""FINE""#));
    }
}
