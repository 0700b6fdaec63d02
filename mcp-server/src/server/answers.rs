//! How tool answers leave the server: rmcp's own argument errors reshaped like ours,
//! the telemetry label of each outcome, and the cache hints of the tool list.

use rmcp::ErrorData;
use rmcp::model::*;

use crate::error::ToolError;

/// How long a client may keep this server's tool list: it depends only on the
/// configuration the process started with, the same for every caller.
pub const TOOLS_TTL_MS: u64 = 10 * 60 * 1000;

/// The tool list, with cache hints for clients on a protocol that has them.
pub fn tool_list(tools: Vec<Tool>, hints: bool) -> ListToolsResult {
    let list = ListToolsResult::with_all_items(tools);
    if hints {
        list.with_ttl_ms(TOOLS_TTL_MS)
            .with_cache_scope(CacheScope::Public)
    } else {
        list
    }
}

/// Gives rmcp's own tool errors (arguments that do not deserialise) the same shape as
/// ours: a bounded message (serde echoes the offending value, which may be huge) and the
/// `{"error": ...}` envelope as structured content.
pub fn uniform_error(r: CallToolResponse) -> CallToolResponse {
    let CallToolResponse::Complete(c) = &r else {
        return r;
    };
    if c.is_error != Some(true) || c.structured_content.is_some() {
        return r;
    }
    let text: String = c
        .content
        .iter()
        .filter_map(|x| x.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    let e = ToolError::invalid(crate::text::truncate(&text, 600))
        .hint("check the arguments against the tool's inputSchema (names, types, allowed values)");
    let mut out = CallToolResult::error(vec![ContentBlock::text(e.to_text())]);
    out.structured_content = Some(e.to_json());
    out.into()
}

/// The telemetry label of a tool call's outcome: ok, an error code, or protocol_error.
pub fn outcome(r: &Result<CallToolResponse, ErrorData>) -> &'static str {
    match r {
        Ok(CallToolResponse::Complete(c)) if c.is_error == Some(true) => c
            .structured_content
            .as_ref()
            .and_then(|v| v.pointer("/error/code"))
            .and_then(|v| serde_json::from_value::<crate::error::ErrorCode>(v.clone()).ok())
            .map(|c| c.as_str())
            .unwrap_or("invalid_argument"),
        Ok(_) => "ok",
        Err(_) => "protocol_error",
    }
}
