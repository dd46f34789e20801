//! The two configurations the API tests run on, from one source: [`on_both_deployments!`] turns
//! each backend-independent test body into `embedded::<name>` and `distributed::<name>`.
//!
//! The distributed deployment runs the roles of the distributed mode (orchestrator, one engine
//! per stage, gateway) as separate [`Application`]s in the test process, each with a data dir of
//! its own, on PostgreSQL, Redis Streams and S3 (moto). PostgreSQL and moto take seconds to
//! start, so the tests running at the same time share one of each, with a database and a bucket
//! per test; Redis starts in milliseconds and each test has its own, as the queue's keys and the
//! event channel have fixed names. The distributed variants skip when a backend cannot run here
//! and fail under `CI=true` (the `dalston_testkit` convention).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use dalston_core::Stage;
use dalston_server::config::Config;
use dalston_server::{Application, Role};
use dalston_testkit::{TestPostgres, TestRedis, TestS3};
use secrecy::SecretString;
use sqlx::{Connection, PgConnection};

/// Runs each named `async fn(Deployment)` of the calling module as `embedded::<name>` and
/// `distributed::<name>`.
macro_rules! on_both_deployments {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::deployment::Deployment::Embedded).await;
                }
            )+
        }
        mod distributed {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(deployment) = $crate::deployment::Deployment::distributed().await
                    else {
                        return;
                    };
                    super::$name(deployment).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_deployments;

/// Where a test server keeps its state and how its parts reach each other.
#[derive(Default)]
pub enum Deployment {
    /// `dalston serve`: one [`Application`] on SQLite, the embedded queue and files.
    #[default]
    Embedded,
    /// The distributed roles on PostgreSQL, Redis and S3.
    Distributed(Backends),
}

/// The servers of one distributed test, and its database and bucket on the shared ones.
pub struct Backends {
    shared: Arc<Shared>,
    redis: TestRedis,
    database_url: String,
    bucket: String,
}

/// The servers the distributed tests running at the same time share.
struct Shared {
    postgres: TestPostgres,
    s3: TestS3,
    buckets: AtomicU32,
}

/// The shared servers while a test holds them; the last test to finish stops them, so nothing
/// outlives the test binary (statics are never dropped).
static SHARED: Mutex<Weak<Shared>> = Mutex::new(Weak::new());

/// The S3 key prefix the distributed tests store blobs under.
const S3_PREFIX: &str = "api";

impl Deployment {
    /// The distributed deployment, or `None` (the harness says why) when a backend cannot run
    /// here.
    ///
    /// # Panics
    /// Under `CI=true` when a backend is missing, and wherever one fails to start.
    pub async fn distributed() -> Option<Self> {
        let shared = {
            let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.upgrade() {
                Some(shared) => shared,
                None => {
                    let shared = Arc::new(Shared {
                        postgres: TestPostgres::start().expect("start PostgreSQL")?,
                        s3: TestS3::start().expect("start moto")?,
                        buckets: AtomicU32::new(0),
                    });
                    *slot = Arc::downgrade(&shared);
                    shared
                }
            }
        };
        let redis = TestRedis::start().expect("start Redis")?;
        let database_url = shared.postgres.create_database().await.expect("database");
        let bucket = format!("api-{}", shared.buckets.fetch_add(1, Ordering::Relaxed));
        shared.s3.create_bucket(&bucket).expect("bucket");
        Some(Self::Distributed(Backends {
            shared,
            redis,
            database_url,
            bucket,
        }))
    }

    /// Points `config` at this deployment's backends.
    pub fn configure(&self, config: &mut Config) {
        let Self::Distributed(backends) = self else {
            return;
        };
        config.database_url = Some(backends.database_url.clone());
        config.queue_url = Some(backends.redis.url());
        config.storage_url = Some(format!("s3://{}/{S3_PREFIX}", backends.bucket));
        config.s3.endpoint = Some(backends.shared.s3.endpoint());
        config.s3.access_key_id = Some("test".into());
        config.s3.secret_access_key = Some(SecretString::from("test"));
    }

    /// Builds what serves `config`: one application, or one per role (with a data dir each).
    pub async fn build(&self, config: &Config) -> Vec<Application> {
        let roles = match self {
            Self::Embedded => vec![(None, Role::All)],
            Self::Distributed(_) => distributed_roles(config.engine.run_engines)
                .into_iter()
                .map(|(name, role)| (Some(name), role))
                .collect(),
        };
        let mut built = Vec::new();
        for (name, role) in roles {
            let mut config = config.clone();
            if let Some(name) = name {
                config.data_dir = config.data_dir.join(name);
            }
            let app = Application::build_role(config, role)
                .await
                .unwrap_or_else(|error| panic!("the {role:?} role starts: {error:#}"));
            built.push(app);
        }
        built
    }

    /// The data dir of the process that signs per-job webhooks (the orchestrator's).
    pub fn orchestrator_data_dir(&self, data_dir: &Path) -> PathBuf {
        match self {
            Self::Embedded => data_dir.to_path_buf(),
            Self::Distributed(_) => data_dir.join("orchestrator"),
        }
    }

    /// Whether `needle` is stored anywhere in the metadata database: in the SQLite files, or in
    /// any row of any PostgreSQL table.
    pub async fn database_contains(&self, config: &Config, needle: &str) -> bool {
        match self {
            Self::Embedded => sqlite_contains(&config.data_dir, needle),
            Self::Distributed(backends) => postgres_contains(&backends.database_url, needle).await,
        }
    }

    /// The keys of every blob stored for jobs.
    pub async fn job_blobs(&self, config: &Config) -> Vec<String> {
        match self {
            Self::Embedded => walk_files(&config.data_dir.join("blobs/jobs")),
            Self::Distributed(backends) => {
                let prefix = format!("{S3_PREFIX}/jobs/");
                s3_keys(&backends.shared.s3, &backends.bucket, &prefix).await
            }
        }
    }
}

fn sqlite_contains(data_dir: &Path, needle: &str) -> bool {
    // Recent writes may still be in the write-ahead log.
    ["dalston.db", "dalston.db-wal"].iter().any(|name| {
        std::fs::read(data_dir.join(name)).is_ok_and(|bytes| {
            bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        })
    })
}

async fn postgres_contains(url: &str, needle: &str) -> bool {
    let mut connection = PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&mut connection)
            .await
            .expect("tables");
    assert!(!tables.is_empty(), "no tables in {url}");
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&mut connection)
        .await
        .expect("rows");
        if rows.iter().any(|row| row.contains(needle)) {
            return true;
        }
    }
    false
}

/// The keys under `prefix` in `bucket` (moto takes unsigned requests).
async fn s3_keys(s3: &TestS3, bucket: &str, prefix: &str) -> Vec<String> {
    let listing = reqwest::get(format!(
        "{}/{bucket}?list-type=2&prefix={prefix}",
        s3.endpoint()
    ))
    .await
    .expect("list the bucket")
    .error_for_status()
    .expect("listing")
    .text()
    .await
    .expect("listing body");
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect()
}

/// The roles a distributed deployment runs, each named for its data dir: the gateway, an engine
/// for every stage this build has one for (align has none), and the orchestrator. It comes last
/// because it starts the webhook deliverer: a test that restarts the deployment to show that a
/// delivery due soon survives it must not see the delivery while the engines load their models.
fn distributed_roles(run_engines: bool) -> Vec<(&'static str, Role)> {
    let mut roles = vec![("gateway", Role::Gateway)];
    if run_engines {
        for (name, stage) in [
            ("prepare", Stage::Prepare),
            ("transcribe", Stage::Transcribe),
            ("diarize", Stage::Diarize),
            ("merge", Stage::Merge),
        ] {
            roles.push((
                name,
                Role::Engine {
                    stage,
                    concurrency: 1,
                },
            ));
        }
    }
    roles.push(("orchestrator", Role::Orchestrator));
    roles
}

fn walk_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|entry| {
            if entry.path().is_dir() {
                walk_files(&entry.path())
            } else {
                vec![entry.path().display().to_string()]
            }
        })
        .collect()
}
