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

/// Reads the spec into models and operations, applying the overrides in `overrides_yaml`.
fn analyse(spec: &Spec, overrides_yaml: &str) -> Result<Generated> {
    let overrides: Overrides = serde_yaml_ng::from_str(overrides_yaml)
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

/// Generates every file, with the committed overrides.
pub(crate) fn all(spec: &Spec) -> Result<Files> {
    all_with(spec, OVERRIDES)
}

fn all_with(spec: &Spec, overrides_yaml: &str) -> Result<Files> {
    let Generated {
        registry,
        operations,
    } = analyse(spec, overrides_yaml)?;
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
    let gateway = crate::emit_gateway::files(
        &registry,
        &operations,
        &contract.shared_models,
        &request_models,
    )?;
    for (path, text) in gateway {
        files.insert(path, text);
    }
    for (path, text) in crate::emit_client::files(&registry, &operations)? {
        files.insert(path, text);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
openapi: 3.0.0
info: { title: t, version: '1' }
paths:
  /api/v1/things:
    get:
      operationId: getThings
      tags: [Things]
      x-scope: read:things
      parameters:
        - { name: page_size, in: query, schema: { type: integer, nullable: true } }
        - { name: next_token, in: query, schema: { type: string, nullable: true } }
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/things_response' }
        '403': { description: no }
  /api/v1/things/{thing_id}:
    put:
      operationId: rotateApiKey
      tags: [Things]
      description: 'Needs <code>update:things</code>'
      parameters:
        - { name: thing_id, in: path, required: true, schema: { type: string } }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                name: { type: string, nullable: true }
                kind: { type: string, enum: [big, 'very small'] }
              required: [kind]
      responses:
        '201': { description: rotated }
components:
  schemas:
    things_response:
      type: object
      properties:
        code: { type: string, example: OK }
        next_token: { type: string }
        things:
          type: array
          items:
            type: object
            properties:
              id: { type: string, example: thing_1 }
              created_on: { type: string, format: date-time }
"#;

    const OVERRIDES: &str = r#"
idempotency:
  rotateApiKey: { idempotent: false, reason: rotates on every call }
page_items: {}
secrets:
  - { field: RotateApiKeyRequest.name, reason: a test secret }
"#;

    fn analyse_text(text: &str) -> Result<Generated> {
        analyse(&Spec::parse(text)?, OVERRIDES)
    }

    #[test]
    fn reads_operations_scopes_pagination_and_overrides() {
        let generated = analyse_text(MINIMAL).expect("generates");
        let [list, put] = generated.operations.as_slice() else {
            panic!("two operations expected");
        };
        assert_eq!(list.scope.as_deref(), Some("read:things"));
        let page = list.pagination.as_ref().expect("paginated");
        assert_eq!(page.items_field, "things");
        // The scope comes from the description when there is no x-scope; the override file
        // turns this PUT (named like the real rotating one) non-idempotent.
        assert_eq!(put.scope.as_deref(), Some("update:things"));
        assert_eq!(put.success, [201]);
        assert!(!put.idempotent);
        assert!(put.idempotency_reason.is_some());
    }

    #[test]
    fn names_inline_types_after_their_place() {
        let generated = analyse_text(MINIMAL).expect("generates");
        let names: Vec<&str> = generated
            .registry
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "ThingsResponse",
                "ThingsResponseThing",
                "RotateApiKeyRequest"
            ]
        );
        let kind = generated
            .registry
            .enum_def("RotateApiKeyRequestKind")
            .expect("enum");
        assert_eq!(kind.values, ["big", "very small"]);
    }

    #[test]
    fn output_is_deterministic() {
        let spec = Spec::parse(MINIMAL).expect("parses");
        let first = all_with(&spec, OVERRIDES).expect("first");
        assert_eq!(first, all_with(&spec, OVERRIDES).expect("second"));
        let models = &first["crates/kinde-api/src/generated/models.rs"];
        assert!(
            models.contains("pub name: Option<Option<Redacted<String>>>"),
            "{models}"
        );
        assert!(
            models.contains("pub kind: RotateApiKeyRequestKind"),
            "{models}"
        );
    }

    #[test]
    fn unsupported_constructs_fail_naming_the_schema_and_field() {
        let text = MINIMAL.replace(
            "created_on: { type: string, format: date-time }",
            "created_on: { anyOf: [{ type: string }, { type: integer }] }",
        );
        let error = analyse_text(&text)
            .expect_err("anyOf is unsupported")
            .to_string();
        assert!(error.contains("things_response"), "{error}");
        assert!(error.contains("created_on"), "{error}");
        assert!(error.contains("anyOf"), "{error}");
    }

    #[test]
    fn a_stale_secret_rule_fails() {
        let overrides = OVERRIDES.replace("RotateApiKeyRequest.name", "RotateApiKeyRequest.gone");
        let error = analyse(&Spec::parse(MINIMAL).expect("parses"), &overrides)
            .expect_err("stale rule")
            .to_string();
        assert!(error.contains("RotateApiKeyRequest.gone"), "{error}");
    }

    #[test]
    fn a_required_property_that_is_not_declared_fails() {
        let text = MINIMAL.replace("required: [kind]", "required: [kind, colour]");
        let error = analyse_text(&text).expect_err("undeclared").to_string();
        assert!(error.contains("colour"), "{error}");
    }
}
