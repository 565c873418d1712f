//! The shape of the library: no import cycles among the modules of `src/`, vocabulary below and
//! wiring on top. Read from the source text: every `crate::MODULE` a file names (in `use` or in a
//! path) is an edge from that file's top-level module to `MODULE`.
//!
//! - No cycle among top-level modules (a module's own files may refer to each other).
//! - Inside the library nothing goes through the crate root's re-exports (`crate::Error`): the
//!   edges would hide behind `lib.rs`.
//! - Only `config` wires things together: besides it, only `diagnosis` (which reports on a config
//!   file) may name `config`, and no provider names `resolver`, `config` or `diagnosis`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module name -> the top-level modules its files name.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name != "bin" && name != "lib.rs")
        })
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let mut files = Vec::new();
        collect_rs(&src.join(format!("{module}.rs")), &mut files);
        collect_rs(&src.join(module), &mut files);
        let mut names = BTreeSet::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for (at, _) in code.match_indices("crate::") {
                    let name: String = code[at + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        !name.starts_with(char::is_uppercase),
                        "{}:{}: `crate::{name}` goes through the crate root; name the module",
                        file.display(),
                        number + 1
                    );
                    if modules.contains(&name) && &name != module {
                        names.insert(name);
                    }
                }
            }
        }
        graph.insert(module.clone(), names);
    }
    graph
}

fn collect_rs(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect_rs(&entry.unwrap().path(), files);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_path_buf());
    }
}

/// A cycle through `start`, if there is one, as the modules on it.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in &graph[path.last().unwrap()] {
        if next == start {
            return Some(path.clone());
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(graph, start, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the graph was read: {graph:?}");
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module, &mut vec![module.clone()]) {
            panic!("import cycle: {} -> {module}", cycle.join(" -> "));
        }
    }
}

#[test]
fn only_config_wires_things_together() {
    let graph = module_graph();
    for (module, names) in &graph {
        if names.contains("config") {
            assert_eq!(module, "diagnosis", "{module} names config");
        }
    }
    for top in ["config", "resolver", "diagnosis"] {
        assert!(
            !graph["providers"].contains(top),
            "a provider names `{top}`: providers use the words below it"
        );
    }
    for low in ["check", "options", "provider", "error", "record", "request"] {
        for high in ["config", "resolver", "diagnosis", "providers"] {
            assert!(
                !graph[low].contains(high),
                "`{low}` is vocabulary and must not name `{high}`"
            );
        }
    }
}
