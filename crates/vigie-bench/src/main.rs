//! `vigie-bench`: the measuring tools behind `bench/token`.
//!
//! - `baseline-server`: the HTTP ceiling, a trivial axum server answering the token
//!   request with a constant body;
//! - `load`: a keep-alive HTTP/1.1 load generator for the token request;
//! - `auth-timing`: timing of failed client authentication, unknown id vs wrong secret;
//! - `jwt-algs`: sign and verify rates of RS256, ES256 and EdDSA with `jsonwebtoken`.
//!
//! Every subcommand prints its result on stdout (JSON lines, or a table for `jwt-algs`).

mod auth_timing;
mod baseline;
mod client;
mod jwt_algs;
mod load;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// Benchmarks of Vigie's token endpoint.
#[derive(Debug, Parser)]
#[command(name = "vigie-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The measurements.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a constant token response at `POST /v0/oauth2token`: the HTTP ceiling.
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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::BaselineServer { listen } => baseline::serve(listen),
        Command::Load(args) => load::run(&args),
        Command::AuthTiming(args) => auth_timing::run(&args),
        Command::JwtAlgs { iterations } => jwt_algs::run(iterations),
    }
}
