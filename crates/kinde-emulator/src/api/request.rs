//! Reading a Management API request: its query string and JSON body, checked against the
//! operation table.

use std::collections::BTreeMap;

use kinde_api::{MediaType, Operation, Param, ParamLocation, ValueKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The code of a 400 for a query or body parameter that is unknown or of the wrong kind.
pub(crate) const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
/// The code of a 400 for a required parameter that is missing.
pub(crate) const MISSING_PARAMETER: &str = "MISSING_PARAMETER";
/// The code of a 400 for a body that is not JSON, or not the operation's shape.
pub(crate) const INVALID_BODY: &str = "INVALID_REQUEST_BODY";

/// A request matched to its operation, with parameters checked.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    /// The operation.
    pub(crate) operation: &'static Operation,
    /// Path parameters by name.
    pub(crate) path: BTreeMap<&'static str, String>,
    /// Query parameters in order (names may repeat).
    pub(crate) query: Vec<(String, String)>,
    /// The JSON body, if one was sent.
    pub(crate) body: Option<Value>,
}

impl ApiRequest {
    /// Checks the query and body of a request against `operation`.
    ///
    /// # Errors
    ///
    /// A 400 for invalid UTF-8, an unknown query parameter, a value of the wrong kind, a missing
    /// required parameter, or a body that is not JSON.
    pub(crate) fn parse(
        operation: &'static Operation,
        path: BTreeMap<&'static str, String>,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let query = parse_query(query.unwrap_or_default())?;
        check_query(operation, &query)?;
        let body = parse_body(operation, body)?;
        Ok(Self {
            operation,
            path,
            query,
            body,
        })
    }

    /// A path parameter.
    pub(crate) fn path(&self, name: &str) -> &str {
        self.path.get(name).map_or("", String::as_str)
    }

    /// The first value of a query parameter, if present and not empty.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// A comma-separated query parameter as its items.
    pub(crate) fn query_list(&self, name: &str) -> Vec<&str> {
        self.query(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A required query parameter.
    ///
    /// # Errors
    ///
    /// A 400 when it is missing.
    pub(crate) fn required_query(&self, name: &str) -> Result<&str, ApiError> {
        self.query(name)
            .ok_or_else(|| ApiError::bad_request(MISSING_PARAMETER, format!("{name} is required")))
    }

    /// The body as a model, an empty object standing in for a missing body.
    ///
    /// # Errors
    ///
    /// A 400 when the body does not fit the model.
    pub(crate) fn body_as<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let value = self
            .body
            .clone()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        serde_json::from_value(value)
            .map_err(|error| ApiError::bad_request(INVALID_BODY, format!("invalid body: {error}")))
    }
}

/// Splits a query string into decoded pairs, rejecting invalid UTF-8.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_component(key)?, decode_component(value)?))
        })
        .collect()
}

/// Decodes `+` and `%XX` in one query component.
fn decode_component(raw: &str) -> Result<String, ApiError> {
    let invalid =
        || ApiError::bad_request(INVALID_PARAMETER, "the query string is not valid UTF-8");
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(invalid)?;
                decoded.push(hex);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| invalid())
}

/// Rejects unknown query parameters and values of the wrong kind, and requires the required ones.
fn check_query(operation: &Operation, query: &[(String, String)]) -> Result<(), ApiError> {
    let declared = || {
        operation
            .params
            .iter()
            .filter(|param| param.location == ParamLocation::Query)
    };

    for (key, value) in query {
        let param = declared()
            .find(|param| {
                key == param.name
                    || (param.deep_object
                        && key
                            .strip_prefix(param.name)
                            .is_some_and(|rest| rest.starts_with('[')))
            })
            .ok_or_else(|| {
                ApiError::bad_request(INVALID_PARAMETER, format!("unknown parameter: {key}"))
            })?;
        if !param.deep_object && !value.is_empty() && !query_value_fits(param, value) {
            return Err(ApiError::bad_request(
                INVALID_PARAMETER,
                format!("invalid value for {}", param.name),
            ));
        }
    }

    for param in declared().filter(|param| param.required) {
        let present = query
            .iter()
            .any(|(key, value)| key == param.name && !value.is_empty());
        if !present {
            return Err(ApiError::bad_request(
                MISSING_PARAMETER,
                format!("{} is required", param.name),
            ));
        }
    }
    Ok(())
}

fn query_value_fits(param: &Param, value: &str) -> bool {
    match param.kind {
        ValueKind::Integer => value.parse::<i64>().is_ok(),
        ValueKind::Number => value.parse::<f64>().is_ok(),
        ValueKind::Boolean => matches!(value, "true" | "false"),
        ValueKind::String if !param.values.is_empty() => param.values.contains(&value),
        _ => true,
    }
}

/// Parses a JSON body and checks its top-level fields against the operation's.
fn parse_body(operation: &Operation, body: &[u8]) -> Result<Option<Value>, ApiError> {
    let Some(declared) = operation
        .body
        .filter(|body| body.media_type == MediaType::Json)
    else {
        return Ok(None);
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        if declared.required && declared.fields.iter().any(|field| field.required) {
            return Err(ApiError::bad_request(
                INVALID_BODY,
                "a JSON body is required",
            ));
        }
        return Ok(None);
    }

    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request(INVALID_BODY, "the body is not valid UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|error| ApiError::bad_request(INVALID_BODY, format!("invalid JSON: {error}")))?;

    if !declared.fields.is_empty() {
        let object = value
            .as_object()
            .ok_or_else(|| ApiError::bad_request(INVALID_BODY, "the body must be a JSON object"))?;
        for field in declared.fields {
            match object.get(field.name) {
                None if field.required => {
                    return Err(ApiError::bad_request(
                        MISSING_PARAMETER,
                        format!("{} is required", field.name),
                    ));
                }
                Some(value) if !json_value_fits(field, value) => {
                    return Err(ApiError::bad_request(
                        INVALID_PARAMETER,
                        format!("invalid value for {}", field.name),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(Some(value))
}

fn json_value_fits(field: &Param, value: &Value) -> bool {
    match (field.kind, value) {
        (_, Value::Null) => field.nullable || !field.required,
        (ValueKind::String, Value::String(text)) => {
            field.values.is_empty() || field.values.contains(&text.as_str())
        }
        (ValueKind::Integer, Value::Number(number)) => number.is_i64() || number.is_u64(),
        (ValueKind::Number, Value::Number(_))
        | (ValueKind::Boolean, Value::Bool(_))
        | (ValueKind::Array, Value::Array(_))
        | (ValueKind::Object, Value::Object(_))
        | (ValueKind::Any, _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_decode_and_reject_bad_utf8() {
        assert_eq!(decode_component("a+b%2Cc").ok().as_deref(), Some("a b,c"));
        assert!(decode_component("%ff%fe").is_err());
        assert!(decode_component("%zz").is_err());
        assert!(decode_component("%4").is_err());
    }
}
