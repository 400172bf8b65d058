//! Example bodies built from the spec's field-level examples.
//!
//! The spec has no whole-response examples, so each example is assembled field by field: a
//! field's own example when it fits the field's type, otherwise a value made from the type. Every
//! declared field is present, so a model that drops a field fails the round-trip test.

use serde_json::{Map, Value, json};

use crate::error::{Result, bail};
use crate::model::{Field, ModelKind, Registry, Ty};

/// How deep models may nest before the generator assumes a cycle.
const MAX_DEPTH: usize = 16;

/// Builds an example value of type `ty`.
pub(crate) fn example(registry: &Registry, ty: &Ty) -> Result<Value> {
    build(registry, ty, None, 0)
}

fn build(registry: &Registry, ty: &Ty, given: Option<&Value>, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        bail!("models nest deeper than {MAX_DEPTH} levels; is there a cycle?");
    }
    if let Some(given) = given
        && fits(registry, ty, given)
    {
        return Ok(given.clone());
    }
    Ok(match ty {
        Ty::String(format) => match format.as_deref() {
            Some("date-time") => json!("2024-01-01T00:00:00Z"),
            Some("uuid") => json!("018f331a-3178-7fef-884b-95fe67703840"),
            _ => json!("string"),
        },
        Ty::Integer => json!(1),
        Ty::Number => json!(1.5),
        Ty::Boolean => json!(true),
        Ty::Array(item) => {
            // A list example whose items fit is kept whole; otherwise the first fitting item is
            // used, or one built from the item type.
            let from_given = given
                .and_then(Value::as_array)
                .and_then(|items| items.iter().find(|i| fits(registry, item, i)));
            Value::Array(vec![build(registry, item, from_given, depth + 1)?])
        }
        Ty::Map(value) => {
            let mut map = Map::new();
            map.insert("key".to_owned(), build(registry, value, None, depth + 1)?);
            Value::Object(map)
        }
        Ty::Object => json!({ "key": "value" }),
        Ty::Any => json!("value"),
        Ty::Enum(name) => match registry.enum_def(name).and_then(|e| e.values.first()) {
            Some(first) => json!(first),
            None => bail!("enum `{name}` has no values"),
        },
        Ty::Union(name) => match registry.union(name).and_then(|u| u.variants.first()) {
            Some(first) => build(registry, first, None, depth + 1)?,
            None => bail!("union `{name}` has no variants"),
        },
        Ty::Model(name) => {
            let Some(model) = registry.model(name) else {
                bail!("unknown model `{name}`");
            };
            match &model.kind {
                ModelKind::Alias(inner) => build(registry, inner, given, depth + 1)?,
                ModelKind::Struct(fields) => {
                    let mut object = Map::new();
                    for field in fields.iter().filter(|f| in_example(model, f)) {
                        let value = build(registry, &field.ty, field.example.as_ref(), depth + 1)?;
                        object.insert(field.name.clone(), value);
                    }
                    Value::Object(object)
                }
            }
        }
    })
}

fn in_example(model: &crate::model::Model, field: &Field) -> bool {
    model
        .example_fields
        .as_ref()
        .is_none_or(|names| names.contains(&field.name))
}

/// Whether a spec example fits a type closely enough to use it as is. Objects are always built
/// field by field, so that every declared field appears and no undeclared one does.
fn fits(registry: &Registry, ty: &Ty, value: &Value) -> bool {
    match (ty, value) {
        (Ty::String(Some(format)), Value::String(s)) if format == "date-time" => {
            s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T')
        }
        (Ty::String(_), Value::String(_)) => true,
        (Ty::Integer, Value::Number(n)) => n.is_i64(),
        (Ty::Number, Value::Number(n)) => n.is_f64(),
        (Ty::Boolean, Value::Bool(_)) => true,
        (Ty::Array(item), Value::Array(items)) => {
            !items.is_empty() && items.iter().all(|i| fits(registry, item, i))
        }
        (Ty::Map(inner), Value::Object(map)) => {
            !map.is_empty() && map.values().all(|v| fits(registry, inner, v))
        }
        (Ty::Object, Value::Object(map)) => !map.is_empty(),
        (Ty::Any, value) => !value.is_null(),
        (Ty::Enum(name), Value::String(s)) => registry
            .enum_def(name)
            .is_some_and(|e| e.values.iter().any(|v| v == s)),
        (Ty::Union(name), value) => registry
            .union(name)
            .is_some_and(|u| u.variants.iter().any(|v| fits(registry, v, value))),
        (Ty::Model(name), value) => match registry.model(name).map(|m| &m.kind) {
            Some(ModelKind::Alias(inner)) => fits(registry, inner, value),
            _ => false,
        },
        _ => false,
    }
}
