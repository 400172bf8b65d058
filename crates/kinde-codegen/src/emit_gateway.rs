//! Writes the gateway glue: the table of RPCs, conversions between the gRPC messages and the
//! `kinde-api` models, and one handler per RPC that calls the typed client.
//!
//! Names follow the code prost and tonic generate from the contract: message types in
//! UpperCamelCase and fields and methods in snake_case, both as `heck` spells them (prost uses
//! the same crate), so `GetAPIsRequest` is `pb::GetApIsRequest` and `GetAPIs` is `get_ap_is`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use heck::{ToSnakeCase, ToUpperCamelCase};

use crate::emit_client::{method_name, params_name};
use crate::emit_proto::{
    PAGINATION_PARAM_NAMES, PAGINATION_RESULT_NAMES, service_name, singular_field,
};
use crate::emit_rust::RUST_HEADER;
use crate::error::{Result, bail};
use crate::model::{Field, ModelKind, Registry, Ty};
use crate::operations::{Location, Operation, PageStyle};

/// Where the generated gateway code goes, relative to the repository root.
pub(crate) const GATEWAY_GENERATED_DIR: &str = "crates/kinde-gateway/src/generated";

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// A snake_case identifier as prost writes it, keywords raw.
fn snake(name: &str) -> String {
    let snake = name.to_snake_case();
    if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else {
        snake
    }
}

/// The prost type of a proto message.
fn pb_type(message: &str) -> String {
    format!("pb::{}", message.to_upper_camel_case())
}

/// The model field's Rust identifier (as `kinde-api` writes it).
fn model_ident(json_name: &str) -> String {
    crate::emit_rust::field_ident(json_name)
}

/// The prost field identifier for a model property (the proto field is its snake_case).
fn pb_ident(json_name: &str) -> String {
    snake(&crate::emit_proto::proto_field_name(json_name))
}

/// `.map(...)` applying `convert` (an expression over `var`) to an `Option` or iterator: nothing
/// for the identity, the function path alone for `Path::from(var)`.
fn map_call(convert: &str, var: &str) -> String {
    if convert == var {
        return String::new();
    }
    // `path(var)` is the function `path` itself.
    if let Some(path) = convert.strip_suffix(&format!("({var})"))
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return format!(".map({path})");
    }
    format!(".map(|{var}| {convert})")
}

/// How a model type travels in the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A scalar: `T` when required, else `Option<T>`.
    Scalar,
    /// A message (also `Struct` and `Value`): `Option<P>`.
    Message,
    /// A repeated field or a map: a collection, empty when absent.
    Collection,
}

struct Writer<'a> {
    registry: &'a Registry,
    shared: &'a [(String, String)],
}

impl Writer<'_> {
    fn resolve<'t>(&'t self, ty: &'t Ty) -> &'t Ty {
        match ty {
            Ty::Model(name) => match self.registry.model(name).map(|m| &m.kind) {
                Some(ModelKind::Alias(inner)) => self.resolve(inner),
                _ => ty,
            },
            other => other,
        }
    }

    fn shape(&self, ty: &Ty) -> Shape {
        match self.resolve(ty) {
            Ty::Array(_) | Ty::Map(_) => Shape::Collection,
            Ty::Model(_) | Ty::Object | Ty::Any | Ty::Union(_) => Shape::Message,
            _ => Shape::Scalar,
        }
    }

    fn message_of(&self, model: &str) -> Result<String> {
        match self.shared.iter().find(|(m, _)| m == model) {
            Some((_, message)) => Ok(pb_type(message)),
            None => bail!("model `{model}` has no shared message"),
        }
    }

    /// Converts a model value (not optional) in `expr` to its contract form.
    fn to_pb(&self, ty: &Ty, expr: &str, secret: bool) -> Result<String> {
        Ok(match self.resolve(ty) {
            Ty::String(_) if secret => format!("{expr}.into_inner()"),
            Ty::String(_) | Ty::Integer | Ty::Number | Ty::Boolean => expr.to_owned(),
            Ty::Enum(_) => format!("{expr}.as_str().to_owned()"),
            Ty::Model(name) => format!("{}::from({expr})", self.message_of(name)?),
            Ty::Object => format!("crate::json::to_struct({expr})"),
            Ty::Any => format!("crate::json::to_value({expr})"),
            Ty::Union(_) => {
                format!("crate::json::to_value(serde_json::to_value(&{expr}).unwrap_or_default())")
            }
            Ty::Array(item) => match self.resolve(item) {
                Ty::Array(_) | Ty::Map(_) => bail!("nested lists are not supported"),
                _ => {
                    let convert = self.to_pb(item, "item", false)?;
                    if convert == "item" {
                        expr.to_owned()
                    } else {
                        format!("{expr}.into_iter(){}.collect()", map_call(&convert, "item"))
                    }
                }
            },
            Ty::Map(value) => {
                let converted = match self.resolve(value) {
                    Ty::Array(item) if matches!(**item, Ty::String(_)) => {
                        "pb::StringList { values: value }".to_owned()
                    }
                    Ty::Array(_) | Ty::Map(_) => {
                        "crate::json::to_value(serde_json::to_value(&value).unwrap_or_default())"
                            .to_owned()
                    }
                    other => self.to_pb(other, "value", false)?,
                };
                if converted == "value" {
                    format!("{expr}.into_iter().collect()")
                } else {
                    format!("{expr}.into_iter().map(|(key, value)| (key, {converted})).collect()")
                }
            }
        })
    }

    /// Converts a contract value (not optional) in `expr` to its model form. Unions come back
    /// as `Option`, since a `Value` may not match any of their types.
    fn to_model(&self, ty: &Ty, expr: &str, secret: bool) -> Result<String> {
        Ok(match self.resolve(ty) {
            Ty::String(_) if secret => format!("kinde_api::Redacted::new({expr})"),
            Ty::String(_) | Ty::Integer | Ty::Number | Ty::Boolean => expr.to_owned(),
            Ty::Enum(name) => format!("models::{name}::from({expr}.as_str())"),
            Ty::Model(name) => format!("models::{name}::from({expr})"),
            Ty::Object => format!("crate::json::from_struct({expr})"),
            Ty::Any => format!("crate::json::from_value({expr})"),
            Ty::Union(_) => format!("crate::json::deserialize_value({expr})"),
            Ty::Array(item) => match self.resolve(item) {
                Ty::Union(_) => format!(
                    "{expr}.into_iter().filter_map(|item| {}).collect()",
                    self.to_model(item, "item", false)?
                ),
                _ => {
                    let convert = self.to_model(item, "item", false)?;
                    if convert == "item" {
                        expr.to_owned()
                    } else {
                        format!("{expr}.into_iter(){}.collect()", map_call(&convert, "item"))
                    }
                }
            },
            Ty::Map(value) => {
                let converted = match self.resolve(value) {
                    Ty::Array(item) if matches!(**item, Ty::String(_)) => "value.values".to_owned(),
                    Ty::Array(_) | Ty::Map(_) | Ty::Union(_) => {
                        bail!("a map of lists, maps or unions in a request is not supported")
                    }
                    other => self.to_model(other, "value", false)?,
                };
                if converted == "value" {
                    format!("{expr}.into_iter().collect()")
                } else {
                    format!("{expr}.into_iter().map(|(key, value)| (key, {converted})).collect()")
                }
            }
        })
    }

    /// The expression for a contract field from the model field `field` held in `source`
    /// (`value.name`), for a response or a shared message.
    fn field_to_pb(&self, field: &Field, source: &str, tri_state: bool) -> Result<String> {
        let shape = self.shape(&field.ty);
        let convert = self.to_pb(&field.ty, "v", field.secret)?;
        let map = map_call(&convert, "v");
        let flatten = if tri_state { ".flatten()" } else { "" };
        Ok(match (shape, field.required, field.nullable) {
            (Shape::Scalar, true, false) => self.to_pb(&field.ty, source, field.secret)?,
            (Shape::Scalar, true, true) => format!("{source}{map}.unwrap_or_default()"),
            (Shape::Scalar, false, _) => format!("{source}{flatten}{map}"),
            (Shape::Message, true, false) => {
                format!("Some({})", self.to_pb(&field.ty, source, false)?)
            }
            (Shape::Message, _, _) => format!("{source}{flatten}{map}"),
            (Shape::Collection, true, false) => self.to_pb(&field.ty, source, false)?,
            (Shape::Collection, _, _) => format!("{source}{flatten}{map}.unwrap_or_default()"),
        })
    }

    /// The expression for a model field from the contract field in `source`.
    fn field_to_model(&self, field: &Field, source: &str, tri_state: bool) -> Result<String> {
        let shape = self.shape(&field.ty);
        let union = matches!(self.resolve(&field.ty), Ty::Union(_));
        let convert = self.to_model(&field.ty, "v", field.secret)?;
        let wrap = |inner: String| {
            if tri_state {
                format!("Some({inner})")
            } else {
                inner
            }
        };

        Ok(match (shape, field.required, field.nullable) {
            (Shape::Scalar, true, false) => self.to_model(&field.ty, source, field.secret)?,
            (Shape::Scalar, true, true) => {
                format!("Some({})", self.to_model(&field.ty, source, field.secret)?)
            }
            (Shape::Scalar, false, _) if tri_state => {
                format!("{source}{}.map(Some)", map_call(&convert, "v"))
            }
            (Shape::Scalar, false, _) => format!("{source}{}", map_call(&convert, "v")),
            // Only request bodies (built inside a handler, where `?` works) have these.
            (Shape::Message, true, false) if union => {
                format!("crate::json::required_union({source}, {:?})?", field.name)
            }
            (Shape::Message, true, false) => {
                format!("{source}{}.unwrap_or_default()", map_call(&convert, "v"))
            }
            (Shape::Message, _, _) if union => format!(
                "{source}.and_then(|v| {convert}){}",
                if tri_state { ".map(Some)" } else { "" }
            ),
            (Shape::Message, _, _) if tri_state => {
                format!("{source}{}.map(Some)", map_call(&convert, "v"))
            }
            (Shape::Message, _, _) => format!("{source}{}", map_call(&convert, "v")),
            (Shape::Collection, true, false) => self.to_model(&field.ty, source, false)?,
            (Shape::Collection, _, _) => format!(
                "(!{source}.is_empty()).then_some({})",
                wrap(self.to_model(&field.ty, source, false)?)
            ),
        })
    }
}

/// Writes `mod.rs`, `rpcs.rs`, `convert.rs` and `handlers.rs`.
pub(crate) fn files(
    registry: &Registry,
    operations: &[Operation],
    shared: &[(String, String)],
    request_models: &BTreeSet<String>,
) -> Result<Vec<(String, String)>> {
    let writer = Writer { registry, shared };
    let module = format!(
        "{RUST_HEADER}\n//! The gateway glue generated from the contract: the RPC table, conversions between \
         gRPC\n//! messages and Kinde models, and one handler per RPC.\n\n\
         mod convert;\nmod handlers;\npub(crate) mod rpcs;\n"
    );
    Ok(vec![
        (format!("{GATEWAY_GENERATED_DIR}/mod.rs"), module),
        (
            format!("{GATEWAY_GENERATED_DIR}/rpcs.rs"),
            rpcs(operations)?,
        ),
        (
            format!("{GATEWAY_GENERATED_DIR}/convert.rs"),
            convert(&writer, request_models)?,
        ),
        (
            format!("{GATEWAY_GENERATED_DIR}/handlers.rs"),
            handlers(&writer, operations)?,
        ),
    ])
}

fn rpcs(operations: &[Operation]) -> Result<String> {
    let mut out = String::from(RUST_HEADER);
    out.push_str(
        "\n//! Every RPC of the contract with the Kinde operation behind it, unary RPCs first in \
         spec\n//! order, each list's streaming twin after it.\n\n\
         use crate::call::Rpc;\n\n\
         /// Every RPC of the contract.\n\
         pub(crate) static RPCS: &[Rpc] = &[\n",
    );
    for (index, op) in operations.iter().enumerate() {
        let service = format!("kinde.management.v1.{}", service_name(&op.tag));
        let rpc = op.pascal_name();
        writeln!(
            out,
            "    Rpc {{ service: {service:?}, method: {rpc:?}, operation: &kinde_api::OPERATIONS[{index}], streaming: false }},"
        )?;
        if op.pagination.is_some() {
            writeln!(
                out,
                "    Rpc {{ service: {service:?}, method: \"Stream{rpc}\", operation: &kinde_api::OPERATIONS[{index}], streaming: true }},"
            )?;
        }
    }
    out.push_str("];\n");
    Ok(out)
}

fn convert(writer: &Writer<'_>, request_models: &BTreeSet<String>) -> Result<String> {
    let mut out = String::from(RUST_HEADER);
    out.push_str(
        "\n//! Conversions between the shared gRPC messages and the Kinde models.\n//!\n\
         //! A list or map left empty in a request message is not sent to Kinde, since proto3 \
         cannot\n//! tell an empty list from an absent one.\n\n\
         use kinde_api::models;\n\n\
         use crate::pb;\n",
    );
    for (model, message) in writer.shared {
        let Some(def) = writer.registry.model(model) else {
            bail!("unknown shared model `{model}`");
        };
        let ModelKind::Struct(fields) = &def.kind else {
            continue;
        };
        let pb = pb_type(message);
        let in_request = request_models.contains(model);

        writeln!(out, "\nimpl From<models::{model}> for {pb} {{")?;
        writeln!(out, "    fn from(value: models::{model}) -> Self {{")?;
        writeln!(out, "        Self {{")?;
        for field in fields {
            let tri = in_request && field.nullable && !field.required;
            let source = format!("value.{}", model_ident(&field.name));
            writeln!(
                out,
                "            {}: {},",
                pb_ident(&field.name),
                writer.field_to_pb(field, &source, tri)?
            )?;
        }
        writeln!(out, "        }}\n    }}\n}}")?;

        writeln!(out, "\nimpl From<{pb}> for models::{model} {{")?;
        writeln!(out, "    fn from(value: {pb}) -> Self {{")?;
        writeln!(out, "        Self {{")?;
        for field in fields {
            let tri = in_request && field.nullable && !field.required;
            let source = format!("value.{}", pb_ident(&field.name));
            writeln!(
                out,
                "            {}: {},",
                model_ident(&field.name),
                writer.field_to_model(field, &source, tri)?
            )?;
        }
        writeln!(out, "        }}\n    }}\n}}")?;
    }
    Ok(out)
}

fn handlers(writer: &Writer<'_>, operations: &[Operation]) -> Result<String> {
    let mut out = String::from(RUST_HEADER);
    out.push_str(
        "\n//! One handler per RPC: convert the message, call the typed client, convert the \
         answer.\n\n\
\
         use futures_util::TryStreamExt as _;\n\
         use kinde_api::models;\n\
         use kinde_management::params::*;\n\n\
         use super::rpcs::RPCS;\n\
         use crate::call::{CallError, ItemStream};\n\
         use crate::{Gateway, pb};\n",
    );
    let mut tags: Vec<&str> = Vec::new();
    for op in operations {
        if !tags.contains(&op.tag.as_str()) {
            tags.push(&op.tag);
        }
    }
    // The RPC table's index of each operation's unary RPC.
    let mut indices = Vec::new();
    let mut next = 0;
    for op in operations {
        indices.push(next);
        next += if op.pagination.is_some() { 2 } else { 1 };
    }

    for tag in tags {
        let service = service_name(tag);
        writeln!(out, "\n#[tonic::async_trait]")?;
        writeln!(
            out,
            "impl pb::{}_server::{service} for Gateway {{",
            service.to_snake_case()
        )?;
        for (op, index) in operations
            .iter()
            .zip(&indices)
            .filter(|(op, _)| op.tag == tag)
        {
            unary_handler(&mut out, writer, op, *index)?;
            if op.pagination.is_some() {
                stream_handler(&mut out, writer, op, index + 1)?;
            }
        }
        out.push_str("}\n");
    }
    Ok(out)
}

/// Statements that build `params` (and `body`) from `message`, checking required fields.
fn request_conversion(
    out: &mut String,
    writer: &Writer<'_>,
    op: &Operation,
    stream: bool,
) -> Result<()> {
    for param in op
        .params
        .iter()
        .filter(|p| p.required && matches!(p.ty, Ty::String(_)))
    {
        let ident = snake(&param.name);
        let place = if param.location == Location::Path {
            "path"
        } else {
            "query"
        };
        writeln!(
            out,
            "            if message.{ident}.is_empty() {{ return Err(CallError::InvalidArgument {{ field: {:?}, description: \"the {place} parameter is required\".to_owned() }}); }}",
            param.name
        )?;
    }
    if let Some(params) = params_name(op) {
        writeln!(out, "            let params = {params} {{")?;
        for param in &op.params {
            let ident = crate::emit_rust::field_ident(&param.name);
            let value = if op.pagination.is_some()
                && PAGINATION_PARAM_NAMES.contains(&param.name.as_str())
            {
                match param.name.as_str() {
                    "page_size" => "message.page_size.map(i64::from)".to_owned(),
                    "next_token" | "starting_after" if !stream => {
                        "message.page_token.filter(|token| !token.is_empty())".to_owned()
                    }
                    _ => "None".to_owned(),
                }
            } else if matches!(param.ty, Ty::Map(_)) {
                let source = snake(&param.name);
                format!(
                    "(!message.{source}.is_empty()).then(|| message.{source}.into_iter().map(|(key, list)| (key, list.values)).collect())"
                )
            } else {
                format!("message.{}", snake(&param.name))
            };
            writeln!(out, "                {ident}: {value},")?;
        }
        writeln!(out, "            }};")?;
    }
    if let Some(body) = &op.body {
        let Some(model) = writer.registry.model(&body.model) else {
            bail!("operation {}: unknown body", op.id);
        };
        for field in model.fields().iter().filter(|f| f.required) {
            let ident = pb_ident(&field.name);
            let check = match writer.shape(&field.ty) {
                Shape::Scalar if matches!(writer.resolve(&field.ty), Ty::String(Some(f)) if f == "binary") =>
                {
                    format!("message.{ident}.is_empty()")
                }
                Shape::Scalar
                    if matches!(writer.resolve(&field.ty), Ty::String(_) | Ty::Enum(_)) =>
                {
                    format!("message.{ident}.is_empty()")
                }
                Shape::Message => format!("message.{ident}.is_none()"),
                _ => continue,
            };
            writeln!(
                out,
                "            if {check} {{ return Err(CallError::InvalidArgument {{ field: {:?}, description: \"the body field is required\".to_owned() }}); }}",
                field.name
            )?;
        }
        writeln!(out, "            let body = models::{} {{", body.model)?;
        for field in model.fields() {
            let tri = field.nullable && !field.required;
            let source = format!("message.{}", pb_ident(&field.name));
            writeln!(
                out,
                "                {}: {},",
                crate::emit_rust::field_ident(&field.name),
                writer.field_to_model(field, &source, tri)?
            )?;
        }
        writeln!(out, "            }};")?;
    }
    Ok(())
}

fn call_args(op: &Operation) -> String {
    let mut args = Vec::new();
    if params_name(op).is_some() {
        args.push("&params".to_owned());
    }
    if let Some(body) = &op.body {
        args.push(if body.required {
            "&body".to_owned()
        } else {
            "Some(&body)".to_owned()
        });
    }
    args.join(", ")
}

fn unary_handler(
    out: &mut String,
    writer: &Writer<'_>,
    op: &Operation,
    index: usize,
) -> Result<()> {
    let rpc = op.pascal_name();
    let method = snake(&rpc);
    let request = pb_type(&format!("{rpc}Request"));
    let response = pb_type(&format!("{rpc}Response"));
    writeln!(
        out,
        "    async fn {method}(&self, request: tonic::Request<{request}>) -> Result<tonic::Response<{response}>, tonic::Status> {{"
    )?;
    let message = if op.params.is_empty() && op.body.is_none() {
        "_message"
    } else {
        "message"
    };
    writeln!(
        out,
        "        self.unary(&RPCS[{index}], request, |client, {message}| async move {{"
    )?;
    request_conversion(out, writer, op, false)?;
    if let Some(page) = &op.pagination
        && page.style == PageStyle::Cursor
        && !page.has_more
    {
        writeln!(out, "            let page_size = params.page_size;")?;
    }
    let call = format!("client.{}({}).await?", method_name(op), call_args(op));
    match &op.response {
        None => {
            writeln!(out, "            {call};")?;
            writeln!(out, "            Ok({response} {{}})")?;
        }
        Some(ty) => {
            writeln!(out, "            let answer = {call};")?;
            response_conversion(out, writer, op, ty, &response)?;
        }
    }
    writeln!(out, "        }}).await")?;
    writeln!(out, "    }}")?;
    Ok(())
}

fn response_conversion(
    out: &mut String,
    writer: &Writer<'_>,
    op: &Operation,
    ty: &Ty,
    response: &str,
) -> Result<()> {
    let Ty::Model(name) = ty else {
        bail!("operation {}: response is not a model", op.id);
    };
    let Some(model) = writer.registry.model(name) else {
        bail!("operation {}: unknown response model", op.id);
    };
    let fields = match &model.kind {
        ModelKind::Alias(inner) => {
            let field = Field {
                name: "items".to_owned(),
                ty: inner.clone(),
                required: true,
                nullable: false,
                secret: false,
                example: None,
            };
            writeln!(
                out,
                "            Ok({response} {{ items: {} }})",
                writer.field_to_pb(&field, "answer", false)?
            )?;
            return Ok(());
        }
        ModelKind::Struct(fields) => fields,
    };
    if let Some(page) = &op.pagination {
        let items = model_ident(&page.items_field);
        let next = match page.style {
            PageStyle::NextToken => "answer.next_token.clone().unwrap_or_default()".to_owned(),
            PageStyle::Cursor => {
                let last_id =
                    "answer.{items}.as_ref().and_then(|items| items.last()).and_then(|item| {id})";
                let id = cursor_id(writer, &page.item)?;
                let last_id = last_id.replace("{items}", &items).replace("{id}", &id);
                let more = if page.has_more {
                    "answer.has_more == Some(true)".to_owned()
                } else {
                    format!(
                        "answer.{items}.as_ref().is_some_and(|items| !items.is_empty() && i64::try_from(items.len()).unwrap_or(i64::MAX) >= page_size.unwrap_or(10))"
                    )
                };
                format!("if {more} {{ {last_id}.unwrap_or_default() }} else {{ String::new() }}")
            }
        };
        writeln!(out, "            let next_page_token = {next};")?;
    }
    writeln!(out, "            Ok({response} {{")?;
    for field in fields {
        if op.pagination.is_some() && PAGINATION_RESULT_NAMES.contains(&field.name.as_str()) {
            continue;
        }
        let source = format!("answer.{}", model_ident(&field.name));
        writeln!(
            out,
            "                {}: {},",
            pb_ident(&field.name),
            writer.field_to_pb(field, &source, false)?
        )?;
    }
    if op.pagination.is_some() {
        writeln!(out, "                next_page_token,")?;
    }
    writeln!(out, "            }})")?;
    Ok(())
}

/// The expression (over `item`) for the id of a cursor-paged list item, as an `Option<String>`.
fn cursor_id(writer: &Writer<'_>, item: &Ty) -> Result<String> {
    let Ty::Model(name) = item else {
        bail!("cursor items are not objects")
    };
    let Some(model) = writer.registry.model(name) else {
        bail!("unknown item `{name}`")
    };
    if model.fields().iter().any(|f| f.name == "id") {
        return Ok("item.id.clone()".to_owned());
    }
    for field in model.fields() {
        if let Ty::Model(inner) = &field.ty
            && writer
                .registry
                .model(inner)
                .is_some_and(|m| m.fields().iter().any(|f| f.name == "id"))
        {
            return Ok(format!(
                "item.{}.as_ref().and_then(|inner| inner.id.clone())",
                model_ident(&field.name)
            ));
        }
    }
    bail!("cursor items `{name}` have no id")
}

fn stream_handler(
    out: &mut String,
    writer: &Writer<'_>,
    op: &Operation,
    index: usize,
) -> Result<()> {
    let Some(page) = &op.pagination else {
        return Ok(());
    };
    let rpc = format!("Stream{}", op.pascal_name());
    let method = snake(&rpc);
    let request = pb_type(&format!("{rpc}Request"));
    let response = pb_type(&format!("{rpc}Response"));
    let field = snake(&singular_field(&page.items_field));
    let item = match writer.shape(&page.item) {
        Shape::Scalar => writer.to_pb(&page.item, "item", false)?,
        Shape::Message => format!("Some({})", writer.to_pb(&page.item, "item", false)?),
        Shape::Collection => bail!("operation {}: list of lists", op.id),
    };
    writeln!(out, "    type {rpc}Stream = ItemStream<{response}>;\n")?;
    writeln!(
        out,
        "    async fn {method}(&self, request: tonic::Request<{request}>) -> Result<tonic::Response<Self::{rpc}Stream>, tonic::Status> {{"
    )?;
    writeln!(
        out,
        "        self.server_stream(&RPCS[{index}], request, |client, message| {{"
    )?;
    request_conversion(out, writer, op, true)?;
    writeln!(
        out,
        "            Ok(client.{}_stream(params).map_ok(|item| {response} {{ {field}: {item} }}))",
        method_name(op)
    )?;
    writeln!(out, "        }}).await")?;
    writeln!(out, "    }}")?;
    Ok(())
}
