//! The Tennessee Eastman process (TEP) benchmark of fault detection, to measure the
//! [asset health model](crate::asset) on a plant: 52 sensors of a simulated chemical
//! process, 500 rows of normal history, then test runs with 21 kinds of faults (the
//! data and its protocol are described in `shared/data/tep/README.md`).
//!
//! Modules: [`data`] reads the files (the only I/O), [`protocol`] scores a detector's
//! scores by the README's rules, [`pca`] is the README's reference detector, and
//! [`alternatives`] the other methods the asset model was chosen against.
//! [`evaluate_asset_model`] and [`evaluate_pca_reference`] put them together
//! (`vigie eval tep DIR`).

use std::path::PathBuf;

use crate::asset::{AssetConfig, AssetModel};

pub mod alternatives;
pub mod data;
pub mod pca;
pub mod protocol;

use data::{Rows, TepData};
use protocol::{TepResult, TepScores};

/// Sensors of the process: XMEAS(1…41) then XMV(1…11).
pub const SENSORS: usize = 52;

/// Why the TEP files could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TepError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not as the benchmark distributes it.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Scores every test file with a fresh detector given the normal history first
/// (protocol step 1): `score_file(history, test)` returns one score per test row.
pub fn scores_with(
    data: &TepData,
    mut score_file: impl FnMut(&Rows, &Rows) -> Vec<f64>,
) -> TepScores {
    TepScores {
        normal: score_file(&data.training, &data.normal),
        faults: data
            .faults
            .iter()
            .map(|file| score_file(&data.training, file))
            .collect(),
    }
}

/// The asset model's health on every row of `test`, after learning from `history`
/// row by row, as the service would.
pub fn asset_model_scores(config: &AssetConfig, history: &Rows, test: &Rows) -> Vec<f64> {
    let mut model = AssetModel::new(config, history.first().map_or(0, Vec::len));
    let mut row = Vec::new();
    let mut feed = |values: &Vec<f64>, model: &mut AssetModel| {
        row.clear();
        row.extend(values.iter().map(|&v| Some(v)));
        model.score(config, &row).health
    };
    for values in history {
        feed(values, &mut model);
    }
    test.iter().map(|values| feed(values, &mut model)).collect()
}

/// The asset model under the protocol.
pub fn evaluate_asset_model(data: &TepData, config: &AssetConfig) -> TepResult {
    let scores = scores_with(data, |history, test| {
        asset_model_scores(config, history, test)
    });
    protocol::evaluate("asset model", &scores)
}

/// The README's PCA reference under the protocol.
pub fn evaluate_pca_reference(data: &TepData) -> TepResult {
    let pca = pca::PcaReference::fit(&data.training, pca::COMPONENTS);
    let scores = scores_with(data, |_, test| {
        test.iter().map(|row| pca.score(row)).collect()
    });
    protocol::evaluate("PCA reference (9 components, max(T², Q))", &scores)
}
