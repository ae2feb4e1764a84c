//! Tidy check: the repository builds and tests on its own. No file under `crates/`, `scripts/` or `.ci/` names a
//! path outside the checkout (the reference folder that sits beside a developer's checkout, or an absolute path
//! of one particular machine): a fresh clone with nothing beside it must pass its tests.

use std::path::{Path, PathBuf};

/// Markers of a path outside the repository. Built from pieces so that this file does not match itself.
fn forbidden() -> Vec<String> {
    let up = "..";
    vec![
        format!("{up}/shared"),
        format!("{up}\\shared"),
        ["/", "work", "/"].concat(),
        ["/", "root", "/"].concat(),
        ["/", "home", "/"].concat(),
        ["/", "Users", "/"].concat(),
        ["C:", "\\", "Users"].concat(),
    ]
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') && name != ".ci" {
            continue;
        }
        if path.is_dir() {
            // Fuzz corpora are generated inputs, not paths.
            if name == "corpus" || name == "artifacts" {
                continue;
            }
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_names_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for top in ["crates", "scripts", ".ci"] {
        walk(&root.join(top), &mut files);
    }
    assert!(files.len() > 50, "walked only {} files", files.len());
    let markers = forbidden();
    let mut offenders = Vec::new();
    for file in &files {
        // Binary files (images, seals, fonts) hold no paths we wrote; read text only.
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (no, line) in text.lines().enumerate() {
            for marker in &markers {
                if line.contains(marker.as_str()) {
                    offenders.push(format!(
                        "{}:{}: names `{marker}`",
                        file.strip_prefix(&root).unwrap_or(file).display(),
                        no + 1
                    ));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "paths outside the repository:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_sees_a_planted_path() {
    // The scan must be able to fail: a line naming the reference folder is caught.
    let line = format!("let dir = \"{}/vectors\";", [".", ".", "/shared"].concat());
    assert!(forbidden().iter().any(|m| line.contains(m.as_str())));
}
