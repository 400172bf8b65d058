//! A SaaS signs up a customer: an organization for it, its first users, each added with a role,
//! then the members listed back through the streaming RPC.
//!
//! ```sh
//! cargo run -p kinde-gateway -- --emulator          # in one terminal
//! cargo run -p examples --bin provision_tenant      # in another
//! cargo run -p examples --bin provision_tenant -- --customer "Initech" \
//!     --user peter@initech.example:Peter:Gibbons --role admin
//! ```
//!
//! Each step prints the request id it was sent with; the gateway's audit log and the request
//! that reached Kinde carry the same id. Steps look before they create (the organization by its
//! external id, users by email, the role by key), so a second run reuses what the first made
//! and says so instead of failing.

use std::process::ExitCode;

use clap::Parser;
use examples::directory::{self, Person};
use examples::{Failure, GatewayArgs, GatewaySession};
use kinde_gateway::pb;

/// Sign a customer up: organization, first users, their role, then list the members.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    gateway: GatewayArgs,
    /// The customer's name; the organization's external id is made from it.
    #[arg(long, default_value = "Acme Corp")]
    customer: String,
    /// A first user as EMAIL:GIVEN:FAMILY (repeat the flag for more).
    #[arg(long = "user", value_parser = parse_person, default_values = [
        "ada@acme.example:Ada:Lovelace",
        "grace@acme.example:Grace:Hopper",
    ])]
    users: Vec<Person>,
    /// The key of the role the first users get in the organization (created if missing).
    #[arg(long, default_value = "admin")]
    role: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::exit_code(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let session = GatewaySession::connect(&args.gateway, "provision").await?;
    println!(
        "provisioning {} via {}",
        args.customer, args.gateway.address
    );

    let external_id = directory::slug(&args.customer);
    let organization = directory::organization(&session, &args.customer, &external_id).await?;
    let code = organization.id;
    println!(
        "  organization  {code}  {}  (request id {})",
        organization.outcome.as_str(),
        organization.request_id
    );

    let role = directory::role(&session, &args.role, &title(&args.role)).await?;
    println!(
        "  role          {}  {}  (request id {})",
        args.role,
        role.outcome.as_str(),
        role.request_id
    );

    let (members, _) = directory::members(&session, &code).await?;
    let mut additions = Vec::new();
    for person in &args.users {
        let user = directory::user(&session, person).await?;
        println!(
            "  user          {}  {}  {}  (request id {})",
            person.email,
            user.id,
            user.outcome.as_str(),
            user.request_id
        );
        let has_role = members.iter().any(|member| {
            member.id.as_deref() == Some(user.id.as_str()) && member.roles.contains(&args.role)
        });
        if !has_role {
            additions.push(pb::AddOrganizationUsersRequestUser {
                id: Some(user.id),
                roles: vec![args.role.clone()],
                ..Default::default()
            });
        }
    }

    if additions.is_empty() {
        println!("  members       all already in with role {}", args.role);
    } else {
        let count = additions.len();
        let (request, request_id) = session.request(pb::AddOrganizationUsersRequest {
            org_code: code.clone(),
            users: additions,
        });
        let added = session
            .organizations()
            .add_organization_users(request)
            .await;
        session.check("add the users to the organization", &request_id, added)?;
        println!(
            "  added         {count} users with role {}  (request id {request_id})",
            args.role
        );
    }

    let (members, request_id) = directory::members(&session, &code).await?;
    println!(
        "{} has {} members (streamed, request id {request_id}):",
        args.customer,
        members.len()
    );
    for member in &members {
        println!(
            "  {}  {}  [{}]",
            member.email.as_deref().unwrap_or("(no email)"),
            member.full_name.as_deref().unwrap_or_default(),
            member.roles.join(", ")
        );
    }
    Ok(())
}

/// `EMAIL:GIVEN:FAMILY` as a [`Person`].
fn parse_person(text: &str) -> Result<Person, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(email), Some(given_name), Some(family_name)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected EMAIL:GIVEN:FAMILY, such as ada@acme.example:Ada:Lovelace".into());
    };
    if !email.contains('@') {
        return Err(format!("{email:?} is not an email address"));
    }
    Ok(Person {
        email: email.to_owned(),
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
    })
}

/// `admin` -> `Admin`, a role name from its key.
fn title(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_flag_needs_three_parts_and_an_email() {
        let ada = parse_person("ada@acme.example:Ada:Lovelace").unwrap();
        assert_eq!(ada.family_name, "Lovelace");
        assert!(parse_person("ada@acme.example:Ada").is_err());
        assert!(parse_person("ada:Ada:Lovelace").is_err());
    }
}
