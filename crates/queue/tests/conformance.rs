//! One conformance suite for every `TaskQueue`: each test runs against the embedded queue
//! (SQLite) and the Redis Streams queue (on a private `redis-server`, see `dalston-testkit`).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use dalston_core::{JobId, Stage, TaskId};
use dalston_queue::{EmbeddedQueue, RedisQueue, TaskMessage, TaskQueue};
use dalston_store::SqliteStore;
use dalston_testkit::TestRedis;

/// A queue and whatever keeps its backend alive for the test.
struct Backend {
    queue: std::sync::Arc<dyn TaskQueue>,
    _alive: Box<dyn std::any::Any>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Embedded,
    Redis,
}

/// The queue of `kind`, or `None` when its server cannot run here (skipped; failed under CI).
async fn open(kind: Kind, max_deliveries: u32) -> Option<Backend> {
    match kind {
        Kind::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::connect(&format!("sqlite://{}/q.db", dir.path().display()))
                .await
                .unwrap();
            Some(Backend {
                queue: std::sync::Arc::new(EmbeddedQueue::new(
                    store.pool().clone(),
                    max_deliveries,
                )),
                _alive: Box::new(dir),
            })
        }
        Kind::Redis => {
            let server = TestRedis::start().unwrap()?;
            let queue = RedisQueue::connect(&server.url(), max_deliveries)
                .await
                .unwrap();
            Some(Backend {
                queue: std::sync::Arc::new(queue),
                _alive: Box::new(server),
            })
        }
    }
}

/// Writes each test once per backend: `embedded::name` and `redis::name`.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Embedded).await;
            })+
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Redis).await;
            })+
        }
    };
}

conformance!(
    a_message_is_delivered_to_one_worker_at_a_time,
    an_expired_lease_is_reclaimed_and_the_old_worker_loses_it,
    retries_wait_for_their_backoff,
    messages_whose_workers_keep_dying_are_dead_lettered,
    removing_a_job_drops_its_messages,
    enqueuing_again_leaves_a_leased_message_alone,
    a_retry_becomes_claimable_once_its_backoff_has_passed,
    a_waiting_worker_wakes_when_work_arrives,
    concurrent_workers_run_each_message_exactly_once,
);

fn message(stage: Stage) -> TaskMessage {
    TaskMessage {
        task_id: TaskId::generate(),
        job_id: JobId::generate(),
        stage,
        delay: Duration::ZERO,
    }
}

const LEASE: Duration = Duration::from_secs(30);

async fn a_message_is_delivered_to_one_worker_at_a_time(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let sent = message(Stage::Transcribe);
    queue.enqueue(sent.clone()).await.unwrap();
    assert!(
        queue
            .claim("w1", &[Stage::Prepare], LEASE)
            .await
            .unwrap()
            .is_none(),
        "other stage"
    );
    let lease = queue
        .claim("w1", &[Stage::Transcribe], LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.message.task_id, sent.task_id);
    assert_eq!(lease.deliveries, 1);
    assert!(
        queue
            .claim("w2", &[Stage::Transcribe], LEASE)
            .await
            .unwrap()
            .is_none(),
        "leased"
    );
    assert!(queue.heartbeat(&lease, LEASE).await.unwrap());
    queue.ack(&lease).await.unwrap();
    assert!(
        !queue.heartbeat(&lease, LEASE).await.unwrap(),
        "acked message has no lease"
    );
    assert!(
        queue
            .claim("w2", &[Stage::Transcribe], LEASE)
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_expired_lease_is_reclaimed_and_the_old_worker_loses_it(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    queue.enqueue(message(Stage::Prepare)).await.unwrap();
    let first = queue
        .claim("dead-worker", &[Stage::Prepare], Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let second = queue
        .claim("w2", &[Stage::Prepare], LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.message.task_id, first.message.task_id);
    assert_eq!(second.deliveries, 2);
    assert!(
        !queue.heartbeat(&first, LEASE).await.unwrap(),
        "stale worker must stop"
    );
    queue.ack(&first).await.unwrap();
    assert!(
        queue.heartbeat(&second, LEASE).await.unwrap(),
        "a stale ack does not remove the new lease"
    );
}

async fn retries_wait_for_their_backoff(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    queue.enqueue(message(Stage::Prepare)).await.unwrap();
    let lease = queue
        .claim("w", &[Stage::Prepare], LEASE)
        .await
        .unwrap()
        .unwrap();
    queue.retry(&lease, Duration::from_secs(60)).await.unwrap();
    assert!(
        queue
            .claim("w", &[Stage::Prepare], LEASE)
            .await
            .unwrap()
            .is_none(),
        "still backing off"
    );
    queue.retry(&lease, Duration::ZERO).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), vec![(Stage::Prepare, 1)]);
}

async fn messages_whose_workers_keep_dying_are_dead_lettered(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 2).await else {
        return;
    };
    let sent = message(Stage::Transcribe);
    queue.enqueue(sent.clone()).await.unwrap();
    for _ in 0..2 {
        assert!(
            queue
                .claim("w", &[Stage::Transcribe], Duration::ZERO)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(
        queue
            .claim("w", &[Stage::Transcribe], LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let dead = queue.take_dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].task_id, sent.task_id);
    assert!(
        queue.take_dead_letters().await.unwrap().is_empty(),
        "taken once"
    );
}

async fn removing_a_job_drops_its_messages(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let sent = message(Stage::Prepare);
    queue.enqueue(sent.clone()).await.unwrap();
    queue.remove_job(&sent.job_id).await.unwrap();
    assert!(queue.depth().await.unwrap().is_empty());
}

async fn enqueuing_again_leaves_a_leased_message_alone(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let sent = message(Stage::Prepare);
    queue.enqueue(sent.clone()).await.unwrap();
    let lease = queue
        .claim("w1", &[Stage::Prepare], LEASE)
        .await
        .unwrap()
        .unwrap();
    queue.enqueue(sent).await.unwrap();
    assert!(
        queue
            .claim("w2", &[Stage::Prepare], LEASE)
            .await
            .unwrap()
            .is_none(),
        "still leased by w1"
    );
    assert!(queue.heartbeat(&lease, LEASE).await.unwrap());
}

async fn a_retry_becomes_claimable_once_its_backoff_has_passed(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let sent = message(Stage::Transcribe);
    queue.enqueue(sent.clone()).await.unwrap();
    let lease = queue
        .claim("w", &[Stage::Transcribe], LEASE)
        .await
        .unwrap()
        .unwrap();
    let backoff = Duration::from_millis(300);
    queue.retry(&lease, backoff).await.unwrap();
    assert!(
        queue
            .claim("w", &[Stage::Transcribe], LEASE)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(backoff + Duration::from_millis(100)).await;
    let again = queue
        .claim("w2", &[Stage::Transcribe], LEASE)
        .await
        .unwrap()
        .expect("claimable after the backoff");
    assert_eq!(again.message.task_id, sent.task_id);
    assert_eq!(again.deliveries, 1, "a retry is not a lost delivery");
}

async fn a_waiting_worker_wakes_when_work_arrives(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let waiter = {
        let queue = std::sync::Arc::clone(&queue);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            queue
                .wait_for_work(&[Stage::Merge], Duration::from_secs(60))
                .await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    queue.enqueue(message(Stage::Merge)).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the waiter woke before its own timeout")
        .unwrap();
    assert!(waited < Duration::from_secs(30), "{waited:?}");
    assert!(
        queue
            .claim("w", &[Stage::Merge], LEASE)
            .await
            .unwrap()
            .is_some()
    );
}

async fn concurrent_workers_run_each_message_exactly_once(kind: Kind) {
    let Some(Backend { queue, _alive }) = open(kind, 5).await else {
        return;
    };
    let sent: Vec<TaskMessage> = (0..40).map(|_| message(Stage::Prepare)).collect();
    for message in &sent {
        queue.enqueue(message.clone()).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move {
                let mut ran = Vec::new();
                while let Some(lease) = queue
                    .claim(&format!("w{worker}"), &[Stage::Prepare], LEASE)
                    .await
                    .unwrap()
                {
                    ran.push(lease.message.task_id.clone());
                    queue.ack(&lease).await.unwrap();
                }
                ran
            })
        })
        .collect();
    let mut ran = Vec::new();
    for worker in workers {
        ran.extend(worker.await.unwrap());
    }
    let mut expected: Vec<String> = sent.iter().map(|m| m.task_id.to_string()).collect();
    let mut seen: Vec<String> = ran.iter().map(ToString::to_string).collect();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every message ran once, none twice");
    assert!(queue.depth().await.unwrap().is_empty());
}
