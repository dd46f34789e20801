use std::time::Duration;

use dalston_core::{JobId, Stage, TaskId};
use dalston_store::SqliteStore;

use super::EmbeddedQueue;
use crate::{TaskMessage, TaskQueue};

// The behaviour every queue shares is tested against both backends in tests/conformance.rs;
// this is what only the single-process embedded queue does.

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn start_up_releases_leases_of_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}/q.db", dir.path().display()))
        .await
        .unwrap();
    let queue = EmbeddedQueue::new(store.pool().clone(), 5);
    queue
        .enqueue(TaskMessage {
            task_id: TaskId::generate(),
            job_id: JobId::generate(),
            stage: Stage::Prepare,
            delay: Duration::ZERO,
        })
        .await
        .unwrap();
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
