//! One multiplexed AppendRows connection: a task that owns the gRPC call,
//! writes the requests of every writer leasing it, and routes each answer
//! back to the writer whose request it answers.
//!
//! What goes on the wire, as the service requires of a connection that
//! carries more than one destination: every request names its stream
//! (`write_stream`); a request carries its writer schema when the
//! destination or the schema differs from the previous request on the
//! connection, and so do the requests behind it until the service has
//! written one of them (had it refused the one that switched, it would
//! decode the others with the schema it had); only the connection's first
//! request carries the trace id.
//! The service answers a connection's requests in order, so a FIFO of
//! lease ids says whose each answer is.
//!
//! When the call ends, the writer whose request was being answered (the
//! oldest unanswered) gets the call's status, and every other writer with
//! requests outstanding a retryable error: each reconnects (takes a new
//! lease) and resends its own requests. One table's errors never fail
//! another table's rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::Client;
use super::append::Append;
use super::pool::{Destination, Route};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::storage::AppendRowsResponse;
use crate::proto::storage::append_rows_response::Response;

/// What a lease hears: the answer to its oldest request, or the call's end.
pub(super) type Heard = std::result::Result<AppendRowsResponse, Ended>;

/// How the call ended, for one lease.
#[derive(Debug)]
pub(super) struct Ended {
    pub(super) error: Error,
    /// The call ended while another lease's request was being answered:
    /// the lease's own requests were waiting behind it.
    pub(super) behind_another: bool,
}

/// What a lease sends to its connection's task.
// Requests are nearly every message: boxing them would allocate per request
// to shrink the rare ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Outgoing {
    /// A new lease: where its requests go, and where its answers go.
    Register {
        id: u64,
        destination: Destination,
        answers: mpsc::UnboundedSender<Heard>,
    },
    /// A request of lease `id`.
    Request(u64, Append),
    /// The lease is gone: answers still due to it are dropped.
    Release(u64),
    /// A writer gives up on the call (no answer within its response
    /// timeout, or the table's schema needs a new connection): it ends, so
    /// that nobody is given it again, and every writer with requests on it
    /// resends them on another.
    Abandon(String),
}

/// The state of the gRPC call.
enum Call {
    /// Not opened yet: it opens with the first request.
    Idle,
    /// Waiting for the response headers.
    Opening(BoxFuture<'static, Result<tonic::Streaming<AppendRowsResponse>>>),
    Open(Box<tonic::Streaming<AppendRowsResponse>>),
}

/// The task's state.
pub(super) struct Mux {
    client: Client,
    route: Route,
    leases: HashMap<u64, (Destination, mpsc::UnboundedSender<Heard>)>,
    /// Requests the service wrote on this call, whoever's.
    written: Arc<AtomicU64>,
    /// The lease and the wire number of each request sent and not
    /// answered, oldest first.
    unanswered: VecDeque<(u64, u64)>,
    wire: Wire,
    call_tx: Option<mpsc::UnboundedSender<Append>>,
    call: Call,
}

impl Mux {
    pub(super) fn new(client: Client, route: Route, written: Arc<AtomicU64>) -> Self {
        Self {
            client,
            route,
            leases: HashMap::new(),
            written,
            unanswered: VecDeque::new(),
            wire: Wire::default(),
            call_tx: None,
            call: Call::Idle,
        }
    }

    /// Runs until every lease and the pool let go of the connection, or the
    /// call ends.
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
        let (error, abandoned) = loop {
            tokio::select! {
                message = rx.recv() => match message {
                    None => return,
                    Some(Outgoing::Abandon(why)) => break (Error::new(ErrorKind::Transport, why), true),
                    Some(message) => self.on_message(message),
                },
                event = call_event(&mut self.call) => match event {
                    Event::Opened(Ok(streaming)) => self.call = Call::Open(Box::new(streaming)),
                    Event::Opened(Err(error)) => break (error, false),
                    Event::Answer(Ok(Some(answer))) => self.route_answer(answer),
                    Event::Answer(Ok(None)) if self.unanswered.is_empty() => return,
                    Event::Answer(Ok(None)) => {
                        break (
                            Error::new(
                                ErrorKind::Transport,
                                "the service closed a shared AppendRows connection with requests unanswered",
                            ),
                            false,
                        );
                    }
                    Event::Answer(Err(status)) => break (Error::from_status("AppendRows", status), false),
                },
            }
        };
        // The call goes first (the service hears it reset): a writer that
        // hears of the end below and reconnects at once must not find it
        // still open, or the client would hold more calls than its pool's
        // limit while the old one lingers.
        self.call = Call::Idle;
        self.call_tx = None;
        // Refuse new leases and requests before anyone hears of the end, so
        // that a writer reconnecting at once is not given this connection.
        rx.close();
        self.end(error, abandoned);
    }

    fn on_message(&mut self, message: Outgoing) {
        match message {
            Outgoing::Register {
                id,
                destination,
                answers,
            } => {
                self.leases.insert(id, (destination, answers));
            }
            Outgoing::Release(id) => {
                self.leases.remove(&id);
            }
            Outgoing::Request(id, request) => self.send(id, request),
            // handled by `run`, which ends the call
            Outgoing::Abandon(_) => {}
        }
    }

    /// Puts a request of lease `id` on the wire, opening the call with the
    /// first one.
    fn send(&mut self, id: u64, request: Append) {
        let Some((destination, _)) = self.leases.get(&id) else {
            return;
        };
        let seq = self.wire.sent;
        let request = self
            .wire
            .prepare(destination, request, self.client.trace_id());
        if let Call::Idle = self.call {
            let (tx, rx) = mpsc::unbounded_channel();
            self.call_tx = Some(tx);
            let client = self.client.clone();
            let route = self.route.clone();
            self.call = Call::Opening(
                async move {
                    client
                        .append_rows_routed(route.header(), UnboundedReceiverStream::new(rx))
                        .await
                }
                .boxed(),
            );
        }
        // The call's receiver lives as long as the call: a request that
        // cannot be queued is answered by the call's end.
        if let Some(tx) = &self.call_tx {
            let _ = tx.send(request);
        }
        self.unanswered.push_back((id, seq));
    }

    /// Hands `answer` to the lease whose request it answers (dropped if
    /// that lease is gone).
    fn route_answer(&mut self, answer: AppendRowsResponse) {
        let Some((id, seq)) = self.unanswered.pop_front() else {
            tracing::warn!("the service answered a request never sent on a shared connection");
            return;
        };
        match answer.response {
            Some(Response::Error(_)) => {
                // What the service refused may have been the request it
                // learns the stream and schema from: the next one carries
                // them again.
                self.wire.last = None;
            }
            Some(Response::AppendResult(_)) => {
                self.written.fetch_add(1, Ordering::Relaxed);
                self.wire.written(seq);
            }
            None => {}
        }
        if let Some((_, answers)) = self.leases.get(&id) {
            let _ = answers.send(Ok(answer));
        }
    }

    /// The call ended with `error`: the lease of the oldest unanswered
    /// request gets it, every other lease with requests outstanding a
    /// retryable error. Leases with nothing outstanding learn of the end
    /// when their next request finds the connection gone. A call a writer
    /// `abandoned` ended on none of the others' requests: each of them
    /// hears it as ended behind another, and the writer that gave up on
    /// the call answers for it alone.
    fn end(mut self, error: Error, abandoned: bool) {
        tracing::info!(route = %self.route, error = %error, unanswered = self.unanswered.len(), "shared AppendRows connection ended");
        let Some((front, _)) = self.unanswered.pop_front() else {
            return;
        };
        let mut told = std::collections::HashSet::new();
        if let Some((_, answers)) = self.leases.get(&front) {
            let _ = answers.send(Err(Ended {
                error: error.duplicate(),
                behind_another: abandoned,
            }));
            told.insert(front);
        }
        for (id, _) in self.unanswered.drain(..) {
            if !told.insert(id) {
                continue;
            }
            if let Some((_, answers)) = self.leases.get(&id) {
                let other = Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the shared AppendRows connection ended while another table's request \
                         was answered ({error}); resending"
                    ),
                );
                let _ = answers.send(Err(Ended {
                    error: other,
                    behind_another: true,
                }));
            }
        }
    }
}

/// What happened on the call.
enum Event {
    /// The response headers came (or the call could not open).
    Opened(Result<tonic::Streaming<AppendRowsResponse>>),
    /// An answer, the end of the answers, or the call's final status.
    Answer(std::result::Result<Option<AppendRowsResponse>, tonic::Status>),
}

/// The call's next event; pending while it is idle.
async fn call_event(call: &mut Call) -> Event {
    match call {
        Call::Idle => std::future::pending().await,
        Call::Opening(future) => Event::Opened(future.await),
        Call::Open(streaming) => Event::Answer(streaming.message().await),
    }
}

/// What the connection last put on the wire, to decide what the next
/// request must carry.
#[derive(Debug, Default)]
struct Wire {
    /// The stream and the schema of the previous request.
    last: Option<Destination>,
    /// The wire number of the first request for `last` since the switch
    /// to it.
    switched_at: u64,
    /// Whether the service wrote a request for `last` sent since the
    /// switch: it has the schema then (it wrote that request with it).
    confirmed: bool,
    /// Requests put on the wire (the next one's wire number).
    sent: u64,
    /// Whether a writer on the connection has asked for a
    /// `default_missing_value_interpretation` (which holds for the rest of
    /// a connection, whichever table a request is for).
    any_missing_default: bool,
}

impl Wire {
    /// `request` as it goes on the wire: with its stream always, its writer
    /// schema when the destination or schema changed, and until the service
    /// wrote a request for it since (or when the writer sends it again
    /// itself, after an error), the trace id on the connection's first
    /// request only.
    ///
    /// Until then the requests sent behind the switch carry the schema
    /// too: if the service refused the request that switched (a transient
    /// error), it would decode those with the schema it had, another
    /// table's, and write wrong values wherever the two line up.
    fn prepare(
        &mut self,
        destination: &Destination,
        mut request: Append,
        trace_id: &str,
    ) -> Append {
        request.write_stream = Some(destination.stream.clone());
        let same = self
            .last
            .as_ref()
            .is_some_and(|last| last.same(destination));
        if !(same && self.confirmed) && request.writer_schema.is_none() {
            request.writer_schema = Some(destination.schema);
        }
        request.default_missing_value_interpretation = self.missing_default(destination);
        request.trace_id = if self.sent == 0 {
            trace_id.to_owned()
        } else {
            String::new()
        };
        if !same {
            self.last = Some(destination.clone());
            self.switched_at = self.sent;
            self.confirmed = false;
        }
        self.sent += 1;
        request
    }

    /// The service wrote request `seq`.
    fn written(&mut self, seq: u64) {
        if self.last.is_some() && seq >= self.switched_at {
            self.confirmed = true;
        }
    }

    /// What a request for `destination` sets as the connection's missing
    /// value interpretation. Nothing while no writer on the connection has
    /// asked for one; from the first that does, every request says its
    /// writer's own (NULL_VALUE, the service's default, for a writer that
    /// asks for none), so none inherits another table's setting, whichever
    /// requests the service applied or refused.
    fn missing_default(&mut self, destination: &Destination) -> i32 {
        const NULL_VALUE: i32 = 1;
        let want = destination.missing_default;
        self.any_missing_default |= want != 0;
        match (self.any_missing_default, want) {
            (false, _) => 0,
            (true, 0) => NULL_VALUE,
            (true, want) => want,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::descriptor::DescriptorProto;
    use std::sync::{Arc, LazyLock};

    static A: LazyLock<DescriptorProto> = LazyLock::new(|| DescriptorProto {
        name: Some("A".into()),
        ..Default::default()
    });
    static B: LazyLock<DescriptorProto> = LazyLock::new(|| DescriptorProto {
        name: Some("B".into()),
        ..Default::default()
    });

    fn destination(stream: &str, schema: &'static DescriptorProto) -> Destination {
        Destination {
            stream: Arc::from(stream),
            schema,
            missing_default: 0,
        }
    }

    /// A request as the engine builds it after its first: no stream, no schema.
    fn bare() -> Append {
        Append::default()
    }

    fn schema_of(request: &Append) -> Option<String> {
        request.writer_schema.and_then(|d| d.name.clone())
    }

    #[test]
    fn the_stream_goes_on_every_request_and_the_schema_when_it_changes() {
        let mut wire = Wire::default();
        let t1 = destination("t1/_default", &A);
        let t2 = destination("t2/_default", &B);
        let t1b = destination("t1/_default", &B);
        // each written before the next is sent
        let sent: Vec<_> = [&t1, &t1, &t2, &t2, &t1, &t1b]
            .into_iter()
            .map(|d| {
                let seq = wire.sent;
                let request = wire.prepare(d, bare(), "trace");
                wire.written(seq);
                request
            })
            .collect();
        let streams: Vec<_> = sent
            .iter()
            .map(|r| r.write_stream.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(
            streams,
            [
                "t1/_default",
                "t1/_default",
                "t2/_default",
                "t2/_default",
                "t1/_default",
                "t1/_default"
            ]
        );
        let schemas: Vec<_> = sent.iter().map(schema_of).collect();
        let name = |s: &str| Some(s.to_owned());
        assert_eq!(
            schemas,
            [name("A"), None, name("B"), None, name("A"), name("B")]
        );
        let traces: Vec<_> = sent.iter().map(|r| r.trace_id.as_str()).collect();
        assert_eq!(traces, ["trace", "", "", "", "", ""]);
    }

    #[test]
    fn requests_behind_a_switch_carry_the_schema_until_one_is_written() {
        let mut wire = Wire::default();
        let t1 = destination("t1/_default", &A);
        let t2 = destination("t2/_default", &B);
        let schemas = |wire: &mut Wire, d: &Destination, n: usize| -> Vec<Option<String>> {
            (0..n)
                .map(|_| schema_of(&wire.prepare(d, bare(), "trace")))
                .collect()
        };
        let name = |s: &str| Some(s.to_owned());
        // pipelined behind the first: no answer yet, each carries it
        assert_eq!(
            schemas(&mut wire, &t1, 3),
            [name("A"), name("A"), name("A")]
        );
        wire.written(1);
        assert_eq!(schemas(&mut wire, &t1, 2), [None, None]);
        // a switch: an answer to a request sent before it confirms nothing
        assert_eq!(schemas(&mut wire, &t2, 2), [name("B"), name("B")]);
        wire.written(4);
        assert_eq!(schemas(&mut wire, &t2, 1), [name("B")]);
        wire.written(5);
        assert_eq!(schemas(&mut wire, &t2, 1), [None]);
    }

    #[test]
    fn a_schema_the_writer_sends_again_stays_on_the_request() {
        let mut wire = Wire::default();
        let t1 = destination("t1/_default", &A);
        wire.prepare(&t1, bare(), "trace");
        let again = Append {
            writer_schema: Some(&A),
            ..bare()
        };
        let sent = wire.prepare(&t1, again, "trace");
        assert_eq!(schema_of(&sent), Some("A".to_owned()));
        // and once the wire is reset (after an error answer), it is added
        wire.last = None;
        assert_eq!(
            schema_of(&wire.prepare(&t1, bare(), "trace")),
            Some("A".to_owned())
        );
    }

    #[test]
    fn a_writers_missing_value_interpretation_does_not_leak_to_another_table() {
        const DEFAULT_VALUE: i32 = 2;
        let mut wire = Wire::default();
        let plain = destination("t1/_default", &A);
        let defaults = Destination {
            missing_default: DEFAULT_VALUE,
            ..destination("t2/_default", &B)
        };
        let sent: Vec<i32> = [&plain, &defaults, &defaults, &plain, &plain, &defaults]
            .into_iter()
            .map(|d| {
                wire.prepare(d, bare(), "trace")
                    .default_missing_value_interpretation
            })
            .collect();
        // from t2's writer's first request on, each request says its own
        // (NULL_VALUE for t1's, which asks for none)
        assert_eq!(sent, [0, DEFAULT_VALUE, DEFAULT_VALUE, 1, 1, DEFAULT_VALUE]);
    }

    /// Every lease with requests outstanding on the call ended, and what
    /// each heard.
    fn ended(abandoned: bool) -> Vec<(u64, bool)> {
        let client = Client::emulator("127.0.0.1:9").unwrap();
        let stream: Arc<str> = Arc::from("projects/p/datasets/d/tables/t/streams/_default");
        let route = Route::new(&stream, "EU");
        let mut mux = Mux::new(client, route, Arc::new(AtomicU64::new(0)));
        let mut heard = Vec::new();
        for id in [1, 2] {
            let (tx, rx) = mpsc::unbounded_channel();
            mux.leases
                .insert(id, (destination(&format!("t{id}/_default"), &A), tx));
            heard.push((id, rx));
        }
        // lease 1's request is the oldest unanswered
        mux.unanswered.extend([(1, 0), (2, 1), (1, 2)]);
        mux.end(Error::new(ErrorKind::Transport, "ended"), abandoned);
        heard
            .into_iter()
            .map(|(id, mut rx)| match rx.try_recv() {
                Ok(Err(ended)) => (id, ended.behind_another),
                other => panic!("lease {id} heard {other:?}"),
            })
            .collect()
    }

    /// Stands for a call: records, when the call is dropped, whether the
    /// connection still took leases and whether its writer had heard of
    /// the end.
    struct CallGuard {
        queue: mpsc::UnboundedSender<Outgoing>,
        heard: mpsc::UnboundedReceiver<Heard>,
        seen: Arc<std::sync::Mutex<Option<(bool, bool)>>>,
    }

    impl Drop for CallGuard {
        fn drop(&mut self) {
            let told = self.heard.try_recv().is_ok();
            *self.seen.lock().unwrap() = Some((self.queue.is_closed(), told));
        }
    }

    #[tokio::test]
    async fn a_call_that_ends_is_dropped_before_its_writers_can_reconnect() {
        let client = Client::emulator("127.0.0.1:9").unwrap();
        let stream: Arc<str> = Arc::from("projects/p/datasets/d/tables/t/streams/_default");
        let mut mux = Mux::new(client, Route::new(&stream, "EU"), Arc::default());
        let (answers, heard) = mpsc::unbounded_channel();
        mux.leases
            .insert(1, (destination("t1/_default", &A), answers));
        mux.unanswered.push_back((1, 0));
        let (queue, rx) = mpsc::unbounded_channel();
        let seen = Arc::default();
        let guard = CallGuard {
            queue: queue.clone(),
            heard,
            seen: Arc::clone(&seen),
        };
        mux.call = Call::Opening(
            async move {
                let _call = guard;
                std::future::pending().await
            }
            .boxed(),
        );
        queue
            .send(Outgoing::Abandon("no answer in time".into()))
            .unwrap();
        mux.run(rx).await;
        // Had the pool stopped leasing the connection, or its writer heard
        // of the end, first, a writer could open another call while this one
        // still counted against the pool's limit.
        assert_eq!(
            *seen.lock().unwrap(),
            Some((false, false)),
            "(taking no more leases, writer told) when the call was dropped"
        );
    }

    #[tokio::test]
    async fn the_end_of_a_call_is_the_oldest_requests_own_unless_a_writer_abandoned_it() {
        // the call failed on lease 1's request: its failure, lease 2 waited behind it
        assert_eq!(ended(false), [(1, false), (2, true)]);
        // another writer gave up on the call: nobody's request ended it
        assert_eq!(ended(true), [(1, true), (2, true)]);
    }
}
