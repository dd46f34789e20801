//! The route table: every route with the access it demands, in one list.
//!
//! The router, the OpenAPI document and the authorisation test are all built from [`routes`],
//! so a route cannot exist without a declared [`Access`].

mod console;
mod dashboard;
pub(crate) mod elevenlabs;
mod jobs;
mod keys;
pub mod openai;
mod realtime;
mod stream;
mod sync;
mod system;
mod views;
mod webhooks;

use std::sync::Arc;

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post};
use axum::{Router, middleware};

use crate::auth::{self, Access, Scope};
use crate::state::AppState;

/// One route as documented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// axum path syntax: `/v1/audio/transcriptions/{job_id}`.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

/// Collects routes and their specs together.
struct RouteTable {
    router: Router<Arc<AppState>>,
    specs: Vec<RouteSpec>,
}

impl RouteTable {
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: MethodRouter<Arc<AppState>>,
    ) -> Self {
        let handler = match access {
            Access::Public => handler,
            access => handler.route_layer(middleware::from_fn(move |request, next| {
                auth::require(access, request, next)
            })),
        };
        self.router = self.router.route(path, handler);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
            summary,
        });
        self
    }
}

use Access::{Authenticated, Public};
const READ: Access = Access::Scope(Scope::JobsRead);
const WRITE: Access = Access::Scope(Scope::JobsWrite);
const ADMIN: Access = Access::Scope(Scope::Admin);
const WEBHOOKS: Access = Access::Scope(Scope::Webhooks);
const REALTIME: Access = Access::Scope(Scope::Realtime);

fn table() -> RouteTable {
    let jobs = "/v1/audio/transcriptions";
    let job = "/v1/audio/transcriptions/{job_id}";
    RouteTable {
        router: Router::new(),
        specs: Vec::new(),
    }
    .add(
        Method::GET,
        "/health",
        Public,
        "Process is up",
        get(system::health),
    )
    .add(
        Method::GET,
        "/ready",
        Public,
        "Database, storage, queue and engines are usable",
        get(system::ready),
    )
    .add(
        Method::GET,
        "/openapi.json",
        Authenticated,
        "This API's OpenAPI document",
        get(system::openapi),
    )
    .add(
        Method::GET,
        "/v1/status",
        READ,
        "Queue depth, jobs by status, engines",
        get(system::status),
    )
    .add(
        Method::GET,
        "/v1/audio/transcriptions/stream",
        REALTIME,
        "Live transcription over WebSocket (native protocol)",
        get(realtime::native::stream),
    )
    .add(
        Method::GET,
        "/v1/speech-to-text/realtime",
        REALTIME,
        "Live transcription over WebSocket (ElevenLabs protocol)",
        get(realtime::elevenlabs::realtime),
    )
    .add(
        Method::POST,
        "/v1/single-use-token/{token_type}",
        REALTIME,
        "A single-use token that opens one realtime session (ElevenLabs)",
        post(realtime::sessions::single_use_token),
    )
    .add(
        Method::GET,
        "/v1/realtime/status",
        REALTIME,
        "Realtime sessions running on this gateway and its capacity",
        get(realtime::sessions::status),
    )
    .add(
        Method::GET,
        "/v1/realtime/sessions",
        REALTIME,
        "Realtime session records, newest first",
        get(realtime::sessions::list),
    )
    .add(
        Method::GET,
        "/v1/realtime/sessions/{session_id}",
        REALTIME,
        "One realtime session record",
        get(realtime::sessions::get),
    )
    .add(
        Method::GET,
        "/v1/models",
        READ,
        "Installed models",
        get(system::models),
    )
    .add(
        Method::GET,
        "/v1/engines",
        READ,
        "Engines of this deployment",
        get(system::engines),
    )
    .add(
        Method::POST,
        jobs,
        WRITE,
        "Create a transcription job (multipart upload)",
        post(jobs::create),
    )
    .add(
        Method::GET,
        jobs,
        READ,
        "List jobs, newest first (cursor pagination)",
        get(jobs::list),
    )
    .add(
        Method::GET,
        job,
        READ,
        "Job status, progress, stages and transcript",
        get(jobs::get_one),
    )
    .add(
        Method::DELETE,
        job,
        WRITE,
        "Delete a finished job with its audio and artifacts",
        delete(jobs::delete_one),
    )
    .add(
        Method::POST,
        "/v1/audio/transcriptions/{job_id}/cancel",
        WRITE,
        "Cancel a job",
        post(jobs::cancel),
    )
    .add(
        Method::GET,
        "/v1/audio/transcriptions/{job_id}/tasks",
        READ,
        "The job's task DAG",
        get(jobs::tasks),
    )
    .add(
        Method::GET,
        "/v1/audio/transcriptions/{job_id}/export/{format}",
        READ,
        "Export the transcript as srt, vtt, txt or json",
        get(jobs::export),
    )
    .add(
        Method::GET,
        "/v1/audio/transcriptions/{job_id}/audio",
        READ,
        "Download the original audio",
        get(jobs::audio),
    )
    .add(
        Method::DELETE,
        "/v1/audio/transcriptions/{job_id}/audio",
        WRITE,
        "Delete the original audio, keep the transcript",
        delete(jobs::delete_audio),
    )
    .add(
        Method::POST,
        "/v1/audio/translations",
        WRITE,
        "OpenAI-compatible translation to English (synchronous)",
        post(openai::translate),
    )
    .add(
        Method::POST,
        "/v1/speech-to-text",
        WRITE,
        "ElevenLabs-compatible transcription (synchronous)",
        post(elevenlabs::convert),
    )
    .add(
        Method::GET,
        "/v1/speech-to-text/transcripts/{transcription_id}",
        READ,
        "ElevenLabs-compatible transcript",
        get(elevenlabs::get_transcript),
    )
    .add(
        Method::DELETE,
        "/v1/speech-to-text/transcripts/{transcription_id}",
        WRITE,
        "ElevenLabs-compatible transcript deletion",
        delete(elevenlabs::delete_transcript),
    )
    .add(
        Method::POST,
        "/v1/webhooks",
        WEBHOOKS,
        "Register a webhook (its secret is shown)",
        post(webhooks::create),
    )
    .add(
        Method::GET,
        "/v1/webhooks",
        WEBHOOKS,
        "List webhooks",
        get(webhooks::list),
    )
    .add(
        Method::GET,
        "/v1/webhooks/{webhook_id}",
        WEBHOOKS,
        "One webhook",
        get(webhooks::get_one),
    )
    .add(
        Method::PATCH,
        "/v1/webhooks/{webhook_id}",
        WEBHOOKS,
        "Change a webhook's url, events, description or active flag",
        patch(webhooks::update),
    )
    .add(
        Method::DELETE,
        "/v1/webhooks/{webhook_id}",
        WEBHOOKS,
        "Delete a webhook and its delivery log",
        delete(webhooks::delete_one),
    )
    .add(
        Method::POST,
        "/v1/webhooks/{webhook_id}/rotate-secret",
        WEBHOOKS,
        "Replace a webhook's signing secret",
        post(webhooks::rotate_secret),
    )
    .add(
        Method::GET,
        "/v1/webhooks/{webhook_id}/deliveries",
        WEBHOOKS,
        "A webhook's recent deliveries",
        get(webhooks::deliveries),
    )
    .add(
        Method::POST,
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        WEBHOOKS,
        "Send a finished delivery again",
        post(webhooks::retry_delivery),
    )
    .add(
        Method::POST,
        "/auth/keys",
        ADMIN,
        "Create an API key (the secret is shown once)",
        post(keys::create),
    )
    .add(
        Method::GET,
        "/auth/keys",
        ADMIN,
        "List API keys",
        get(keys::list),
    )
    .add(
        Method::GET,
        "/auth/keys/{key_id}",
        ADMIN,
        "One API key",
        get(keys::get_one),
    )
    .add(
        Method::DELETE,
        "/auth/keys/{key_id}",
        ADMIN,
        "Revoke an API key",
        delete(keys::revoke),
    )
    .add(
        Method::GET,
        "/auth/me",
        Authenticated,
        "The calling key",
        get(keys::me),
    )
    .add(
        Method::GET,
        "/v1/console/dashboard",
        READ,
        "Queue per stage, jobs by status, error rate, workers with heartbeats",
        get(dashboard::dashboard),
    )
    .add(
        Method::GET,
        "/",
        Public,
        "Redirects to the web console",
        get(console::redirect),
    )
    .add(
        Method::GET,
        "/console",
        Public,
        "Redirects to the web console",
        get(console::redirect),
    )
    .add(
        Method::GET,
        console::CONSOLE_PATH,
        Public,
        "The web console (static files; its data needs a key)",
        get(console::index),
    )
    .add(
        Method::GET,
        "/console/{*path}",
        Public,
        "The web console's static files",
        get(console::file),
    )
}

/// Every route of the API.
pub fn routes() -> Vec<RouteSpec> {
    table().specs
}

/// The API router (state still to be supplied).
pub fn router() -> Router<Arc<AppState>> {
    table().router
}
