//! The one integration-test binary: a module per area, shared mock upstreams in `support/`.

mod anthropic_mock_selftest;
mod anthropic_upstream;
mod binary;
mod chat;
mod chat_cli;
mod docs;
mod gemini_front_door;
mod gemini_mock_selftest;
mod gemini_upstream;
mod http_surface;
mod keys_test;
mod messages;
mod mock_selftest;
mod models;
mod models_cli;
mod oauth;
mod oauth_mock_selftest;
mod persistence;
mod resilience;
mod rotation;
mod sdk;
mod snapshots;
mod stream_splits;
mod support;
mod tokens;
mod upstream_edge_cases;
