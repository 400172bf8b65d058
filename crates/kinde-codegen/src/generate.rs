//! The whole pipeline: spec -> registry and operations -> every generated file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::emit_proto;
use crate::emit_rust;
use crate::error::{Error, Result};
use crate::examples;
use crate::model::{ModelKind, Registry, SecretRule, Ty};
use crate::operations::{self, OperationOverrides};
use crate::spec::Spec;

/// Where the Rust files of `kinde-api` go, relative to the repository root.
pub(crate) const API_GENERATED_DIR: &str = "crates/kinde-api/src/generated";
/// Where the example bodies go.
pub(crate) const EXAMPLES_DIR: &str = "crates/kinde-api/examples-json";
/// The generated round-trip test.
pub(crate) const ROUNDTRIP_TEST: &str = "crates/kinde-api/tests/examples_roundtrip.rs";

/// The hand-kept overrides, compiled into the generator so that its output depends only on the
/// spec and this repository.
const OVERRIDES: &str = include_str!("../overrides.yaml");

#[derive(Debug, Deserialize)]
struct Overrides {
    #[serde(flatten)]
    operations: OperationOverrides,
    secrets: Vec<SecretEntry>,
}

#[derive(Debug, Deserialize)]
struct SecretEntry {
    field: String,
    #[allow(dead_code, reason = "documentation for readers of the overrides file")]
    reason: String,
}

/// Relative path -> file contents, for every generated file.
pub(crate) type Files = BTreeMap<String, String>;

/// Everything derived from the spec, before it is written out.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) registry: Registry,
    pub(crate) operations: Vec<operations::Operation>,
}

/// Reads the spec into models and operations.
pub(crate) fn analyse(spec: &Spec) -> Result<Generated> {
    let overrides: Overrides = serde_yaml_ng::from_str(OVERRIDES)
        .map_err(|e| Error::new(format!("overrides.yaml: {e}")))?;
    let mut registry = Registry::with_components(spec)?;
    let operations = operations::collect(spec, &mut registry, &overrides.operations)?;
    let rules = overrides
        .secrets
        .iter()
        .map(|entry| match entry.field.split_once('.') {
            Some((model, field)) => Ok(SecretRule {
                model: model.to_owned(),
                field: field.to_owned(),
            }),
            None => Err(Error::new(format!(
                "overrides.yaml: secret `{}` is not Model.field",
                entry.field
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    registry.mark_secrets(&rules)?;
    Ok(Generated {
        registry,
        operations,
    })
}

/// Generates every file.
pub(crate) fn all(spec: &Spec) -> Result<Files> {
    let Generated {
        registry,
        operations,
    } = analyse(spec)?;
    let mut files = Files::new();

    let request_models = request_models(&registry, &operations);
    let response_types: Vec<String> = operations
        .iter()
        .filter_map(|op| match &op.response {
            Some(Ty::Model(name)) => Some(name.clone()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    for name in &response_types {
        let example = examples::example(&registry, &Ty::Model(name.clone()))?;
        let text = serde_json::to_string_pretty(&example)
            .map_err(|e| Error::new(format!("example {name}: {e}")))?;
        files.insert(
            format!("{EXAMPLES_DIR}/{}.json", emit_rust::example_file(name)),
            text + "\n",
        );
    }

    let contract = emit_proto::contract(&registry, &operations)?;
    files.insert(
        format!("{API_GENERATED_DIR}/models.rs"),
        emit_rust::models(&registry, &request_models)?,
    );
    files.insert(
        format!("{API_GENERATED_DIR}/operations.rs"),
        emit_rust::operation_table(&registry, &operations)?,
    );
    files.insert(
        format!("{API_GENERATED_DIR}/examples.rs"),
        emit_rust::example_index(&response_types),
    );
    files.insert(
        format!("{API_GENERATED_DIR}/mod.rs"),
        generated_mod(&contract.secret_messages),
    );
    files.insert(
        ROUNDTRIP_TEST.to_owned(),
        emit_rust::roundtrip_test(&response_types),
    );
    for file in contract.files {
        files.insert(format!("{}/{}", emit_proto::DIR, file.name), file.text);
    }
    Ok(files)
}

fn generated_mod(secret_messages: &[String]) -> String {
    let mut out = String::from(emit_rust::RUST_HEADER);
    out.push_str(
        "\n//! Code generated from the spec: models, the operation table, the example index.\n\n\
         pub mod examples;\npub mod models;\npub(crate) mod operations;\n\n\
         /// Fully qualified gRPC messages of `proto/kinde/management/v1` that hold a secret\n\
         /// field. Code generated from the contract must keep them out of `Debug` output.\n\
         pub static PROTO_SECRET_MESSAGES: &[&str] = &[\n",
    );
    for name in secret_messages {
        out.push_str(&format!("    {name:?},\n"));
    }
    out.push_str("];\n");
    out
}

/// Every model reachable from a request body: nullable fields there become tri-state.
fn request_models(registry: &Registry, operations: &[operations::Operation]) -> BTreeSet<String> {
    let mut pending: Vec<String> = operations
        .iter()
        .filter_map(|op| op.body.as_ref().map(|b| b.model.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(model) = registry.model(&name) else {
            continue;
        };
        let types: Vec<&Ty> = match &model.kind {
            ModelKind::Struct(fields) => fields.iter().map(|f| &f.ty).collect(),
            ModelKind::Alias(ty) => vec![ty],
        };
        for ty in types {
            collect_models(ty, &mut pending);
        }
    }
    seen
}

fn collect_models(ty: &Ty, into: &mut Vec<String>) {
    match ty {
        Ty::Model(name) => into.push(name.clone()),
        Ty::Array(inner) | Ty::Map(inner) => collect_models(inner, into),
        _ => {}
    }
}
