//! Prints a hash of every per-point score the default detector gives over the NAB
//! corpus: a change that must not move a single score (a refactoring) checks that the
//! hash is the same before and after.
//!
//! `cargo run -p vigie-detect --example score_hash` (the corpus is found as for the
//! tests: `../shared/data/nab` from the repository root, or `VIGIE_NAB_DIR`).

use vigie_detect::detector::DetectorConfig;
use vigie_detect::nab::corpus::{Corpus, repository_corpus_dir};
use vigie_detect::nab::evaluate::score_corpus;

fn main() {
    let dir = repository_corpus_dir().expect("the NAB corpus");
    let corpus = Corpus::load(&dir).expect("load the NAB corpus");
    let scores = score_corpus(&corpus, &DetectorConfig::default());
    // FNV-1a over the bits of every score, series by series, in order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut points = 0usize;
    for series in &scores {
        for score in series {
            for byte in score.to_bits().to_le_bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            points += 1;
        }
    }
    println!("{} series, {points} scores, hash {hash:016x}", scores.len());
}
