//! The one error type of the NAB scorer, so callers (the CLI) get a readable message
//! naming the file, line or series at fault.

use std::path::PathBuf;

/// Why loading, parsing or scoring failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NabError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV line could not be understood.
    #[error("{origin}, line {line}: {message}")]
    Parse {
        /// The file (or other origin) being parsed.
        origin: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A JSON document could not be understood.
    #[error("{origin}: {message}")]
    Json {
        /// The file (or other origin) being parsed.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A series, its labels or its anomaly scores are inconsistent.
    #[error("series {series}: {message}")]
    InvalidSeries {
        /// The series name.
        series: String,
        /// What is wrong.
        message: String,
    },
    /// The anomaly scores do not match the series they are meant to score.
    #[error("{0}")]
    Mismatch(String),
}
