//! `kinde-codegen`: generates the Kinde API contract from Kinde's official OpenAPI spec.
//!
//! It reads the spec (`--spec PATH` or `KINDE_OPENAPI_SPEC`) and writes, deterministically:
//!
//! - `crates/kinde-api/src/generated/`: serde models for every schema and inline body, the
//!   operation table, and the index of example bodies;
//! - `crates/kinde-api/examples-json/`: one example body per response type;
//! - `crates/kinde-api/tests/examples_roundtrip.rs`: the round-trip test over those examples;
//! - `crates/kinde-management/src/generated/`: one parameter struct and one method per
//!   operation, and a stream for every paginated list;
//! - `proto/kinde/management/v1/`: the gRPC contract, one service per spec tag.
//!
//! With `--check` it writes nothing and exits non-zero, naming each file that differs from what
//! is committed (or is missing, or is left over from an earlier run).

mod emit_client;
mod emit_gateway;
mod emit_proto;
mod emit_rust;
mod error;
mod examples;
mod generate;
mod model;
mod operations;
mod output;
mod spec;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Generate the Kinde API models, operation table and gRPC contract from the OpenAPI spec.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Kinde's Management API spec (`kinde-mgmt-api-specs.yaml`).
    #[arg(long, env = "KINDE_OPENAPI_SPEC")]
    spec: PathBuf,

    /// The repository root to write into; defaults to the workspace this tool was built in.
    #[arg(long)]
    root: Option<PathBuf>,

    /// Compare with the files on disk instead of writing; exit 1 naming each difference.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let root = args.root.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .expect("the workspace root exists")
    });

    let files = match spec::Spec::load(&args.spec).and_then(|spec| generate::all(&spec)) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("kinde-codegen: {error}");
            return ExitCode::from(2);
        }
    };

    let result = if args.check {
        output::check(&root, &files)
    } else {
        output::write(&root, &files)
    };
    match result {
        Ok(report) if report.is_empty() => {
            if args.check {
                println!(
                    "kinde-codegen: {} generated files are up to date",
                    files.len()
                );
            } else {
                println!("kinde-codegen: {} files unchanged", files.len());
            }
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for line in &report {
                println!("{line}");
            }
            if args.check {
                eprintln!(
                    "kinde-codegen: {} generated files differ; run `cargo run -p kinde-codegen -- \
                     --spec PATH` and commit the result",
                    report.len()
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("kinde-codegen: {error}");
            ExitCode::from(2)
        }
    }
}
