//! A labelled series: the rows of one data file and its incident windows, resolved to
//! row ranges once, so that the scoring rules work on row indices like NAB's do.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::NabError;

/// An incident window as labelled, in time: both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelWindow {
    /// First instant of the window.
    pub start: NaiveDateTime,
    /// Last instant of the window.
    pub end: NaiveDateTime,
}

/// An incident window resolved to rows: `first_row..=last_row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Index of the window's first row.
    pub first_row: usize,
    /// Index of the window's last row (inclusive).
    pub last_row: usize,
}

impl Window {
    /// Number of rows in the window.
    pub fn width(&self) -> usize {
        self.last_row - self.first_row + 1
    }

    /// Whether `row` lies in the window.
    pub fn contains(&self, row: usize) -> bool {
        (self.first_row..=self.last_row).contains(&row)
    }
}

/// How label windows are matched to the rows of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowMatching {
    /// NAB's rule for its corpus: both ends must be timestamps present in the data
    /// (the window starts at the first row with the start timestamp and ends at the
    /// next row with the end timestamp); anything else is an error.
    Exact,
    /// For customers' labels: the window covers the rows from the first row at or after
    /// `start` to the last row at or before `end`, and must cover at least one row.
    Snap,
}

/// One series with its incident windows.
///
/// Invariants (checked on construction): as many values as timestamps; windows sorted,
/// non-overlapping and within the series.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSeries {
    name: String,
    timestamps: Vec<NaiveDateTime>,
    values: Vec<f64>,
    windows: Vec<Window>,
}

impl LabelledSeries {
    /// Builds a series from its rows and time windows, resolving each window to rows
    /// with `matching`. Windows may be given in any order.
    pub fn new(
        name: impl Into<String>,
        timestamps: Vec<NaiveDateTime>,
        values: Vec<f64>,
        labels: &[LabelWindow],
        matching: WindowMatching,
    ) -> Result<Self, NabError> {
        let name = name.into();
        let invalid = |message: String| NabError::InvalidSeries {
            series: name.clone(),
            message,
        };
        let mut windows = Vec::with_capacity(labels.len());
        for label in labels {
            if label.start > label.end {
                return Err(invalid(format!(
                    "window [{}, {}] ends before it starts",
                    label.start, label.end
                )));
            }
            let window = match matching {
                WindowMatching::Exact => {
                    let first_row = timestamps.iter().position(|t| *t == label.start);
                    let first_row = first_row.ok_or_else(|| {
                        invalid(format!(
                            "window start {} is not a timestamp of the data",
                            label.start
                        ))
                    })?;
                    let last_row = timestamps[first_row..]
                        .iter()
                        .position(|t| *t == label.end)
                        .map(|offset| first_row + offset)
                        .ok_or_else(|| {
                            invalid(format!(
                                "window end {} is not a timestamp of the data after its start",
                                label.end
                            ))
                        })?;
                    Window {
                        first_row,
                        last_row,
                    }
                }
                WindowMatching::Snap => {
                    let first_row = timestamps.iter().position(|t| *t >= label.start);
                    let last_row = timestamps.iter().rposition(|t| *t <= label.end);
                    match (first_row, last_row) {
                        (Some(first_row), Some(last_row)) if first_row <= last_row => Window {
                            first_row,
                            last_row,
                        },
                        _ => {
                            return Err(invalid(format!(
                                "window [{}, {}] covers no row of the data",
                                label.start, label.end
                            )));
                        }
                    }
                }
            };
            windows.push(window);
        }
        Self::from_row_windows(name, timestamps, values, windows)
    }

    /// Builds a series whose windows are already row ranges (sorted here).
    pub fn from_row_windows(
        name: impl Into<String>,
        timestamps: Vec<NaiveDateTime>,
        values: Vec<f64>,
        mut windows: Vec<Window>,
    ) -> Result<Self, NabError> {
        let name = name.into();
        let invalid = |message: String| NabError::InvalidSeries {
            series: name.clone(),
            message,
        };
        if timestamps.len() != values.len() {
            return Err(invalid(format!(
                "{} timestamps but {} values",
                timestamps.len(),
                values.len()
            )));
        }
        windows.sort_by_key(|w| (w.first_row, w.last_row));
        for w in &windows {
            if w.first_row > w.last_row || w.last_row >= timestamps.len() {
                return Err(invalid(format!(
                    "window rows {}..={} are not within the {} rows of the series",
                    w.first_row,
                    w.last_row,
                    timestamps.len()
                )));
            }
        }
        for pair in windows.windows(2) {
            if pair[1].first_row <= pair[0].last_row {
                return Err(invalid(format!(
                    "windows at rows {}..={} and {}..={} overlap",
                    pair[0].first_row, pair[0].last_row, pair[1].first_row, pair[1].last_row
                )));
            }
        }
        Ok(Self {
            name,
            timestamps,
            values,
            windows,
        })
    }

    /// The series name (for the NAB corpus, `category/file.csv`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Row timestamps, in file order.
    pub fn timestamps(&self) -> &[NaiveDateTime] {
        &self.timestamps
    }

    /// Row values, in file order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The incident windows as row ranges, sorted and disjoint.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The incident windows as time ranges (the timestamps of their first and last rows).
    pub fn label_windows(&self) -> Vec<LabelWindow> {
        self.windows
            .iter()
            .map(|w| LabelWindow {
                start: self.timestamps[w.first_row],
                end: self.timestamps[w.last_row],
            })
            .collect()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether the series has no row.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn minutes(n: usize) -> Vec<NaiveDateTime> {
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        (0..n).map(|i| t0 + Duration::minutes(i as i64)).collect()
    }

    fn label(ts: &[NaiveDateTime], a: usize, b: usize) -> LabelWindow {
        LabelWindow {
            start: ts[a],
            end: ts[b],
        }
    }

    #[test]
    fn exact_matching_resolves_rows_and_rejects_missing_timestamps() {
        let ts = minutes(10);
        let s = LabelledSeries::new(
            "s",
            ts.clone(),
            vec![0.0; 10],
            &[label(&ts, 6, 8), label(&ts, 2, 3)],
            WindowMatching::Exact,
        )
        .unwrap();
        assert_eq!(
            s.windows(),
            &[
                Window {
                    first_row: 2,
                    last_row: 3
                },
                Window {
                    first_row: 6,
                    last_row: 8
                }
            ]
        );
        let off_grid = LabelWindow {
            start: ts[2] + Duration::seconds(30),
            end: ts[4],
        };
        assert!(
            LabelledSeries::new(
                "s",
                ts.clone(),
                vec![0.0; 10],
                &[off_grid],
                WindowMatching::Exact
            )
            .is_err()
        );
        // Snapping takes the rows inside the window instead.
        let s =
            LabelledSeries::new("s", ts, vec![0.0; 10], &[off_grid], WindowMatching::Snap).unwrap();
        assert_eq!(
            s.windows(),
            &[Window {
                first_row: 3,
                last_row: 4
            }]
        );
    }

    #[test]
    fn rejects_overlap_empty_and_reversed_windows() {
        let ts = minutes(10);
        let new = |labels: &[LabelWindow]| {
            LabelledSeries::new("s", ts.clone(), vec![0.0; 10], labels, WindowMatching::Snap)
        };
        assert!(new(&[label(&ts, 2, 5), label(&ts, 5, 7)]).is_err());
        assert!(new(&[label(&ts, 5, 2)]).is_err());
        let after_end = LabelWindow {
            start: ts[9] + Duration::minutes(1),
            end: ts[9] + Duration::minutes(5),
        };
        assert!(new(&[after_end]).is_err());
        assert!(new(&[label(&ts, 2, 4), label(&ts, 5, 7)]).is_ok());
        assert!(LabelledSeries::from_row_windows("s", ts.clone(), vec![0.0; 9], vec![]).is_err());
    }
}
