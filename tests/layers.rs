//! The code's shape, measured from the source: layers import only downward, SQL
//! lives in `store/` and `db/`, files and functions stay small enough to read.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (path relative to `src/`, text) of every source file.
fn files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&root, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The text before `#[cfg(test)]` (unit tests may reach anywhere).
fn code(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn layers_import_only_downward() {
    // (files under, may not name)
    let rules: &[(&[&str], &[&str])] = &[
        (&["ui/"], &["crate::api"]),
        (&["api/"], &["crate::ui"]),
        (
            &["domain/", "store/", "db/", "error.rs", "clock.rs"],
            &[
                "crate::operations",
                "crate::calls",
                "crate::state",
                "crate::writer",
                "crate::api",
                "crate::ui",
                "crate::ingest",
                "crate::auth",
                "crate::access_cache",
                "crate::limits",
            ],
        ),
        (
            &[
                "operations/",
                "calls/",
                "state.rs",
                "writer.rs",
                "access_cache.rs",
                "limits/",
            ],
            &[
                "crate::api",
                "crate::ui",
                "crate::ingest",
                "crate::auth",
                "crate::probes",
            ],
        ),
        (&["domain/"], &["crate::store", "crate::db::", "actix_web"]),
    ];
    let mut found = Vec::new();
    for (path, text) in files() {
        for (under, forbidden) in rules {
            if !under.iter().any(|u| path.starts_with(u)) {
                continue;
            }
            for name in *forbidden {
                if code(&text).contains(name) {
                    found.push(format!("src/{path} names {name}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn queries_live_in_store_and_db_only() {
    let query_words = [
        "RunQueryDsl",
        "QueryDsl",
        "diesel::insert_into",
        "diesel::update(",
        "diesel::delete(",
        "sql_query",
        "batch_execute",
    ];
    let mut found = Vec::new();
    for (path, text) in files() {
        if path.starts_with("store/") || path.starts_with("db/") {
            continue;
        }
        for word in query_words {
            if text.contains(word) {
                found.push(format!("src/{path} uses {word}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "queries outside store/ and db/:\n{}",
        found.join("\n")
    );
}

fn fn_name(rest: &str) -> String {
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Lines of each function in `text` before its tests: (name, lines).
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code(text).lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let head = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        if let Some(rest) = head.strip_prefix("fn ") {
            if line.trim_end().ends_with('}') {
                out.push((fn_name(rest), 1));
            } else if !line.trim_end().ends_with(';') {
                let name = fn_name(rest);
                let close = format!("{}}}", " ".repeat(indent));
                let end = (i + 1..lines.len())
                    .find(|j| lines[*j].trim_end() == close)
                    .unwrap_or(lines.len() - 1);
                out.push((name, end - i + 1));
                i = end;
            }
        }
        i += 1;
    }
    out
}

#[test]
fn files_and_functions_stay_readable() {
    let mut found = Vec::new();
    for (path, text) in files() {
        let n = text.lines().count();
        if n > 500 {
            found.push(format!("src/{path} has {n} lines"));
        }
        if path.ends_with("openapi.rs") {
            continue; // the document's data table
        }
        for (name, len) in function_lengths(&text) {
            if len > 80 {
                found.push(format!("src/{path}: fn {name} has {len} lines"));
            }
        }
    }
    assert!(found.is_empty(), "too long:\n{}", found.join("\n"));
}

#[test]
fn the_length_measure_counts_a_function() {
    let text = "fn a() {\n    one();\n    two();\n}\n\npub async fn b() {}\n";
    assert_eq!(
        function_lengths(text),
        vec![("a".to_owned(), 4), ("b".to_owned(), 1)]
    );
}
