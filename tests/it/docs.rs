//! Documentation that must not drift from the code.

use llmkp::config::env_names::{FIXED, PATTERNS};

#[test]
fn env_example_documents_every_variable_the_code_reads() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let documented =
        |name: &str| example.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with(&format!("{name}=")));
    let missing: Vec<&str> = FIXED.iter().copied().filter(|name| !documented(name)).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    for pattern in PATTERNS {
        assert!(example.contains(pattern), ".env.example does not explain {pattern}");
    }
}

#[test]
fn readme_starts_with_the_build_and_test_commands_that_ci_runs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).unwrap();
    let head: String = readme.lines().take(25).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run --release -- serve"), "README must open with the run command");
    let test_command = "cargo test --locked";
    assert!(head.contains(test_command), "README must open with the test command");
    assert!(ci.lines().any(|l| l.trim() == test_command), ".ci/run must run exactly the README's test command");
}

#[test]
fn completions_and_man_pages_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = tempfile::tempdir().unwrap();
    llmkp::cli::assets::generate(fresh.path()).unwrap();
    for dir in ["completions", "man"] {
        let list = |base: &std::path::Path| {
            let mut names: Vec<String> = std::fs::read_dir(base.join(dir))
                .map(|entries| {
                    entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        let expected = list(fresh.path());
        assert_eq!(list(root), expected, "{dir}/ is stale: run `cargo run -- generate-assets`");
        for name in expected {
            let want = std::fs::read(fresh.path().join(dir).join(&name)).unwrap();
            let have = std::fs::read(root.join(dir).join(&name)).unwrap();
            assert!(want == have, "{dir}/{name} is stale: run `cargo run -- generate-assets`");
        }
    }
    let man = std::fs::read_dir(root.join("man")).unwrap().count();
    assert!(man >= 6, "one page per subcommand");
}
