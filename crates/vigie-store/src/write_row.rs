//! The rows a write stores, shared by the readings' statements (`ingest`) and their
//! rollups (`rollups`).

/// One reading to write: its series (index into the job's series), time, value,
/// precision, labels (index into the job's label sets), score, expected range and the
/// feed of its asset's model that took it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WriteRow {
    pub(crate) series: usize,
    pub(crate) time: i64,
    pub(crate) value: f64,
    pub(crate) precision: Option<f64>,
    pub(crate) labels: Option<usize>,
    pub(crate) score: Option<f64>,
    pub(crate) expected: Option<(f64, f64)>,
    pub(crate) asset_feed: Option<i64>,
}

/// The runs of rows of one series each, in rows sorted by series.
pub(crate) fn series_runs(
    rows: &[WriteRow],
) -> std::slice::ChunkBy<'_, WriteRow, impl FnMut(&WriteRow, &WriteRow) -> bool> {
    rows.chunk_by(|a, b| a.series == b.series)
}
