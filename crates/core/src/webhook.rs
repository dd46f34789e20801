//! Webhook events and their payloads: what a job's outcome looks like to a receiver.

use serde::{Deserialize, Serialize};

use crate::{JobId, JobStatus};

/// The event name of ElevenLabs-style deliveries (`webhook=true` on `/v1/speech-to-text`).
pub const ELEVENLABS_EVENT: &str = "speech_to_text_transcription";

/// How a job's webhook deliveries are shaped and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStyle {
    /// Dalston's payload, signed the Standard Webhooks way.
    #[default]
    Standard,
    /// ElevenLabs' payload (the transcript in their shape), signed with `ElevenLabs-Signature`.
    ElevenLabs,
}

/// The events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    #[serde(rename = "transcription.completed")]
    Completed,
    #[serde(rename = "transcription.failed")]
    Failed,
    #[serde(rename = "transcription.cancelled")]
    Cancelled,
}

crate::names::wire_names!(WebhookEvent, UnknownWebhookEvent, "webhook event", {
    Completed => "transcription.completed",
    Failed => "transcription.failed",
    Cancelled => "transcription.cancelled",
});

impl WebhookEvent {
    /// The event a job reaching `status` raises, if any.
    pub fn for_status(status: JobStatus) -> Option<Self> {
        match status {
            JobStatus::Completed => Some(WebhookEvent::Completed),
            JobStatus::Failed => Some(WebhookEvent::Failed),
            JobStatus::Cancelled => Some(WebhookEvent::Cancelled),
            JobStatus::Pending | JobStatus::Running | JobStatus::Cancelling => None,
        }
    }
}

/// The JSON body sent for a job event.
pub fn payload(
    event: WebhookEvent,
    job_id: &JobId,
    status: JobStatus,
    error: Option<&str>,
    metadata: Option<&serde_json::Value>,
    timestamp_secs: i64,
) -> serde_json::Value {
    serde_json::json!({
        "type": event.as_str(),
        "timestamp": timestamp_secs,
        "data": {
            "id": job_id,
            "job_id": job_id,
            "status": status,
            "error": error,
            "webhook_metadata": metadata,
        },
    })
}

/// Webhook targets must be http(s) URLs with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty() && !rest.starts_with('/') && !url.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_raise_their_event() {
        assert_eq!(
            WebhookEvent::for_status(JobStatus::Completed),
            Some(WebhookEvent::Completed)
        );
        assert_eq!(WebhookEvent::for_status(JobStatus::Running), None);
        assert_eq!("transcription.failed".parse(), Ok(WebhookEvent::Failed));
    }

    #[test]
    fn only_http_urls_are_targets() {
        assert!(is_http_url("https://example.com/hook"));
        assert!(is_http_url("http://127.0.0.1:9000/x"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("https:///path"));
        assert!(!is_http_url("http://exa mple.com"));
    }

    #[test]
    fn payload_names_the_job_and_echoes_metadata() {
        let job = JobId::generate();
        let body = payload(
            WebhookEvent::Completed,
            &job,
            JobStatus::Completed,
            None,
            Some(&serde_json::json!({"a": 1})),
            7,
        );
        assert_eq!(body["type"], "transcription.completed");
        assert_eq!(body["data"]["job_id"], job.as_str());
        assert_eq!(body["data"]["webhook_metadata"]["a"], 1);
    }
}
