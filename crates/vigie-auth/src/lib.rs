//! The token server's domain, free of HTTP: client authentication, the
//! `client_credentials` and `refresh_token` grants, JWT access tokens and their
//! verification, revocation (RFC 7009), introspection (RFC 7662), signing-key
//! management and operator provisioning; and the sealing of secrets the server must
//! read back (`sealed`: webhook and data-bridge secrets, not wired in yet).

pub mod basic;
pub mod clock;
pub mod jwt;
pub mod lifetime;
pub mod limits;
pub mod people;
pub mod provision;
pub mod sealed;
pub mod secret;
mod service;

pub use service::{
    AuthConfig, AuthService, AuthenticatedClient, CLIENT_AUTH_FAILED, ClientCredentials, Error,
    Result,
};
