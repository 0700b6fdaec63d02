//! Log shipping: one follower per managed container turns its stdout/stderr lines (JSON in
//! the logs-quantumstate shape, or plain text) into log documents. A follower resumes after
//! a container restart from its own cursor, and after a scraper restart from the newest
//! stored line; the store drops exact repeats, so nothing is stored twice and no gap opens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use quantumstate_fleet::{FleetError, RawLog};
use quantumstate_store::{Level, LogLine, LogQuery};
use serde_json::Value;

use crate::Scraper;

/// Longest message stored per line.
const MAX_MESSAGE: usize = 4_000;
/// Lines shipped per buffer push.
const CHUNK: usize = 200;
/// Longest a shipped line waits in a follower before it goes to the buffer.
const MAX_HOLD: Duration = Duration::from_millis(500);
/// How far back a follower starts when the store has nothing for the service.
const FIRST_LOOKBACK: chrono::Duration = chrono::Duration::minutes(10);

/// Parses one container line. JSON lines keep their own fields; anything else is a plain
/// message (stderr as WARN). The service is always the container's, whatever a line claims.
pub fn parse_line(service: &str, region: &str, raw: &RawLog) -> LogLine {
    let cap = |s: &str| -> String {
        if s.chars().count() > MAX_MESSAGE {
            s.chars().take(MAX_MESSAGE).collect()
        } else {
            s.to_string()
        }
    };
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&raw.line) {
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let level = s("level")
            .as_deref()
            .and_then(Level::parse)
            .unwrap_or(Level::Info);
        let timestamp = s("@timestamp")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(raw.at);
        return LogLine {
            timestamp,
            service: service.into(),
            region: s("region").unwrap_or_else(|| region.into()),
            level,
            message: cap(&s("message").unwrap_or_else(|| raw.line.clone())),
            trace_id: s("trace_id"),
            error_code: s("error_code"),
            source: None,
        };
    }
    LogLine {
        timestamp: raw.at,
        service: service.into(),
        region: region.into(),
        level: if raw.stream == "stderr" {
            Level::Warn
        } else {
            Level::Info
        },
        message: cap(&raw.line),
        trace_id: None,
        error_code: None,
        source: None,
    }
}

/// What waiting on a log stream produced.
enum Next {
    Line(RawLog),
    /// Nothing for a second.
    Idle,
    /// The stream ended (container stopped) or the scraper is stopping.
    End,
    Failed(FleetError),
}

/// Where a follower starts: after the newest stored line of the service, else a few
/// minutes back.
async fn starting_cursor(s: &Scraper, service: &str) -> DateTime<Utc> {
    let fallback = Utc::now() - FIRST_LOOKBACK;
    let Ok(store) = s.store.get().await else {
        return fallback;
    };
    match store
        .search_logs(&LogQuery {
            service: Some(service.into()),
            limit: 1,
            ..Default::default()
        })
        .await
    {
        Ok(p) => p
            .items
            .first()
            .map(|l| l.timestamp.max(fallback))
            .unwrap_or(fallback),
        Err(_) => fallback,
    }
}

/// Follows one container until it disappears or the scraper stops.
async fn follow(s: Arc<Scraper>, service: String) {
    // Docker's cursor: every line at or before it was shipped.
    let mut cursor: DateTime<Utc> = starting_cursor(&s, &service).await;
    let region = match s.fleet.inspect(&service).await {
        Ok(d) => d
            .env
            .iter()
            .find_map(|e| e.strip_prefix("REGION=").map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        Err(_) => "unknown".into(),
    };
    loop {
        if s.shutdown.is_cancelled() {
            return;
        }
        match s.fleet.inspect(&service).await {
            Err(FleetError::NotFound(_)) | Err(FleetError::NotManaged { .. }) => return,
            Ok(d) if d.running || d.paused => {
                match s.fleet.follow_logs(&service, Some(cursor)).await {
                    Ok(mut stream) => {
                        tracing::debug!(%service, %cursor, "following logs");
                        let mut batch = Vec::new();
                        let mut held_since = tokio::time::Instant::now();
                        loop {
                            let next = tokio::select! {
                                _ = s.shutdown.cancelled() => Next::End,
                                // A quiet container: ship what we have now and then.
                                n = tokio::time::timeout(Duration::from_secs(1), stream.next()) => match n {
                                    Err(_) => Next::Idle,
                                    Ok(None) => Next::End,
                                    Ok(Some(Ok(raw))) => Next::Line(raw),
                                    Ok(Some(Err(e))) => Next::Failed(e),
                                },
                            };
                            match next {
                                Next::End => break,
                                Next::Line(raw) => {
                                    if raw.at <= cursor {
                                        continue; // the same second as the cursor, already shipped
                                    }
                                    cursor = raw.at;
                                    if batch.is_empty() {
                                        held_since = tokio::time::Instant::now();
                                    }
                                    batch.push(parse_line(&service, &region, &raw));
                                    // A steady trickle never leaves the stream idle: ship
                                    // by age too, not only by size.
                                    if batch.len() >= CHUNK || held_since.elapsed() >= MAX_HOLD {
                                        s.buffer.push(
                                            Vec::new(),
                                            std::mem::take(&mut batch),
                                            Vec::new(),
                                            &s.counters,
                                        );
                                    }
                                }
                                Next::Idle => {
                                    if !batch.is_empty() {
                                        s.buffer.push(
                                            Vec::new(),
                                            std::mem::take(&mut batch),
                                            Vec::new(),
                                            &s.counters,
                                        );
                                    }
                                }
                                Next::Failed(e) => {
                                    s.counters.docker_error(&e.to_string());
                                    break;
                                }
                            }
                        }
                        if !batch.is_empty() {
                            s.buffer.push(Vec::new(), batch, Vec::new(), &s.counters);
                        }
                    }
                    Err(FleetError::NotFound(_)) => return,
                    Err(e) => s.counters.docker_error(&e.to_string()),
                }
            }
            Ok(_) => {}
            Err(e) => s.counters.docker_error(&e.to_string()),
        }
        // Stopped, restarting, or Docker away: look again shortly.
        tokio::select! {
            _ = s.shutdown.cancelled() => return,
            _ = tokio::time::sleep(s.config.interval.max(Duration::from_millis(500))) => {}
        }
    }
}

/// Starts a follower for every managed container, as they appear.
pub async fn supervise(s: Arc<Scraper>) {
    let mut followers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        if let Ok(list) = s.fleet.list_cached().await {
            followers.retain(|_, h| !h.is_finished());
            for c in list {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    followers.entry(c.name.clone())
                {
                    slot.insert(tokio::spawn(follow(s.clone(), c.name)));
                }
            }
        }
        tokio::select! {
            _ = s.shutdown.cancelled() => break,
            _ = tokio::time::sleep(s.config.interval.max(Duration::from_secs(1))) => {}
        }
    }
    for (_, h) in followers {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(line: &str, stream: &str) -> RawLog {
        RawLog {
            at: Utc::now(),
            stream: stream.into(),
            line: line.into(),
        }
    }

    #[test]
    fn json_lines_keep_their_fields() {
        let l = parse_line(
            "auth-service",
            "us-east-1",
            &raw(
                r#"{"@timestamp":"2026-11-20T12:00:00.123456Z","service":"spoofed","region":"eu-west-1","level":"CRITICAL","message":"session cache OFFLINE","trace_id":"trace-1","error_code":"CACHE_OFFLINE"}"#,
                "stdout",
            ),
        );
        assert_eq!(
            l.service, "auth-service",
            "the container decides the service"
        );
        assert_eq!(l.level, Level::Critical);
        assert_eq!(l.error_code.as_deref(), Some("CACHE_OFFLINE"));
        assert_eq!(l.region, "eu-west-1");
        assert_eq!(l.timestamp.timestamp_subsec_micros(), 123_456);
    }

    #[test]
    fn plain_lines_are_messages() {
        let l = parse_line("x", "r", &raw("panic: something", "stderr"));
        assert_eq!(l.level, Level::Warn);
        assert_eq!(l.message, "panic: something");
        let long = "a".repeat(10_000);
        assert_eq!(
            parse_line("x", "r", &raw(&long, "stdout")).message.len(),
            MAX_MESSAGE
        );
    }
}
