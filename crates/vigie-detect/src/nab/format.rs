//! Parsing of the text formats the scorer reads, from strings (the caller reads files):
//! the customer formats documented at the crate root (`timestamp,value` CSV and
//! `start,end` labels in CSV or JSON) and NAB's `combined_windows.json`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::NabError;
use super::series::LabelWindow;

/// The rows of a `timestamp,value` (or `timestamp,anomaly_score`) CSV file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedSeries {
    /// Row timestamps, in file order.
    pub timestamps: Vec<NaiveDateTime>,
    /// Row values (or anomaly scores), in file order.
    pub values: Vec<f64>,
}

/// Parses a timestamp in one of the documented forms (see the crate docs).
pub fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Some(t) = parse_common(text.as_bytes()) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_utc());
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Fast path for `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z]`, the form of every NAB file;
/// chrono's general parser is several times slower and the corpus has a million stamps.
fn parse_common(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some((b'.', fraction)) = rest.split_first() {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(20, 20 + digits)? * 10u32.pow(9 - digits as u32);
        rest = &fraction[digits..];
    }
    if !(rest.is_empty() || rest == b"Z") {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
}

/// Reads the two first fields of every record, skipping a header line (a first line
/// whose first field is not a timestamp).
fn two_column_records(
    text: &str,
    origin: &str,
    mut row: impl FnMut(NaiveDateTime, &str, u64) -> Result<(), NabError>,
) -> Result<(), NabError> {
    let mut first = true;
    for record in csv_reader(text).records() {
        let record = record.map_err(|e| NabError::Parse {
            origin: origin.to_owned(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let parse_error = |message: String| NabError::Parse {
            origin: origin.to_owned(),
            line,
            message,
        };
        let field0 = record.get(0).unwrap_or("");
        let timestamp = parse_timestamp(field0);
        if std::mem::take(&mut first) && timestamp.is_none() {
            continue; // header
        }
        let timestamp =
            timestamp.ok_or_else(|| parse_error(format!("bad timestamp {field0:?}")))?;
        let field1 = record
            .get(1)
            .ok_or_else(|| parse_error("expected two comma-separated fields".to_owned()))?;
        row(timestamp, field1, line)?;
    }
    Ok(())
}

/// Parses a `timestamp,value` CSV (also a detector's `timestamp,anomaly_score` file).
///
/// `origin` names the input in error messages. Values must be finite numbers.
pub fn parse_series_csv(text: &str, origin: &str) -> Result<ParsedSeries, NabError> {
    let mut parsed = ParsedSeries::default();
    two_column_records(text, origin, |timestamp, field, line| {
        let value: f64 = field
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| NabError::Parse {
                origin: origin.to_owned(),
                line,
                message: format!("bad value {field:?}"),
            })?;
        parsed.timestamps.push(timestamp);
        parsed.values.push(value);
        Ok(())
    })?;
    Ok(parsed)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonWindow {
    Pair([String; 2]),
    Object { start: String, end: String },
}

fn json_windows(windows: Vec<JsonWindow>, origin: &str) -> Result<Vec<LabelWindow>, NabError> {
    windows
        .into_iter()
        .map(|w| {
            let (start, end) = match w {
                JsonWindow::Pair([start, end]) | JsonWindow::Object { start, end } => (start, end),
            };
            let parse = |s: &str| {
                parse_timestamp(s).ok_or_else(|| NabError::Json {
                    origin: origin.to_owned(),
                    message: format!("bad timestamp {s:?}"),
                })
            };
            Ok(LabelWindow {
                start: parse(&start)?,
                end: parse(&end)?,
            })
        })
        .collect()
}

/// Parses customer labels: JSON (`[[start, end], …]` or `[{"start": …, "end": …}, …]`)
/// when the text starts with `[`, otherwise `start,end` CSV.
pub fn parse_labels(text: &str, origin: &str) -> Result<Vec<LabelWindow>, NabError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') {
        let windows: Vec<JsonWindow> =
            serde_json::from_str(trimmed).map_err(|e| NabError::Json {
                origin: origin.to_owned(),
                message: format!("expected a list of [start, end] windows: {e}"),
            })?;
        return json_windows(windows, origin);
    }
    let mut windows = Vec::new();
    two_column_records(text, origin, |start, field, line| {
        let end = parse_timestamp(field).ok_or_else(|| NabError::Parse {
            origin: origin.to_owned(),
            line,
            message: format!("bad end timestamp {field:?}"),
        })?;
        windows.push(LabelWindow { start, end });
        Ok(())
    })?;
    Ok(windows)
}

/// Parses NAB's `labels/combined_windows.json`: a map from `category/file.csv` to its
/// list of `[start, end]` windows.
pub fn parse_nab_windows(
    text: &str,
    origin: &str,
) -> Result<BTreeMap<String, Vec<LabelWindow>>, NabError> {
    let raw: BTreeMap<String, Vec<JsonWindow>> =
        serde_json::from_str(text).map_err(|e| NabError::Json {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
    raw.into_iter()
        .map(|(name, windows)| Ok((name, json_windows(windows, origin)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn timestamps_in_all_documented_forms() {
        let t = ts(2014, 2, 19, 10, 50, 0);
        for text in [
            "2014-02-19 10:50:00",
            "2014-02-19 10:50:00.000000",
            "2014-02-19T10:50:00Z",
            " 2014-02-19T10:50:00.0 ",
            "2014-02-19 10:50",
            "2014-02-19T11:50:00+01:00",
        ] {
            assert_eq!(parse_timestamp(text), Some(t), "{text}");
        }
        assert_eq!(
            parse_timestamp("2014-02-19"),
            Some(ts(2014, 2, 19, 0, 0, 0))
        );
        assert_eq!(
            parse_timestamp("2014-02-19 10:50:00.25").unwrap() - t,
            chrono::Duration::milliseconds(250)
        );
        for bad in [
            "timestamp",
            "2014-02-30 10:50:00",
            "2014-02-19 10:50:00.",
            "12",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn series_csv_with_and_without_header() {
        let with =
            "timestamp,value\n2014-07-01 00:00:00,1.5\n\n# note\n2014-07-01 00:05:00,-2e-3,extra\n";
        let p = parse_series_csv(with, "x.csv").unwrap();
        assert_eq!(p.values, vec![1.5, -0.002]);
        assert_eq!(p.timestamps[1], ts(2014, 7, 1, 0, 5, 0));
        let without = "\u{feff}2014-07-01 00:00:00,1\r\n2014-07-01 00:05:00,2\r\n";
        assert_eq!(
            parse_series_csv(without, "x").unwrap().values,
            vec![1.0, 2.0]
        );
        let err = parse_series_csv("timestamp,value\n2014-07-01 00:00:00,abc\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.csv, line 2"), "{err}");
        assert!(parse_series_csv("t,v\nnot-a-time,1\n", "x").is_err());
        assert!(parse_series_csv("2014-07-01 00:00:00,NaN\n", "x").is_err());
    }

    #[test]
    fn labels_in_csv_and_json() {
        let expected = vec![LabelWindow {
            start: ts(2014, 2, 19, 10, 50, 0),
            end: ts(2014, 2, 20, 3, 30, 0),
        }];
        let csv = "start,end\n2014-02-19 10:50:00,2014-02-20 03:30:00\n";
        assert_eq!(parse_labels(csv, "l.csv").unwrap(), expected);
        let pairs = r#"[["2014-02-19 10:50:00.000000", "2014-02-20 03:30:00.000000"]]"#;
        assert_eq!(parse_labels(pairs, "l.json").unwrap(), expected);
        let objects = r#"[{"start": "2014-02-19T10:50:00Z", "end": "2014-02-20T03:30:00Z"}]"#;
        assert_eq!(parse_labels(objects, "l.json").unwrap(), expected);
        assert_eq!(parse_labels("start,end\n", "l.csv").unwrap(), vec![]);
        assert!(parse_labels(r#"[["2014-02-19"]]"#, "l.json").is_err());
        assert!(parse_labels("start,end\n2014-02-19 10:50:00,later\n", "l.csv").is_err());
    }

    #[test]
    fn nab_windows_map() {
        let text = r#"{"a/x.csv": [], "b/y.csv": [["2014-02-19 10:50:00.000000", "2014-02-20 03:30:00.000000"]]}"#;
        let map = parse_nab_windows(text, "w.json").unwrap();
        assert_eq!(map.len(), 2);
        assert!(map["a/x.csv"].is_empty());
        assert_eq!(map["b/y.csv"][0].end, ts(2014, 2, 20, 3, 30, 0));
    }
}
