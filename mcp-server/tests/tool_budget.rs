//! The tool list's cost to every conversation: the `tools/list` reply the binary sends
//! over stdio (every tool this build has, destructive ones included), measured in bytes
//! and in o200k_base BPE tokens, against a budget. It also carries the 2026-07-28 cache
//! hints, and every tool keeps an object `outputSchema`.

mod common;

use common::Store;
use serde_json::{Value, json};

/// Average bytes per tool, compact JSON as sent.
const BYTES_PER_TOOL: usize = 1_000;
/// Average o200k_base tokens per tool.
const TOKENS_PER_TOOL: usize = 250;
/// No single tool may take more than this many bytes.
const BYTES_ONE_TOOL: usize = 2_200;

fn tools_list() -> Value {
    let store = Store::new();
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "budget", "version": "0"}
        }}
    });
    let r = store.run_with_stdin(&["stdio"], &format!("{request}\n"));
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("\"id\":1"))
        .unwrap_or_else(|| panic!("no reply to tools/list: {r:?}"));
    let v: Value = serde_json::from_str(line).expect("reply is JSON");
    v["result"].clone()
}

#[test]
fn tools_list_stays_within_its_byte_and_token_budget() {
    let result = tools_list();
    let tools = result["tools"].as_array().expect("tools");
    assert!(tools.len() >= 30, "{} tools", tools.len());
    let bpe = tiktoken_rs::o200k_base_singleton();
    let (mut bytes, mut tokens) = (0, 0);
    let mut rows = Vec::new();
    for t in tools {
        let name = t["name"].as_str().unwrap_or("?");
        let text = serde_json::to_string(t).expect("serialise");
        let n = bpe.encode_ordinary(&text).len();
        assert!(
            text.len() <= BYTES_ONE_TOOL,
            "{name}: {} bytes > {BYTES_ONE_TOOL}",
            text.len()
        );
        let out = &t["outputSchema"];
        assert_eq!(out["type"], "object", "{name}: {out}");
        assert!(
            out["properties"].as_object().is_some_and(|p| !p.is_empty()),
            "{name} outputSchema names no fields: {out}"
        );
        assert!(
            !text.contains("$defs") && !text.contains("$ref"),
            "{name} keeps references: {text}"
        );
        rows.push(format!("{name:24} {:5} B {n:4} tok", text.len()));
        bytes += text.len();
        tokens += n;
    }
    let n = tools.len();
    let report = rows.join("\n");
    eprintln!(
        "{report}\n{n} tools: {bytes} B ({} B/tool), {tokens} tokens ({} tok/tool)",
        bytes / n,
        tokens / n
    );
    assert!(
        bytes <= BYTES_PER_TOOL * n,
        "{} B/tool > {BYTES_PER_TOOL}\n{report}",
        bytes / n
    );
    assert!(
        tokens <= TOKENS_PER_TOOL * n,
        "{} tokens/tool > {TOKENS_PER_TOOL}\n{report}",
        tokens / n
    );
}

#[test]
fn tools_list_says_how_long_it_may_be_cached() {
    let result = tools_list();
    let ttl = result["ttlMs"].as_u64().unwrap_or(0);
    assert!(ttl >= 60_000, "ttlMs {:?}", result["ttlMs"]);
    assert_eq!(result["cacheScope"], "public", "{}", result["cacheScope"]);
}
