//! A compliance-style access report: every organization, its members and their roles, as one
//! table.
//!
//! ```sh
//! cargo run -p kinde-gateway -- --emulator          # in one terminal
//! cargo run -p examples --bin provision_tenant      # something to report on
//! cargo run -p examples --bin access_report
//! cargo run -p examples --bin access_report -- --organization org_0123456789a
//! ```
//!
//! Organizations and members come through the streaming RPCs, so the report reads every page
//! whatever the size of the business. The calls it made are listed first, with their request
//! ids.

use std::process::ExitCode;

use clap::Parser;
use examples::{Failure, GatewayArgs, GatewaySession, Table, directory};
use kinde_gateway::pb;

/// Print users and their roles per organization.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    gateway: GatewayArgs,
    /// Report on this organization code only (repeat for more); default: all.
    #[arg(long = "organization")]
    organizations: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::exit_code(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let session = GatewaySession::connect(&args.gateway, "report").await?;
    println!("access report via {}", args.gateway.address);

    let (request, request_id) = session.request(pb::StreamGetOrganizationsRequest {
        sort: Some("name_asc".to_owned()),
        ..Default::default()
    });
    let stream = session
        .organizations()
        .stream_get_organizations(request)
        .await;
    let organizations: Vec<pb::OrganizationItemSchema> = session
        .collect("list organizations", &request_id, stream)
        .await?
        .into_iter()
        .filter_map(|item| item.organization)
        .filter(|organization| {
            args.organizations.is_empty()
                || organization
                    .code
                    .as_ref()
                    .is_some_and(|code| args.organizations.contains(code))
        })
        .collect();
    println!(
        "  organizations               {:>3}  (request id {request_id})",
        organizations.len()
    );

    let mut table = Table::new(["organization", "code", "user", "name", "roles"]);
    let mut memberships = 0;
    for organization in &organizations {
        let code = organization.code.as_deref().unwrap_or_default();
        let name = organization.name.as_deref().unwrap_or_default();
        let (members, request_id) = directory::members(&session, code).await?;
        println!(
            "  members of {code:<15}  {:>3}  (request id {request_id})",
            members.len()
        );
        if members.is_empty() {
            table.row([name, code, "(no members)"]);
        }
        for member in &members {
            let roles = if member.roles.is_empty() {
                "(none)".to_owned()
            } else {
                member.roles.join(", ")
            };
            table.row([
                name,
                code,
                member.email.as_deref().unwrap_or("(no email)"),
                member.full_name.as_deref().unwrap_or_default(),
                &roles,
            ]);
            memberships += 1;
        }
    }

    println!();
    print!("{table}");
    println!(
        "{memberships} memberships in {} organizations",
        organizations.len()
    );
    Ok(())
}
