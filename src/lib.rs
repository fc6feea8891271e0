//! llmkp: a self-hosted LLM gateway. One engine behind an HTTP server and a set of subcommands:
//! requests in any supported API family are routed to `provider/model` upstreams over many keys.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod engine;
pub mod formats;
pub mod pool;
pub mod providers;
pub mod server;
pub mod store;
pub mod tokens;
