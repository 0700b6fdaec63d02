//! Calling tools in-process through the very router MCP clients use: the `call` command,
//! the direct HTTP routes and the console all go through `Dispatcher::call`, so there is
//! one list of tools and one JSON result, not three.

use std::future::Future;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, JsonObject, NumberOrString, ServerJsonRpcMessage, Tool,
};
use rmcp::service::{
    RequestContext, RunningService, RxJsonRpcMessage, TxJsonRpcMessage, serve_directly,
};
use rmcp::transport::Transport;
use rmcp::{Peer, RoleServer, ServerHandler};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::app::App;
use crate::caller::Caller;
use crate::error::{ErrorBody, ErrorCode, ToolError};
use crate::policy::Policy;
use crate::server::QsServer;

/// A transport that never receives and drops what the server sends (progress and log
/// notifications of in-process calls have no client to go to).
struct Sink(mpsc::UnboundedSender<ServerJsonRpcMessage>);

impl Transport<RoleServer> for Sink {
    type Error = std::convert::Infallible;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let _ = self.0.send(item);
        std::future::ready(Ok(()))
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        std::future::pending()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        std::future::ready(Ok(()))
    }
}

/// In-process tool calls.
pub struct Dispatcher {
    server: QsServer,
    peer: Peer<RoleServer>,
    _running: RunningService<RoleServer, QsServer>,
}

impl Dispatcher {
    /// Must be called inside a tokio runtime.
    pub fn new(app: App) -> Dispatcher {
        let tools = crate::tools::router(app.config());
        let routes = crate::server::Routes::built(app.config(), tools);
        Dispatcher::over(app, routes)
    }

    /// As `new`, sharing `routes` with a server (stdio builds its router once).
    pub fn over(app: App, routes: crate::server::Routes) -> Dispatcher {
        let server = QsServer::with_routes(app, routes, None);
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let running = serve_directly(server.clone(), Sink(tx), None);
        Dispatcher {
            peer: running.peer().clone(),
            server,
            _running: running,
        }
    }

    pub fn app(&self) -> &App {
        self.server.app()
    }

    /// The tools this configuration exposes, sorted by name (the same list as tools/list).
    pub fn list(&self) -> Vec<Tool> {
        self.server.tools().list()
    }

    /// Calls a tool as `caller`. Ok is the structured result (the same JSON as MCP's
    /// structuredContent); Err is the tool error with its code.
    pub async fn call(&self, name: &str, args: Value, caller: Caller) -> Result<Value, ToolError> {
        // A tool the mode hides goes on to the server, which audits the refusal.
        if !self.server.tools().has(name) && self.why_missing(name).code != ErrorCode::Forbidden {
            return Err(self.why_missing(name));
        }
        let args: JsonObject = match args {
            Value::Object(m) => m,
            Value::Null => JsonObject::new(),
            other => {
                return Err(ToolError::invalid(format!(
                    "arguments must be a JSON object, not {}",
                    kind_of(&other)
                ))
                .hint(format!(
                    "e.g. quantumstate-mcp call {name} '{{\"service\": \"payment-service\"}}'"
                )));
            }
        };
        let mut ctx = RequestContext::new(NumberOrString::Number(0), self.peer.clone());
        ctx.extensions.insert(caller);
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(args);
        match ServerHandler::call_tool(&self.server, params, ctx).await {
            Ok(CallToolResponse::Complete(r)) => {
                if r.is_error == Some(true) {
                    if let Some(body) = r
                        .structured_content
                        .as_ref()
                        .and_then(|v| serde_json::from_value::<ErrorBody>(v.clone()).ok())
                    {
                        return Err(body.error);
                    }
                    // rmcp's own argument errors come as text only.
                    let text = r
                        .content
                        .iter()
                        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                        .collect::<Vec<_>>()
                        .join("\n");
                    return Err(ToolError::invalid(text).hint(format!(
                        "see the input schema: quantumstate-mcp tools, or GET /api/tools ({name})"
                    )));
                }
                Ok(r.structured_content.unwrap_or(Value::Null))
            }
            Ok(_) => Err(ToolError::failed(
                "the tool asked for more input, which direct calls cannot give",
            )),
            Err(e) if e.message.contains("tool not found") => Err(self.why_missing(name)),
            Err(e) => Err(ToolError::invalid(e.message.to_string())),
        }
    }

    /// Why a tool is not callable: hidden by the server's mode (403) or unknown (404).
    fn why_missing(&self, name: &str) -> ToolError {
        Policy::new(self.app().config())
            .hidden(name)
            .unwrap_or_else(|| ToolError::failed(format!("{name} is listed but has no route")))
    }
}

#[async_trait::async_trait]
impl crate::tasks::Calls for Dispatcher {
    async fn call(&self, tool: &str, args: Value, caller: Caller) -> Result<Value, ToolError> {
        Dispatcher::call(self, tool, args, caller).await
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
