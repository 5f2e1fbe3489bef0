//! The other methods the asset model was chosen against, measured by the same
//! protocol (`vigie eval tep DIR --alternatives`). Each is either a configuration of the
//! asset model itself (the per-row Mahalanobis distance is the model without smoothing
//! nor its treatment of slow directions; dynamic models are the model fed lagged rows)
//! or a few lines of its own (MEWMA).

use crate::asset::{AssetConfig, inverse_spd};

use super::data::{Rows, TepData};
use super::protocol::{self, TepResult};
use super::{asset_model_scores, scores_with};

/// Every alternative's result, with the PCA reference and the asset model first.
pub fn evaluate_alternatives(data: &TepData) -> Vec<TepResult> {
    let default = AssetConfig::default();
    let variant =
        |name: &str, config: AssetConfig| named(super::evaluate_asset_model(data, &config), name);
    // The classical statistics are the model without its treatment of slow directions.
    let plain = AssetConfig {
        persistence_aware: false,
        ..default.clone()
    };
    let per_row = AssetConfig {
        smoothing: 1.0,
        ..plain.clone()
    };
    let mut results = vec![
        super::evaluate_pca_reference(data),
        variant("asset model (default)", default.clone()),
        variant("Mahalanobis T² per row (OAS-shrunk)", per_row.clone()),
    ];
    for lags in [1, 2] {
        results.push(protocol::evaluate(
            &format!("Mahalanobis T² per row on {lags} lag(s) (dynamic)"),
            &scores_with(data, |history, test| {
                lagged_scores(&per_row, lags, history, test)
            }),
        ));
    }
    for lambda in [0.1, 0.2] {
        results.push(protocol::evaluate(
            &format!("MEWMA, λ = {lambda}"),
            &scores_with(data, |history, test| mewma_scores(lambda, history, test)),
        ));
    }
    for smoothing in [0.05, 0.2, 0.3] {
        results.push(variant(
            &format!("asset model, smoothing {smoothing}"),
            AssetConfig {
                smoothing,
                ..default.clone()
            },
        ));
    }
    results.push(variant(
        "asset model without persistence awareness",
        plain.clone(),
    ));
    results.push(variant(
        "asset model adapting (memory 50,000 rows)",
        AssetConfig {
            adaptation_rows: 50_000,
            ..default.clone()
        },
    ));
    results.push(protocol::evaluate(
        "asset model without persistence awareness, on 1 lag (dynamic)",
        &scores_with(data, |history, test| {
            lagged_scores(&plain, 1, history, test)
        }),
    ));
    results
}

fn named(mut result: TepResult, name: &str) -> TepResult {
    name.clone_into(&mut result.method);
    result
}

/// The asset model fed rows extended with the `lags` previous rows (dynamic PCA's
/// idea, Ku, Storer & Georgakis 1995): relations across time become relations between
/// sensors. The first rows, without a past, miss their lagged values.
pub fn lagged_scores(config: &AssetConfig, lags: usize, history: &Rows, test: &Rows) -> Vec<f64> {
    let rows: Vec<&Vec<f64>> = history.iter().chain(test).collect();
    let extended = |t: usize| -> Vec<f64> {
        (0..=lags)
            .flat_map(|lag| match t.checked_sub(lag) {
                Some(past) => rows[past].clone(),
                // No past yet: NaN is a missing value to the model.
                None => vec![f64::NAN; rows[t].len()],
            })
            .collect()
    };
    let history_extended: Rows = (0..history.len()).map(extended).collect();
    let test_extended: Rows = (history.len()..rows.len()).map(extended).collect();
    asset_model_scores(config, &history_extended, &test_extended)
}

/// MEWMA (Lowry, Woodall, Champ & Rigdon 1992): `T²` of the exponentially weighted
/// mean of the standardised rows, against its asymptotic covariance
/// `λ / (2 − λ) Σ`, with the mean and covariance of the history.
pub fn mewma_scores(lambda: f64, history: &Rows, test: &Rows) -> Vec<f64> {
    let n = history.len() as f64;
    let p = history[0].len();
    let mean: Vec<f64> = (0..p)
        .map(|j| history.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let mut covariance = vec![0.0; p * p];
    for r in history {
        for i in 0..p {
            for j in 0..p {
                covariance[i * p + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / (n - 1.0);
            }
        }
    }
    let precision = inverse_spd(&covariance, p).unwrap_or_else(|| vec![0.0; p * p]);
    let mut z = vec![0.0; p];
    let mut statistic = |row: &Vec<f64>| {
        for i in 0..p {
            z[i] = (1.0 - lambda) * z[i] + lambda * (row[i] - mean[i]);
        }
        let quadratic: f64 = (0..p)
            .map(|i| z[i] * (0..p).map(|j| precision[i * p + j] * z[j]).sum::<f64>())
            .sum();
        quadratic * (2.0 - lambda) / lambda
    };
    for row in history {
        statistic(row);
    }
    test.iter().map(statistic).collect()
}
