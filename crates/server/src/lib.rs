//! The Dalston server: configuration, the HTTP gateway (axum), and the [`Application`] that wires
//! the stores, the queue, the orchestrator and the engines together, all in one process for
//! `dalston serve` or one [`app::Role`] per process in the distributed mode.
//!
//! Handlers are thin: they authenticate (see [`auth`]), validate, and call the store, the
//! orchestrator or the blob store. Everything long-running happens in engines, off the request.

pub mod app;
pub mod audio_url;
pub mod auth;
pub mod backends;
pub mod config;
pub mod error;
pub mod openapi;
pub mod realtime;
pub mod registry;
pub mod routes;
pub mod state;
pub mod targets;
pub mod telemetry;
pub mod upload;
pub mod webhooks;

pub use app::{Application, Role};
pub use config::Config;
