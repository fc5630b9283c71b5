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
