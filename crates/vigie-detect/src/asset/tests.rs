//! The model's guarantees on small synthetic assets: checkpoints restore bit for bit,
//! a lasting change stays abnormal until a new normal is asked for (or accepted after
//! the configured rows), missing sensors are imputed and contribute nothing, a glitch
//! does not hold the asset abnormal, a broken relation is found within every range.

use super::*;

use crate::synthetic::Gaussian;

/// Four sensors driven by one latent level (independent from row to row), each with
/// its own offset, gain and noise: strongly correlated, as sensors of one machine.
struct Asset {
    noise: Gaussian,
}

impl Asset {
    const SENSORS: usize = 4;

    fn new(seed: u64) -> Self {
        Self {
            noise: Gaussian(seed),
        }
    }

    /// The next row, with `shift` added to each sensor.
    fn row(&mut self, shift: [f64; 4]) -> Vec<Option<f64>> {
        let level = self.noise.next();
        let base = [
            10.0 + 2.0 * level,
            50.0 - 5.0 * level,
            3.0 + 0.5 * level,
            100.0,
        ];
        let noise = [0.2, 0.5, 0.05, 1.0];
        (0..Self::SENSORS)
            .map(|i| Some(base[i] + noise[i] * self.noise.next() + shift[i]))
            .collect()
    }
}

const NONE: [f64; 4] = [0.0; 4];

/// The sensor with the largest share.
fn top(score: &AssetScore) -> usize {
    (0..score.contributions.len())
        .max_by(|&a, &b| score.contributions[a].total_cmp(&score.contributions[b]))
        .unwrap()
}

fn learnt(config: &AssetConfig, asset: &mut Asset) -> AssetModel {
    let mut model = AssetModel::new(config, Asset::SENSORS);
    for _ in 0..config.learning_rows {
        assert!(model.score(config, &asset.row(NONE)).learning);
    }
    assert!(!model.is_learning());
    model
}

#[test]
fn a_checkpoint_restores_bit_for_bit_at_any_point() {
    let config = AssetConfig::default();
    // During the fitting rows, the calibration rows, just after learning, in normal
    // operation and in the middle of a fault.
    for checkpoint in [100, 400, 500, 700, 950] {
        let mut asset = Asset::new(7);
        let rows: Vec<Vec<Option<f64>>> = (0..1_200)
            .map(|t| {
                let shift = if (900..1_100).contains(&t) {
                    [1.5, 0.0, 0.0, 0.0]
                } else {
                    NONE
                };
                let mut row = asset.row(shift);
                if t % 37 == 0 {
                    row[2] = None;
                }
                row
            })
            .collect();
        let mut steady = AssetModel::new(&config, Asset::SENSORS);
        let mut restored = AssetModel::new(&config, Asset::SENSORS);
        for row in &rows[..checkpoint] {
            steady.score(&config, row);
            restored.score(&config, row);
        }
        let saved = serde_json::to_string(&restored).unwrap();
        let mut restored: AssetModel = serde_json::from_str::<AssetModel>(&saved)
            .unwrap()
            .restore(&config)
            .unwrap();
        assert_eq!(restored, steady);
        for (t, row) in rows.iter().enumerate().skip(checkpoint) {
            let (a, b) = (steady.score(&config, row), restored.score(&config, row));
            assert_eq!(a.health.to_bits(), b.health.to_bits(), "row {t}");
            assert_eq!(a, b, "row {t}");
        }
        assert_eq!(restored, steady);
        assert_eq!(restored.explain(), steady.explain());
    }
}

#[test]
fn a_state_is_only_restored_with_its_configuration() {
    let config = AssetConfig::default();
    let model = AssetModel::new(&config, 3);
    let other = AssetConfig {
        smoothing: 0.2,
        ..AssetConfig::default()
    };
    assert_eq!(
        model.clone().restore(&other),
        Err(AssetRestoreError::OtherConfig)
    );
    assert!(model.restore(&config).is_ok());
}

#[test]
fn a_lasting_change_stays_abnormal_until_a_new_normal_is_asked_for() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(11);
    let mut model = learnt(&config, &mut asset);
    for _ in 0..500 {
        assert!(model.score(&config, &asset.row(NONE)).health < ASSET_THRESHOLD);
    }
    // The second sensor moves for good by six of its noise's deviations (about half
    // its spread): it stays abnormal over thousands of rows, and is named.
    let moved = [0.0, 3.0, 0.0, 0.0];
    for t in 0..5_000 {
        let score = model.score(&config, &asset.row(moved));
        if t >= 60 {
            assert!(score.health >= ASSET_THRESHOLD, "row {t}: {score:?}");
            assert_eq!(top(&score), 1, "row {t}: {score:?}");
        }
    }
    // "This is the new normal": learnt again, then normal.
    model.relearn();
    assert!(model.is_learning());
    for _ in 0..config.learning_rows {
        let score = model.score(&config, &asset.row(moved));
        assert!(score.learning && score.health == 0.0);
    }
    for t in 0..2_000 {
        let score = model.score(&config, &asset.row(moved));
        assert!(score.health < ASSET_THRESHOLD, "row {t}: {score:?}");
    }
}

#[test]
fn an_abnormal_state_is_accepted_only_after_the_configured_rows() {
    let config = AssetConfig {
        accept_after_rows: 300,
        ..AssetConfig::default()
    };
    let mut asset = Asset::new(12);
    let mut model = learnt(&config, &mut asset);
    let moved = [0.0, 0.0, 0.3, 0.0];
    let mut abnormal = 0;
    let mut t = 0;
    while !model.is_learning() {
        let score = model.score(&config, &asset.row(moved));
        abnormal += usize::from(score.health >= ASSET_THRESHOLD);
        t += 1;
        assert!(t < 1_000, "never accepted");
    }
    assert_eq!(abnormal, 300, "accepted after exactly the configured rows");
    for _ in 0..config.learning_rows {
        model.score(&config, &asset.row(moved));
    }
    for _ in 0..1_000 {
        assert!(model.score(&config, &asset.row(moved)).health < ASSET_THRESHOLD);
    }
}

#[test]
fn a_missing_sensor_is_imputed_and_contributes_nothing() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(13);
    let mut model = learnt(&config, &mut asset);
    // The first sensor is silent for a while in normal operation: no alarm, and its
    // share fades to nothing.
    let mut last = None;
    for t in 0..2_000 {
        let mut row = asset.row(NONE);
        let truth = row[0];
        if (500..1_500).contains(&t) {
            row[0] = None;
        }
        let score = model.score(&config, &row);
        assert!(score.health < ASSET_THRESHOLD, "row {t}: {score:?}");
        if t == 1_400 {
            assert!(score.contributions[0] < 1e-3, "{score:?}");
            // Its expected value is what the other sensors say: the level, within the
            // sensor's own noise and the others' (its spread alone is 2).
            let explanation = model.explain().unwrap();
            let expected = explanation.sensors[0].expected;
            assert!(explanation.sensors[0].observed.is_none());
            assert!(
                (expected - truth.unwrap()).abs() < 1.0,
                "{expected} vs {truth:?}"
            );
        }
        last = Some(score);
    }
    assert!(last.unwrap().contributions[0] > 0.0, "back once present");
    // A fault on another sensor is found while the first is silent, and named.
    let mut detected = None;
    for t in 0..200 {
        let mut row = asset.row([0.0, 4.0, 0.0, 0.0]);
        row[0] = None;
        let score = model.score(&config, &row);
        if score.health >= ASSET_THRESHOLD {
            detected.get_or_insert(t);
        }
        if t > 50 {
            // Its past contributions fade with the smoothing.
            assert!(score.contributions[0] < 0.01, "{score:?}");
            // With the first sensor silent, the level is known from the third alone:
            // the broken relation is between the second and the third, and which of
            // the two moved cannot be told, so both lead.
            let mut ranked: Vec<usize> = (0..4).collect();
            ranked.sort_by(|&a, &b| score.contributions[b].total_cmp(&score.contributions[a]));
            assert!(
                ranked[..2].contains(&1) && ranked[..2].contains(&2),
                "{score:?}"
            );
        }
    }
    assert!(detected.is_some_and(|t| t < 20), "{detected:?}");
}

#[test]
fn a_row_without_any_sensor_changes_nothing() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(14);
    let mut model = learnt(&config, &mut asset);
    for _ in 0..50 {
        model.score(&config, &asset.row(NONE));
    }
    let before = model.clone();
    let health = model.score(&config, &[None; 4]).health;
    let mut expected = before.clone();
    expected.rows += 1;
    expected.last_row = vec![None; 4];
    assert_eq!(model, expected);
    assert_eq!(health, before.health);
    // Non-finite values count as missing.
    let mut nan = model.clone();
    let with_nan = nan.score(&config, &[Some(f64::NAN), None, Some(f64::INFINITY), None]);
    assert_eq!(with_nan.health, health);
}

#[test]
fn missing_values_while_learning_are_tolerated() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(15);
    let mut model = AssetModel::new(&config, Asset::SENSORS);
    for t in 0..config.learning_rows {
        let mut row = asset.row(NONE);
        if t % 5 == 0 {
            row[1] = None;
        }
        model.score(&config, &row);
    }
    for t in 0..3_000 {
        let score = model.score(&config, &asset.row(NONE));
        assert!(score.health < ASSET_THRESHOLD, "row {t}: {score:?}");
    }
    let detected = (0..40).any(|_| {
        model
            .score(&config, &asset.row([0.0, 3.0, 0.0, 0.0]))
            .health
            >= ASSET_THRESHOLD
    });
    assert!(detected);
}

#[test]
fn one_wild_row_does_not_hold_the_asset_abnormal() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(16);
    let mut model = learnt(&config, &mut asset);
    for _ in 0..100 {
        model.score(&config, &asset.row(NONE));
    }
    // A glitch of a thousand deviations on one sensor.
    model.score(&config, &asset.row([2_000.0, 0.0, 0.0, 0.0]));
    let abnormal = (0..100)
        .filter(|_| model.score(&config, &asset.row(NONE)).health >= ASSET_THRESHOLD)
        .count();
    assert!(abnormal <= 3, "{abnormal} abnormal rows after one glitch");
    // The same deviation lasting a few rows is abnormal at once.
    let lasting: Vec<f64> = (0..3)
        .map(|_| {
            model
                .score(&config, &asset.row([2_000.0, 0.0, 0.0, 0.0]))
                .health
        })
        .collect();
    assert!(lasting[2] >= ASSET_THRESHOLD, "{lasting:?}");
}

#[test]
fn a_broken_relation_within_every_range_is_found_and_named() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(17);
    let mut model = learnt(&config, &mut asset);
    for _ in 0..100 {
        model.score(&config, &asset.row(NONE));
    }
    // The third sensor stops following the level: it reads its usual mean with its
    // usual spread, so every value stays in range.
    let mut noise = Gaussian(99);
    let mut first = None;
    for t in 0..300 {
        let mut row = asset.row(NONE);
        row[2] = Some(3.0 + 0.5 * noise.next());
        let score = model.score(&config, &row);
        if score.health >= ASSET_THRESHOLD {
            first.get_or_insert(t);
        }
        if t > 30 {
            assert!(score.health >= ASSET_THRESHOLD, "row {t}: {score:?}");
            assert_eq!(score.kind, Some(AssetAnomalyKind::BrokenRelation));
            assert_eq!(top(&score), 2, "row {t}: {score:?}");
        }
    }
    assert!(first.is_some_and(|t| t < 10), "{first:?}");
}

#[test]
fn a_sensor_constant_while_learnt_is_found_when_it_moves() {
    let config = AssetConfig::default();
    let mut asset = Asset::new(18);
    let mut model = AssetModel::new(&config, Asset::SENSORS);
    let constant = |row: Vec<Option<f64>>, value: f64| {
        let mut row = row;
        row[3] = Some(value);
        row
    };
    for _ in 0..config.learning_rows {
        model.score(&config, &constant(asset.row(NONE), 7.0));
    }
    for _ in 0..500 {
        let score = model.score(&config, &constant(asset.row(NONE), 7.0));
        assert!(score.health < ASSET_THRESHOLD, "{score:?}");
    }
    let score = (0..5)
        .map(|_| model.score(&config, &constant(asset.row(NONE), 7.5)))
        .last()
        .unwrap();
    assert!(
        score.health >= ASSET_THRESHOLD && score.contributions[3] > 0.9,
        "{score:?}"
    );
    assert_eq!(score.kind, Some(AssetAnomalyKind::OutOfRange));
}

#[test]
fn scores_are_well_formed_for_any_number_of_sensors() {
    let config = AssetConfig {
        learning_rows: 60,
        ..AssetConfig::default()
    };
    let mut noise = Gaussian(19);
    for sensors in [0, 1, 2, 9] {
        let mut model = AssetModel::new(&config, sensors);
        for t in 0..300 {
            let shift = if t > 200 { 10.0 } else { 0.0 };
            let row: Vec<Option<f64>> = (0..sensors).map(|_| Some(noise.next() + shift)).collect();
            let score = model.score(&config, &row);
            assert!((0.0..=1.0).contains(&score.health), "{score:?}");
            assert_eq!(score.contributions.len(), sensors);
            let total: f64 = score.contributions.iter().sum();
            assert!(total == 0.0 || (total - 1.0).abs() < 1e-9, "{score:?}");
            if sensors > 0 && t > 210 {
                assert!(
                    score.health >= ASSET_THRESHOLD,
                    "{sensors} sensors, row {t}"
                );
            }
        }
    }
}

#[test]
fn memory_grows_with_the_square_of_the_sensors() {
    let config = AssetConfig::default();
    let mut noise = Gaussian(20);
    let mut model = AssetModel::new(&config, 52);
    for _ in 0..600 {
        let row: Vec<Option<f64>> = (0..52).map(|_| Some(noise.next())).collect();
        model.score(&config, &row);
    }
    let bytes = model.memory_bytes();
    assert!((20_000..60_000).contains(&bytes), "{bytes} bytes");
}
