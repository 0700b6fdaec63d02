//! The service's own log: one JSON object per line on stdout in the logs-quantumstate
//! shape (`@timestamp`, `service`, `region`, `level`, `message`, `trace_id`, `error_code`).

pub mod ratelimit;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use ratelimit::{Decision, RateLimiter};

/// Severity vocabulary of seed 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Info,
    Warn,
    Error,
    Critical,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    service: &'a str,
    region: &'a str,
    level: Level,
    message: &'a str,
    trace_id: Option<&'a str>,
    error_code: Option<&'a str>,
}

type Sink = Box<dyn Write + Send>;

struct Inner {
    service: String,
    region: String,
    sink: Mutex<Sink>,
    limiter: Mutex<RateLimiter>,
}

/// Cheap handle to the log; every component holds a clone.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Inner>,
}

impl Logger {
    /// A logger writing to stdout.
    pub fn stdout(service: &str, region: &str) -> Logger {
        Logger::with_sink(service, region, Box::new(std::io::stdout()))
    }

    /// A logger writing to any sink (tests capture lines this way).
    pub fn with_sink(service: &str, region: &str, sink: Sink) -> Logger {
        Logger {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                region: region.to_owned(),
                sink: Mutex::new(sink),
                limiter: Mutex::new(RateLimiter::default()),
            }),
        }
    }

    pub fn info(&self, message: &str) {
        self.write(Level::Info, message, None, None);
    }

    /// Logs one event. WARN and above with an error code go through the rate limiter.
    pub fn event(&self, level: Level, code: Option<&str>, trace_id: Option<&str>, message: &str) {
        let Some(code) = code.filter(|_| level >= Level::Warn) else {
            self.write(level, message, trace_id, code);
            return;
        };
        let now = Utc::now().timestamp().max(0) as u64;
        let decision = self
            .inner
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(code, now);
        match decision {
            Decision::Drop => {}
            Decision::Emit {
                suppressed_before: 0,
            } => self.write(level, message, trace_id, Some(code)),
            Decision::Emit { suppressed_before } => {
                let message = format!("{message} (suppressed {suppressed_before} similar)");
                self.write(level, &message, trace_id, Some(code));
            }
        }
    }

    /// Reports lines the rate limiter dropped in earlier seconds; called once a second.
    pub fn flush_suppressed(&self) {
        let now = Utc::now().timestamp().max(0) as u64;
        let stale = self
            .inner
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain_stale(now);
        for (code, count) in stale {
            let message = format!(
                "suppressed {count} similar {code} lines (at most 5 per second are logged)"
            );
            self.write(Level::Warn, &message, None, Some(&code));
        }
    }

    fn write(&self, level: Level, message: &str, trace_id: Option<&str>, code: Option<&str>) {
        let line = Line {
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            service: &self.inner.service,
            region: &self.inner.region,
            level,
            message,
            trace_id,
            error_code: code,
        };
        let Ok(mut text) = serde_json::to_vec(&line) else {
            return;
        };
        text.push(b'\n');
        let mut sink = self
            .inner
            .sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A closed stdout must not take the service down; the line is lost, nothing else.
        let _ = sink.write_all(&text).and_then(|()| sink.flush());
    }
}

/// A clonable in-memory sink, for tests that read back what was logged.
#[derive(Clone, Default)]
pub struct MemorySink(pub Arc<Mutex<Vec<u8>>>);

impl MemorySink {
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Write for MemorySink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shape() {
        let sink = MemorySink::default();
        let log = Logger::with_sink("payment-service", "us-east-1", Box::new(sink.clone()));
        log.info("started");
        log.event(
            Level::Error,
            Some("HEAP_PRESSURE"),
            Some("trace-1"),
            "heap 81 %",
        );
        let lines = sink.lines();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["service"], "payment-service");
        assert_eq!(first["region"], "us-east-1");
        assert_eq!(first["level"], "INFO");
        assert!(first["error_code"].is_null());
        assert!(first["trace_id"].is_null());
        let ts = first["@timestamp"].as_str().unwrap();
        // RFC 3339, UTC, microseconds: 2026-02-13T14:32:00.123456Z
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z'));
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(lines[1]["error_code"], "HEAP_PRESSURE");
        assert_eq!(lines[1]["trace_id"], "trace-1");
    }

    #[test]
    fn identical_errors_are_rate_limited() {
        let sink = MemorySink::default();
        let log = Logger::with_sink("s", "r", Box::new(sink.clone()));
        for _ in 0..50 {
            log.event(Level::Error, Some("INTERNAL_SERVER_ERROR"), None, "boom");
        }
        // At most 5 per second, and the burst can straddle one second boundary.
        let n = sink.lines().len();
        assert!((5..=10).contains(&n), "{n} lines");
    }
}
