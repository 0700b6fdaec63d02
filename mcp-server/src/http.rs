//! The HTTP surface: streamable MCP at `/mcp`, direct tool calls at `/api/tools`, the
//! operator console at `/`, Alertmanager's webhook at `/api/alerts`, health and metrics, behind one security layer (bearer tokens,
//! Host/Origin checks against DNS rebinding, body limits).

mod alerts;
mod api;
mod approvals;
mod auth;
mod console;
mod mcp_answers;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::{TcpListener, TcpStream};

use crate::app::App;
use crate::config::HttpConfig;
use crate::dispatch::Dispatcher;
use crate::server::QsServer;
use crate::tasks::Tasks;

pub use auth::allowed_hosts;
pub use console::csrf_for_secret;

/// Largest request body accepted anywhere (tool arguments are small).
pub const MAX_BODY: usize = 1024 * 1024;

/// Shared by every route.
#[derive(Clone)]
pub struct HttpState {
    pub app: App,
    /// Keys the console's CSRF tokens on a server without bearer tokens.
    pub csrf_key: Arc<[u8; 32]>,
    /// Long calls of MCP clients that declare the Tasks extension.
    pub tasks: Arc<Tasks>,
    pub dispatcher: Arc<Dispatcher>,
    pub sessions: Arc<LocalSessionManager>,
    /// Who opened each MCP session (for the per-caller cap).
    pub owners: Arc<sessions::Owners>,
    pub cfg: Arc<HttpConfig>,
}

/// The whole HTTP application. Must be called inside a tokio runtime.
pub fn router(app: App, cfg: HttpConfig) -> (Router, HttpState) {
    crate::telemetry::Telemetry::install();
    let mut mgr = LocalSessionManager::default();
    mgr.session_config.keep_alive = Some(cfg.session_idle);
    let sessions = Arc::new(mgr);
    let hosts = allowed_hosts(&cfg);
    let mcp_cfg = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(MAX_BODY)
        .with_cancellation_token(app.shutdown().child_token());
    let factory_app = app.clone();
    // One router and one list for every session (each session clones handles, not tools).
    let tools = crate::server::Routes::built(app.config(), crate::tools::router(app.config()));
    let dispatcher = Arc::new(Dispatcher::over(app.clone(), tools.clone()));
    let tasks = Tasks::new(app.clone(), dispatcher.clone());
    let session_tasks = tasks.clone();
    let mcp = StreamableHttpService::new(
        move || {
            Ok(
                QsServer::with_routes(factory_app.clone(), tools.clone(), None)
                    .with_tasks(session_tasks.clone()),
            )
        },
        sessions.clone(),
        mcp_cfg,
    );
    let state = HttpState {
        csrf_key: Arc::new(random_key()),
        tasks,
        dispatcher,
        app,
        sessions,
        owners: sessions::owners(),
        cfg: Arc::new(cfg),
    };
    let protected = Router::new()
        .nest_service("/mcp", mcp)
        // Applies to /mcp only: routes added below come after it.
        .layer(axum::middleware::from_fn(mcp_answers::correct))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sessions::cap,
        ))
        .route("/api/tools", get(api::list_tools))
        .route("/api/tools/{name}", post(api::call_tool))
        .route("/api/approvals", get(approvals::list))
        .route("/api/approvals/{plan_id}", post(approvals::decide))
        .route("/metrics", get(api::metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let router = Router::new()
        .route("/healthz", get(api::healthz))
        // Its own token (Alertmanager's), not the callers' bearer tokens.
        .route("/api/alerts", post(alerts::receive))
        .merge(console::routes(state.clone()))
        .merge(protected)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check_host_and_origin,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state.clone());
    (router, state)
}

/// 32 random bytes from the system's generator (zeros only if it fails, which it does not
/// on Linux; the console's CSRF check then still needs the same-origin page).
fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k);
    k
}

/// Serves until the app's shutdown token is cancelled; then drains.
pub async fn serve(app: App, cfg: HttpConfig, listener: TcpListener) -> std::io::Result<()> {
    let (router, state) = router(app.clone(), cfg);
    state.tasks.resume_in_background();
    let sessions = state.sessions.clone();
    let telemetry = app.telemetry().clone();
    let shutdown = app.shutdown().clone();
    app.tasks().spawn(async move {
        loop {
            telemetry.sessions(sessions.sessions.read().await.len());
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    });
    let shutdown = app.shutdown().clone();
    // Small SSE frames would otherwise wait on Nagle and delayed ACKs (~40 ms per call).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
    .await
}
