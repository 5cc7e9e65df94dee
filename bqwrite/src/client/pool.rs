//! The pool of multiplexed AppendRows connections a [`Client`] shares among
//! its `_default` writers: at most
//! [`max_connections`](super::ClientBuilder::max_connections) per location,
//! however many tables are written.
//!
//! A writer takes a [`Lease`] on the least-loaded connection of its route,
//! and a new connection is opened (lazily, with the lease's first request)
//! only while every open one is in use and fewer than the limit are open.
//! The pool holds its connections weakly: a connection closes when the last
//! writer using it lets go.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::mux::{Heard, Mux, Outgoing};
use super::{Append, Client};
use crate::error::Result;
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
use crate::proto::storage::AppendRowsResponse;

/// The default of [`ClientBuilder::max_connections`](super::ClientBuilder::max_connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4;

/// Where a writer's requests go: its stream and its writer schema.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) stream: Arc<str>,
    pub(crate) schema: &'static WireDescriptorProto,
    /// The writer's `default_missing_value_interpretation` (0: none asked;
    /// the service's default, NULL).
    pub(crate) missing_default: i32,
}

impl Destination {
    /// Whether a request for `other` may follow one for `self` without
    /// its writer schema.
    pub(super) fn same(&self, other: &Destination) -> bool {
        self.stream == other.stream && std::ptr::eq(self.schema, other.schema)
    }
}

/// How a shared connection is routed: `write_location=projects/P/locations/L`
/// as Google's clients route multiplexed connections, or, when the service
/// did not say where the table is, `write_stream=` the stream of the writer
/// that opened it (the connection is then pooled per project).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    project: String,
    location: String,
    first: Arc<str>,
}

impl Route {
    pub(super) fn new(stream: &Arc<str>, location: &str) -> Self {
        let project = stream
            .strip_prefix("projects/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        Self {
            project: project.to_owned(),
            location: location.to_owned(),
            first: stream.clone(),
        }
    }

    /// The pool's key: connections are shared within a project and location.
    fn key(&self) -> String {
        format!("{}/{}", self.project, self.location)
    }

    /// The routing header's key and value.
    pub(super) fn header(&self) -> (&'static str, String) {
        if self.location.is_empty() {
            ("write_stream", self.first.to_string())
        } else {
            ("write_location", self.to_string())
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "projects/{}/locations/{}", self.project, self.location)
    }
}

/// A client's shared connections, by route.
#[derive(Debug)]
pub(crate) struct Pool {
    max: usize,
    next_lease: AtomicU64,
    routes: Mutex<HashMap<String, Vec<SharedConn>>>,
}

/// The pool's weak hold on one shared connection's task.
#[derive(Debug, Clone)]
struct SharedConn {
    tx: mpsc::WeakUnboundedSender<Outgoing>,
    leases: Arc<AtomicUsize>,
    /// Requests the service wrote on the connection, whoever's.
    written: Arc<AtomicU64>,
    /// A writer gave up on the connection: its task is ending it.
    abandoned: Arc<AtomicBool>,
}

impl SharedConn {
    /// The connection's sender, unless its task has ended or a writer gave
    /// up on it (the task may not have heard yet: a writer that abandons a
    /// connection and leases again at once must get another).
    fn live(&self) -> Option<mpsc::UnboundedSender<Outgoing>> {
        if self.abandoned.load(Ordering::Acquire) {
            return None;
        }
        self.tx.upgrade().filter(|tx| !tx.is_closed())
    }
}

impl Pool {
    /// A pool of at most `max` connections per route (at least 1).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            next_lease: AtomicU64::new(1),
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// The most connections per route.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A lease on a connection for `destination`, in `location` (empty
    /// when unknown).
    pub(crate) fn lease(&self, client: &Client, location: &str, destination: Destination) -> Lease {
        let route = Route::new(&destination.stream, location);
        let id = self.next_lease.fetch_add(1, Ordering::Relaxed);
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let conns = routes.entry(route.key()).or_default();
        loop {
            conns.retain(|c| c.live().is_some());
            let (tx, load, written, abandoned) = match self.pick(conns) {
                Some((tx, conn)) => (tx, conn.leases, conn.written, conn.abandoned),
                None => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let written = Arc::new(AtomicU64::new(0));
                    let abandoned = Arc::new(AtomicBool::new(false));
                    let mux = Mux::new(client.clone(), route.clone(), written.clone());
                    tokio::spawn(mux.run(rx));
                    let load = Arc::new(AtomicUsize::new(0));
                    conns.push(SharedConn {
                        tx: tx.downgrade(),
                        leases: load.clone(),
                        written: written.clone(),
                        abandoned: abandoned.clone(),
                    });
                    tracing::debug!(route = %route, open = conns.len(), "opening a shared AppendRows connection");
                    (tx, load, written, abandoned)
                }
            };
            let register = Outgoing::Register {
                id,
                destination: destination.clone(),
                answers: answers_tx.clone(),
            };
            if tx.send(register).is_ok() {
                load.fetch_add(1, Ordering::AcqRel);
                return Lease {
                    id,
                    tx,
                    answers,
                    load,
                    written_before: written.load(Ordering::Relaxed),
                    written,
                    end: None,
                    abandoned,
                };
            }
            // the connection ended meanwhile: prune it and choose again
        }
    }

    /// The least-loaded live connection, unless it is in use and another
    /// may be opened.
    fn pick(&self, conns: &[SharedConn]) -> Option<(mpsc::UnboundedSender<Outgoing>, SharedConn)> {
        let (tx, conn) = conns
            .iter()
            .filter_map(|c| c.live().map(|tx| (tx, c)))
            .min_by_key(|(_, c)| c.leases.load(Ordering::Acquire))?;
        let idle = conn.leases.load(Ordering::Acquire) == 0;
        let picked = (tx, conn.clone());
        (idle || conns.len() >= self.max).then_some(picked)
    }
}

/// A writer's use of a shared connection: its requests go out on it and
/// the answers to them come back here, in order.
#[derive(Debug)]
pub(crate) struct Lease {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    answers: mpsc::UnboundedReceiver<Heard>,
    load: Arc<AtomicUsize>,
    /// Requests the service wrote on the connection, whoever's, and how
    /// many it had when the lease began.
    written: Arc<AtomicU64>,
    written_before: u64,
    /// How the connection ended, once the lease has heard: whether it
    /// ended on another writer's request (this one's waiting behind it).
    end: Option<bool>,
    /// Shared with the pool: set when a writer gives up on the connection.
    abandoned: Arc<AtomicBool>,
}

impl Lease {
    /// Queues a request; false when the connection has ended.
    pub(crate) fn send(&self, request: Append) -> bool {
        self.tx.send(Outgoing::Request(self.id, request)).is_ok()
    }

    /// Ends the shared connection (`why`, for the others on it): nobody is
    /// given it again, and the writers with requests on it resend them.
    pub(crate) fn abandon(&self, why: String) {
        // Before the task hears of it: no lease is given it from now on.
        self.abandoned.store(true, Ordering::Release);
        let _ = self.tx.send(Outgoing::Abandon(why));
    }

    /// The answer to the oldest request unanswered, or the error that ended
    /// the connection; `None` when it ended without a word for this lease.
    pub(crate) async fn next_answer(&mut self) -> Option<Result<AppendRowsResponse>> {
        let Some(heard) = self.answers.recv().await else {
            // Ended before this lease's requests went out on the call: the
            // end was not theirs either.
            self.end = Some(true);
            return None;
        };
        Some(heard.map_err(|ended| {
            self.end = Some(ended.behind_another);
            ended.error
        }))
    }

    /// Whether the connection ended on another writer's request, this
    /// writer's waiting behind it, after the service wrote requests on it
    /// during the lease: the connection works, and this writer's failure
    /// was not its own (it counts as progress for its retry budget, or a
    /// writer sharing a connection with busy tables would spend its budget
    /// on their turns).
    ///
    /// A writer that learns of the end from a request that found the
    /// connection gone, not from an answer, has not read how it ended:
    /// it is read here from what the connection's task told the lease.
    pub(crate) fn others_progressed(&mut self) -> bool {
        self.hear_end();
        self.end == Some(true) && self.written.load(Ordering::Relaxed) > self.written_before
    }

    /// Reads, without waiting, how the connection ended for this lease,
    /// when it has ended: answers still queued before it are passed over
    /// (a writer whose connection is gone resends every request it held).
    /// An end the task has not told yet is taken as the lease's own.
    fn hear_end(&mut self) {
        use mpsc::error::TryRecvError;
        if self.end.is_some() || !self.tx.is_closed() {
            return;
        }
        loop {
            match self.answers.try_recv() {
                Ok(Ok(_answer)) => {}
                Ok(Err(ended)) => {
                    self.end = Some(ended.behind_another);
                    return;
                }
                Err(TryRecvError::Disconnected) => {
                    // ended with no word for this lease: not its requests' end
                    self.end = Some(true);
                    return;
                }
                Err(TryRecvError::Empty) => return,
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::AcqRel);
        let _ = self.tx.send(Outgoing::Release(self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SCHEMA: std::sync::LazyLock<WireDescriptorProto> =
        std::sync::LazyLock::new(WireDescriptorProto::default);

    fn loads(pool: &Pool, key: &str) -> Vec<usize> {
        let routes = pool.routes.lock().unwrap();
        let mut loads: Vec<_> = routes[key]
            .iter()
            .map(|c| c.leases.load(Ordering::Acquire))
            .collect();
        loads.sort_unstable();
        loads
    }

    #[tokio::test]
    async fn leases_spread_over_at_most_max_connections_per_location() {
        // Nothing listens: a connection opens only with its first request.
        let client = Client::emulator("127.0.0.1:9").unwrap();
        let pool = Pool::new(2);
        let lease = |table: usize, location: &str| {
            let destination = Destination {
                stream: Arc::from(format!(
                    "projects/p/datasets/d/tables/t{table}/streams/_default"
                )),
                schema: &SCHEMA,
                missing_default: 0,
            };
            pool.lease(&client, location, destination)
        };
        let mut us: Vec<_> = (0..5).map(|t| lease(t, "US")).collect();
        assert_eq!(
            loads(&pool, "p/US"),
            [2, 3],
            "least loaded first, never more than 2"
        );
        let eu = lease(9, "EU");
        assert_eq!(
            loads(&pool, "p/EU"),
            [1],
            "each location has its own connections"
        );
        us.truncate(1);
        assert_eq!(
            loads(&pool, "p/US"),
            [0, 1],
            "a dropped lease is counted off"
        );
        let again = lease(5, "US");
        assert_eq!(
            loads(&pool, "p/US"),
            [1, 1],
            "an idle connection is reused before another opens"
        );
        drop((us, eu, again));
    }

    #[tokio::test]
    async fn a_connection_a_writer_gave_up_on_is_not_leased_again() {
        // Nothing listens: a connection opens only with its first request.
        let client = Client::emulator("127.0.0.1:9").unwrap();
        let pool = Pool::new(1);
        let destination = |table: usize| Destination {
            stream: Arc::from(format!(
                "projects/p/datasets/d/tables/t{table}/streams/_default"
            )),
            schema: &SCHEMA,
            missing_default: 0,
        };
        let first = pool.lease(&client, "US", destination(1));
        let shared = pool.lease(&client, "US", destination(2));
        assert!(shared.tx.same_channel(&first.tx), "one connection at most");
        // the connection's task has not run yet: only the pool knows
        first.abandon("no answer in time".into());
        let again = pool.lease(&client, "US", destination(1));
        assert!(
            !again.tx.same_channel(&first.tx),
            "leased the abandoned connection"
        );
    }

    /// A lease whose connection's task is this test: what it hears comes
    /// from the returned sender, and its requests find the call gone.
    fn lease_on(written: &Arc<AtomicU64>) -> (Lease, mpsc::UnboundedSender<Heard>) {
        let (tx, _rx) = mpsc::unbounded_channel();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let lease = Lease {
            id: 1,
            tx,
            answers,
            load: Arc::new(AtomicUsize::new(1)),
            written: written.clone(),
            written_before: written.load(Ordering::Relaxed),
            end: None,
            abandoned: Arc::default(),
        };
        (lease, answers_tx)
    }

    fn ended(behind_another: bool) -> Heard {
        let error = crate::error::Error::new(crate::error::ErrorKind::Transport, "ended");
        Err(super::super::mux::Ended {
            error,
            behind_another,
        })
    }

    #[tokio::test]
    async fn a_call_that_wrote_for_others_and_ended_on_their_request_is_progress() {
        let written = Arc::new(AtomicU64::new(5));
        // ended on another writer's request after writing others' requests
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(2, Ordering::Relaxed);
        heard.send(ended(true)).unwrap();
        assert!(lease.next_answer().await.unwrap().is_err());
        assert!(lease.others_progressed());
        // ended on this writer's own request: its failure
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(2, Ordering::Relaxed);
        heard.send(ended(false)).unwrap();
        assert!(lease.next_answer().await.unwrap().is_err());
        assert!(!lease.others_progressed());
        // nothing written during the lease: the call does not work
        let (mut lease, heard) = lease_on(&written);
        heard.send(ended(true)).unwrap();
        assert!(lease.next_answer().await.unwrap().is_err());
        assert!(!lease.others_progressed());
        // ended before this lease's requests went out, after writing others'
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(1, Ordering::Relaxed);
        drop(heard);
        assert!(lease.next_answer().await.is_none());
        assert!(lease.others_progressed());
    }

    #[tokio::test]
    async fn a_send_that_finds_the_call_gone_hears_how_it_ended() {
        let written = Arc::new(AtomicU64::new(5));
        let answer = || Ok(AppendRowsResponse::default());
        // ended on another writer's request, after writing others' and
        // answering one of this lease's: a resend finds the call gone
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(2, Ordering::Relaxed);
        heard.send(answer()).unwrap();
        heard.send(ended(true)).unwrap();
        assert!(!lease.send(Append::default()), "the call is gone");
        assert!(lease.others_progressed(), "the end was another's");
        // ended on this writer's own request
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(2, Ordering::Relaxed);
        heard.send(ended(false)).unwrap();
        assert!(!lease.others_progressed());
        // ended with no word for this lease
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(1, Ordering::Relaxed);
        drop(heard);
        assert!(lease.others_progressed());
        // an end heard from an answer is not read again
        let (mut lease, heard) = lease_on(&written);
        written.fetch_add(1, Ordering::Relaxed);
        heard.send(ended(false)).unwrap();
        assert!(lease.next_answer().await.unwrap().is_err());
        drop(heard);
        assert!(!lease.others_progressed());
    }

    #[test]
    fn routes_by_location_when_known_by_stream_otherwise() {
        let stream: Arc<str> = Arc::from("projects/p/datasets/d/tables/t/streams/_default");
        let route = Route::new(&stream, "EU");
        assert_eq!(route.key(), "p/EU");
        assert_eq!(
            route.header(),
            ("write_location", "projects/p/locations/EU".into())
        );
        let route = Route::new(&stream, "");
        assert_eq!(route.key(), "p/");
        assert_eq!(route.header(), ("write_stream", stream.to_string()));
    }
}
