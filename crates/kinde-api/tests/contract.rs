//! Every generated example validates against the response schema the official spec declares.
//!
//! This runs when `KINDE_OPENAPI_SPEC` points at Kinde's spec (`.ci/run` and the test script set
//! it). The spec's schemas are converted to JSON Schema: references inlined, OpenAPI's
//! `nullable` turned into a `null` type, `allOf` branches merged into one object, and every
//! object closed with `additionalProperties: false`, so a misspelt or invented field fails
//! instead of passing as an extra property.

use kinde_api::contract::closed_json_schema;
use serde_json::{Value, json};

fn load_spec() -> Option<Value> {
    let Ok(path) = std::env::var("KINDE_OPENAPI_SPEC") else {
        println!(
            "skipped: KINDE_OPENAPI_SPEC is not set, so there is no spec to validate the \
             examples against (point it at kinde-mgmt-api-specs.yaml to run this test)"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    Some(serde_yaml_ng::from_str(&text).expect("the spec is YAML"))
}

/// The JSON schema of an operation's first 2xx response body, if it declares one.
fn success_schema(spec: &Value, operation: &Value) -> Option<Value> {
    let responses = operation.get("responses")?.as_object()?;
    responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .find_map(|(_, response)| {
            let content = response.get("content")?.as_object()?;
            content
                .values()
                .find_map(|media| media.get("schema").cloned())
        })
        .map(|schema| closed_json_schema(spec, &schema))
}

#[test]
fn every_response_example_validates_against_the_spec() {
    let Some(spec) = load_spec() else { return };
    let paths = spec["paths"].as_object().expect("paths");
    let mut failures = Vec::new();
    let mut validated = 0;

    for item in paths.values() {
        for (method, operation) in item.as_object().expect("path item") {
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let op = kinde_api::operation(id)
                .unwrap_or_else(|| panic!("{method} {id} is missing from the table"));
            let schema = success_schema(&spec, operation);
            let example = op.response_example();
            let (schema, example) = match (schema, example) {
                (Some(schema), Some(example)) => (schema, example),
                (None, None) => continue,
                (schema, example) => {
                    failures.push(format!(
                        "{id}: spec declares a body: {}, table has an example: {}",
                        schema.is_some(),
                        example.is_some()
                    ));
                    continue;
                }
            };
            let instance: Value = serde_json::from_str(example).expect("examples are JSON");
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{id}: converted schema is invalid: {e}"));
            for error in validator.iter_errors(&instance) {
                failures.push(format!("{id}: at {}: {error}", error.instance_path()));
            }
            validated += 1;
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(validated > 150, "only {validated} operations validated");
    println!("validated the example of {validated} operations against the spec");
}

#[test]
fn an_invented_field_fails_validation() {
    let Some(spec) = load_spec() else { return };
    let schema = closed_json_schema(&spec, &json!({ "$ref": "#/components/schemas/user" }));
    let validator = jsonschema::validator_for(&schema).expect("valid schema");

    let example: Value =
        serde_json::from_str(kinde_api::response_example("User").expect("User example"))
            .expect("JSON");
    assert!(validator.is_valid(&example));

    let mut misspelt = example.clone();
    let fields = misspelt.as_object_mut().expect("object");
    let first_name = fields.remove("first_name").expect("has first_name");
    fields.insert("firstName".to_owned(), first_name);
    assert!(!validator.is_valid(&misspelt), "a misspelt field must fail");
}
