//! README.md's library example is `examples/readme.rs` word for word, so that the example users
//! copy compiles warning-free (clippy -D warnings builds it) and runs (scripts/test runs it).

#[test]
fn the_readme_library_example_is_examples_readme_rs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/readme.rs")).unwrap();
    let block = readme
        .split_once("## Library\n\n```rust\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block)
        .expect("README.md has a `## Library` section opening with a rust block");
    let (header, body) = example
        .split_once("\n\n")
        .expect("the example opens with its //! header");
    assert!(header.lines().all(|l| l.starts_with("//!")), "{header}");
    assert_eq!(
        block, body,
        "README.md's library example and examples/readme.rs differ; keep them the same"
    );
}
