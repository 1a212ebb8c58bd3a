//! Run configuration files (TOML). Every spec parameter is a key with the spec's default;
//! unknown keys are refused with their name.

pub mod momentum;
pub mod trend;
