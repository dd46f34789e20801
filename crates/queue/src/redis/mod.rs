//! The distributed queue: Redis Streams with one consumer group.
//!
//! One stream per stage; every engine process reads it through the consumer group `engines`
//! (`XREADGROUP`), so each message is handed to one worker and stays in the group's pending list
//! until it is acked (`XACK` + `XDEL`). A lease is the pending entry's idle time (see
//! `scripts/common.lua`): a worker that stops heartbeating lets it grow past the reclaim
//! threshold and the next claim takes the message over with `XAUTOCLAIM`; after
//! `max_deliveries` such deliveries it goes to a dead-letter stream instead. Retries wait in a
//! sorted set until their backoff has passed.
//!
//! Every operation is one Lua script, so a claim (read + lease) or an ack (check owner +
//! remove) is atomic however many engines race. Scripts cannot block, so an idle worker waits
//! with a blocking `XREAD` from the group's last-delivered id on its own connection: it sleeps
//! inside Redis until a message no worker has seen arrives. The clock is the Redis server's, so
//! engines on machines with skewed clocks agree on leases.
//!
//! Redis should run with persistence (AOF) in production: a restart of Redis then keeps every
//! message and lease; the [`ConnectionManager`] reconnects on its own.

mod events;

use std::time::Duration;

use async_trait::async_trait;
use dalston_core::{JobId, Stage, TaskId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, Client, Script};

pub use events::{EventPublisher, subscribe_events};

use crate::{DeadLetter, Lease, QueueError, TaskMessage, TaskQueue};

/// The reclaim threshold: no lease may be longer. Leases are encoded as `MAX_LEASE - lease`
/// of idle time, so this only needs to exceed every lease a worker asks for.
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Key prefix of everything the queue stores.
pub const DEFAULT_PREFIX: &str = "dalston:";

/// How long a command may take before the connection counts as broken.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

macro_rules! script {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("scripts/common.lua"),
            include_str!(concat!("scripts/", $name, ".lua"))
        ))
    };
}

struct Scripts {
    enqueue: Script,
    claim: Script,
    heartbeat: Script,
    ack: Script,
    retry: Script,
    remove_job: Script,
    take_dead_letters: Script,
    depth: Script,
    last_delivered: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            enqueue: script!("enqueue"),
            claim: script!("claim"),
            heartbeat: script!("heartbeat"),
            ack: script!("ack"),
            retry: script!("retry"),
            remove_job: script!("remove_job"),
            take_dead_letters: script!("take_dead_letters"),
            depth: script!("depth"),
            last_delivered: script!("last_delivered"),
        }
    }
}

pub struct RedisQueue {
    client: Client,
    connection: ConnectionManager,
    prefix: String,
    max_deliveries: u32,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .field("max_deliveries", &self.max_deliveries)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn corrupt(what: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt(what.to_string())
}

fn parse_message(task: &str, job: &str, stage: &str) -> Result<TaskMessage, QueueError> {
    Ok(TaskMessage {
        task_id: TaskId::parse(task).map_err(corrupt)?,
        job_id: JobId::parse(job).map_err(corrupt)?,
        stage: stage.parse().map_err(corrupt)?,
        delay: Duration::ZERO,
    })
}

fn parse_count(count: &str) -> Result<u32, QueueError> {
    count.parse().map_err(corrupt)
}

/// Opens a connection manager: it reconnects by itself after Redis restarts, so callers only
/// see the commands that failed while it was away.
///
/// # Errors
/// A malformed URL or an unreachable server.
pub(crate) async fn connect(url: &str) -> Result<(Client, ConnectionManager), QueueError> {
    let client = Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_max_delay(Duration::from_secs(2));
    let connection = ConnectionManager::new_with_config(client.clone(), config).await?;
    Ok((client, connection))
}

impl RedisQueue {
    /// Connects to `url` (`redis://host:port/db`).
    ///
    /// # Errors
    /// A malformed URL or an unreachable server.
    pub async fn connect(url: &str, max_deliveries: u32) -> Result<Self, QueueError> {
        let (client, connection) = connect(url).await?;
        Ok(Self {
            client,
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
            max_deliveries: max_deliveries.max(1),
            scripts: Scripts::new(),
        })
    }

    /// Lease operations name the task, the worker and the delivery, as in the embedded queue.
    async fn lease_script(
        &self,
        script: &Script,
        lease: &Lease,
        extra: Option<u64>,
    ) -> Result<bool, QueueError> {
        let mut invocation = script.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(lease.message.task_id.as_str())
            .arg(&lease.worker_id)
            .arg(lease.deliveries);
        if let Some(extra) = extra {
            invocation.arg(extra).arg(millis(MAX_LEASE));
        }
        let done: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(done == 1)
    }
}

#[async_trait]
impl TaskQueue for RedisQueue {
    async fn enqueue(&self, message: TaskMessage) -> Result<(), QueueError> {
        let _: i64 = self
            .scripts
            .enqueue
            .arg(&self.prefix)
            .arg(message.task_id.as_str())
            .arg(message.job_id.as_str())
            .arg(message.stage.as_str())
            .arg(millis(message.delay))
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn claim(
        &self,
        worker_id: &str,
        stages: &[Stage],
        lease_for: Duration,
    ) -> Result<Option<Lease>, QueueError> {
        if stages.is_empty() {
            return Ok(None);
        }
        let mut invocation = self.scripts.claim.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(worker_id)
            .arg(millis(lease_for.min(MAX_LEASE)))
            .arg(millis(MAX_LEASE))
            .arg(self.max_deliveries);
        for stage in stages {
            invocation.arg(stage.as_str());
        }
        let claimed: Option<Vec<String>> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        match claimed.as_deref() {
            None => Ok(None),
            Some([task, job, stage, deliveries]) => Ok(Some(Lease {
                message: parse_message(task, job, stage)?,
                worker_id: worker_id.to_owned(),
                deliveries: parse_count(deliveries)?,
            })),
            Some(other) => Err(corrupt(format!("claim returned {other:?}"))),
        }
    }

    async fn heartbeat(&self, lease: &Lease, extend_by: Duration) -> Result<bool, QueueError> {
        let extend = millis(extend_by.min(MAX_LEASE));
        self.lease_script(&self.scripts.heartbeat, lease, Some(extend))
            .await
    }

    async fn ack(&self, lease: &Lease) -> Result<(), QueueError> {
        self.lease_script(&self.scripts.ack, lease, None).await?;
        Ok(())
    }

    async fn retry(&self, lease: &Lease, delay: Duration) -> Result<(), QueueError> {
        let mut invocation = self.scripts.retry.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(lease.message.task_id.as_str())
            .arg(&lease.worker_id)
            .arg(lease.deliveries)
            .arg(millis(delay));
        let _: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn remove_job(&self, job_id: &JobId) -> Result<(), QueueError> {
        let _: i64 = self
            .scripts
            .remove_job
            .arg(&self.prefix)
            .arg(job_id.as_str())
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn take_dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let mut invocation = self.scripts.take_dead_letters.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(millis(MAX_LEASE))
            .arg(self.max_deliveries);
        for stage in Stage::ALL {
            invocation.arg(stage.as_str());
        }
        let flat: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        let dead: Vec<DeadLetter> = flat
            .chunks_exact(4)
            .map(|row| {
                let message = parse_message(&row[0], &row[1], &row[2])?;
                Ok(DeadLetter {
                    task_id: message.task_id,
                    job_id: message.job_id,
                    stage: message.stage,
                    deliveries: parse_count(&row[3])?,
                })
            })
            .collect::<Result<_, QueueError>>()?;
        if !dead.is_empty() {
            tracing::warn!(
                count = dead.len(),
                "dead-lettered tasks whose workers kept dying"
            );
        }
        Ok(dead)
    }

    async fn depth(&self) -> Result<Vec<(Stage, u64)>, QueueError> {
        let mut invocation = self.scripts.depth.prepare_invoke();
        invocation.arg(&self.prefix);
        for stage in Stage::ALL {
            invocation.arg(stage.as_str());
        }
        let flat: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        flat.chunks_exact(2)
            .map(|row| {
                Ok((
                    row[0].parse().map_err(corrupt)?,
                    row[1].parse().map_err(corrupt)?,
                ))
            })
            .collect()
    }

    async fn wait_for_work(&self, stages: &[Stage], timeout: Duration) {
        if let Err(error) = self.block_until_new_message(stages, timeout).await {
            // Redis is away: wait out the timeout rather than spin; the caller's next claim
            // reports the error.
            tracing::debug!(error = %error, "waiting for work failed");
            tokio::time::sleep(timeout).await;
        }
    }
}

impl RedisQueue {
    /// Blocks in `XREAD` until a message that no worker has been handed yet arrives on one of
    /// `stages`, or `timeout` passes. Retries coming out of backoff and expired leases make
    /// work available without a new message, so waiting is always bounded by `timeout`.
    async fn block_until_new_message(
        &self,
        stages: &[Stage],
        timeout: Duration,
    ) -> Result<(), QueueError> {
        if stages.is_empty() {
            tokio::time::sleep(timeout).await;
            return Ok(());
        }
        let mut invocation = self.scripts.last_delivered.prepare_invoke();
        invocation.arg(&self.prefix);
        for stage in stages {
            invocation.arg(stage.as_str());
        }
        let last_ids: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        // A blocking command holds its connection: it gets one of its own, not the shared one.
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(timeout + RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(RESPONSE_TIMEOUT));
        let mut blocking = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut xread = redis::cmd("XREAD");
        xread
            .arg("BLOCK")
            .arg(millis(timeout).max(1))
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS");
        for stage in stages {
            xread.arg(format!("{}stream:{stage}", self.prefix));
        }
        for id in &last_ids {
            xread.arg(id);
        }
        let _: redis::Value = xread.query_async(&mut blocking).await?;
        Ok(())
    }
}
