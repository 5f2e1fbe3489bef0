//! The detector as a whole, on synthetic series: what it must detect, what it must
//! stay quiet about, and input it must survive.

use super::*;
use crate::nab::evaluate::score_series;

const SECOND: i64 = 1_000;
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

/// `n` readings of noise around 20, `step` ms apart.
fn flat(n: usize, step: i64, seed: u64) -> Vec<(i64, f64)> {
    // Scrambled: xorshift seeded with a small number starts with tiny numbers, and the
    // first reading would be a 7σ outlier.
    let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (0..n)
        .map(|i| (T0 + i as i64 * step, 20.0 + SIGMA * noise.normal()))
        .collect()
}

/// Scores `points`, with the explanation of each reading.
fn explained(points: &[(i64, f64)]) -> (Vec<f64>, Vec<Option<Explanation>>) {
    let config = DetectorConfig::default();
    let mut detector = SeriesDetector::new(&config);
    points
        .iter()
        .map(|&(t, v)| (detector.score(&config, t, v), detector.explain()))
        .unzip()
}

/// A lasting level shift of 8σ at row `at` and a spike of 16σ on top of it at row
/// `spike`, in noise sampled every `step` ms: nothing fires between the warm-up (`warm`
/// rows) and the shift, the shift is found within `within` rows and explained as a
/// level shift once the next reading is in, the spike at once and explained as a
/// spike; both against the level that came before.
fn assert_shift_and_spike(step: i64, warm: usize, at: usize, within: usize, spike: usize) {
    let mut p = flat(spike + 10, step, 1);
    for x in &mut p[at..] {
        x.1 += 8.0 * SIGMA;
    }
    p[spike].1 += 16.0 * SIGMA;
    let (s, explanations) = explained(&p);
    assert!(s[..warm].iter().all(|&v| v == 0.0), "scores in the warm-up");
    assert!(explanations[..warm].iter().all(Option::is_none));
    let before = max_in(&s, warm..at);
    assert!(
        before < NAB_THRESHOLD,
        "false alarm before the shift ({before})"
    );
    let found = (at..at + within)
        .find(|&i| s[i] >= NAB_THRESHOLD)
        .unwrap_or_else(|| panic!("shift missed (max {})", max_in(&s, at..at + within)));
    let shift = explanations[found].expect("an alarm is explained");
    assert_eq!(shift.observed, p[found].1);
    assert!(
        shift.expected_low < 20.0 && 20.0 < shift.expected_high && shift.expected_high < 24.0,
        "{shift:?}"
    );
    assert!(
        matches!(shift.kind, AnomalyKind::Spike | AnomalyKind::LevelShift),
        "{shift:?}"
    );
    assert_eq!(
        shift.refined_by(p[found + 1].1).kind,
        AnomalyKind::LevelShift
    );
    assert!(s[spike] >= NAB_THRESHOLD, "spike missed ({})", s[spike]);
    let peak = explanations[spike].expect("an alarm is explained");
    assert_eq!(peak.kind, AnomalyKind::Spike);
    assert!(
        peak.expected_low < 24.0 && 24.0 < peak.expected_high,
        "{peak:?}"
    );
    assert_eq!(peak.refined_by(p[spike + 1].1).kind, AnomalyKind::Spike);
}

#[test]
fn one_hertz_data_is_useful_after_minutes() {
    // The warm-up lasts ten minutes (600 readings); the shift comes at 12 minutes.
    assert_shift_and_spike(SECOND, 600, 720, 60, 2_400);
}

#[test]
fn five_minute_data_is_useful_after_hours() {
    // The warm-up lasts 50 readings (4 hours 10 minutes); the shift comes after 12
    // hours, the spike after 18.
    assert_shift_and_spike(STEP, 50, 144, 3, 216);
}

#[test]
fn noise_stays_quiet_after_the_warm_up() {
    // An hour of noise sampled every second, after the ten-minute warm-up; a day of
    // noise sampled every five minutes, after the warm-up of 50 readings. The records
    // and the envelope are young then: before the day-one rules, nine series in ten
    // raised an alarm in that hour or day; over 200 series, one or two still do in
    // the hour at 1 Hz, none on the day at 5 minutes (`tune synthetic`).
    for (step, warm, end) in [(SECOND, 600, 4_200), (STEP, 50, DAY)] {
        for seed in 1..=40 {
            let s = scores(&flat(end, step, seed));
            let worst = max_in(&s, warm..end);
            assert!(
                worst < NAB_THRESHOLD,
                "step {step} ms, seed {seed}: false alarm {worst}"
            );
        }
    }
}

#[test]
fn at_one_hertz_the_daily_machinery_learns_per_hour_and_waits_for_days() {
    // A daily cycle sampled every second for three days; a level shift on the third.
    let config = DetectorConfig::default();
    let mut detector = SeriesDetector::new(&config);
    let mut noise = Noise(3);
    let day = 86_400;
    let at = 2 * day + 13 * 3_600;
    let mut found = None;
    for i in 0..3 * day {
        let phase = (i % day) as f64 / day as f64 * std::f64::consts::TAU;
        let shift = if i >= at { 8.0 * SIGMA } else { 0.0 };
        let value = 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal() + shift;
        let score = detector.score(&config, T0 + i as i64 * SECOND, value);
        if i == day - 1 {
            // An hour of readings a second apart is an hour's worth of visits (twelve
            // of five minutes), not 3,600; the profile is not in use on a day's data.
            for visits in detector.profile.visits {
                assert!((11.9..=12.1).contains(&visits), "{visits}");
            }
            assert!(!detector.profile.on);
        }
        if i == 2 * day - 2 {
            assert!(!detector.profile.on, "in use before two days");
        }
        if i >= at && score >= NAB_THRESHOLD {
            found.get_or_insert(i - at);
        }
    }
    assert!(detector.profile.on, "the daily cycle is learnt");
    let delay = found.expect("the shift on the third day is found");
    assert!(delay < 60, "found after {delay} s");
}
