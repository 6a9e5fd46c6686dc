//! The client library stays light: neither RocksDB nor openraft (the
//! node's storage and consensus) is anywhere in its dependency tree, so an
//! application that links it never builds them.

use std::process::Command;

/// Crates an application must never build through `consort-client`.
const FORBIDDEN: &[&str] = &["rocksdb", "librocksdb-sys", "openraft"];

/// The crate names in `cargo tree` of `package`'s normal dependencies on
/// this platform (no registry access: the tree comes from `Cargo.lock`).
fn dependency_names(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--package",
            package,
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn neither_rocksdb_nor_openraft_is_in_the_client_dependency_tree() {
    let names = dependency_names("consort-client");
    // The tree was really read: the client and what it does need are there.
    for needed in ["consort-client", "consort-proto", "tonic", "ring"] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing from {names:?}"
        );
    }
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "consort-client depends on {found:?}; keep node-only crates out of it"
    );
}

#[test]
fn the_check_sees_rocksdb_and_openraft_where_they_are() {
    // The node does build them: the same look-up must find them there.
    let names = dependency_names("consort");
    for crate_name in ["rocksdb", "openraft", "consort-client"] {
        assert!(
            names.iter().any(|n| n == crate_name),
            "{crate_name} missing from the node's tree"
        );
    }
}
