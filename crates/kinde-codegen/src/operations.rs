//! The operation table: one entry per path and method of the spec.

use std::collections::BTreeMap;

use heck::ToUpperCamelCase;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::error::{Result, bail};
use crate::model::{ModelKind, Registry, Ty};
use crate::spec::{self, Spec};

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Where a parameter travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
}

/// A path or query parameter.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
    pub(crate) nullable: bool,
    /// The allowed values of a string enum parameter.
    pub(crate) values: Vec<String>,
    /// `style: deepObject` (an object spread over `name[key]=value` pairs).
    pub(crate) deep_object: bool,
}

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Multipart,
}

/// A request body: its generated model and whether it must be sent.
#[derive(Clone, Debug)]
pub(crate) struct Body {
    pub(crate) kind: BodyKind,
    pub(crate) required: bool,
    pub(crate) model: String,
}

/// The two pagination styles of the Management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageStyle {
    /// `page_size` + an opaque `next_token` echoed back.
    NextToken,
    /// `page_size` + `starting_after` (and maybe `ending_before`), with `has_more`.
    Cursor,
}

/// How a paginated list operation pages.
#[derive(Clone, Debug)]
pub(crate) struct Pagination {
    pub(crate) style: PageStyle,
    /// The response field holding the page's items.
    pub(crate) items_field: String,
    /// The type of one item.
    pub(crate) item: Ty,
    /// The response declares `has_more`.
    pub(crate) has_more: bool,
    /// The request takes `ending_before` as well.
    pub(crate) ending_before: bool,
    /// The request takes `page_size`.
    pub(crate) page_size: bool,
}

/// One Management API operation.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub(crate) id: String,
    pub(crate) tag: String,
    /// Upper-case HTTP method.
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<Body>,
    pub(crate) scope: Option<String>,
    pub(crate) success: Vec<u16>,
    /// Declared non-2xx statuses.
    pub(crate) errors: Vec<u16>,
    /// The type of the 2xx JSON body, if one is declared.
    pub(crate) response: Option<Ty>,
    pub(crate) pagination: Option<Pagination>,
    pub(crate) idempotent: bool,
    /// Why the idempotency differs from the method's, if it does.
    pub(crate) idempotency_reason: Option<String>,
}

impl Operation {
    /// The operation id in PascalCase, keeping the spec's own spelling (`getUsers` ->
    /// `GetUsers`, `GetEnvironementFeatureFlags` unchanged).
    pub(crate) fn pascal_name(&self) -> String {
        pascal(&self.id)
    }
}

/// The first letter upper-cased, the rest untouched: operation ids are already camel case and
/// some (`getAPIs`, `ResetOrgUserMFA`) hold acronyms that a full case conversion would mangle.
pub(crate) fn pascal(id: &str) -> String {
    let mut chars = id.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// An operation id with plural acronyms written as words (`getAPIs` -> `getApis`,
/// `addRedirectCallbackURLs` -> `addRedirectCallbackUrls`), so that case conversions split it
/// where a reader would: `get_apis`, `AddApisRequest`.
pub(crate) fn plain_words(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let mut out = String::with_capacity(id.len());
    let mut index = 0;
    while index < chars.len() {
        if !chars[index].is_ascii_uppercase() {
            out.push(chars[index]);
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len() && chars[index].is_ascii_uppercase() {
            index += 1;
        }
        let run = &chars[start..index];
        let plural = run.len() >= 2
            && chars.get(index) == Some(&'s')
            && chars.get(index + 1).is_none_or(char::is_ascii_uppercase);
        if plural {
            out.push(run[0]);
            out.extend(run[1..].iter().map(char::to_ascii_lowercase));
        } else {
            out.extend(run);
        }
    }
    out
}

/// The hand-kept idempotency exceptions from the overrides file.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct IdempotencyOverride {
    pub(crate) idempotent: bool,
    pub(crate) reason: String,
}

/// Which list of a paginated response pages, where the response has several.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct PageItemsOverride {
    pub(crate) field: String,
    #[allow(dead_code, reason = "documentation for readers of the overrides file")]
    pub(crate) reason: String,
}

/// The hand-kept corrections that apply to operations.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct OperationOverrides {
    pub(crate) idempotency: BTreeMap<String, IdempotencyOverride>,
    pub(crate) page_items: BTreeMap<String, PageItemsOverride>,
}

/// Reads every operation of the spec, defining request and response models in `registry`.
pub(crate) fn collect(
    spec: &Spec,
    registry: &mut Registry,
    all_overrides: &OperationOverrides,
) -> Result<Vec<Operation>> {
    let overrides = &all_overrides.idempotency;
    let mut operations = Vec::new();
    for (path, item) in spec::entries(spec::mapping(&spec.root, "paths")) {
        let shared_params = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut operation = operation(spec, registry, path, method, op, shared_params)?;
            let items = all_overrides.page_items.get(&operation.id);
            operation.pagination = pagination(
                registry,
                &operation.params,
                operation.response.as_ref(),
                items.map(|o| o.field.as_str()),
                &format!("operation `{}`", operation.id),
            )?;
            operations.push(operation);
        }
    }

    let named = overrides.keys().chain(all_overrides.page_items.keys());
    for id in named {
        if !operations.iter().any(|op| &op.id == id) {
            bail!("override for unknown operation `{id}`");
        }
    }
    for op in &mut operations {
        if let Some(exception) = overrides.get(&op.id) {
            if exception.idempotent == op.idempotent {
                bail!(
                    "idempotency override for `{}` repeats the method's default",
                    op.id
                );
            }
            op.idempotent = exception.idempotent;
            op.idempotency_reason = Some(exception.reason.clone());
        }
    }

    let mut ids = std::collections::BTreeSet::new();
    for op in &operations {
        if !ids.insert(op.id.to_lowercase()) {
            bail!("duplicate operation id `{}`", op.id);
        }
    }
    Ok(operations)
}

fn operation(
    spec: &Spec,
    registry: &mut Registry,
    path: &str,
    method: &str,
    op: &Value,
    shared_params: Option<&Value>,
) -> Result<Operation> {
    let Some(id) = spec::str_field(op, "operationId") else {
        bail!("{} {path} has no operationId", method.to_uppercase());
    };
    let origin = format!("operation `{id}`");
    let tag = op
        .get("tags")
        .and_then(Value::as_sequence)
        .and_then(|tags| tags.first())
        .and_then(Value::as_str)
        .ok_or_else(|| crate::error::Error::new(format!("{origin} has no tag")))?
        .to_owned();

    let mut params = Vec::new();
    let own = op.get("parameters").and_then(Value::as_sequence);
    let shared = shared_params.and_then(Value::as_sequence);
    for raw in shared
        .into_iter()
        .flatten()
        .chain(own.into_iter().flatten())
    {
        let param = parameter(spec, raw, &origin)?;
        match params.iter().position(|p: &Param| p.name == param.name) {
            // An operation's own parameter overrides a path-level one of the same name.
            Some(index) => params[index] = param,
            None => params.push(param),
        }
    }
    for segment in path.split('/').filter(|s| s.starts_with('{')) {
        let name = segment.trim_matches(|c| c == '{' || c == '}');
        if !params
            .iter()
            .any(|p| p.name == name && p.location == Location::Path)
        {
            bail!("{origin}: path parameter `{name}` is not declared");
        }
    }

    let body = request_body(spec, registry, id, op, &origin)?;
    let (success, errors, response) = responses(spec, registry, id, op, &origin)?;
    let scope = scope(op, &origin)?;

    let method = method.to_uppercase();
    let idempotent = matches!(
        method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE"
    );
    Ok(Operation {
        id: id.to_owned(),
        tag,
        method,
        path: path.to_owned(),
        params,
        body,
        scope,
        success,
        errors,
        response,
        pagination: None,
        idempotent,
        idempotency_reason: None,
    })
}

fn parameter(spec: &Spec, raw: &Value, origin: &str) -> Result<Param> {
    let param = spec.resolve(raw)?;
    let Some(name) = spec::str_field(param, "name") else {
        bail!("{origin}: a parameter has no name");
    };
    let origin = format!("{origin}, parameter `{name}`");
    let location = match spec::str_field(param, "in") {
        Some("path") => Location::Path,
        Some("query") => Location::Query,
        other => bail!("{origin}: unsupported location {other:?}"),
    };
    let Some(schema) = param.get("schema") else {
        bail!("{origin}: no schema");
    };
    let values: Vec<String> = schema
        .get("enum")
        .and_then(Value::as_sequence)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let ty = match spec::str_field(schema, "type") {
        Some("string") => Ty::String(spec::str_field(schema, "format").map(str::to_owned)),
        Some("integer") => Ty::Integer,
        Some("boolean") => Ty::Boolean,
        Some("object") => match schema.get("additionalProperties") {
            Some(Value::Mapping(values))
                if values.get("type").and_then(Value::as_str) == Some("array") =>
            {
                Ty::Map(Box::new(Ty::Array(Box::new(Ty::String(None)))))
            }
            _ => bail!("{origin}: unsupported object parameter"),
        },
        other => bail!("{origin}: unsupported parameter type {other:?}"),
    };
    let deep_object = spec::str_field(param, "style") == Some("deepObject");
    if matches!(ty, Ty::Map(_)) != deep_object {
        bail!("{origin}: object parameters must use style deepObject");
    }
    let required = spec::flag(param, "required");
    if location == Location::Path && !required {
        bail!("{origin}: a path parameter must be required");
    }
    Ok(Param {
        name: name.to_owned(),
        location,
        ty,
        required,
        nullable: spec::flag(schema, "nullable"),
        values,
        deep_object,
    })
}

fn request_body(
    spec: &Spec,
    registry: &mut Registry,
    id: &str,
    op: &Value,
    origin: &str,
) -> Result<Option<Body>> {
    let Some(raw) = op.get("requestBody") else {
        return Ok(None);
    };
    let body = spec.resolve(raw)?;
    let content = spec::mapping(body, "content");
    let mut entries = spec::entries(content);
    let Some((media_type, media)) = entries.next() else {
        bail!("{origin}: request body without content");
    };
    if entries.next().is_some() {
        bail!("{origin}: request body with several media types");
    }
    let kind = match media_type {
        "application/json" => BodyKind::Json,
        "multipart/form-data" => BodyKind::Multipart,
        other => bail!("{origin}: unsupported request media type `{other}`"),
    };
    let Some(schema) = media.get("schema") else {
        bail!("{origin}: request body without schema");
    };
    let name = format!("{}Request", plain_words(id).to_upper_camel_case());
    let ty = registry.inline(spec, schema, &name, &format!("request body of `{id}`"))?;
    let Ty::Model(model) = ty else {
        bail!("{origin}: request body is not an object");
    };
    Ok(Some(Body {
        kind,
        required: spec::flag(body, "required"),
        model,
    }))
}

type Responses = (Vec<u16>, Vec<u16>, Option<Ty>);

fn responses(
    spec: &Spec,
    registry: &mut Registry,
    id: &str,
    op: &Value,
    origin: &str,
) -> Result<Responses> {
    let mut success = Vec::new();
    let mut errors = Vec::new();
    let mut body: Option<Ty> = None;
    for (code, raw) in spec::entries(spec::mapping(op, "responses")) {
        let Ok(status) = code.parse::<u16>() else {
            bail!("{origin}: unsupported response key `{code}`");
        };
        if !(200..300).contains(&status) {
            errors.push(status);
            continue;
        }
        success.push(status);
        let response = spec.resolve(raw)?;
        for (media_type, media) in spec::entries(spec::mapping(response, "content")) {
            if !media_type.starts_with("application/json") {
                bail!("{origin}: unsupported response media type `{media_type}`");
            }
            let Some(schema) = media.get("schema") else {
                continue;
            };
            let name = format!("{}Response", plain_words(id).to_upper_camel_case());
            let ty = match (spec::schema_ref(schema), &body) {
                (Some(component), _) => match registry.component(component) {
                    Some(model) => Ty::Model(model.to_owned()),
                    None => bail!("{origin}: unknown schema `{component}`"),
                },
                // The same inline schema under a second media type: already defined.
                (None, Some(existing)) => existing.clone(),
                (None, None) => {
                    registry.inline(spec, schema, &name, &format!("response of `{id}`"))?
                }
            };
            match &body {
                Some(existing) if *existing != ty => {
                    bail!("{origin}: 2xx responses declare different bodies")
                }
                _ => body = Some(ty),
            }
        }
    }
    if success.is_empty() {
        bail!("{origin}: no 2xx response");
    }
    Ok((success, errors, body))
}

/// The required scope: `x-scope`, else the `<code>` element of the description. Both present
/// must agree.
fn scope(op: &Value, origin: &str) -> Result<Option<String>> {
    let extension = spec::str_field(op, "x-scope").map(str::to_owned);
    let described = spec::str_field(op, "description").and_then(|text| {
        let start = text.find("<code>")? + "<code>".len();
        let end = text[start..].find("</code>")? + start;
        Some(text[start..end].trim().to_owned())
    });
    match (extension, described) {
        (Some(a), Some(b)) if a != b => bail!("{origin}: x-scope `{a}` disagrees with `{b}`"),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

fn pagination(
    registry: &Registry,
    params: &[Param],
    response: Option<&Ty>,
    items_field: Option<&str>,
    origin: &str,
) -> Result<Option<Pagination>> {
    let has = |name: &str| params.iter().any(|p| p.name == name);
    let style = if has("next_token") {
        PageStyle::NextToken
    } else if has("starting_after") {
        PageStyle::Cursor
    } else {
        return Ok(None);
    };
    let Some(Ty::Model(model)) = response else {
        bail!("{origin}: paginated operation without an object response");
    };
    let Some(model) = registry.model(model) else {
        bail!("{origin}: unknown response model `{model}`");
    };
    let ModelKind::Struct(fields) = &model.kind else {
        bail!(
            "{origin}: paginated response `{}` is not an object",
            model.name
        );
    };
    let lists: Vec<_> = fields
        .iter()
        .filter(|f| matches!(f.ty, Ty::Array(_)))
        .filter(|f| items_field.is_none_or(|name| f.name == name))
        .collect();
    let [list] = lists.as_slice() else {
        bail!(
            "{origin}: paginated response `{}` must have exactly one list",
            model.name
        );
    };
    let Ty::Array(item) = &list.ty else {
        unreachable!("filtered on arrays above")
    };
    if style == PageStyle::NextToken && !fields.iter().any(|f| f.name == "next_token") {
        bail!("{origin}: next_token pagination without `next_token` in the response");
    }
    Ok(Some(Pagination {
        style,
        items_field: list.name.clone(),
        item: (**item).clone(),
        has_more: fields.iter().any(|f| f.name == "has_more"),
        ending_before: has("ending_before"),
        page_size: has("page_size"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_acronyms_read_as_words() {
        use heck::ToSnakeCase;
        let snake = |id: &str| plain_words(id).to_snake_case();
        assert_eq!(snake("getAPIs"), "get_apis");
        assert_eq!(
            snake("addRedirectCallbackURLs"),
            "add_redirect_callback_urls"
        );
        assert_eq!(snake("getAPIScopes"), "get_api_scopes");
        assert_eq!(snake("ResetOrgUserMFA"), "reset_org_user_mfa");
        assert_eq!(snake("ResetOrgUserMFAAll"), "reset_org_user_mfa_all");
        assert_eq!(
            snake("GetEnvironementFeatureFlags"),
            "get_environement_feature_flags"
        );
    }

    #[test]
    fn pascal_keeps_the_spec_spelling() {
        assert_eq!(pascal("getUsers"), "GetUsers");
        assert_eq!(pascal("getAPIs"), "GetAPIs");
        assert_eq!(
            pascal("GetEnvironementFeatureFlags"),
            "GetEnvironementFeatureFlags"
        );
    }
}
