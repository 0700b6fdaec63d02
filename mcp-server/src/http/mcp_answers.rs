//! Corrections to what rmcp's streamable HTTP service answers, applied to `/mcp` only:
//! a closed session is `200`, and a JSON body that is not JSON-RPC gets a JSON-RPC error
//! (`-32700` parse error, `-32600` invalid request) with `400`, not `415`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// Bytes of rmcp's own 415 answer read to tell a parse error from an invalid message.
const ANSWER_LIMIT: usize = 4096;

/// rmcp answers a session's `DELETE /mcp` with 202; the MCP Python SDK takes only 200
/// and 204 as success and logs "Session termination failed: 202" at every disconnect.
/// The session is closed either way; 200 says so to every client.
///
/// rmcp answers a body it cannot deserialize with 415 even when the Content-Type is
/// `application/json`; JSON-RPC says such a body gets a parse error (`-32700`, or
/// `-32600` for JSON that is no JSON-RPC message). A body that is not JSON keeps 415.
pub async fn correct(req: Request, next: Next) -> Response {
    let delete = req.method() == Method::DELETE;
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let mut resp = next.run(req).await;
    if delete && resp.status() == StatusCode::ACCEPTED {
        *resp.status_mut() = StatusCode::OK;
    }
    if json && resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        let text = axum::body::to_bytes(std::mem::take(resp.body_mut()), ANSWER_LIMIT)
            .await
            .unwrap_or_default();
        return parse_error(&String::from_utf8_lossy(&text));
    }
    resp
}

/// The JSON-RPC error for a body rmcp could not read (its reason in `data`).
fn parse_error(reason: &str) -> Response {
    let reason = reason
        .trim_start_matches("fail to deserialize request body")
        .trim();
    let (code, message) = if reason.contains("unrecognized JSON-RPC message") {
        (-32600, "Invalid Request: not a JSON-RPC message")
    } else {
        (-32700, "Parse error: the body is not valid JSON")
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message, "data": {"reason": reason}},
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn json_of(resp: Response) -> serde_json::Value {
        let b = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&b).unwrap()
    }

    #[tokio::test]
    async fn rmcps_reasons_become_parse_error_or_invalid_request() {
        let r = parse_error("fail to deserialize request body key must be a string at line 1");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v = json_of(r).await;
        assert_eq!(v["error"]["code"], -32700);
        assert_eq!(
            v["error"]["data"]["reason"],
            "key must be a string at line 1"
        );
        assert!(v["id"].is_null());
        let v = json_of(parse_error(
            "fail to deserialize request body unrecognized JSON-RPC message",
        ))
        .await;
        assert_eq!(v["error"]["code"], -32600);
    }
}
