//! The cache role's data: a bounded in-memory session map (session id → JSON text),
//! evicting the oldest entry when full, like Redis with maxmemory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

/// Sessions kept; the oldest goes first (a small LRU-ish cache, like Redis with maxmemory).
pub const MAX_SESSIONS: usize = 4096;
/// Largest session document accepted.
pub const MAX_SESSION_BYTES: usize = 4096;

#[derive(Default)]
struct Map {
    entries: HashMap<String, String>,
    order: VecDeque<String>,
}

/// Session id → JSON text.
#[derive(Default)]
pub struct SessionStore {
    map: Mutex<Map>,
}

impl SessionStore {
    pub fn put(&self, id: &str, value: String) {
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if m.entries.insert(id.to_owned(), value).is_none() {
            m.order.push_back(id.to_owned());
        }
        while m.entries.len() > MAX_SESSIONS {
            let Some(oldest) = m.order.pop_front() else {
                break;
            };
            m.entries.remove(&oldest);
        }
    }

    pub fn get(&self, id: &str) -> Option<String> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .get(id)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_oldest_first() {
        let s = SessionStore::default();
        for i in 0..MAX_SESSIONS + 10 {
            s.put(&format!("s{i}"), "{}".to_owned());
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get("s0").is_none());
        assert!(s.get(&format!("s{}", MAX_SESSIONS + 9)).is_some());
        s.put("s20", "{\"u\":1}".to_owned());
        assert_eq!(s.len(), MAX_SESSIONS);
    }
}
