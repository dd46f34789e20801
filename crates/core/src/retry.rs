//! Retry policy for failed task attempts: bounded attempts, exponential backoff.

use std::time::Duration;

/// How many attempts a task gets and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// What to do after attempt number `attempt` (1-based) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    pub fn decide(&self, attempt: u32, retryable: bool) -> RetryDecision {
        if !retryable || attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        RetryDecision::RetryAfter(self.base_delay.saturating_mul(factor).min(self.max_delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_then_gives_up() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.decide(1, true),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            policy.decide(2, true),
            RetryDecision::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(policy.decide(3, true), RetryDecision::GiveUp);
    }

    #[test]
    fn non_retryable_errors_give_up_at_once() {
        assert_eq!(
            RetryPolicy::default().decide(1, false),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn delay_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 50,
            ..Default::default()
        };
        assert_eq!(
            policy.decide(40, true),
            RetryDecision::RetryAfter(Duration::from_secs(60))
        );
    }
}
