//! Admission on the mutation road: the per-client rate of mutating calls, and the restart
//! budget per service, kept in the store so every process shares it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use quantumstate_store::{BudgetDecision, DynStore};
use serde_json::Value;

use crate::caller::{Caller, Surface};
use crate::config::Config;
use crate::error::{ErrorCode, ToolError, ToolResult};

/// What admission looks at: whether the call is real, and what its plan disrupts.
pub struct Admission<'a> {
    pub dry_run: bool,
    /// Services whose restart budget a real call uses.
    pub disrupts: &'a [String],
}

/// The in-memory side of admission (rate limits); budgets live in the store.
#[derive(Default)]
pub struct Guard {
    rate: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Arguments without `dry_run` and `plan_id`: what a plan is compared on.
pub fn canonical(args: &Value) -> Value {
    match args {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove("dry_run");
            m.remove("plan_id");
            Value::Object(m)
        }
        other => other.clone(),
    }
}

impl Guard {
    /// Checks a planned mutation against plans, rates and budgets. Dry runs pass all three.
    pub async fn admit(
        &self,
        cfg: &Config,
        caller: &Caller,
        req: &Admission<'_>,
        store: &DynStore,
    ) -> ToolResult<()> {
        if req.dry_run {
            return Ok(());
        }
        let now = Utc::now();
        if matches!(caller.surface, Surface::Http | Surface::Console)
            && let Some(h) = &cfg.http
        {
            self.check_rate(&caller.name, h.mutation_rate_per_min)?;
        }
        let b = cfg.restart_budget;
        let window = chrono::Duration::seconds(b.window.as_secs() as i64);
        for svc in req.disrupts {
            let key = format!("restart:{svc}");
            if let BudgetDecision::Exhausted { max, retry_at } =
                store.take_budget(&key, b.max, window, now).await?
            {
                let wait = (retry_at - now).num_seconds().max(1) as u64;
                return Err(ToolError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "restart budget spent: {svc} was restarted {max} times in the last {} s; \
                         allowed again at {} (in {wait} s)",
                        b.window.as_secs(),
                        retry_at.format("%H:%M:%S UTC")
                    ),
                )
                .hint("repeated restarts are not fixing it: look for the cause (correlate_deployments, search_logs) or roll back")
                .retry_after(Duration::from_secs(wait)));
            }
        }
        Ok(())
    }

    fn check_rate(&self, who: &str, per_min: u32) -> ToolResult<()> {
        let mut map = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let hits = map.entry(who.to_string()).or_default();
        hits.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if hits.len() >= per_min as usize {
            let oldest = hits.first().copied().unwrap_or(now);
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
            return Err(ToolError::new(
                ErrorCode::RateLimited,
                format!("{who} made {per_min} mutating calls in the last minute, the limit"),
            )
            .retry_after(wait));
        }
        hits.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_compare_without_dry_run_and_plan_id() {
        let a = serde_json::json!({"service": "x", "dry_run": true});
        let b = serde_json::json!({"plan_id": "plan-1", "service": "x"});
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&a),
            canonical(&serde_json::json!({"service": "y"}))
        );
    }

    #[test]
    fn rate_limit_counts_per_caller() {
        let g = Guard::default();
        for _ in 0..3 {
            g.check_rate("a", 3).unwrap();
        }
        let e = g.check_rate("a", 3).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after_seconds.is_some());
        g.check_rate("b", 3).unwrap();
    }
}
