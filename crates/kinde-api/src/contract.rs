//! OpenAPI 3.0 schemas as closed JSON Schemas, for contract tests against Kinde's spec.
//!
//! The spec's schemas cannot be handed to a JSON-Schema validator as they are: they use
//! `$ref`s into the document, OpenAPI's `nullable`, `allOf` branches, and open objects that
//! accept any extra property. [`closed_json_schema`] inlines the references, turns `nullable`
//! into a `null` type, merges `allOf` branches into one object, and closes every object with
//! `additionalProperties: false`, so that a misspelt or invented field fails validation instead
//! of passing as an extra property. Both this crate's tests and the emulator's use it.
//!
//! ```
//! use serde_json::json;
//!
//! let spec = json!({"components": {"schemas": {"user": {
//!     "type": "object",
//!     "properties": {"name": {"type": "string", "nullable": true}}
//! }}}});
//! let schema = kinde_api::contract::closed_json_schema(
//!     &spec,
//!     &json!({"$ref": "#/components/schemas/user"}),
//! );
//! assert_eq!(schema["additionalProperties"], json!(false));
//! assert_eq!(schema["properties"]["name"]["type"], json!(["string", "null"]));
//! ```

use serde_json::{Map, Value, json};

/// OpenAPI keywords that JSON Schema does not know, or that only document.
const DROPPED_KEYWORDS: [&str; 5] = [
    "example",
    "nullable",
    "xml",
    "discriminator",
    "externalDocs",
];

/// Follows a local `$ref` (`#/components/...`) within `spec`, repeatedly, if `value` is one.
///
/// # Panics
///
/// When the reference points at nothing: the spec is broken and no test can continue.
pub fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let target = spec
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling reference {reference}"));
            resolve(spec, target)
        }
        None => value,
    }
}

/// `schema` (an OpenAPI 3.0 schema within `spec`) as a closed JSON Schema; see the
/// [module docs](self).
///
/// # Panics
///
/// On a dangling reference, or `properties` / `oneOf` that are not an object / a list.
pub fn closed_json_schema(spec: &Value, schema: &Value) -> Value {
    let schema = resolve(spec, schema);
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };

    let mut out = Map::new();
    for (key, value) in object {
        if DROPPED_KEYWORDS.contains(&key.as_str()) || key.starts_with("x-") {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .expect("properties is an object")
                    .iter()
                    .map(|(name, property)| (name.clone(), closed_json_schema(spec, property)))
                    .collect(),
            ),
            "items" | "additionalProperties" if value.is_object() => {
                closed_json_schema(spec, value)
            }
            "oneOf" | "anyOf" => Value::Array(
                value
                    .as_array()
                    .expect("a list of schemas")
                    .iter()
                    .map(|branch| closed_json_schema(spec, branch))
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }

    if let Some(branches) = object.get("allOf").and_then(Value::as_array) {
        out.remove("allOf");
        let mut properties = Map::new();
        let mut required = Vec::new();
        for branch in branches {
            let branch = closed_json_schema(spec, branch);
            if let Some(props) = branch.get("properties").and_then(Value::as_object) {
                properties.extend(props.clone());
            }
            if let Some(list) = branch.get("required").and_then(Value::as_array) {
                required.extend(list.iter().cloned());
            }
        }
        out.insert("type".into(), json!("object"));
        out.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
    }

    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), json!(false));
    }
    if object.get("nullable").and_then(Value::as_bool) == Some(true) {
        if let Some(ty) = out.get("type").and_then(Value::as_str) {
            out.insert("type".into(), json!([ty, "null"]));
        }
        if let Some(values) = out.get_mut("enum").and_then(Value::as_array_mut) {
            values.push(Value::Null);
        }
    }
    Value::Object(out)
}
