//! Writes the generated part of `kinde-management`: one parameter struct and one method per
//! operation, and a stream for every paginated list.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use heck::{ToSnakeCase, ToUpperCamelCase};

use crate::emit_rust::{RUST_HEADER, doc, field_ident};
use crate::error::{Result, bail};
use crate::model::{ModelKind, Registry, Ty};
use crate::operations::{BodyKind, Location, Operation, PageStyle, Param, plain_words};

/// Where the generated client code goes, relative to the repository root.
pub(crate) const CLIENT_GENERATED_DIR: &str = "crates/kinde-management/src/generated";
/// The generated test helper that calls every operation once.
pub(crate) const EVERY_OPERATION_CALLS: &str = "crates/kinde-management/tests/common/calls.rs";

/// The method name of an operation: `getAPIs` -> `get_apis`.
pub(crate) fn method_name(op: &Operation) -> String {
    let name = plain_words(&op.id).to_snake_case();
    if name == "type" || name == "match" {
        format!("r#{name}")
    } else {
        name
    }
}

/// The parameter struct of an operation, if it takes path or query parameters.
pub(crate) fn params_name(op: &Operation) -> Option<String> {
    (!op.params.is_empty()).then(|| format!("{}Params", plain_words(&op.id).to_upper_camel_case()))
}

/// Writes `params.rs`, `methods.rs` and `mod.rs`.
pub(crate) fn files(
    registry: &Registry,
    operations: &[Operation],
) -> Result<Vec<(String, String)>> {
    let mut names = BTreeSet::new();
    for op in operations {
        let method = method_name(op);
        if !names.insert(method.clone()) || !names.insert(format!("{method}_stream")) {
            bail!("operation {}: method name `{method}` is taken", op.id);
        }
    }

    let mut params = String::from(RUST_HEADER);
    params.push_str(
        "\n//! Path and query parameters of every operation, one struct per operation.\n\n\
         use std::collections::BTreeMap;\n",
    );
    let mut methods = String::from(RUST_HEADER);
    methods.push_str(
        "\n//! One method per Management API operation.\n\n\
         use kinde_api::models;\n\n\
         use super::params::*;\n\
         use crate::pages::Pages;\n\
         use crate::request::{OperationRequest, operation};\n\
         use crate::{Client, Error};\n\n\
         impl Client {\n",
    );
    for (index, op) in operations.iter().enumerate() {
        if let Some(name) = params_name(op) {
            params.push('\n');
            params_struct(&mut params, op, &name)?;
        }
        method(&mut methods, registry, op, index)?;
        if op.pagination.is_some() {
            stream_method(&mut methods, registry, op, index)?;
        }
    }
    methods.push_str("}\n");

    let module = format!(
        "{RUST_HEADER}\n//! Code generated from the operation table: parameters and methods.\n\n\
         mod methods;\npub mod params;\n"
    );
    Ok(vec![
        (
            EVERY_OPERATION_CALLS.to_owned(),
            every_operation_calls(registry, operations)?,
        ),
        (format!("{CLIENT_GENERATED_DIR}/mod.rs"), module),
        (format!("{CLIENT_GENERATED_DIR}/params.rs"), params),
        (format!("{CLIENT_GENERATED_DIR}/methods.rs"), methods),
    ])
}

fn param_type(param: &Param) -> Result<String> {
    let inner = match &param.ty {
        Ty::String(_) => "String",
        Ty::Integer => "i64",
        Ty::Boolean => "bool",
        Ty::Map(_) => "BTreeMap<String, Vec<String>>",
        other => bail!("parameter {}: unsupported type {other:?}", param.name),
    };
    Ok(if param.required {
        inner.to_owned()
    } else {
        format!("Option<{inner}>")
    })
}

fn params_struct(out: &mut String, op: &Operation, name: &str) -> Result<()> {
    out.push_str(&doc(
        "",
        &format!(
            "Parameters of [`Client::{name}`](crate::Client::{name}): `{} {}`.",
            op.method,
            op.path,
            name = method_name(op)
        ),
    ));
    writeln!(out, "#[derive(Clone, Debug, Default, PartialEq)]")?;
    writeln!(out, "pub struct {name} {{")?;
    for param in &op.params {
        let place = match param.location {
            Location::Path => "path",
            Location::Query => "query",
        };
        let mut doc = format!("`{}` ({place})", param.name);
        if param.required {
            doc.push_str(", required");
        }
        if !param.values.is_empty() {
            let values: Vec<String> = param.values.iter().map(|v| format!("`{v}`")).collect();
            write!(doc, ": one of {}", values.join(", "))?;
        } else if param.deep_object {
            doc.push_str(": sent as `name[key]=value` pairs");
        }
        doc.push('.');
        out.push_str(&self::doc("    ", &doc));
        writeln!(
            out,
            "    pub {}: {},",
            field_ident(&param.name),
            param_type(param)?
        )?;
    }
    out.push_str("}\n");
    Ok(())
}

/// The Rust type of a value in generated client code, models qualified with `models::`.
fn qualified(registry: &Registry, ty: &Ty) -> Result<String> {
    Ok(match ty {
        Ty::Model(name) | Ty::Enum(name) | Ty::Union(name) => format!("models::{name}"),
        Ty::Array(item) => format!("Vec<{}>", qualified(registry, item)?),
        other => crate::emit_rust::rust_type(registry, other)?,
    })
}

fn method_doc(out: &mut String, op: &Operation) -> Result<()> {
    out.push_str(&doc(
        "    ",
        &format!("`{}`: `{} {}`.", op.id, op.method, op.path),
    ));
    writeln!(out, "    ///")?;
    let mut facts = Vec::new();
    match &op.scope {
        Some(scope) => facts.push(format!("Needs the scope `{scope}`.")),
        None => facts.push("Needs no scope.".to_owned()),
    }
    let statuses: Vec<String> = op.success.iter().map(u16::to_string).collect();
    facts.push(format!("Succeeds with {}.", statuses.join(" or ")));
    if let Some(page) = &op.pagination {
        let style = match page.style {
            PageStyle::NextToken => "`next_token`",
            PageStyle::Cursor => "`starting_after`",
        };
        facts.push(format!(
            "Returns one page (by {style}); [`Client::{}_stream`] walks them all.",
            method_name(op)
        ));
    }
    if op.idempotent {
        facts.push("Idempotent: the retry layer may repeat it.".to_owned());
    } else {
        facts.push("Not idempotent: never repeated once it may have reached Kinde.".to_owned());
    }
    if let Some(reason) = &op.idempotency_reason {
        facts.push(format!("({reason}.)"));
    }
    out.push_str(&doc("    ", &facts.join(" ")));
    writeln!(out, "    ///\n    /// # Errors\n    ///")?;
    out.push_str(&doc(
        "    ",
        "Fails with [`Error`] when a parameter is invalid, the request cannot be sent, or Kinde \
         answers with an error status; see [`Error::kind`].",
    ));
    Ok(())
}

fn method(out: &mut String, registry: &Registry, op: &Operation, index: usize) -> Result<()> {
    let name = method_name(op);
    let mut args = vec!["&self".to_owned()];
    if let Some(params) = params_name(op) {
        args.push(format!("params: &{params}"));
    }
    if let Some(body) = &op.body {
        let ty = format!("models::{}", body.model);
        args.push(if body.required {
            format!("body: &{ty}")
        } else {
            format!("body: Option<&{ty}>")
        });
    }
    let output = match &op.response {
        Some(ty) => qualified(registry, ty)?,
        None => "()".to_owned(),
    };

    out.push('\n');
    method_doc(out, op)?;
    writeln!(
        out,
        "    pub async fn {name}({}) -> Result<{output}, Error> {{",
        args.join(", ")
    )?;
    let mutable = if op.params.is_empty() && op.body.is_none() {
        ""
    } else {
        "mut "
    };
    writeln!(
        out,
        "        let {mutable}request = OperationRequest::new(operation({index}, {:?}));",
        op.id
    )?;
    for param in &op.params {
        let ident = field_ident(&param.name);
        let call = match param.location {
            Location::Path => "path",
            Location::Query => "query",
        };
        writeln!(
            out,
            "        request.{call}({:?}, &params.{ident});",
            param.name
        )?;
    }
    if let Some(body) = &op.body {
        match (body.kind, body.required) {
            (BodyKind::Json, true) => writeln!(out, "        request.json(body);")?,
            (BodyKind::Json, false) => {
                writeln!(out, "        if let Some(body) = body {{")?;
                writeln!(out, "            request.json(body);")?;
                writeln!(out, "        }}")?;
            }
            (BodyKind::Multipart, _) => {
                let Some(model) = registry.model(&body.model) else {
                    bail!("operation {}: unknown body model", op.id);
                };
                for field in model.fields() {
                    if !matches!(&field.ty, Ty::String(Some(f)) if f == "binary") || !field.required
                    {
                        bail!(
                            "operation {}: multipart field {} is not a required file",
                            op.id,
                            field.name
                        );
                    }
                    writeln!(
                        out,
                        "        request.file({:?}, &body.{});",
                        field.name,
                        field_ident(&field.name)
                    )?;
                }
            }
        }
    }
    if op.response.is_some() {
        writeln!(out, "        self.send(request).await")?;
    } else {
        writeln!(out, "        self.send_without_body(request).await")?;
    }
    writeln!(out, "    }}")?;
    Ok(())
}

fn stream_method(
    out: &mut String,
    registry: &Registry,
    op: &Operation,
    index: usize,
) -> Result<()> {
    let Some(page) = &op.pagination else {
        return Ok(());
    };
    let Some(params) = params_name(op) else {
        bail!("operation {}: paginated without parameters", op.id);
    };
    if op.body.is_some() {
        bail!("operation {}: paginated with a body", op.id);
    }
    let name = method_name(op);
    let item = qualified(registry, &page.item)?;
    let items = field_ident(&page.items_field);

    out.push('\n');
    out.push_str(&doc(
        "    ",
        &format!(
            "Every item of [`Client::{name}`], across all pages. The next page is fetched only \
             when the stream is polled past the current one; a cursor that repeats ends the \
             stream with an error."
        ),
    ));
    writeln!(
        out,
        "    pub fn {name}_stream(&self, params: {params}) -> Pages<{item}> {{"
    )?;
    writeln!(out, "        let client = self.clone();")?;
    match page.style {
        PageStyle::NextToken => {
            writeln!(out, "        let first = params.next_token.clone();")?;
            writeln!(
                out,
                "        let operation = operation({index}, {:?});",
                op.id
            )?;
            writeln!(
                out,
                "        Pages::by_token(operation, first, move |token| {{"
            )?;
            writeln!(out, "            let client = client.clone();")?;
            writeln!(out, "            let mut params = params.clone();")?;
            writeln!(out, "            params.next_token = token;")?;
            writeln!(out, "            async move {{")?;
            writeln!(
                out,
                "                let page = client.{name}(&params).await?;"
            )?;
            writeln!(
                out,
                "                Ok((page.{items}.unwrap_or_default(), page.next_token))"
            )?;
            writeln!(out, "            }}")?;
            writeln!(out, "        }})")?;
        }
        PageStyle::Cursor => {
            let id = item_id_field(registry, &page.item).ok_or_else(|| {
                crate::error::Error::new(format!(
                    "operation {}: cursor-paged items have no string `id`",
                    op.id
                ))
            })?;
            let page_size = if page.page_size {
                "params.page_size"
            } else {
                "None"
            };
            let end = if page.has_more {
                "crate::pages::End::HasMore".to_owned()
            } else {
                format!("crate::pages::End::ShortPage({page_size})")
            };
            let has_more = if page.has_more {
                "page.has_more"
            } else {
                "None"
            };
            writeln!(out, "        let first = params.starting_after.clone();")?;
            writeln!(
                out,
                "        let operation = operation({index}, {:?});",
                op.id
            )?;
            writeln!(
                out,
                "        Pages::by_cursor(operation, first, {end}, |item: &{item}| {id}, move |cursor| {{"
            )?;
            writeln!(out, "            let client = client.clone();")?;
            writeln!(out, "            let mut params = params.clone();")?;
            writeln!(out, "            params.starting_after = cursor;")?;
            if page.ending_before {
                // The walk goes forward; Kinde refuses both cursors at once.
                writeln!(out, "            params.ending_before = None;")?;
            }
            writeln!(out, "            async move {{")?;
            writeln!(
                out,
                "                let page = client.{name}(&params).await?;"
            )?;
            writeln!(
                out,
                "                Ok((page.{items}.unwrap_or_default(), {has_more}))"
            )?;
            writeln!(out, "            }}")?;
            writeln!(out, "        }})")?;
        }
    }
    writeln!(out, "    }}")?;
    Ok(())
}

/// The expression (over `item`) for the id a `starting_after` cursor names: the item's string
/// `id`, or the `id` of the one object the item wraps (the spec's connection list items wrap
/// `{code, message, connection}`).
fn item_id_field(registry: &Registry, item: &Ty) -> Option<String> {
    let direct = |name: &str| -> Option<bool> {
        let ModelKind::Struct(fields) = &registry.model(name)?.kind else {
            return None;
        };
        Some(
            fields
                .iter()
                .any(|f| f.name == "id" && matches!(f.ty, Ty::String(_))),
        )
    };
    let Ty::Model(name) = item else { return None };
    if direct(name)? {
        return Some("item.id.clone()".to_owned());
    }
    let ModelKind::Struct(fields) = &registry.model(name)?.kind else {
        return None;
    };
    let wrapped: Vec<_> = fields
        .iter()
        .filter(|f| matches!(&f.ty, Ty::Model(inner) if direct(inner) == Some(true)))
        .collect();
    let [inner] = wrapped.as_slice() else {
        return None;
    };
    Some(format!(
        "item.{}.as_ref().and_then(|inner| inner.id.clone())",
        field_ident(&inner.name)
    ))
}

/// The sample value a generated test passes for a parameter.
fn sample(param: &Param) -> Result<(String, String)> {
    // (Rust expression, the value as it appears in the URL)
    let (expr, wire) = match &param.ty {
        Ty::String(_) if !param.values.is_empty() => {
            let value = &param.values[0];
            (format!("{value:?}.to_owned()"), value.clone())
        }
        Ty::String(_) => {
            let value = format!("sample_{}", param.name);
            (format!("{value:?}.to_owned()"), value)
        }
        Ty::Integer => ("7".to_owned(), "7".to_owned()),
        Ty::Boolean => ("true".to_owned(), "true".to_owned()),
        other => bail!("parameter {}: no sample for {other:?}", param.name),
    };
    Ok(if param.required {
        (expr, wire)
    } else {
        (format!("Some({expr})"), wire)
    })
}

/// A test helper that calls every operation once through a client with sample parameters and
/// hands each outcome, with the method, path and query it should have sent, to a [`Probe`].
fn every_operation_calls(registry: &Registry, operations: &[Operation]) -> Result<String> {
    let mut out = String::from(RUST_HEADER);
    out.push_str(
        "\n//! Calls every operation once with sample parameters, and hands each outcome to a \
         probe\n//! with the method, path and query the call should have sent.\n\n\
         use kinde_api::models;\n\
         use kinde_management::params::*;\n\
         use kinde_management::{Client, Error};\n\n\
         /// Checks one call: what reached the server and what came back.\n\
         pub(crate) trait Probe {\n    \
         /// Called before the call to `operation_id`.\n    \
         async fn before(&mut self, operation_id: &'static str);\n    \
         /// Called after it, with what it should have sent and its outcome.\n    \
         async fn after(\n        &mut self,\n        operation_id: &'static str,\n        \
         method: &'static str,\n        path: &'static str,\n        \
         query: &'static [&'static str],\n        outcome: Result<(), Error>,\n    );\n}\n\n\
         /// Calls every operation once; returns how many were called.\n\
         pub(crate) async fn call_every_operation(client: &Client, probe: &mut impl Probe) -> usize {\n    \
         let mut called = 0;\n",
    );
    for op in operations {
        let method = method_name(op);
        let mut args = Vec::new();
        let mut path = op.path.clone();
        let mut query = Vec::new();
        if let Some(params) = params_name(op) {
            let mut fields = Vec::new();
            for param in op
                .params
                .iter()
                .filter(|p| p.required || p.location == Location::Query)
            {
                let cursor = ["next_token", "starting_after", "ending_before"]
                    .contains(&param.name.as_str());
                if param.deep_object
                    || (!param.required && (param.ty != Ty::String(None) || cursor))
                {
                    continue;
                }
                let (expr, wire) = sample(param)?;
                fields.push(format!("{}: {expr}", field_ident(&param.name)));
                match param.location {
                    Location::Path => path = path.replace(&format!("{{{}}}", param.name), &wire),
                    Location::Query => query.push(format!("{}={wire}", param.name)),
                }
            }
            if fields.len() < op.params.len() {
                fields.push("..Default::default()".to_owned());
            }
            writeln!(
                out,
                "    let params = {params} {{ {} }};",
                fields.join(", ")
            )?;
            args.push("&params".to_owned());
        }
        if let Some(body) = &op.body {
            let expr = match body.kind {
                BodyKind::Multipart => {
                    let Some(model) = registry.model(&body.model) else {
                        bail!("operation {}: unknown body", op.id);
                    };
                    let fields: Vec<String> = model
                        .fields()
                        .iter()
                        .map(|f| format!("{}: b\"image\".to_vec()", field_ident(&f.name)))
                        .collect();
                    format!("models::{} {{ {} }}", body.model, fields.join(", "))
                }
                BodyKind::Json => {
                    let example =
                        crate::examples::example(registry, &Ty::Model(body.model.clone()))?;
                    format!(
                        "serde_json::from_str::<models::{}>({:?}).expect(\"sample body\")",
                        body.model,
                        example.to_string()
                    )
                }
            };
            writeln!(out, "    let body = {expr};")?;
            args.push(if body.required {
                "&body".to_owned()
            } else {
                "Some(&body)".to_owned()
            });
        }
        writeln!(out, "    probe.before({:?}).await;", op.id)?;
        writeln!(
            out,
            "    let outcome = client.{method}({}).await.map(drop);",
            args.join(", ")
        )?;
        writeln!(
            out,
            "    probe.after({:?}, {:?}, {:?}, &{:?}, outcome).await;",
            op.id, op.method, path, query
        )?;
        out.push_str("    called += 1;\n");
    }
    out.push_str("    called\n}\n");
    Ok(out)
}
