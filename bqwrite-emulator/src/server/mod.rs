//! The gRPC `BigQueryWrite` service.
//!
//! AppendRows runs one task per connection that answers requests one by one,
//! in order. The first request names the stream and carries the writer
//! schema; later ones may omit both. Most failures of a request are answered
//! in-band (an `AppendRowsResponse` with `error` set, a `StorageError` in its
//! details where one applies, and `row_errors` for bad rows) and the
//! connection stays usable; a writer schema with fields the table lacks ends
//! the call instead, as BigQuery does (`docs::errors` lists which
//! is which).
//!
//! A connection bound to an application-created stream holds it (one active
//! connection per such stream) until the server notices the connection is
//! gone: its request stream ends or fails, its response stream is dropped,
//! a fault closes it, or the emulator shuts down. `_default` streams of any
//! number of tables may share a connection (`mux.rs`).
//!
//! - `connection.rs`: one AppendRows connection and what it does with each
//!   request.

mod connection;

use std::sync::Arc;

use bqwrite::proto::storage::{
    AppendRowsRequest, AppendRowsResponse, BatchCommitWriteStreamsRequest,
    BatchCommitWriteStreamsResponse, CreateWriteStreamRequest, FinalizeWriteStreamRequest,
    FinalizeWriteStreamResponse, FlushRowsRequest, FlushRowsResponse, GetWriteStreamRequest,
    WriteStream, WriteStreamView, big_query_write_server::BigQueryWrite, write_stream,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info};

use crate::conns::{ConnectionCounter, OpenConnection};
use crate::faults::{Faults, RequestFault, UnaryMethod};
use crate::mux::Route;
use crate::status::ApiError;
use crate::store::Store;

use self::connection::Connection;

/// The routing header Google's clients send on every call.
pub(crate) const ROUTING_HEADER: &str = "x-goog-request-params";

/// Settings of the gRPC service, and its AppendRows connection counters
/// (kept across restarts).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub max_request_bytes: usize,
    pub require_routing_header: bool,
    pub connections: Arc<ConnectionCounter>,
}

/// The service state shared by all calls.
#[derive(Debug, Clone)]
pub(crate) struct WriteService {
    pub store: Arc<Store>,
    pub faults: Faults,
    pub config: Arc<Config>,
    pub shutdown: watch::Receiver<bool>,
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The value of one of `keys` in the routing header, if the header is there.
pub(crate) fn routing_param(
    metadata: &MetadataMap,
    keys: &[&str],
    strict: bool,
) -> Result<Option<String>, Status> {
    let Some(header) = metadata.get(ROUTING_HEADER) else {
        if strict {
            return Err(Status::invalid_argument(format!(
                "missing {ROUTING_HEADER} routing header (the emulator runs in strict routing mode; expected {}=...)",
                keys[0]
            )));
        }
        return Ok(None);
    };
    let text = header
        .to_str()
        .map_err(|_| Status::invalid_argument(format!("{ROUTING_HEADER} is not ASCII text")))?;
    for pair in text.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if keys.contains(&key) {
            return percent_decode(value).map(Some).ok_or_else(|| {
                Status::invalid_argument(format!("{ROUTING_HEADER} has a malformed value: {text}"))
            });
        }
    }
    if strict {
        return Err(Status::invalid_argument(format!(
            "{ROUTING_HEADER} ({text}) has no {} parameter",
            keys[0]
        )));
    }
    Ok(None)
}

fn check_routing(routed: Option<String>, named: &str) -> Result<(), Status> {
    match routed {
        Some(routed) if routed != named => Err(Status::invalid_argument(format!(
            "{ROUTING_HEADER} routes to {routed:?} but the request names {named:?}"
        ))),
        _ => Ok(()),
    }
}

impl WriteService {
    /// Routing check and injected faults common to every unary call.
    async fn unary_prelude(
        &self,
        metadata: &MetadataMap,
        keys: &[&str],
        named: &str,
    ) -> Result<(), Status> {
        check_routing(
            routing_param(metadata, keys, self.config.require_routing_header)?,
            named,
        )?;
        if let RequestFault::Fail(code, message) = self.faults.on_request(false) {
            self.delay().await;
            return Err(Status::new(code, message));
        }
        Ok(())
    }

    async fn delay(&self) {
        let delay = self.faults.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    async fn reply<T>(
        &self,
        method: UnaryMethod,
        result: Result<T, ApiError>,
    ) -> Result<Response<T>, Status> {
        self.delay().await;
        if self.faults.drop_answer(method) {
            info!(
                ?method,
                "fault injection: applied a call and lost its answer"
            );
            return Err(Status::unavailable(
                "connection closed by the emulator's fault injection (the call was applied)",
            ));
        }
        match result {
            Ok(value) => Ok(Response::new(value)),
            Err(e) => {
                debug!(code = ?e.code, message = %e.message, "unary call failed");
                Err(e.to_tonic())
            }
        }
    }
}

#[tonic::async_trait]
impl BigQueryWrite for WriteService {
    async fn create_write_stream(
        &self,
        request: Request<CreateWriteStreamRequest>,
    ) -> Result<Response<WriteStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        self.unary_prelude(&metadata, &["parent"], &request.parent)
            .await?;
        let kind = request
            .write_stream
            .as_ref()
            .map(|s| write_stream::Type::try_from(s.r#type).unwrap_or_default())
            .unwrap_or_default();
        let result = self
            .store
            .create_stream(&request.parent, kind)
            .map(|stream| {
                info!(stream = %stream.name, kind = ?stream.kind, "created write stream");
                stream.describe(true)
            });
        self.reply(UnaryMethod::CreateWriteStream, result).await
    }

    type AppendRowsStream = Answers;

    async fn append_rows(
        &self,
        request: Request<Streaming<AppendRowsRequest>>,
    ) -> Result<Response<Self::AppendRowsStream>, Status> {
        let route = Route::from_metadata(request.metadata(), self.config.require_routing_header)?;
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(32);
        let counted = self.config.connections.opened();
        let answers = Answers {
            rx: ReceiverStream::new(rx),
            _counted: counted.clone(),
        };
        tokio::spawn(Connection::new(self.clone(), route, counted).run(inbound, tx));
        Ok(Response::new(answers))
    }

    async fn get_write_stream(
        &self,
        request: Request<GetWriteStreamRequest>,
    ) -> Result<Response<WriteStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        self.unary_prelude(&metadata, &["name", "write_stream"], &request.name)
            .await?;
        let full = request.view == WriteStreamView::Full as i32;
        let result = self.store.stream(&request.name).map(|s| s.describe(full));
        self.reply(UnaryMethod::GetWriteStream, result).await
    }

    async fn finalize_write_stream(
        &self,
        request: Request<FinalizeWriteStreamRequest>,
    ) -> Result<Response<FinalizeWriteStreamResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        self.unary_prelude(&metadata, &["name", "write_stream"], &request.name)
            .await?;
        let result = self
            .store
            .stream(&request.name)
            .and_then(|s| s.finalize())
            .map(|row_count| {
                debug!(stream = %request.name, row_count, "finalized");
                FinalizeWriteStreamResponse { row_count }
            });
        self.reply(UnaryMethod::FinalizeWriteStream, result).await
    }

    async fn batch_commit_write_streams(
        &self,
        request: Request<BatchCommitWriteStreamsRequest>,
    ) -> Result<Response<BatchCommitWriteStreamsResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        self.unary_prelude(&metadata, &["parent"], &request.parent)
            .await?;
        let result = self.store.commit(&request.parent, &request.write_streams);
        if let Ok(response) = &result {
            info!(
                table = %request.parent,
                streams = request.write_streams.len(),
                committed = response.stream_errors.is_empty(),
                "batch commit"
            );
        }
        self.reply(UnaryMethod::BatchCommitWriteStreams, result)
            .await
    }

    async fn flush_rows(
        &self,
        request: Request<FlushRowsRequest>,
    ) -> Result<Response<FlushRowsResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        self.unary_prelude(&metadata, &["write_stream"], &request.write_stream)
            .await?;
        let result = self
            .store
            .stream(&request.write_stream)
            .and_then(|s| s.flush(request.offset))
            .map(|offset| FlushRowsResponse { offset });
        self.reply(UnaryMethod::FlushRows, result).await
    }
}

/// One AppendRows connection.
pub(crate) async fn shutdown_signal(mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The answers of one AppendRows call, as the server sends them. The
/// server drops them as soon as the call is gone (reset by the client, or
/// its HTTP/2 connection lost), which counts the call closed then, without
/// waiting for its connection's task to notice.
#[derive(Debug)]
pub struct Answers {
    rx: ReceiverStream<Result<AppendRowsResponse, Status>>,
    _counted: OpenConnection,
}

impl tokio_stream::Stream for Answers {
    type Item = Result<AppendRowsResponse, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.rx).poll_next(cx)
    }
}
