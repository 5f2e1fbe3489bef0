//! The `vigie` binary: parse arguments, run.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vigie::run(vigie::cli::Cli::parse()).await
}
