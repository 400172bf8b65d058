use super::*;

const HASH: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

fn config(extra: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:50051"
audit_log = "stdout"

[kinde]
base_url = "https://mybusiness.kinde.com"

[profiles.billing-sync]
client_id = "0123456789abcdef0123456789abcdef"
client_secret_env = "BILLING_SYNC_SECRET"
scopes = ["read:users"]

[callers.billing]
api_key_sha256 = ["{HASH}"]
profile = "billing-sync"
allow = ["kinde.management.v1.UsersService/*", "kinde.management.v1.OrganizationsService/GetOrganization"]
{extra}
"#
    )
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Vec::new())
}

#[test]
fn the_documented_shape_parses_and_builds() {
    let config = parse(&config("")).unwrap();
    assert_eq!(config.callers["billing"].profile, "billing-sync");
    let gateway = config
        .gateway(|name| (name == "BILLING_SYNC_SECRET").then(|| "s3cr3t".to_owned()))
        .unwrap();
    assert_eq!(gateway.profiles().count(), 1);
    assert!(!format!("{gateway:?}").contains("s3cr3t"));
}

#[test]
fn every_rejection_names_its_key() {
    let cases = [
        (
            config("").replace(
                "client_secret_env = \"BILLING_SYNC_SECRET\"",
                "client_secret = \"inline\"",
            ),
            "profiles.billing-sync.client_secret",
        ),
        (
            config("").replace("profile = \"billing-sync\"", "profile = \"nope\""),
            "callers.billing.profile",
        ),
        (
            config("").replace(HASH, "xyz"),
            "callers.billing.api_key_sha256[0]",
        ),
        (
            config("").replace(
                "kinde.management.v1.UsersService/*",
                "kinde.management.v1.NoService/*",
            ),
            "callers.billing.allow[0]",
        ),
        (
            config("").replace("https://mybusiness.kinde.com", "ftp://x"),
            "kinde.base_url",
        ),
        (config("max_in_flight = 0"), "callers.billing.max_in_flight"),
    ];
    for (text, key) in cases {
        let error = parse(&text).unwrap_err();
        assert_eq!(error.key(), key, "{error}");
    }

    let unknown = parse(&config("colour = \"blue\"")).unwrap_err();
    assert!(unknown.to_string().contains("colour"), "{unknown}");

    let missing_secret = parse(&config("")).unwrap().gateway(|_| None).unwrap_err();
    assert_eq!(
        missing_secret.key(),
        "profiles.billing-sync.client_secret_env"
    );
    assert!(missing_secret.to_string().contains("BILLING_SYNC_SECRET"));
}

#[test]
fn rpcs_come_from_the_contract_and_map_to_operations() {
    let all = rpcs();
    assert!(all.len() > 200, "{}", all.len());
    assert!(all.contains(&"kinde.management.v1.UsersService/GetUsers".to_owned()));
    let get_users = operation_of("kinde.management.v1.UsersService/StreamGetUsers").unwrap();
    assert_eq!(get_users.id, "getUsers");
    let unmatched: Vec<_> = all
        .iter()
        .filter(|rpc| operation_of(rpc).is_none())
        .collect();
    assert!(unmatched.is_empty(), "{unmatched:?}");
}

#[test]
fn check_config_reports_allowed_rpcs_outside_the_profiles_scopes() {
    let config = parse(&config("")).unwrap();
    let gaps = scope_gaps(&config);
    assert!(gaps.iter().all(|gap| gap.caller == "billing"));
    assert!(gaps.iter().any(
        |gap| gap.rpc.ends_with("OrganizationsService/GetOrganization")
            && gap.scope == "read:organizations"
    ));
    assert!(
        gaps.iter()
            .any(|gap| gap.rpc.ends_with("UsersService/CreateUser")),
        "Service/* covers writes too"
    );
    assert!(
        !gaps
            .iter()
            .any(|gap| gap.rpc.ends_with("UsersService/GetUsers"))
    );
}
