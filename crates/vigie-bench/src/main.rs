//! `vigie-bench`: the measuring tools behind `bench/token` and `bench/ingest`.
//!
//! - `baseline-server`: the HTTP ceiling, a trivial axum server answering the token
//!   and data requests with constant bodies;
//! - `load`: a keep-alive HTTP/1.1 load generator for the token request;
//! - `auth-timing`: timing of failed client authentication, unknown id vs wrong secret;
//! - `jwt-algs`: sign and verify rates of RS256, ES256 and EdDSA with `jsonwebtoken`;
//! - `ingest-load`: a load generator for the data endpoint, new keys in every request;
//! - `store-ceiling`: the raw ingestion rate of a store, in-process, no HTTP;
//! - `parse-ceiling`: the rate of the server's body parser on one core.
//!
//! Every subcommand prints its result on stdout (JSON lines, or a table for `jwt-algs`).

mod auth_timing;
mod baseline;
mod client;
mod ingest_load;
mod jwt_algs;
mod load;
mod parse_ceiling;
mod store_ceiling;
mod workload;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// Benchmarks of Vigie's token and ingestion endpoints.
#[derive(Debug, Parser)]
#[command(name = "vigie-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The measurements.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve constant answers at `POST /v0/oauth2token` and at the data endpoint: the HTTP ceiling.
    BaselineServer {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8181")]
        listen: SocketAddr,
    },
    /// Send `client_credentials` token requests on keep-alive connections; print one JSON line.
    Load(load::LoadArgs),
    /// Time failed client authentication: unknown id vs known id with a wrong secret.
    AuthTiming(auth_timing::AuthTimingArgs),
    /// Sign and verify rates of RS256, ES256 and EdDSA access tokens.
    JwtAlgs {
        /// Signatures and verifications per algorithm.
        #[arg(long, default_value_t = 1000)]
        iterations: u32,
    },
    /// Push readings, new keys in every request, from concurrent clients; print one JSON line.
    IngestLoad(ingest_load::IngestLoadArgs),
    /// Write the same readings straight into a store in large transactions; print one JSON line.
    StoreCeiling(store_ceiling::StoreCeilingArgs),
    /// Parse the same bodies with the server's parser on one core; print one JSON line.
    ParseCeiling(parse_ceiling::ParseCeilingArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::BaselineServer { listen } => baseline::serve(listen),
        Command::Load(args) => load::run(&args),
        Command::AuthTiming(args) => auth_timing::run(&args),
        Command::JwtAlgs { iterations } => jwt_algs::run(iterations),
        Command::IngestLoad(args) => ingest_load::run(&args),
        Command::StoreCeiling(args) => store_ceiling::run(&args),
        Command::ParseCeiling(args) => parse_ceiling::run(&args),
    }
}
