//! Tidy checks: the crates depend on each other only as ARCHITECTURE.md's table allows, and every crate says
//! what it is for in a crate-level doc comment.

use std::collections::BTreeSet;
use std::path::Path;

const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("pki", &[]),
    ("ses", &[]),
    ("artwork", &[]),
    ("store", &["domain"]),
    ("adapters", &["domain", "pki", "payments"]),
    ("payments", &["domain", "pki"]),
    (
        "app",
        &[
            "domain", "pki", "ses", "artwork", "store", "adapters", "payments",
        ],
    ),
    ("web", &["app", "domain", "store"]),
    ("ses-cli", &["ses"]),
    ("artwork-cli", &["artwork"]),
    ("agent", &["domain", "pki", "ses", "adapters"]),
    (
        "cli",
        &[
            "domain",
            "pki",
            "store",
            "adapters",
            "app",
            "web",
            "ses",
            "ses-cli",
            "artwork",
            "artwork-cli",
            "payments",
        ],
    ),
];

fn crates_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `sealdesk-*` names in a manifest's `[dependencies]` table (not dev- or build-dependencies).
fn our_deps(manifest: &str) -> BTreeSet<String> {
    dependency_lines(manifest)
        .into_iter()
        .filter_map(|t| t.strip_prefix("sealdesk-"))
        .map(|name| {
            name.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .collect()
}

#[test]
fn dependencies_follow_the_layering() {
    let mut seen = 0;
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let allowed: BTreeSet<String> = ALLOWED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| {
                panic!("crate {name} is not in the layering table (ARCHITECTURE.md and this test)")
            })
            .1
            .iter()
            .map(|s| s.to_string())
            .collect();
        let deps = our_deps(&manifest);
        let extra: Vec<_> = deps.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, which its layer may not"
        );
        seen += 1;
    }
    assert_eq!(seen, ALLOWED.len());
}

#[test]
fn every_crate_says_what_it_is_for() {
    for (name, _) in ALLOWED {
        let dir = crates_dir().join(name).join("src");
        let root = if dir.join("lib.rs").exists() {
            dir.join("lib.rs")
        } else {
            dir.join("main.rs")
        };
        let text = std::fs::read_to_string(&root).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{} has no crate-level doc comment",
            root.display()
        );
    }
}

/// The `[dependencies]` lines of a manifest (not dev- or build-dependencies).
fn dependency_lines(manifest: &str) -> Vec<&str> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps {
            out.push(t);
        }
    }
    out
}

/// The artwork crate's `testkit` (the stamped-form generator) is for tests and benchmarks: no crate turns it on
/// for its normal build, and cargo's own resolution of the binary's build agrees, so a release binary does
/// not carry it.
#[test]
fn the_test_generator_stays_out_of_the_release_binary() {
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        for line in dependency_lines(&manifest) {
            assert!(
                !line.contains("testkit"),
                "{} enables testkit in [dependencies]: {line}",
                dir.display()
            );
        }
    }
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "sealdesk",
            "-e",
            "normal",
            "-f",
            "{p} [{f}]",
            "-i",
            "sealdesk-artwork",
        ])
        .current_dir(crates_dir())
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let artwork = tree.lines().next().unwrap_or("");
    assert!(artwork.starts_with("sealdesk-artwork"), "{tree}");
    assert!(
        !artwork.contains("testkit"),
        "the binary's build enables testkit: {artwork}"
    );
}
