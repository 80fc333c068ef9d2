//! Every feature of the crate is documented where users look for it: a row of
//! the README's feature table and an item of the crate root's "Features" list
//! (the rustdoc front page). A feature added to `Cargo.toml` without both
//! fails here.

use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The names under `[features]` in Cargo.toml, `default` aside.
fn features() -> Vec<String> {
    let manifest = read("Cargo.toml");
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[features]";
            continue;
        }
        if !inside || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if name != "default" && !name.is_empty() {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn every_feature_is_in_the_readme_table_and_the_crate_docs() {
    let features = features();
    assert!(
        features.iter().any(|f| f == "export") && features.iter().any(|f| f == "cli"),
        "the [features] table was not read: {features:?}"
    );
    let readme = read("README.md");
    let crate_docs = read("src/lib.rs");
    let mut missing = Vec::new();
    for feature in &features {
        let row = format!("| `{feature}`");
        if !readme.lines().any(|line| line.starts_with(&row)) {
            missing.push(format!("README.md has no row `{row} …|`"));
        }
        let item = format!("//! - `{feature}`");
        if !crate_docs.lines().any(|line| line.starts_with(&item)) {
            missing.push(format!("src/lib.rs has no item `{item}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented features:\n{}",
        missing.join("\n")
    );
}
