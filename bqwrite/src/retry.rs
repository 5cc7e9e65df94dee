//! Which failures are retried, and how long to wait between attempts.
//!
//! | what failed | retried? |
//! | --- | --- |
//! | `UNAVAILABLE`, `ABORTED`, `INTERNAL`, `CANCELLED`, `DEADLINE_EXCEEDED`, a broken connection, failing to reconnect after a connection worked | yes |
//! | `UNKNOWN` (how gRPC reports a reset HTTP/2 stream or a protocol error) | yes |
//! | `RESOURCE_EXHAUSTED` (quota, throttling) | yes, with a longer backoff |
//! | `UNAUTHENTICATED` | once after each success, with a new token: the client drops the refused token from its cache before the retry; a revoked key keeps failing |
//! | failing to connect when the client never connected (a wrong address, nothing listening), an untrusted TLS certificate | no: [`ErrorKind::Connect`](crate::ErrorKind::Connect) at once |
//! | `INVALID_ARGUMENT` (row errors, bad requests), `NOT_FOUND`, `PERMISSION_DENIED`, `FAILED_PRECONDITION`, `OUT_OF_RANGE`, `ALREADY_EXISTS`, `STREAM_FINALIZED`, `STREAM_NOT_FOUND`, a schema mismatch | no |
//!
//! For AppendRows, a retry means: reconnect, resend the writer schema and
//! every request not yet acknowledged, at the same offsets. An
//! `ALREADY_EXISTS` answer to a resent request means its rows are in the
//! stream already: they count as acknowledged. Nothing is ever skipped or
//! written twice.

use std::time::Duration;

use tonic::Code;

/// How a failure is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Retry with the normal backoff.
    Transient,
    /// Retry with a longer backoff: the service is shedding load.
    Throttled,
    /// Retry once with fresh credentials.
    Unauthenticated,
    /// Do not retry.
    Permanent,
}

/// The retry class of a gRPC code.
pub(crate) fn classify(code: Code) -> Retry {
    match code {
        Code::Unavailable
        | Code::Aborted
        | Code::Internal
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Unknown => Retry::Transient,
        Code::ResourceExhausted => Retry::Throttled,
        Code::Unauthenticated => Retry::Unauthenticated,
        _ => Retry::Permanent,
    }
}

/// The retry budget: attempts and total time, and the backoff between attempts.
///
/// Attempts count consecutive failures without progress: an AppendRows
/// connection that acknowledges rows after a reconnect starts a fresh count.
/// A `_default` writer on a connection shared with other tables also starts
/// a fresh count when the connection ended on another table's request after
/// writing requests: the connection works, the writer was waiting its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    max_elapsed: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(300),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is returned at once.
    pub fn none() -> Self {
        Self {
            max_attempts: 0,
            ..Self::default()
        }
    }

    /// Retries after consecutive failures (default 10); 0 disables retries.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The longest time spent retrying one operation (default 300 s).
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// The first backoff (default 100 ms); it doubles up to `max_backoff`.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest backoff between two attempts (default 10 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    pub(crate) fn budget(&self) -> Budget {
        Budget {
            policy: self.clone(),
            attempts: 0,
            failing_since: None,
            refreshed_auth: false,
        }
    }
}

/// The state of retrying one operation.
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RetryPolicy,
    attempts: u32,
    /// When the current run of failures began: the elapsed budget counts
    /// time spent failing, not time spent idle or making progress.
    failing_since: Option<tokio::time::Instant>,
    refreshed_auth: bool,
}

impl Budget {
    /// Progress was made: the next failure starts a fresh count.
    pub(crate) fn progress(&mut self) {
        self.attempts = 0;
        self.failing_since = None;
        self.refreshed_auth = false;
    }

    /// The number of attempts retried so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Waits before the next attempt, or says no: the failure is permanent or
    /// the budget is spent.
    pub(crate) async fn wait(&mut self, retry: Retry) -> bool {
        match retry {
            Retry::Permanent => return false,
            Retry::Unauthenticated if self.refreshed_auth => return false,
            Retry::Unauthenticated => self.refreshed_auth = true,
            Retry::Transient | Retry::Throttled => {}
        }
        if self.attempts >= self.policy.max_attempts {
            return false;
        }
        let failing_since = *self
            .failing_since
            .get_or_insert_with(tokio::time::Instant::now);
        let mut backoff = self
            .policy
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(self.attempts.min(16)));
        if retry == Retry::Throttled {
            backoff = backoff.saturating_mul(4);
        }
        let backoff = jitter(backoff.min(self.policy.max_backoff));
        if failing_since.elapsed() + backoff > self.policy.max_elapsed {
            return false;
        }
        self.attempts += 1;
        tokio::time::sleep(backoff).await;
        true
    }
}

/// A random duration between half and all of `backoff` ("equal jitter"), so
/// writers that failed together do not retry together.
fn jitter(backoff: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let fraction = (hasher.finish() % 1_000) as u32;
    backoff / 2 + (backoff / 2) * fraction / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_as_documented() {
        for code in [
            Code::Unavailable,
            Code::Aborted,
            Code::Internal,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Unknown,
        ] {
            assert_eq!(classify(code), Retry::Transient, "{code:?}");
        }
        assert_eq!(classify(Code::ResourceExhausted), Retry::Throttled);
        assert_eq!(classify(Code::Unauthenticated), Retry::Unauthenticated);
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::OutOfRange,
            Code::AlreadyExists,
        ] {
            assert_eq!(classify(code), Retry::Permanent, "{code:?}");
        }
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(1_000));
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1_000),
                "{d:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_runs_out_after_max_attempts_and_resets_on_progress() {
        let mut budget = RetryPolicy::default().max_attempts(2).budget();
        assert!(budget.wait(Retry::Transient).await);
        assert!(budget.wait(Retry::Throttled).await);
        assert!(!budget.wait(Retry::Transient).await);
        budget.progress();
        assert!(budget.wait(Retry::Transient).await);
        assert!(!budget.wait(Retry::Permanent).await);
        assert!(budget.wait(Retry::Unauthenticated).await);
        assert!(
            !budget.wait(Retry::Unauthenticated).await,
            "once until progress"
        );
        budget.progress();
        assert!(
            budget.wait(Retry::Unauthenticated).await,
            "once again after progress"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_does_not_count_against_the_elapsed_budget() {
        let mut budget = RetryPolicy::default()
            .max_elapsed(Duration::from_secs(2))
            .initial_backoff(Duration::from_millis(10))
            .budget();
        // A writer idle longer than max_elapsed still gets its retries.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(budget.wait(Retry::Transient).await);
        budget.progress();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(budget.wait(Retry::Transient).await);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_runs_out_after_max_elapsed() {
        let mut budget = RetryPolicy::default()
            .max_attempts(100)
            .initial_backoff(Duration::from_secs(1))
            .max_backoff(Duration::from_secs(4))
            .max_elapsed(Duration::from_secs(10))
            .budget();
        let mut retries = 0;
        while budget.wait(Retry::Transient).await {
            retries += 1;
        }
        assert!((2..=6).contains(&retries), "{retries}");
        assert_eq!(budget.attempts(), retries);
    }
}
