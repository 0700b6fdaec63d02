//! The tools a server answers with: the list `tools/list` returns, and the router that
//! runs calls. A server for one stdio client answers its first `tools/list` from the
//! compiled list (`tools::listing`) and builds the router afterwards on the blocking pool
//! (`warm`), or when the first call needs it. Servers that share one router (HTTP) are given it built.
//! Routes also tell whoever waits when the first `tools/list` has been answered (stdio
//! starts its background work then).

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::Tool;
use tokio::sync::{Notify, OnceCell};

use super::QsServer;
use crate::config::Config;

/// The tools of one server; cheap to clone.
#[derive(Clone)]
pub struct Routes {
    list: Arc<Vec<Tool>>,
    router: Arc<OnceCell<ToolRouter<QsServer>>>,
    /// What a router still to build is built for.
    config: Arc<Config>,
    /// Signalled (once, a stored permit) when a `tools/list` has been answered.
    listed: Arc<Notify>,
}

impl Routes {
    /// Routes for a router already built for `cfg`.
    pub fn built(cfg: &Config, router: ToolRouter<QsServer>) -> Routes {
        Routes {
            list: Arc::new(router.list_all()),
            router: Arc::new(OnceCell::new_with(Some(router))),
            config: Arc::new(cfg.clone()),
            listed: Arc::new(Notify::new()),
        }
    }

    /// Routes for `cfg` whose router is built on first use (or by `warm`).
    pub fn lazy(cfg: &Config) -> Routes {
        Routes {
            list: Arc::new(crate::tools::listing::listing(cfg)),
            router: Arc::new(OnceCell::new()),
            config: Arc::new(cfg.clone()),
            listed: Arc::new(Notify::new()),
        }
    }

    /// The tools, sorted by name, as `tools/list` shows them.
    pub fn list(&self) -> Vec<Tool> {
        self.list.as_ref().clone()
    }

    /// Whether `name` is one of them.
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|t| t.name == name)
    }

    /// One tool's listing.
    pub fn get(&self, name: &str) -> Option<Tool> {
        self.list.iter().find(|t| t.name == name).cloned()
    }

    /// The router, built now if it was not yet.
    pub async fn router(&self) -> &ToolRouter<QsServer> {
        self.router
            .get_or_init(|| async {
                let (cfg, build) = (self.config.clone(), self.config.clone());
                tokio::task::spawn_blocking(move || crate::tools::router(&build))
                    .await
                    .unwrap_or_else(|_| crate::tools::router(&cfg))
            })
            .await
    }

    /// Starts building the router in the background.
    pub fn warm(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            me.router().await;
        });
    }

    /// Records that a `tools/list` was answered.
    pub fn note_listed(&self) {
        self.listed.notify_one();
    }

    /// Returns once a `tools/list` has been answered (at once if one was before).
    pub async fn first_listed(&self) {
        self.listed.notified().await;
    }
}
