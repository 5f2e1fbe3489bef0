//! The detector as a whole, on synthetic series: what it must detect, what it must
//! stay quiet about, and input it must survive.

use super::*;
use crate::nab::evaluate::score_series;

const MINUTE: i64 = 60_000;
const STEP: i64 = 5 * MINUTE;
/// Points per day at a 5-minute step.
pub(super) const DAY: usize = 288;
/// 2024-01-01 00:00 UTC.
const T0: i64 = 1_704_067_200_000;

/// A small deterministic generator of standard normal noise (xorshift + Box-Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Noise of the synthetic series (5 % of the daily amplitude).
const SIGMA: f64 = 0.5;

/// Daily sine (amplitude 10 around 50) with noise, every 5 minutes.
pub(super) fn seasonal(days: usize, seed: u64) -> Vec<(i64, f64)> {
    let mut noise = Noise(seed);
    (0..days * DAY)
        .map(|i| {
            let t = T0 + i as i64 * STEP;
            let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            (t, 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal())
        })
        .collect()
}

fn scores(points: &[(i64, f64)]) -> Vec<f64> {
    score_series(&DetectorConfig::default(), points.iter().copied())
}

fn max_in(scores: &[f64], range: std::ops::Range<usize>) -> f64 {
    scores[range].iter().copied().fold(0.0, f64::max)
}

/// The anomaly starting at row `at` is detected within `within` rows, and nothing
/// fires between the warm-up (one week) and `at`.
fn assert_detected(points: &[(i64, f64)], at: usize, within: usize, what: &str) {
    let s = scores(points);
    let before = max_in(&s, 7 * DAY..at);
    let after = max_in(&s, at..at + within);
    assert!(
        before < NAB_THRESHOLD,
        "{what}: false alarm before the change ({before})"
    );
    assert!(
        after >= NAB_THRESHOLD,
        "{what}: not detected (max {after} after the change)"
    );
}

const AT: usize = 16 * DAY + 100;

#[test]
fn clean_seasonal_series_raises_no_alarm_after_warm_up() {
    for seed in 1..=5 {
        let s = scores(&seasonal(35, seed));
        assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
        let worst = max_in(&s, 7 * DAY..s.len());
        assert!(worst < NAB_THRESHOLD, "seed {seed}: {worst}");
    }
}

#[test]
fn detects_a_spike() {
    let mut p = seasonal(21, 7);
    p[AT].1 += 15.0;
    assert_detected(&p, AT, 1, "spike");
}

#[test]
fn detects_a_level_shift() {
    let mut p = seasonal(21, 8);
    for x in &mut p[AT..] {
        x.1 += 8.0;
    }
    assert_detected(&p, AT, 12, "level shift");
}

#[test]
fn detects_a_drift() {
    let mut p = seasonal(21, 9);
    for (k, x) in p[AT..].iter_mut().enumerate() {
        x.1 += 0.05 * k as f64;
    }
    assert_detected(&p, AT, DAY, "drift");
}

#[test]
fn detects_a_stuck_sensor() {
    let mut p = seasonal(21, 10);
    let stuck = p[AT].1;
    for x in &mut p[AT..] {
        x.1 = stuck;
    }
    assert_detected(&p, AT, 24, "stuck sensor");
}

#[test]
fn detects_a_change_of_noise() {
    let mut p = seasonal(21, 11);
    let mut noise = Noise(99);
    for x in &mut p[AT..] {
        x.1 += 5.0 * SIGMA * noise.normal();
    }
    assert_detected(&p, AT, DAY / 4, "noise change");
}

#[test]
fn detects_a_change_of_seasonality() {
    // The daily cycle shifts by six hours.
    let mut p = seasonal(21, 12);
    let mut noise = Noise(5);
    for (i, x) in p.iter_mut().enumerate().skip(AT) {
        let phase = ((i + DAY / 4) % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
        x.1 = 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal();
    }
    assert_detected(&p, AT, DAY / 2, "seasonality change");
}

#[test]
fn irregular_sampling_is_handled_and_gaps_are_flagged() {
    // Steps of 1 to 9 minutes; 12 hours without data from day 16.
    let mut noise = Noise(13);
    let mut t = T0;
    let mut p = Vec::new();
    while t < T0 + 21 * 86_400_000 {
        let phase = (t - T0) as f64 / DAY_MS * std::f64::consts::TAU;
        p.push((t, 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal()));
        t += MINUTE * (1 + (noise.uniform() * 9.0) as i64);
    }
    let index = |ms: i64| p.iter().position(|&(t, _)| t >= T0 + ms).unwrap();
    let (week, at, resume) = (
        index(7 * 86_400_000),
        index(16 * 86_400_000),
        index(16 * 86_400_000 + 43_200_000),
    );
    let mut gapped: Vec<(i64, f64)> = p[..at].to_vec();
    gapped.extend_from_slice(&p[resume..]);
    // Irregular sampling raises no alarm; 12 hours of silence are flagged when the
    // data resume.
    let s = scores(&gapped);
    let before = max_in(&s, week..at);
    assert!(before < NAB_THRESHOLD, "false alarm {before}");
    let resumed = max_in(&s, at..at + 3);
    assert!(resumed >= NAB_THRESHOLD, "gap missed: {resumed}");
    let after = max_in(&s, at + DAY..s.len());
    assert!(after < NAB_THRESHOLD, "false alarm after the gap {after}");
    // A spike in irregularly sampled data is detected at once.
    let mut spiky = p.clone();
    spiky[at].1 += 15.0;
    let s = scores(&spiky);
    assert!(s[at] >= NAB_THRESHOLD, "spike not flagged: {}", s[at]);
}

#[test]
fn a_weekly_stop_stops_raising_alarms_once_learnt() {
    // A plant that runs a daily cycle on weekdays and idles at a lower level on
    // weekends, for eight weeks (2024-01-01 was a Monday).
    let plant = |seed: u64| -> Vec<(i64, f64)> {
        let mut noise = Noise(seed);
        (0..8 * 7 * DAY)
            .map(|i| {
                let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
                let level = if (i / DAY) % 7 >= 5 {
                    20.0
                } else {
                    50.0 + 10.0 * phase.sin()
                };
                (T0 + i as i64 * STEP, level + SIGMA * noise.normal())
            })
            .collect()
    };
    // Weeks three to eight that raise an alarm, over three plants.
    let weeks_with_alarms = |config: &DetectorConfig| -> usize {
        (1..=3)
            .map(|seed| {
                let s = score_series(config, plant(seed));
                (2..8)
                    .filter(|w| max_in(&s, w * 7 * DAY..(w + 1) * 7 * DAY) >= NAB_THRESHOLD)
                    .count()
            })
            .sum()
    };
    let without = DetectorConfig {
        recur_weeks: 0.0,
        ..DetectorConfig::default()
    };
    // Without the weekly memory, nearly every weekend is news again.
    assert!(weeks_with_alarms(&without) >= 15);
    let with = weeks_with_alarms(&DetectorConfig::default());
    assert!(with <= 4, "{with} of 18 weeks raise an alarm");
}

#[test]
fn odd_input_is_handled_gracefully() {
    let config = DetectorConfig::default();
    let mut d = SeriesDetector::new(&config);
    assert_eq!(d.score(&config, T0, f64::NAN), 0.0);
    assert_eq!(d.score(&config, T0, f64::INFINITY), 0.0);
    for i in 0..500 {
        // Repeated timestamps, constant then huge values.
        let v = if i < 300 { 1.0 } else { 1e300 * (i % 2) as f64 };
        let s = d.score(&config, T0 + (i / 3) * STEP, v);
        assert!((0.0..=1.0).contains(&s), "{s}");
    }
    assert_eq!(
        d.score(&config, T0 - STEP, 1.0),
        0.0,
        "time going backwards is ignored"
    );
    for _ in 0..3 {
        let s = d.score(&config, i64::MAX, f64::MAX);
        assert!((0.0..=1.0).contains(&s), "{s}");
    }
    assert_eq!(d.score(&config, i64::MIN, 0.0), 0.0);
    let mut d = SeriesDetector::new(&DetectorConfig::default());
    d.score(&config, i64::MIN, -f64::MAX);
    let s = d.score(&config, i64::MAX, f64::MAX);
    assert!((0.0..=1.0).contains(&s), "{s}");
}

#[test]
fn extreme_values_keep_the_state_finite() {
    let config = DetectorConfig::default();
    let mut detector = SeriesDetector::new(&config);
    let extremes = [
        f64::MAX,
        -f64::MAX,
        1.7e308,
        -1.7e308,
        f64::MIN_POSITIVE,
        0.0,
        -0.0,
        1e-300,
        5e307,
        -5e307,
    ];
    let mut noise = Noise(7);
    for i in 0..20_000_i64 {
        let value = match i % 5 {
            0 | 1 => extremes[(i as usize / 5) % extremes.len()],
            2 => {
                if i % 2 == 0 {
                    1.7e308
                } else {
                    -1.7e308
                }
            }
            _ => noise.normal() * 1e306,
        };
        let score = detector.score(&config, i * 60_000, value);
        assert!((0.0..=1.0).contains(&score), "reading {i}: {score}");
    }
    let json = serde_json::to_string(&detector).unwrap();
    let restored: SeriesDetector = serde_json::from_str(&json)
        .unwrap_or_else(|error| panic!("a non-finite number in the state: {error}"));
    assert_eq!(restored, detector, "every number of the state is finite");
    // It still works on ordinary values afterwards.
    for i in 20_000..20_100 {
        assert!(detector.score(&config, i * 60_000, 1.0).is_finite());
    }
}
