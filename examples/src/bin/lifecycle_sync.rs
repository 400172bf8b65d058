//! Keeps an organization's members equal to a list of users in a CSV file: creates missing
//! users and roles, adds missing members with their role, corrects roles, and removes members
//! the file no longer lists. A second run finds nothing to do and says so.
//!
//! ```sh
//! cargo run -p kinde-gateway -- --emulator          # in one terminal
//! cargo run -p examples --bin lifecycle_sync        # twice: the second run changes nothing
//! cargo run -p examples --bin lifecycle_sync -- --file my-users.csv --organization "Globex"
//! ```
//!
//! The file starts with the header line `email,given_name,family_name,role`, then has one user
//! a line (`examples/data/users.csv` is fake data). Every change prints the request id it was
//! sent with. A file that lists nobody would remove every member, so it is refused unless
//! `--allow-empty` says that is meant.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::directory::{self, Outcome, Person};
use examples::{Failure, GatewayArgs, GatewaySession};
use kinde_gateway::pb;

/// The fake list of users kept in the repository.
const DEFAULT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/users.csv");

/// The columns of the file, in order, as its header line names them.
const COLUMNS: [&str; 4] = ["email", "given_name", "family_name", "role"];

/// Sync the users of a CSV file into an organization; idempotent.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    gateway: GatewayArgs,
    /// The CSV file: email,given_name,family_name,role.
    #[arg(long, default_value = DEFAULT_FILE)]
    file: PathBuf,
    /// The organization's name; found by the external id made from it, or created.
    #[arg(long, default_value = "Globex")]
    organization: String,
    /// Sync a file that lists no users, removing every member of the organization.
    #[arg(long)]
    allow_empty: bool,
}

/// One line of the file.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    person: Person,
    role: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::exit_code(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let doing = format!("read {}", args.file.display());
    let text = std::fs::read_to_string(&args.file).map_err(|e| Failure::new(&doing, e))?;
    let rows = parse(&text).map_err(|e| Failure::new(&doing, e))?;
    if rows.is_empty() && !args.allow_empty {
        let reason = format!(
            "it lists no users, and syncing it would remove every member of {}; \
             pass --allow-empty if that is what you want",
            args.organization
        );
        return Err(Failure::new(&doing, reason));
    }
    let session = GatewaySession::connect(&args.gateway, "sync").await?;
    println!(
        "syncing {} users from {} into {}",
        rows.len(),
        args.file.file_name().unwrap_or_default().to_string_lossy(),
        args.organization
    );
    let mut changes = 0;

    let external_id = directory::slug(&args.organization);
    let organization = directory::organization(&session, &args.organization, &external_id).await?;
    let code = organization.id;
    if organization.outcome == Outcome::Created {
        changes += 1;
        println!(
            "  created organization {code}  (request id {})",
            organization.request_id
        );
    }

    let mut role_ids = BTreeMap::new();
    let keys: BTreeSet<&str> = rows.iter().map(|row| row.role.as_str()).collect();
    for key in keys {
        let role = directory::role(&session, key, key).await?;
        if role.outcome == Outcome::Created {
            changes += 1;
            println!("  created role {key}  (request id {})", role.request_id);
        }
        role_ids.insert(key.to_owned(), role.id);
    }

    let mut wanted = BTreeMap::new();
    for row in &rows {
        let user = directory::user(&session, &row.person).await?;
        if user.outcome == Outcome::Created {
            changes += 1;
            println!(
                "  created user {}  (request id {})",
                row.person.email, user.request_id
            );
        }
        wanted.insert(user.id, row);
    }

    let (members, _) = directory::members(&session, &code).await?;
    changes += reconcile(&session, &code, &wanted, &members, &role_ids).await?;

    if changes == 0 {
        println!(
            "{} is in sync: no changes  (request ids {})",
            args.organization,
            session.request_ids()
        );
    } else {
        println!(
            "{} synced: {changes} changes  (request ids {})",
            args.organization,
            session.request_ids()
        );
    }
    Ok(())
}

/// Adds, corrects and removes members so that they match `wanted` (user id -> row); returns
/// how many changes it made.
async fn reconcile(
    session: &GatewaySession,
    code: &str,
    wanted: &BTreeMap<String, &Row>,
    members: &[pb::OrganizationUser],
    role_ids: &BTreeMap<String, String>,
) -> Result<usize, Failure> {
    let mut changes = 0;
    let current: BTreeMap<&str, &pb::OrganizationUser> = members
        .iter()
        .filter_map(|member| Some((member.id.as_deref()?, member)))
        .collect();

    let additions: Vec<pb::AddOrganizationUsersRequestUser> = wanted
        .iter()
        .filter(|(id, _)| !current.contains_key(id.as_str()))
        .map(|(id, row)| pb::AddOrganizationUsersRequestUser {
            id: Some(id.clone()),
            roles: vec![row.role.clone()],
            ..Default::default()
        })
        .collect();
    if !additions.is_empty() {
        let count = additions.len();
        let (request, request_id) = session.request(pb::AddOrganizationUsersRequest {
            org_code: code.to_owned(),
            users: additions,
        });
        let added = session
            .organizations()
            .add_organization_users(request)
            .await;
        session.check("add members", &request_id, added)?;
        changes += count;
        println!("  added {count} members  (request id {request_id})");
    }

    for (id, member) in &current {
        let email = member.email.as_deref().unwrap_or(id);
        let Some(row) = wanted.get(*id) else {
            let (request, request_id) = session.request(pb::RemoveOrganizationUserRequest {
                org_code: code.to_owned(),
                user_id: (*id).to_owned(),
            });
            let removed = session
                .organizations()
                .remove_organization_user(request)
                .await;
            session.check(&format!("remove {email}"), &request_id, removed)?;
            changes += 1;
            println!("  removed {email}: not in the file  (request id {request_id})");
            continue;
        };
        changes += correct_roles(session, code, id, email, member, row, role_ids).await?;
    }
    Ok(changes)
}

/// Gives the member `id` exactly the role of its row; returns how many changes it made.
async fn correct_roles(
    session: &GatewaySession,
    code: &str,
    id: &str,
    email: &str,
    member: &pb::OrganizationUser,
    row: &Row,
    role_ids: &BTreeMap<String, String>,
) -> Result<usize, Failure> {
    let mut changes = 0;
    if !member.roles.contains(&row.role) {
        let (request, request_id) = session.request(pb::CreateOrganizationUserRoleRequest {
            org_code: code.to_owned(),
            user_id: id.to_owned(),
            role_id: role_ids.get(&row.role).cloned(),
        });
        let granted = session
            .organizations()
            .create_organization_user_role(request)
            .await;
        let doing = format!("give {email} the role {}", row.role);
        session.check(&doing, &request_id, granted)?;
        changes += 1;
        println!(
            "  gave {email} the role {}  (request id {request_id})",
            row.role
        );
    }
    for extra in member.roles.iter().filter(|key| **key != row.role) {
        let (request, request_id) = session.request(pb::GetOrganizationUserRolesRequest {
            org_code: code.to_owned(),
            user_id: id.to_owned(),
        });
        let roles = session
            .organizations()
            .get_organization_user_roles(request)
            .await;
        let doing = format!("look up the roles of {email}");
        let roles = session.check(&doing, &request_id, roles)?;
        let Some(role_id) = roles
            .roles
            .into_iter()
            .find(|role| role.key.as_deref() == Some(extra))
            .and_then(|role| role.id)
        else {
            continue;
        };
        let (request, request_id) = session.request(pb::DeleteOrganizationUserRoleRequest {
            org_code: code.to_owned(),
            user_id: id.to_owned(),
            role_id,
        });
        let revoked = session
            .organizations()
            .delete_organization_user_role(request)
            .await;
        session.check(&format!("take {extra} from {email}"), &request_id, revoked)?;
        changes += 1;
        println!("  took the role {extra} from {email}  (request id {request_id})");
    }
    Ok(changes)
}

/// The rows of the file: the header line naming [`COLUMNS`], then one user per line. Blank
/// lines and lines starting with `#` are skipped.
fn parse(text: &str) -> Result<Vec<Row>, String> {
    let expected = COLUMNS.join(",");
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
    let Some((number, header)) = lines.next() else {
        return Err(format!(
            "the file is empty; it needs the header line {expected}"
        ));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let matches = names.len() == COLUMNS.len()
        && names
            .iter()
            .zip(COLUMNS)
            .all(|(name, column)| name.eq_ignore_ascii_case(column));
    if !matches {
        return Err(format!(
            "line {number}: the header is {header:?}; expected the columns {expected}"
        ));
    }

    let mut rows: Vec<Row> = Vec::new();
    for (number, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let [email, given_name, family_name, role] = cells[..] else {
            return Err(format!(
                "line {number}: {} columns, expected 4 ({expected})",
                cells.len()
            ));
        };
        if !email.contains('@') || role.is_empty() {
            return Err(format!("line {number}: needs an email address and a role"));
        }
        if rows
            .iter()
            .any(|row| row.person.email.eq_ignore_ascii_case(email))
        {
            return Err(format!("line {number}: {email} is listed twice"));
        }
        rows.push(Row {
            person: Person {
                email: email.to_owned(),
                given_name: given_name.to_owned(),
                family_name: family_name.to_owned(),
            },
            role: role.to_owned(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_data_parses() {
        let rows = parse(&std::fs::read_to_string(DEFAULT_FILE).unwrap()).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].person.email, "hank@globex.example");
        assert_eq!(rows[0].role, "admin");
    }

    #[test]
    fn bad_lines_are_named() {
        let header = "email,given_name,family_name,role\n";
        let short = format!("{header}a@b.example,A\n");
        assert_eq!(
            parse(&short).unwrap_err(),
            "line 2: 2 columns, expected 4 (email,given_name,family_name,role)"
        );
        let twice = format!("{header}a@b.example,A,B,x\n\nA@b.example,A,B,y\n");
        assert_eq!(
            parse(&twice).unwrap_err(),
            "line 4: A@b.example is listed twice"
        );
    }

    #[test]
    fn the_header_line_is_checked_not_dropped() {
        // A file without its header: the first user must not be taken for one.
        let headless = "hank@globex.example,Hank,Scorpio,admin\n";
        assert_eq!(
            parse(headless).unwrap_err(),
            "line 1: the header is \"hank@globex.example,Hank,Scorpio,admin\"; \
             expected the columns email,given_name,family_name,role"
        );
        let reordered = "email,role,given_name,family_name\na@b.example,x,A,B\n";
        assert!(
            parse(reordered)
                .unwrap_err()
                .starts_with("line 1: the header is")
        );
        assert_eq!(
            parse("").unwrap_err(),
            "the file is empty; it needs the header line email,given_name,family_name,role"
        );

        // Comments and blank lines may come first; case, spaces and a byte-order mark do not
        // matter.
        let commented =
            "\u{feff}# exported\n\n Email , Given_Name,family_name,ROLE\na@b.example,A,B,x\n";
        let rows = parse(commented).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].role, "x");
    }

    #[test]
    fn a_header_alone_is_no_users() {
        assert_eq!(parse("email,given_name,family_name,role\n").unwrap(), []);
    }
}
