//! Every operation against the emulator on loopback, through the whole client: the `tower-m2m`
//! stack over reqwest, a real token from the emulator's token endpoint, and the emulator's
//! routes. After each call the emulator's request log must hold exactly one new API request,
//! with the operation's method, path and query, matched to the same operation id; and the
//! response must have parsed into the generated type.
//!
//! Operations the emulator answers from its state get sample ids that do not exist, so they may
//! fail instead, but only as Kinde would: a 4xx whose body carries Kinde's error codes.
//!
//! Real time over a real socket; nothing here depends on how fast it runs.

mod common;

use std::collections::BTreeSet;

use kinde_management::{Error, ErrorKind};

use common::{Kinde, calls};

/// Checks each call against the emulator's request log.
struct LogProbe<'a> {
    kinde: &'a Kinde,
    /// How many API requests the log held before the current call.
    logged: usize,
    /// The operations that answered with success.
    succeeded: BTreeSet<&'static str>,
    /// The stateful operations that answered with a Kinde error, and its code.
    refused: Vec<(&'static str, u16, String)>,
}

impl calls::Probe for LogProbe<'_> {
    async fn before(&mut self, _operation_id: &'static str) {}

    async fn after(
        &mut self,
        operation_id: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static [&'static str],
        outcome: Result<(), Error>,
    ) {
        let requests = self.kinde.api_requests().await;
        let new = &requests[self.logged..];
        self.logged = requests.len();
        assert_eq!(new.len(), 1, "{operation_id}: API requests sent: {new:#?}");
        let request = &new[0];

        assert_eq!(request.method, method, "{operation_id}: method");
        assert_eq!(request.path, path, "{operation_id}: path");
        let sent: BTreeSet<&str> = request.query_pairs().into_iter().collect();
        let expected: BTreeSet<&str> = query.iter().copied().collect();
        assert_eq!(sent, expected, "{operation_id}: query pairs");
        assert_eq!(
            request.operation_id.as_deref(),
            Some(operation_id),
            "{operation_id}: the operation the emulator matched"
        );

        match outcome {
            Ok(()) => {
                assert!(
                    (200..300).contains(&request.status),
                    "{operation_id}: parsed a {} as success",
                    request.status
                );
                self.succeeded.insert(operation_id);
            }
            Err(error) => {
                assert!(
                    kinde_emulator::is_stateful(operation_id),
                    "{operation_id} answers its example, yet failed: {error}"
                );
                assert_eq!(error.kind(), ErrorKind::Api, "{operation_id}: {error}");
                let status = error.status().expect("an answered call has a status");
                assert!(status.is_client_error(), "{operation_id}: {error}");
                assert_eq!(status.as_u16(), request.status, "{operation_id}: status");
                let code = error.code().unwrap_or_default().to_owned();
                assert!(
                    !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                    "{operation_id}: no Kinde error code parsed from the body: {error}"
                );
                assert!(error.request_id().is_some(), "{operation_id}: request id");
                self.refused.push((operation_id, status.as_u16(), code));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_reaches_the_emulator_and_parses_its_answer() {
    let kinde = Kinde::start().await;
    let client = kinde.client();
    let mut probe = LogProbe {
        kinde: &kinde,
        logged: 0,
        succeeded: BTreeSet::new(),
        refused: Vec::new(),
    };

    let called = calls::call_every_operation(&client, &mut probe).await;

    assert_eq!(called, kinde_api::OPERATIONS.len());
    assert_eq!(probe.succeeded.len() + probe.refused.len(), called);
    for operation in kinde_api::OPERATIONS {
        if !kinde_emulator::is_stateful(operation.id) {
            assert!(probe.succeeded.contains(operation.id), "{}", operation.id);
        }
    }
    // The stateful lists and creates need no existing id, so they succeed too.
    for operation_id in ["getUsers", "getOrganizations", "GetRoles", "GetPermissions"] {
        assert!(
            probe.succeeded.contains(operation_id),
            "{operation_id}: {:?}",
            probe.refused
        );
    }

    // One token for the whole run: the stack cached it across every call.
    let stats = kinde.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["api_requests"], called, "{stats}");
}
