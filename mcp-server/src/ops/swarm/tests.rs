//! The plans of swarm changes: replicas at a time, the capacity kept, and what is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use quantumstate_fleet::{SwarmChange, SwarmService};

use super::plan;

fn svc(desired: u64, parallelism: u64, order: &str) -> SwarmService {
    SwarmService {
        name: "web".into(),
        host: "b".into(),
        id: "abc".into(),
        image: "img".into(),
        version: Some("1.0.0".into()),
        mode: "replicated".into(),
        desired,
        running: desired,
        update_parallelism: parallelism,
        update_delay_seconds: 0,
        update_order: order.into(),
        update_failure_action: "pause".into(),
        previous_version: None,
        update_status: None,
        published_port: None,
        tasks_per_node: BTreeMap::new(),
        tasks: Vec::new(),
        labels: BTreeMap::new(),
    }
}

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_rolling_restart_keeps_the_replicas_not_in_the_batch() {
    let p = plan(&svc(3, 1, "stop-first"), &[], &SwarmChange::Restart, WAIT).unwrap();
    let text = p.operations.join("\n");
    assert!(text.contains("1 of 3 replicas at a time"), "{text}");
    assert!(
        text.contains("at least 2 of 3 replicas serve throughout"),
        "{text}"
    );
    assert_eq!((p.downtime_seconds, p.takes_capacity), (0, false));
    assert_eq!(p.disrupts, vec!["web".to_string()]);
}

#[test]
fn one_replica_stop_first_is_an_outage_and_start_first_is_not() {
    let p = plan(&svc(1, 1, "stop-first"), &[], &SwarmChange::Restart, WAIT).unwrap();
    assert!(p.takes_capacity && p.downtime_seconds > 0, "{p:?}");
    assert!(p.operations.join(" ").contains("at least 0 of 1"));
    let p = plan(&svc(1, 1, "start-first"), &[], &SwarmChange::Restart, WAIT).unwrap();
    assert!(!p.takes_capacity && p.downtime_seconds == 0, "{p:?}");
    assert!(
        p.operations
            .join(" ")
            .contains("all 1 replicas keep serving")
    );
}

#[test]
fn scaling_down_takes_capacity_and_to_the_same_count_is_refused() {
    let s = svc(3, 1, "stop-first");
    assert!(
        plan(&s, &[], &SwarmChange::Scale(2), WAIT)
            .unwrap()
            .takes_capacity
    );
    let up = plan(&s, &[], &SwarmChange::Scale(4), WAIT).unwrap();
    assert!(!up.takes_capacity && up.disrupts.is_empty(), "{up:?}");
    let e = plan(&s, &[], &SwarmChange::Scale(3), WAIT).unwrap_err();
    assert!(e.message.contains("already wants 3"), "{}", e.message);
}

#[test]
fn a_version_already_running_is_refused() {
    let change = SwarmChange::Version {
        to: "1.0.0".into(),
        from: Some("1.0.0".into()),
    };
    let e = plan(&svc(2, 1, "stop-first"), &[], &change, WAIT).unwrap_err();
    assert!(e.message.contains("already runs 1.0.0"), "{}", e.message);
}
