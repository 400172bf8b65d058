//! The load tool's own open-file limit.

/// What raising the open-file limit achieved.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct OpenFiles {
    /// The soft limit in force now.
    pub(crate) soft: u64,
    /// The hard limit.
    pub(crate) hard: u64,
    /// Why it could not be raised, if it could not.
    pub(crate) problem: Option<String>,
}

/// Raises the soft open-file limit to the hard one, so thousands of concurrent connections
/// fit. Children inherit it.
pub(crate) fn raise_open_files() -> OpenFiles {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(_, hard)| hard)
                .unwrap_or(soft);
            OpenFiles {
                soft,
                hard,
                problem: None,
            }
        }
        Err(error) => {
            let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
            OpenFiles {
                soft,
                hard,
                problem: Some(error.to_string()),
            }
        }
    }
}

/// Files beyond the connections: the runtime, pipes to the children, the audit file.
const OPEN_FILES_SPARE: u64 = 256;

/// The open files a run needs in this process and in each child (they inherit the limit): one
/// connection per concurrent caller or cold-start call, plus some spare.
pub(crate) fn open_files_needed(cold_start: usize, concurrency: &[usize]) -> u64 {
    let callers = concurrency
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(cold_start);
    callers as u64 + OPEN_FILES_SPARE
}
