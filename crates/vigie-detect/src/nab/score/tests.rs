//! NAB scoring rules checked against hand-computed cases and the published figures.

use super::*;
use crate::nab::series::Window;
use chrono::{Duration, NaiveDate, NaiveDateTime};

const EPS: f64 = 1e-12;

fn stamps(n: usize) -> Vec<NaiveDateTime> {
    let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    (0..n)
        .map(|i| t0 + Duration::minutes(5 * i as i64))
        .collect()
}

fn series(n: usize, windows: &[(usize, usize)]) -> LabelledSeries {
    let windows = windows
        .iter()
        .map(|&(first_row, last_row)| Window {
            first_row,
            last_row,
        })
        .collect();
    LabelledSeries::from_row_windows("test", stamps(n), vec![0.0; n], windows).unwrap()
}

fn detections(n: usize, rows: &[usize]) -> Vec<f64> {
    (0..n)
        .map(|i| if rows.contains(&i) { 1.0 } else { 0.0 })
        .collect()
}

/// Raw score at threshold 0.5 without probation.
fn raw(s: &LabelledSeries, rows: &[usize], profile: &Profile) -> ThresholdScore {
    let options = ScoringOptions {
        probation_fraction: 0.0,
    };
    let sweep = Sweep::new(
        std::slice::from_ref(s),
        &[detections(s.len(), rows)],
        &options,
    )
    .unwrap();
    sweep.curve(profile).at(0.5)
}

#[test]
fn scaled_sigmoid_matches_nab_values() {
    assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_2).abs() < EPS);
    assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957_512_9).abs() < EPS);
    assert_eq!(scaled_sigmoid(0.0), 0.0);
    assert!((scaled_sigmoid(1.0) + 0.986_614_298_151_430_2).abs() < EPS);
    // Up to 3 window widths the sigmoid is used, beyond that a flat -1.
    assert!(scaled_sigmoid(3.0) > -1.0);
    assert_eq!(scaled_sigmoid(3.000_001), -1.0);
    assert!(scaled_sigmoid(-0.2) > scaled_sigmoid(-0.1));
}

#[test]
fn probation_is_fifteen_percent_capped_at_750_rows() {
    assert_eq!(probationary_period(0, PROBATION_FRACTION), 0);
    assert_eq!(probationary_period(10, PROBATION_FRACTION), 1);
    assert_eq!(probationary_period(100, PROBATION_FRACTION), 15);
    assert_eq!(probationary_period(4032, PROBATION_FRACTION), 604);
    assert_eq!(probationary_period(5000, PROBATION_FRACTION), 750);
    assert_eq!(probationary_period(22695, PROBATION_FRACTION), 750);
    assert_eq!(probationary_period(22695, 0.0), 0);
}

#[test]
fn no_windows_no_detections_scores_zero() {
    let s = series(10, &[]);
    let row = raw(&s, &[], &Profile::standard());
    assert_eq!(row.score, 0.0);
    assert_eq!(row.counts.true_negatives, 10);
}

#[test]
fn missed_windows_cost_fn_weight_each() {
    let s = series(100, &[(10, 19), (50, 59)]);
    assert_eq!(raw(&s, &[], &Profile::standard()).score, -2.0);
    assert_eq!(raw(&s, &[], &Profile::reward_low_fn_rate()).score, -4.0);
    let row = raw(&s, &[], &Profile::standard());
    assert_eq!(row.counts.false_negatives, 20);
    assert_eq!(row.detected_windows, 0);
}

#[test]
fn detection_at_window_start_is_worth_exactly_tp_weight() {
    let s = series(100, &[(10, 19)]);
    let row = raw(&s, &[10], &Profile::standard());
    assert_eq!(row.score, 1.0);
    assert_eq!(row.detected_windows, 1);
    assert_eq!(row.counts.true_positives, 1);
    assert_eq!(row.counts.false_negatives, 9);
}

#[test]
fn earlier_detection_scores_higher_and_last_row_still_positive() {
    let s = series(100, &[(10, 19)]);
    let p = Profile::standard();
    let early = raw(&s, &[12], &p).score;
    let late = raw(&s, &[17], &p).score;
    let last = raw(&s, &[19], &p).score;
    assert!(1.0 > early && early > late && late > last && last > 0.0);
    // Position -(last - i + 1)/width, normalised by S(-1).
    let expected = scaled_sigmoid(-(19.0 - 17.0 + 1.0) / 10.0) / scaled_sigmoid(-1.0);
    assert!((late - expected).abs() < EPS);
}

#[test]
fn only_the_first_detection_in_a_window_counts() {
    let s = series(100, &[(10, 19)]);
    let p = Profile::standard();
    let first = raw(&s, &[12], &p);
    let many = raw(&s, &[12, 13, 15, 19], &p);
    assert_eq!(first.score, many.score);
    assert_eq!(many.counts.true_positives, 4);
    assert_eq!(many.detected_windows, 1);
}

#[test]
fn false_positives_are_weighted_by_distance_past_the_preceding_window() {
    // Window rows 2..=4 (width 3) in 8 rows, as in NAB's own synthetic check.
    let s = series(8, &[(2, 4)]);
    let p = Profile::standard();
    let fp = p.costs.fp_weight;
    // Before any window: the full cost.
    assert!((raw(&s, &[0], &p).score - (-1.0 - fp)).abs() < EPS);
    // Just after the window: relative position (i - last) / (width - 1).
    let after = raw(&s, &[5], &p).score;
    assert!((after - (-1.0 + fp * scaled_sigmoid(0.5))).abs() < EPS);
    let further = raw(&s, &[7], &p).score;
    assert!(further < after && after < -1.0);
    // Beyond three (width - 1) lengths: the full cost again.
    let long = series(40, &[(2, 4)]);
    assert!((raw(&long, &[20], &p).score - (-1.0 - fp)).abs() < EPS);
    // A TP plus an FP.
    let both = raw(&s, &[2, 5], &p).score;
    assert!((both - (1.0 + fp * scaled_sigmoid(0.5))).abs() < EPS);
    // The low-FP profile doubles the cost.
    let low_fp = raw(&s, &[0], &Profile::reward_low_fp_rate()).score;
    assert!((low_fp - (-1.0 - 0.22)).abs() < EPS);
}

#[test]
fn probationary_rows_and_windows_are_ignored() {
    // 100 rows: rows 0..15 are probationary.
    let s = series(100, &[(5, 10), (40, 49)]);
    let options = ScoringOptions::default();
    let scores = detections(100, &[0, 3, 7, 14]);
    let sweep = Sweep::new(std::slice::from_ref(&s), &[scores], &options).unwrap();
    assert_eq!(sweep.scored_windows(), 1);
    let curve = sweep.curve(&Profile::standard());
    let row = curve.at(0.5);
    assert_eq!(row.score, -1.0);
    assert_eq!(row.counts.false_positives, 0);
    assert_eq!(row.counts.true_negatives + row.counts.false_negatives, 85);
    assert_eq!(curve.null_score(), -1.0);
    assert_eq!(curve.perfect_score(), 1.0);
    // A window straddling the end of probation is scored from its first scorable row.
    let s = series(100, &[(10, 19)]);
    let sweep = Sweep::new(&[s], &[detections(100, &[15])], &options).unwrap();
    let curve = sweep.curve(&Profile::standard());
    assert_eq!(sweep.scored_windows(), 1);
    assert!((curve.at(0.5).score - curve.perfect_score()).abs() < EPS);
    assert!(curve.perfect_score() < 1.0);
}

#[test]
fn one_row_windows_do_not_divide_by_zero() {
    let s = series(20, &[(5, 5)]);
    let row = raw(&s, &[5, 6], &Profile::standard());
    assert!(row.score.is_finite());
    assert!((row.score - (1.0 + 0.11 * scaled_sigmoid(1.0))).abs() < EPS);
}

/// Brute force: the NAB per-threshold score computed from scratch.
fn brute_force(
    series: &[LabelledSeries],
    scores: &[Vec<f64>],
    profile: &Profile,
    threshold: f64,
) -> f64 {
    let c = profile.costs;
    let mut total = 0.0;
    for (s, scores) in series.iter().zip(scores) {
        let probation = probationary_period(s.len(), PROBATION_FRACTION);
        for w in s.windows() {
            if w.last_row < probation {
                continue;
            }
            let first = (w.first_row.max(probation)..=w.last_row).find(|&i| scores[i] >= threshold);
            total += match first {
                Some(i) => {
                    let pos = -((w.last_row - i + 1) as f64) / w.width() as f64;
                    scaled_sigmoid(pos) * c.tp_weight / scaled_sigmoid(-1.0)
                }
                None => -c.fn_weight,
            };
        }
        for (i, &score) in scores.iter().enumerate().skip(probation) {
            if score < threshold || s.windows().iter().any(|w| w.contains(i)) {
                continue;
            }
            let prev = s.windows().iter().rev().find(|w| w.last_row < i);
            total += c.fp_weight
                * match prev {
                    Some(w) => scaled_sigmoid((i - w.last_row) as f64 / (w.width() - 1) as f64),
                    None => -1.0,
                };
        }
    }
    total
}

#[test]
fn sweep_curve_matches_brute_force_on_random_series() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut all_series = Vec::new();
    let mut all_scores = Vec::new();
    for k in 0..6 {
        let n = 40 + 30 * k;
        let mut windows = Vec::new();
        let mut row = 5 + k;
        while row + 12 < n {
            let width = 2 + (next() * 8.0) as usize;
            windows.push((row, row + width - 1));
            row += width + 3 + (next() * 20.0) as usize;
        }
        all_series.push(series(n, &windows));
        // Coarse scores so that many rows share a threshold.
        all_scores.push(
            (0..n)
                .map(|_| (next() * 20.0).floor() / 20.0)
                .collect::<Vec<f64>>(),
        );
    }
    let sweep = Sweep::new(&all_series, &all_scores, &ScoringOptions::default()).unwrap();
    for profile in Profile::nab_profiles() {
        let curve = sweep.curve(&profile);
        assert_eq!(curve.rows()[0].threshold, NO_DETECTION_THRESHOLD);
        for row in curve.rows() {
            let expected = brute_force(&all_series, &all_scores, &profile, row.threshold);
            assert!(
                (row.score - expected).abs() < 1e-9,
                "{} at {}: {} vs {expected}",
                profile.name,
                row.threshold,
                row.score
            );
        }
        let best = curve.best();
        assert!(curve.rows().iter().all(|r| r.score <= best.score));
    }
}

#[test]
fn optimisation_picks_the_highest_threshold_among_ties() {
    // One window; scores 0.9 at its start, 0.8 on a probationary row only.
    let s = series(100, &[(50, 59)]);
    let mut scores = vec![0.1; 100];
    scores[50] = 0.9;
    scores[3] = 0.8;
    let result = score_corpus(&[s], &[scores], &Profile::standard()).unwrap();
    assert_eq!(result.threshold, 0.9);
    assert_eq!(result.raw_score, 1.0);
    assert_eq!(result.normalised, Some(100.0));
}

#[test]
fn never_firing_is_threshold_1_1_and_normalises_to_zero() {
    let s = series(100, &[(50, 59)]);
    // Firing everywhere is worse than never firing.
    let result = score_corpus(&[s], &[vec![0.5; 100]], &Profile::standard()).unwrap();
    assert_eq!(result.threshold, NO_DETECTION_THRESHOLD);
    assert_eq!(result.raw_score, -1.0);
    assert_eq!(result.normalised, Some(0.0));
    assert_eq!(
        result.counts.true_positives + result.counts.false_positives,
        0
    );
}

#[test]
fn profiles_weigh_outcomes_differently() {
    // A missed window, a detected window and two false positives.
    let s = series(200, &[(40, 49), (100, 109)]);
    let rows = [100, 150, 190];
    let std = raw(&s, &rows, &Profile::standard()).score;
    let low_fp = raw(&s, &rows, &Profile::reward_low_fp_rate()).score;
    let low_fn = raw(&s, &rows, &Profile::reward_low_fn_rate()).score;
    assert!(low_fp < std, "FPs cost twice as much");
    assert!(
        (low_fn - (std - 1.0)).abs() < EPS,
        "the FN costs 2 instead of 1"
    );
    assert_eq!(
        Profile::from_name("reward_low_FN_rate"),
        Some(Profile::reward_low_fn_rate())
    );
    assert_eq!(Profile::from_name("nope"), None);
}

#[test]
fn scoring_at_a_threshold_uses_greater_or_equal() {
    let s = series(100, &[(50, 59)]);
    let mut scores = vec![0.0; 100];
    scores[55] = 0.7;
    let at = |t| {
        score_corpus_at_threshold(
            std::slice::from_ref(&s),
            std::slice::from_ref(&scores),
            &Profile::standard(),
            t,
        )
        .unwrap()
    };
    assert_eq!(at(0.7).detected_windows, 1);
    assert_eq!(at(0.7).threshold, 0.7);
    assert_eq!(at(0.65).raw_score, at(0.7).raw_score);
    assert_eq!(at(0.700_000_1).detected_windows, 0);
    assert_eq!(at(5.0).raw_score, -1.0);
}

#[test]
fn twiddle_finds_a_local_optimum() {
    let s = series(100, &[(50, 59)]);
    let mut scores = vec![0.0; 100];
    scores[50] = 0.55;
    let sweep = Sweep::new(&[s], &[scores], &ScoringOptions::default()).unwrap();
    let curve = sweep.curve(&Profile::standard());
    let found = curve.twiddle();
    assert_eq!(found.score, 1.0);
    assert!(found.threshold > 0.0 && found.threshold <= 0.55);
    assert_eq!(curve.optimise(ThresholdSearch::Sweep).threshold, 0.55);
}

#[test]
fn mismatched_scores_are_rejected() {
    let s = series(10, &[]);
    let opts = ScoringOptions::default();
    assert!(Sweep::new(std::slice::from_ref(&s), &[vec![0.0; 9]], &opts).is_err());
    assert!(Sweep::new(std::slice::from_ref(&s), &Vec::<Vec<f64>>::new(), &opts).is_err());
    let mut nan = vec![0.0; 10];
    nan[3] = f64::NAN;
    assert!(Sweep::new(&[s], &[nan], &opts).is_err());
    assert_eq!(normalise(1.0, -1.0, -1.0), None);
}
