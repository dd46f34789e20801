//! The deliverer: claims due deliveries from the outbox, POSTs them signed, records the outcome.
//!
//! 2xx is success; any other 4xx fails at once (the receiver rejected it; retrying will not
//! help); 5xx, 429, timeouts and connection errors are retried with exponential backoff (with
//! jitter, so receivers coming back are not hit by every retry at once) until the attempts run
//! out. The SSRF guard is applied again before each attempt: a name that now resolves to a
//! private address is not called, and the attempt fails without retry. A registered webhook whose deliveries keep failing is disabled. Deliveries
//! live in the database, so none is lost across restarts: a claim is a lease on the next attempt
//! time, and a deliverer that dies mid-request leaves the delivery to be retried.

use std::sync::Arc;
use std::time::Duration;

use dalston_core::retry::{RetryDecision, RetryPolicy};
use dalston_core::webhook::ELEVENLABS_EVENT;
use dalston_core::{JobStatus, Transcript};
use dalston_store::clock::now_ms;
use dalston_store::{
    BlobStore, DeliveryOutcome, DeliveryRecord, DeliveryStatus, MetadataStore, WebhookStore,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use super::signature::{sign, sign_elevenlabs};
use crate::config::WebhookConfig;

/// How long a claimed delivery is reserved for the deliverer that claimed it.
const CLAIM_LEASE_MS: i64 = 60_000;

pub struct Deliverer {
    store: Arc<dyn WebhookStore>,
    /// Jobs and transcripts, for deliveries whose body is rendered when sent (ElevenLabs style).
    jobs: Arc<dyn MetadataStore>,
    blobs: BlobStore,
    client: reqwest::Client,
    /// Signs deliveries to a job's own `webhook_url`.
    server_secret: SecretString,
    retry: RetryPolicy,
    disable_after_failures: u32,
    poll: Duration,
    allow_private_targets: bool,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer").finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered(u16),
    Rejected(u16),
    /// The SSRF guard refused the target; not sent.
    Refused(String),
    Retryable {
        status: Option<u16>,
        error: String,
    },
}

impl Deliverer {
    /// # Errors
    /// When the HTTP client cannot be built (TLS set-up).
    pub fn new(
        store: Arc<dyn WebhookStore>,
        jobs: Arc<dyn MetadataStore>,
        blobs: BlobStore,
        server_secret: SecretString,
        config: &WebhookConfig,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs.min(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dalston-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            jobs,
            blobs,
            client,
            server_secret,
            retry: RetryPolicy {
                max_attempts: config.max_attempts,
                base_delay: Duration::from_millis(config.retry_base_delay_ms),
                max_delay: Duration::from_secs(3600),
            },
            disable_after_failures: config.disable_after_failures,
            poll: Duration::from_millis(config.poll_interval_ms),
            allow_private_targets: config.allow_private_targets,
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.run_once().await {
                Ok(0) => {
                    tokio::select! {
                        () = tokio::time::sleep(self.poll) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(error = %error, "webhook delivery step failed");
                    tokio::time::sleep(self.poll).await;
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Sends every delivery due now; returns how many were attempted.
    ///
    /// # Errors
    /// Store failures.
    pub async fn run_once(&self) -> Result<usize, dalston_store::StoreError> {
        let due = self
            .store
            .claim_due_deliveries(now_ms(), CLAIM_LEASE_MS, 16)
            .await?;
        for delivery in &due {
            self.deliver(delivery).await?;
        }
        Ok(due.len())
    }

    async fn deliver(&self, delivery: &DeliveryRecord) -> Result<(), dalston_store::StoreError> {
        let webhook = match &delivery.webhook_id {
            Some(id) => match self.store.get_webhook(id).await? {
                Some(webhook) => Some(webhook),
                // Deleted meanwhile: its log went with it, nothing to send.
                None => return Ok(()),
            },
            None => None,
        };
        let secret = webhook
            .as_ref()
            .map_or(self.server_secret.expose_secret(), |webhook| {
                webhook.secret.as_str()
            });
        let attempt = self.send(delivery, secret).await;
        let attempt_number = delivery.attempts + 1;
        let outcome = match &attempt {
            Attempt::Delivered(code) => DeliveryOutcome {
                status: DeliveryStatus::Success,
                next_attempt_at_ms: None,
                status_code: Some(i32::from(*code)),
                error: None,
            },
            Attempt::Rejected(code) => DeliveryOutcome {
                status: DeliveryStatus::Failed,
                next_attempt_at_ms: None,
                status_code: Some(i32::from(*code)),
                error: Some(format!("the receiver answered {code}; not retried")),
            },
            Attempt::Refused(error) => DeliveryOutcome {
                status: DeliveryStatus::Failed,
                next_attempt_at_ms: None,
                status_code: None,
                error: Some(format!("{error}; not sent")),
            },
            Attempt::Retryable { status, error } => match self.retry.decide(attempt_number, true) {
                RetryDecision::RetryAfter(delay) => DeliveryOutcome {
                    status: DeliveryStatus::Pending,
                    next_attempt_at_ms: Some(
                        now_ms().saturating_add(
                            i64::try_from(jittered(delay, rand::random()).as_millis())
                                .unwrap_or(i64::MAX),
                        ),
                    ),
                    status_code: status.map(i32::from),
                    error: Some(error.clone()),
                },
                RetryDecision::GiveUp => DeliveryOutcome {
                    status: DeliveryStatus::Failed,
                    next_attempt_at_ms: None,
                    status_code: status.map(i32::from),
                    error: Some(format!("{error} (gave up after {attempt_number} attempts)")),
                },
            },
        };
        tracing::info!(
            delivery_id = %delivery.id,
            job_id = %delivery.job_id,
            event = %delivery.event,
            status = outcome.status.as_str(),
            code = outcome.status_code,
            attempt = attempt_number,
            "webhook delivery attempt"
        );
        self.store
            .record_delivery_attempt(&delivery.id, &outcome, now_ms())
            .await?;
        if let Some(mut webhook) = webhook {
            let succeeded = outcome.status == DeliveryStatus::Success;
            webhook.consecutive_failures = if succeeded {
                0
            } else {
                webhook.consecutive_failures.saturating_add(1)
            };
            if !succeeded
                && webhook.consecutive_failures >= self.disable_after_failures
                && webhook.active
            {
                webhook.active = false;
                tracing::warn!(webhook_id = %webhook.id, failures = webhook.consecutive_failures, "disabling a webhook whose deliveries keep failing");
            }
            webhook.updated_at_ms = now_ms();
            self.store.update_webhook(&webhook).await?;
        }
        Ok(())
    }

    /// The ElevenLabs body of a delivery: the job's transcript in their shape, rendered now.
    async fn elevenlabs_body(
        &self,
        delivery: &DeliveryRecord,
        timestamp: i64,
    ) -> Result<String, String> {
        let job = self
            .jobs
            .get_job(&delivery.job_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the job was deleted")?;
        let transcript: Option<Transcript> = match (&job.transcript_blob_key, job.status) {
            (Some(key), JobStatus::Completed) => {
                let bytes = self.blobs.get_bytes(key).await.map_err(|e| e.to_string())?;
                Some(serde_json::from_slice(&bytes).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        crate::routes::elevenlabs::webhook_body(&job, transcript.as_ref(), timestamp)
            .map_err(|e| e.to_string())
    }

    async fn send(&self, delivery: &DeliveryRecord, secret: &str) -> Attempt {
        if let Err(error) = crate::targets::check(&delivery.url, self.allow_private_targets).await {
            return Attempt::Refused(error.to_string());
        }
        let timestamp = now_ms() / 1000;
        let request = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let request = if delivery.event == ELEVENLABS_EVENT {
            let body = match self.elevenlabs_body(delivery, timestamp).await {
                Ok(body) => body,
                Err(error) => {
                    return Attempt::Retryable {
                        status: None,
                        error: format!("could not render the delivery: {error}"),
                    };
                }
            };
            request
                .header(
                    "ElevenLabs-Signature",
                    sign_elevenlabs(secret, timestamp, &body),
                )
                .body(body)
        } else {
            request
                .header("webhook-id", delivery.id.as_str())
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    sign(secret, delivery.id.as_str(), timestamp, &delivery.payload),
                )
                .body(delivery.payload.clone())
        };
        match request.send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                match code {
                    200..=299 => Attempt::Delivered(code),
                    429 | 500..=599 => Attempt::Retryable {
                        status: Some(code),
                        error: format!("the receiver answered {code}"),
                    },
                    _ => Attempt::Rejected(code),
                }
            }
            Err(error) => Attempt::Retryable {
                status: None,
                error: format!("request failed: {error}"),
            },
        }
    }
}

/// `delay` spread over 75–125 % by `unit` (uniform in [0, 1)), so retries of deliveries that
/// failed together do not arrive together.
fn jittered(delay: Duration, unit: f64) -> Duration {
    delay.mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_are_jittered_around_the_backoff() {
        let delay = Duration::from_secs(8);
        assert_eq!(jittered(delay, 0.0), Duration::from_secs(6));
        assert_eq!(jittered(delay, 0.5), delay);
        assert_eq!(jittered(delay, 1.0), Duration::from_secs(10));
        let samples: Vec<Duration> = (0..64).map(|_| jittered(delay, rand::random())).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(6) && *d <= Duration::from_secs(10))
        );
        assert!(
            samples.iter().any(|d| *d != samples[0]),
            "random delays differ"
        );
    }
}
