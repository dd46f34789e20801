//! The task state machine.
//!
//! ```text
//! pending ─deps done─► ready ─claimed─► running ─succeeded─► completed
//!                        ▲                 │ ├─retry─► ready (attempt + 1, after a backoff)
//!                        └──lease expired──┘ └─failed─► failed        (optional stage: skipped)
//! pending | ready | running ─cancel─► cancelled
//! ```

use crate::InvalidTransition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for its dependencies.
    Pending,
    /// Enqueued; an engine may claim it.
    Ready,
    /// An engine holds its lease.
    Running,
    Completed,
    Failed,
    /// An optional task that failed or could not run; dependents treat it as done.
    Skipped,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    DependenciesMet,
    Claimed,
    Succeeded,
    /// The attempt failed and another attempt is scheduled.
    Retry,
    /// The worker holding the lease stopped heartbeating; the task goes back to the queue.
    LeaseExpired,
    /// Failed for good (no attempts left or a non-retryable error).
    Failed,
    /// An optional task gave up: the job goes on without it.
    Skip,
    Cancel,
}

impl TaskStatus {
    /// The next state after `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] for a pair not in the diagram above.
    pub fn on(self, event: TaskEvent) -> Result<TaskStatus, InvalidTransition> {
        use TaskEvent as E;
        use TaskStatus as S;
        match (self, event) {
            (S::Pending, E::DependenciesMet) => Ok(S::Ready),
            // A task whose lease expired is claimed again while the store still says running.
            (S::Ready | S::Running, E::Claimed) => Ok(S::Running),
            (S::Running, E::Succeeded) => Ok(S::Completed),
            (S::Running, E::Retry | E::LeaseExpired) => Ok(S::Ready),
            (S::Ready | S::Running, E::Failed) => Ok(S::Failed),
            (S::Pending | S::Ready | S::Running, E::Skip) => Ok(S::Skipped),
            (S::Pending | S::Ready | S::Running, E::Cancel) => Ok(S::Cancelled),
            (from, event) => Err(InvalidTransition {
                from: from.to_string(),
                event: format!("{event:?}"),
            }),
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Skipped
                | TaskStatus::Cancelled
        )
    }

    /// Dependents may start once a dependency is in one of these states.
    pub fn satisfies_dependents(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Skipped)
    }
}

crate::names::wire_names!(TaskStatus, UnknownTaskStatus, "task status", {
    Pending => "pending",
    Ready => "ready",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
});

#[cfg(test)]
mod tests {
    use super::TaskEvent as E;
    use super::TaskStatus as S;

    #[test]
    fn a_task_runs_retries_and_completes() {
        let mut status = S::Pending;
        for (event, expected) in [
            (E::DependenciesMet, S::Ready),
            (E::Claimed, S::Running),
            (E::Retry, S::Ready),
            (E::Claimed, S::Running),
            (E::Succeeded, S::Completed),
        ] {
            status = status.on(event).expect("legal transition");
            assert_eq!(status, expected);
        }
    }

    #[test]
    fn an_expired_lease_puts_the_task_back() {
        assert_eq!(S::Running.on(E::LeaseExpired), Ok(S::Ready));
        assert_eq!(S::Running.on(E::Claimed), Ok(S::Running));
    }

    #[test]
    fn terminal_tasks_do_not_move() {
        let events = [
            E::DependenciesMet,
            E::Claimed,
            E::Succeeded,
            E::Retry,
            E::LeaseExpired,
            E::Failed,
            E::Skip,
            E::Cancel,
        ];
        for status in S::ALL.iter().copied().filter(|s| s.is_terminal()) {
            for event in events {
                assert!(status.on(event).is_err(), "{status} accepted {event:?}");
            }
        }
    }

    #[test]
    fn pending_cannot_complete_without_running() {
        assert!(S::Pending.on(E::Succeeded).is_err());
        assert!(S::Ready.on(E::Succeeded).is_err());
    }

    #[test]
    fn status_strings_round_trip() {
        for &status in S::ALL {
            assert_eq!(status.as_str().parse::<S>(), Ok(status));
        }
    }
}
