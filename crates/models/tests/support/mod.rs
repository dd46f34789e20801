//! Helpers shared by the integration tests (and the benchmark binary).

pub mod fixtures;
pub mod wav;
