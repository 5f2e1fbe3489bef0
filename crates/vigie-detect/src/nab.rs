//! The Numenta Anomaly Benchmark (NAB) scorer, reimplemented so that Vigie's detector
//! is measured by exactly the published rules and its figures are comparable with the
//! published ones (`numenta` 70.1, `windowedGaussian` 39.6, … on the standard profile).
//!
//! The rules (NAB ≥ 1.0, `nab/sweeper.py`), in short:
//!
//! * each labelled incident is a *window* of rows; the first 15 % of every series (at
//!   most 750 rows) is *probationary* and ignored;
//! * a row is a detection when its anomaly score is `>=` the threshold;
//! * a window's first detection earns `tpWeight` scaled by a sigmoid of how early it
//!   came ([`score::scaled_sigmoid`]); later detections in the same window earn nothing;
//!   a window without detection costs `fnWeight`;
//! * a detection outside every window costs `fpWeight`, scaled by the sigmoid of its
//!   distance past the end of the preceding window (full cost when no window precedes);
//! * the threshold is optimised once for the whole corpus, per application profile;
//! * the total is normalised to `100 * (score - null) / (perfect - null)`.
//!
//! Modules: [`series`] (labelled series and windows), [`format`](mod@format) (parsing the simple
//! customer formats and NAB's label JSON), [`score`] (the pure scoring rules and the
//! threshold optimisation), [`corpus`] (the only module doing file I/O: loading the
//! NAB corpus, detector results and customer files) and [`evaluate`] (running the
//! detector over a corpus and scoring it).

pub mod corpus;
mod error;
pub mod evaluate;
pub mod format;
pub mod score;
pub mod series;

pub use error::NabError;
