//! HTTP tests of the real server on a free port, on SQLite and PostgreSQL.

mod helpers;

mod annotations;
mod anomalies;
mod applications;
mod bearer;
mod browser;
mod connectors;
mod console;
mod data;
mod discovery_and_operations;
mod docs_curl;
mod events;
mod hardening;
mod health;
mod isolation;
mod node_red;
mod openapi;
mod third_party_clients;
mod token_endpoint;
mod token_lifecycle;
mod viewer;
