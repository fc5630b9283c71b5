//! Keeps ARCHITECTURE.md a true map: every workspace member has a code-map entry and a crate doc.

use std::fs;

use tests::workspace_root;

fn members() -> Vec<String> {
    let manifest = fs::read_to_string(workspace_root().join("Cargo.toml")).expect("Cargo.toml");
    let start = manifest.find("members = [").expect("members list");
    let end = start + manifest[start..].find(']').expect("end of members");
    manifest[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_crate_has_a_code_map_entry_and_a_crate_doc() {
    let root = workspace_root();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let members = members();
    assert!(members.len() >= 8, "{members:?}");
    for member in members {
        let name = member.rsplit('/').next().expect("name");
        assert!(
            architecture.contains(&format!("### `{name}`")),
            "ARCHITECTURE.md has no code-map section \"### `{name}`\""
        );
        let lib = root.join(&member).join("src/lib.rs");
        let text = fs::read_to_string(&lib).unwrap_or_else(|_| panic!("{} missing", lib.display()));
        assert!(
            text.trim_start().starts_with("//!"),
            "{} must open with a //! crate doc saying what the crate owns",
            lib.display()
        );
    }
}

#[test]
fn readme_gives_exactly_the_two_commands() {
    let readme = fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    assert!(readme.contains("make demo"));
    assert!(readme.contains("make test"));
    let ci = fs::read_to_string(workspace_root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines()
            .any(|l| l.trim() == "make test" || l.trim().ends_with(" make test")),
        "{ci}"
    );
}

/// Direct dependencies (normal, not dev) of every workspace member, from `cargo metadata`.
fn dependencies() -> std::collections::BTreeMap<String, Vec<String>> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("name").to_string())
                .collect();
            (p["name"].as_str().expect("name").to_string(), deps)
        })
        .collect()
}

#[test]
fn the_dependency_rules_of_architecture_md_hold() {
    let deps = dependencies();
    assert!(deps.len() >= 10, "{deps:?}");
    let uses = |krate: &str, dep: &str| deps.get(krate).is_some_and(|d| d.iter().any(|x| x == dep));
    let http = ["axum", "tower", "tower-http", "hyper"];
    for (krate, _) in deps.iter() {
        // Only the server (and the identity crate's dev issuer routes) speak HTTP.
        if !["tile-server", "tests", "auth"].contains(&krate.as_str()) {
            for h in http {
                assert!(
                    !uses(krate, h),
                    "{krate} depends on {h}: only tile-server knows HTTP"
                );
            }
        }
        // GDAL reads deliveries (importers), writes the sample's files (sample) and GeoPackage
        // downloads (ogc-features).
        if !["importers", "sample", "ogc-features", "tests"].contains(&krate.as_str()) {
            assert!(!uses(krate, "gdal"), "{krate} depends on gdal");
        }
        // Nothing but the tests depends on the binary crate.
        if krate != "tests" {
            assert!(
                !uses(krate, "tile-server"),
                "{krate} depends on tile-server"
            );
        }
        // The sample generator is for the `bando sample` command and the tests only.
        if !["tile-server", "tests"].contains(&krate.as_str()) {
            assert!(
                !uses(krate, "sample"),
                "{krate} depends on the sample crate"
            );
        }
    }
    // The sample generator writes files: the owners' declarations name its fields, importers'
    // encoders write its legacy text; it runs no SQL and serves nothing.
    assert!(
        deps.contains_key("sample"),
        "workspace member sample missing"
    );
    for dep in [
        "gis-core",
        "land",
        "planning",
        "utilities",
        "sectors",
        "gdal",
    ] {
        assert!(uses("sample", dep), "sample does not use {dep}");
    }
    for dep in [
        "sqlx",
        "layers",
        "tiles",
        "ogc-features",
        "sheet",
        "ioc",
        "auth",
    ] {
        assert!(!uses("sample", dep), "sample depends on {dep}");
    }
    // gis-core knows no domain.
    for domain in [
        "land",
        "planning",
        "utilities",
        "sectors",
        "ioc",
        "layers",
        "importers",
    ] {
        assert!(!uses("gis-core", domain), "gis-core depends on {domain}");
    }
    // Domain crates stand on gis-core only (planning may name land's code lists).
    for domain in ["land", "planning", "utilities", "sectors"] {
        assert!(uses(domain, "gis-core"), "{domain} does not use gis-core");
        for upper in ["layers", "importers", "reqwest"] {
            assert!(!uses(domain, upper), "{domain} depends on {upper}");
        }
    }
    assert!(
        !uses("land", "planning"),
        "land must not depend on planning"
    );
    // The small crates stand alone.
    for leaf in ["cql2", "pg-cluster"] {
        assert!(!uses(leaf, "gis-core"), "{leaf} depends on gis-core");
    }
    assert!(uses("layers", "land") && uses("importers", "layers"));
    // The parts of the application split from the binary: no HTTP framework, no binary.
    for split in ["tiles", "ogc-features"] {
        assert!(deps.contains_key(split), "workspace member {split} missing");
        for h in http
            .iter()
            .chain(&["hyper-util", "http", "http-body", "tile-server"])
        {
            assert!(!uses(split, h), "{split} depends on {h}");
        }
    }
    assert!(uses("tile-server", "tiles") && uses("tile-server", "ogc-features"));
    // The Features crate does not reach into the tile service (counts take its generation).
    assert!(
        !uses("ogc-features", "tiles"),
        "ogc-features depends on tiles"
    );
    // Typst (minutes of build) lives in the sheet crate only, and only the binary uses it.
    for (krate, _) in deps.iter() {
        if krate != "sheet" {
            for t in ["typst", "typst-pdf", "typst-as-lib"] {
                assert!(
                    !uses(krate, t),
                    "{krate} depends on {t}: the sheet crate owns Typst"
                );
            }
        }
        if !["tile-server", "tests", "sheet"].contains(&krate.as_str()) {
            assert!(!uses(krate, "sheet"), "{krate} depends on the sheet crate");
        }
    }
    assert!(uses("tile-server", "sheet") && uses("sheet", "typst-as-lib"));
    // The identity crate runs no SQL (who may read what is the layers' declaration).
    assert!(!uses("auth", "sqlx"), "the identity crate runs no SQL");
}
