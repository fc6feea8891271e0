//! Hostile clients and hostile upstreams (issue 12): one module per defect found by probing
//! `serve`, each test through the real server, plus the fault matrix, the secrets sweep and the
//! chaos soak.

mod crash;
mod cross_site;
mod drive;
mod fault_matrix;
mod ladder;
mod model_names;
mod properties;
mod request_bodies;
mod secrets;
mod seeds;
mod shutdown;
mod slowloris;
mod soak;
mod support;
mod upstream_errors;
mod upstream_reads;
mod usage;
