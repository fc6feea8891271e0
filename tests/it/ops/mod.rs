//! Operations: `/metrics`, `/readyz`, hot reload and request logging, through a real
//! `llmkp serve` process.

mod metrics;
mod readyz;
mod reload;
mod request_logging;
