//! The live harness: when `ELASTIC_URL` (or `ELASTIC_CLOUD_ID`) is set, a check runs
//! against that cluster under a random index prefix, deleted afterwards even on failure.

use std::sync::Arc;

use quantumstate_store::Store;
use quantumstate_store::elastic::{ElasticConfig, ElasticStore, Refresh};

/// One check's private set of indices on the live cluster.
pub struct Live {
    cfg: ElasticConfig,
    store: ElasticStore,
    cleaned: bool,
}

impl Live {
    /// None when no cluster is configured (the live checks then pass without running).
    pub async fn start() -> Option<Live> {
        let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
        if !set("ELASTIC_URL") && !set("ELASTIC_CLOUD_ID") {
            return None;
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("qs-test-{}-", &id[..10]);
        let mut cfg = ElasticConfig::from_env()
            .expect("ELASTIC_* settings")
            .with_prefix(&prefix)
            .unwrap();
        cfg.refresh = Refresh::Immediate;
        let store = ElasticStore::new(&cfg).unwrap();
        Some(Live {
            cfg,
            store,
            cleaned: false,
        })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    pub async fn cleanup(mut self) {
        self.store.delete_everything().await.unwrap();
        self.cleaned = true;
    }
}

impl Drop for Live {
    /// A failed check still removes its indices, from a thread with its own runtime.
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let cfg = self.cfg.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(s) = ElasticStore::new(&cfg) {
                    let _ = s.delete_everything().await;
                }
            });
        })
        .join();
    }
}
