//! `KINDE_GATEWAY_*` overrides applied to the parsed TOML before it is read.

use super::{ConfigError, ENV_PREFIX};

/// Variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["KINDE_GATEWAY_CONFIG", "KINDE_GATEWAY_LOG"];

/// Applies every `KINDE_GATEWAY_*` variable of `env` to `table`. See the [module
/// docs](super#environment-overrides).
pub(super) fn apply_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !NOT_KEYS.contains(&name.as_str()))
        .collect();
    overrides.sort();

    for (name, raw) in overrides {
        let path: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
        if path.iter().any(|segment| segment.is_empty()) {
            return Err(ConfigError::new(name, "an empty key segment"));
        }
        set(table, &path, &raw).map_err(|message| ConfigError::new(name, message))?;
    }
    Ok(())
}

fn set(table: &mut toml::Table, path: &[&str], raw: &str) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("a non-empty path");
    let key = table
        .keys()
        .find(|existing| same_key(existing, first))
        .cloned()
        .unwrap_or_else(|| first.to_ascii_lowercase());

    if rest.is_empty() {
        let value = value(table.get(&key), raw)?;
        table.insert(key, value);
        return Ok(());
    }
    let entry = table
        .entry(key.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(inner) => set(inner, rest, raw),
        _ => Err(format!("`{key}` is not a table")),
    }
}

fn same_key(existing: &str, segment: &str) -> bool {
    let normalize = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    normalize(existing) == normalize(segment)
}

/// The override's value, typed like the value it replaces; a new key's value is a TOML list,
/// integer or boolean if it reads as one, else a string.
fn value(existing: Option<&toml::Value>, raw: &str) -> Result<toml::Value, String> {
    let as_toml = || {
        toml::from_str::<toml::Table>(&format!("value = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("value"))
    };
    match existing {
        Some(toml::Value::String(_)) => Ok(toml::Value::String(raw.to_owned())),
        Some(toml::Value::Array(_)) => match as_toml() {
            Some(value @ toml::Value::Array(_)) => Ok(value),
            _ => Err("expected a TOML list such as [\"a\", \"b\"]".to_owned()),
        },
        Some(toml::Value::Integer(_)) => raw
            .trim()
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| "expected an integer".to_owned()),
        Some(toml::Value::Boolean(_)) => raw
            .trim()
            .parse()
            .map(toml::Value::Boolean)
            .map_err(|_| "expected true or false".to_owned()),
        _ => Ok(match as_toml() {
            Some(
                value @ (toml::Value::Array(_) | toml::Value::Integer(_) | toml::Value::Boolean(_)),
            ) => value,
            _ => toml::Value::String(raw.to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn overrides_replace_nested_keys_by_normalized_name() {
        let mut table: toml::Table = toml::from_str(
            "listen = \"127.0.0.1:1\"\n[profiles.billing-sync]\nclient_id = \"a\"\nscopes = [\"x\"]\n",
        )
        .unwrap();
        apply_overrides(
            &mut table,
            env(&[
                ("KINDE_GATEWAY_LISTEN", "0.0.0.0:2"),
                ("KINDE_GATEWAY_PROFILES__BILLING_SYNC__CLIENT_ID", "12345"),
                (
                    "KINDE_GATEWAY_PROFILES__BILLING_SYNC__SCOPES",
                    "[\"y\", \"z\"]",
                ),
                ("KINDE_GATEWAY_SERVER__DRAIN_TIMEOUT_SECS", "3"),
                ("KINDE_GATEWAY_CONFIG", "/ignored"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(table["listen"].as_str(), Some("0.0.0.0:2"));
        let profile = &table["profiles"]["billing-sync"];
        assert_eq!(
            profile["client_id"].as_str(),
            Some("12345"),
            "stays a string"
        );
        assert_eq!(profile["scopes"].as_array().unwrap().len(), 2);
        assert_eq!(table["server"]["drain_timeout_secs"].as_integer(), Some(3));
        assert!(!table.contains_key("config"));
    }

    #[test]
    fn a_bad_override_names_its_variable() {
        let mut table: toml::Table = toml::from_str("listen = \"x\"\n").unwrap();
        let error =
            apply_overrides(&mut table, env(&[("KINDE_GATEWAY_LISTEN__X", "1")])).unwrap_err();
        assert_eq!(error.key(), "KINDE_GATEWAY_LISTEN__X");
    }
}
