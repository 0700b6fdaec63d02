//! Direct routes: `GET /api/tools`, `POST /api/tools/{name}` (the same dispatch as MCP,
//! the same JSON), `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::HttpState;
use crate::caller::Caller;
use crate::error::ToolError;

/// A tool error as an HTTP response with the status SPEC gives its code.
pub fn error_response(e: &ToolError) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(e.body())).into_response();
    if let Some(secs) = e.retry_after_seconds
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

pub async fn list_tools(State(s): State<HttpState>) -> Response {
    Json(json!({ "tools": s.dispatcher.list() })).into_response()
}

pub async fn call_tool(
    State(s): State<HttpState>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bytes = match body {
        Ok(b) => b,
        Err(BytesRejection::FailedToBufferBody(_)) => {
            let e = ToolError::invalid(format!(
                "the request body is larger than {} bytes",
                super::MAX_BODY
            ));
            let mut r = error_response(&e);
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return r;
        }
        Err(e) => {
            return error_response(&ToolError::invalid(format!("could not read the body: {e}")));
        }
    };
    let args: Value = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return error_response(
                    &ToolError::invalid(format!("the body is not valid JSON: {e}"))
                        .hint("send the tool's arguments as a JSON object"),
                );
            }
        }
    };
    match s.dispatcher.call(&name, args, caller).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

pub async fn healthz(State(s): State<HttpState>) -> Response {
    let store = match s.app.store().await {
        Ok(st) => match st.ping().await {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("unavailable: {e}"),
        },
        Err(e) => format!("unavailable: {}", e.message),
    };
    let docker = match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        s.app.fleet().list_cached(),
    )
    .await
    {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => format!("unavailable: {e}"),
        Err(_) => "unavailable: timed out".to_string(),
    };
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "store": store,
        "docker": docker,
        "sessions": s.sessions.sessions.read().await.len(),
    }))
    .into_response()
}

pub async fn metrics(State(s): State<HttpState>) -> Response {
    let text = s.app.telemetry().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
