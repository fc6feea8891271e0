//! The fuzz corpus in `tests/fuzz/corpus` replayed by `cargo test`: every seed (and every input a
//! fuzz run found and kept there) goes through its target's code ([`super::drive::fuzz_one`]), and
//! the target list, the target files and the corpus folders name the same targets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::drive::{FUZZ_TARGETS, fuzz_one};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The names in `dir`, without the extension `ext` when given (only files that have it).
fn names(dir: &Path, ext: Option<&str>) -> BTreeSet<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| match ext {
            Some(ext) if path.extension().is_some_and(|e| e == ext) => Some(path.file_stem()?.to_owned()),
            Some(_) => None,
            None => Some(path.file_name()?.to_owned()),
        })
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_fuzz_target_has_a_file_a_cargo_entry_and_seeds() {
    let listed: BTreeSet<String> = FUZZ_TARGETS.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed.len(), FUZZ_TARGETS.len(), "a target is listed twice");
    assert_eq!(names(&fuzz_dir().join("fuzz_targets"), Some("rs")), listed, "fuzz_targets/*.rs");
    assert_eq!(names(&fuzz_dir().join("corpus"), None), listed, "corpus folders");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for target in FUZZ_TARGETS {
        let file = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{target}.rs"))).unwrap();
        assert!(file.contains(&format!("fuzz_one(\"{target}\", data)")), "{target}.rs runs another target");
        assert!(manifest.contains(&format!("name = \"{target}\"")), "{target} is not a [[bin]] of tests/fuzz");
        assert!(!names(&fuzz_dir().join("corpus").join(target), None).is_empty(), "{target} has no seed");
    }
}

#[test]
fn every_fuzz_seed_replays_through_its_target() {
    let mut replayed = 0;
    for target in FUZZ_TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        for seed in names(&dir, None) {
            let data = std::fs::read(dir.join(&seed)).unwrap();
            fuzz_one(target, &data);
            // A seed also holds up cut one byte short (the end of a stream never arrives).
            fuzz_one(target, &data[..data.len().saturating_sub(1)]);
            replayed += 1;
        }
    }
    assert!(replayed >= FUZZ_TARGETS.len());
}
