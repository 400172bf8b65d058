//! The audit log: one JSON line per call.
//!
//! Each line has the time, the caller, the RPC, the Kinde operation, the ids the call targeted
//! (taken from the path and id-like query parameters of the request sent to Kinde), the gRPC
//! status, the number of attempts that reached the transport, the duration and the request id:
//!
//! ```json
//! {"timestamp":"2026-12-03T18:00:00.123Z","caller":"billing","rpc":"kinde.management.v1.OrganizationsService/GetOrganization","operation":"getOrganization","targets":{"code":"org_1"},"status":"OK","attempts":1,"duration_ms":12,"request_id":"4b7c..."}
//! ```
//!
//! Never a secret, a token, an API key, an email address or a message body: the record has no
//! field that could hold one, and a target value that looks like an email address is dropped.
//!
//! `caller` is `null` when the gateway did not authenticate the call: the credentials were
//! missing or unknown (`UNAUTHENTICATED`), or tonic answered before the gateway read the call
//! (a message that does not decode or is too large, a deadline that expired first; see
//! [`MIN_TIMEOUT`]). Such a call made no attempt.

mod fallback;

pub use fallback::MIN_TIMEOUT;
pub(crate) use fallback::{AuditMark, FallbackLayer};

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where audit lines go. Cheap to clone; clones write to the same place.
#[derive(Clone)]
pub struct AuditLog {
    sink: Arc<Mutex<Sink>>,
    /// The sink is [`Sink::Off`]: nothing to serialize or lock.
    off: bool,
}

enum Sink {
    Stdout,
    File(std::fs::File),
    Memory(Vec<String>),
    Off,
}

impl AuditLog {
    /// Lines to standard output.
    pub fn stdout() -> Self {
        Self::new(Sink::Stdout)
    }

    /// Lines appended to the file at `path`, created if missing.
    ///
    /// # Errors
    ///
    /// If the file cannot be opened for appending.
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self::new(Sink::File(file)))
    }

    /// Lines kept in memory, read back with [`lines`](Self::lines); for tests.
    pub fn memory() -> Self {
        Self::new(Sink::Memory(Vec::new()))
    }

    /// No audit log.
    pub fn off() -> Self {
        Self::new(Sink::Off)
    }

    fn new(sink: Sink) -> Self {
        Self {
            off: matches!(sink, Sink::Off),
            sink: Arc::new(Mutex::new(sink)),
        }
    }

    /// The lines written so far, for a log kept in [`memory`](Self::memory); empty otherwise.
    pub fn lines(&self) -> Vec<String> {
        match &*self.lock() {
            Sink::Memory(lines) => lines.clone(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn write(&self, record: &AuditRecord<'_>) {
        if self.off {
            return;
        }
        let Ok(line) = serde_json::to_string(record) else {
            return;
        };
        let written = match &mut *self.lock() {
            Sink::Stdout => write_line(std::io::stdout().lock(), line),
            Sink::File(file) => write_line(file, line),
            Sink::Memory(lines) => {
                lines.push(line);
                Ok(())
            }
            Sink::Off => Ok(()),
        };
        if let Err(error) = written {
            tracing::warn!(error = %error, "audit line not written");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `line` and its newline in one `write_all`: one system call for a file opened to append, so
/// a line is never split by another writer (`writeln!` writes the line and the newline apart).
fn write_line(mut to: impl Write, mut line: String) -> std::io::Result<()> {
    line.push('\n');
    to.write_all(line.as_bytes())
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.lock() {
            Sink::Stdout => "stdout",
            Sink::File(_) => "file",
            Sink::Memory(_) => "memory",
            Sink::Off => "off",
        };
        f.debug_struct("AuditLog").field("sink", &kind).finish()
    }
}

/// One audit line.
#[derive(Debug, Serialize)]
pub(crate) struct AuditRecord<'a> {
    pub(crate) timestamp: String,
    pub(crate) caller: Option<&'a str>,
    pub(crate) rpc: String,
    pub(crate) operation: &'static str,
    pub(crate) targets: BTreeMap<String, String>,
    pub(crate) status: &'static str,
    pub(crate) attempts: u32,
    pub(crate) duration_ms: u64,
    pub(crate) request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) items: Option<u64>,
}

/// What the transport saw of one call: how many attempts went out and what they targeted.
/// Shared between the call and the [`AttemptTap`](crate::tap::AttemptTap) below the stack.
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    path_template: &'static str,
    inner: Arc<Mutex<ObservedInner>>,
}

#[derive(Debug, Default)]
struct ObservedInner {
    attempts: u32,
    targets: BTreeMap<String, String>,
}

impl Observed {
    /// Nothing seen yet of a call to the operation at `path_template`.
    pub(crate) fn new(path_template: &'static str) -> Self {
        Self {
            path_template,
            inner: Arc::default(),
        }
    }

    /// An attempt to `uri` went out.
    pub(crate) fn record_attempt(&self, uri: &http::Uri) {
        let mut inner = self.lock();
        inner.attempts += 1;
        if inner.attempts == 1 {
            inner.targets = targets(self.path_template, uri);
        }
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.lock().attempts
    }

    pub(crate) fn targets(&self) -> BTreeMap<String, String> {
        self.lock().targets.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ObservedInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The ids a request to `path_template` targets: its path parameters, and query parameters
/// named `id`, `code` or ending in `_id` / `_code`, percent-decoded (and, in the query, which is
/// form-encoded, `+` as a space; in the path `+` is itself). Values that look like email
/// addresses are dropped.
pub(crate) fn targets(path_template: &str, uri: &http::Uri) -> BTreeMap<String, String> {
    let mut targets = BTreeMap::new();
    for (name, value) in path_template.split('/').zip(uri.path().split('/')) {
        if let Some(name) = name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            insert_target(&mut targets, name, &percent_decode(value, false));
        }
    }
    for pair in uri.query().unwrap_or("").split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let id_like =
            name == "id" || name == "code" || name.ends_with("_id") || name.ends_with("_code");
        if id_like {
            insert_target(&mut targets, name, &percent_decode(value, true));
        }
    }
    targets
}

fn insert_target(targets: &mut BTreeMap<String, String>, name: &str, value: &str) {
    if !value.is_empty() && !value.contains('@') && value.len() <= 256 {
        targets.insert(name.to_owned(), value.to_owned());
    }
}

/// `value` with `%XX` decoded, and `+` as a space when `plus_is_space` (form encoding).
fn percent_decode(value: &str, plus_is_space: bool) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None if plus_is_space && bytes[i] == b'+' => {
                out.push(b' ');
                i += 1;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `duration` in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The current time as RFC 3339 in UTC with milliseconds: `2026-12-03T18:00:00.123Z`.
pub(crate) fn now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn targets_come_from_the_path_and_id_like_query_parameters() {
        let uri: http::Uri =
            "https://k.example/api/v1/organizations/org_1/users/kp%5F2?id=x&email=a%40b.c&page_size=5&user_id=a@b"
                .parse()
                .unwrap();
        let targets = targets("/api/v1/organizations/{org_code}/users/{user_id}", &uri);
        assert_eq!(targets.get("org_code").map(String::as_str), Some("org_1"));
        assert_eq!(targets.get("user_id").map(String::as_str), Some("kp_2"));
        assert_eq!(targets.get("id").map(String::as_str), Some("x"));
        assert!(!targets.contains_key("email"));
        assert!(!targets.contains_key("page_size"));
        assert_eq!(targets.len(), 3, "the email-like user_id is dropped");
    }

    #[test]
    fn a_plus_is_a_space_in_the_query_only() {
        let uri: http::Uri = "https://k.example/api/v1/organizations/a+b%2Bc?code=x+y%2Bz%20w"
            .parse()
            .unwrap();
        let found = targets("/api/v1/organizations/{org_code}", &uri);
        assert_eq!(found.get("org_code").map(String::as_str), Some("a+b+c"));
        assert_eq!(found.get("code").map(String::as_str), Some("x y+z w"));
        // An email hidden behind encoding is still dropped.
        let uri: http::Uri = "https://k.example/api/v1/users?user_id=ada%40example.com"
            .parse()
            .unwrap();
        assert!(targets("/api/v1/users", &uri).is_empty());
    }
}
