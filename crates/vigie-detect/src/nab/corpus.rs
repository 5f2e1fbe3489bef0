//! File loading for the scorer: the NAB corpus (`data/`, `labels/`), detector results
//! (`<detector>/<category>/<file>.csv`) and a customer's data and labels files.
//!
//! This is the only module of the crate that does I/O; it reads whole files and hands
//! the text to [`super::format`](mod@super::format), keeping the scoring itself pure.

use std::fs;
use std::path::{Path, PathBuf};

use super::NabError;
use super::format::{self, ParsedSeries};
use super::series::{LabelledSeries, WindowMatching};

fn read(path: &Path) -> Result<String, NabError> {
    fs::read_to_string(path).map_err(|source| NabError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Reads a `timestamp,value` (or `timestamp,anomaly_score`) CSV file.
pub fn read_series_csv(path: impl AsRef<Path>) -> Result<ParsedSeries, NabError> {
    let path = path.as_ref();
    format::parse_series_csv(&read(path)?, &path.display().to_string())
}

/// Reads a customer's data file and labels file (formats in the crate docs) into one
/// series named after the data file; windows are snapped to the data's rows.
pub fn read_labelled_series(
    data_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
) -> Result<LabelledSeries, NabError> {
    let data_path = data_path.as_ref();
    let labels_path = labels_path.as_ref();
    let data = read_series_csv(data_path)?;
    let labels = format::parse_labels(&read(labels_path)?, &labels_path.display().to_string())?;
    LabelledSeries::new(
        data_path.display().to_string(),
        data.timestamps,
        data.values,
        &labels,
        WindowMatching::Snap,
    )
}

/// Where this project's own tests, benchmarks and tuning tools find the NAB corpus:
/// `VIGIE_NAB_DIR`, or `shared/data/nab` beside the repository. `None`, with a note on
/// standard error, when it is not there.
pub fn repository_corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIE_NAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/data/nab"
            ))
        });
    if dir.join("labels").join("combined_windows.json").is_file() {
        Some(dir)
    } else {
        // Straight to the standard error, which the test runner does not capture: a
        // test that checks nothing for want of the corpus must say so.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: NAB corpus not found at {}",
            dir.display()
        );
        None
    }
}

/// The NAB corpus: every labelled data file, in the order of their names
/// (`category/file.csv`).
#[derive(Debug, Clone)]
pub struct Corpus {
    root: PathBuf,
    series: Vec<LabelledSeries>,
}

impl Corpus {
    /// Loads the corpus under `root`: `labels/combined_windows.json` and the data files
    /// it names under `data/`. As in NAB, window ends must be timestamps of the data.
    pub fn load(root: impl AsRef<Path>) -> Result<Self, NabError> {
        let root = root.as_ref().to_owned();
        let windows_path = root.join("labels").join("combined_windows.json");
        let windows =
            format::parse_nab_windows(&read(&windows_path)?, &windows_path.display().to_string())?;
        let series = windows
            .into_iter()
            .map(|(name, labels)| {
                let data = read_series_csv(root.join("data").join(&name))?;
                LabelledSeries::new(
                    name,
                    data.timestamps,
                    data.values,
                    &labels,
                    WindowMatching::Exact,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { root, series })
    }

    /// The directory the corpus was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The labelled series, sorted by name.
    pub fn series(&self) -> &[LabelledSeries] {
        &self.series
    }

    /// Total number of windows.
    pub fn window_count(&self) -> usize {
        self.series.iter().map(|s| s.windows().len()).sum()
    }

    /// Reads a detector's anomaly scores from `results_dir`, one file per series at
    /// `<category>/<file>.csv` or NAB's own naming `<category>/<detector>_<file>.csv`
    /// (`<detector>` being the directory's name). Returns the scores in the order of
    /// [`Self::series`]; every file must have exactly the timestamps of its data file.
    pub fn read_detector_scores(
        &self,
        results_dir: impl AsRef<Path>,
    ) -> Result<Vec<Vec<f64>>, NabError> {
        let dir = results_dir.as_ref();
        let detector = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.series
            .iter()
            .map(|s| {
                let plain = dir.join(s.name());
                let path = if plain.exists() {
                    plain
                } else {
                    let file = Path::new(s.name());
                    let prefixed = format!(
                        "{detector}_{}",
                        file.file_name().unwrap_or_default().to_string_lossy()
                    );
                    dir.join(file.parent().unwrap_or(Path::new("")))
                        .join(prefixed)
                };
                let results = read_series_csv(&path)?;
                if results.timestamps != s.timestamps() {
                    return Err(NabError::InvalidSeries {
                        series: s.name().to_owned(),
                        message: format!(
                            "the timestamps of {} differ from the data's",
                            path.display()
                        ),
                    });
                }
                Ok(results.values)
            })
            .collect()
    }

    /// Reads the published results of `detector` shipped with the corpus under
    /// `reference-results/<detector>/`.
    pub fn read_reference_results(&self, detector: &str) -> Result<Vec<Vec<f64>>, NabError> {
        self.read_detector_scores(self.root.join("reference-results").join(detector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throw-away directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "vigie-detect-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn csv_rows(n: usize, column: &str, value: impl Fn(usize) -> f64) -> String {
        let mut text = format!("timestamp,{column}\n");
        for i in 0..n {
            text += &format!("2024-01-01 {:02}:{:02}:00,{}\n", i / 60, i % 60, value(i));
        }
        text
    }

    #[test]
    fn loads_a_tiny_corpus_and_detector_results() {
        let dir = TempDir::new("corpus");
        dir.write(
            "labels/combined_windows.json",
            r#"{"cat/a.csv": [["2024-01-01 01:00:00.000000", "2024-01-01 01:09:00.000000"]], "cat/b.csv": []}"#,
        );
        dir.write("data/cat/a.csv", &csv_rows(100, "value", |i| i as f64));
        dir.write("data/cat/b.csv", &csv_rows(50, "value", |_| 1.0));
        dir.write(
            "reference-results/det/cat/a.csv",
            &csv_rows(100, "anomaly_score", |i| if i == 60 { 1.0 } else { 0.0 }),
        );
        // NAB's own naming of result files.
        dir.write(
            "reference-results/det/cat/det_b.csv",
            &csv_rows(50, "anomaly_score", |_| 0.0),
        );
        let corpus = Corpus::load(&dir.0).unwrap();
        assert_eq!(corpus.series().len(), 2);
        assert_eq!(corpus.series()[0].name(), "cat/a.csv");
        assert_eq!(corpus.window_count(), 1);
        let scores = corpus.read_reference_results("det").unwrap();
        let result = crate::nab::score::score_corpus(
            corpus.series(),
            &scores,
            &crate::nab::score::Profile::standard(),
        )
        .unwrap();
        assert_eq!(result.normalised, Some(100.0));

        // Results whose timestamps differ from the data are refused.
        dir.write(
            "reference-results/bad/cat/a.csv",
            &csv_rows(99, "anomaly_score", |_| 0.0),
        );
        dir.write(
            "reference-results/bad/cat/b.csv",
            &csv_rows(50, "anomaly_score", |_| 0.0),
        );
        assert!(corpus.read_reference_results("bad").is_err());
        assert!(matches!(
            corpus.read_reference_results("missing"),
            Err(NabError::Io { .. })
        ));
    }

    #[test]
    fn nab_windows_must_match_data_timestamps_exactly() {
        let dir = TempDir::new("exact");
        dir.write(
            "labels/combined_windows.json",
            r#"{"cat/a.csv": [["2024-01-01 01:00:30", "2024-01-01 01:09:00"]]}"#,
        );
        dir.write("data/cat/a.csv", &csv_rows(100, "value", |i| i as f64));
        assert!(matches!(
            Corpus::load(&dir.0),
            Err(NabError::InvalidSeries { .. })
        ));
    }

    #[test]
    fn reads_customer_files() {
        let dir = TempDir::new("customer");
        dir.write("data.csv", &csv_rows(100, "value", |i| i as f64));
        dir.write(
            "labels.csv",
            "start,end\n2024-01-01 01:00:30,2024-01-01 01:09:59\n",
        );
        let s = read_labelled_series(dir.0.join("data.csv"), dir.0.join("labels.csv")).unwrap();
        assert_eq!(s.windows()[0].first_row, 61);
        assert_eq!(s.windows()[0].last_row, 69);
        assert!(read_labelled_series(dir.0.join("data.csv"), dir.0.join("nope.csv")).is_err());
    }
}
