//! The generator's view of the spec's schemas: named models, open enums and scalar unions.
//!
//! Every component schema becomes a model named after it (`get_users_response` ->
//! `GetUsersResponse`). Inline schemas are named after where they sit: a request body after its
//! operation (`CreateUserRequest`), a property after its parent (`UserIdentity` for the items of
//! `user.identities`). Names are checked for collisions instead of being made unique with
//! counters, so a generated name never changes because an unrelated schema was added.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToUpperCamelCase;
use serde_yaml_ng::Value;

use crate::error::{Result, bail};
use crate::spec::{self, Spec};

/// The shape of a value, as far as the generated code needs to know it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// A JSON string, with its OpenAPI `format` if any (`date-time`, `uuid`, `binary`).
    String(Option<String>),
    /// A JSON integer.
    Integer,
    /// A JSON number that may have a fraction.
    Number,
    /// A JSON boolean.
    Boolean,
    /// A JSON array of one item type.
    Array(Box<Ty>),
    /// A JSON object used as a map from string keys to one value type.
    Map(Box<Ty>),
    /// A JSON object whose properties the spec does not describe.
    Object,
    /// Any JSON value.
    Any,
    /// A generated struct (or alias) by name.
    Model(String),
    /// A generated open string enum by name.
    Enum(String),
    /// A generated union of scalar types by name (`oneOf` of string and boolean, say).
    Union(String),
}

/// One property of a model.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    /// The property's JSON name, exactly as the spec spells it.
    pub(crate) name: String,
    pub(crate) ty: Ty,
    /// Listed in the schema's `required`.
    pub(crate) required: bool,
    /// Declared `nullable: true`: `null` is a value distinct from an absent field.
    pub(crate) nullable: bool,
    /// Listed in the overrides file as carrying a secret.
    pub(crate) secret: bool,
    /// The spec's field-level example, if any.
    pub(crate) example: Option<serde_json::Value>,
}

/// What a model is in Rust terms.
#[derive(Clone, Debug)]
pub(crate) enum ModelKind {
    /// A struct with fields.
    Struct(Vec<Field>),
    /// A component schema that is not an object (an array, say): a type alias.
    Alias(Ty),
}

/// A named type generated from an object schema.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    /// The Rust (and proto) type name.
    pub(crate) name: String,
    /// Where in the spec it comes from, for docs and error messages.
    pub(crate) origin: String,
    pub(crate) kind: ModelKind,
    /// For a merged `oneOf` of objects, the fields of the first branch: an example must match
    /// exactly one branch, so it uses these only.
    pub(crate) example_fields: Option<Vec<String>>,
}

impl Model {
    /// The struct fields, empty for an alias.
    pub(crate) fn fields(&self) -> &[Field] {
        match &self.kind {
            ModelKind::Struct(fields) => fields,
            ModelKind::Alias(_) => &[],
        }
    }
}

/// An open string enum: known values plus room for values Kinde adds later.
#[derive(Clone, Debug)]
pub(crate) struct EnumDef {
    pub(crate) name: String,
    pub(crate) origin: String,
    pub(crate) values: Vec<String>,
}

/// A `oneOf` of scalar types.
#[derive(Clone, Debug)]
pub(crate) struct UnionDef {
    pub(crate) name: String,
    pub(crate) origin: String,
    pub(crate) variants: Vec<Ty>,
}

/// Every named type the generator emits, in the order first met in the spec.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) models: Vec<Model>,
    pub(crate) enums: Vec<EnumDef>,
    pub(crate) unions: Vec<UnionDef>,
    names: BTreeSet<String>,
    /// Component schema name -> model name.
    components: BTreeMap<String, String>,
}

/// A secret field named in the overrides file, as `Model.field` (`*` for any model).
#[derive(Clone, Debug)]
pub(crate) struct SecretRule {
    pub(crate) model: String,
    pub(crate) field: String,
}

impl Registry {
    /// Builds models for every component schema, in spec order.
    pub(crate) fn with_components(spec: &Spec) -> Result<Self> {
        let mut registry = Self::default();
        let schemas = spec
            .root
            .get("components")
            .map(|c| spec::mapping(c, "schemas"))
            .ok_or_else(|| crate::error::Error::new("the spec has no components"))?;

        for (schema_name, _) in spec::entries(schemas) {
            let name = type_name(schema_name);
            registry.claim(&name, &format!("schema `{schema_name}`"))?;
            registry.components.insert(schema_name.to_owned(), name);
        }
        for (schema_name, schema) in spec::entries(schemas) {
            let name = registry.components[schema_name].clone();
            let origin = format!("schema `{schema_name}`");
            registry.define(spec, schema, &name, &origin)?;
        }
        Ok(registry)
    }

    /// The model generated for a component schema.
    pub(crate) fn component(&self, schema_name: &str) -> Option<&str> {
        self.components.get(schema_name).map(String::as_str)
    }

    /// Looks a model up by name.
    pub(crate) fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Looks an enum up by name.
    pub(crate) fn enum_def(&self, name: &str) -> Option<&EnumDef> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// Looks a union up by name.
    pub(crate) fn union(&self, name: &str) -> Option<&UnionDef> {
        self.unions.iter().find(|u| u.name == name)
    }

    /// Defines an inline object schema (a request body, an inline response) as a model named
    /// `name`, and returns its type.
    pub(crate) fn inline(
        &mut self,
        spec: &Spec,
        schema: &Value,
        name: &str,
        origin: &str,
    ) -> Result<Ty> {
        self.ty_of(spec, schema, name, origin)
    }

    /// Marks the fields named by the overrides file as secrets. Every rule must match at least
    /// one field.
    pub(crate) fn mark_secrets(&mut self, rules: &[SecretRule]) -> Result<()> {
        let mut unlisted = Vec::new();
        for model in &self.models {
            for field in model.fields() {
                let named = ["secret", "password", "private_key"]
                    .iter()
                    .any(|word| field.name.contains(word));
                let listed = rules.iter().any(|rule| {
                    rule.field == field.name && (rule.model == "*" || rule.model == model.name)
                });
                if named && matches!(field.ty, Ty::String(_)) && !listed {
                    unlisted.push(format!("{}.{}", model.name, field.name));
                }
            }
        }
        if !unlisted.is_empty() {
            bail!(
                "fields named like secrets are not in overrides.yaml: {}",
                unlisted.join(", ")
            );
        }
        for rule in rules {
            let mut matched = false;
            for model in &mut self.models {
                if rule.model != "*" && rule.model != model.name {
                    continue;
                }
                if let ModelKind::Struct(fields) = &mut model.kind {
                    for field in fields.iter_mut().filter(|f| f.name == rule.field) {
                        if !matches!(field.ty, Ty::String(_)) {
                            bail!("secret field {}.{} is not a string", model.name, field.name);
                        }
                        field.secret = true;
                        matched = true;
                    }
                }
            }
            if !matched {
                bail!(
                    "secret rule `{}.{}` matches no field: update overrides.yaml",
                    rule.model,
                    rule.field
                );
            }
        }
        Ok(())
    }

    fn claim(&mut self, name: &str, origin: &str) -> Result<()> {
        if !self.names.insert(name.to_owned()) {
            bail!("generated type name `{name}` (for {origin}) is already taken");
        }
        Ok(())
    }

    /// Defines the model for a component schema under its reserved name.
    fn define(&mut self, spec: &Spec, schema: &Value, name: &str, origin: &str) -> Result<()> {
        if is_object_schema(schema) {
            return self.build_object(spec, schema, name, origin);
        }
        // Not an object: the component becomes an alias of whatever type it describes. Nested
        // types take the component's name with a suffix, since the name itself is the alias.
        let ty = self.ty_of(spec, schema, &format!("{name}Item"), origin)?;
        self.models.push(Model {
            name: name.to_owned(),
            origin: origin.to_owned(),
            kind: ModelKind::Alias(ty),
            example_fields: None,
        });
        Ok(())
    }

    /// The type of `schema`, defining any inline models, enums or unions it needs under names
    /// derived from `hint`.
    fn ty_of(&mut self, spec: &Spec, schema: &Value, hint: &str, origin: &str) -> Result<Ty> {
        if let Some(component) = spec::schema_ref(schema) {
            return match self.components.get(component) {
                Some(name) => Ok(Ty::Model(name.clone())),
                None => bail!("{origin}: reference to unknown schema `{component}`"),
            };
        }
        for unsupported in ["anyOf", "not", "discriminator"] {
            if schema.get(unsupported).is_some() {
                bail!("{origin}: `{unsupported}` is not supported by the generator");
            }
        }
        if schema.get("allOf").is_some() || schema.get("oneOf").is_some() {
            return self.composite(spec, schema, hint, origin);
        }

        match spec::str_field(schema, "type") {
            Some("string") if schema.get("enum").is_some() => {
                self.enumeration(schema, hint, origin)
            }
            Some("string") => Ok(Ty::String(
                spec::str_field(schema, "format").map(str::to_owned),
            )),
            Some("integer") => Ok(Ty::Integer),
            Some("number") => Ok(Ty::Number),
            Some("boolean") => Ok(Ty::Boolean),
            Some("array") => {
                let Some(items) = schema.get("items") else {
                    bail!("{origin}: array without `items`");
                };
                // `UserRoles` holds `UserRole`s, unless that name is taken by another schema.
                let mut item_hint = singular(hint);
                if self.names.contains(&item_hint) {
                    item_hint = format!("{hint}Item");
                }
                let item = self.ty_of(spec, items, &item_hint, origin)?;
                Ok(Ty::Array(Box::new(item)))
            }
            Some("object") | None if is_object_schema(schema) => {
                self.claim(hint, origin)?;
                self.build_object(spec, schema, hint, origin)?;
                Ok(Ty::Model(hint.to_owned()))
            }
            Some("object") => match schema.get("additionalProperties") {
                Some(Value::Mapping(values)) => {
                    let value = Value::Mapping(values.clone());
                    let ty = self.ty_of(spec, &value, &format!("{hint}Value"), origin)?;
                    Ok(Ty::Map(Box::new(ty)))
                }
                Some(Value::Bool(true)) | None => Ok(Ty::Object),
                Some(other) => bail!("{origin}: unsupported additionalProperties {other:?}"),
            },
            None => Ok(Ty::Any),
            Some(other) => bail!("{origin}: unsupported type `{other}`"),
        }
    }

    fn enumeration(&mut self, schema: &Value, hint: &str, origin: &str) -> Result<Ty> {
        let Some(values) = schema.get("enum").and_then(Value::as_sequence) else {
            bail!("{origin}: `enum` is not a list");
        };
        let mut strings = Vec::with_capacity(values.len());
        for value in values {
            match value.as_str() {
                Some(s) => strings.push(s.to_owned()),
                None => bail!("{origin}: enum value {value:?} is not a string"),
            }
        }
        // The same inline enum (for example `sort`) may be met twice under one name; reuse it
        // when the values agree.
        if let Some(existing) = self.enums.iter().find(|e| e.name == hint)
            && existing.values == strings
        {
            return Ok(Ty::Enum(hint.to_owned()));
        }
        self.claim(hint, origin)?;
        self.enums.push(EnumDef {
            name: hint.to_owned(),
            origin: origin.to_owned(),
            values: strings,
        });
        Ok(Ty::Enum(hint.to_owned()))
    }

    /// `allOf` (merged into one object) and `oneOf` (a union of scalars, or one object holding
    /// the properties of every branch).
    fn composite(&mut self, spec: &Spec, schema: &Value, hint: &str, origin: &str) -> Result<Ty> {
        let (keyword, branches) = match (schema.get("allOf"), schema.get("oneOf")) {
            (Some(all), None) => ("allOf", all),
            (None, Some(one)) => ("oneOf", one),
            _ => bail!("{origin}: both allOf and oneOf on one schema"),
        };
        let Some(branches) = branches.as_sequence() else {
            bail!("{origin}: `{keyword}` is not a list");
        };
        let resolved: Vec<&Value> = branches
            .iter()
            .map(|b| spec.resolve(b))
            .collect::<Result<_>>()?;

        let all_objects = resolved.iter().all(|b| is_object_schema(b));
        if keyword == "oneOf" && !all_objects {
            let mut variants = Vec::new();
            for branch in &resolved {
                let ty = self.ty_of(spec, branch, hint, origin)?;
                if !is_scalar(&ty) {
                    bail!("{origin}: oneOf mixes objects and scalars");
                }
                variants.push(ty);
            }
            self.claim(hint, origin)?;
            self.unions.push(UnionDef {
                name: hint.to_owned(),
                origin: origin.to_owned(),
                variants,
            });
            return Ok(Ty::Union(hint.to_owned()));
        }
        if !all_objects {
            bail!("{origin}: allOf branches must all be objects");
        }

        let mut merged = serde_yaml_ng::Mapping::new();
        let mut required = Vec::new();
        let mut first_branch = None;
        for branch in &resolved {
            let props = spec::mapping(branch, "properties");
            if first_branch.is_none() {
                first_branch = Some(spec::entries(props).map(|(k, _)| k.to_owned()).collect());
            }
            for (key, value) in spec::entries(props) {
                let key_value = Value::String(key.to_owned());
                if let Some(existing) = merged.get(&key_value) {
                    if shape(existing) != shape(value) {
                        bail!("{origin}: {keyword} branches disagree on property `{key}`");
                    }
                    continue;
                }
                merged.insert(key_value, value.clone());
            }
            if keyword == "allOf"
                && let Some(list) = branch.get("required").and_then(Value::as_sequence)
            {
                required.extend(list.iter().cloned());
            }
        }
        let mut object = serde_yaml_ng::Mapping::new();
        object.insert("type".into(), "object".into());
        object.insert("properties".into(), Value::Mapping(merged));
        object.insert("required".into(), Value::Sequence(required));

        self.claim(hint, origin)?;
        self.build_object(spec, &Value::Mapping(object), hint, origin)?;
        if keyword == "oneOf"
            && let Some(model) = self.models.iter_mut().find(|m| m.name == hint)
        {
            model.example_fields = first_branch;
        }
        Ok(Ty::Model(hint.to_owned()))
    }

    fn build_object(
        &mut self,
        spec: &Spec,
        schema: &Value,
        name: &str,
        origin: &str,
    ) -> Result<()> {
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_sequence)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties = spec::mapping(schema, "properties");
        if schema.get("additionalProperties").is_some() {
            bail!("{origin}: an object with both properties and additionalProperties");
        }

        // Reserve the slot first so that models appear in the order they are met.
        let index = self.models.len();
        self.models.push(Model {
            name: name.to_owned(),
            origin: origin.to_owned(),
            kind: ModelKind::Struct(Vec::new()),
            example_fields: None,
        });

        let mut fields = Vec::with_capacity(properties.len());
        for (key, property) in spec::entries(properties) {
            let field_origin = format!("{origin}, property `{key}`");
            let hint = format!("{name}{}", type_name(key));
            let ty = self.ty_of(spec, property, &hint, &field_origin)?;
            let example = match property.get("example") {
                Some(example) => Some(spec::to_json(example)?),
                None => None,
            };
            fields.push(Field {
                name: key.to_owned(),
                ty,
                required: required.contains(key),
                nullable: spec::flag(property, "nullable"),
                secret: false,
                example,
            });
        }
        for key in &required {
            if !fields.iter().any(|f| f.name == *key) {
                bail!("{origin}: required property `{key}` is not declared");
            }
        }
        self.models[index].kind = ModelKind::Struct(fields);
        Ok(())
    }
}

/// A schema without its prose (`description`, `example`), for comparing what two schemas
/// accept.
fn shape(schema: &Value) -> Value {
    match schema {
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), Some("description" | "example")))
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.iter().map(shape).collect()),
        other => other.clone(),
    }
}

/// Whether a schema describes an object with declared properties.
pub(crate) fn is_object_schema(schema: &Value) -> bool {
    let typed_object = matches!(spec::str_field(schema, "type"), Some("object") | None);
    typed_object && !spec::mapping(schema, "properties").is_empty()
}

fn is_scalar(ty: &Ty) -> bool {
    matches!(
        ty,
        Ty::String(_) | Ty::Integer | Ty::Number | Ty::Boolean | Ty::Enum(_)
    )
}

/// The generated type name for a spec name: `get_users_response` -> `GetUsersResponse`.
pub(crate) fn type_name(spec_name: &str) -> String {
    let name = spec_name.to_upper_camel_case();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("N{name}")
    } else {
        name
    }
}

/// The name for one item of a list called `plural`: `Users` -> `User`, `Identities` ->
/// `Identity`; a name that is not a recognisable plural gets `Item`.
pub(crate) fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if plural.ends_with("sses") || plural.ends_with("uses") {
        plural[..plural.len() - 2].to_owned()
    } else if let Some(stem) = plural.strip_suffix('s').filter(|s| !s.ends_with('s')) {
        stem.to_owned()
    } else {
        format!("{plural}Item")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_names() {
        assert_eq!(singular("UsersResponseUsers"), "UsersResponseUser");
        assert_eq!(singular("UserIdentities"), "UserIdentity");
        assert_eq!(singular("OrgAddresses"), "OrgAddress");
        assert_eq!(singular("Statuses"), "Status");
        assert_eq!(singular("RoleData"), "RoleDataItem");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name("get_users_response"), "GetUsersResponse");
        assert_eq!(
            type_name("GetEnvironementFeatureFlags"),
            "GetEnvironementFeatureFlags"
        );
        assert_eq!(type_name("2fa"), "N2fa");
    }
}
