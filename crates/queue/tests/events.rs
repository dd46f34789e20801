//! Job events over Redis pub/sub between two connections, as between an engine and the
//! orchestrator on different machines.

use std::time::Duration;

use dalston_core::JobId;
use dalston_queue::RedisQueue;
use dalston_queue::redis::subscribe_events;
use dalston_testkit::TestRedis;

#[tokio::test]
async fn published_job_events_reach_the_subscriber_and_survive_a_redis_restart() {
    let Some(mut server) = TestRedis::start().unwrap() else {
        return;
    };
    let (forward, mut received) = tokio::sync::mpsc::unbounded_channel();
    subscribe_events(&server.url(), forward).await.unwrap();
    let publisher = RedisQueue::event_publisher(&server.url()).await.unwrap();
    let job = JobId::generate();
    publisher.send(job.clone()).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("delivered")
        .unwrap();
    assert_eq!(got, job);

    server.restart().unwrap();
    // Events published while the subscription is being re-established are lost by design (the
    // orchestrator's sweep catches up); keep publishing until one arrives.
    let after = JobId::generate();
    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            publisher.send(after.clone()).unwrap();
            tokio::select! {
                Some(got) = received.recv() => if got == after { return; },
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "no event after the restart");
}
