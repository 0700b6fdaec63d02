//! Connections to the database file: opened in WAL mode (the writer) or query-only (the
//! readers), with a busy timeout; SQLite errors turned into ones that name the file and
//! say what to do.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::{Result, StoreError};

/// How long a call waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn open_conn(path: &Path, reader: bool) -> Result<Connection> {
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
pub(super) fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
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
