//! The readings of the ingestion measurements, the same for the HTTP load (as JSON
//! bodies), the parse ceiling (the same bodies) and the store ceiling (as
//! [`ValidReading`]s), so the three measure the same rows.
//!
//! With [`Sharing::Own`] (many gateways), client `c` owns the sensors
//! `bench-cCC-sSSSSS`; its request `n` carries, for each of its sensors,
//! `readings_per_series` readings one millisecond apart in minute `n` after
//! 2020-01-01T00:00Z, interleaved in time order as a gateway polling its sensors would
//! send them. So every request of a run carries new keys (project, sensorId, valueName,
//! date) and no two clients share a series.
//!
//! With [`Sharing::Shared`] (one gateway uploading in parallel), every client sends the
//! same sensors `bench-shared-sSSSSS`, and client `c` of `C` takes the milliseconds
//! `c, c + C, c + 2C, …` of minute `n`: the clients' requests `n` cover the same span of
//! time, interleaved, and still never repeat a key.
//!
//! A client's body is built once; request `n` only rewrites the 16 characters of each
//! date that name the minute (`YYYY-MM-DDTHH:MM`), so the load generator does little
//! work per request.

use anyhow::{bail, ensure};
use bytes::Bytes;
use vigie_proto::readings::ValidReading;

/// 2020-01-01T00:00:00Z, seconds since the epoch: minute 0 of every client.
const BASE_SECONDS: i64 = 1_577_836_800;
/// Length of the minute prefix of a date, `YYYY-MM-DDTHH:MM`.
const MINUTE_PREFIX: usize = 16;
/// The `valueName` of every reading.
const VALUE_NAME: &str = "x";
/// The `precision` of every reading.
const PRECISION: u8 = 100;

/// Whose series a client's requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Each client its own sensors, readings one millisecond apart.
    Own,
    /// All `clients` clients the same sensors, each its own milliseconds, interleaved.
    Shared {
        /// Clients sharing the sensors.
        clients: usize,
    },
}

impl Sharing {
    /// The sensor `sensor` of client `client`.
    fn sensor_id(self, client: usize, sensor: usize) -> String {
        match self {
            Self::Own => format!("bench-c{client:02}-s{sensor:05}"),
            Self::Shared { .. } => format!("bench-shared-s{sensor:05}"),
        }
    }

    /// The millisecond of the minute of client `client`'s reading `step` of a series.
    fn millisecond(self, client: usize, step: usize) -> usize {
        match self {
            Self::Own => step,
            Self::Shared { clients } => client + clients * step,
        }
    }
}

/// How the readings of one request are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Readings per request.
    pub batch: usize,
    /// Readings per series (sensor) per request, one millisecond apart.
    pub readings_per_series: usize,
}

impl Shape {
    /// Checks the layout: at least one reading, and the readings of one series within
    /// one minute (60 000 at most).
    ///
    /// # Errors
    /// An empty batch, or more than 60 000 readings per series.
    pub fn new(batch: usize, readings_per_series: usize) -> anyhow::Result<Self> {
        ensure!(batch > 0, "the batch must hold at least one reading");
        if !(1..=60_000).contains(&readings_per_series) {
            bail!("readings per series must be 1 to 60000, one per millisecond of a minute");
        }
        Ok(Self {
            batch,
            readings_per_series: readings_per_series.min(batch),
        })
    }

    /// Checks that `sharing` fits in a minute too: with `C` clients sharing the series,
    /// `C × readings per series` milliseconds.
    ///
    /// # Errors
    /// More than 60 000 milliseconds needed.
    pub fn check(&self, sharing: Sharing) -> anyhow::Result<()> {
        if let Sharing::Shared { clients } = sharing {
            ensure!(
                clients * self.readings_per_series <= 60_000,
                "clients × readings per series must be at most 60000 when the series are shared"
            );
        }
        Ok(())
    }

    /// Series (sensors) per request.
    pub fn sensors(&self) -> usize {
        self.batch.div_ceil(self.readings_per_series)
    }

    /// Reading `i` of a request: (sensor, millisecond within the minute).
    fn position(&self, i: usize) -> (usize, usize) {
        let sensors = self.sensors();
        (i % sensors, i / sensors)
    }
}

/// A value that varies between readings, with one decimal like most sensor data.
fn value(sensor: usize, millisecond: usize) -> f64 {
    ((sensor * 37 + millisecond * 11) % 5000) as f64 / 10.0
}

/// `YYYY-MM-DDTHH:MM` of minute `n`.
fn minute_prefix(n: u64) -> anyhow::Result<String> {
    let seconds = i64::try_from(n)?
        .checked_mul(60)
        .and_then(|s| s.checked_add(BASE_SECONDS));
    let Some(time) = seconds.and_then(|s| chrono::DateTime::from_timestamp(s, 0)) else {
        bail!("request {n} is out of the range of dates");
    };
    let prefix = time.format("%Y-%m-%dT%H:%M").to_string();
    ensure!(
        prefix.len() == MINUTE_PREFIX,
        "request {n} is past year 9999"
    );
    Ok(prefix)
}

/// The JSON body of one client's requests, rewritten in place for each request.
pub struct BodyTemplate {
    body: Vec<u8>,
    /// Where each date's minute prefix starts.
    date_offsets: Vec<usize>,
}

impl BodyTemplate {
    /// The body of client `client`, ready for any request.
    pub fn new(shape: Shape, sharing: Sharing, client: usize) -> Self {
        let sensors: Vec<String> = (0..shape.sensors())
            .map(|sensor| sharing.sensor_id(client, sensor))
            .collect();
        let mut body = Vec::with_capacity(shape.batch * 110);
        let mut date_offsets = Vec::with_capacity(shape.batch);
        body.push(b'[');
        for i in 0..shape.batch {
            let (sensor, step) = shape.position(i);
            let millisecond = sharing.millisecond(client, step);
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"sensorId\":\"");
            body.extend_from_slice(sensors[sensor].as_bytes());
            body.extend_from_slice(b"\",\"valueName\":\"");
            body.extend_from_slice(VALUE_NAME.as_bytes());
            body.extend_from_slice(b"\",\"date\":\"");
            date_offsets.push(body.len());
            body.extend_from_slice(b"2020-01-01T00:00");
            body.extend_from_slice(
                format!(":{:02}.{:03}Z", millisecond / 1000, millisecond % 1000).as_bytes(),
            );
            body.extend_from_slice(b"\",\"value\":");
            let value = serde_json::to_string(&value(sensor, millisecond))
                .expect("a finite number serialises");
            body.extend_from_slice(value.as_bytes());
            body.extend_from_slice(b",\"precision\":");
            body.extend_from_slice(format!("{PRECISION}").as_bytes());
            body.push(b'}');
        }
        body.push(b']');
        Self { body, date_offsets }
    }

    /// The body of this client's request `n`.
    ///
    /// # Errors
    /// `n` beyond year 9999.
    pub fn render(&mut self, n: u64) -> anyhow::Result<Bytes> {
        let prefix = minute_prefix(n)?;
        for &offset in &self.date_offsets {
            self.body[offset..offset + MINUTE_PREFIX].copy_from_slice(prefix.as_bytes());
        }
        Ok(Bytes::copy_from_slice(&self.body))
    }
}

/// The readings of client `client`'s request `n`, as validated: what
/// [`BodyTemplate::render`]`(n)` parses to.
pub fn valid_readings(shape: Shape, sharing: Sharing, client: usize, n: u64) -> Vec<ValidReading> {
    let sensors: Vec<String> = (0..shape.sensors())
        .map(|sensor| sharing.sensor_id(client, sensor))
        .collect();
    let minute_us = (BASE_SECONDS + n as i64 * 60) * 1_000_000;
    (0..shape.batch)
        .map(|i| {
            let (sensor, step) = shape.position(i);
            let millisecond = sharing.millisecond(client, step);
            ValidReading {
                sensor_id: sensors[sensor].clone(),
                value_name: VALUE_NAME.to_owned(),
                time_us: minute_us + millisecond as i64 * 1000,
                value: value(sensor, millisecond),
                precision: Some(PRECISION),
                labels: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use vigie_proto::readings::parse_batch;

    #[test]
    fn bodies_parse_to_the_store_rows() {
        for (batch, per_series) in [(1000, 100), (10_000, 100), (7, 3), (5, 60_000)] {
            let shape = Shape::new(batch, per_series).unwrap();
            for sharing in [Sharing::Own, Sharing::Shared { clients: 4 }] {
                if shape.check(sharing).is_err() {
                    continue;
                }
                let mut template = BodyTemplate::new(shape, sharing, 3);
                for n in [0, 1, 1439, 1440, 600_000] {
                    let parsed = parse_batch(&template.render(n).unwrap()).unwrap();
                    assert_eq!(
                        parsed,
                        valid_readings(shape, sharing, 3, n),
                        "{shape:?}, {sharing:?}, request {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_are_new_in_every_request_of_every_client() {
        let shape = Shape::new(1000, 100).unwrap();
        for sharing in [Sharing::Own, Sharing::Shared { clients: 3 }] {
            let mut seen = HashSet::new();
            for client in 0..3 {
                for n in 0..5 {
                    for reading in valid_readings(shape, sharing, client, n) {
                        let key = (reading.sensor_id, reading.value_name, reading.time_us);
                        assert!(seen.insert(key), "{sharing:?}");
                    }
                }
            }
            assert_eq!(seen.len(), 15_000);
        }
    }

    #[test]
    fn shared_clients_send_the_same_series_over_the_same_span() {
        let shape = Shape::new(1000, 20).unwrap();
        let sharing = Sharing::Shared { clients: 16 };
        shape.check(sharing).unwrap();
        let spans: Vec<(HashSet<String>, i64, i64)> = (0..16)
            .map(|client| {
                let readings = valid_readings(shape, sharing, client, 7);
                let times = readings.iter().map(|r| r.time_us);
                let (first, last) = (times.clone().min().unwrap(), times.max().unwrap());
                (
                    readings.into_iter().map(|r| r.sensor_id).collect(),
                    first,
                    last,
                )
            })
            .collect();
        assert_eq!(spans[0].0.len(), 50);
        for (sensors, first, last) in &spans[1..] {
            assert_eq!(sensors, &spans[0].0);
            assert!(
                *first < spans[0].2 && *last > spans[0].1,
                "the spans overlap"
            );
        }
        assert!(
            Shape::new(1000, 20)
                .unwrap()
                .check(Sharing::Shared { clients: 4000 })
                .is_err()
        );
    }

    #[test]
    fn a_reading_is_about_a_hundred_bytes() {
        let shape = Shape::new(10_000, 100).unwrap();
        let body = BodyTemplate::new(shape, Sharing::Own, 0).render(0).unwrap();
        assert!(
            (95..=115).contains(&(body.len() / shape.batch)),
            "{}",
            body.len()
        );
    }
}
