//! Helpers shared by the tests that need the NAB corpus.

use std::path::PathBuf;

use vigie_detect::nab::corpus::repository_corpus_dir;

/// The NAB corpus folder, or `None` (the test then passes without checking anything)
/// when it is missing, except under CI (`CI` set), where it must be there.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = repository_corpus_dir();
    assert!(
        dir.is_some() || std::env::var_os("CI").is_none(),
        "CI is set but the NAB corpus is missing"
    );
    dir
}
