//! "Something changed in this job" over Redis pub/sub, so an orchestrator on another machine
//! reacts at once instead of polling.
//!
//! Both ends speak the same `mpsc` channel of job ids the embedded mode passes in-process: the
//! publisher is a sender whose messages a background task publishes, the subscriber forwards
//! what arrives into the orchestrator's receiver. Pub/sub is fire-and-forget: an event published
//! while no orchestrator listens (or while Redis restarts) is lost, and the orchestrator's
//! periodic sweep of active jobs catches up on it.

use std::time::Duration;

use dalston_core::JobId;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::connect;
use crate::QueueError;

/// The channel every event is published on.
pub const EVENTS_CHANNEL: &str = "dalston:events";

/// A sender whose job ids are published on [`EVENTS_CHANNEL`]. It implements the engine's
/// `TaskEvents` and is what the gateway's `job_events` holds.
pub type EventPublisher = mpsc::UnboundedSender<JobId>;

impl super::RedisQueue {
    /// Starts publishing the job ids sent to the returned sender. The background task ends when
    /// every clone of the sender is dropped.
    ///
    /// # Errors
    /// A malformed URL or an unreachable server.
    pub async fn event_publisher(url: &str) -> Result<EventPublisher, QueueError> {
        let (_client, connection) = connect(url).await?;
        let (sender, mut receiver) = mpsc::unbounded_channel::<JobId>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                // A burst (progress updates) becomes one message per job.
                let mut burst = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    if !burst.contains(&more) {
                        burst.push(more);
                    }
                }
                for job_id in burst {
                    let published: Result<i64, _> = redis::cmd("PUBLISH")
                        .arg(EVENTS_CHANNEL)
                        .arg(job_id.as_str())
                        .query_async(&mut connection.clone())
                        .await;
                    if let Err(error) = published {
                        tracing::warn!(job_id = %job_id, error = %error, "could not publish a job event");
                    }
                }
            }
        });
        Ok(sender)
    }
}

/// Forwards every job id published on [`EVENTS_CHANNEL`] into `forward`, resubscribing after
/// Redis goes away, until `forward` closes.
///
/// # Errors
/// The first subscription failed (a malformed URL or an unreachable server).
pub async fn subscribe_events(
    url: &str,
    forward: mpsc::UnboundedSender<JobId>,
) -> Result<JoinHandle<()>, QueueError> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(EVENTS_CHANNEL).await?;
    Ok(tokio::spawn(async move {
        loop {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                match JobId::parse(&payload) {
                    Ok(job_id) => {
                        if forward.send(job_id).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "ignoring a malformed job event");
                    }
                }
            }
            tracing::warn!("lost the job event subscription; resubscribing");
            pubsub = loop {
                if forward.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                let subscribed = async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(EVENTS_CHANNEL).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                };
                if let Ok(pubsub) = subscribed.await {
                    break pubsub;
                }
            };
        }
    }))
}
