//! The `vigie` command: `serve` runs the service, `admin` provisions it, `eval` and
//! `detect` run the anomaly detector without a server.

mod admin;
pub mod cli;
mod client_commands;
mod evaluate;
mod serve;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    init_logging();
    let database_url = vigie_store::DatabaseUrl::new(cli.database_url);
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args, &database_url).await,
        Command::Admin(args) => admin::admin(args, &database_url).await,
        Command::Eval(args) => match (args.corpus, args.data, args.labels) {
            (Some(cli::EvalCorpus::Nab { dir }), _, _) => evaluate::eval_nab(&dir, args.json),
            (Some(cli::EvalCorpus::Tep { dir, alternatives }), _, _) => {
                evaluate::eval_tep(&dir, alternatives, args.json)
            }
            (None, Some(data), Some(labels)) => {
                evaluate::eval_custom(&data, &labels, args.threshold, args.json)
            }
            _ => Err(anyhow::anyhow!(
                "say what to evaluate: `vigie eval nab DIR` or `vigie eval --data FILE --labels FILE`"
            )),
        },
        Command::Detect { file, threshold } => evaluate::detect_file(&file, threshold),
        Command::Token(args) => client_commands::token(args).await,
        Command::Anomalies(args) => client_commands::anomalies(args).await,
        Command::Push(args) => match client_commands::push(args).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: text by default, JSON with `VIGIE_LOG_FORMAT=json`; the level
/// comes from `VIGIE_LOG` (default `info`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("VIGIE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json =
        std::env::var("VIGIE_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let _already_set = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
