//! The job state machine.
//!
//! ```text
//! pending ──start──► running ──complete──► completed
//!    │                  │ └──fail──► failed
//!    │ cancel           │ cancel
//!    ▼                  ▼
//! cancelled ◄─cancelled─ cancelling
//! ```

use crate::InvalidTransition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Cancelling,
    Completed,
    Failed,
    Cancelled,
}

/// Something that happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    /// The first task started running.
    Start,
    /// Every required task finished and the transcript is stored.
    Complete,
    /// A required task failed for good.
    Fail,
    /// A client asked to cancel.
    Cancel,
    /// No task of the job is running any more after a cancel request.
    Cancelled,
}

impl JobStatus {
    /// The next state after `event`.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the event is not allowed in this state (for example completing
    /// a cancelled job).
    pub fn on(self, event: JobEvent) -> Result<JobStatus, InvalidTransition> {
        use JobEvent as E;
        use JobStatus as S;
        match (self, event) {
            (S::Pending, E::Start) => Ok(S::Running),
            (S::Pending | S::Running, E::Fail) => Ok(S::Failed),
            (S::Running, E::Complete) => Ok(S::Completed),
            (S::Pending, E::Cancel) => Ok(S::Cancelled),
            (S::Running, E::Cancel) => Ok(S::Cancelling),
            (S::Cancelling, E::Cancelled | E::Complete | E::Fail) => Ok(S::Cancelled),
            (from, event) => Err(InvalidTransition {
                from: from.to_string(),
                event: format!("{event:?}"),
            }),
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

crate::names::wire_names!(JobStatus, UnknownJobStatus, "job status", {
    Pending => "pending",
    Running => "running",
    Cancelling => "cancelling",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

#[cfg(test)]
mod tests {
    use super::JobEvent as E;
    use super::JobStatus as S;

    #[test]
    fn happy_path() {
        assert_eq!(S::Pending.on(E::Start), Ok(S::Running));
        assert_eq!(S::Running.on(E::Complete), Ok(S::Completed));
    }

    #[test]
    fn cancel_from_pending_is_immediate_and_from_running_goes_through_cancelling() {
        assert_eq!(S::Pending.on(E::Cancel), Ok(S::Cancelled));
        assert_eq!(S::Running.on(E::Cancel), Ok(S::Cancelling));
        assert_eq!(S::Cancelling.on(E::Cancelled), Ok(S::Cancelled));
        // A task that finishes after the cancel request does not reopen the job.
        assert_eq!(S::Cancelling.on(E::Complete), Ok(S::Cancelled));
    }

    #[test]
    fn terminal_states_accept_no_event() {
        for status in [S::Completed, S::Failed, S::Cancelled] {
            assert!(status.is_terminal());
            for event in [E::Start, E::Complete, E::Fail, E::Cancel, E::Cancelled] {
                assert!(status.on(event).is_err(), "{status} accepted {event:?}");
            }
        }
    }

    #[test]
    fn status_strings_round_trip() {
        for &status in S::ALL {
            assert_eq!(status.as_str().parse::<S>(), Ok(status));
        }
        assert!("done".parse::<S>().is_err());
    }
}
