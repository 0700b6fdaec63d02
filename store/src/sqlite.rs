//! The embedded backend: one SQLite file in WAL mode, shared by the scraper, the server
//! and the CLI (even across containers through a bind mount).
//!
//! One writer connection behind a mutex and a small pool of readers; every call runs on
//! tokio's blocking pool. Errors name the file and say what to do.

mod docs;
mod logs;
mod metrics;
mod queue;
mod schema;
mod search;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::model::*;
use crate::query::*;
use crate::{Result, Store, StoreError};

/// How long a call waits for another process's write lock before giving up.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Readers kept open; more are opened on demand and dropped when returned past this.
const MAX_IDLE_READERS: usize = 4;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    series: Mutex<metrics::SeriesCache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot create directory {}: {e}", dir.display()),
            })?;
        }
        if path.is_dir() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "it is a directory, not a database file".into(),
            });
        }
        // Two processes creating the same new file at once (compose starts the scraper and
        // the server together) can briefly see I/O or lock errors while the other switches
        // it to WAL and migrates; a few bounded retries ride that out.
        let mut attempt = 0;
        let writer = loop {
            let opened = open_conn(path, false).and_then(|mut w| {
                schema::migrate(&mut w).map_err(|e| map_err(path, e))?;
                Ok(w)
            });
            match opened {
                Ok(w) => break w,
                Err(e @ (StoreError::Locked { .. } | StoreError::Unavailable(_)))
                    if attempt < 10 =>
                {
                    tracing::debug!(error = %e, attempt, "retrying store open");
                    attempt += 1;
                    std::thread::sleep(StdDuration::from_millis(100 * attempt));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                series: Mutex::new(metrics::SeriesCache::default()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let conn = {
                let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
                pool.pop()
            };
            let conn = match conn {
                Some(c) => c,
                None => open_conn(&inner.path, true)?,
            };
            let out = f(&conn).map_err(|e| map_err(&inner.path, e));
            let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            out
        })
        .await
    }

    /// Runs `f` inside an IMMEDIATE transaction on the writer connection.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, &Inner) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| map_err(&inner.path, e))?;
            match f(&tx, &inner) {
                Ok(v) => {
                    tx.commit().map_err(|e| map_err(&inner.path, e))?;
                    Ok(v)
                }
                Err(e) => {
                    // The transaction rolls back on drop; the series cache may now hold
                    // ids of rows that were never committed, so forget it.
                    drop(tx);
                    inner
                        .series
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clear();
                    Err(map_err(&inner.path, e))
                }
            }
        })
        .await
    }
}

async fn run_blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

fn open_conn(path: &Path, reader: bool) -> Result<Connection> {
    // Readers open read-write (without create) and set query_only: a read-only open of a
    // WAL database trips over the shared-memory file in some setups.
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if !reader {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| map_err(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map_err(path, e))?;
    if reader {
        conn.execute_batch("PRAGMA query_only=1;")
            .map_err(|e| map_err(path, e))?;
    } else {
        // journal_mode is persistent in the file; setting it is also the first real read
        // of the header, so a corrupt or foreign file fails here with a clear error.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| map_err(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: format!(
                    "could not switch to WAL mode (got {mode}); is the file on a network filesystem?"
                ),
            });
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| map_err(path, e))?;
    }
    Ok(conn)
}

/// Maps a SQLite error to one that names the file and the remedy.
fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let reason = msg.clone().unwrap_or_else(|| f.to_string());
        return match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Locked { path },
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                StoreError::Corrupt { path, reason }
            }
            ErrorCode::ReadOnly => StoreError::ReadOnly {
                path,
                reason: format!("{reason} (check the file's and its directory's permissions)"),
            },
            ErrorCode::CannotOpen => StoreError::Open {
                path,
                reason: format!("{reason} (does the directory exist and is it writable?)"),
            },
            ErrorCode::PermissionDenied => StoreError::ReadOnly { path, reason },
            ErrorCode::ConstraintViolation => StoreError::Conflict(reason),
            ErrorCode::DiskFull => {
                StoreError::Unavailable(format!("disk full writing {}", path.display()))
            }
            ErrorCode::SystemIoFailure => {
                StoreError::Unavailable(format!("I/O error on {}: {reason}", path.display()))
            }
            _ => StoreError::Backend(format!("{}: {reason}", path.display())),
        };
    }
    match e {
        rusqlite::Error::QueryReturnedNoRows => {
            StoreError::Backend("expected a row, found none".into())
        }
        other => StoreError::Backend(format!("{}: {other}", path.display())),
    }
}

/// Milliseconds since the epoch, the time format of every table.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// JSON (de)serialisation failures inside a transaction, as rusqlite errors.
pub(crate) fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(json_err)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.inner.path.display())
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
            .await
    }

    async fn put_metrics(&self, docs: &[Metric]) -> Result<usize> {
        let docs = docs.to_vec();
        self.write(move |tx, inner| metrics::insert(tx, &inner.series, &docs))
            .await
    }

    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries> {
        validate_metric_query(q)?;
        let q = q.clone();
        self.read(move |c| metrics::query(c, &q)).await
    }

    async fn metric_samples(
        &self,
        service: &str,
        metric_type: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>> {
        let service = service.to_string();
        self.read(move |c| metrics::samples(c, &service, metric_type, range, limit))
            .await
    }

    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.read(move |c| metrics::services(c, since)).await
    }

    async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<RetentionReport> {
        self.write(move |tx, _| {
            let mut r = metrics::retain(tx, now, retention)?;
            r.logs_deleted = logs::retain(tx, now - retention.logs)?;
            Ok(r)
        })
        .await
    }

    async fn put_logs(&self, docs: &[LogLine]) -> Result<usize> {
        let docs = docs.to_vec();
        self.write(move |tx, _| logs::insert(tx, &docs)).await
    }

    async fn search_logs(&self, q: &LogQuery) -> Result<Page<LogLine>> {
        let q = q.clone();
        self.read(move |c| logs::search(c, &q)).await
    }

    async fn count_logs(
        &self,
        service: Option<&str>,
        min_level: Level,
        range: TimeRange,
    ) -> Result<Vec<LogCount>> {
        let service = service.map(str::to_string);
        self.read(move |c| logs::counts(c, service.as_deref(), min_level, range))
            .await
    }

    async fn delete_scenario_data(&self, service: &str) -> Result<u64> {
        let service = service.to_string();
        self.write(move |tx, inner| {
            let m = metrics::delete_scenario(tx, &service)?;
            inner
                .series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            let l = logs::delete_scenario(tx, &service)?;
            let d = tx.execute(
                "DELETE FROM deployments WHERE service = ?1 AND by_who = 'scenario'",
                [&service],
            )? as u64;
            Ok(m + l + d)
        })
        .await
    }

    async fn put_incident(&self, doc: &Incident) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_incident(tx, &doc, true).map(|_| ()))
            .await
    }

    async fn insert_incident_if_absent(&self, doc: &Incident) -> Result<bool> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_incident(tx, &doc, false))
            .await
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "incidents", "id", &id))
            .await
    }

    async fn list_incidents(&self, f: &IncidentFilter) -> Result<Page<Incident>> {
        let f = f.clone();
        self.read(move |c| docs::list_incidents(c, &f)).await
    }

    async fn similar_incidents(&self, q: &SimilarQuery) -> Result<Vec<Scored<Incident>>> {
        let q = q.clone();
        self.read(move |c| search::incidents(c, &q)).await
    }

    async fn put_runbook(&self, doc: &Runbook) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_runbook(tx, &doc, true).map(|_| ()))
            .await
    }

    async fn insert_runbook_if_absent(&self, doc: &Runbook) -> Result<bool> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_runbook(tx, &doc, false))
            .await
    }

    async fn get_runbook(&self, id: &str) -> Result<Option<Runbook>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "runbooks", "id", &id))
            .await
    }

    async fn list_runbooks(&self, limit: usize) -> Result<Page<Runbook>> {
        self.read(move |c| docs::list_runbooks(c, limit)).await
    }

    async fn relevant_runbooks(&self, q: &SimilarQuery) -> Result<Vec<Scored<Runbook>>> {
        let q = q.clone();
        self.read(move |c| search::runbooks(c, &q)).await
    }

    async fn put_decision(&self, doc: &Decision) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_decision(tx, &doc)).await
    }

    async fn list_decisions(&self, f: &DecisionFilter) -> Result<Page<Decision>> {
        let f = f.clone();
        self.read(move |c| docs::list_decisions(c, &f)).await
    }

    async fn put_deployment(&self, doc: &Deployment) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_deployment(tx, &doc))
            .await
    }

    async fn list_deployments(&self, f: &DeploymentFilter) -> Result<Page<Deployment>> {
        let f = f.clone();
        self.read(move |c| docs::list_deployments(c, &f)).await
    }

    async fn put_audit(&self, doc: &AuditRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_audit(tx, &doc)).await
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditRecord>> {
        let f = f.clone();
        self.read(move |c| docs::list_audit(c, &f)).await
    }

    async fn find_plan(&self, plan_id: &str) -> Result<Option<AuditRecord>> {
        let plan_id = plan_id.to_string();
        self.read(move |c| docs::find_plan(c, &plan_id)).await
    }

    async fn enqueue_action(&self, doc: &RemediationAction) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| queue::enqueue(tx, &doc)).await
    }

    async fn get_action(&self, exec_id: &str) -> Result<Option<RemediationAction>> {
        let id = exec_id.to_string();
        self.read(move |c| docs::get_doc(c, "actions", "exec_id", &id))
            .await
    }

    async fn list_actions(&self, f: &ActionFilter) -> Result<Page<RemediationAction>> {
        let f = f.clone();
        self.read(move |c| queue::list(c, &f)).await
    }

    async fn claim_action(&self, claim: &Claim) -> Result<Option<RemediationAction>> {
        let claim = claim.clone();
        self.write(move |tx, _| queue::claim(tx, &claim)).await
    }

    async fn renew_lease(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let (id, runner) = (exec_id.to_string(), runner_id.to_string());
        self.write(move |tx, _| queue::renew(tx, &id, &runner, until))
            .await
    }

    async fn complete_action(&self, runner_id: &str, result: &RemediationResult) -> Result<bool> {
        let (runner, result) = (runner_id.to_string(), result.clone());
        self.write(move |tx, _| queue::complete(tx, &runner, &result))
            .await
    }

    async fn get_result(&self, exec_id: &str) -> Result<Option<RemediationResult>> {
        let id = exec_id.to_string();
        self.read(move |c| docs::get_doc(c, "results", "exec_id", &id))
            .await
    }

    async fn queue_depth(&self) -> Result<u64> {
        self.read(queue::depth).await
    }

    async fn take_budget(
        &self,
        key: &str,
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<BudgetDecision> {
        let key = key.to_string();
        self.write(move |tx, _| queue::take_budget(tx, &key, max, window, now))
            .await
    }

    async fn budget_used(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u32> {
        let key = key.to_string();
        self.read(move |c| queue::budget_used(c, &key, window, now))
            .await
    }

    async fn observe_start(&self, service: &str, started_at: DateTime<Utc>) -> Result<u64> {
        let service = service.to_string();
        self.write(move |tx, _| queue::observe_start(tx, &service, started_at))
            .await
    }

    async fn put_fault(&self, doc: &FaultRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_fault(tx, &doc)).await
    }

    async fn active_faults(&self) -> Result<Vec<FaultRecord>> {
        self.read(docs::active_faults).await
    }

    async fn get_fault(&self, id: &str) -> Result<Option<FaultRecord>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "faults", "id", &id))
            .await
    }
}

fn validate_metric_query(q: &MetricQuery) -> Result<()> {
    if q.range.to < q.range.from {
        return Err(StoreError::Invalid(
            "the range ends before it starts".into(),
        ));
    }
    if q.max_points > MAX_POINTS {
        return Err(StoreError::Invalid(format!(
            "max_points {} is too many: use 1 to {MAX_POINTS}",
            q.max_points
        )));
    }
    Ok(())
}
