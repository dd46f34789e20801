//! Opening a session, the same for every protocol: the upgrade, then the checks whose failure
//! the client must be told in its protocol's words (bad parameters, no capacity, unknown
//! model) before the socket closes.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use dalston_core::{KeyId, SessionId};
use dalston_realtime::{AudioInput, PcmEncoding};

use super::socket::{self, ErrorKind, Protocol, SessionSetup};
use crate::auth::Principal;
use crate::realtime::{ModelRefusal, Refusal, SessionChoice, SessionRecording};
use crate::state::AppState;

/// A session request, read from the protocol's query parameters.
#[derive(Debug)]
pub struct OpenRequest {
    pub model: Option<String>,
    pub encoding: PcmEncoding,
    pub sample_rate_hz: u32,
    pub choice: SessionChoice,
    /// Record the audio and run a batch job on it when the session ends (hybrid mode).
    pub enhance_on_end: bool,
}

/// Upgrades the connection and runs the session, or refuses it with a typed error.
pub fn open<P: Protocol>(
    state: Arc<AppState>,
    principal: Principal,
    upgrade: WebSocketUpgrade,
    protocol: P,
    request: Result<OpenRequest, String>,
) -> Response {
    let max_bytes = state.realtime.config.max_message_bytes;
    upgrade
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .on_upgrade(move |socket| async move {
            match prepare(&state, &principal, request).await {
                Ok(setup) => socket::run(state, socket, protocol, setup).await,
                Err((kind, message)) => socket::refuse(socket, &protocol, kind, &message).await,
            }
        })
}

async fn prepare(
    state: &Arc<AppState>,
    principal: &Principal,
    request: Result<OpenRequest, String>,
) -> Result<SessionSetup, (ErrorKind, String)> {
    let request = request.map_err(|message| (ErrorKind::InvalidParameters, message))?;
    let input = AudioInput::new(request.encoding, request.sample_rate_hz)
        .map_err(|error| (ErrorKind::InvalidParameters, error.to_string()))?;
    let permit = state
        .realtime
        .capacity
        .reserve(principal.key_id.as_ref().map(KeyId::as_str))
        .map_err(|refusal| {
            let kind = match refusal {
                Refusal::ServerFull(_) => ErrorKind::NoCapacity,
                Refusal::KeyLimit(_) => ErrorKind::KeyLimit,
            };
            (kind, refusal.to_string())
        })?;
    let model = state.realtime.resolve_model(request.model.as_deref());
    let realtime = Arc::clone(&state.realtime);
    let model_id = model.clone();
    let models = tokio::task::spawn_blocking(move || realtime.models(&model_id))
        .await
        .map_err(|error| (ErrorKind::Internal, error.to_string()))?
        .map_err(|refusal| match refusal {
            ModelRefusal::UnknownModel(message) => (ErrorKind::InvalidParameters, message),
            ModelRefusal::Unavailable(message) => (ErrorKind::Internal, message),
        })?;
    if let Some(language) = &request.choice.language
        && !models
            .whisper
            .info()
            .languages
            .iter()
            .any(|known| known == language)
    {
        return Err((
            ErrorKind::InvalidParameters,
            format!("model {model} does not support language {language:?}"),
        ));
    }
    let recording = if request.enhance_on_end {
        let recording = SessionRecording::create(state).await.map_err(|error| {
            tracing::error!(error = %error, "could not start the session's recording");
            (
                ErrorKind::Internal,
                "could not start recording the session for enhance_on_end".to_owned(),
            )
        })?;
        Some(recording)
    } else {
        None
    };
    Ok(SessionSetup {
        session_id: SessionId::generate().as_str().to_owned(),
        owner: principal.key_id.clone(),
        model,
        models,
        config: state.realtime.session_config(request.choice),
        input,
        permit,
        recording,
    })
}
