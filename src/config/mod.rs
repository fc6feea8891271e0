//! Configuration: the merged environment (process env and `.env` files), typed value reads, and
//! the resolved settings every command starts from.

pub mod aliases;
pub mod dotenv;
pub mod env;
pub mod env_names;
pub mod fallbacks;
pub mod settings;
pub mod values;

pub use env::{Env, EnvFiles, LoadWarning};
pub use settings::{CountTokensMode, EngineSettings, ServerSettings, Settings, TemperatureZero};
