//! The WebSocket side of a live session, shared by every protocol: reading client messages
//! into the session, writing its events back, persisting the session record, enforcing the
//! time limit, and closing with a reason the client can act on.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use dalston_core::KeyId;
use dalston_realtime::{
    AudioInput, EndReason, Event, Session, SessionConfig, SessionModels, SessionSummary,
    SessionUpdate,
};
use dalston_store::clock::now_ms;
use dalston_store::{RealtimeSessionEnd, RealtimeSessionRecord};

use crate::realtime::{EnhancementRequest, SessionPermit, SessionRecording};
use crate::state::AppState;

/// Close codes (4000–4999 are the application's).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const INVALID_PARAMETERS: u16 = 4400;
    pub const KEY_LIMIT: u16 = 4429;
    pub const NO_CAPACITY: u16 = 4503;
    pub const LAG_EXCEEDED: u16 = 4010;
    pub const TIME_LIMIT: u16 = 4408;
    pub const INTERNAL: u16 = 1011;
}

/// The typed errors every protocol can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameters,
    InvalidMessage,
    InvalidAudio,
    NoCapacity,
    KeyLimit,
    LagExceeded,
    TimeLimit,
    Internal,
}

impl ErrorKind {
    pub fn close_code(self) -> u16 {
        match self {
            Self::InvalidParameters | Self::InvalidMessage | Self::InvalidAudio => {
                close::INVALID_PARAMETERS
            }
            Self::NoCapacity => close::NO_CAPACITY,
            Self::KeyLimit => close::KEY_LIMIT,
            Self::LagExceeded => close::LAG_EXCEEDED,
            Self::TimeLimit => close::TIME_LIMIT,
            Self::Internal => close::INTERNAL,
        }
    }
}

/// What a client message asks the session to do.
#[derive(Debug, PartialEq)]
pub enum ClientAction {
    Audio(Vec<u8>),
    Commit,
    /// New settings for the audio that follows.
    Configure(SessionUpdate),
    /// Drop the utterance in progress.
    Clear,
    End,
}

/// A protocol: how client messages read and how events are written.
pub trait Protocol: Send + Sync + 'static {
    /// `native` or `elevenlabs`, for the session record.
    const NAME: &'static str;

    /// The actions in one client message; `Err` is reported as an `InvalidMessage` error and
    /// the session goes on.
    fn read(&mut self, message: Message) -> Result<Vec<ClientAction>, String>;

    /// The first message, once the session is open.
    fn begin(&self, session_id: &str) -> serde_json::Value;

    /// Messages for one session event (`Ended` gets [`Protocol::end`] instead).
    fn event(&mut self, event: &Event) -> Vec<serde_json::Value>;

    /// The last message of a session that ran, with the hybrid-mode batch job made from its
    /// audio (protocols without hybrid mode ignore it).
    fn end(
        &self,
        session_id: &str,
        summary: &SessionSummary,
        enhancement_job_id: Option<&str>,
    ) -> Option<serde_json::Value>;

    /// A typed error.
    fn error(&self, kind: ErrorKind, message: &str) -> serde_json::Value;
}

/// Everything a session needs once the socket is open.
pub struct SessionSetup {
    pub session_id: String,
    pub owner: Option<KeyId>,
    pub model: String,
    pub models: SessionModels,
    pub config: SessionConfig,
    pub input: AudioInput,
    pub permit: SessionPermit,
    /// The audio being recorded for `enhance_on_end`.
    pub recording: Option<SessionRecording>,
}

/// Refuses a session on an open socket: the typed error, then the close frame.
pub async fn refuse<P: Protocol>(
    mut socket: WebSocket,
    protocol: &P,
    kind: ErrorKind,
    message: &str,
) {
    let _ = send_json(&mut socket, &protocol.error(kind, message)).await;
    close_with(&mut socket, kind.close_code(), message).await;
}

/// Runs a session to its end on `socket`.
pub async fn run<P: Protocol>(
    state: Arc<AppState>,
    mut socket: WebSocket,
    mut protocol: P,
    setup: SessionSetup,
) {
    let SessionSetup {
        session_id,
        owner,
        model,
        models,
        config,
        mut input,
        permit,
        mut recording,
    } = setup;
    let enhancement = EnhancementRequest {
        session_id: session_id.clone(),
        owner: owner.clone(),
        model: model.clone(),
        language: config.language.clone(),
        prompt: config.prompt.clone(),
    };
    let record = RealtimeSessionRecord {
        id: session_id.clone(),
        status: "active".into(),
        protocol: P::NAME.into(),
        owner_key_id: owner,
        model,
        language: config.language.clone(),
        encoding: input.encoding().as_str().into(),
        sample_rate_hz: input.sample_rate_hz(),
        audio_secs: 0.0,
        speech_secs: 0.0,
        utterances: 0,
        words: 0,
        end_reason: None,
        error: None,
        enhancement_job_id: None,
        started_at_ms: now_ms(),
        ended_at_ms: None,
    };
    if let Err(error) = state
        .realtime_sessions
        .insert_realtime_session(&record)
        .await
    {
        tracing::error!(error = %error, "could not record the realtime session");
        refuse(
            socket,
            &protocol,
            ErrorKind::Internal,
            "could not record the session",
        )
        .await;
        return;
    }
    tracing::info!(session_id, protocol = P::NAME, "realtime session started");
    let languages = models.whisper.info().languages.clone();
    let (session, mut events) = Session::start(models, config);
    let mut session = Some(session);
    let mut connected = send_json(&mut socket, &protocol.begin(&session_id)).await;
    let time_limit =
        tokio::time::sleep(Duration::from_secs(state.realtime.config.max_session_secs));
    tokio::pin!(time_limit);
    let mut timed_out = false;

    let summary = loop {
        tokio::select! {
            message = socket.recv(), if connected && session.is_some() => {
                let Some(Ok(message)) = message else {
                    // The client went away: end without decoding what was left.
                    connected = false;
                    session = None;
                    continue;
                };
                if matches!(message, Message::Close(_)) {
                    // The reply to the client's close frame is queued when it is read and
                    // written on the next flush: flush, or the client never sees it.
                    let _ = futures::SinkExt::flush(&mut socket).await;
                    connected = false;
                    session = None;
                    continue;
                }
                let Some(live) = session.as_ref() else { continue };
                match protocol.read(message) {
                    Ok(actions) => {
                        for action in actions {
                            let client = Client {
                                input: &mut input,
                                recording: recording.as_mut(),
                                languages: &languages,
                            };
                            if let Err((kind, error)) = apply(live, client, action).await {
                                let message = protocol.error(kind, &error);
                                connected &= send_json(&mut socket, &message).await;
                            }
                        }
                    }
                    Err(error) => {
                        let message = protocol.error(ErrorKind::InvalidMessage, &error);
                        connected &= send_json(&mut socket, &message).await;
                    }
                }
            }
            event = events.recv() => {
                match event {
                    Some(Event::Ended(summary)) => break summary,
                    Some(event) => {
                        if connected {
                            for message in protocol.event(&event) {
                                connected &= send_json(&mut socket, &message).await;
                            }
                        }
                    }
                    None => break SessionSummary {
                        audio_secs: 0.0,
                        speech_secs: 0.0,
                        utterances: Vec::new(),
                        reason: EndReason::Failed("the session stopped unexpectedly".into()),
                    },
                }
            }
            () = &mut time_limit, if !timed_out => {
                timed_out = true;
                if let Some(live) = session.take() {
                    let _ = live.end().await;
                    // Keep the handle's inputs closed; the task finishes what it has.
                    drop(live);
                }
            }
        }
    };
    drop(session);
    // Made before the end is reported, so `session.end` can name it. A session whose client
    // went away is enhanced too: its audio is all there is of it.
    let enhancement_job_id = match recording {
        Some(recording) => recording
            .into_job(&state, enhancement)
            .await
            .map(|job_id| job_id.to_string()),
        None => None,
    };
    if connected {
        if let Some(message) = protocol.end(&session_id, &summary, enhancement_job_id.as_deref()) {
            connected = send_json(&mut socket, &message).await;
        }
        if connected {
            let (kind, reason) = match (&summary.reason, timed_out) {
                (_, true) => (
                    Some(ErrorKind::TimeLimit),
                    "session time limit reached".to_owned(),
                ),
                (EndReason::LagExceeded, _) => (
                    Some(ErrorKind::LagExceeded),
                    "processing fell too far behind the audio".to_owned(),
                ),
                (EndReason::Failed(error), _) => (Some(ErrorKind::Internal), error.clone()),
                _ => (None, "session ended".to_owned()),
            };
            if let Some(kind) = kind {
                let _ = send_json(&mut socket, &protocol.error(kind, &reason)).await;
            }
            close_with(
                &mut socket,
                kind.map_or(close::NORMAL, ErrorKind::close_code),
                &reason,
            )
            .await;
        }
    }
    let status = match &summary.reason {
        EndReason::Completed | EndReason::LagExceeded => "completed",
        EndReason::Disconnected => "interrupted",
        EndReason::Failed(_) => "error",
    };
    let end = RealtimeSessionEnd {
        status: status.into(),
        audio_secs: summary.audio_secs,
        speech_secs: summary.speech_secs,
        utterances: u32::try_from(summary.utterances.len()).unwrap_or(u32::MAX),
        words: u32::try_from(summary.word_count()).unwrap_or(u32::MAX),
        end_reason: if timed_out {
            "time_limit".into()
        } else {
            summary.reason.as_str().into()
        },
        error: match &summary.reason {
            EndReason::Failed(error) => Some(error.clone()),
            _ => None,
        },
        enhancement_job_id,
        ended_at_ms: now_ms(),
    };
    if let Err(error) = state
        .realtime_sessions
        .end_realtime_session(&session_id, &end)
        .await
    {
        tracing::error!(error = %error, session_id, "could not record the end of the realtime session");
    }
    tracing::info!(
        session_id,
        reason = end.end_reason,
        audio_secs = summary.audio_secs,
        words = end.words,
        "realtime session ended"
    );
    drop(permit);
}

/// What the socket keeps of the client's side of a session.
struct Client<'a> {
    input: &'a mut AudioInput,
    recording: Option<&'a mut SessionRecording>,
    /// The languages the session's model knows, for `config` messages.
    languages: &'a [String],
}

/// Hands one client action to the session. A session that has closed says so through its
/// events (its `Ended` ends the loop), so only undecodable audio and a language the model does
/// not know are the client's errors here.
async fn apply(
    session: &Session,
    client: Client<'_>,
    action: ClientAction,
) -> Result<(), (ErrorKind, String)> {
    let _closed = match action {
        ClientAction::Audio(bytes) => {
            let samples = client
                .input
                .push(&bytes)
                .map_err(|error| (ErrorKind::InvalidAudio, error.to_string()))?;
            if let Some(recording) = client.recording {
                recording.write(&samples);
            }
            session.audio(samples).await
        }
        ClientAction::Commit => session.commit().await,
        ClientAction::Configure(update) => {
            if let Some(Some(language)) = &update.language
                && !client.languages.contains(language)
            {
                return Err((
                    ErrorKind::InvalidMessage,
                    format!("the session's model does not support language {language:?}"),
                ));
            }
            session.configure(update).await
        }
        ClientAction::Clear => session.clear().await,
        ClientAction::End => session.end().await,
    };
    Ok(())
}

async fn send_json(socket: &mut WebSocket, message: &serde_json::Value) -> bool {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .is_ok()
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}
