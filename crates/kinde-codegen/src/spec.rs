//! Loading the OpenAPI document and small helpers for walking it.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result, bail};

/// The parsed OpenAPI document, kept as an ordered YAML tree so that the generated code follows
/// the spec's own order of properties and operations.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) root: Value,
}

impl Spec {
    /// Reads and parses the spec at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read spec {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses a spec from YAML text.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let root: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| Error::new(format!("the spec is not valid YAML: {e}")))?;
        match root.get("openapi").and_then(Value::as_str) {
            Some(version) if version.starts_with("3.0") => Ok(Self { root }),
            Some(version) => bail!("unsupported OpenAPI version {version}, expected 3.0.x"),
            None => bail!("the spec has no `openapi` version field"),
        }
    }

    /// Follows a local `$ref` of the form `#/components/<kind>/<name>` once.
    pub(crate) fn resolve<'a>(&'a self, value: &'a Value) -> Result<&'a Value> {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok(value);
        };
        let mut target = &self.root;
        let Some(pointer) = reference.strip_prefix("#/") else {
            bail!("unsupported non-local reference `{reference}`");
        };
        for segment in pointer.split('/') {
            target = target
                .get(segment)
                .ok_or_else(|| Error::new(format!("dangling reference `{reference}`")))?;
        }
        Ok(target)
    }
}

/// The component schema name a `$ref` points at, if `value` is a schema reference.
pub(crate) fn schema_ref(value: &Value) -> Option<&str> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// A string field of a mapping.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A boolean field of a mapping, `false` when absent.
pub(crate) fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A mapping field, or an empty mapping when absent.
pub(crate) fn mapping<'a>(value: &'a Value, key: &str) -> &'a Mapping {
    static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
    value
        .get(key)
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| EMPTY.get_or_init(Mapping::new))
}

/// The entries of a mapping as `(key, value)` pairs with string keys, in document order.
pub(crate) fn entries(map: &Mapping) -> impl Iterator<Item = (&str, &Value)> {
    map.iter()
        .filter_map(|(k, v)| k.as_str().map(|key| (key, v)))
}

/// Converts a YAML value (an example) into JSON.
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::new(format!("example is not JSON: {e}")))
}
