//! Fault injection, for testing how a client survives a misbehaving server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::Code;

/// Faults the emulator injects into the traffic it serves; get it from
/// [`Emulator::faults`](crate::Emulator::faults). Cheap to clone (shared).
///
/// Counters are global across connections and count from the moment they are
/// set; each setter replaces an earlier setting of the same fault.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Set while any fault is configured: a lock-free fast path.
    active: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    close_after: Option<usize>,
    lose_ack_after: Option<usize>,
    fail: Option<(usize, Code, String)>,
    delay: Duration,
    delay_next: Option<(usize, Duration)>,
    drop_answers: HashMap<UnaryMethod, usize>,
}

impl State {
    fn any(&self) -> bool {
        self.close_after.is_some()
            || self.lose_ack_after.is_some()
            || self.fail.is_some()
            || !self.delay.is_zero()
            || self.delay_next.is_some()
            || !self.drop_answers.is_empty()
    }
}

/// A unary method of the `BigQueryWrite` service, to aim a fault at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnaryMethod {
    /// `CreateWriteStream`.
    CreateWriteStream,
    /// `GetWriteStream`.
    GetWriteStream,
    /// `FinalizeWriteStream`.
    FinalizeWriteStream,
    /// `BatchCommitWriteStreams`.
    BatchCommitWriteStreams,
    /// `FlushRows`.
    FlushRows,
}

/// What to do with one incoming request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestFault {
    /// Serve it normally.
    None,
    /// Do not apply it; close the AppendRows connection with UNAVAILABLE.
    Close,
    /// Apply it, but close the connection instead of answering it.
    LoseAck,
    /// Answer it with this status without applying it.
    Fail(Code, String),
}

impl Faults {
    fn update(&self, f: impl FnOnce(&mut State)) -> &Self {
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state);
        self.inner.active.store(state.any(), Ordering::Release);
        self
    }

    /// After `n` more AppendRows responses (on any connection), the connection
    /// that receives the next request closes with UNAVAILABLE **without
    /// applying** that request (as a server drain does).
    pub fn close_after_responses(&self, n: usize) -> &Self {
        self.update(|s| s.close_after = Some(n))
    }

    /// After `n` more AppendRows responses, the next request **is applied**
    /// but its response is lost: the connection closes with UNAVAILABLE
    /// instead. A client that resends at the same offset must then get
    /// ALREADY_EXISTS: this is the case exactly-once writing exists for.
    pub fn lose_ack_after_responses(&self, n: usize) -> &Self {
        self.update(|s| s.lose_ack_after = Some(n))
    }

    /// Answers the next `n` requests (unary calls and AppendRows messages)
    /// with `code` and `message` without applying them. AppendRows requests
    /// get it in-band, as an error response; the connection stays open.
    pub fn fail_next_requests(&self, n: usize, code: Code, message: impl Into<String>) -> &Self {
        let message = message.into();
        self.update(|s| s.fail = (n > 0).then_some((n, code, message)))
    }

    /// Delays every response (unary and AppendRows) by `delay`;
    /// `Duration::ZERO` turns it off.
    pub fn delay_responses(&self, delay: Duration) -> &Self {
        self.update(|s| s.delay = delay)
    }

    /// Delays only the next `n` responses (unary and AppendRows) by `delay`,
    /// then answers at once again: a server that stalls for a while.
    pub fn delay_next_responses(&self, n: usize, delay: Duration) -> &Self {
        self.update(|s| s.delay_next = (n > 0).then_some((n, delay)))
    }

    /// The next call of `method` **is applied** (a stream created,
    /// finalized, committed, flushed), but its answer is lost: the call fails
    /// with UNAVAILABLE, as when the connection breaks after the server
    /// acted. A client that retries must then find out what already
    /// happened. Same as [`Faults::drop_next_unary_answers`] with 1.
    pub fn drop_next_unary_answer(&self, method: UnaryMethod) -> &Self {
        self.drop_next_unary_answers(method, 1)
    }

    /// Applies the next `n` calls of `method` and drops their answers (see
    /// [`Faults::drop_next_unary_answer`]); 0 turns it off for `method`.
    /// Calls refused by [`Faults::fail_next_requests`] are not applied and
    /// do not count.
    pub fn drop_next_unary_answers(&self, method: UnaryMethod, n: usize) -> &Self {
        self.update(|s| {
            if n == 0 {
                s.drop_answers.remove(&method);
            } else {
                s.drop_answers.insert(method, n);
            }
        })
    }

    /// Turns every fault off.
    pub fn clear(&self) -> &Self {
        self.update(|s| *s = State::default())
    }

    /// Decides the fate of one request.
    pub(crate) fn on_request(&self, append_rows: bool) -> RequestFault {
        if !self.inner.active.load(Ordering::Acquire) {
            return RequestFault::None;
        }
        let mut fault = RequestFault::None;
        self.update(|s| {
            if append_rows && s.close_after == Some(0) {
                s.close_after = None;
                fault = RequestFault::Close;
            } else if append_rows && s.lose_ack_after == Some(0) {
                s.lose_ack_after = None;
                fault = RequestFault::LoseAck;
            } else if let Some((n, code, message)) = &mut s.fail {
                fault = RequestFault::Fail(*code, message.clone());
                *n -= 1;
                if *n == 0 {
                    s.fail = None;
                }
            }
        });
        fault
    }

    /// Whether the answer of this applied call of `method` is to be lost
    /// (counts it for [`Faults::drop_next_unary_answers`]).
    pub(crate) fn drop_answer(&self, method: UnaryMethod) -> bool {
        if !self.inner.active.load(Ordering::Acquire) {
            return false;
        }
        let mut dropped = false;
        self.update(|s| {
            if let Some(n) = s.drop_answers.get_mut(&method) {
                dropped = true;
                *n -= 1;
                if *n == 0 {
                    s.drop_answers.remove(&method);
                }
            }
        });
        dropped
    }

    /// Counts one AppendRows response sent.
    pub(crate) fn on_response(&self) {
        if !self.inner.active.load(Ordering::Acquire) {
            return;
        }
        self.update(|s| {
            for counter in [&mut s.close_after, &mut s.lose_ack_after] {
                if let Some(n) = counter
                    && *n > 0
                {
                    *n -= 1;
                }
            }
        });
    }

    /// The delay of the response about to be sent (counts it for
    /// [`Faults::delay_next_responses`]).
    pub(crate) fn delay(&self) -> Duration {
        if !self.inner.active.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        let mut delay = Duration::ZERO;
        self.update(|s| {
            delay = s.delay;
            if let Some((n, next)) = &mut s.delay_next {
                delay = delay.max(*next);
                *n -= 1;
                if *n == 0 {
                    s.delay_next = None;
                }
            }
        });
        delay
    }
}
