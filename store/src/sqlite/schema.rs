//! The SQLite schema as numbered migrations, tracked in `PRAGMA user_version`.
//! A migration is never edited once released: changes are new entries at the end.

use rusqlite::Connection;

/// Each entry brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the nine collections, rollups, budgets and container-level faults.
    r#"
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        metric_type TEXT NOT NULL,
        region TEXT NOT NULL,
        unit TEXT NOT NULL,
        UNIQUE (service, metric_type)
    );
    CREATE TABLE metrics (
        series_id INTEGER NOT NULL REFERENCES series(id),
        ts INTEGER NOT NULL,
        value REAL NOT NULL,
        scenario INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX metrics_series_ts ON metrics (series_id, ts, value);
    CREATE INDEX metrics_ts ON metrics (ts);
    CREATE TABLE metric_rollups (
        series_id INTEGER NOT NULL,
        minute INTEGER NOT NULL,
        n INTEGER NOT NULL,
        vsum REAL NOT NULL,
        vmin REAL NOT NULL,
        vmax REAL NOT NULL,
        vfirst REAL NOT NULL,
        first_ts INTEGER NOT NULL,
        vlast REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        scenario INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (series_id, minute)
    ) WITHOUT ROWID;

    CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        service TEXT NOT NULL,
        region TEXT NOT NULL,
        level INTEGER NOT NULL,
        message TEXT NOT NULL,
        trace_id TEXT,
        error_code TEXT,
        source TEXT,
        dedup INTEGER NOT NULL UNIQUE
    );
    CREATE INDEX logs_service_ts ON logs (service, ts);
    CREATE INDEX logs_ts ON logs (ts);
    CREATE INDEX logs_code_ts ON logs (error_code, ts) WHERE error_code IS NOT NULL;
    CREATE VIRTUAL TABLE logs_fts USING fts5 (
        message, content = 'logs', content_rowid = 'id', tokenize = 'porter unicode61'
    );
    CREATE TRIGGER logs_ai AFTER INSERT ON logs BEGIN
        INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
    END;
    CREATE TRIGGER logs_ad AFTER DELETE ON logs BEGIN
        INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
    END;

    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        service TEXT NOT NULL,
        anomaly_type TEXT NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX incidents_ts ON incidents (ts);
    CREATE VIRTUAL TABLE incidents_fts USING fts5 (
        id UNINDEXED, service, anomaly, title, description, root_cause, actions_taken,
        tokenize = 'porter unicode61'
    );

    CREATE TABLE runbooks (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE runbooks_fts USING fts5 (
        id UNINDEXED, service, anomaly, title, symptoms, diagnosis, steps,
        tokenize = 'porter unicode61'
    );

    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        service TEXT NOT NULL,
        agent TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX decisions_ts ON decisions (ts);

    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        service TEXT NOT NULL,
        by_who TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX deployments_service_ts ON deployments (service, ts);

    CREATE TABLE audit (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        who TEXT NOT NULL,
        tool TEXT NOT NULL,
        service TEXT,
        outcome TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        plan_id TEXT,
        doc TEXT NOT NULL
    );
    CREATE INDEX audit_ts ON audit (ts);
    CREATE INDEX audit_plan ON audit (plan_id) WHERE plan_id IS NOT NULL;

    CREATE TABLE actions (
        exec_id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        service TEXT NOT NULL,
        status TEXT NOT NULL,
        runner_id TEXT,
        lease_until INTEGER,
        doc TEXT NOT NULL
    );
    CREATE INDEX actions_status_ts ON actions (status, ts);

    CREATE TABLE results (
        exec_id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        doc TEXT NOT NULL
    );

    CREATE TABLE budget_uses (
        key TEXT NOT NULL,
        ts INTEGER NOT NULL
    );
    CREATE INDEX budget_uses_key_ts ON budget_uses (key, ts);

    CREATE TABLE faults (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX faults_state ON faults (state, expires_at);

    CREATE TABLE container_starts (
        service TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        restarts INTEGER NOT NULL
    );
    "#,
    // 2: plans of dry runs and the approvals on them.
    r#"
    CREATE TABLE plans (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX plans_status_ts ON plans (status, ts);
    "#,
    // 3: tasks clients poll.
    r#"
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX tasks_status_ts ON tasks (status, ts);
    "#,
    // 4: sentence vectors of incidents and runbooks (hybrid search), and the outcome of
    // an incident's fix (verified or not, the runbook followed).
    r#"
    CREATE TABLE doc_vectors (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        vec BLOB NOT NULL,
        PRIMARY KEY (kind, id)
    );
    ALTER TABLE incidents ADD COLUMN verified INTEGER;
    ALTER TABLE incidents ADD COLUMN runbook_id TEXT;
    CREATE INDEX incidents_verified_runbook ON incidents (runbook_id) WHERE verified = 1;
    CREATE INDEX incidents_service ON incidents (service);
    "#,
    // 5: scenario samples by series and time, so a raw read learns whether its window
    // holds any without visiting the table.
    r#"
    CREATE INDEX metrics_scenario ON metrics (series_id, ts) WHERE scenario = 1;
    "#,
];

/// The schema version this build writes.
pub const VERSION: usize = MIGRATIONS.len();

/// Applies every migration the file has not seen, each in its own transaction.
/// A file from a newer build is refused rather than guessed at.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "schema version {current} is newer than this build's {VERSION}; upgrade quantumstate"
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now as usize > i {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
