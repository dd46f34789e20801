//! The distributed mode with real processes: `dalston gateway`, `dalston orchestrator` and
//! `dalston engine --stage S` on a private PostgreSQL, Redis and S3 (moto), each process killed
//! with SIGKILL at the worst moment. Every test prints its figures (jobs, kills, duplicates,
//! time to recover) with `--nocapture`.
//!
//! The tests skip when a backend cannot be started here, and fail under `CI=true`.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

mod support;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dalston_core::wer::word_error_rate;
use dalston_testkit::{TestPostgres, TestRedis, TestS3};
use serde_json::Value;
use support::{ADMIN_KEY, JFK_TEXT, free_port, home_cache, is_finished, job, test_data};

/// The short LibriVox clip the load tests send, and what it says.
const SHORT_CLIP: &str = "librivox/sense_and_sensibility_01_austen_64kb-0880.wav";
const SHORT_TEXT: &str = "he was not an ill disposed young man";
const MODEL: &str = "whisper-tiny.en";
const BUCKET: &str = "dalston-cluster";

/// One `dalston` process of the cluster; SIGKILLed when dropped.
struct Process {
    child: Child,
}

impl Process {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The backends of one test and a way to start processes on them.
struct Cluster {
    redis: TestRedis,
    _postgres: TestPostgres,
    s3: TestS3,
    database_url: String,
    dir: tempfile::TempDir,
    lease_secs: u64,
}

impl Cluster {
    /// `None` when a backend cannot run here (the harness says why; CI fails instead).
    async fn start(lease_secs: u64) -> Option<Self> {
        let postgres = TestPostgres::start().expect("start PostgreSQL")?;
        let redis = TestRedis::start().expect("start Redis")?;
        let s3 = TestS3::start().expect("start moto")?;
        s3.create_bucket(BUCKET).expect("bucket");
        let database_url = postgres.create_database().await.expect("database");
        Some(Self {
            redis,
            _postgres: postgres,
            s3,
            database_url,
            dir: tempfile::tempdir().expect("tempdir"),
            lease_secs,
        })
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn spawn(&self, name: &str, args: &[&str]) -> Process {
        let log = File::create(self.log_path(name)).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_dalston"))
            .args(args)
            .env("DALSTON_DATA_DIR", self.dir.path().join(name))
            .env(
                "DALSTON_MODELS_DIR",
                home_cache("models", "DALSTON_MODELS_DIR"),
            )
            .env("DALSTON_DATABASE_URL", &self.database_url)
            .env("DALSTON_QUEUE_URL", self.redis.url())
            .env("DALSTON_STORAGE_URL", format!("s3://{BUCKET}/cluster"))
            .env("DALSTON_S3__ENDPOINT", self.s3.endpoint())
            .env("DALSTON_S3__ACCESS_KEY_ID", "test")
            .env("DALSTON_S3__SECRET_ACCESS_KEY", "test")
            .env("DALSTON_ADMIN_KEY", ADMIN_KEY)
            .env("DALSTON_ENGINE__DEFAULT_MODEL", MODEL)
            .env("DALSTON_ENGINE__THREADS", "1")
            .env("DALSTON_ENGINE__LEASE_SECS", self.lease_secs.to_string())
            .env("DALSTON_LIMITS__MAX_ACTIVE_JOBS_PER_KEY", "10000")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dalston");
        Process { child }
    }

    fn orchestrator(&self, name: &str) -> Process {
        self.spawn(name, &["orchestrator"])
    }

    fn engine(&self, name: &str, stage: &str) -> Process {
        self.spawn(name, &["engine", "--stage", stage])
    }

    /// A gateway on `port`, returned once it answers.
    fn gateway(&self, name: &str, port: u16) -> Process {
        let process = self.spawn(name, &["gateway", "--port", &port.to_string()]);
        assert!(
            support::wait_for_port(port, Duration::from_secs(60)),
            "gateway did not listen: {}",
            self.log(name)
        );
        process
    }

    /// A gateway on a free port and a client of it, returned once the cluster is ready.
    async fn ready_gateway(&self, within: Duration) -> (Process, Client) {
        let port = free_port();
        let gateway = self.gateway("gateway", port);
        let client = Client::new(port);
        client.wait_ready(self, within).await;
        (gateway, client)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// How many times each task was recorded completed by the engines, from their logs.
    fn completions(&self, engines: &[&str]) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for name in engines {
            for line in self
                .log(name)
                .lines()
                .filter(|l| l.contains("task completed"))
            {
                if let Some(task) = line
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '='))
                    .find_map(|field| field.strip_prefix("task_id="))
                {
                    *counts.entry(task.to_owned()).or_insert(0) += 1;
                }
            }
        }
        counts
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(port: u16) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until every stage has a live engine.
    async fn wait_ready(&self, cluster: &Cluster, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ready = self
                .http
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .ok();
            if let Some(response) = ready {
                if response.status() == 200 {
                    return;
                }
                if Instant::now() > deadline {
                    panic!(
                        "not ready: {}\n{}",
                        response.text().await.unwrap_or_default(),
                        cluster.log("gateway")
                    );
                }
            }
            assert!(Instant::now() < deadline, "gateway never answered /ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn submit(&self, audio: &[u8]) -> String {
        let form = reqwest::multipart::Form::new().text("model", MODEL).part(
            "file",
            reqwest::multipart::Part::bytes(audio.to_vec()).file_name("clip.wav"),
        );
        let response = self
            .http
            .post(format!("{}/v1/audio/transcriptions", self.base))
            .bearer_auth(ADMIN_KEY)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let created: Value = response.json().await.expect("json");
        created["id"].as_str().expect("id").to_owned()
    }

    async fn job(&self, id: &str) -> Value {
        job(&self.http, &self.base, id).await
    }

    /// Polls until every job is finished; their final states.
    async fn wait_finished(&self, ids: &[String], within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut finished: BTreeMap<String, Value> = BTreeMap::new();
        while finished.len() < ids.len() {
            let pending: Vec<&String> = ids
                .iter()
                .filter(|id| !finished.contains_key(*id))
                .collect();
            for id in pending {
                let state = self.job(id).await;
                if is_finished(&state) {
                    finished.insert(id.clone(), state);
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} of {} jobs finished in {within:?}",
                finished.len(),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ids.iter().filter_map(|id| finished.remove(id)).collect()
    }
}

fn stage<'a>(job: &'a Value, name: &str) -> &'a Value {
    job["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|s| s["stage"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn an_engine_killed_mid_task_is_replaced_and_the_job_completes() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let _orchestrator = cluster.orchestrator("orchestrator");
    let _prepare = cluster.engine("prepare", "prepare");
    let _merge = cluster.engine("merge", "merge");
    let mut doomed = cluster.engine("transcribe-a", "transcribe");
    let (_gateway, client) = cluster.ready_gateway(Duration::from_secs(120)).await;

    let audio = std::fs::read(test_data("jfk.wav")).expect("jfk");
    let id = client.submit(&audio).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = client.job(&id).await;
        if stage(&state, "transcribe")["status"] == "running" {
            break;
        }
        assert!(!is_finished(&state), "finished before the kill: {state}");
        assert!(
            Instant::now() < deadline,
            "transcribe never started: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.kill();
    let killed_at = Instant::now();
    let _replacement = cluster.engine("transcribe-b", "transcribe");

    let finished = client
        .wait_finished(std::slice::from_ref(&id), Duration::from_secs(180))
        .await;
    let recovered = killed_at.elapsed();
    let state = &finished[0];
    assert_eq!(state["status"], "completed", "{state}");
    assert!(
        stage(state, "transcribe")["attempts"].as_u64() >= Some(2),
        "the task ran again: {state}"
    );
    let text = state["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.15, "{text}");
    let completions = cluster.completions(&["transcribe-a", "transcribe-b"]);
    assert_eq!(
        completions.values().sum::<u32>(),
        1,
        "the killed engine never completed it; its replacement did, once: {completions:?}"
    );
    eprintln!(
        "engine kill: 1 job, 1 kill, 0 duplicates, completed {recovered:?} after the kill (lease {} s)",
        cluster.lease_secs
    );
}

#[tokio::test]
async fn an_orchestrator_killed_and_restarted_loses_no_job() {
    let Some(cluster) = Cluster::start(5).await else {
        return;
    };
    let mut first = cluster.orchestrator("orchestrator-1");
    let _prepare = cluster.engine("prepare", "prepare");
    let _transcribe = cluster.engine("transcribe", "transcribe");
    let _merge = cluster.engine("merge", "merge");
    let (_gateway, client) = cluster.ready_gateway(Duration::from_secs(120)).await;

    let audio = std::fs::read(test_data(SHORT_CLIP)).expect("clip");
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(client.submit(&audio).await);
    }
    first.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut unfinished = 0;
    for id in &ids {
        if !is_finished(&client.job(id).await) {
            unfinished += 1;
        }
    }
    assert!(
        unfinished > 0,
        "every job finished before the orchestrator was killed"
    );
    let restarted_at = Instant::now();
    let _second = cluster.orchestrator("orchestrator-2");
    let finished = client.wait_finished(&ids, Duration::from_secs(300)).await;
    let recovered = restarted_at.elapsed();
    for state in &finished {
        assert_eq!(state["status"], "completed", "{state}");
    }
    eprintln!(
        "orchestrator kill: {} jobs, 1 kill, {unfinished} unfinished at the kill, all completed {recovered:?} after the restart",
        ids.len()
    );
}

#[tokio::test]
async fn a_gateway_killed_during_an_upload_leaves_no_half_written_job() {
    let Some(cluster) = Cluster::start(5).await else {
        return;
    };
    let _orchestrator = cluster.orchestrator("orchestrator");
    let _prepare = cluster.engine("prepare", "prepare");
    let _transcribe = cluster.engine("transcribe", "transcribe");
    let _merge = cluster.engine("merge", "merge");
    let port = free_port();
    let mut gateway = cluster.gateway("gateway", port);
    let client = Client::new(port);
    client.wait_ready(&cluster, Duration::from_secs(120)).await;
    let audio = std::fs::read(test_data(SHORT_CLIP)).expect("clip");
    let whole = client.submit(&audio).await;

    // An upload that sends half a file and then stalls until the gateway dies under it.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let part = reqwest::multipart::Part::stream(body).file_name("clip.wav");
    let form = reqwest::multipart::Form::new()
        .text("model", MODEL)
        .part("file", part);
    let upload = {
        let http = client.http.clone();
        let url = format!("{}/v1/audio/transcriptions", client.base);
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(ADMIN_KEY)
                .multipart(form)
                .send()
                .await
        })
    };
    sender
        .send(Ok(audio[..audio.len() / 2].to_vec()))
        .await
        .expect("first half");
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.kill();
    let outcome = upload.await.expect("upload task");
    assert!(
        outcome.is_err(),
        "the cut upload cannot have succeeded: {outcome:?}"
    );
    drop(sender);

    let _gateway = cluster.gateway("gateway-2", port);
    let client = Client::new(port);
    let listed: Value = client
        .http
        .get(format!("{}/v1/audio/transcriptions?limit=100", client.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let jobs = listed["jobs"].as_array().expect("jobs");
    let ids: Vec<&str> = jobs.iter().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(
        ids,
        [whole.as_str()],
        "only the whole upload became a job: {listed}"
    );
    let finished = client
        .wait_finished(std::slice::from_ref(&whole), Duration::from_secs(120))
        .await;
    assert_eq!(finished[0]["status"], "completed", "{}", finished[0]);
    eprintln!("gateway kill: 1 upload cut, 1 kill, 0 half-written jobs, 1 whole job completed");
}

/// A byte stream for reqwest from a channel.
fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn workers_reconnect_after_redis_restarts() {
    let Some(mut cluster) = Cluster::start(5).await else {
        return;
    };
    let _orchestrator = cluster.orchestrator("orchestrator");
    let _prepare = cluster.engine("prepare", "prepare");
    let _transcribe = cluster.engine("transcribe", "transcribe");
    let _merge = cluster.engine("merge", "merge");
    let (_gateway, client) = cluster.ready_gateway(Duration::from_secs(120)).await;
    let audio = std::fs::read(test_data(SHORT_CLIP)).expect("clip");
    let before = client.submit(&audio).await;
    client
        .wait_finished(std::slice::from_ref(&before), Duration::from_secs(120))
        .await;

    cluster.redis.kill();
    // Accepted while Redis is away: the job is in PostgreSQL, its first task is queued once the
    // orchestrator reaches Redis again.
    let during = client.submit(&audio).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.redis.restart().expect("Redis restarts");
    let back_at = Instant::now();
    let after = client.submit(&audio).await;
    let finished = client
        .wait_finished(&[during.clone(), after.clone()], Duration::from_secs(180))
        .await;
    let recovered = back_at.elapsed();
    for state in &finished {
        assert_eq!(state["status"], "completed", "{state}");
        let text = state["text"].as_str().unwrap_or_default();
        assert!(word_error_rate(SHORT_TEXT, text) <= 0.25, "{text}");
    }
    eprintln!(
        "redis restart: 3 jobs (1 submitted while Redis was down), 1 kill, both later jobs completed {recovered:?} after Redis came back"
    );
}

/// How many jobs the load test sends (`DALSTON_LOAD_JOBS`; default 200, which took about twelve
/// minutes on a busy two-core machine; set fewer for a quick run).
fn load_jobs() -> usize {
    std::env::var("DALSTON_LOAD_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

#[tokio::test]
async fn many_jobs_through_one_gateway_and_three_engines_each_run_exactly_once() {
    let Some(cluster) = Cluster::start(30).await else {
        return;
    };
    let _orchestrator = cluster.orchestrator("orchestrator");
    let _prepare = cluster.engine("prepare", "prepare");
    let _merge = cluster.engine("merge", "merge");
    let transcribers = ["transcribe-1", "transcribe-2", "transcribe-3"];
    let _engines: Vec<Process> = transcribers
        .iter()
        .map(|name| cluster.engine(name, "transcribe"))
        .collect();
    let (_gateway, client) = cluster.ready_gateway(Duration::from_secs(180)).await;

    // Ready means every stage has one engine; the three transcribers load their model apart.
    let deadline = Instant::now() + Duration::from_secs(180);
    let engines = loop {
        let engines: Value = client
            .http
            .get(format!("{}/v1/engines", client.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("engines")
            .json()
            .await
            .expect("json");
        let count = engines["engines"].as_array().map_or(0, Vec::len);
        if count >= 5 || Instant::now() > deadline {
            break engines;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let listed = engines["engines"].as_array().expect("engines");
    let transcribe_engines: Vec<&Value> = listed
        .iter()
        .filter(|e| e["stage"] == "transcribe")
        .collect();
    assert_eq!(transcribe_engines.len(), 3, "{engines}");
    assert_eq!(listed.len(), 5, "{engines}");
    for engine in &transcribe_engines {
        assert!(
            engine["models"]
                .as_array()
                .is_some_and(|models| models.iter().any(|m| m == MODEL)),
            "{engine}"
        );
        assert!(
            engine["last_heartbeat_at_ms"].as_i64() > Some(0),
            "{engine}"
        );
        assert_eq!(engine["capacity"], 1, "{engine}");
    }

    let audio = std::fs::read(test_data(SHORT_CLIP)).expect("clip");
    let jobs = load_jobs();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        ids.push(client.submit(&audio).await);
    }
    let submitted = started.elapsed();
    let finished = client.wait_finished(&ids, Duration::from_secs(1800)).await;
    let elapsed = started.elapsed();
    let mut task_ids = Vec::new();
    for state in &finished {
        assert_eq!(state["status"], "completed", "{state}");
        let text = state["text"].as_str().unwrap_or_default();
        assert!(word_error_rate(SHORT_TEXT, text) <= 0.25, "{text}");
        for stage in state["stages"].as_array().expect("stages") {
            assert_eq!(stage["attempts"], 1, "{state}");
            task_ids.push(stage["task_id"].as_str().expect("task id").to_owned());
        }
    }
    let mut names = vec!["prepare", "merge"];
    names.extend(transcribers);
    let completions = cluster.completions(&names);
    let duplicates: u32 = completions.values().map(|n| n.saturating_sub(1)).sum();
    let missing: Vec<&String> = task_ids
        .iter()
        .filter(|id| !completions.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "tasks without a recorded completion: {missing:?}"
    );
    assert_eq!(
        duplicates, 0,
        "tasks completed more than once: {completions:?}"
    );
    assert_eq!(completions.len(), task_ids.len());
    let per_engine: Vec<usize> = transcribers
        .iter()
        .map(|name| cluster.completions(&[name]).len())
        .collect();
    assert!(
        per_engine.iter().all(|n| *n > 0),
        "every transcribe engine took work: {per_engine:?}"
    );
    eprintln!(
        "load: {jobs} jobs ({} tasks) through 1 gateway + 3 transcribe engines: all completed once, \
         0 duplicates, transcribe tasks per engine {per_engine:?}, submitted in {submitted:?}, all done in {elapsed:?}",
        task_ids.len()
    );
}
