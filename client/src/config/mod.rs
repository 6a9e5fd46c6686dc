//! Typed configuration: the client's profile, and the loading rules every
//! Consort config file follows (TOML, `CONSORT_<FIELD>` environment
//! overrides, paths relative to the file, typed errors naming the field).

pub mod profile;

pub use profile::ClientProfile;

use std::path::{Path, PathBuf};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not match the expected fields.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// An environment override has a value of the wrong type.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A field has an invalid value.
    #[error("invalid config field '{field}': {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Reads a TOML file into a table.
pub fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Applies `CONSORT_<FIELD>` environment variables to the named top-level
/// fields of `table`. `lists` are comma-separated arrays, `ints` integers.
pub fn apply_env(
    table: &mut toml::Table,
    fields: &[&str],
    lists: &[&str],
    ints: &[&str],
) -> Result<(), ConfigError> {
    for field in fields {
        let var = format!("CONSORT_{}", field.to_uppercase());
        let Ok(value) = std::env::var(&var) else {
            continue;
        };
        let v = if lists.contains(field) {
            toml::Value::Array(
                value
                    .split(',')
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            )
        } else if ints.contains(field) {
            toml::Value::Integer(value.parse().map_err(|_| ConfigError::Env {
                var: var.clone(),
                message: format!("'{value}' is not an integer"),
            })?)
        } else {
            toml::Value::String(value)
        };
        table.insert((*field).to_string(), v);
    }
    Ok(())
}

/// Deserialises a table into a typed config.
pub fn from_table<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    path: &Path,
) -> Result<T, ConfigError> {
    table
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
}

/// Resolves `p` against `base` unless it is absolute.
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_take_lists_integers_and_strings() {
        // Variables no other test reads, so setting them cannot race.
        std::env::set_var("CONSORT_ZZ_LIST", "a:1, b:2,,");
        std::env::set_var("CONSORT_ZZ_INT", "42");
        std::env::set_var("CONSORT_ZZ_BAD_INT", "x");
        let mut t = toml::Table::new();
        apply_env(&mut t, &["zz_list", "zz_int"], &["zz_list"], &["zz_int"]).unwrap();
        assert_eq!(
            t["zz_list"],
            toml::Value::Array(vec!["a:1".into(), "b:2".into()])
        );
        assert_eq!(t["zz_int"], toml::Value::Integer(42));
        let e = apply_env(&mut t, &["zz_bad_int"], &[], &["zz_bad_int"]).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Env { var, .. } if var == "CONSORT_ZZ_BAD_INT"),
            "{e}"
        );
    }
}
