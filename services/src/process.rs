//! Readings of this process from `/proc/self`: resident memory (statm) and CPU time
//! (stat), the raw inputs of `memory_rss_mb` and `cpu_percent`.

/// Page size of x86_64 Linux, the only target this binary is built for.
pub const PAGE_SIZE: u64 = 4096;
/// `USER_HZ` of x86_64 Linux: `/proc/*/stat` times are in these ticks.
pub const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Resident bytes from a `statm` line (second field, in pages).
pub fn parse_statm_rss_bytes(text: &str) -> Option<u64> {
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(PAGE_SIZE)
}

/// utime + stime, in clock ticks, from a `stat` line. The command name may hold spaces
/// and parentheses, so fields are counted after its closing parenthesis.
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    // After ")" come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Current resident set size of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .as_deref()
        .and_then(parse_statm_rss_bytes)
}

/// CPU time used so far by this process (all threads), in clock ticks.
pub fn cpu_ticks() -> Option<u64> {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(parse_stat_cpu_ticks)
}

/// Percent of one core used between two tick readings `elapsed_secs` apart.
pub fn cpu_percent(prev_ticks: u64, now_ticks: u64, elapsed_secs: f64) -> f64 {
    if elapsed_secs <= 0.0 {
        return 0.0;
    }
    let used = now_ticks.saturating_sub(prev_ticks) as f64 / CLOCK_TICKS_PER_SEC;
    used / elapsed_secs * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm() {
        assert_eq!(
            parse_statm_rss_bytes("5000 1200 300 10 0 900 0\n"),
            Some(1200 * 4096)
        );
        assert_eq!(parse_statm_rss_bytes("5000"), None);
    }

    #[test]
    fn stat_with_odd_command_name() {
        let line = "4242 (qs (svc) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 137 42 0 0 20 0 3 0 \
                    123 10000 500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(line), Some(179));
        assert_eq!(parse_stat_cpu_ticks("no parens"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(rss_bytes().unwrap() > 0);
        assert!(cpu_ticks().is_some());
    }

    #[test]
    fn percent_of_one_core() {
        assert_eq!(cpu_percent(100, 150, 1.0), 50.0);
        assert_eq!(cpu_percent(100, 300, 1.0), 200.0);
        assert_eq!(cpu_percent(100, 90, 1.0), 0.0);
        assert_eq!(cpu_percent(0, 10, 0.0), 0.0);
    }
}
