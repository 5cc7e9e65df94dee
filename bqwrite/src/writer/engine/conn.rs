//! What goes on the wire: one AppendRows call, its requests and answers.
//! The call is the writer's own, or, for a `_default` writer of a client
//! that multiplexes, a lease on a connection shared with other tables
//! (`client/pool.rs`; `client/mux.rs` says what goes on a shared wire).

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::{Config, Failure, Shared};
use crate::client::{Append, Destination, Lease, SharedRows};
use crate::error::{Error, Result};
use crate::proto::storage::AppendRowsResponse;

/// One AppendRows connection: requests go in, answers come back in order.
pub(super) struct Connection {
    link: Link,
    /// Counts the connection as open in the writer's counters while it lives.
    _open: OpenSlot,
}

enum Link {
    /// A call of the writer's own: requests go in through `tx`; answers
    /// come back once the call is open.
    Own {
        tx: mpsc::UnboundedSender<Append>,
        responses: Responses,
    },
    /// A lease on a connection shared with other `_default` writers.
    Pooled(Lease),
}

struct OpenSlot(Arc<Shared>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.counters.connection(false);
    }
}

enum Responses {
    /// Waiting for the response headers. Kept here, not in the reading
    /// future, so that a read that is cancelled does not lose the call.
    Opening(BoxFuture<'static, Result<tonic::Streaming<AppendRowsResponse>>>),
    Open(Box<tonic::Streaming<AppendRowsResponse>>),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.link {
            Link::Own {
                responses: Responses::Opening(_),
                ..
            } => "opening",
            Link::Own { .. } => "open",
            Link::Pooled(_) => "pooled",
        };
        f.debug_struct("Connection").field("state", &state).finish()
    }
}

impl Connection {
    /// Opens a call whose first request is `first` (which carries the
    /// stream and the schema). The first request is queued before the call
    /// starts, so a server that waits for it before answering cannot
    /// deadlock the opening.
    /// `pooled`: on a connection of the client's pool, for a `_default`
    /// writer (false: one of its own for now, see `schema.rs`).
    pub(super) fn open(cfg: &Config, shared: &Arc<Shared>, first: Append, pooled: bool) -> Self {
        shared.counters.connection(true);
        let _open = OpenSlot(shared.clone());
        if let (Some(location), Some(pool), true) = (&cfg.location, cfg.client.pool(), pooled) {
            let destination = Destination {
                stream: cfg.stream.clone(),
                schema: cfg.schema,
                missing_default: cfg.missing.connection,
            };
            let lease = pool.lease(&cfg.client, location, destination);
            // A connection that ended already fails the first read.
            let _ = lease.send(first);
            return Self {
                link: Link::Pooled(lease),
                _open,
            };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        // The receiver is alive: this cannot fail.
        let _ = tx.send(first);
        let client = cfg.client.clone();
        let stream = cfg.stream.to_string();
        let opening = async move {
            client
                .append_rows(&stream, UnboundedReceiverStream::new(rx))
                .await
        }
        .boxed();
        Self {
            link: Link::Own {
                tx,
                responses: Responses::Opening(opening),
            },
            _open,
        }
    }

    /// Gives up on the call for good: a shared one ends (for every writer
    /// on it), so that the reconnect cannot be given the same call again;
    /// a writer's own call ends when it is dropped.
    pub(super) fn abandon(&self, why: &str) {
        if let Link::Pooled(lease) = &self.link {
            lease.abandon(why.to_owned());
        }
    }

    /// Whether this is a shared call that ended on another writer's
    /// request after writing requests during the lease (see
    /// [`Lease::others_progressed`]).
    pub(super) fn others_progressed(&mut self) -> bool {
        match &mut self.link {
            Link::Own { .. } => false,
            Link::Pooled(lease) => lease.others_progressed(),
        }
    }

    /// Queues a request; false when the call has ended.
    pub(super) fn send(&self, request: Append) -> bool {
        match &self.link {
            Link::Own { tx, .. } => tx.send(request).is_ok(),
            Link::Pooled(lease) => lease.send(request),
        }
    }
}

/// The request for `rows` at `offset`; the first of a connection carries
/// the stream, the writer schema, the trace id and the connection's missing
/// value interpretation. The per-column interpretations go on every request:
/// they hold for one request only.
///
/// The rows are shared with the request kept for a resend, not copied.
pub(super) fn request(cfg: &Config, offset: i64, rows: &SharedRows, first: bool) -> Append {
    Append {
        write_stream: first.then(|| cfg.stream.clone()),
        offset: cfg.offsets.then_some(offset),
        writer_schema: first.then_some(cfg.schema),
        rows: rows.clone(),
        trace_id: if first {
            cfg.client.trace_id().to_owned()
        } else {
            String::new()
        },
        missing_value_interpretations: cfg.missing.columns.clone(),
        default_missing_value_interpretation: if first { cfg.missing.connection } else { 0 },
    }
}

/// The next answer of the connection, waiting at most until `deadline`.
pub(super) async fn next_answer(
    conn: Option<&mut Connection>,
    deadline: Instant,
) -> Result<AppendRowsResponse, Failure> {
    let Some(conn) = conn else {
        return Err(Failure::transport("no AppendRows connection".into()));
    };
    let read = async {
        let responses = match &mut conn.link {
            Link::Own { responses, .. } => responses,
            Link::Pooled(lease) => return pooled_answer(lease).await,
        };
        loop {
            match responses {
                Responses::Opening(opening) => {
                    let streaming = opening.await.map_err(Failure::from_error)?;
                    *responses = Responses::Open(Box::new(streaming));
                }
                Responses::Open(streaming) => {
                    return match streaming.message().await {
                        Ok(Some(answer)) => Ok(answer),
                        Ok(None) => Err(Failure::transport(
                            "the service closed the AppendRows connection with requests unanswered"
                                .into(),
                        )),
                        Err(status) => Err(Failure::from_error(Error::from_status(
                            "AppendRows",
                            status,
                        ))),
                    };
                }
            }
        }
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(answer) => answer,
        Err(_elapsed) => Err(Failure::timeout(
            "no answer from AppendRows within the response timeout".into(),
        )),
    }
}

/// The next answer on a shared connection.
async fn pooled_answer(lease: &mut Lease) -> Result<AppendRowsResponse, Failure> {
    match lease.next_answer().await {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(error)) => Err(Failure::from_error(error)),
        None => Err(Failure::transport(
            "the shared AppendRows connection closed with requests unanswered".into(),
        )),
    }
}
