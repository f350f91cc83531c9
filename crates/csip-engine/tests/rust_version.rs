//! The `rust-version` each crate of the workspace declares is not older than
//! what its dependencies declare: for every workspace member, every package
//! it builds on (normal and build dependencies, at any depth, as the lock file
//! resolves them) declares a `rust-version` no newer than the member's own.
//!
//! With clippy's `incompatible_msrv` lint (no standard-library API newer than
//! the declared version; `.ci/run` denies it), this is what CI can check of a
//! declared `rust-version` on a machine with one toolchain. It cannot check
//! language features (let chains, say): only a build with that toolchain can.

#![allow(clippy::unwrap_used)] // a test: a failure to run cargo is a failure

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// `1.85` or `1.85.0` as comparable numbers.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap()).collect();
    parts.resize(3, 0);
    parts
}

fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_string()
}

#[test]
fn no_dependency_needs_a_newer_rust_than_its_user_declares() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host()])
        .args(["--manifest-path", manifest])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Json = serde_json::from_slice(&out.stdout).unwrap();

    let packages: BTreeMap<&str, &Json> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    // Each package's normal and build dependencies (dev-dependencies build
    // only its tests, not what a user of it compiles).
    let mut builds_on: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null() || k["kind"] == "build")
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        builds_on.insert(node["id"].as_str().unwrap(), deps);
    }

    let mut problems = Vec::new();
    let mut checked = 0;
    for member in meta["workspace_members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let Some(declared) = packages[member]["rust_version"].as_str() else {
            continue;
        };
        checked += 1;
        let mut seen = BTreeSet::new();
        let mut todo = builds_on[member].clone();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            todo.extend(builds_on[id].iter().copied());
            if let Some(needs) = packages[id]["rust_version"].as_str() {
                if version(needs) > version(declared) {
                    problems.push(format!(
                        "{} declares rust-version {declared}, but builds on {} {}, which declares {needs}",
                        packages[member]["name"].as_str().unwrap(),
                        packages[id]["name"].as_str().unwrap(),
                        packages[id]["version"].as_str().unwrap(),
                    ));
                }
            }
        }
    }
    assert!(checked >= 2, "no workspace member declares a rust-version");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
