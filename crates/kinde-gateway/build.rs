//! Compiles the gRPC contract in `proto/` with protox (no system `protoc`) and tonic-prost-build.
//!
//! Three outputs in `OUT_DIR`:
//! - `kinde.management.v1.rs`: the messages, the service traits and the clients;
//! - `kinde_management_v1_descriptor.bin`: the encoded file descriptor set, for reflection;
//! - `secret_debug.rs`: a redacting `Debug` impl for every message that carries a secret
//!   (`kinde_api::PROTO_SECRET_MESSAGES`), whose derived `Debug` is skipped;
//! - `kinde_routes.rs`: the expression that adds every service of the contract to `routes`,
//!   each served by a clone of `gateway`.

use std::fmt::Write as _;
use std::path::PathBuf;

use protox::prost::Message as _;

const PACKAGE: &str = "kinde.management.v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let package_dir = proto_root.join("kinde/management/v1");
    let mut files: Vec<String> = std::fs::read_dir(&package_dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".proto"))
        .map(|name| format!("kinde/management/v1/{name}"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", package_dir.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let descriptors = protox::Compiler::new([&proto_root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(&files)?
        .file_descriptor_set();
    std::fs::write(out_dir.join("kinde_routes.rs"), routes(&descriptors)?)?;
    std::fs::write(
        out_dir.join("kinde_management_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    let secret_paths: Vec<String> = kinde_api::PROTO_SECRET_MESSAGES
        .iter()
        .map(|name| format!(".{name}"))
        .collect();
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .skip_debug(&secret_paths)
        .compile_fds(descriptors)?;

    std::fs::write(out_dir.join("secret_debug.rs"), secret_debug_impls()?)?;
    Ok(())
}

/// `impl Debug` for each secret-carrying message: its name and nothing of its fields.
fn secret_debug_impls() -> Result<String, std::fmt::Error> {
    let mut code = String::new();
    for full_name in kinde_api::PROTO_SECRET_MESSAGES {
        let name = full_name
            .strip_prefix(PACKAGE)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(full_name);
        writeln!(
            code,
            "impl ::core::fmt::Debug for {name} {{\n    \
             fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{\n        \
             f.write_str(\"{name} {{ .. }}\")\n    }}\n}}\n"
        )?;
    }
    Ok(code)
}

/// `routes.add_service(pb::x_service_server::XServiceServer::new(gateway.clone()))...` for
/// every service of the package, named as tonic-build names the server modules.
fn routes(descriptors: &prost_types::FileDescriptorSet) -> Result<String, std::fmt::Error> {
    let mut code = String::from("routes");
    for file in descriptors.file.iter().filter(|f| f.package() == PACKAGE) {
        for service in &file.service {
            let name = service.name();
            let module = format!("{}_server", snake_case(name));
            write!(
                code,
                "\n    .add_service(crate::pb::{module}::{name}Server::new(gateway.clone()))"
            )?;
        }
    }
    Ok(code)
}

/// tonic-build's module naming: lowercase, with `_` before every uppercase letter but the first.
fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (index, c) in name.chars().enumerate() {
        if index > 0 && c.is_uppercase() {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}
