use std::time::Duration;

use dalston_core::{JobId, Stage, TaskId};
use dalston_store::SqliteStore;

use super::EmbeddedQueue;
use crate::{TaskMessage, TaskQueue};

async fn queue(max_deliveries: u32) -> (tempfile::TempDir, EmbeddedQueue) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}/q.db", dir.path().display()))
        .await
        .unwrap();
    (
        dir,
        EmbeddedQueue::new(store.pool().clone(), max_deliveries),
    )
}

fn message(stage: Stage) -> TaskMessage {
    TaskMessage {
        task_id: TaskId::generate(),
        job_id: JobId::generate(),
        stage,
        delay: Duration::ZERO,
    }
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_message_is_delivered_to_one_worker_at_a_time() {
    let (_dir, queue) = queue(5).await;
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

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_the_old_worker_loses_it() {
    let (_dir, queue) = queue(5).await;
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

#[tokio::test]
async fn retries_wait_for_their_backoff() {
    let (_dir, queue) = queue(5).await;
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

#[tokio::test]
async fn messages_whose_workers_keep_dying_are_dead_lettered() {
    let (_dir, queue) = queue(2).await;
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

#[tokio::test]
async fn start_up_releases_leases_of_the_previous_run() {
    let (_dir, queue) = queue(5).await;
    queue.enqueue(message(Stage::Prepare)).await.unwrap();
    assert!(
        queue
            .claim("old-process", &[Stage::Prepare], LEASE)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(queue.release_all_leases().await.unwrap(), 1);
    assert!(
        queue
            .claim("new-process", &[Stage::Prepare], LEASE)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn removing_a_job_drops_its_messages() {
    let (_dir, queue) = queue(5).await;
    let sent = message(Stage::Prepare);
    queue.enqueue(sent.clone()).await.unwrap();
    queue.remove_job(&sent.job_id).await.unwrap();
    assert!(queue.depth().await.unwrap().is_empty());
}

#[tokio::test]
async fn enqueuing_again_leaves_a_leased_message_alone() {
    let (_dir, queue) = queue(5).await;
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
