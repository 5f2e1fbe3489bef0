//! Reading the Tennessee Eastman files as distributed with Russell, Chiang & Braatz
//! (2000): whitespace-separated floats, one row per line, no header. This is the only
//! module of [`crate::tep`] that touches the file system.

use std::path::{Path, PathBuf};

use super::{SENSORS, TepError};

/// Rows of normal history (`d00.dat`).
pub const TRAINING_ROWS: usize = 500;
/// Rows of each test file (`d00_te.dat`, `dNN_te.dat`).
pub const TEST_ROWS: usize = 960;
/// The faults of the benchmark, numbered from 1.
pub const FAULTS: usize = 21;

/// One file's rows, each of [`SENSORS`] values.
pub type Rows = Vec<Vec<f64>>;

/// The files the protocol reads.
#[derive(Debug, Clone)]
pub struct TepData {
    /// The normal history, `d00.dat` transposed into 500 rows.
    pub training: Rows,
    /// The normal test run, `d00_te.dat`.
    pub normal: Rows,
    /// The fault test runs, `d01_te.dat` … `d21_te.dat` (index 0 is fault 1).
    pub faults: Vec<Rows>,
}

impl TepData {
    /// Reads the files from `dir`, checking every shape.
    ///
    /// # Errors
    /// [`TepError`] naming the file that is missing, unreadable or of the wrong shape.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, TepError> {
        let dir = dir.as_ref();
        // d00.dat is stored transposed: 52 lines of 500 values.
        let stored = read_rows(&dir.join("d00.dat"), SENSORS, TRAINING_ROWS)?;
        let training = (0..TRAINING_ROWS)
            .map(|row| stored.iter().map(|sensor| sensor[row]).collect())
            .collect();
        let normal = read_rows(&dir.join("d00_te.dat"), TEST_ROWS, SENSORS)?;
        let faults = (1..=FAULTS)
            .map(|fault| read_rows(&dir.join(format!("d{fault:02}_te.dat")), TEST_ROWS, SENSORS))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            training,
            normal,
            faults,
        })
    }
}

/// Reads a file of `lines` lines of `columns` floats each.
fn read_rows(path: &Path, lines: usize, columns: usize) -> Result<Rows, TepError> {
    let text = std::fs::read_to_string(path).map_err(|source| TepError::Io {
        path: path.to_owned(),
        source,
    })?;
    let rows: Rows = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            let row = line
                .split_whitespace()
                .map(|field| {
                    field.parse::<f64>().map_err(|_| TepError::Format {
                        path: path.to_owned(),
                        message: format!("line {}: {field:?} is not a number", number + 1),
                    })
                })
                .collect::<Result<Vec<f64>, _>>()?;
            if row.len() == columns {
                Ok(row)
            } else {
                Err(TepError::Format {
                    path: path.to_owned(),
                    message: format!(
                        "line {}: {} values, expected {columns}",
                        number + 1,
                        row.len()
                    ),
                })
            }
        })
        .collect::<Result<_, _>>()?;
    if rows.len() != lines {
        return Err(TepError::Format {
            path: path.to_owned(),
            message: format!("{} lines, expected {lines}", rows.len()),
        });
    }
    Ok(rows)
}

/// Where this project's own tests and benchmarks find the TEP files: `VIGIE_TEP_DIR`,
/// or `shared/data/tep` beside the repository. `None`, with a note on standard error,
/// when they are not there.
pub fn repository_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIE_TEP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/data/tep"
            ))
        });
    if dir.join("d00.dat").is_file() {
        Some(dir)
    } else {
        // Straight to the standard error, which the test runner does not capture: a
        // test that checks nothing for want of the data must say so.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: TEP data not found at {}",
            dir.display()
        );
        None
    }
}
