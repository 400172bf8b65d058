//! Serde support for tri-state fields: absent, `null`, or a value.
//!
//! A request field declared nullable is an `Option<Option<T>>`: `None` leaves the field out,
//! `Some(None)` sends `null` (which clears the value on a PATCH), `Some(Some(v))` sends `v`.
//! Used by the generated models as `#[serde(default, skip_serializing_if = "Option::is_none",
//! with = "crate::nullable")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes a present field: `Some(None)` as `null`, `Some(Some(v))` as `v`. Absent fields are
/// skipped before this runs.
#[allow(clippy::ref_option, reason = "the signature serde's `with` requires")]
pub(crate) fn serialize<T, S>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Serialize,
    S: Serializer,
{
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Deserializes a present field: `null` becomes `Some(None)`. An absent field never reaches
/// this and takes the `default` of `None`.
pub(crate) fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
