//! Refusals cost an attacker nothing, so what they store is bounded: the request's
//! arguments are kept only up to a few hundred bytes (beyond that, a preview, the size and
//! a digest), and the same refusal repeated within a minute (same caller, tool, service
//! and reason) updates one record — its `repeats`, `first_seen` and latest time — instead
//! of adding another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use quantumstate_store::AuditRecord;
use serde_json::{Value, json};

/// Arguments of a refused call kept as they are up to this size (bytes of JSON).
pub const MAX_REFUSED_ARGS: usize = 512;
/// Characters of a larger body kept as its preview.
const PREVIEW_CHARS: usize = 200;
/// Repeats within this long go into one record.
const WINDOW: Duration = Duration::from_secs(60);
/// Distinct refusals remembered at once (the oldest is forgotten first).
const REMEMBERED: usize = 1024;

struct Seen {
    id: String,
    repeats: u64,
    first_seen: chrono::DateTime<chrono::Utc>,
    since: Instant,
}

/// The refusals of this process in the last minute.
#[derive(Default)]
pub struct Refusals {
    seen: Mutex<HashMap<String, Seen>>,
}

fn digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `arguments` as a refused call's record keeps them.
pub fn bounded(arguments: Value) -> Value {
    let text = arguments.to_string();
    if text.len() <= MAX_REFUSED_ARGS {
        return arguments;
    }
    json!({
        "untrusted_preview": crate::text::truncate(&text, PREVIEW_CHARS),
        "bytes": text.len(),
        "sha256_96": digest(text.as_bytes()),
    })
}

impl Refusals {
    /// Bounds `rec`'s arguments and, when the same refusal was recorded within the last
    /// minute, gives `rec` that record's id with one more repeat.
    pub fn fold(&self, rec: &mut AuditRecord) {
        rec.arguments = bounded(std::mem::take(&mut rec.arguments));
        let key = digest(
            format!(
                "{}\u{0}{}\u{0}{}\u{0}{}",
                rec.who,
                rec.tool,
                rec.service.as_deref().unwrap_or(""),
                rec.detail.as_deref().unwrap_or("")
            )
            .as_bytes(),
        );
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(s) = seen.get_mut(&key)
            && now.duration_since(s.since) < WINDOW
        {
            s.repeats += 1;
            rec.id = s.id.clone();
            rec.repeats = Some(s.repeats);
            rec.first_seen = Some(s.first_seen);
            return;
        }
        seen.retain(|_, s| now.duration_since(s.since) < WINDOW);
        if seen.len() >= REMEMBERED
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, s)| s.since)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert(
            key,
            Seen {
                id: rec.id.clone(),
                repeats: 1,
                first_seen: rec.timestamp,
                since: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use quantumstate_store::Outcome;

    fn refusal(who: &str, body: &str) -> AuditRecord {
        AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: Utc::now(),
            who: who.into(),
            approved_by: None,
            tool: "record_decision".into(),
            arguments: json!({ "decision": body }),
            dry_run: false,
            outcome: Outcome::Refused,
            service: None,
            plan_id: None,
            host: None,
            detail: Some("no token".into()),
            duration_ms: 0,
            repeats: None,
            first_seen: None,
        }
    }

    #[test]
    fn repeats_fold_into_one_bounded_record() {
        let r = Refusals::default();
        let mut first = refusal("anonymous", &"x".repeat(64 * 1024));
        r.fold(&mut first);
        assert!(
            first.arguments.to_string().len() < 400,
            "{}",
            first.arguments
        );
        assert_eq!(first.arguments["bytes"], 64 * 1024 + 15);
        let mut again = refusal("anonymous", "something else entirely");
        r.fold(&mut again);
        assert_eq!(again.id, first.id);
        assert_eq!(again.repeats, Some(2));
        assert_eq!(again.first_seen, Some(first.timestamp));
        let mut other = refusal("ops", "small");
        r.fold(&mut other);
        assert_ne!(other.id, first.id);
        assert_eq!(other.arguments, json!({"decision": "small"}));
    }
}
