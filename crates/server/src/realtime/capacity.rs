//! How many sessions run, in total and per API key, and the permits that hold a place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Why a session was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server is running its maximum of {0} realtime sessions; retry later")]
    ServerFull(u32),
    #[error("this API key already holds its maximum of {0} realtime sessions")]
    KeyLimit(u32),
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_key: HashMap<String, u32>,
}

/// Session places of this gateway.
#[derive(Debug, Clone)]
pub struct Capacity {
    max_sessions: u32,
    max_per_key: u32,
    counts: Arc<Mutex<Counts>>,
}

/// What `GET /v1/realtime/status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CapacitySnapshot {
    pub active_sessions: u32,
    pub max_sessions: u32,
    pub max_sessions_per_key: u32,
}

/// A place for one session; given back when dropped, however the session ended.
#[derive(Debug)]
pub struct SessionPermit {
    counts: Arc<Mutex<Counts>>,
    key: Option<String>,
}

impl Capacity {
    pub fn new(max_sessions: u32, max_per_key: u32) -> Self {
        Self {
            max_sessions,
            max_per_key,
            counts: Arc::default(),
        }
    }

    /// Takes a place for a session of `key` (`None`: authentication disabled).
    ///
    /// # Errors
    /// [`Refusal`] when the server or the key is at its limit.
    pub fn reserve(&self, key: Option<&str>) -> Result<SessionPermit, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_sessions {
            return Err(Refusal::ServerFull(self.max_sessions));
        }
        if let Some(key) = key {
            let held = counts.per_key.get(key).copied().unwrap_or(0);
            if held >= self.max_per_key {
                return Err(Refusal::KeyLimit(self.max_per_key));
            }
            counts.per_key.insert(key.to_owned(), held + 1);
        }
        counts.total += 1;
        Ok(SessionPermit {
            counts: Arc::clone(&self.counts),
            key: key.map(str::to_owned),
        })
    }

    pub fn snapshot(&self) -> CapacitySnapshot {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        CapacitySnapshot {
            active_sessions: counts.total,
            max_sessions: self.max_sessions,
            max_sessions_per_key: self.max_per_key,
        }
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = &self.key
            && let Some(held) = counts.per_key.get_mut(key)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.per_key.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_limited_per_server_and_per_key_and_given_back_on_drop() {
        let capacity = Capacity::new(3, 2);
        let a1 = capacity.reserve(Some("a")).expect("first");
        let _a2 = capacity.reserve(Some("a")).expect("second");
        assert_eq!(
            capacity.reserve(Some("a")).unwrap_err(),
            Refusal::KeyLimit(2)
        );
        let _b1 = capacity.reserve(Some("b")).expect("other key");
        assert_eq!(
            capacity.reserve(Some("c")).unwrap_err(),
            Refusal::ServerFull(3)
        );
        assert_eq!(capacity.snapshot().active_sessions, 3);
        drop(a1);
        assert_eq!(capacity.snapshot().active_sessions, 2);
        let _a3 = capacity.reserve(Some("a")).expect("a place was given back");
    }
}
