//! Tests of fault-body parsing: every kind, every error naming its field, the leak cap.

use super::*;

fn deps() -> Vec<String> {
    vec!["payment-service".to_owned(), "auth-cache".to_owned()]
}

fn err(body: &str) -> SpecError {
    parse(body.as_bytes(), &deps()).unwrap_err()
}

#[test]
fn parses_every_kind_with_defaults() {
    let leak = parse(br#"{"kind":"memory_leak","ttl_seconds":60}"#, &deps()).unwrap();
    assert_eq!(leak.ttl_seconds, 60);
    assert_eq!(
        leak.params,
        FaultParams::MemoryLeak {
            mb_per_second: 10.0,
            max_mb: None,
            allow_oom: false
        }
    );
    let burn = parse(br#"{"kind":"cpu_burn","ttl_seconds":5}"#, &deps()).unwrap();
    assert_eq!(burn.params, FaultParams::CpuBurn { threads: 1 });
    let spike = parse(
        br#"{"kind":"error_spike","ttl_seconds":5,"error_share":0.5}"#,
        &deps(),
    )
    .unwrap();
    assert_eq!(spike.kind(), FaultKind::ErrorSpike);
    let lat = parse(
        br#"{"kind":"latency","ttl_seconds":5,"added_ms":1500}"#,
        &deps(),
    )
    .unwrap();
    assert_eq!(lat.params, FaultParams::Latency { added_ms: 1500 });
    let dep = parse(
        br#"{"kind":"dependency_failure","ttl_seconds":5,"dependency":"auth-cache"}"#,
        &deps(),
    )
    .unwrap();
    assert_eq!(
        dep.params,
        FaultParams::DependencyFailure {
            dependency: "auth-cache".to_owned()
        }
    );
}

#[test]
fn errors_name_the_field_and_why() {
    let cases: &[(&str, &str, &str)] = &[
        ("not json", "body", "not valid JSON"),
        ("[1]", "body", "must be a JSON object"),
        (r#"{"ttl_seconds":5}"#, "kind", "is required"),
        (
            r#"{"kind":"meltdown","ttl_seconds":5}"#,
            "kind",
            "unknown fault kind",
        ),
        (r#"{"kind":7,"ttl_seconds":5}"#, "kind", "must be a string"),
        (
            r#"{"kind":"latency","added_ms":5}"#,
            "ttl_seconds",
            "is required",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":0,"added_ms":5}"#,
            "ttl_seconds",
            "from 1 to 3600",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":3601,"added_ms":5}"#,
            "ttl_seconds",
            "got 3601",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":"60","added_ms":5}"#,
            "ttl_seconds",
            "got a string",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":1.5,"added_ms":5}"#,
            "ttl_seconds",
            "whole number",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":5,"added_ms":5,"colour":"red"}"#,
            "colour",
            "unknown field",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":5}"#,
            "added_ms",
            "is required",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":5,"added_ms":30001}"#,
            "added_ms",
            "from 1 to 30000",
        ),
        (
            r#"{"kind":"error_spike","ttl_seconds":5,"error_share":1.5}"#,
            "error_share",
            "from 0 to 1",
        ),
        (
            r#"{"kind":"error_spike","ttl_seconds":5,"error_share":null}"#,
            "error_share",
            "got null",
        ),
        (
            r#"{"kind":"cpu_burn","ttl_seconds":5,"threads":9}"#,
            "threads",
            "from 1 to 8",
        ),
        (
            r#"{"kind":"memory_leak","ttl_seconds":5,"mb_per_second":0}"#,
            "mb_per_second",
            "from 1 to 500",
        ),
        (
            r#"{"kind":"memory_leak","ttl_seconds":5,"max_mb":100001}"#,
            "max_mb",
            "from 1 to 100000",
        ),
        (
            r#"{"kind":"memory_leak","ttl_seconds":5,"allow_oom":"yes"}"#,
            "allow_oom",
            "true or false",
        ),
        (
            r#"{"kind":"dependency_failure","ttl_seconds":5,"dependency":"db"}"#,
            "dependency",
            "unknown dependency",
        ),
        (
            r#"{"kind":"dependency_failure","ttl_seconds":5}"#,
            "dependency",
            "is required",
        ),
    ];
    for (body, field, why) in cases {
        let e = err(body);
        assert_eq!(e.field, *field, "{body}: {e}");
        assert!(e.message.contains(why), "{body}: {e}");
    }
    assert_eq!(err("nope").kind, SpecErrorKind::Malformed);
    assert_eq!(
        err(r#"{"kind":"x","ttl_seconds":1}"#).kind,
        SpecErrorKind::Invalid
    );
}

#[test]
fn leak_cap_stays_under_ninety_percent() {
    const MIB: u64 = 1024 * 1024;
    let mem = MemoryReading::new(56 * MIB, 256 * MIB);
    // 90 % of 256 is 230.4; minus 56 of RSS leaves 174.
    assert_eq!(leak_cap_mb(None, false, &mem).unwrap(), 174.0);
    assert_eq!(leak_cap_mb(Some(50.0), false, &mem).unwrap(), 50.0);
    assert_eq!(leak_cap_mb(Some(500.0), false, &mem).unwrap(), 174.0);
    assert_eq!(leak_cap_mb(Some(500.0), true, &mem).unwrap(), 500.0);
    assert_eq!(leak_cap_mb(None, true, &mem).unwrap(), 256.0);
    let full = MemoryReading::new(240 * MIB, 256 * MIB);
    assert_eq!(leak_cap_mb(None, false, &full).unwrap_err().field, "max_mb");
}
