//! llmkp: a self-hosted LLM gateway. One engine behind an HTTP server and a set of subcommands:
//! requests in any supported API family are routed to `provider/model` upstreams over many keys.
//!
//! # The request path
//!
//! ```text
//! client bytes ─► route (server/routes) ─► family parser ─► ClientRequest ─► Engine::respond
//!                                                                               │
//!   ┌───────────────────────────────────────────────────────────────────────────┘
//!   ▼
//! resolve provider/model (aliases, filters, fallback groups) ─► for each target:
//!   outbound body ─► pool lease ─► protocol.generate (HTTP) ─► classify ─► retry / rotate / fall back
//!                                        │
//!   answer ◄─ family encoder ◄─ canonical ◄─ protocol decoder ◄──┘   (passthrough: family relay)
//! ```
//!
//! - **The server** ([`server`]) serves one [`server::AppState`] (engine, proxy keys, settings)
//!   at a time; `serve` swaps in a new one when the configuration changes ([`server::live`],
//!   `cli::reload`): each request keeps the state it arrived under until it ends. Its outermost
//!   layer gives the request its id and log line and records the request metrics
//!   ([`telemetry`]: every layer records through it; `GET /metrics` renders it).
//! - **Routes** ([`server::routes`]) are thin: a route reads the body, asks its family to parse
//!   it (`ChatFamily::parse_bytes`, `MessagesFamily::parse_bytes`, `GeminiFamily::parse`,
//!   `ResponsesFamily::parse`), builds
//!   one immutable [`engine::ClientRequest`] and hands it to [`server::routes`]'s `serve_turn`,
//!   which computes the session key from the request's canonical opening, calls the engine and
//!   writes the answer (a complete body or the family's stream) or the error in the family's
//!   shape.
//! - **Client families** ([`formats::family::ClientFamily`], one per folder under [`formats`]:
//!   `openai`, `anthropic`, `gemini`, `responses`) decode client bodies into the canonical model
//!   ([`formats::ir`]), name what translation cannot carry, relay a same-protocol stream as it
//!   is, encode canonical answers complete and streamed, and say how their errors and streams
//!   look. Each folder keeps the directions apart: client decode, client encode, upstream encode,
//!   upstream decode, passthrough. What a family must remember from the request to answer in
//!   its clients' shapes lives in the family value (the Responses family's freeform and
//!   namespaced tool names).
//! - **Upstream protocols** ([`providers::protocol::UpstreamProtocol`]: OpenAI Chat, Anthropic
//!   Messages, Gemini, Code Assist, OpenAI Responses) encode the canonical request, edit a same-protocol body for
//!   passthrough, build the HTTP call, decode streams and bodies, find errors in them, classify
//!   failures, choose how non-stream clients are served (fold policy), list models, embed and
//!   count tokens where they can.
//! - **Provider profiles** ([`providers::profile::ProviderProfile`]) hold every quirk of one
//!   provider as a hook (Qwen Code's placeholder tool, `<think>` tags and account host; iFlow's
//!   request signing; OpenAI's own API's newer fields). A [`providers::Provider`] holds its
//!   protocol adapter and its profile; the engine calls them and never asks which provider,
//!   protocol or family it serves.
//! - **The engine** ([`engine`]) owns the only retry loop (`engine::attempt`), driven through the
//!   [`engine::exchange::Exchange`] trait: a conversation of any family
//!   ([`engine::exchange::Conversation`]) or an embeddings request. Same protocol on both sides
//!   is passthrough; anything else crosses the canonical model. Streams are committed at the
//!   first output a client can use ([`engine::client_stream`]); non-stream clients are served
//!   from an upstream stream folded by the canonical [`formats::collect::Collector`] (a Chat
//!   passthrough keeps every choice and field through its family's passthrough fold).
//! - **The pool** ([`pool`]) picks the credential (priorities, rotation, stickiness, leases,
//!   cooldowns, fair cycle) and records outcomes and canonical usage; **the store** ([`store`])
//!   keeps what outlives a request (credential state, usage, stored Responses answers).
//!
//! Layers point down only: [`formats`] (pure wire types and translators, the lowest), [`store`],
//! [`auth`], [`pool`] and [`providers`] never import from [`engine`], [`server`] or [`cli`];
//! routes reach upstreams only through the engine.
//!
//! # Adding a client family
//!
//! 1. A folder `formats/<family>/` with the family's wire types, a client decoder (body →
//!    [`formats::ir::Request`]), a client encoder (canonical answer and
//!    [`formats::relay::ClientEncoder`] for streams), and a type implementing
//!    [`formats::family::ClientFamily`] with a `parse` that returns the family value and its
//!    [`formats::family::Head`]. If an upstream protocol speaks the family natively, return it
//!    from `protocol()` and add a passthrough [`formats::relay::Relay`] (it also reports the
//!    usage and the output characters it read, which charge a stream its client abandons).
//! 2. One route in `server/routes/` that parses the body with the family and calls
//!    `serve_turn`, and its line in [`server::app`].
//!
//! `tests/it/toy_family.rs` is such a family, written in one test module.
//!
//! # Adding an upstream protocol
//!
//! 1. A module in `providers/` with a type implementing
//!    [`providers::protocol::UpstreamProtocol`] (its encoders and decoders live under
//!    `formats/`), and a variant of [`formats::protocol::Protocol`] naming it (what
//!    `<NAME>_API_FORMAT` selects).
//! 2. Its line in [`providers::protocol::adapter_for`].
//!
//! # Adding a provider
//!
//! - **API keys, existing protocol**: one entry in the built-in table (`providers/builtin.rs`:
//!   name, protocol, base URL, how its models are listed); keys then come from
//!   `<NAME>_API_KEY*`. A quirk is a [`providers::profile::ProviderProfile`] in its own module,
//!   mapped from the name in [`providers::profile::profile_for`].
//! - **OAuth logins**: the login flow and token endpoints in `auth/oauth/` (an
//!   [`auth::oauth::OAuthProvider`] variant with its flow, refresh and file format), plus the
//!   built-in entry and, when its API has quirks, a profile as above.

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
pub mod telemetry;
pub mod tokens;
