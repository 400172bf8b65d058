//! Conversions between JSON (as the Kinde models hold free-form values) and the protobuf
//! well-known `Struct` and `Value` types the contract uses for them.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde::de::DeserializeOwned;

use crate::call::CallError;

/// A JSON object as a protobuf `Struct`.
pub(crate) fn to_struct(map: serde_json::Map<String, serde_json::Value>) -> Struct {
    Struct {
        fields: map
            .into_iter()
            .map(|(key, value)| (key, to_value(value)))
            .collect(),
    }
}

/// A protobuf `Struct` as a JSON object.
pub(crate) fn from_struct(value: Struct) -> serde_json::Map<String, serde_json::Value> {
    value
        .fields
        .into_iter()
        .map(|(key, value)| (key, from_value(value)))
        .collect()
}

/// A JSON value as a protobuf `Value`. Numbers become doubles, as protobuf has no other.
pub(crate) fn to_value(value: serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(to_struct(map)),
    };
    Value { kind: Some(kind) }
}

/// A protobuf `Value` as JSON. Whole doubles become integers, since Kinde's numbers are.
pub(crate) fn from_value(value: Value) -> serde_json::Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(from_value).collect())
        }
        Some(Kind::StructValue(object)) => serde_json::Value::Object(from_struct(object)),
    }
}

fn number(n: f64) -> serde_json::Value {
    // Within ±2^53 a whole double is exactly an integer.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() <= EXACT {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "checked whole and in range above"
        )]
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// A protobuf `Value` as a model value, if it has one of the value's types.
pub(crate) fn deserialize_value<T: DeserializeOwned>(value: Value) -> Option<T> {
    serde_json::from_value(from_value(value)).ok()
}

/// A required request field holding a union of scalar types.
pub(crate) fn required_union<T: DeserializeOwned>(
    value: Option<Value>,
    field: &'static str,
) -> Result<T, CallError> {
    let invalid = |description: &str| CallError::InvalidArgument {
        field,
        description: description.to_owned(),
    };
    let value = value.ok_or_else(|| invalid("the body field is required"))?;
    deserialize_value(value).ok_or_else(|| invalid("the value has a type the field does not take"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_survives_a_round_trip_through_struct() {
        let json = serde_json::json!({
            "name": "Ada", "age": 36, "ratio": 0.5, "tags": ["a", "b"], "nested": {"ok": true},
            "missing": null
        });
        let serde_json::Value::Object(map) = json.clone() else {
            unreachable!()
        };
        let back = serde_json::Value::Object(from_struct(to_struct(map)));
        assert_eq!(back, json);
    }
}
