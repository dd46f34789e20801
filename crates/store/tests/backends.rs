//! The two SQL backends side by side: their migrations create the same schema, and one
//! conformance suite (written against `&dyn MetadataStore`) passes on both `SqliteStore` and
//! `PgStore` (on a private PostgreSQL server, see `dalston-testkit`).

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use dalston_core::dag::PlannedTask;
use dalston_core::{JobId, JobParameters, JobStatus, KeyId, Stage, TaskId, TaskStatus};
use dalston_store::{
    ApiKeyRecord, AudioMetadata, DeliveryOutcome, DeliveryRecord, DeliveryStatus, EngineRecord,
    EngineRegistry, JobFilter, JobRecord, JobUpdate, MetadataStore, PgStore, RealtimeSessionEnd,
    RealtimeSessionRecord, RealtimeStore, SqliteStore, TaskUpdate, WebhookRecord, WebhookStore,
};
use dalston_testkit::TestPostgres;
use sqlx::Row;
use tempfile::TempDir;

/// Table name → column names (in declaration order), and the names of the explicit indexes.
type Schema = (BTreeMap<String, Vec<String>>, Vec<String>);

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() -> anyhow::Result<()> {
    let (_dir, store) = sqlite_store().await?;
    conformance(&store).await?;
    webhooks_conformance(&store).await.context("webhooks")?;
    engines_conformance(&store).await.context("engines")?;
    realtime_conformance(&store).await.context("realtime")
}

#[tokio::test]
async fn postgres_store_passes_the_conformance_suite() -> anyhow::Result<()> {
    let Some(server) = start_postgres()? else {
        return Ok(());
    };
    let store = PgStore::connect(&server.create_database().await?).await?;
    conformance(&store).await?;
    webhooks_conformance(&store).await.context("webhooks")?;
    engines_conformance(&store).await.context("engines")?;
    realtime_conformance(&store).await.context("realtime")
}

#[tokio::test]
async fn migrations_create_the_same_tables_columns_and_indexes() -> anyhow::Result<()> {
    let Some(server) = start_postgres()? else {
        return Ok(());
    };
    let (_dir, sqlite) = sqlite_store().await?;
    let postgres = PgStore::connect(&server.create_database().await?).await?;
    let sqlite_schema = sqlite_schema(&sqlite).await?;
    let postgres_schema = postgres_schema(&postgres).await?;
    assert_eq!(sqlite_schema, postgres_schema);
    let tables: Vec<&str> = sqlite_schema.0.keys().map(String::as_str).collect();
    assert_eq!(
        tables,
        [
            "api_keys",
            "engines",
            "jobs",
            "queue_messages",
            "realtime_sessions",
            "single_use_tokens",
            "tasks",
            "webhook_deliveries",
            "webhooks"
        ]
    );
    Ok(())
}

async fn sqlite_store() -> anyhow::Result<(TempDir, SqliteStore)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/dalston.db", dir.path().display());
    let store = SqliteStore::connect(&url).await?;
    Ok((dir, store))
}

fn start_postgres() -> anyhow::Result<Option<TestPostgres>> {
    let server = TestPostgres::start()?;
    if let Some(server) = &server {
        #[expect(clippy::print_stderr, reason = "start-up time shows with --nocapture")]
        {
            eprintln!("PostgreSQL started in {:?}", server.startup);
        }
    }
    Ok(server)
}

async fn sqlite_schema(store: &SqliteStore) -> anyhow::Result<Schema> {
    let rows = sqlx::query(
        "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, \
         pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
         AND m.name NOT LIKE '_sqlx%' ORDER BY m.name, p.cid",
    )
    .fetch_all(store.pool())
    .await?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        tables
            .entry(row.try_get("table_name")?)
            .or_default()
            .push(row.try_get("column_name")?);
    }
    // `sql IS NULL` marks the indexes SQLite makes for PRIMARY KEY and UNIQUE by itself.
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(store.pool())
    .await?;
    Ok((tables, indexes))
}

async fn postgres_schema(store: &PgStore) -> anyhow::Result<Schema> {
    let rows = sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(store.pool())
    .await?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        tables
            .entry(row.try_get("table_name")?)
            .or_default()
            .push(row.try_get("column_name")?);
    }
    // Constraint-backed indexes (`…_pkey`, `…_key`) are PostgreSQL's own, like SQLite's autoindexes.
    let indexes = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' \
         AND tablename NOT LIKE '\\_sqlx%' ORDER BY indexname",
    )
    .fetch_all(store.pool())
    .await?;
    Ok((tables, indexes))
}

fn job_id(n: u32) -> JobId {
    JobId::parse(&format!("job_{n:032x}")).expect_valid()
}

fn task_id(n: u32) -> TaskId {
    TaskId::parse(&format!("task_{n:032x}")).expect_valid()
}

fn key_id(n: u32) -> KeyId {
    KeyId::parse(&format!("key_{n:032x}")).expect_valid()
}

/// `expect` for ids built from a valid pattern above.
trait ExpectValid<T> {
    fn expect_valid(self) -> T;
}

impl<T, E: std::fmt::Debug> ExpectValid<T> for Result<T, E> {
    fn expect_valid(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => panic!("test id is invalid: {error:?}"),
        }
    }
}

/// A job as `create_job` stores it: everything set later is empty.
fn new_job(id: JobId, status: JobStatus, owner: Option<KeyId>, created_at_ms: i64) -> JobRecord {
    JobRecord {
        id,
        status,
        display_name: format!("meeting {created_at_ms}.wav"),
        parameters: JobParameters {
            language: Some("en".into()),
            vocabulary: vec!["Dalston".into()],
            ..JobParameters::default()
        },
        owner_key_id: owner,
        original_blob_key: Some(format!("audio/{created_at_ms}")),
        original_size_bytes: Some(1234),
        audio: AudioMetadata::default(),
        transcript_blob_key: None,
        warnings: vec!["first".into()],
        error: None,
        created_at_ms,
        started_at_ms: None,
        completed_at_ms: None,
        purge_after_ms: None,
    }
}

fn new_key(n: u32, created_at_ms: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: key_id(n),
        name: format!("key {n}"),
        prefix: format!("dk_{n}"),
        key_hash: format!("{n:064x}"),
        scopes: vec!["jobs:read".into(), "jobs:write".into()],
        created_at_ms,
        last_used_at_ms: None,
        revoked_at_ms: None,
    }
}

fn ids(jobs: &[JobRecord]) -> Vec<&JobId> {
    jobs.iter().map(|job| &job.id).collect()
}

/// The behaviour every [`MetadataStore`] must share, on an empty store.
async fn conformance(store: &dyn MetadataStore) -> anyhow::Result<()> {
    store.ping().await?;
    jobs_conformance(store).await.context("jobs")?;
    tasks_conformance(store).await.context("tasks")?;
    keys_conformance(store).await.context("keys")?;
    Ok(())
}

async fn jobs_conformance(store: &dyn MetadataStore) -> anyhow::Result<()> {
    let (first, second, third) = (job_id(1), job_id(2), job_id(3));
    let owner = key_id(1);
    let pending = new_job(first.clone(), JobStatus::Pending, Some(owner.clone()), 100);
    store.create_job(&pending, &[]).await?;
    store
        .create_job(&new_job(second.clone(), JobStatus::Running, None, 200), &[])
        .await?;
    store
        .create_job(
            &new_job(third.clone(), JobStatus::Running, Some(owner.clone()), 300),
            &[],
        )
        .await?;
    assert_eq!(store.get_job(&first).await?, Some(pending.clone()));
    assert_eq!(store.get_job(&job_id(99)).await?, None);

    // A transition from the wrong state changes nothing.
    let wrong = JobUpdate {
        error: Some("stale".into()),
        ..JobUpdate::default()
    };
    let moved = store
        .transition_job(&first, &[JobStatus::Running], JobStatus::Failed, &wrong)
        .await?;
    assert!(!moved);
    assert_eq!(store.get_job(&first).await?, Some(pending.clone()));

    let start = JobUpdate {
        started_at_ms: Some(110),
        ..JobUpdate::default()
    };
    let expected = [JobStatus::Pending, JobStatus::Cancelling];
    assert!(
        store
            .transition_job(&first, &expected, JobStatus::Running, &start)
            .await?
    );
    assert!(
        !store
            .transition_job(&first, &expected, JobStatus::Running, &start)
            .await?
    );
    let running = store.get_job(&first).await?.context("first job")?;
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.started_at_ms, Some(110));
    assert_eq!(running.error, None);

    let finish = JobUpdate {
        transcript_blob_key: Some("transcripts/2".into()),
        completed_at_ms: Some(250),
        purge_after_ms: Some(1000),
        ..JobUpdate::default()
    };
    assert!(
        store
            .transition_job(
                &second,
                &[JobStatus::Running],
                JobStatus::Completed,
                &finish
            )
            .await?
    );
    let completed = store.get_job(&second).await?.context("second job")?;
    assert_eq!(
        completed.transcript_blob_key.as_deref(),
        Some("transcripts/2")
    );
    assert_eq!(completed.completed_at_ms, Some(250));
    assert_eq!(completed.purge_after_ms, Some(1000));

    // Listing: newest first, filtered, and paged with the `before` cursor.
    let all = JobFilter {
        limit: 10,
        ..JobFilter::default()
    };
    assert_eq!(
        ids(&store.list_jobs(&all).await?),
        [&third, &second, &first]
    );
    let only_completed = JobFilter {
        status: Some(JobStatus::Completed),
        ..all.clone()
    };
    assert_eq!(ids(&store.list_jobs(&only_completed).await?), [&second]);
    let owned = JobFilter {
        owner_key_id: Some(owner.clone()),
        ..all.clone()
    };
    assert_eq!(ids(&store.list_jobs(&owned).await?), [&third, &first]);
    let page = JobFilter {
        before: Some(third.clone()),
        limit: 1,
        ..JobFilter::default()
    };
    assert_eq!(ids(&store.list_jobs(&page).await?), [&second]);
    let next_page = JobFilter {
        before: Some(second.clone()),
        ..page
    };
    assert_eq!(ids(&store.list_jobs(&next_page).await?), [&first]);

    assert_eq!(
        store.active_job_ids().await?,
        [first.clone(), third.clone()]
    );
    assert_eq!(store.count_active_jobs(None).await?, 2);
    assert_eq!(store.count_active_jobs(Some(&owner)).await?, 2);
    assert_eq!(store.count_active_jobs(Some(&key_id(2))).await?, 0);
    assert_eq!(store.expired_job_ids(999).await?, []);
    assert_eq!(
        store.expired_job_ids(1000).await?,
        std::slice::from_ref(&second)
    );
    let counts = store.count_jobs().await?;
    assert_eq!(counts.by_status.get("running"), Some(&2));
    assert_eq!(counts.by_status.get("completed"), Some(&1));

    // Warnings are appended once each, in order.
    store
        .add_job_warnings(&first, &["second".into(), "first".into()])
        .await?;
    store
        .add_job_warnings(&first, &["third".into(), "second".into()])
        .await?;
    store.add_job_warnings(&first, &[]).await?;
    store
        .add_job_warnings(&job_id(99), &["lost".into()])
        .await?;
    let warned = store.get_job(&first).await?.context("first job")?;
    assert_eq!(warned.warnings, ["first", "second", "third"]);

    let audio = AudioMetadata {
        duration_secs: Some(61.25),
        channels: Some(2),
        sample_rate_hz: Some(48_000),
        format: Some("flac".into()),
    };
    store.set_job_audio(&first, &audio).await?;
    store.clear_original_audio(&first).await?;
    let described = store.get_job(&first).await?.context("first job")?;
    assert_eq!(described.audio, audio);
    assert_eq!(described.original_blob_key, None);

    for id in [&first, &second, &third] {
        ensure!(store.delete_job(id).await?, "{id} was not deleted");
    }
    assert!(!store.delete_job(&first).await?);
    assert_eq!(store.list_jobs(&all).await?, []);
    Ok(())
}

async fn tasks_conformance(store: &dyn MetadataStore) -> anyhow::Result<()> {
    let job = new_job(job_id(10), JobStatus::Pending, None, 1000);
    let (prepare, transcribe) = (task_id(11), task_id(12));
    let planned = [
        PlannedTask {
            id: prepare.clone(),
            stage: Stage::Prepare,
            depends_on: vec![],
            required: true,
        },
        PlannedTask {
            id: transcribe.clone(),
            stage: Stage::Transcribe,
            depends_on: vec![prepare.clone()],
            required: false,
        },
    ];
    store.create_job(&job, &planned).await?;
    let tasks = store.tasks_for_job(&job.id).await?;
    let listed: Vec<(&TaskId, Stage, bool, &[TaskId])> = tasks
        .iter()
        .map(|task| (&task.id, task.stage, task.required, &task.depends_on[..]))
        .collect();
    assert_eq!(
        listed,
        [
            (&prepare, Stage::Prepare, true, &[][..]),
            (
                &transcribe,
                Stage::Transcribe,
                false,
                &[prepare.clone()][..]
            ),
        ]
    );
    let fresh = store.get_task(&prepare).await?.context("prepare task")?;
    assert_eq!(fresh.status, TaskStatus::Pending);
    assert_eq!((fresh.attempts, fresh.progress), (0, 0.0));
    assert_eq!(fresh.job_id, job.id);

    // A transition from the wrong state changes nothing.
    let wrong = TaskUpdate {
        worker_id: Some("stale".into()),
        increment_attempts: true,
        ..TaskUpdate::default()
    };
    assert!(
        !store
            .transition_task(
                &prepare,
                &[TaskStatus::Running],
                TaskStatus::Completed,
                &wrong
            )
            .await?
    );
    assert_eq!(store.get_task(&prepare).await?, Some(fresh.clone()));

    let ready = TaskUpdate {
        ready_at_ms: Some(1010),
        ..TaskUpdate::default()
    };
    assert!(
        store
            .transition_task(&prepare, &[TaskStatus::Pending], TaskStatus::Ready, &ready)
            .await?
    );
    let claim = TaskUpdate {
        worker_id: Some("worker-1".into()),
        increment_attempts: true,
        started_at_ms: Some(1020),
        ..TaskUpdate::default()
    };
    assert!(
        store
            .transition_task(&prepare, &[TaskStatus::Ready], TaskStatus::Running, &claim)
            .await?
    );
    store.set_task_progress(&prepare, 0.5).await?;
    let running = store.get_task(&prepare).await?.context("prepare task")?;
    assert_eq!(running.status, TaskStatus::Running);
    assert_eq!(running.worker_id.as_deref(), Some("worker-1"));
    assert_eq!((running.attempts, running.progress), (1, 0.5));
    assert_eq!(
        (running.ready_at_ms, running.started_at_ms),
        (Some(1010), Some(1020))
    );

    // A retry goes back to ready with its progress reset; the next claim counts a second attempt.
    let retry = TaskUpdate {
        error: Some("engine crashed".into()),
        ..TaskUpdate::default()
    };
    assert!(
        store
            .transition_task(&prepare, &[TaskStatus::Running], TaskStatus::Ready, &retry)
            .await?
    );
    let retried = store.get_task(&prepare).await?.context("prepare task")?;
    assert_eq!((retried.attempts, retried.progress), (1, 0.0));
    assert_eq!(retried.error.as_deref(), Some("engine crashed"));
    store.set_task_progress(&prepare, 0.75).await?;
    assert_eq!(
        store.get_task(&prepare).await?.map(|task| task.progress),
        Some(0.0),
        "progress only moves while running"
    );
    assert!(
        store
            .transition_task(&prepare, &[TaskStatus::Ready], TaskStatus::Running, &claim)
            .await?
    );
    let output = serde_json::json!({"duration_secs": 61.25, "channels": [0, 1]});
    let complete = TaskUpdate {
        output: Some(output.clone()),
        completed_at_ms: Some(1100),
        ..TaskUpdate::default()
    };
    assert!(
        store
            .transition_task(
                &prepare,
                &[TaskStatus::Running],
                TaskStatus::Completed,
                &complete
            )
            .await?
    );
    let completed = store.get_task(&prepare).await?.context("prepare task")?;
    assert_eq!(completed.status, TaskStatus::Completed);
    assert_eq!((completed.attempts, completed.progress), (2, 1.0));
    assert_eq!(completed.output, Some(output));
    assert_eq!(completed.completed_at_ms, Some(1100));

    // Deleting the job takes its tasks with it.
    assert!(store.delete_job(&job.id).await?);
    assert_eq!(store.tasks_for_job(&job.id).await?, []);
    assert_eq!(store.get_task(&prepare).await?, None);
    assert_eq!(store.get_task(&transcribe).await?, None);
    Ok(())
}

async fn keys_conformance(store: &dyn MetadataStore) -> anyhow::Result<()> {
    let (first, second) = (new_key(1, 10), new_key(2, 20));
    store.insert_key(&second).await?;
    store.insert_key(&first).await?;
    assert!(
        store.insert_key(&first).await.is_err(),
        "a key id is unique"
    );
    assert_eq!(
        store.find_key_by_hash(&first.key_hash).await?,
        Some(first.clone())
    );
    assert_eq!(store.find_key_by_hash("unknown").await?, None);
    assert_eq!(store.get_key(&second.id).await?, Some(second.clone()));
    assert_eq!(store.list_keys().await?, [first.clone(), second.clone()]);
    assert_eq!(store.count_active_keys().await?, 2);

    assert!(store.revoke_key(&first.id, 30).await?);
    assert!(!store.revoke_key(&first.id, 40).await?, "revoked once");
    assert!(!store.revoke_key(&key_id(99), 40).await?);
    assert_eq!(store.count_active_keys().await?, 1);
    store.touch_key(&second.id, 50).await?;
    let revoked = store.get_key(&first.id).await?.context("first key")?;
    let touched = store.get_key(&second.id).await?.context("second key")?;
    assert_eq!(
        (revoked.revoked_at_ms, revoked.last_used_at_ms),
        (Some(30), None)
    );
    assert_eq!(
        (touched.revoked_at_ms, touched.last_used_at_ms),
        (None, Some(50))
    );
    Ok(())
}

/// The webhook registry and the delivery outbox, on an empty store.
async fn webhooks_conformance(store: &dyn WebhookStore) -> anyhow::Result<()> {
    use dalston_core::{DeliveryId, WebhookId};
    let owner = KeyId::generate();
    let webhook = |owner: Option<KeyId>, events: &[&str]| WebhookRecord {
        id: WebhookId::generate(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_c2VjcmV0".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: Some("test".into()),
        active: true,
        owner_key_id: owner,
        consecutive_failures: 0,
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    let admin_hook = webhook(None, &["transcription.completed", "transcription.failed"]);
    let tenant_hook = webhook(Some(owner.clone()), &["transcription.completed"]);
    store.insert_webhook(&admin_hook).await?;
    store.insert_webhook(&tenant_hook).await?;
    ensure!(store.get_webhook(&tenant_hook.id).await? == Some(tenant_hook.clone()));
    ensure!(store.list_webhooks(None).await?.len() == 2);
    ensure!(store.list_webhooks(Some(&owner)).await? == vec![tenant_hook.clone()]);

    let for_owner = store
        .webhooks_for_event("transcription.completed", Some(&owner))
        .await?;
    ensure!(
        for_owner.len() == 2,
        "admin webhooks get every job, tenant webhooks their own"
    );
    let for_other = store
        .webhooks_for_event("transcription.completed", Some(&KeyId::generate()))
        .await?;
    ensure!(for_other == vec![admin_hook.clone()]);
    ensure!(
        store
            .webhooks_for_event("transcription.cancelled", None)
            .await?
            .is_empty()
    );

    let mut disabled = tenant_hook.clone();
    disabled.active = false;
    disabled.consecutive_failures = 10;
    ensure!(store.update_webhook(&disabled).await?);
    ensure!(
        store
            .webhooks_for_event("transcription.completed", Some(&owner))
            .await?
            == vec![admin_hook.clone()]
    );

    let delivery = DeliveryRecord {
        id: DeliveryId::generate(),
        webhook_id: Some(admin_hook.id.clone()),
        job_id: JobId::generate(),
        event: "transcription.completed".into(),
        url: admin_hook.url.clone(),
        payload: "{}".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at_ms: Some(100),
        last_status_code: None,
        last_error: None,
        created_at_ms: 100,
        updated_at_ms: 100,
    };
    store.insert_delivery(&delivery).await?;
    ensure!(
        store.claim_due_deliveries(50, 1_000, 10).await?.is_empty(),
        "not due yet"
    );
    let claimed = store.claim_due_deliveries(200, 1_000, 10).await?;
    ensure!(claimed.len() == 1 && claimed[0].next_attempt_at_ms == Some(1_200));
    ensure!(
        store.claim_due_deliveries(300, 1_000, 10).await?.is_empty(),
        "leased"
    );
    let failed = DeliveryOutcome {
        status: DeliveryStatus::Pending,
        next_attempt_at_ms: Some(400),
        status_code: Some(503),
        error: Some("unavailable".into()),
    };
    store
        .record_delivery_attempt(&delivery.id, &failed, 300)
        .await?;
    let again = store.claim_due_deliveries(400, 1_000, 10).await?;
    ensure!(again.len() == 1 && again[0].attempts == 1 && again[0].last_status_code == Some(503));
    let done = DeliveryOutcome {
        status: DeliveryStatus::Success,
        next_attempt_at_ms: None,
        status_code: Some(200),
        error: None,
    };
    store
        .record_delivery_attempt(&delivery.id, &done, 500)
        .await?;
    let stored = store
        .get_delivery(&delivery.id)
        .await?
        .context("delivery")?;
    ensure!(stored.status == DeliveryStatus::Success && stored.attempts == 2);
    ensure!(store.list_deliveries(&admin_hook.id, 10).await?.len() == 1);
    ensure!(store.retry_delivery(&delivery.id, 600).await?);
    ensure!(
        !store.retry_delivery(&delivery.id, 600).await?,
        "already pending"
    );
    ensure!(store.claim_due_deliveries(600, 1_000, 10).await?.len() == 1);

    ensure!(store.delete_webhook(&admin_hook.id).await?);
    ensure!(
        store.get_delivery(&delivery.id).await?.is_none(),
        "its log goes with it"
    );
    Ok(())
}

/// Engines upsert their row; only recent heartbeats are listed.
async fn engines_conformance(store: &dyn EngineRegistry) -> anyhow::Result<()> {
    let mut engine = EngineRecord {
        id: "host-1-transcribe".into(),
        stage: Stage::Transcribe,
        models: vec!["whisper-tiny.en".into()],
        capacity: 2,
        active_tasks: 0,
        started_at_ms: 1_000,
        last_heartbeat_at_ms: 1_000,
    };
    store.record_engine_heartbeat(&engine).await?;
    let stale = EngineRecord {
        id: "host-2-prepare".into(),
        stage: Stage::Prepare,
        models: Vec::new(),
        capacity: 1,
        active_tasks: 1,
        started_at_ms: 10,
        last_heartbeat_at_ms: 10,
    };
    store.record_engine_heartbeat(&stale).await?;
    engine.active_tasks = 2;
    engine.last_heartbeat_at_ms = 5_000;
    store.record_engine_heartbeat(&engine).await?;
    assert_eq!(store.live_engines(500).await?, vec![engine.clone()]);
    assert_eq!(store.live_engines(0).await?.len(), 2);
    store.remove_engine(&engine.id).await?;
    assert_eq!(store.live_engines(0).await?, vec![stale]);
    Ok(())
}

async fn realtime_conformance(store: &dyn RealtimeStore) -> anyhow::Result<()> {
    let session = |id: &str, owner: Option<KeyId>, started_at_ms| RealtimeSessionRecord {
        id: id.to_owned(),
        status: "active".into(),
        protocol: "native".into(),
        owner_key_id: owner,
        model: "whisper-base".into(),
        language: Some("en".into()),
        encoding: "pcm_s16le".into(),
        sample_rate_hz: 16_000,
        audio_secs: 0.0,
        speech_secs: 0.0,
        utterances: 0,
        words: 0,
        end_reason: None,
        error: None,
        enhancement_job_id: None,
        started_at_ms,
        ended_at_ms: None,
    };
    store
        .insert_realtime_session(&session("rt_1", Some(key_id(1)), 1_000))
        .await?;
    store
        .insert_realtime_session(&session("rt_2", None, 2_000))
        .await?;
    let end = RealtimeSessionEnd {
        status: "completed".into(),
        audio_secs: 11.5,
        speech_secs: 10.25,
        utterances: 2,
        words: 22,
        end_reason: "completed".into(),
        error: None,
        enhancement_job_id: Some("job_x".into()),
        ended_at_ms: 13_000,
    };
    ensure!(store.end_realtime_session("rt_1", &end).await?);
    ensure!(
        !store.end_realtime_session("rt_1", &end).await?,
        "an ended session ends once"
    );
    let ended = store
        .get_realtime_session("rt_1")
        .await?
        .context("rt_1 stored")?;
    assert_eq!(
        ended,
        RealtimeSessionRecord {
            status: "completed".into(),
            audio_secs: 11.5,
            speech_secs: 10.25,
            utterances: 2,
            words: 22,
            end_reason: Some("completed".into()),
            enhancement_job_id: Some("job_x".into()),
            ended_at_ms: Some(13_000),
            ..session("rt_1", Some(key_id(1)), 1_000)
        }
    );
    let all: Vec<String> = store
        .list_realtime_sessions(None, 10)
        .await?
        .into_iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(all, ["rt_2", "rt_1"]);
    let mine = store.list_realtime_sessions(Some(&key_id(1)), 10).await?;
    assert_eq!(mine.len(), 1);
    ensure!(store.get_realtime_session("rt_9").await?.is_none());

    store
        .insert_single_use_token("hash_a", Some(&key_id(1)), "realtime_scribe", 5_000)
        .await?;
    ensure!(
        store
            .consume_single_use_token("hash_a", "other", 1_000)
            .await?
            .is_none(),
        "a token is only for its purpose"
    );
    assert_eq!(
        store
            .consume_single_use_token("hash_a", "realtime_scribe", 1_000)
            .await?,
        Some(Some(key_id(1)))
    );
    ensure!(
        store
            .consume_single_use_token("hash_a", "realtime_scribe", 1_001)
            .await?
            .is_none(),
        "a token is used once"
    );
    store
        .insert_single_use_token("hash_b", None, "realtime_scribe", 5_000)
        .await?;
    ensure!(
        store
            .consume_single_use_token("hash_b", "realtime_scribe", 5_000)
            .await?
            .is_none(),
        "an expired token is refused"
    );
    Ok(())
}
