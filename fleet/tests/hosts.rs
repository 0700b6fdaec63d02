//! Several engines without Docker: one that accepts connections and never answers, one
//! whose socket does not exist. Listings fail naming both within the bound, then at once;
//! each host says why; names that cannot be resolved say so.

use std::time::{Duration, Instant};

use quantumstate_fleet::{FleetError, FleetRead, HOST_BOUND, HostSpec, Hosts};

#[tokio::test]
async fn engines_that_do_not_answer_cost_the_bound_once() {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = hung.local_addr().expect("addr");
    let specs = HostSpec::parse_all(&[
        format!("hung=tcp://{addr}"),
        "gone=unix:///nonexistent/qs-test.sock".to_string(),
    ])
    .expect("specs parse");
    let hosts = Hosts::new(specs);

    let t = Instant::now();
    let first = hosts.list().await;
    let took = t.elapsed();
    assert!(
        took < HOST_BOUND + Duration::from_millis(500),
        "first listing took {took:?}"
    );
    match first {
        Err(FleetError::Unavailable(why)) => {
            assert!(why.contains("hung") && why.contains("gone"), "{why}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    }

    let t = Instant::now();
    assert!(hosts.list_cached().await.is_err());
    assert!(matches!(
        hosts.inspect("b/payment-service").await,
        Err(FleetError::NotFound(_))
    ));
    assert!(matches!(
        hosts.inspect("gone/payment-service").await,
        Err(FleetError::Unavailable(w)) if w.contains("host gone is unreachable")
    ));
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "later calls took {:?}",
        t.elapsed()
    );

    let status = hosts.hosts();
    assert_eq!(status.len(), 2);
    for h in &status {
        assert!(
            !h.reachable && h.reason.is_some() && h.since.is_some(),
            "{h:?}"
        );
    }
    drop(hung);
}
