//! The Responses protocol spoken to a Responses upstream (see `providers::responses`).
