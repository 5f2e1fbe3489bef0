//! Vigie's anomaly-detection crate: pure, synchronous code (no async runtime, no
//! database, no network) so that it can be unit-tested, benchmarked and embedded anywhere.
//!
//! It holds four things:
//!
//! * the streaming [`detector`], which turns readings into anomaly scores in `[0, 1]`;
//! * the [`asset`] health model, which scores a machine from all its sensors at once;
//! * [`nab`], a scorer that reproduces the published results of the
//!   [Numenta Anomaly Benchmark](https://github.com/numenta/NAB) (NAB), so that the
//!   detector is judged by the same rules as the published detectors, and so that a
//!   customer can score it on their own labelled incidents (`vigie eval`);
//! * [`tep`], the Tennessee Eastman process benchmark of fault detection and the
//!   reference it is compared with, on which the asset model is measured
//!   (`vigie eval tep`).
//!
//! Only [`nab::corpus`] and [`tep::data`] touch the file system; everything else works
//! on values.
//!
//! # Scoring your own labelled data
//!
//! `vigie eval --data … --labels …` scores a detector on a customer's own series.
//! The inputs are two small text files.
//!
//! **Data (and detector scores)**: CSV, one reading per line, `timestamp,value`
//! (for detector output `timestamp,anomaly_score`). A header line is optional (it is
//! recognised because its first field is not a timestamp); further columns are ignored;
//! blank lines and lines starting with `#` are skipped. Rows are kept in file order.
//!
//! **Labels**: the incidents, as inclusive windows `[start, end]`, in either form:
//!
//! * CSV, one window per line: `start,end` (optional header, `#` comments);
//! * JSON: `[["start", "end"], …]` or `[{"start": "…", "end": "…"}, …]`.
//!
//! **Timestamps** (all files): `YYYY-MM-DD HH:MM:SS` with an optional fraction
//! (`.000000`) and an optional `T` instead of the space and a trailing `Z`; also
//! `YYYY-MM-DD HH:MM`, `YYYY-MM-DD`, and RFC 3339 with an offset (converted to UTC).
//! Timestamps without an offset are compared as written (no time-zone conversion).
//!
//! A window covers the rows whose timestamps lie within `[start, end]`; its ends need
//! not be exact row timestamps (NAB's own corpus requires them to be, see
//! [`nab::series::WindowMatching`]). Windows must not overlap and must each cover at
//! least one row. As in NAB, the first 15 % of each series (at most 750 rows) is a
//! probationary period in which detections are ignored; a window lying wholly inside it
//! is not scored.
//!
//! ```
//! use vigie_detect::nab::{format, score, series::{LabelledSeries, WindowMatching}};
//!
//! let data: String = (0..100)
//!     .map(|i| format!("2024-01-01 {:02}:{:02}:00,{}\n", i / 60, i % 60, i))
//!     .collect();
//! let labels = "start,end\n2024-01-01 01:00:00,2024-01-01 01:09:00\n";
//!
//! let parsed = format::parse_series_csv(&data, "data.csv")?;
//! let windows = format::parse_labels(labels, "labels.csv")?;
//! let series = LabelledSeries::new(
//!     "data.csv", parsed.timestamps, parsed.values, &windows, WindowMatching::Snap,
//! )?;
//! // A detector that fires exactly at the start of the incident.
//! let scores: Vec<f64> = (0..100).map(|i| if i == 60 { 0.9 } else { 0.1 }).collect();
//! let result = score::score_corpus(&[series], &[scores], &score::Profile::standard())?;
//! assert_eq!(result.threshold, 0.9);
//! assert_eq!(result.normalised, Some(100.0));
//! # Ok::<(), vigie_detect::nab::NabError>(())
//! ```

pub mod asset;
pub mod detector;
pub mod nab;
pub mod synthetic;
pub mod tep;
